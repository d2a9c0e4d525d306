// tenant_limiter: a token bucket per tenant (the batch's ctx.tenant, set by
// the tenant processor). A batch that finds too few tokens is refused with a
// retryable throttle error carrying the wait until enough have refilled, so
// the receiver answers 429 + Retry-After / RESOURCE_EXHAUSTED + RetryInfo and
// the client backs off; other tenants' buckets are untouched. The buckets are
// shared by every pipeline that uses this processor id.
import type { ConsumeResult, Consumer, CreateSettings, ProcessorComponent } from '../../component/component.js';
import { throttleError } from '../../component/errors.js';
import type { Signal } from '../../pdata/model.js';
import type { Telemetry } from '../../pdata/telemetry.js';
import type { SelfTelemetry } from '../../service/telemetry.js';
import type { Limit, TenantLimiterConfig } from './config.js';

class Bucket {
  tokens: number;
  constructor(readonly rate: number, readonly burst: number, public at: number) {
    this.tokens = burst;
  }
  /** Takes `n` units at time `now` (ms); returns 0 when taken, else the ms until they would be. */
  take(n: number, now: number): number {
    if (now > this.at) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.rate);
      this.at = now;
    }
    // A batch larger than the burst passes when the bucket is full, and leaves it in debt.
    const need = Math.min(n, this.burst);
    if (this.tokens >= need) {
      this.tokens -= n;
      return 0;
    }
    if (this.rate <= 0) return 60_000;
    return Math.max(1, Math.ceil(((need - this.tokens) / this.rate) * 1000));
  }
}

/** Buckets of one processor id: configured tenants, plus an LRU of unlisted ones. */
class Buckets {
  private fixed = new Map<string, Bucket>();
  private lru = new Map<string, Bucket>();
  private labels = new Set<string>();
  constructor(private cfg: TenantLimiterConfig, now: number) {
    for (const [t, l] of Object.entries(cfg.tenants)) this.fixed.set(t, mk(l, now));
  }
  get(tenant: string, now: number): Bucket | undefined {
    const f = this.fixed.get(tenant);
    if (f) return f;
    const d = this.cfg.default;
    if (!d) return undefined;
    let b = this.lru.get(tenant);
    if (b) {
      this.lru.delete(tenant);
    } else {
      b = mk(d, now);
      if (this.lru.size >= this.cfg.max_tenants) this.lru.delete(this.lru.keys().next().value!);
    }
    this.lru.set(tenant, b);
    return b;
  }
  label(tenant: string): string {
    if (this.labels.has(tenant)) return tenant;
    if (this.labels.size < this.cfg.max_tenants_in_metrics) {
      this.labels.add(tenant);
      return tenant;
    }
    return 'other';
  }
}

function mk(l: Limit, now: number): Bucket {
  return new Bucket(l.rate, l.burst > 0 ? l.burst : Math.max(1, l.rate), now);
}

const shared = new WeakMap<SelfTelemetry, Map<string, Buckets>>();

export class TenantLimiter implements ProcessorComponent {
  readonly mutatesData: boolean;
  private buckets: Buckets;
  private throttled;
  private passed;

  constructor(private settings: CreateSettings, private cfg: TenantLimiterConfig, private signal: Signal, private next: Consumer) {
    this.mutatesData = next.mutatesData;
    let m = shared.get(settings.telemetry);
    if (!m) shared.set(settings.telemetry, (m = new Map()));
    let b = m.get(settings.id);
    if (!b) m.set(settings.id, (b = new Buckets(cfg, settings.now())));
    this.buckets = b;
    const t = settings.telemetry;
    this.throttled = t.counter('sieve_tenant_limiter_throttled', 'Units refused over a tenant limit, by tenant (bounded; later tenants count as "other").', ['processor', 'otel_signal', 'unit', 'tenant']);
    this.passed = t.counter('sieve_tenant_limiter_passed', 'Units within the tenant limit, passed on, by tenant (bounded).', ['processor', 'otel_signal', 'unit', 'tenant']);
  }

  async start(): Promise<void> {}
  async shutdown(): Promise<void> {}

  consume(data: Telemetry): Promise<ConsumeResult> {
    const tenant = data.ctx.tenant ?? '';
    const now = this.settings.now();
    const bucket = this.buckets.get(tenant, now);
    if (!bucket) return this.next.consume(data);
    const n = this.cfg.unit === 'bytes' ? data.toProto().byteLength : data.itemCount();
    const wait = bucket.take(n, now);
    const labels = { processor: this.settings.id, otel_signal: this.signal, unit: this.cfg.unit, tenant: this.buckets.label(tenant || 'none') };
    if (wait > 0) {
      this.throttled.inc(labels, n);
      return Promise.reject(throttleError('the tenant is over its ingest limit', wait, 'SIEVE_ERR_TENANT_LIMIT'));
    }
    this.passed.inc(labels, n);
    return this.next.consume(data);
  }
}
