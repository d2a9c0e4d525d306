// The cardinality_limit processor: at most N series per metric name (per
// group), counting whole series — resource attributes, scope and data point
// attributes together — not values of one label.
//
// A series is admitted while the metric has fewer than N admitted series; it
// stays admitted as long as it keeps reporting (it is forgotten after
// `series_expiration` without points). Points of series that are not admitted
// are dropped (`action: drop`) or merged (`action: overflow`) into one
// overflow series per metric and group: attributes
// `otel.metric.overflow=true`, in a resource that carries only the group
// attribute, so the output never holds more than N + 1 series per metric and
// group.
//
// Merging, per type:
// - sums: the overflow series carries the exact total of every increment of
//   every merged series. Delta points add their value. Cumulative points add
//   their increase since the last point of the same series (or their whole
//   value when the series is new to the overflow or restarted), which needs
//   one remembered value per merged series: that memory counts against
//   `max_tracked_series`, and a point whose series cannot be remembered is
//   dropped and counted rather than merged inexactly. The overflow series keeps
//   the temporality of the metric's first merged point.
// - gauges: the overflow series takes the most recent value (by timestamp) of
//   the merged series: a sum of gauges would need the latest value of every
//   merged series, and the last value is what the OpenTelemetry SDK reports
//   for its own overflow series.
// - histograms: merged bucket by bucket, like sums, when their bounds equal
//   the overflow series' (set by the first merged point); others are dropped.
// - summaries and exponential histograms cannot be merged: dropped.
//
// The model is only changed (and its cached protobuf dropped) when a batch has
// points over the cap.
import type { ConsumeResult, CreateSettings, Consumer, Host, ProcessorComponent } from '../../component/component.js';
import type {
  AnyValue,
  HistogramDataPoint,
  KeyValue,
  Metric,
  NumberDataPoint,
  Resource,
  ResourceMetrics,
} from '../../pdata/model.js';
import type { Telemetry } from '../../pdata/telemetry.js';
import type { CardinalityLimitConfig } from './config.js';
import { hashAttributes, hashScope, seriesId } from './identity.js';

export const OVERFLOW_ATTRIBUTE = 'otel.metric.overflow';
const OVERFLOW_KV: KeyValue = { key: OVERFLOW_ATTRIBUTE, value: { type: 'bool', value: true } };
const OVERFLOW_SCOPE = { name: 'sieve/cardinality_limit', version: '', attributes: [], droppedAttributesCount: 0 };
const AGG_DELTA = 1;
const AGG_CUMULATIVE = 2;
const NO_RECORDED_VALUE = 1;

type DropReason = 'limit' | 'unmergeable' | 'state_full';

/** The last cumulative value of one merged series. */
interface Fingerprint {
  startNs: bigint;
  value: number;
  counts: number[] | undefined;
  count: number;
  sum: number;
  seen: number;
}

interface Overflow {
  kind: 'sum' | 'gauge' | 'histogram';
  monotonic: boolean;
  temporality: number;
  bounds: number[] | undefined;
  name: string;
  description: string;
  unit: string;
  group: KeyValue | undefined;
  groupOnResource: boolean;
  startNs: bigint;
  lastEmitNs: bigint;
  // running totals (cumulative output)
  total: number;
  counts: number[];
  count: number;
  sum: number;
  gaugeValue: number;
  gaugeTimeNs: bigint;
  fps: Map<number, Fingerprint>;
  seen: number;
  // this batch
  touched: boolean;
  batchInc: number;
  batchCounts: number[];
  batchCount: number;
  batchSum: number;
  batchMaxNs: bigint;
  batchMinStartNs: bigint;
}

interface MetricState {
  /** Admitted series id → when last seen. */
  admitted: Map<number, number>;
  overflow: Overflow | undefined;
}

function valueKey(v: AnyValue): string {
  switch (v.type) {
    case 'string':
      return 's' + v.value;
    case 'int':
      return 'i' + v.value.toString();
    case 'double':
      return 'd' + String(v.value);
    case 'bool':
      return v.value ? 'bt' : 'bf';
    default:
      return 'x' + JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x instanceof Uint8Array ? Array.from(x) : x));
  }
}

