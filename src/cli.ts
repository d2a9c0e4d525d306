#!/usr/bin/env -S MALLOC_MMAP_THRESHOLD_=65536 node --max-semi-space-size=1
// The bin runs with the same V8 flag as `npm start` (1 MiB semi-space: lower RSS and CPU
// at steady load, bench/RESULTS.md "Passthrough"), so what a user runs is what was measured.
// And with the same allocator setting: blocks of 64 KiB and more (requests, tail sampling's
// batches, signed outputs) get mappings of their own, returned to the system when freed.
// The full pipeline flat out peaked at 338-386 MiB RSS so, against 415-434 with glibc's
// default threshold (128 KiB, rising to 32 MiB as large blocks are freed); bench/RESULTS.md.
// sieve: run the daemon, validate a config, list components, verify signatures.
import { readFileSync } from 'node:fs';
import { watch as watchFs } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify as stringifyYaml } from 'yaml';
import { factories } from './components.js';
import { effectiveConfig } from './config/effective.js';
import { ConfigError, Service, StartError, validateFiles } from './service/service.js';
import { isWorkerProcess, runSupervisor, runWorker, workerCount } from './service/workers/cluster.js';

const here = dirname(fileURLToPath(import.meta.url));
export const DEFAULT_CONFIG = join(here, '..', 'config', 'sieve.yaml');

