// Groups data into larger batches by size or time. Unlike the Collector's batch
// processor, a caller's promise settles only once its data has been handed to
// the next consumer, so back-pressure and failures travel back to the client
// and nothing is acknowledged that was not accepted downstream.
// Batches are partitioned by tenant and by the configured metadata keys: a
// batch never mixes tenants.
import type { Consumer, CreateSettings, ConsumeResult, ProcessorComponent } from '../../component/component.js';
import { throttleError, unavailableError } from '../../component/errors.js';
import type { Signal } from '../../pdata/model.js';
import { splitTelemetry } from '../../pdata/split.js';
import { Telemetry } from '../../pdata/telemetry.js';
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
  private stopped = false;
  private shutdownP: Promise<void> | undefined;
  private sizeTrigger;
  private timeoutTrigger;
  private sendSize;

  constructor(private settings: CreateSettings, private cfg: BatchConfig, private signal: Signal, private next: Consumer) {
    const t = settings.telemetry;
    this.sizeTrigger = t.counter('otelcol_processor_batch_batch_size_trigger_send', 'Number of times the batch was sent due to a size trigger.', ['processor']);
    this.timeoutTrigger = t.counter('otelcol_processor_batch_timeout_trigger_send', 'Number of times the batch was sent due to a timeout trigger.', ['processor']);
    this.sendSize = t.histogram('otelcol_processor_batch_batch_send_size', 'Number of units in the batch.', ['processor'], [10, 25, 50, 75, 100, 250, 500, 750, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000, 20000, 30000, 50000, 100000]);
  }

  async start(): Promise<void> {}

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
    const key = this.keyOf(data);
    let p = this.pending.get(key);
    if (!p) {
      if (this.cfg.metadata_keys.length && this.cfg.metadata_cardinality_limit > 0 && this.pending.size >= this.cfg.metadata_cardinality_limit) {
        return Promise.reject(throttleError('too many batcher metadata-value combinations', 1000, 'SIEVE_ERR_METADATA_CARDINALITY'));
      }
      p = { key, parts: [], items: 0, waiters: [], timer: undefined };
      this.pending.set(key, p);
    }
    const promise = new Promise<ConsumeResult>((resolve, reject) => p!.waiters.push({ resolve, reject }));
    p.parts.push(data);
    p.items += n;
    if (this.cfg.timeout === 0 || p.items >= this.cfg.send_batch_size) {
      if (this.cfg.timeout !== 0) this.sizeTrigger.inc({ processor: this.settings.id });
      this.flush(p);
    } else if (!p.timer) {
      p.timer = setTimeout(() => {
        this.timeoutTrigger.inc({ processor: this.settings.id });
        this.flush(p!);
      }, this.cfg.timeout);
    }
    return promise;
  }

  private flush(p: Pending): void {
    if (p.timer) clearTimeout(p.timer);
    this.pending.delete(p.key);
    const { parts, waiters } = p;
    const merged = Telemetry.concat(this.signal, parts, parts.length === 1 ? parts[0]!.ctx : undefined);
    const chunks = splitTelemetry(merged, this.cfg.send_batch_max_size);
    const task = (async () => {
      try {
        let rejected = 0;
        const msgs: string[] = [];
        for (const c of chunks) {
          this.sendSize.observe({ processor: this.settings.id }, c.itemCount());
          const r = await this.next.consume(c);
          if (r) {
            rejected += r.rejected;
            if (r.errorMessage) msgs.push(r.errorMessage);
          }
        }
        // Which caller's items were rejected is not known after merging: callers get the message as a warning.
        const res = rejected || msgs.length ? { rejected: 0, errorMessage: `${rejected} items rejected downstream: ${msgs.join('; ')}` } : undefined;
        for (const w of waiters) w.resolve(res);
      } catch (e) {
        for (const w of waiters) w.reject(e);
      }
    })();
    this.inflight.add(task);
    void task.finally(() => this.inflight.delete(task));
  }

  shutdown(): Promise<void> {
    this.shutdownP ??= (async () => {
      this.stopped = true;
      for (const p of [...this.pending.values()]) this.flush(p);
      await Promise.allSettled([...this.inflight]);
    })();
    return this.shutdownP;
  }
}
