// The one chain every exporter uses: sending queue → retry → timeout → push.
// Keys and defaults follow the Collector's exporterhelper.
import { s, type Infer, type Issues } from '../../config/schema.js';
import type { Component, ConsumeResult, CreateSettings, ExporterComponent, HealthReport, Host } from '../../component/component.js';
import { ConsumerError, asConsumerError, throttleError, unavailableError } from '../../component/errors.js';
import { ITEM_NAME, type Signal } from '../../pdata/model.js';
import { releaseDurable, type Telemetry } from '../../pdata/telemetry.js';
import type { Logger } from '../../service/logger.js';
import type { SelfTelemetry } from '../../service/telemetry.js';

export const retrySchema = s.object({
  enabled: s.bool(true),
  initial_interval: s.duration('5s'),
  randomization_factor: s.number(0.5, { min: 0, max: 1 }),
  multiplier: s.number(1.5, { min: 1 }),
  max_interval: s.duration('30s'),
  max_elapsed_time: s.duration('300s'),
});
export type RetryConfig = Infer<typeof retrySchema>;

export const queueSchema = s.object({
  enabled: s.bool(true),
  num_consumers: s.int(10, { min: 1 }),
  queue_size: s.int(1000, { min: 1 }),
  sizer: s.enum(['requests', 'items', 'bytes'] as const, 'requests'),
  block_on_overflow: s.bool(false),
  /**
   * With an in-memory queue, `consume` settles only once the batch is sent (or
   * dropped), so failures reach the caller. A persistent queue answers once the
   * batch is committed to disk either way.
   */
  wait_for_result: s.bool(false),
  /** Id of a storage extension (file_storage[/name]); makes the queue persistent. */
  storage: s.string().optional(),
});
export type QueueConfig = Infer<typeof queueSchema>;

/** The helper's keys, to spread into an exporter's config schema. */
export const helperFields = {
  timeout: s.duration('5s'),
  retry_on_failure: retrySchema,
  sending_queue: queueSchema,
};
export interface HelperConfig {
  timeout: number;
  retry_on_failure: RetryConfig;
  sending_queue: QueueConfig;
}

export function validateHelper(cfg: HelperConfig, path: string[], issues: Issues): void {
  const r = cfg.retry_on_failure;
  if (r.enabled && r.max_interval < r.initial_interval) {
    issues.error([...path, 'retry_on_failure', 'max_interval'], 'must not be less than initial_interval');
  }
}

/** The exporter-specific part: send one batch, or throw a ConsumerError. */
export type PushFn = (data: Telemetry, signal: AbortSignal) => Promise<ConsumeResult>;

/**
 * A queue that may persist batches. The in-memory queue is built in; a storage
 * extension provides a persistent one through `QueueStorageProvider`.
 */
export interface BatchQueue {
  /**
   * True when `offer` resolves only once the batch is on disk: the exporter
   * then releases durable references at enqueue, and on shutdown leaves the
   * backlog stored instead of draining it.
   */
  readonly persistent?: boolean;
  /** Adds a batch; rejects with a retryable error when full and not blocking. */
  offer(data: Telemetry): Promise<void>;
  /**
   * Waits for the next batch; resolves undefined once closed (an in-memory
   * queue first hands out what it holds; a persistent one stops at once).
   */
  take(): Promise<QueueItem | undefined>;
  size(): number;
  capacity(): number;
  close(): void;
  start?(host: Host): Promise<void>;
  shutdown?(): Promise<void>;
}
export interface QueueItem {
  data: Telemetry;
  /**
   * Marks the item done (delivered, or dropped for good). An item a persistent
   * queue handed out and that is never marked done (shutdown mid-send) is sent
   * again after the next start.
   */
  done(delivered: boolean): void;
}

/** Extras a queue may use. */
export interface QueueOptions {
  /** Retry-after to suggest when the queue is full, ms. */
  retryAfterMs?: () => number;
  logger?: Logger;
}

