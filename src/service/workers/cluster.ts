// Worker processes on one node (service::workers, docs/workers.md).
//
// The supervisor (the process the user started) forks N workers running the
// same config. Every worker runs the whole graph and binds the configured
// listeners; the listening sockets are shared, and the kernel spreads incoming
// connections across the workers (cluster SCHED_NONE: each worker accepts on
// the shared socket itself, so the supervisor never touches the data). What
// must see a whole trace, or one store, is routed to its owning worker over
// the link (link.ts).
//
// The supervisor restarts a worker that dies (same index, so the same ring
// slot, state directory and durable logs: what it had acknowledged is replayed
// when durable acknowledgement is on), aggregates the workers' self-telemetry
// for /metrics, relays reloads and admin changes, and stops the workers in two
// phases so no hand-off between them is lost: first every worker stops its
// receivers and drains what is upstream of its routers, then all shut down.
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import client from 'prom-client';
import type { ServiceConfig } from '../../config/config.js';
import { createLogger, type Logger } from '../logger.js';
import { Service, validateFiles } from '../service.js';

/** Restart backoff for a worker that keeps dying. */
const RESTART_MIN_MS = 100;
const RESTART_MAX_MS = 10_000;
/** A worker that ran this long before dying restarts without delay. */
const HEALTHY_MS = 30_000;

type Msg =
  | { type: 'sieve:ready'; index: number; port: number | undefined }
  | { type: 'sieve:hello' }
  | { type: 'sieve:peers'; ports: Record<string, number> }
  | { type: 'sieve:peer-down'; index: number }
  | { type: 'sieve:quiesce' }
  | { type: 'sieve:quiesced'; index: number }
  | { type: 'sieve:shutdown' }
  | { type: 'sieve:reload' }
  | { type: 'sieve:admin'; method: string; path: string; body: string }
  | { type: 'sieve:metrics-req'; id: number; worker?: number }
  | { type: 'sieve:own-metrics-req'; id: number }
  | { type: 'sieve:own-metrics-res'; id: number; text: string }
  | { type: 'sieve:metrics-res'; id: number; text?: string; error?: string }
  | { type: 'sieve:fatal'; message: string };

export function workerCount(v: number | 'auto'): number {
  return v === 'auto' ? Math.max(1, availableParallelism()) : v;
}

/** True in a process forked by the supervisor. */
export function isWorkerProcess(): boolean {
  return cluster.isWorker && process.env.SIEVE_WORKER_INDEX !== undefined;
}

/** The daemon's instance id, stable under data_dir; workers derive theirs from it. */
function baseInstanceId(dir: string | undefined): string {
  if (!dir) return randomUUID();
  const file = join(dir, 'instance-id');
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    const id = randomUUID();
    try {
      mkdirSync(dir, { recursive: true });
      writeFileSync(file, id + '\n');
    } catch {
      /* read-only: a fresh id per run */
    }
    return id;
  }
}

interface Slot {
  index: number;
  worker: Worker | undefined;
  port: number | undefined;
  generation: number;
  startedAt: number;
  delay: number;
  ready: boolean;
}

export interface SupervisorOptions {
  /** The argv of the workers (the daemon's own arguments). */
  args: string[];
  logger?: Logger;
  /** Exec'd by the workers; defaults to the running script. */
  exec?: string;
}

/**
 * Runs the supervisor until a signal stops it. Returns the exit code. `count`
 * workers run `args` (the same config files).
 */
