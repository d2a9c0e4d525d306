// The one chain every exporter uses: sending queue → retry → timeout → push.
// Keys and defaults follow the Collector's exporterhelper.
import { s, type Infer, type Issues } from '../../config/schema.js';
import type { Component, ConsumeResult, CreateSettings, ExporterComponent, HealthReport, Host } from '../../component/component.js';
import { ConsumerError, asConsumerError, throttleError, unavailableError } from '../../component/errors.js';
import { ITEM_NAME, type Signal } from '../../pdata/model.js';
import type { Telemetry } from '../../pdata/telemetry.js';

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
  /** Adds a batch; rejects with a retryable error when full and not blocking. */
  offer(data: Telemetry): Promise<void>;
  /** Waits for the next batch; resolves undefined once closed and drained. */
  take(): Promise<QueueItem | undefined>;
  size(): number;
  capacity(): number;
  close(): void;
  start?(host: Host): Promise<void>;
  shutdown?(): Promise<void>;
}
export interface QueueItem {
  data: Telemetry;
  /** Marks the item done (delivered, or dropped for good). */
  done(delivered: boolean): void;
}

/** Implemented by storage extensions (file_storage) that back persistent queues. */
export interface QueueStorageProvider {
  createQueue(owner: string, signal: Signal, cfg: QueueConfig, sizeOf: (d: Telemetry) => number): BatchQueue;
}
export function isQueueStorageProvider(c: Component | undefined): c is Component & QueueStorageProvider {
  return !!c && typeof (c as Partial<QueueStorageProvider>).createQueue === 'function';
}