/** Implemented by storage extensions (file_storage) that back persistent queues. */
export interface QueueStorageProvider {
  createQueue(owner: string, signal: Signal, cfg: QueueConfig, sizeOf: (d: Telemetry) => number, opts?: QueueOptions): BatchQueue;
}
export function isQueueStorageProvider(c: Component | undefined): c is Component & QueueStorageProvider {
  return !!c && typeof (c as Partial<QueueStorageProvider>).createQueue === 'function';
}

export function sizerFor(sizer: QueueConfig['sizer']): (d: Telemetry) => number {
  switch (sizer) {
    case 'items':
      return (d) => d.itemCount();
    case 'bytes':
      return (d) => d.protoLength();
    default:
      return () => 1;
  }
}

/** A bounded FIFO in memory, sized by requests, items or bytes. */
export class MemoryQueue implements BatchQueue {
  private items: { data: Telemetry; size: number }[] = [];
  private head = 0;
  private used = 0;
  private waiters: ((item: QueueItem | undefined) => void)[] = [];
  private spaceWaiters: (() => void)[] = [];
  private closed = false;

  constructor(private cap: number, private sizeOf: (d: Telemetry) => number, private block: boolean, private retryAfterMs: () => number = () => 1000) {}

  async offer(data: Telemetry): Promise<void> {
    if (this.closed) throw unavailableError('exporter is shutting down', 1000, 'SIEVE_ERR_SHUTTING_DOWN');
    const size = this.sizeOf(data);
    while (this.used + size > this.cap && this.used > 0) {
      if (!this.block) throw throttleError('sending queue is full', this.retryAfterMs(), 'SIEVE_ERR_QUEUE_FULL');
      await new Promise<void>((r) => this.spaceWaiters.push(r));
      if (this.closed) throw unavailableError('exporter is shutting down', 1000, 'SIEVE_ERR_SHUTTING_DOWN');
    }
    const w = this.waiters.shift();
    if (w) {
      this.used += size;
      w(this.item(data, size));
      return;
    }
    this.items.push({ data, size });
    this.used += size;
  }

  private item(data: Telemetry, size: number): QueueItem {
    return {
      data,
      done: () => {
        this.used -= size;
        const sw = this.spaceWaiters.shift();
        if (sw) sw();
      },
    };
  }

  take(): Promise<QueueItem | undefined> {
    if (this.head < this.items.length) {
      const it = this.items[this.head]!;
      this.items[this.head++] = undefined as never;
      if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
      return Promise.resolve(this.item(it.data, it.size));
    }
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((r) => this.waiters.push(r));
  }

  size(): number {
    return this.used;
  }
  capacity(): number {
    return this.cap;
  }
  close(): void {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w(undefined);
    for (const w of this.spaceWaiters.splice(0)) w();
  }
}

export interface ExporterOptions {
  settings: CreateSettings;
  signal: Signal;
  config: HelperConfig;
  push: PushFn;
  /** Called before the queue starts. */
  start?: (host: Host) => Promise<void>;
  /** Called after the queue has drained. */
  shutdown?: () => Promise<void>;
  /** Max time shutdown waits for the queue to drain, ms. */
  drainTimeoutMs?: number;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(t);
      resolve();
    };
    // The listener goes with the timer: a long outage must not pile listeners on the shared signal.
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Delay before retry `attempt` (0-based), with jitter; never less than a server's retry-after. */
export function backoffDelay(cfg: RetryConfig, attempt: number, retryAfterMs?: number): number {
  const base = Math.min(cfg.max_interval, cfg.initial_interval * Math.pow(cfg.multiplier, attempt));
  const jitter = base * cfg.randomization_factor;
  const d = base - jitter + Math.random() * 2 * jitter;
  return Math.max(retryAfterMs ?? 0, Math.round(d));
}

