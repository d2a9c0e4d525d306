// Refuses data with a retryable error while memory in use is above the soft
// limit (limit - spike), so clients back off (429 + Retry-After) before the
// process runs out of memory. Above the hard limit it also asks V8 to collect
// garbage, as the Collector's limiter does.
import { totalmem } from 'node:os';
import { readFileSync } from 'node:fs';
import type { Consumer, CreateSettings, ConsumeResult, HealthReport, ProcessorComponent } from '../../component/component.js';
import { throttleError } from '../../component/errors.js';
import { ITEM_NAME, type Signal } from '../../pdata/model.js';
import type { Telemetry } from '../../pdata/telemetry.js';
import { gcFunction } from '../../service/gc.js';
import type { MemoryLimiterConfig } from './factory.js';

const MiB = 1024 * 1024;

/** Memory counted against the limit: the V8 heap plus ArrayBuffers (where request bytes live). */
export function memoryInUse(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

function cgroupLimit(): number | undefined {
  for (const f of ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']) {
    try {
      const v = readFileSync(f, 'utf8').trim();
      const n = Number(v);
      if (Number.isFinite(n) && n > 0 && n < 2 ** 60) return n;
    } catch {
      /* not in a cgroup with a limit */
    }
  }
  return undefined;
}

export class MemoryLimiter implements ProcessorComponent {
  readonly mutatesData = false;
  private timer: NodeJS.Timeout | undefined;
  private refusing = false;
  readonly hardLimit: number;
  readonly softLimit: number;
  private refusedCounter;
  private lastGc = 0;

  constructor(private settings: CreateSettings, private cfg: MemoryLimiterConfig, private signal: Signal, private next: Consumer, private measure: () => number = memoryInUse) {
    if (cfg.limit_mib > 0) {
      this.hardLimit = cfg.limit_mib * MiB;
      const spike = cfg.spike_limit_mib > 0 ? cfg.spike_limit_mib * MiB : this.hardLimit * 0.2;
      this.softLimit = this.hardLimit - spike;
    } else {
      const total = cgroupLimit() ?? totalmem();
      this.hardLimit = (total * cfg.limit_percentage) / 100;
      const spikePct = cfg.spike_limit_percentage > 0 ? cfg.spike_limit_percentage : cfg.limit_percentage * 0.2;
      this.softLimit = this.hardLimit - (total * spikePct) / 100;
    }
    const unit = ITEM_NAME[signal];
    this.refusedCounter = settings.telemetry.counter(`otelcol_processor_memory_limiter_refused_${unit}`, `Number of ${unit.replace('_', ' ')} refused by the memory limiter.`, ['processor']);
  }

  async start(): Promise<void> {
    this.check();
    this.timer = setInterval(() => this.check(), this.cfg.check_interval);
    this.timer.unref();
  }

  /** Samples memory and updates the refusing state. */
  check(): void {
    const used = this.measure();
    if (used >= this.hardLimit && Date.now() - this.lastGc >= this.cfg.min_gc_interval_when_hard_limited) {
      this.lastGc = Date.now();
      void gcFunction()();
    }
    const was = this.refusing;
    this.refusing = this.measure() >= this.softLimit;
    if (this.refusing !== was) {
      const mib = Math.round(used / MiB);
      if (this.refusing) this.settings.logger.warn('Memory usage is above soft limit. Refusing data.', { cur_mem_mib: mib, soft_limit_mib: Math.round(this.softLimit / MiB) });
      else this.settings.logger.info('Memory usage is back within limits. Resuming normal operation.', { cur_mem_mib: mib });
    }
  }

  isRefusing(): boolean {
    return this.refusing;
  }

  consume(data: Telemetry): Promise<ConsumeResult> {
    if (this.refusing) {
      this.refusedCounter.inc({ processor: this.settings.id }, data.itemCount());
      return Promise.reject(throttleError('data refused due to high memory usage', Math.max(1000, this.cfg.check_interval), 'SIEVE_ERR_MEMORY_LIMIT'));
    }
    return this.next.consume(data);
  }

  health(): HealthReport {
    return this.refusing ? { status: 'degraded', detail: 'memory usage above the soft limit; refusing data' } : { status: 'ok' };
  }

  async shutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