export async function runSupervisor(cfg: ServiceConfig, count: number, opts: SupervisorOptions): Promise<number> {
  const logger = opts.logger ?? createLogger({ level: cfg.service.telemetry.logs.level }, { 'sieve.worker': 'supervisor' });
  const base = baseInstanceId(cfg.service.data_dir);
  // Shared by the workers only (their environment), for the hop between them.
  const token = randomBytes(32).toString('hex');
  // Each worker accepts on the shared sockets; the kernel spreads connections.
  // NODE_CLUSTER_SCHED_POLICY=rr (Node's own switch) makes the supervisor hand connections out in turn instead.
  if (process.env.NODE_CLUSTER_SCHED_POLICY === undefined) cluster.schedulingPolicy = cluster.SCHED_NONE;
  const execArgv = process.execArgv.some((a) => a.startsWith('--max-semi-space-size')) ? process.execArgv : ['--max-semi-space-size=1', ...process.execArgv];
  cluster.setupPrimary({ exec: opts.exec ?? process.argv[1], args: opts.args, execArgv, silent: false });
  const aggregator = new client.AggregatorRegistry();
  const own = new client.Registry();
  const restarts = new client.Counter({ name: 'sieve_worker_restarts_total', help: 'Worker processes restarted after they died.', labelNames: ['worker'], registers: [own] });
  const up = new client.Gauge({ name: 'sieve_workers', help: 'Worker processes running and ready, of the configured count.', labelNames: ['state'], registers: [own] });
  const slots: Slot[] = Array.from({ length: count }, (_, index) => ({ index, worker: undefined, port: undefined, generation: 0, startedAt: 0, delay: RESTART_MIN_MS, ready: false }));
  let stopping = false;
  let fatal: string | undefined;
  const refreshUp = () => {
    up.set({ state: 'configured' }, count);
    up.set({ state: 'ready' }, slots.filter((s) => s.ready).length);
  };
  refreshUp();
  const ports = () => Object.fromEntries(slots.filter((s) => s.port !== undefined).map((s) => [String(s.index), s.port!]));
  // A worker that is exiting can close its channel while it still reads as
  // connected: the send then fails later, with an 'error' event that would
  // end the supervisor. The callback takes that failure; the worker's exit
  // is handled by its 'exit' event.
  const post = (w: Worker, m: Msg) => {
    if (!w.isConnected()) return;
    w.send(m, undefined, (err) => {
      if (err) logger.debug('Message to a worker not delivered', { type: m.type, error: err });
    });
  };
  const broadcast = (m: Msg, except?: number) => {
    for (const s of slots) if (s.worker && s.index !== except) post(s.worker, m);
  };
  const metrics = async (): Promise<string> => {
    const [workers, mine] = await Promise.all([aggregator.clusterMetrics(), own.metrics()]);
    return workers + mine;
  };
  let ownId = 0;
  const ownWaiters = new Map<number, (text: string) => void>();
  /** One worker's own self-telemetry (`/metrics?worker=N`). */
  const workerMetrics = (index: number): Promise<string> => {
    const w = slots[index]?.worker;
    if (!w?.isConnected()) return Promise.reject(new Error(`worker ${index} is not running`));
    return new Promise((resolve, reject) => {
      const id = ++ownId;
      ownWaiters.set(id, resolve);
      post(w, { type: 'sieve:own-metrics-req', id });
      setTimeout(() => ownWaiters.delete(id) && reject(new Error(`worker ${index} did not answer in time`)), 5000).unref();
    });
  };
  let firstReady: () => void;
  const allReady = new Promise<void>((r) => (firstReady = r));

  const fork = (s: Slot) => {
    s.ready = false;
    s.port = undefined;
    s.startedAt = Date.now();
    const w = cluster.fork({
      SIEVE_WORKER_INDEX: String(s.index),
      SIEVE_WORKER_COUNT: String(count),
      SIEVE_WORKER_GENERATION: String(s.generation),
      SIEVE_INSTANCE_ID: base,
      SIEVE_WORKER_TOKEN: token,
    });
    s.worker = w;
    w.on('error', (err) => logger.debug('Worker channel error', { worker: s.index, error: err }));
    w.on('message', (m: Msg) => {
      if (m.type === 'sieve:ready') {
        s.ready = true;
        s.port = m.port;
        refreshUp();
        broadcast({ type: 'sieve:peers', ports: ports() });
        logger.info('Worker ready', { worker: s.index, pid: w.process.pid, generation: s.generation });
        if (slots.every((x) => x.ready)) firstReady();
      } else if (m.type === 'sieve:hello') {
        // The others' hop ports before it starts: its replay may hand parts to them.
        post(w, { type: 'sieve:peers', ports: ports() });
      } else if (m.type === 'sieve:admin') {
        broadcast(m, s.index);
      } else if (m.type === 'sieve:reload') {
        broadcast(m, s.index);
      } else if (m.type === 'sieve:own-metrics-res') {
        const f = ownWaiters.get(m.id);
        ownWaiters.delete(m.id);
        f?.(m.text);
      } else if (m.type === 'sieve:metrics-req') {
        (m.worker === undefined ? metrics() : workerMetrics(m.worker)).then(
          (text) => post(w, { type: 'sieve:metrics-res', id: m.id, text }),
          (e: Error) => post(w, { type: 'sieve:metrics-res', id: m.id, error: e.message }),
        );
      } else if (m.type === 'sieve:fatal') {
        // A worker that cannot start (a port taken, storage missing) would fail again the same way.
        fatal ??= m.message;
      }
    });
    w.on('exit', (code, signal) => {
      if (s.worker !== w) return;
      s.worker = undefined;
      s.ready = false;
      s.port = undefined;
      refreshUp();
      broadcast({ type: 'sieve:peer-down', index: s.index });
      if (stopping) return;
      if (fatal !== undefined) {
        logger.error('A worker failed to start; stopping the daemon.', { worker: s.index, error: fatal });
        void stop('worker start failure', 1);
        return;
      }
      const ranMs = Date.now() - s.startedAt;
      s.delay = ranMs > HEALTHY_MS ? RESTART_MIN_MS : Math.min(s.delay * 2, RESTART_MAX_MS);
      s.generation++;
      restarts.inc({ worker: String(s.index) });
      logger.error('Worker died; restarting it.', { worker: s.index, exit_code: code, signal, restart_in_ms: s.delay });
      setTimeout(() => {
        if (!stopping) fork(s);
      }, s.delay).unref();
    });
  };

  let exitCode = 0;
  let stopP: Promise<void> | undefined;
  const stop = (why: string, code = 0): Promise<void> => {
    if (stopP) return stopP;
    stopping = true;
    exitCode = code;
    logger.info('Stopping the workers', { reason: why });
    stopP = (async () => {
      const live = slots.filter((s) => s.worker?.isConnected());
      const timeout = cfg.service.shutdown_timeout + 5000;
      // Phase 1: receivers stop and hand-offs in flight land, in every worker.
      await Promise.race([
        Promise.all(
          live.map(
            (s) =>
              new Promise<void>((r) => {
                const w = s.worker!;
                const on = (m: Msg) => {
                  if (m.type === 'sieve:quiesced') {
                    w.off('message', on);
                    r();
                  }
                };
                w.on('message', on);
                w.once('exit', () => r());
                post(w, { type: 'sieve:quiesce' });
              }),
          ),
        ),
        new Promise((r) => setTimeout(r, timeout).unref()),
      ]);
      // Phase 2: each drains and exits.
      await Promise.race([
        Promise.all(
          slots
            .filter((s) => s.worker)
            .map(
              (s) =>
                new Promise<void>((r) => {
                  const w = s.worker!;
                  w.once('exit', () => r());
                  if (w.isConnected()) post(w, { type: 'sieve:shutdown' });
                  else w.kill('SIGTERM');
                }),
            ),
        ),
        new Promise((r) => setTimeout(r, timeout).unref()),
      ]);
      for (const s of slots) s.worker?.kill('SIGKILL');
      logger.info('Shutdown complete.');
    })();
    return stopP;
  };

  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGHUP', () => {
    logger.info('Reloading config in every worker', { trigger: 'SIGHUP' });
    broadcast({ type: 'sieve:reload' });
  });
  for (const s of slots) fork(s);
  logger.info('Supervisor started', { workers: count, pid: process.pid });
  await Promise.race([allReady, new Promise<void>((r) => { const t = setInterval(() => { if (stopping) { clearInterval(t); r(); } }, 50); })]);
  if (!stopping) logger.info('All workers are ready. Begin running and processing data.', { workers: count });
  await new Promise<void>((resolve) => {
    const t = setInterval(() => {
      if (stopP) {
        clearInterval(t);
        void stopP.then(resolve);
      }
    }, 50);
  });
  return exitCode;
}

