// The spanmetrics connector: traces in, RED metrics out.
//
// Every span counts into `<namespace>.calls` (a monotonic sum) and
// `<namespace>.duration` (an explicit-bucket histogram) of the series named by
// its dimensions: service.name, span.name, span.kind, status.code and the
// configured `dimensions` (span attribute, then resource attribute, then the
// dimension's default; omitted when none). Series are kept per resource;
// metrics are emitted every `metrics_flush_interval`.
//
// Bounded state: at most `resource_metrics_cache_size` resources (least
// recently used evicted) and, with `aggregation_cardinality_limit`, at most
// that many series per resource; spans of further series count into one
// series whose only attribute is otel.metric.overflow=true. Exemplars are
// capped per data point and cleared at every flush.
import type { ConnectorComponent, Consumer, CreateSettings, Host } from '../../component/component.js';
import type { AnyValue, Exemplar, KeyValue, Metric, ResourceMetrics, ResourceSpans } from '../../pdata/model.js';
import { Telemetry, releaseDurable } from '../../pdata/telemetry.js';
import { DEFAULT_BUCKETS_MS, type SpanMetricsConfig } from './config.js';

export const OVERFLOW_ATTRIBUTE = 'otel.metric.overflow';
const OVERFLOW_KEY = '\u0001overflow';

const KIND_NAMES = ['SPAN_KIND_UNSPECIFIED', 'SPAN_KIND_INTERNAL', 'SPAN_KIND_SERVER', 'SPAN_KIND_CLIENT', 'SPAN_KIND_PRODUCER', 'SPAN_KIND_CONSUMER'];
const STATUS_NAMES = ['STATUS_CODE_UNSET', 'STATUS_CODE_OK', 'STATUS_CODE_ERROR'];
const SCOPE = { name: 'spanmetricsconnector', version: '', attributes: [], droppedAttributesCount: 0 };

interface Series {
  attrs: KeyValue[];
  calls: number;
  counts: Float64Array;
  count: number;
  sum: number;
  exemplars: Exemplar[];
  startNs: bigint;
  lastSeen: number;
  /** Updated since the last flush. */
  dirty: boolean;
}

interface ResourceAgg {
  resource: KeyValue[];
  series: Map<string, Series>;
}

function str(key: string, value: string): KeyValue {
  return { key, value: { type: 'string', value } };
}

function valueKey(v: AnyValue): string {
  switch (v.type) {
    case 'string':
      return v.value;
    case 'int':
      return v.value.toString();
    case 'double':
      return String(v.value);
    case 'bool':
      return v.value ? 'true' : 'false';
    default:
      return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x instanceof Uint8Array ? Array.from(x) : x));
  }
}

function copyAttrs(attrs: readonly KeyValue[]): KeyValue[] {
  return attrs.map((kv) => ({ key: kv.key, value: { ...kv.value } as AnyValue }));
}

function find(attrs: readonly KeyValue[], key: string): KeyValue | undefined {
  for (let i = 0; i < attrs.length; i++) if (attrs[i]!.key === key) return attrs[i];
  return undefined;
}

export class SpanMetricsConnector implements ConnectorComponent {
  readonly mutatesData = false;
  private readonly resources = new Map<string, ResourceAgg>();
  /** Bucket bounds in the histogram's unit. */
  readonly bounds: number[];
  private readonly unitScale: number;
  private readonly delta: boolean;
  private readonly callsName: string;
  private readonly durationName: string;
  private readonly useService: boolean;
  private readonly useName: boolean;
  private readonly useKind: boolean;
  private readonly useStatus: boolean;
  private lastFlushNs: bigint;
  private readonly workerAttr: KeyValue | undefined;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private stopped = false;
  private readonly overflowCounter;

  constructor(private readonly settings: CreateSettings, private readonly cfg: SpanMetricsConfig, private readonly next: Consumer) {
    const ms = cfg.histogram.explicit?.buckets ?? DEFAULT_BUCKETS_MS;
    this.unitScale = cfg.histogram.unit === 's' ? 1000 : 1;
    this.bounds = ms.map((b) => b / this.unitScale);
    this.delta = cfg.aggregation_temporality === 'AGGREGATION_TEMPORALITY_DELTA';
    const prefix = cfg.namespace === '' ? '' : `${cfg.namespace}.`;
    this.callsName = `${prefix}calls`;
    this.durationName = `${prefix}duration`;
    const ex = new Set(cfg.exclude_dimensions);
    this.useService = !ex.has('service.name');
    this.useName = !ex.has('span.name');
    this.useKind = !ex.has('span.kind');
    this.useStatus = !ex.has('status.code');
    this.lastFlushNs = BigInt(settings.now()) * 1_000_000n;
    const w = settings.worker;
    this.workerAttr = w && w.count > 1 ? { key: 'sieve.worker', value: { type: 'string', value: String(w.index) } } : undefined;
    this.overflowCounter = settings.telemetry.counter('sieve_spanmetrics_overflow_spans_total', 'Spans counted into the overflow series because aggregation_cardinality_limit was reached.', ['connector']);
  }