/** What an exporter built by `createExporter` offers beyond the component contract. */
export interface HelperExporter extends ExporterComponent {
  health(): HealthReport;
  /**
   * Calls `fn` with every batch the exporter accepts, before it is queued
   * (the sieve_debug extension's recent-traces buffer). `fn` must not keep or
   * change the batch beyond reading it. Returns the function that stops it.
   */
  observe(fn: (data: Telemetry) => void): () => void;
  /**
   * Like `consume`, but resolves as soon as the batch is accepted (queued),
   * with `result` settling once it is sent or given up on: a caller that
   * routes batches (loadbalancing) learns the outcome without holding up its
   * own caller. When `result` rejects, the batch's durable references stay
   * with the caller, as with `wait_for_result`.
   */
  track(data: Telemetry): Promise<{ result: Promise<ConsumeResult> }>;
  /**
   * Shuts down without draining: what is queued or waiting for a retry is
   * not attempted again, and its `track` results reject with a retryable
   * SIEVE_ERR_SHUTTING_DOWN error, so the caller can send it elsewhere.
   */
  abandon(): Promise<void>;
}

export function isHelperExporter(c: unknown): c is HelperExporter {
  return !!c && typeof (c as Partial<HelperExporter>).observe === 'function' && typeof (c as Partial<HelperExporter>).consume === 'function';
}

/** Releases the durable-acknowledgement references a batch carries (the exporter is done with it); returns how many. */
function releaseRefs(data: Telemetry): number {
  const n = data.ctx.durable?.length ?? 0;
  if (n) releaseDurable(data);
  return n;
}

/** Queues per registry, for the queue gauges read at scrape time. */
const liveQueues = new WeakMap<SelfTelemetry, Set<{ labels: Record<string, string>; queue: BatchQueue }>>();

function queueGauges(t: SelfTelemetry): Set<{ labels: Record<string, string>; queue: BatchQueue }> {
  let set = liveQueues.get(t);
  if (!set) {
    const s = new Set<{ labels: Record<string, string>; queue: BatchQueue }>();
    set = s;
    liveQueues.set(t, s);
    t.gauge('otelcol_exporter_queue_size', 'Current size of the retry queue (in batches).', ['exporter', 'data_type'], function () {
      this.reset();
      for (const q of s) this.set(q.labels, q.queue.size());
    });
    t.gauge('otelcol_exporter_queue_capacity', 'Fixed capacity of the retry queue (in batches).', ['exporter', 'data_type'], function () {
      this.reset();
      for (const q of s) this.set(q.labels, q.queue.capacity());
    });
  }
  return set;
}

type Outcome = { sent: true; result: ConsumeResult } | { sent: false; error: ConsumerError; aborted: boolean };

/**
 * Builds an exporter from a push function. The returned component queues (when
 * the queue is enabled), retries retryable failures with backoff, bounds each
 * attempt by `timeout`, and counts sent / failed / enqueue-failed items under
 * the Collector's metric names.
 *
 * Durable acknowledgement: a batch's `ctx.durable` references are released
 * once the exporter is done with it: after a successful send, after a
 * persistent queue has committed it, or when it is dropped by policy
 * (permanent error, retries exhausted; counted in
 * sieve_exporter_durable_dropped_items_total). They are kept when the
 * exporter stops mid-send, so the data is replayed after a restart; and they
 * stay with the caller when `consume` rejects.
 */