function find(attrs: readonly KeyValue[], key: string): KeyValue | undefined {
  for (let i = 0; i < attrs.length; i++) if (attrs[i]!.key === key) return attrs[i];
  return undefined;
}

function num(v: number | bigint): number {
  return typeof v === 'number' ? v : Number(v);
}

function sameBounds(a: readonly number[] | undefined, b: readonly number[]): boolean {
  if (a === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class CardinalityLimitProcessor implements ProcessorComponent {
  readonly mutatesData = true;
  private readonly states = new Map<string, MetricState>();
  /** Admitted series + fingerprints + metric/group states. */
  private tracked = 0;
  private admittedCount = 0;
  private lastSweep: number;
  private readonly sweepEvery: number;
  private readonly overflowed;
  private readonly dropped;
  private readonly seriesGauge;
  private readonly labels: { processor: string };
  private readonly parts = new Uint32Array(6);
  private touched: Overflow[] = [];
  private droppedBatch = { limit: 0, unmergeable: 0, state_full: 0 };
  private overflowedBatch = 0;

  constructor(private readonly settings: CreateSettings, private readonly cfg: CardinalityLimitConfig, private readonly next: Consumer) {
    const t = settings.telemetry;
    this.labels = { processor: settings.id };
    this.overflowed = t.counter('sieve_cardinality_limit_overflowed_points_total', 'Data points of series over the cap merged into an overflow series.', ['processor']);
    this.dropped = t.counter('sieve_cardinality_limit_dropped_points_total', 'Data points of series over the cap that were dropped (action drop, not mergeable, or no room to track them).', ['processor', 'reason']);
    this.seriesGauge = t.gauge('sieve_cardinality_limit_series', 'Series admitted under the cap.', ['processor']);
    this.lastSweep = settings.now();
    this.sweepEvery = Math.min(30_000, Math.max(1000, Math.floor(cfg.series_expiration / 10)));
  }

  async start(_host: Host): Promise<void> {}
  async shutdown(): Promise<void> {}

  /** Series currently admitted (tests). */
  get admittedSeries(): number {
    return this.admittedCount;
  }
  /** Everything tracked (tests). */
  get trackedEntries(): number {
    return this.tracked;
  }

  async consume(data: Telemetry): Promise<ConsumeResult> {
    if (data.signal !== 'metrics') return this.next.consume(data);
    const now = this.settings.now();
    if (now - this.lastSweep >= this.sweepEvery) this.sweep(now);
    const resources = (data as Telemetry<'metrics'>).read();
    let plan: Map<Metric, Uint8Array> | undefined;
    this.touched = [];
    const parts = this.parts;
    const groupKey = this.cfg.group_by_attribute;
    for (const rm of resources) {
      hashAttributes(rm.resource.attributes, parts, 0);
      const resGroup = groupKey !== undefined ? find(rm.resource.attributes, groupKey) : undefined;
      for (const sm of rm.scopeMetrics) {
        hashScope(sm.scope, parts, 2);
        for (const m of sm.metrics) {
          const d = m.data;
          if (d.type === 'empty') continue;
          const pts = d.dataPoints as readonly { attributes: KeyValue[] }[];
          let keep: Uint8Array | undefined;
          let state: MetricState | undefined | null = null;
          let stateGroup = '';
          for (let i = 0; i < pts.length; i++) {
            const pt = pts[i]!;
            hashAttributes(pt.attributes, parts, 4);
            const id = seriesId(parts);
            let group = resGroup;
            let onResource = true;
            if (groupKey !== undefined && group === undefined) {
              group = find(pt.attributes, groupKey);
              onResource = false;
            }
            const gk = group === undefined ? '' : valueKey(group.value);
            if (state === null || gk !== stateGroup) {
              state = this.state(gk, m.name);
              stateGroup = gk;
            }
            if (state !== undefined && this.admit(state, id, now)) continue;
            keep ??= new Uint8Array(pts.length).fill(1);
            keep[i] = 0;
            if (state === undefined) this.drop('state_full');
            else if (this.cfg.action === 'drop') this.drop('limit');
            else this.merge(state, m, pt, id, now, group, onResource);
          }
          if (keep !== undefined) (plan ??= new Map()).set(m, keep);
        }
      }
    }
    this.flushCounters();
    if (plan === undefined) return this.next.consume(data);
    const model = (data as Telemetry<'metrics'>).mutate();
    applyPlan(model, plan);
    if (this.touched.length > 0) model.push(...this.overflowResources());
    return this.next.consume(data);
  }

  private drop(reason: DropReason): void {
    this.droppedBatch[reason]++;
  }

  private flushCounters(): void {
    const b = this.droppedBatch;
    for (const r of ['limit', 'unmergeable', 'state_full'] as const) {
      if (b[r] > 0) {
        this.dropped.inc({ ...this.labels, reason: r }, b[r]);
        b[r] = 0;
      }
    }
    if (this.overflowedBatch > 0) {
      this.overflowed.inc(this.labels, this.overflowedBatch);
      this.overflowedBatch = 0;
    }
    this.seriesGauge.set(this.labels, this.admittedCount);
  }

  private state(group: string, name: string): MetricState | undefined {
    const key = group + '\u0000' + name;
    let st = this.states.get(key);
    if (st === undefined) {
      if (this.tracked >= this.cfg.max_tracked_series) return undefined;
      st = { admitted: new Map(), overflow: undefined };
      this.states.set(key, st);
      this.tracked++;
    }
    return st;
  }

  private admit(st: MetricState, id: number, now: number): boolean {
    const a = st.admitted;
    if (a.has(id)) {
      a.set(id, now);
      return true;
    }
    if (a.size < this.cfg.max_series_per_metric && this.tracked < this.cfg.max_tracked_series) {
      a.set(id, now);
      this.tracked++;
      this.admittedCount++;
      return true;
    }
    return false;
  }

  private merge(st: MetricState, m: Metric, pt: { attributes: KeyValue[] }, id: number, now: number, group: KeyValue | undefined, onResource: boolean): void {
    const d = m.data;
    let kind: Overflow['kind'];
    let monotonic = false;
    let temporality = AGG_CUMULATIVE;
    if (d.type === 'gauge') kind = 'gauge';
    else if (d.type === 'sum') {
      kind = 'sum';
      monotonic = d.isMonotonic;
      temporality = d.aggregationTemporality === AGG_DELTA ? AGG_DELTA : AGG_CUMULATIVE;
    } else if (d.type === 'histogram') {
      kind = 'histogram';
      temporality = d.aggregationTemporality === AGG_DELTA ? AGG_DELTA : AGG_CUMULATIVE;
    } else {
      this.drop('unmergeable');
      return;
    }
    const npt = pt as NumberDataPoint & HistogramDataPoint;
    let ov = st.overflow;
    if (ov === undefined) {
      const start = npt.startTimeUnixNano === 0n ? npt.timeUnixNano : npt.startTimeUnixNano;
      ov = st.overflow = {
        kind,
        monotonic,
        temporality,
        bounds: kind === 'histogram' ? npt.explicitBounds.slice() : undefined,
        name: m.name,
        description: m.description,
        unit: m.unit,
        group,
        groupOnResource: onResource,
        startNs: start,
        lastEmitNs: 0n,
        total: 0,
        counts: kind === 'histogram' ? new Array<number>(npt.explicitBounds.length + 1).fill(0) : [],
        count: 0,
        sum: 0,
        gaugeValue: 0,
        gaugeTimeNs: -1n,
        fps: new Map(),
        seen: now,
        touched: false,
        batchInc: 0,
        batchCounts: [],
        batchCount: 0,
        batchSum: 0,
        batchMaxNs: 0n,
        batchMinStartNs: 0n,
      };
    } else if (ov.kind !== kind || ov.monotonic !== monotonic || (kind === 'histogram' && !sameBounds(ov.bounds, npt.explicitBounds))) {
      this.drop('unmergeable');
      return;
    }
    if ((npt.flags & NO_RECORDED_VALUE) !== 0) {
      // The merged series ended; forget its last value.
      if (ov.fps.delete(id)) this.tracked--;
      return;
    }
    const cumulativeIn = temporality === AGG_CUMULATIVE;
    if (kind === 'gauge') {
      if (npt.timeUnixNano >= ov.gaugeTimeNs) {
        ov.gaugeValue = num(npt.value);
        ov.gaugeTimeNs = npt.timeUnixNano;
      }
    } else if (kind === 'sum') {
      const v = num(npt.value);
      let inc = v;
      if (cumulativeIn) {
        let fp = ov.fps.get(id);
        if (fp === undefined) {
          if (this.tracked >= this.cfg.max_tracked_series) {
            this.drop('state_full');
            return;
          }
          fp = { startNs: npt.startTimeUnixNano, value: v, counts: undefined, count: 0, sum: 0, seen: now };
          ov.fps.set(id, fp);
          this.tracked++;
        } else {
          if (fp.startNs === npt.startTimeUnixNano && (!monotonic || v >= fp.value)) inc = v - fp.value;
          fp.startNs = npt.startTimeUnixNano;
          fp.value = v;
          fp.seen = now;
        }
      }
      ov.total += inc;
      this.begin(ov).batchInc += inc;
    } else {
      const counts = npt.bucketCounts;
      const nb = ov.counts.length;
      let incCounts: number[] = counts;
      let incCount = npt.count;
      let incSum = npt.sum ?? 0;
      if (cumulativeIn) {
        let fp = ov.fps.get(id);
        if (fp === undefined) {
          if (this.tracked >= this.cfg.max_tracked_series) {
            this.drop('state_full');
            return;
          }
          fp = { startNs: npt.startTimeUnixNano, value: 0, counts: counts.slice(), count: npt.count, sum: npt.sum ?? 0, seen: now };
          ov.fps.set(id, fp);
          this.tracked++;
        } else {
          let reset = fp.startNs !== npt.startTimeUnixNano || npt.count < fp.count;
          for (let i = 0; i < nb && !reset; i++) if ((counts[i] ?? 0) < (fp.counts![i] ?? 0)) reset = true;
          if (!reset) {
            incCounts = new Array<number>(nb);
            for (let i = 0; i < nb; i++) incCounts[i] = (counts[i] ?? 0) - (fp.counts![i] ?? 0);
            incCount = npt.count - fp.count;
            incSum = (npt.sum ?? 0) - fp.sum;
          }
          fp.startNs = npt.startTimeUnixNano;
          fp.counts = counts.slice();
          fp.count = npt.count;
          fp.sum = npt.sum ?? 0;
          fp.seen = now;
        }
      }
      const b = this.begin(ov);
      if (b.batchCounts.length !== nb) b.batchCounts = new Array<number>(nb).fill(0);
      for (let i = 0; i < nb; i++) {
        const c = incCounts[i] ?? 0;
        ov.counts[i]! += c;
        b.batchCounts[i]! += c;
      }
      ov.count += incCount;
      ov.sum += incSum;
      b.batchCount += incCount;
      b.batchSum += incSum;
    }
    if (ov.touched === false) this.begin(ov);
    if (npt.timeUnixNano > ov.batchMaxNs) ov.batchMaxNs = npt.timeUnixNano;
    const s = npt.startTimeUnixNano;
    if (s !== 0n && (ov.batchMinStartNs === 0n || s < ov.batchMinStartNs)) ov.batchMinStartNs = s;
    ov.seen = now;
    this.overflowedBatch++;
  }

  /** Marks an overflow series as part of this batch's output, resetting its batch accumulators once. */
  private begin(ov: Overflow): Overflow {
    if (!ov.touched) {
      ov.touched = true;
      ov.batchInc = 0;
      ov.batchCounts = [];
      ov.batchCount = 0;
      ov.batchSum = 0;
      ov.batchMaxNs = 0n;
      ov.batchMinStartNs = 0n;
      this.touched.push(ov);
    }
    return ov;
  }

  /** The overflow points of this batch, one resource per group. */
  private overflowResources(): ResourceMetrics[] {
    const byGroup = new Map<string, ResourceMetrics>();
    for (const ov of this.touched) {
      ov.touched = false;
      const gk = ov.group === undefined ? '' : (ov.groupOnResource ? 'r' : 'p') + valueKey(ov.group.value);
      let rm = byGroup.get(gk);
      if (rm === undefined) {
        const resource: Resource = { attributes: ov.group && ov.groupOnResource ? [ov.group] : [], droppedAttributesCount: 0 };
        rm = { resource, scopeMetrics: [{ scope: OVERFLOW_SCOPE, metrics: [], schemaUrl: '' }], schemaUrl: '' };
        byGroup.set(gk, rm);
      }
      const attributes = ov.group && !ov.groupOnResource ? [OVERFLOW_KV, ov.group] : [OVERFLOW_KV];
      const metric: Metric = { name: ov.name, description: ov.description, unit: ov.unit, metadata: [], data: { type: 'empty' } };
      const end = ov.batchMaxNs > ov.lastEmitNs ? ov.batchMaxNs : ov.lastEmitNs;
      const delta = ov.temporality === AGG_DELTA;
      const start = delta ? (ov.lastEmitNs !== 0n ? ov.lastEmitNs : ov.batchMinStartNs || ov.startNs) : ov.startNs;
      if (ov.kind === 'gauge') {
        metric.data = { type: 'gauge', dataPoints: [{ attributes, startTimeUnixNano: 0n, timeUnixNano: ov.gaugeTimeNs, value: ov.gaugeValue, exemplars: [], flags: 0 }] };
      } else if (ov.kind === 'sum') {
        metric.data = {
          type: 'sum',
          aggregationTemporality: ov.temporality,
          isMonotonic: ov.monotonic,
          dataPoints: [{ attributes, startTimeUnixNano: start, timeUnixNano: end, value: delta ? ov.batchInc : ov.total, exemplars: [], flags: 0 }],
        };
      } else {
        metric.data = {
          type: 'histogram',
          aggregationTemporality: ov.temporality,
          dataPoints: [
            {
              attributes,
              startTimeUnixNano: start,
              timeUnixNano: end,
              count: delta ? ov.batchCount : ov.count,
              sum: delta ? ov.batchSum : ov.sum,
              bucketCounts: delta ? (ov.batchCounts.length ? ov.batchCounts : new Array<number>(ov.counts.length).fill(0)) : ov.counts.slice(),
              explicitBounds: ov.bounds!.slice(),
              exemplars: [],
              flags: 0,
              min: undefined,
              max: undefined,
            },
          ],
        };
      }
      ov.lastEmitNs = end;
      rm.scopeMetrics[0]!.metrics.push(metric);
    }
    this.touched = [];
    return [...byGroup.values()];
  }

  /** Forgets series, overflow series and merged-series values not seen for series_expiration. */
  sweep(now: number): void {
    this.lastSweep = now;
    const cutoff = now - this.cfg.series_expiration;
    for (const [key, st] of this.states) {
      for (const [id, seen] of st.admitted) {
        if (seen < cutoff) {
          st.admitted.delete(id);
          this.tracked--;
          this.admittedCount--;
        }
      }
      const ov = st.overflow;
      if (ov !== undefined) {
        if (ov.seen < cutoff) {
          this.tracked -= ov.fps.size;
          st.overflow = undefined;
        } else {
          for (const [id, fp] of ov.fps) {
            if (fp.seen < cutoff) {
              ov.fps.delete(id);
              this.tracked--;
            }
          }
        }
      }
      if (st.admitted.size === 0 && st.overflow === undefined) {
        this.states.delete(key);
        this.tracked--;
      }
    }
    this.seriesGauge.set(this.labels, this.admittedCount);
  }
}

/** Removes the points the plan drops; drops metrics, scopes and resources that end up empty. */
function applyPlan(model: ResourceMetrics[], plan: Map<Metric, Uint8Array>): void {
  let rw = 0;
  for (let r = 0; r < model.length; r++) {
    const rm = model[r]!;
    let sw = 0;
    for (let s = 0; s < rm.scopeMetrics.length; s++) {
      const sm = rm.scopeMetrics[s]!;
      let mw = 0;
      for (let i = 0; i < sm.metrics.length; i++) {
        const m = sm.metrics[i]!;
        const keep = plan.get(m);
        if (keep !== undefined && m.data.type !== 'empty') {
          const pts = m.data.dataPoints as unknown[];
          let w = 0;
          for (let k = 0; k < pts.length; k++) if (keep[k] === 1) pts[w++] = pts[k];
          pts.length = w;
          if (w === 0) continue;
        }
        sm.metrics[mw++] = m;
      }
      sm.metrics.length = mw;
      if (mw > 0) rm.scopeMetrics[sw++] = sm;
    }
    rm.scopeMetrics.length = sw;
    if (sw > 0) model[rw++] = rm;
  }
  model.length = rw;
}