  async start(_host: Host): Promise<void> {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => void this.flush(), this.cfg.metrics_flush_interval);
    this.timer.unref();
  }

  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.flushing) await this.flushing;
    await this.flush(true);
  }

  /** Series currently aggregated (tests). */
  seriesCount(): number {
    let n = 0;
    for (const r of this.resources.values()) n += r.series.size;
    return n;
  }

  private resourceKey(attrs: readonly KeyValue[]): string {
    const keys = this.cfg.resource_metrics_key_attributes;
    let k = '';
    if (keys.length > 0) {
      for (const key of keys) {
        const kv = find(attrs, key);
        k += key + '\u0000' + (kv ? valueKey(kv.value) : '') + '\u0001';
      }
      return k;
    }
    const sorted = [...attrs].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    for (const kv of sorted) k += kv.key + '\u0000' + valueKey(kv.value) + '\u0001';
    return k;
  }

  private resourceAgg(attrs: KeyValue[]): ResourceAgg {
    const key = this.resourceKey(attrs);
    let r = this.resources.get(key);
    if (r !== undefined) {
      // Most recently used last.
      this.resources.delete(key);
      this.resources.set(key, r);
      return r;
    }
    if (this.resources.size >= this.cfg.resource_metrics_cache_size) {
      const oldest = this.resources.keys().next().value as string;
      this.resources.delete(oldest);
    }
    r = { resource: attrs, series: new Map() };
    this.resources.set(key, r);
    return r;
  }

  async consume(data: Telemetry): Promise<void> {
    if (data.signal !== 'traces') {
      releaseDurable(data);
      return;
    }
    const now = this.settings.now();
    const nowNs = BigInt(now) * 1_000_000n;
    const dims = this.cfg.dimensions;
    const limit = this.cfg.aggregation_cardinality_limit;
    const bounds = this.bounds;
    const exemplarsOn = this.cfg.exemplars.enabled;
    const maxEx = this.cfg.exemplars.max_per_data_point;
    let overflowed = 0;
    for (const rs of (data as Telemetry<'traces'>).read() as readonly ResourceSpans[]) {
      const rattrs = rs.resource.attributes;
      const agg = this.resourceAgg(rattrs);
      const svc = find(rattrs, 'service.name');
      const svcName = svc ? valueKey(svc.value) : '';
      for (const ss of rs.scopeSpans) {
        for (const span of ss.spans) {
          const kind = KIND_NAMES[span.kind] ?? KIND_NAMES[0]!;
          const status = STATUS_NAMES[span.status.code] ?? STATUS_NAMES[0]!;
          let key = `${this.useName ? span.name : ''}\u0000${this.useKind ? kind : ''}\u0000${this.useStatus ? status : ''}`;
          const dimValues: (AnyValue | undefined)[] = [];
          for (const d of dims) {
            const kv = find(span.attributes, d.name) ?? find(rattrs, d.name);
            const v: AnyValue | undefined = kv ? kv.value : d.default !== undefined ? { type: 'string', value: d.default } : undefined;
            dimValues.push(v);
            key += '\u0000' + (v === undefined ? '\u0002' : valueKey(v));
          }
          let series = agg.series.get(key);
          if (series === undefined) {
            if (limit > 0 && agg.series.size >= limit + (agg.series.has(OVERFLOW_KEY) ? 1 : 0)) {
              key = OVERFLOW_KEY;
              series = agg.series.get(key);
              overflowed++;
              if (series === undefined) {
                series = this.newSeries([{ key: OVERFLOW_ATTRIBUTE, value: { type: 'bool', value: true } }], nowNs);
                agg.series.set(key, series);
              }
            } else {
              const attrs: KeyValue[] = [];
              if (this.useService) attrs.push(str('service.name', svcName));
              if (this.useName) attrs.push(str('span.name', span.name));
              if (this.useKind) attrs.push(str('span.kind', kind));
              if (this.useStatus) attrs.push(str('status.code', status));
              dims.forEach((d, i) => {
                const v = dimValues[i];
                if (v !== undefined) attrs.push({ key: d.name, value: v });
              });
              series = this.newSeries(attrs, nowNs);
              agg.series.set(key, series);
            }
          } else if (key === OVERFLOW_KEY) overflowed++;
          const durMs = Number(span.endTimeUnixNano - span.startTimeUnixNano) / 1e6;
          const dur = Math.max(0, durMs / this.unitScale);
          series.calls++;
          series.count++;
          series.sum += dur;
          let lo = 0;
          let hi = bounds.length;
          while (lo < hi) {
            const mid = (lo + hi) >>> 1;
            if (dur <= bounds[mid]!) hi = mid;
            else lo = mid + 1;
          }
          series.counts[lo]!++;
          series.lastSeen = now;
          series.dirty = true;
          if (exemplarsOn) {
            if (series.exemplars.length >= maxEx) series.exemplars.shift();
            series.exemplars.push({ filteredAttributes: [], timeUnixNano: span.endTimeUnixNano, value: dur, spanId: span.spanId, traceId: span.traceId });
          }
        }
      }
    }
    if (overflowed > 0) this.overflowCounter.inc({ connector: this.settings.id }, overflowed);
    // The spans end here (they live on as aggregates).
    releaseDurable(data);
  }

  private newSeries(attrs: KeyValue[], nowNs: bigint): Series {
    return {
      attrs,
      calls: 0,
      counts: new Float64Array(this.bounds.length + 1),
      count: 0,
      sum: 0,
      exemplars: [],
      startNs: this.delta ? this.lastFlushNs : nowNs,
      lastSeen: this.settings.now(),
      dirty: false,
    };
  }

  /** Builds the metrics due now and resets delta state (exposed for tests with an injected clock). */
  collect(): ResourceMetrics[] {
    const now = this.settings.now();
    const nowNs = BigInt(now) * 1_000_000n;
    const exp = this.cfg.metrics_expiration;
    const out: ResourceMetrics[] = [];
    const temporality = this.delta ? 1 : 2;
    for (const [rk, agg] of this.resources) {
      const callPts: Metric['data'] & { type: 'sum' } = { type: 'sum', aggregationTemporality: temporality, isMonotonic: true, dataPoints: [] };
      const durPts: Metric['data'] & { type: 'histogram' } = { type: 'histogram', aggregationTemporality: temporality, dataPoints: [] };
      for (const [k, s] of agg.series) {
        if (exp > 0 && now - s.lastSeen > exp) {
          agg.series.delete(k);
          continue;
        }
        if (this.delta && !s.dirty) continue;
        const exemplars = s.exemplars;
        // Downstream processors may change what they are given: hand out copies of the state.
        const attributes = copyAttrs(s.attrs);
        // Each worker aggregates the spans it sees (docs/workers.md): its series carry the
        // worker so that two workers' cumulative series never collide downstream.
        if (this.workerAttr) attributes.push(this.workerAttr);
        callPts.dataPoints.push({ attributes, startTimeUnixNano: s.startNs, timeUnixNano: nowNs, value: BigInt(s.calls), exemplars, flags: 0 });
        if (!this.cfg.histogram.disable) {
          durPts.dataPoints.push({
            attributes: copyAttrs(attributes),
            startTimeUnixNano: s.startNs,
            timeUnixNano: nowNs,
            count: s.count,
            sum: s.sum,
            bucketCounts: Array.from(s.counts),
            explicitBounds: this.bounds.slice(),
            exemplars,
            flags: 0,
            min: undefined,
            max: undefined,
          });
        }
        s.exemplars = [];
        s.dirty = false;
        if (this.delta) {
          s.calls = 0;
          s.count = 0;
          s.sum = 0;
          s.counts.fill(0);
          s.startNs = nowNs;
        }
      }
      if (agg.series.size === 0) {
        this.resources.delete(rk);
        continue;
      }
      if (callPts.dataPoints.length === 0) continue;
      const metrics: Metric[] = [{ name: this.callsName, description: 'Number of spans, by dimensions.', unit: '', metadata: [], data: callPts }];
      if (!this.cfg.histogram.disable) {
        metrics.push({ name: this.durationName, description: 'Span duration, by dimensions.', unit: this.cfg.histogram.unit, metadata: [], data: durPts });
      }
      out.push({ resource: { attributes: copyAttrs(agg.resource), droppedAttributesCount: 0 }, scopeMetrics: [{ scope: SCOPE, metrics, schemaUrl: '' }], schemaUrl: '' });
    }
    this.lastFlushNs = nowNs;
    return out;
  }

  /** Emits the aggregated metrics downstream. */
  flush(final = false): Promise<void> {
    if (this.flushing && !final) return this.flushing;
    const run = (async () => {
      const resources = this.collect();
      if (resources.length === 0) return;
      try {
        await this.next.consume(Telemetry.metrics(resources));
      } catch (e) {
        this.settings.logger.warn('Emitting span metrics failed', { error: e as Error, resources: resources.length });
      }
    })();
    this.flushing = run.finally(() => {
      if (this.flushing === wrapped) this.flushing = undefined;
    });
    const wrapped = this.flushing;
    return wrapped;
  }
}