/** Tells the supervisor about a reload requested in this worker (file watch), so every worker reloads. */
export function relayReload(): void {
  process.send?.({ type: 'sieve:reload' } satisfies Msg);
}

/**
 * Runs one worker: the daemon's service with its worker settings, steered by
 * the supervisor's messages. Returns the exit code.
 */
export async function runWorker(configs: string[]): Promise<number> {
  const index = Number(process.env.SIEVE_WORKER_INDEX);
  const count = Number(process.env.SIEVE_WORKER_COUNT);
  const generation = Number(process.env.SIEVE_WORKER_GENERATION ?? '0');
  const base = process.env.SIEVE_INSTANCE_ID ?? randomUUID();
  let metricsId = 0;
  const pendingMetrics = new Map<number, { resolve: (t: string) => void; reject: (e: Error) => void }>();
  const send = (m: Msg) => process.send?.(m);
  const loaded = validateFiles(configs);
  if (!loaded.config) {
    process.stderr.write(`Error: invalid configuration:\n  ${loaded.errors.join('\n  ')}\n`);
    return 1;
  }
  // Without a data_dir, signing chains do not survive a restart: a restarted worker starts a fresh stream.
  const persistent = loaded.config.service.data_dir !== undefined;
  const instanceId = `${base}-w${index}${!persistent && generation > 0 ? `.${generation}` : ''}`;
  const svc = new Service(loaded.config, {
    files: configs,
    worker: {
      index,
      count,
      instanceId,
      token: process.env.SIEVE_WORKER_TOKEN ?? '',
      serveEndpoints: index === 0,
      metricsText: (worker?: number) =>
        new Promise<string>((resolve, reject) => {
          const id = ++metricsId;
          pendingMetrics.set(id, { resolve, reject });
          send({ type: 'sieve:metrics-req', id, ...(worker !== undefined ? { worker } : {}) });
          setTimeout(() => {
            if (pendingMetrics.delete(id)) reject(new Error('the supervisor did not answer with the metrics in time'));
          }, 10_000).unref();
        }),
      broadcastAdmin: (method, path, body) => send({ type: 'sieve:admin', method, path, body: body.toString('base64') }),
    },
  });
  // Self-telemetry of this worker, for the supervisor's aggregate (prom-client's cluster protocol).
  client.AggregatorRegistry.setRegistries([svc.telemetry.registry]);
  new client.AggregatorRegistry();
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= svc.shutdown());
  process.on('message', (m: Msg) => {
    if (m.type === 'sieve:peers') svc.link?.setPeers(m.ports);
    else if (m.type === 'sieve:peer-down') svc.link?.dropPeer(m.index);
    else if (m.type === 'sieve:quiesce') void svc.quiesce().then(() => send({ type: 'sieve:quiesced', index }));
    else if (m.type === 'sieve:shutdown') void stop();
    else if (m.type === 'sieve:reload') void svc.reload();
    else if (m.type === 'sieve:admin') void svc.runAdmin(m.method, m.path, Buffer.from(m.body, 'base64'));
    else if (m.type === 'sieve:own-metrics-req') void svc.telemetry.text().then((text) => send({ type: 'sieve:own-metrics-res', id: m.id, text }));
    else if (m.type === 'sieve:metrics-res') {
      const p = pendingMetrics.get(m.id);
      if (!p) return;
      pendingMetrics.delete(m.id);
      if (m.text !== undefined) p.resolve(m.text);
      else p.reject(new Error(m.error ?? 'no metrics'));
    }
  });
  send({ type: 'sieve:hello' });
  // The supervisor orchestrates stopping: a terminal's Ctrl-C reaches the whole group.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => void stop());
  // The supervisor is gone (killed): stop cleanly rather than run unsupervised.
  process.on('disconnect', () => void stop());
  try {
    await svc.start();
  } catch (e) {
    // A first start that fails would fail again the same way; a restart may be transient.
    if (generation === 0) send({ type: 'sieve:fatal', message: (e as Error).message });
    process.stderr.write(`Error: cannot start worker ${index}: ${(e as Error).message}\n`);
    await svc.shutdown().catch(() => undefined);
    return 1;
  }
  send({ type: 'sieve:ready', index, port: svc.link?.port });
  await new Promise<void>((resolve) => {
    const t = setInterval(() => {
      if (stopping) {
        clearInterval(t);
        void stopping.then(resolve);
      }
    }, 50);
  });
  return 0;
}
