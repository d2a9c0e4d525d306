// Groups data into larger batches by size or time.
//
// Acknowledgement: like the Collector's, a caller's data is accepted once it is
// buffered. Unlike the Collector's, nothing accepted is silently dropped: the
// buffer is bounded (`max_buffered_items`), new data is refused with a
// retryable error (429 / RESOURCE_EXHAUSTED + Retry-After) when it is full, and
// a batch the next component refuses with a retryable error is kept and sent
// again after the delay it asked for. Only a permanent refusal drops a batch
// (counted and logged). With `wait_for_flush: true` a caller's promise settles
// only once its data has been handed on, so refusals reach the client.
//
// Batches are partitioned by tenant and by the configured metadata keys: a
// batch never mixes tenants.
import type { Consumer, CreateSettings, ConsumeResult, ProcessorComponent } from '../../component/component.js';
import { asConsumerError, throttleError, unavailableError } from '../../component/errors.js';
import { ITEM_NAME, type Signal } from '../../pdata/model.js';
import { splitTelemetry } from '../../pdata/split.js';
import { Telemetry, releaseDurable } from '../../pdata/telemetry.js';
import type { BatchConfig } from './factory.js';

interface Waiter {
  resolve: (r: ConsumeResult) => void;
  reject: (e: unknown) => void;
}

interface Pending {
  key: string;
  parts: Telemetry[];
  items: number;
  waiters: Waiter[];
  timer: NodeJS.Timeout | undefined;
}

export class BatchProcessor implements ProcessorComponent {
  readonly mutatesData = false;
  private pending = new Map<string, Pending>();
  private inflight = new Set<Promise<void>>();
  private retryTimers = new Set<NodeJS.Timeout>();
  /** Items accepted and not yet handed on (buffered, in flight or awaiting a retry). */
  private held = 0;
  private readonly cap: number;
  private stopped = false;
  private shutdownP: Promise<void> | undefined;
  private readonly labels;
  private sizeTrigger;
  private timeoutTrigger;
  private sendSize;
  private dropped;

  constructor(private settings: CreateSettings, private cfg: BatchConfig, private signal: Signal, private next: Consumer) {
    const t = settings.telemetry;
    this.labels = { processor: settings.id };
    this.cap = cfg.max_buffered_items || 16 * Math.max(cfg.send_batch_size, cfg.send_batch_max_size, 1024);
    this.sizeTrigger = t.counter('otelcol_processor_batch_batch_size_trigger_send', 'Number of times the batch was sent due to a size trigger.', ['processor']);
    this.timeoutTrigger = t.counter('otelcol_processor_batch_timeout_trigger_send', 'Number of times the batch was sent due to a timeout trigger.', ['processor']);
    this.sendSize = t.histogram('otelcol_processor_batch_batch_send_size', 'Number of units in the batch.', ['processor'], [10, 25, 50, 75, 100, 250, 500, 750, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000, 20000, 30000, 50000, 100000]);
    this.dropped = t.counter(`sieve_processor_batch_dropped_${ITEM_NAME[signal]}`, 'Items dropped by the batch processor after a permanent downstream failure.', ['processor']);
  }

  async start(): Promise<void> {}

  /** Items currently held. */
  heldItems(): number {
    return this.held;
  }

  private keyOf(data: Telemetry): string {
    let key = data.ctx.tenant ?? '';
    const md = data.ctx.metadata;
    for (const k of this.cfg.metadata_keys) key += '\u0000' + (md?.[k.toLowerCase()]?.join(',') ?? '');
    return key;
  }

