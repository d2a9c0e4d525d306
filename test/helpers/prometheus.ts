// The real Prometheus tools for tests: `ensurePrometheus()` installs the
// Debian package `prometheus` (prometheus + promtool) when promtool is not on
// the PATH; `promtoolCheckMetrics(text)` lints an exposition; `startPrometheus()`
// runs a server on a free loopback port (scrape, remote-write receiver, exemplars).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let ensured: Promise<void> | undefined;

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Makes sure `promtool` and `prometheus` are installed (apt-get as root when missing). */
export function ensurePrometheus(): Promise<void> {
  ensured ??= (async () => {
    if (has('promtool') && has('prometheus')) return;
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    try {
      execFileSync('apt-get', ['update', '-qq'], { env, stdio: 'pipe' });
      execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'prometheus'], { env, stdio: 'pipe' });
    } catch (e) {
      throw new Error(`promtool is missing and "apt-get install prometheus" failed (tests need root or the package preinstalled): ${(e as Error).message}`);
    }
    if (!has('promtool')) throw new Error('promtool is still missing after installing the prometheus package');
  })();
  return ensured;
}

/** Runs `promtool check metrics` on an exposition; resolves with its exit code and output. */
export async function promtoolCheckMetrics(text: string): Promise<{ code: number | null; output: string }> {
  await ensurePrometheus();
  return new Promise((resolve, reject) => {
    const p = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    p.stdout.on('data', (c: Buffer) => (output += c.toString()));
    p.stderr.on('data', (c: Buffer) => (output += c.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, output: output.trim() }));
    p.stdin.end(text);
  });
}

// ---------------------------------------------------------------- a running Prometheus

export interface ScrapeTarget {
  /** host:port */
  target: string;
  job?: string;
  bearerToken?: string;
  basicAuth?: { username: string; password: string };
  /** Keep the target's own job/instance labels (the exporter sets them from the resource). */
  honorLabels?: boolean;
}

export interface PrometheusServer {
  /** http://127.0.0.1:port */
  url: string;
  /** POST endpoint of the remote-write receiver. */
  writeUrl: string;
  /** Instant query; resolves with the result vector. */
  query(q: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  /** Range of raw samples of a selector, e.g. `foo[5m]`. */
  queryMatrix(q: string): Promise<{ metric: Record<string, string>; values: [number, string][] }[]>;
  queryExemplars(q: string, startSec: number, endSec: number): Promise<{ seriesLabels: Record<string, string>; exemplars: { labels: Record<string, string>; value: string; timestamp: number }[] }[]>;
  logs(): string;
  stop(): Promise<void>;
}

function loopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function apiGet<T>(url: string): Promise<T> {
  const res = await fetch(url);
  const body = (await res.json()) as { status: string; data: T; error?: string };
  if (body.status !== 'success') throw new Error(`Prometheus API: ${body.error ?? res.status}`);
  return body.data;
}

/**
 * Starts `prometheus` on a free loopback port with a temporary TSDB, a 1 s
 * scrape interval over `targets`, the remote-write receiver and exemplar
 * storage; installs the package first when it is missing.
 */
export async function startPrometheus(opts: { targets?: ScrapeTarget[] } = {}): Promise<PrometheusServer> {
  await ensurePrometheus();
  const dir = mkdtempSync(join(tmpdir(), 'sieve-prom-'));
  const port = await loopbackPort();
  const scrapeConfigs = (opts.targets ?? []).map((t, i) =>
    [
      `  - job_name: ${JSON.stringify(t.job ?? `sieve${i}`)}`,
      `    honor_labels: ${t.honorLabels ?? false}`,
      `    scrape_interval: 1s`,
      `    scrape_timeout: 1s`,
      ...(t.bearerToken ? ['    authorization:', `      credentials: ${JSON.stringify(t.bearerToken)}`] : []),
      ...(t.basicAuth ? ['    basic_auth:', `      username: ${JSON.stringify(t.basicAuth.username)}`, `      password: ${JSON.stringify(t.basicAuth.password)}`] : []),
      `    static_configs:`,
      `      - targets: [${JSON.stringify(t.target)}]`,
    ].join('\n'),
  );
  const cfg = ['global:', '  scrape_interval: 1s', '  evaluation_interval: 1s', 'scrape_configs:', ...(scrapeConfigs.length ? scrapeConfigs : ['  []'])].join('\n');
  writeFileSync(join(dir, 'prometheus.yml'), scrapeConfigs.length ? cfg : cfg.replace('scrape_configs:\n  []', 'scrape_configs: []'));
  const proc = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-remote-write-receiver',
      '--enable-feature=exemplar-storage',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let logs = '';
  proc.stdout!.on('data', (c: Buffer) => (logs += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (logs += c.toString()));
  const exited = new Promise<void>((r) => proc.on('exit', () => r()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`prometheus exited: ${logs}`);
    try {
      if ((await fetch(`${url}/-/ready`)).status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`prometheus did not become ready: ${logs}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    writeUrl: `${url}/api/v1/write`,
    query: async (q) => (await apiGet<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(`${url}/api/v1/query?query=${encodeURIComponent(q)}`)).result,
    queryMatrix: async (q) => (await apiGet<{ result: { metric: Record<string, string>; values: [number, string][] }[] }>(`${url}/api/v1/query?query=${encodeURIComponent(q)}`)).result,
    queryExemplars: (q, start, end) => apiGet(`${url}/api/v1/query_exemplars?query=${encodeURIComponent(q)}&start=${start}&end=${end}`),
    logs: () => logs,
    stop: async () => {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