export function createExporter(opts: ExporterOptions): HelperExporter {
  const { settings, signal, config, push } = opts;
  const id = settings.id;
  const unit = ITEM_NAME[signal];
  const t = settings.telemetry;
  const sent = t.counter(`otelcol_exporter_sent_${unit}`, `Number of ${unit.replace('_', ' ')} successfully sent to destination.`, ['exporter']);
  const failed = t.counter(`otelcol_exporter_send_failed_${unit}`, `Number of ${unit.replace('_', ' ')} in failed attempts to send to destination.`, ['exporter']);
  const enqFailed = t.counter(`otelcol_exporter_enqueue_failed_${unit}`, `Number of ${unit.replace('_', ' ')} failed to be added to the sending queue.`, ['exporter']);
  const durableDropped = t.counter('sieve_exporter_durable_dropped_items_total', 'Items of durably acknowledged requests that an exporter dropped by policy (permanent error or retries exhausted).', ['exporter', 'data_type']);
  const labels = { exporter: id };
  const log = settings.logger;

  let queue: BatchQueue | undefined;
  let queueEntry: { labels: Record<string, string>; queue: BatchQueue } | undefined;
  const workers: Promise<void>[] = [];
  const stopping = new AbortController();
  let started = false;
  let shutdownP: Promise<void> | undefined;
  let abandoning = false;
  let lastError: { at: number; message: string } | undefined;
  let consecutiveFailures = 0;
  let lastDelay = 0;
  const observers = new Set<(data: Telemetry) => void>();
  /** Callers waiting for the outcome of a queued batch (wait_for_result). */
  const waiting = new WeakMap<Telemetry, { resolve: (r: ConsumeResult) => void; reject: (e: unknown) => void }>();

  /** Retry-after to suggest when the queue is full: the current backoff while the backend fails, else 1s. */
  const retryAfterHint = () => (consecutiveFailures > 0 ? Math.min(Math.max(lastDelay, 1000), config.retry_on_failure.max_interval || 30_000) : 1000);

  const attemptOnce = async (data: Telemetry): Promise<ConsumeResult> => {
    const ac = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    // The attempt ends at the timeout even if the push function ignores its abort signal.
    const timedOut =
      config.timeout > 0
        ? new Promise<never>((_, reject) => {
            timer = setTimeout(() => {
              const e = new Error(`export timed out after ${config.timeout}ms`);
              ac.abort(e);
              reject(e);
            }, config.timeout);
          })
        : undefined;
    try {
      return await (timedOut ? Promise.race([push(data, ac.signal), timedOut]) : push(data, ac.signal));
    } catch (e) {
      if (ac.signal.aborted) throw unavailableError(`export timed out after ${config.timeout}ms`, undefined, 'SIEVE_ERR_TIMEOUT', e);
      throw e;
    } finally {
      if (timer) clearTimeout(timer);
    }
  };

  /** Sends with retries until success, a permanent error, the retry budget, or (when asked) shutdown. */
  const send = async (data: Telemetry, abortOnShutdown: boolean): Promise<Outcome> => {
    const r = config.retry_on_failure;
    const startedAt = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await attemptOnce(data);
        sent.inc(labels, data.itemCount());
        consecutiveFailures = 0;
        return { sent: true, result };
      } catch (e) {
        const err = asConsumerError(e);
        lastError = { at: Date.now(), message: err.message };
        consecutiveFailures++;
        const aborted = abortOnShutdown && stopping.signal.aborted;
        const giveUp = err.permanent || !r.enabled || (r.max_elapsed_time > 0 && Date.now() - startedAt >= r.max_elapsed_time) || aborted;
        if (giveUp) return { sent: false, error: err, aborted: aborted && !err.permanent };
        // Never earlier than the server asked (Retry-After / RetryInfo), even past max_elapsed_time: one last attempt then.
        let delay = backoffDelay(r, attempt);
        if (r.max_elapsed_time > 0) delay = Math.min(delay, Math.max(0, startedAt + r.max_elapsed_time - Date.now()));
        delay = Math.max(delay, err.retryAfterMs ?? 0);
        lastDelay = delay;
        log.debug('Exporting failed. Will retry the request after interval.', { error: err, interval_ms: delay });
        await sleep(delay, abortOnShutdown ? stopping.signal : undefined);
        if (abortOnShutdown && stopping.signal.aborted) return { sent: false, error: err, aborted: true };
      }
    }
  };

  /** Counts and logs a batch the exporter could not deliver. */
  const dropped = (data: Telemetry, out: { error: ConsumerError; aborted: boolean }, attemptsNote: string) => {
    const n = data.itemCount();
    failed.inc(labels, n);
    const err = out.error;
    log.warn(err.permanent ? 'Exporting failed. Dropping data.' : `Exporting failed. ${attemptsNote}`, { error: err, dropped_items: n });
  };

  // One batch per call, in a frame of its own: a suspended async function
  // keeps the values its registers last held, so a loop that awaited take()
  // in the same frame as the send kept each consumer's last batch alive while
  // it waited for the next (in a heap snapshot of the full pipeline at load,
  // the idle consumers held 80 MiB of delivered batches that way).
  const worker = async () => {
    while (await sendNext()) {
      /* next batch */
    }
  };

  /** Takes one batch from the queue and sends it; false once the queue is closed. */
  const sendNext = async (): Promise<boolean> => {
    const item = await queue!.take();
    if (!item) return false;
    // Once the drain time is up, what is left is not attempted any more.
    const out: Outcome = stopping.signal.aborted
      ? { sent: false, error: unavailableError('exporter stopped before sending', undefined, 'SIEVE_ERR_SHUTTING_DOWN'), aborted: true }
      : await send(item.data, true);
    const waiter = waiting.get(item.data);
    if (waiter) {
      waiting.delete(item.data);
      if (out.sent) waiter.resolve(out.result);
      else {
        // The caller hears of the failure and keeps the batch's durable references.
        item.done(false);
        if (!out.aborted) dropped(item.data, out, 'No more retries left.');
        waiter.reject(out.error);
        return true;
      }
    }
    if (out.sent) {
      item.done(true);
      releaseDurable(item.data);
      return true;
    }
    if (out.aborted) {
      // Stopped mid-send: a persistent queue keeps the batch for the next start; durable references are kept for replay.
      if (queue!.persistent) return true;
      item.done(false);
      if (item.data.ctx.durable?.length) {
        log.info('Exporter stopped before delivering a batch; it will be replayed from durable storage after restart.', { items: item.data.itemCount() });
      } else {
        dropped(item.data, out, 'Exporter is shutting down. Dropping data.');
      }
      return true;
    }
    dropped(item.data, out, 'No more retries left. Dropping data.');
    item.done(false);
    if (releaseRefs(item.data) > 0) durableDropped.inc({ exporter: id, data_type: signal }, item.data.itemCount());
    return true;
  };

  const component: HelperExporter = {
    mutatesData: false,
    async start(host: Host) {
      if (started) return;
      started = true;
      if (opts.start) await opts.start(host);
      const q = config.sending_queue;
      if (q.enabled) {
        const qopts: QueueOptions = { retryAfterMs: retryAfterHint, logger: log };
        if (q.storage) {
          const ext = host.getExtension(q.storage);
          if (!ext) throw new Error(`sending_queue::storage: extension "${q.storage}" is not configured (add it under extensions and service::extensions)`);
          if (!isQueueStorageProvider(ext)) throw new Error(`sending_queue::storage: extension "${q.storage}" is not a storage extension`);
          queue = ext.createQueue(id, signal, q, sizerFor(q.sizer), qopts);
        } else {
          queue = new MemoryQueue(q.queue_size, sizerFor(q.sizer), q.block_on_overflow, retryAfterHint);
        }
        if (queue.start) await queue.start(host);
        queueEntry = { labels: { exporter: id, data_type: signal }, queue };
        queueGauges(t).add(queueEntry);
        for (let i = 0; i < q.num_consumers; i++) workers.push(worker());
      }
    },
    async consume(data: Telemetry): Promise<ConsumeResult> {
      if (data.isEmpty()) {
        releaseDurable(data);
        return;
      }
      if (observers.size) {
        for (const fn of observers) {
          try {
            fn(data);
          } catch {
            /* an observer never affects delivery */
          }
        }
      }
      if (!queue) {
        if (shutdownP) throw unavailableError('exporter is shutting down', 1000, 'SIEVE_ERR_SHUTTING_DOWN');
        const out = await send(data, false);
        if (out.sent) {
          releaseDurable(data);
          return out.result;
        }
        dropped(data, out, 'No more retries left. Dropping data.');
        throw out.error;
      }
      const wait = config.sending_queue.wait_for_result && !queue.persistent;
      const result = wait ? new Promise<ConsumeResult>((resolve, reject) => waiting.set(data, { resolve, reject })) : undefined;
      try {
        await queue.offer(data);
      } catch (e) {
        waiting.delete(data);
        enqFailed.inc(labels, data.itemCount());
        throw e instanceof ConsumerError ? e : asConsumerError(e);
      }
      // On disk now: the durable copy upstream is no longer needed.
      if (queue.persistent) releaseDurable(data);
      if (result) return result;
    },
    shutdown(): Promise<void> {
      shutdownP ??= (async () => {
        if (queue) {
          queue.close();
          // A persistent queue keeps its backlog: only in-flight sends finish, without further retries.
          if (queue.persistent) stopping.abort();
          const drain = Promise.all(workers);
          const limit = abandoning ? 0 : opts.drainTimeoutMs;
          if (limit !== undefined) {
            let timer: NodeJS.Timeout | undefined;
            await Promise.race([drain, new Promise<void>((r) => (timer = setTimeout(r, limit)))]);
            if (timer) clearTimeout(timer);
          } else {
            await drain;
          }
          stopping.abort();
          await drain;
          if (queue.shutdown) await queue.shutdown();
          if (queueEntry) liveQueues.get(t)?.delete(queueEntry);
        }
        stopping.abort();
        if (opts.shutdown) await opts.shutdown();
      })();
      return shutdownP;
    },
    health(): HealthReport {
      if (queue) {
        const size = queue.size();
        const cap = queue.capacity();
        if (size >= cap) return { status: 'degraded', detail: 'sending queue is full' };
        if (size >= cap * 0.8) return { status: 'degraded', detail: `sending queue is ${Math.floor((size / cap) * 100)}% full` };
      }
      if (consecutiveFailures > 0 && lastError) return { status: 'degraded', detail: `export failing: ${lastError.message}` };
      return { status: 'ok' };
    },
    observe(fn: (data: Telemetry) => void): () => void {
      observers.add(fn);
      return () => observers.delete(fn);
    },
    async track(data: Telemetry): Promise<{ result: Promise<ConsumeResult> }> {
      if (!queue || queue.persistent || data.isEmpty()) {
        const r = await component.consume(data);
        return { result: Promise.resolve(r) };
      }
      if (observers.size) {
        for (const fn of observers) {
          try {
            fn(data);
          } catch {
            /* an observer never affects delivery */
          }
        }
      }
      const result = new Promise<ConsumeResult>((resolve, reject) => waiting.set(data, { resolve, reject }));
      // The caller may attach its handler later; the outcome is never unhandled here.
      result.catch(() => undefined);
      try {
        await queue.offer(data);
      } catch (e) {
        waiting.delete(data);
        enqFailed.inc(labels, data.itemCount());
        throw e instanceof ConsumerError ? e : asConsumerError(e);
      }
      return { result };
    },
    abandon(): Promise<void> {
      if (!shutdownP) abandoning = true;
      return component.shutdown();
    },
  };
  return component;
}

