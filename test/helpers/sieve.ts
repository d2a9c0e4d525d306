// Test helpers: free loopback ports, a daemon in-process or as a child
// process, and an OTLP sink built on the real receiver.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Consumer, Host } from '../../src/component/component.js';
import type { Signal } from '../../src/pdata/model.js';
import type { Telemetry } from '../../src/pdata/telemetry.js';
import { OtlpReceiver } from '../../src/receivers/otlp/receiver.js';
import { otlpReceiverSchema } from '../../src/receivers/otlp/config.js';
import { Issues } from '../../src/config/schema.js';
import { nopLogger } from '../../src/service/logger.js';
import { SelfTelemetry } from '../../src/service/telemetry.js';
import { Service, type ServiceOptions } from '../../src/service/service.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(ROOT, 'dist', 'cli.js');

/**
 * A loopback port that was free a moment ago, for a daemon the test starts
 * next. Taken below the kernel's ephemeral range (32768-60999 here), where
 * the loopback clients of tests running in parallel get their local ports:
 * a port handed out from that range could be taken by an outgoing connection
 * before the daemon binds it ("address ... already in use"). Each vitest
 * worker has its own slice of 2000 ports, and goes through its slice in turn,
 * so a port is not handed out again until the other 1999 have been.
 */
const PORT_SLICE = 2000;
const portBase = 10_000 + ((Number(process.env.VITEST_POOL_ID ?? 1) - 1) % 11) * PORT_SLICE;
let portNext = Math.floor(Math.random() * PORT_SLICE);

export async function freePort(): Promise<number> {
  for (let tries = 0; tries < PORT_SLICE; tries++) {
    const port = portBase + (portNext++ % PORT_SLICE);
    if (await canBind(port)) return port;
  }
  throw new Error(`no free port in ${portBase}-${portBase + PORT_SLICE - 1}`);
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

export function tempDir(prefix = 'sieve-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function waitFor<T>(fn: () => T | Promise<T>, opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<NonNullable<T>> {
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${opts.what ?? 'condition'}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 25));
  }
}

export function testHost(telemetry = new SelfTelemetry()): Host {
  return {
    getExtension: () => undefined,
    components: () => new Map(),
    registerAdminRoute: () => undefined,
    logger: nopLogger,
    telemetry,
  };
}

export interface RunningSieve {
  svc: Service;
  logs: string[];
  stop(): Promise<void>;
}

/** Runs a daemon in this process. The self-telemetry endpoint is off unless `metricsAddress` is given. */
export async function startSieve(yaml: string, opts: ServiceOptions = {}): Promise<RunningSieve> {
  const logs: string[] = [];
  const svc = Service.fromYaml(yaml, { metricsAddress: null, logWrite: (l) => logs.push(l), ...opts });
  await svc.start();
  return { svc, logs, stop: () => svc.shutdown() };
}

export interface SpawnedSieve {
  proc: ChildProcess;
  stderr(): string;
  stdout(): string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Runs `node dist/cli.js` with a config file written from `yaml`; waits until
 * it is ready. `bin`: runs dist/cli.js as the kernel runs an installed `sieve`
 * bin, by its shebang line (the interpreter, the rest of the line as one
 * argument, then the script), with this `node` first on PATH.
 */
export async function spawnSieve(yaml: string, opts: { args?: string[]; env?: NodeJS.ProcessEnv; waitReady?: boolean; dir?: string; bin?: boolean } = {}): Promise<SpawnedSieve> {
  const dir = opts.dir ?? tempDir();
  const cfg = join(dir, 'sieve.yaml');
  writeFileSync(cfg, yaml);
  const args = [CLI, ...(opts.args ?? ['--config', cfg])];
  const env = { ...process.env, ...opts.env };
  let cmd = process.execPath;
  if (opts.bin) {
    const m = /^#!(\S+)(?: (.*))?$/.exec(readFileSync(CLI, 'utf8').split('\n', 1)[0]!);
    if (!m) throw new Error(`${CLI} has no shebang line`);
    cmd = m[1]!;
    if (m[2] !== undefined) args.unshift(m[2]);
    env.PATH = `${dirname(process.execPath)}:${env.PATH ?? ''}`;
  }
  const proc = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  let out = '';
  proc.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  const s: SpawnedSieve = {
    proc,
    stderr: () => err,
    stdout: () => out,
    exited,
    kill: (signal = 'SIGTERM') => {
      proc.kill(signal);
      return exited;
    },
  };
  if (opts.waitReady !== false) {
    let done = false;
    void exited.then(() => (done = true));
    // A daemon that exits while starting fails at once, with what it printed.
    await waitFor(() => done || err.includes('Everything is ready'), { timeoutMs: 20_000, what: 'sieve to start' });
    if (!err.includes('Everything is ready')) throw new Error(`sieve exited early:\n${err}`);
  }
  return s;
}

export interface Sink {
  grpcPort: number;
  httpPort: number;
  received: { traces: Telemetry<'traces'>[]; metrics: Telemetry<'metrics'>[]; logs: Telemetry<'logs'>[] };
  /** Items received per signal. */
  count(signal: Signal): number;
  /** Makes the next calls fail with this error (or succeed again with undefined). */
  failWith(err: Error | undefined): void;
  stop(): Promise<void>;
}

/** An OTLP endpoint (gRPC + HTTP) on loopback that records what it receives. */
export async function startSink(): Promise<Sink> {
  const received: Sink['received'] = { traces: [], metrics: [], logs: [] };
  let failure: Error | undefined;
  const consumer = (signal: Signal): Consumer => ({
    mutatesData: false,
    async consume(d) {
      if (failure) throw failure;
      (received[signal] as Telemetry[]).push(d);
    },
  });
  const issues = new Issues();
  const cfg = otlpReceiverSchema.parse({ protocols: { grpc: { endpoint: '127.0.0.1:0' }, http: { endpoint: '127.0.0.1:0', max_request_body_size: 256 * 1024 * 1024 } } }, [], issues);
  const r = new OtlpReceiver(
    { id: 'otlp/sink', kind: 'receiver', logger: nopLogger, telemetry: new SelfTelemetry(), instanceId: 'sink', now: Date.now },
    cfg,
    { traces: consumer('traces'), metrics: consumer('metrics'), logs: consumer('logs') },
  );
  await r.start(testHost());
  return {
    grpcPort: r.grpcPort!,
    httpPort: r.httpPort!,
    received,
    count: (signal) => received[signal].reduce((n, d) => n + d.itemCount(), 0),
    failWith: (e) => (failure = e),
    stop: () => r.shutdown(),
  };
}