export function sizerFor(sizer: QueueConfig['sizer']): (d: Telemetry) => number {
  switch (sizer) {
    case 'items':
      return (d) => d.itemCount();
    case 'bytes':
      return (d) => d.toProto().length;
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

  constructor(private cap: number, private sizeOf: (d: Telemetry) => number, private block: boolean) {}

  async offer(data: Telemetry): Promise<void> {
    if (this.closed) throw unavailableError('exporter is shutting down', 1000, 'SIEVE_ERR_SHUTTING_DOWN');
    const size = this.sizeOf(data);
    while (this.used + size > this.cap && this.used > 0) {
      if (!this.block) throw throttleError('sending queue is full', 1000, 'SIEVE_ERR_QUEUE_FULL');
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
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });
}

/** Delay before retry `attempt` (0-based), with jitter, honouring a server's retry-after. */
export function backoffDelay(cfg: RetryConfig, attempt: number, retryAfterMs?: number): number {
  const base = Math.min(cfg.max_interval, cfg.initial_interval * Math.pow(cfg.multiplier, attempt));
  const jitter = base * cfg.randomization_factor;
  const d = base - jitter + Math.random() * 2 * jitter;
  return Math.max(retryAfterMs ?? 0, Math.round(d));
}

/**
 * Builds an exporter from a push function. The returned component queues (when
 * the queue is enabled), retries retryable failures with backoff, bounds each
 * attempt by `timeout`, and counts sent / failed / enqueue-failed items under
 * the Collector's metric names.
 */
export function createExporter(opts: ExporterOptions): ExporterComponent & { health(): HealthReport } {
  const { settings, signal, config, push } = opts;
  const id = settings.id;
  const unit = ITEM_NAME[signal];
  const t = settings.telemetry;
  const sent = t.counter(`otelcol_exporter_sent_${unit}`, `Number of ${unit.replace('_', ' ')} successfully sent to destination.`, ['exporter']);
  const failed = t.counter(`otelcol_exporter_send_failed_${unit}`, `Number of ${unit.replace('_', ' ')} in failed attempts to send to destination.`, ['exporter']);
  const enqFailed = t.counter(`otelcol_exporter_enqueue_failed_${unit}`, `Number of ${unit.replace('_', ' ')} failed to be added to the sending queue.`, ['exporter']);
  const labels = { exporter: id };
  const log = settings.logger;

  let queue: BatchQueue | undefined;
  const workers: Promise<void>[] = [];
  const stopping = new AbortController();
  let started = false;
  let shutdownP: Promise<void> | undefined;
  let lastError: { at: number; message: string } | undefined;
  let consecutiveFailures = 0;

  const attemptOnce = async (data: Telemetry): Promise<ConsumeResult> => {
    const ac = new AbortController();
    const timer = config.timeout > 0 ? setTimeout(() => ac.abort(new Error(`export timed out after ${config.timeout}ms`)), config.timeout) : undefined;
    try {
      return await push(data, ac.signal);
    } catch (e) {
      if (ac.signal.aborted) throw unavailableError(`export timed out after ${config.timeout}ms`, undefined, 'SIEVE_ERR_TIMEOUT', e);
      throw e;
    } finally {
      if (timer) clearTimeout(timer);
    }
  };

  /** Sends with retries. Resolves on success; rejects with the last error when giving up. */
  const send = async (data: Telemetry, abortOnShutdown: boolean): Promise<ConsumeResult> => {
    const r = config.retry_on_failure;
    const startedAt = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await attemptOnce(data);
        sent.inc(labels, data.itemCount());
        consecutiveFailures = 0;
        return res;
      } catch (e) {
        const err = asConsumerError(e);
        lastError = { at: Date.now(), message: err.message };
        consecutiveFailures++;
        const giveUp =
          err.permanent ||
          !r.enabled ||
          (r.max_elapsed_time > 0 && Date.now() - startedAt >= r.max_elapsed_time) ||
          (abortOnShutdown && stopping.signal.aborted);
        if (giveUp) {
          failed.inc(labels, data.itemCount());
          log.warn(err.permanent ? 'Exporting failed. Dropping data.' : 'Exporting failed. No more retries left. Dropping data.', {
            error: err,
            dropped_items: data.itemCount(),
            attempts: attempt + 1,
          });
          throw err;
        }
        let delay = backoffDelay(r, attempt, err.retryAfterMs);
        if (r.max_elapsed_time > 0) delay = Math.min(delay, Math.max(0, startedAt + r.max_elapsed_time - Date.now()));
        log.debug('Exporting failed. Will retry the request after interval.', { error: err, interval_ms: delay });
        await sleep(delay, abortOnShutdown ? stopping.signal : undefined);
      }
    }
  };

  const worker = async () => {
    for (;;) {
      const item = await queue!.take();
      if (!item) return;
      let ok = false;
      try {
        await send(item.data, true);
        ok = true;
      } catch {
        ok = false;
      } finally {
        item.done(ok);
      }
    }
  };

  const component = {
    mutatesData: false,
    async start(host: Host) {
      if (started) return;
      started = true;
      if (opts.start) await opts.start(host);
      const q = config.sending_queue;
      if (q.enabled) {
        if (q.storage) {
          const ext = host.getExtension(q.storage);
          if (!isQueueStorageProvider(ext)) throw new Error(`sending_queue::storage: extension "${q.storage}" is not a storage extension`);
          queue = ext.createQueue(id, signal, q, sizerFor(q.sizer));
        } else {
          queue = new MemoryQueue(q.queue_size, sizerFor(q.sizer), q.block_on_overflow);
        }
        if (queue.start) await queue.start(host);
        const qs = t.gauge('otelcol_exporter_queue_size', 'Current size of the retry queue (in batches).', ['exporter', 'data_type']);
        const qc = t.gauge('otelcol_exporter_queue_capacity', 'Fixed capacity of the retry queue (in batches).', ['exporter', 'data_type']);
        const ql = { exporter: id, data_type: signal };
        qc.set(ql, queue.capacity());
        const refresh = setInterval(() => qs.set(ql, queue!.size()), 1000);
        refresh.unref();
        stopping.signal.addEventListener('abort', () => clearInterval(refresh), { once: true });
        for (let i = 0; i < q.num_consumers; i++) workers.push(worker());
      }
    },
    async consume(data: Telemetry): Promise<ConsumeResult> {
      if (data.isEmpty()) return;
      if (!queue) {
        if (shutdownP) throw unavailableError('exporter is shutting down', 1000, 'SIEVE_ERR_SHUTTING_DOWN');
        return send(data, false);
      }
      try {
        await queue.offer(data);
      } catch (e) {
        enqFailed.inc(labels, data.itemCount());
        throw e instanceof ConsumerError ? e : asConsumerError(e);
      }
    },
    shutdown(): Promise<void> {
      shutdownP ??= (async () => {
        if (queue) {
          queue.close();
          const drain = Promise.all(workers);
          const limit = opts.drainTimeoutMs;
          if (limit !== undefined) {
            let timer: NodeJS.Timeout | undefined;
            await Promise.race([drain, new Promise<void>((r) => (timer = setTimeout(r, limit)))]);
            if (timer) clearTimeout(timer);
          } else {
            await drain;
          }
          stopping.abort();
          if (queue.shutdown) await queue.shutdown();
        }
        stopping.abort();
        if (opts.shutdown) await opts.shutdown();
      })();
      return shutdownP;
    },
    health(): HealthReport {
      if (queue && queue.size() >= queue.capacity()) return { status: 'degraded', detail: 'sending queue is full' };
      if (consecutiveFailures > 0 && lastError) return { status: 'degraded', detail: `export failing: ${lastError.message}` };
      return { status: 'ok' };
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