  consume(data: Telemetry): Promise<ConsumeResult> {
    if (this.stopped) return Promise.reject(unavailableError('batch processor is shutting down', 1000, 'SIEVE_ERR_SHUTTING_DOWN'));
    const n = data.itemCount();
    if (n === 0) return Promise.resolve();
    if (this.held + n > this.cap && this.held > 0) {
      return Promise.reject(throttleError(`batch buffer is full (${this.held} of ${this.cap} items held)`, Math.max(1000, this.cfg.timeout), 'SIEVE_ERR_BATCH_FULL'));
    }
    const key = this.keyOf(data);
    let p = this.pending.get(key);
    if (!p) {
      if (this.cfg.metadata_keys.length && this.cfg.metadata_cardinality_limit > 0 && this.pending.size >= this.cfg.metadata_cardinality_limit) {
        return Promise.reject(throttleError('too many batcher metadata-value combinations', 1000, 'SIEVE_ERR_METADATA_CARDINALITY'));
      }
      p = { key, parts: [], items: 0, waiters: [], timer: undefined };
      this.pending.set(key, p);
    }
    this.held += n;
    let promise: Promise<ConsumeResult> | undefined;
    if (this.cfg.wait_for_flush) promise = new Promise<ConsumeResult>((resolve, reject) => p!.waiters.push({ resolve, reject }));
    p.parts.push(data);
    p.items += n;
    if (this.cfg.timeout === 0 || p.items >= this.cfg.send_batch_size) {
      if (this.cfg.timeout !== 0) this.sizeTrigger.inc(this.labels);
      this.flush(p);
    } else if (!p.timer) {
      const pp = p;
      p.timer = setTimeout(() => {
        this.timeoutTrigger.inc(this.labels);
        this.flush(pp);
      }, this.cfg.timeout);
    }
    return promise ?? Promise.resolve();
  }

  private flush(p: Pending): void {
    if (p.timer) clearTimeout(p.timer);
    this.pending.delete(p.key);
    const { parts, waiters } = p;
    const merged = Telemetry.concat(this.signal, parts, parts.length === 1 ? parts[0]!.ctx : undefined);
    const chunks = splitTelemetry(merged, this.cfg.send_batch_max_size);
    const task = (async () => {
      let rejected = 0;
      const msgs: string[] = [];
      let failure: unknown;
      for (const c of chunks) {
        try {
          const r = await this.send(c, waiters.length > 0);
          if (r) {
            rejected += r.rejected;
            if (r.errorMessage) msgs.push(r.errorMessage);
          }
        } catch (e) {
          failure ??= e;
        }
      }
      if (failure) for (const w of waiters) w.reject(failure);
      else {
        // Which caller's items were rejected is not known after merging: callers get the message as a warning.
        const res = rejected || msgs.length ? { rejected: 0, errorMessage: `${rejected} items rejected downstream: ${msgs.join('; ')}` } : undefined;
        for (const w of waiters) w.resolve(res);
      }
    })();
    this.inflight.add(task);
    void task.finally(() => this.inflight.delete(task));
  }

  /**
   * Hands one batch on. A retryable refusal keeps the batch and sends it again
   * after the delay it asked for (unless a waiting caller will retry it); a
   * permanent one drops it.
   */
  private async send(c: Telemetry, callerRetries: boolean): Promise<ConsumeResult> {
    const n = c.itemCount();
    for (let attempt = 0; ; attempt++) {
      this.sendSize.observe(this.labels, n);
      try {
        const r = await this.next.consume(c);
        this.held -= n;
        return r;
      } catch (e) {
        const err = asConsumerError(e);
        if (callerRetries || err.permanent) {
          this.held -= n;
          if (!callerRetries) {
            this.dropped.inc(this.labels, n);
            releaseDurable(c);
            this.settings.logger.warn('Batch refused permanently downstream. Dropping data.', { error: err, dropped_items: n });
          }
          throw err;
        }
        const delay = Math.min(30_000, Math.max(err.retryAfterMs ?? 0, 100 * 2 ** Math.min(attempt, 8)));
        if (attempt === 0) this.settings.logger.debug('Batch refused downstream; keeping it for a retry.', { error: err, items: n, retry_in_ms: delay });
        await new Promise<void>((r) => {
          const t = setTimeout(() => {
            this.retryTimers.delete(t);
            r();
          }, this.stopped ? Math.min(delay, 200) : delay);
          this.retryTimers.add(t);
        });
      }
    }
  }

  shutdown(): Promise<void> {
    this.shutdownP ??= (async () => {
      this.stopped = true;
      for (const p of [...this.pending.values()]) this.flush(p);
      // Retries go on while draining; the service bounds the whole drain by shutdown_timeout.
      while (this.inflight.size) await Promise.allSettled([...this.inflight]);
    })();
    return this.shutdownP;
  }
}