function version(): string {
  try {
    return (JSON.parse(readFileSync(join(here, '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

const HELP = `sieve — telemetry pipeline daemon (OTLP in; redaction, tail sampling, signing; out to Prometheus, Loki, Tempo)

Usage:
  sieve [--config FILE]... [--watch-config] [--workers N|auto]
                                      run the daemon (default config: ${DEFAULT_CONFIG});
                                      --workers (or service::workers) runs N worker processes that share
                                      the listeners, traces routed whole to their owner (docs/workers.md);
                                      SIGHUP, POST /reload on the admin endpoint, or a change to a
                                      config file (--watch-config) reloads the config without a restart
  sieve validate [--config FILE]...   check a config; prints every error with its path and line; exit 1 when invalid
  sieve print-config [--config FILE]...
                                      print the effective config: defaults filled in, env expanded, secrets masked
  sieve test --config FILE [--tests FILE]
                                      run config unit tests (default: tests/<name> beside the config); exit 1 on failure
  sieve tap --component ID [--endpoint HOST:PORT] [--token T] [--signal S] [--rate R] [--limit N] [--format json|compact]
                                      stream live what a receiver or processor emits, from a running daemon's
                                      admin endpoint (token: --token or SIEVE_ADMIN_TOKEN)
  sieve slo generate --slo FILE       print multi-window, multi-burn-rate Prometheus rules for the SLOs in FILE
  sieve components                    list the component types per kind
  sieve verify [options] FILE...      verify signed telemetry (see 'sieve verify --help')
  sieve keygen --out PREFIX           write an Ed25519 key pair for evidence: PREFIX.key (0600), PREFIX.pub
  sieve --version | --help

Several --config files merge in order (maps merge, lists are replaced).
Values may use \${env:VAR} and \${env:VAR:-default}; $$ is a literal $.
`;

function parseConfigs(args: string[]): { configs: string[]; rest: string[] } {
  const configs: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--config' || a === '-c') {
      const v = args[++i];
      if (!v) throw new UsageError(`${a} needs a file`);
      configs.push(v);
    } else if (a.startsWith('--config=')) configs.push(a.slice('--config='.length));
    else rest.push(a);
  }
  return { configs, rest };
}

class UsageError extends Error {}

function watchConfigs(configs: string[], reload: (why: string) => void): void {
  // Editors replace files (rename) as often as they write them: watch the directories, debounce.
  let timer: NodeJS.Timeout | undefined;
  const files = new Set((configs.length ? configs : [DEFAULT_CONFIG]).map((f) => resolve(f)));
  for (const d of new Set([...files].map((f) => dirname(f)))) {
    watchFs(d, (_ev, name) => {
      if (name && !files.has(join(d, name.toString()))) return;
      clearTimeout(timer);
      timer = setTimeout(() => reload('watch-config'), 200);
    }).unref();
  }
}

function printConfigErrors(errors: string[]): void {
  process.stderr.write(`Error: invalid configuration (${errors.length} error${errors.length === 1 ? '' : 's'}):\n`);
  for (const m of errors) process.stderr.write(`  ${m}\n`);
}

async function run(configs: string[], watch: boolean, workersFlag: string | undefined): Promise<number> {
  const files = configs.length ? configs : [DEFAULT_CONFIG];
  if (isWorkerProcess()) return runWorker(files);
  let workers: number | undefined;
  if (workersFlag !== undefined) {
    if (workersFlag === 'auto') workers = workerCount('auto');
    else if (/^[0-9]+$/.test(workersFlag) && Number(workersFlag) >= 1 && Number(workersFlag) <= 64) workers = Number(workersFlag);
    else throw new UsageError(`--workers must be a whole number from 1 to 64, or auto, got ${JSON.stringify(workersFlag)}`);
  }
  const checked = validateFiles(files, factories);
  if (!checked.config) {
    printConfigErrors(checked.errors);
    return 1;
  }
  workers ??= workerCount(checked.config.service.workers);
  if (workers > 1) {
    const args = [...files.flatMap((f) => ['--config', f]), '--workers', String(workers)];
    if (watch) watchConfigs(files, () => process.kill(process.pid, 'SIGHUP'));
    return runSupervisor(checked.config, workers, { args });
  }
  let svc: Service;
  try {
    svc = Service.fromFiles(configs.length ? configs : [DEFAULT_CONFIG]);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`Error: invalid configuration (${e.errors.length} error${e.errors.length === 1 ? '' : 's'}):\n`);
      for (const m of e.errors) process.stderr.write(`  ${m}\n`);
      return 1;
    }
    throw e;
  }
  let stopping: Promise<void> | undefined;
  const stop = (sig: string) => {
    if (stopping) return;
    svc.logger.info('Received signal from OS', { signal: sig });
    stopping = svc.shutdown();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  const reload = (why: string) => {
    if (stopping) return;
    svc.logger.info('Reloading config', { trigger: why });
    void svc.reload();
  };
  process.on('SIGHUP', () => reload('SIGHUP'));
  if (watch) watchConfigs(files, reload);
  try {
    await svc.start();
  } catch (e) {
    const msg = e instanceof StartError ? e.message : (e as Error).stack ?? String(e);
    process.stderr.write(`Error: cannot start: ${msg}\n`);
    await svc.shutdown().catch(() => undefined);
    return 1;
  }
  await new Promise<void>((resolve) => {
    const wait = setInterval(() => {
      if (stopping) {
        clearInterval(wait);
        void stopping.then(resolve);
      }
    }, 50);
  });
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...args] = argv;
  if (cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  if (cmd === '--version' || cmd === '-v' || cmd === 'version') {
    process.stdout.write(`sieve version ${version()}\n`);
    return 0;
  }
  if (cmd === 'components') {
    for (const kind of ['receiver', 'processor', 'exporter', 'connector', 'extension'] as const) {
      process.stdout.write(`${kind}s:\n`);
      for (const f of factories.filter((x) => x.kind === kind).sort((a, b) => a.type.localeCompare(b.type))) {
        const sig = Object.entries(f.signals).map(([s, st]) => `${s}:${st}`).join(' ');
        process.stdout.write(`  ${f.type.padEnd(24)} ${sig}\n`);
      }
    }
    return 0;
  }
  if (cmd === 'validate') {
    const { configs, rest } = parseConfigs(args);
    if (rest.length) throw new UsageError(`unexpected argument ${rest[0]}`);
    const files = configs.length ? configs : [DEFAULT_CONFIG];
    const r = validateFiles(files, factories);
    for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
    if (r.errors.length) {
      process.stderr.write(`Error: invalid configuration (${r.errors.length} error${r.errors.length === 1 ? '' : 's'}):\n`);
      for (const m of r.errors) process.stderr.write(`  ${m}\n`);
      return 1;
    }
    process.stdout.write(`${files.join(', ')}: configuration is valid (${r.config!.pipelines.length} pipeline${r.config!.pipelines.length === 1 ? '' : 's'})\n`);
    return 0;
  }
  if (cmd === 'keygen') {
    const i = args.indexOf('--out');
    const prefix = i >= 0 ? args[i + 1] : undefined;
    if (!prefix || args.length !== 2) throw new UsageError('keygen needs --out PREFIX');
    const mod = (await import(KEYS_MODULE)) as { writeKeyPair(p: string): { privateFile: string; publicFile: string } };
    let r: { privateFile: string; publicFile: string };
    try {
      r = mod.writeKeyPair(prefix);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      process.stderr.write(`Error: cannot write the key pair: ${code === 'EEXIST' ? `${(e as NodeJS.ErrnoException).path} exists (EEXIST); keygen never overwrites` : (e as Error).message}\n`);
      return 1;
    }
    process.stdout.write(`wrote ${r.privateFile} (private, mode 0600) and ${r.publicFile} (public)\n`);
    return 0;
  }
  if (cmd === 'print-config') {
    const { configs, rest } = parseConfigs(args);
    if (rest.length) throw new UsageError(`unexpected argument ${rest[0]}`);
    const r = validateFiles(configs.length ? configs : [DEFAULT_CONFIG], factories);
    if (!r.config) {
      process.stderr.write(`Error: invalid configuration (${r.errors.length} error${r.errors.length === 1 ? '' : 's'}):\n`);
      for (const m of r.errors) process.stderr.write(`  ${m}\n`);
      return 1;
    }
    process.stdout.write(stringifyYaml(effectiveConfig(r.config)));
    return 0;
  }
  if (cmd === 'test') {
    let tests: string | undefined;
    const { configs, rest } = parseConfigs(args);
    for (let i = 0; i < rest.length; i++) {
      if (rest[i] === '--tests') tests = rest[++i];
      else if (rest[i]!.startsWith('--tests=')) tests = rest[i]!.slice(8);
      else throw new UsageError(`unexpected argument ${rest[i]}`);
    }
    if (configs.length !== 1) throw new UsageError('sieve test needs exactly one --config');
    const { runSuite, report, defaultTestsPath } = await import('./configtest/runner.js');
    const r = await runSuite(configs[0]!, tests ?? defaultTestsPath(configs[0]!), factories);
    process.stdout.write(report(r));
    return r.errors.length || r.tests.some((t) => !t.ok) || r.tests.length === 0 ? 1 : 0;
  }
  if (cmd === 'tap') {
    const opt: Record<string, string> = { endpoint: '127.0.0.1:8890', rate: '1', limit: '100', format: 'json' };
    for (let i = 0; i < args.length; i++) {
      const m = /^--(component|endpoint|token|signal|rate|limit|format)(?:=(.*))?$/.exec(args[i]!);
      if (!m) throw new UsageError(`unexpected argument ${args[i]}`);
      const v = m[2] ?? args[++i];
      if (v === undefined) throw new UsageError(`--${m[1]} needs a value`);
      opt[m[1]!] = v;
    }
    if (!opt.component) throw new UsageError('sieve tap needs --component');
    if (opt.format !== 'json' && opt.format !== 'compact') throw new UsageError('--format must be json or compact');
    const token = opt.token ?? process.env.SIEVE_ADMIN_TOKEN ?? '';
    const q = new URLSearchParams({ component: opt.component, rate: opt.rate!, limit: opt.limit! });
    if (opt.signal) q.set('signal', opt.signal);
    const base = /^https?:\/\//.test(opt.endpoint!) ? opt.endpoint : `http://${opt.endpoint}`;
    const res = await fetch(`${base}/tap?${q}`, { headers: { authorization: `Bearer ${token}` } });
    if (res.status !== 200) {
      process.stderr.write(`Error: tap refused (${res.status}): ${((await res.json().catch(() => ({}))) as { error?: string }).error ?? res.statusText}\n`);
      return 1;
    }
    const decoder = new TextDecoder();
    let buf = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (opt.format === 'json') process.stdout.write(line + '\n');
        else {
          const it = JSON.parse(line) as { signal: string; component: string; name?: string; body?: unknown; attributes?: Record<string, unknown>; tenant?: string };
          const what = it.name ?? (typeof it.body === 'string' ? it.body : JSON.stringify(it.body));
          const attrs = Object.entries(it.attributes ?? {}).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
          process.stdout.write(`${it.signal.padEnd(7)} ${it.component} ${what}${it.tenant ? ` tenant=${it.tenant}` : ''}${attrs ? ` ${attrs}` : ''}\n`);
        }
      }
    }
    return 0;
  }
  if (cmd === 'slo') {
    if (args[0] !== 'generate') throw new UsageError('usage: sieve slo generate --slo FILE');
    const i = args.indexOf('--slo');
    const file = i >= 0 ? args[i + 1] : undefined;
    if (!file) throw new UsageError('sieve slo generate needs --slo FILE');
    const { generateRules } = await import('./slo/generate.js');
    try {
      process.stdout.write(generateRules(readFileSync(file, 'utf8')));
    } catch (e) {
      process.stderr.write(`Error: ${(e as Error).message}\n`);
      return 1;
    }
    return 0;
  }
  if (cmd === 'verify') {
    const mod = (await import(VERIFY_MODULE)) as { runVerify(args: string[]): Promise<{ exitCode: number; output: string }> };
    const r = await mod.runVerify(args);
    process.stdout.write(r.output);
    return r.exitCode;
  }
  const { configs, rest } = parseConfigs(argv);
  let watch = false;
  let workers: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === '--watch-config') watch = true;
    else if (a === '--workers') {
      workers = rest[++i];
      if (workers === undefined) throw new UsageError('--workers needs a number or auto');
    } else if (a.startsWith('--workers=')) workers = a.slice('--workers='.length);
    else throw new UsageError(`unknown command or argument "${a}"`);
  }
  return run(configs, watch, workers);
}

const VERIFY_MODULE = './verify/index.js';
const KEYS_MODULE = './processors/signing/evidence/keys.js';

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === (await import('node:fs')).realpathSync(process.argv[1]);
if (isMain) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      if (e instanceof UsageError) {
        process.stderr.write(`Error: ${e.message}\n\n${HELP}`);
        process.exit(2);
      }
      process.stderr.write(`Error: ${(e as Error).stack ?? e}\n`);
      process.exit(1);
    },
  );
}