/**
 * Maps an HTTP response status to a ConsumerError, per the OTLP/HTTP rules:
 * 429, 502, 503 and 504 are retryable (honouring Retry-After); every other
 * non-2xx status is permanent.
 */
export function errorFromHttpStatus(status: number, retryAfter: string | null | undefined, detail: string): ConsumerError {
  const ra = parseRetryAfter(retryAfter);
  const msg = `HTTP ${status}${detail ? `: ${detail}` : ''}`;
  if (status === 429) return throttleError(msg, ra ?? 0, 'SIEVE_ERR_BACKEND_THROTTLED');
  if (status === 502 || status === 503 || status === 504) return unavailableError(msg, ra, 'SIEVE_ERR_BACKEND_UNAVAILABLE');
  if (status === 400) return new ConsumerError('invalid', msg, { code: 'SIEVE_ERR_BACKEND_REJECTED' });
  if (status === 401) return new ConsumerError('unauthenticated', msg, { code: 'SIEVE_ERR_BACKEND_REJECTED' });
  if (status === 403) return new ConsumerError('permission_denied', msg, { code: 'SIEVE_ERR_BACKEND_REJECTED' });
  if (status === 413) return new ConsumerError('too_large', msg, { code: 'SIEVE_ERR_BACKEND_REJECTED' });
  return new ConsumerError('internal', msg, { code: 'SIEVE_ERR_BACKEND_REJECTED' });
}

/** Retry-After as seconds or an HTTP-date, in ms. */
export function parseRetryAfter(v: string | null | undefined): number | undefined {
  if (!v) return undefined;
  const n = Number(v.trim());
  if (Number.isFinite(n) && n >= 0) return n * 1000;
  const d = Date.parse(v);
  if (!Number.isNaN(d)) return Math.max(0, d - Date.now());
  return undefined;
}
