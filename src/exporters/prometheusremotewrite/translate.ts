// OTLP metrics → Remote Write requests, for one shard of the exporter.
//
// A shard owns every series routed to it (see exporter.ts), translates its
// batches one at a time in queue order, and keeps per-series state:
//
// - the timestamp of the last sample sent: a sample that is not newer is
//   dropped and counted, because Prometheus rejects a whole request that holds
//   one out-of-order or duplicate sample;
// - the running total of delta sums and delta histograms (Prometheus has only
//   cumulative counters);
// - when the series was last seen and how often it reports, to emit a
//   staleness marker once it has disappeared (see `collectStale`).
//
// State is bounded by `maxTracked`; beyond it new series are still sent but
// without ordering protection or staleness, and their delta points are
// dropped (they cannot be accumulated).
import type {
  HistogramDataPoint,
  KeyValue,
  Metric,
  NumberDataPoint,
  Resource,
  ResourceMetrics,
  SummaryDataPoint,
} from '../../pdata/model.js';
import { Telemetry } from '../../pdata/telemetry.js';
import {
  FLAG_NO_RECORDED_VALUE,
  addHistogramPoint,
  addNumberPoint,
  nanosToMillis,
  newHistogramTotal,
  newNumberTotal,
  numberOf,
  type HistogramTotal,
  type NumberTotal,
} from '../../prom/cumulative.js';
import { bucketIndex, exemplarLabels, exemplarValue } from '../../prom/exemplars.js';
import { hashSeries } from '../../prom/hash.js';
import type { LabelBuilder, ResourceLabels } from '../../prom/labels.js';
import { formatValue, type MetricNamer } from '../../prom/naming.js';
import { PointLabels, WriteRequestWriter, encodeLabel, type Exemplar as PromExemplar } from '../../prom/prompb.js';
import { snappyCompress } from '../../prom/snappy.js';

const AGG_DELTA = 1;
const LE_INF = encodeLabel('le', '+Inf');

/**
 * The scope of the target_info points the exporter adds to each batch. A
 * resource's target_info repeats in every batch, often at the same time: those
 * repeats are dropped without being counted as out of order.
 */
export const TARGET_SCOPE = { name: '', version: '', attributes: [], droppedAttributesCount: 0 };

type Kind = 'gauge' | 'sum' | 'histogram' | 'summary';

interface Entry {
  /** Timestamp (ms) of the last sample sent. */
  lastMs: number;
  /**
   * The three most recent gaps (ms) between samples, newest first; 0 until
   * known. Three numbers in the entry rather than an array: no allocation per
   * series, and a median of three already ignores one outlier (a flush at
   * shutdown, a retry, a second replica a few milliseconds after the first).
   */
  gap0: number;
  gap1: number;
  gap2: number;
  /** Wall-clock time (ms) the series was last translated. */
  seenAt: number;
  /** A staleness marker for it is queued. */
  markerQueued: boolean;
  // What a staleness marker needs to rebuild the OTLP point.
  resource: Resource;
  kind: Kind;
  name: string;
  unit: string;
  monotonic: boolean;
  temporality: number;
  attrs: KeyValue[];
  bounds: number[] | undefined;
  quantiles: number[] | undefined;
  hasSum: boolean;
  /** Running total of a delta series. */
  total: NumberTotal | HistogramTotal | undefined;
}

export interface TranslateStats {
  dropped(reason: 'out_of_order' | 'untracked_delta' | 'unsupported_type' | 'invalid_name' | 'invalid_timestamp', n: number): void;
  staleMarkers(n: number): void;
}

export interface ShardOptions {
  namer: MetricNamer;
  labels: LabelBuilder;
  /** ResourceLabels cache shared with the router. */
  resourceLabels(res: Resource): ResourceLabels;
  maxTracked: number;
  maxBodyBytes: number;
  stats: TranslateStats;
}

export interface StalenessOptions {
  missedIntervals: number;
  maxAgeMs: number;
  /** Floor of a series' estimated reporting interval. */
  minIntervalMs: number;
}

/**
 * A series' reporting interval: the median of its recent gaps (the larger of
 * two while only two are known), at least `minMs`; 0 while no gap is known.
 */
export function reportingInterval(g0: number, g1: number, g2: number, minMs: number): number {
  if (g0 <= 0) return 0;
  let m: number;
  if (g1 <= 0) m = g0;
  else if (g2 <= 0) m = Math.max(g0, g1);
  else m = Math.max(Math.min(g0, g1), Math.min(Math.max(g0, g1), g2));
  return Math.max(m, minMs);
}

/**
 * Encoded `__name__` labels of a histogram's or summary's series. Copying
 * pre-encoded `__name__` and `le` labels instead of encoding them per series:
 * 14.0 against 14.7 ms of CPU per 3000-point batch in translate.bench.ts's
 * mix (min of 15 runs).
 */
interface HistNames {
  bucket: Uint8Array;
  sum: Uint8Array;
  count: Uint8Array;
  /** The summary's own name (quantile series). */
  base: Uint8Array;
}

export class ShardTranslator {
  readonly entries = new Map<number, Entry>();
  private readonly w = new WriteRequestWriter();
  /** A histogram's or summary's labels, encoded once for all its series. */
  private readonly pl = new PointLabels();
  private readonly histNames = new Map<string, HistNames>();
  private readonly leCache = new Map<number, Uint8Array>();
  private readonly quantileCache = new Map<number, Uint8Array>();
  private bodies: Uint8Array[] = [];
  private now = 0;
  private res!: Resource;
  private rl!: ResourceLabels;
  /** Drops are not counted (the exporter's own target_info points). */
  private quiet = false;

  constructor(private readonly o: ShardOptions) {}

  /** Translates a batch into snappy-compressed WriteRequest bodies (none when nothing is left to send). */
  translate(resources: readonly ResourceMetrics[], now: number): Uint8Array[] {
    this.now = now;
    this.bodies = [];
    this.w.reset();
    for (const rm of resources) {
      this.res = rm.resource;
      this.rl = this.o.resourceLabels(rm.resource);
      for (const sm of rm.scopeMetrics) {
        this.quiet = sm.scope === TARGET_SCOPE;
        for (const m of sm.metrics) this.metric(m);
      }
    }
    this.flush();
    return this.bodies;
  }

  private flush(): void {
    if (this.w.count > 0) this.bodies.push(snappyCompress(this.w.view()));
    this.w.reset();
  }

  private maybeFlush(): void {
    if (this.w.size >= this.o.maxBodyBytes) this.flush();
  }

  private metric(m: Metric): void {
    const d = m.data;
    if (d.type !== 'empty' && d.type !== 'exponentialHistogram' && this.o.namer.name(m) === '') {
      // A series without a name cannot be sent.
      if (d.dataPoints.length > 0) this.o.stats.dropped('invalid_name', d.dataPoints.length);
      return;
    }
    switch (d.type) {
      case 'gauge': {
        const name = this.o.namer.name(m);
        for (const pt of d.dataPoints) this.number(name, m, 'gauge', pt, false, false, 0);
        return;
      }
      case 'sum': {
        const name = this.o.namer.name(m);
        const delta = d.aggregationTemporality === AGG_DELTA;
        for (const pt of d.dataPoints) this.number(name, m, 'sum', pt, delta, d.isMonotonic, d.aggregationTemporality);
        return;
      }
      case 'histogram': {
        const name = this.o.namer.name(m);
        const delta = d.aggregationTemporality === AGG_DELTA;
        for (const pt of d.dataPoints) this.histogram(name, m, pt, delta, d.aggregationTemporality);
        return;
      }
      case 'summary': {
        const name = this.o.namer.name(m);
        for (const pt of d.dataPoints) this.summary(name, m, pt);
        return;
      }
      case 'exponentialHistogram':
        if (d.dataPoints.length > 0) this.o.stats.dropped('unsupported_type', d.dataPoints.length);
        return;
      default:
        return;
    }
  }

  /** The tracked entry for a series, created when there is room. */
  private track(h: number, m: Metric, kind: Kind, monotonic: boolean, temporality: number, attrs: KeyValue[]): Entry | undefined {
    if (this.entries.size >= this.o.maxTracked) return undefined;
    const e: Entry = {
      lastMs: -Infinity,
      gap0: 0,
      gap1: 0,
      gap2: 0,
      seenAt: this.now,
      markerQueued: false,
      resource: this.res,
      kind,
      name: m.name,
      unit: m.unit,
      monotonic,
      temporality,
      attrs,
      bounds: undefined,
      quantiles: undefined,
      hasSum: false,
      total: undefined,
    };
    this.entries.set(h, e);
    return e;
  }

  private seen(e: Entry, ms: number, attrs: KeyValue[]): void {
    if (e.lastMs !== -Infinity) {
      e.gap2 = e.gap1;
      e.gap1 = e.gap0;
      e.gap0 = ms - e.lastMs;
    }
    e.lastMs = ms;
    e.seenAt = this.now;
    e.markerQueued = false;
    e.resource = this.res;
    e.attrs = attrs;
  }

  private exemplars(list: NumberDataPoint['exemplars']): PromExemplar[] | undefined {
    if (list.length === 0) return undefined;
    const out: PromExemplar[] = [];
    for (const ex of list) {
      out.push({ labels: exemplarLabels(ex, this.o.labels.namer), value: exemplarValue(ex), timestampMs: nanosToMillis(ex.timeUnixNano) });
    }
    return out;
  }

  private number(name: string, m: Metric, kind: 'gauge' | 'sum', pt: NumberDataPoint, delta: boolean, monotonic: boolean, temporality: number): void {
    const labels = this.o.labels.point(pt.attributes, this.rl, this.rl.override);
    const h = hashSeries(name, labels);
    let e = this.entries.get(h);
    const ms = nanosToMillis(pt.timeUnixNano);
    if (ms <= 0) {
      // No timestamp: Prometheus would refuse the whole request.
      this.o.stats.dropped('invalid_timestamp', 1);
      return;
    }
    if (e !== undefined && ms <= e.lastMs) {
      if ((pt.flags & FLAG_NO_RECORDED_VALUE) === 0 && !this.quiet) this.o.stats.dropped('out_of_order', 1);
      return;
    }
    if ((pt.flags & FLAG_NO_RECORDED_VALUE) !== 0) {
      this.w.series(name, labels, undefined, '', NaN, ms, true);
      if (e !== undefined) {
        this.entries.delete(h);
        this.o.stats.staleMarkers(1);
      }
      this.maybeFlush();
      return;
    }
    let value: number;
    if (delta) {
      if (e === undefined) {
        e = this.track(h, m, kind, monotonic, temporality, pt.attributes);
        if (e === undefined) {
          this.o.stats.dropped('untracked_delta', 1);
          return;
        }
      }
      const t = e.total as NumberTotal | undefined;
      if (t === undefined || !('value' in t)) {
        e.total = newNumberTotal(pt);
      } else if (!addNumberPoint(t, pt, true)) {
        this.o.stats.dropped('out_of_order', 1);
        return;
      }
      value = (e.total as NumberTotal).value;
    } else {
      value = numberOf(pt.value);
      if (e === undefined) e = this.track(h, m, kind, monotonic, temporality, pt.attributes);
    }
    const ex = kind === 'sum' && pt.exemplars.length > 0 ? this.exemplars(pt.exemplars) : undefined;
    this.w.series(name, labels, undefined, '', value, ms, false, ex);
    if (e !== undefined) this.seen(e, ms, pt.attributes);
    this.maybeFlush();
  }

  private names(name: string): HistNames {
    let n = this.histNames.get(name);
    if (n === undefined) {
      n = {
        bucket: encodeLabel('__name__', `${name}_bucket`),
        sum: encodeLabel('__name__', `${name}_sum`),
        count: encodeLabel('__name__', `${name}_count`),
        base: encodeLabel('__name__', name),
      };
      if (this.histNames.size > 10_000) this.histNames.clear();
      this.histNames.set(name, n);
    }
    return n;
  }

  private le(bound: number): Uint8Array {
    let s = this.leCache.get(bound);
    if (s === undefined) {
      s = encodeLabel('le', formatValue(bound));
      if (this.leCache.size > 10_000) this.leCache.clear();
      this.leCache.set(bound, s);
    }
    return s;
  }

  private quantile(q: number): Uint8Array {
    let s = this.quantileCache.get(q);
    if (s === undefined) {
      s = encodeLabel('quantile', formatValue(q));
      if (this.quantileCache.size > 10_000) this.quantileCache.clear();
      this.quantileCache.set(q, s);
    }
    return s;
  }

  private histogram(name: string, m: Metric, pt: HistogramDataPoint, delta: boolean, temporality: number): void {
    const labels = this.o.labels.point(pt.attributes, this.rl, this.rl.override);
    const h = hashSeries(name, labels);
    let e = this.entries.get(h);
    const ms = nanosToMillis(pt.timeUnixNano);
    if (ms <= 0) {
      // No timestamp: Prometheus would refuse the whole request.
      this.o.stats.dropped('invalid_timestamp', 1);
      return;
    }
    const names = this.names(name);
    const w = this.w;
    if (e !== undefined && ms <= e.lastMs) {
      if ((pt.flags & FLAG_NO_RECORDED_VALUE) === 0) this.o.stats.dropped('out_of_order', 1);
      return;
    }
    const pl = this.pl;
    pl.prepare(labels, 'le');
    if ((pt.flags & FLAG_NO_RECORDED_VALUE) !== 0) {
      for (const b of pt.explicitBounds) w.seriesPrepared(pl, names.bucket, this.le(b), NaN, ms, true);
      w.seriesPrepared(pl, names.bucket, LE_INF, NaN, ms, true);
      if (pt.sum !== undefined || e?.hasSum) w.seriesPrepared(pl, names.sum, undefined, NaN, ms, true);
      w.seriesPrepared(pl, names.count, undefined, NaN, ms, true);
      if (e !== undefined) {
        this.entries.delete(h);
        this.o.stats.staleMarkers(1);
      }
      this.maybeFlush();
      return;
    }
    let bounds: readonly number[];
    let counts: readonly number[];
    let count: number;
    let sum: number | undefined;
    if (delta) {
      if (e === undefined) {
        e = this.track(h, m, 'histogram', false, temporality, pt.attributes);
        if (e === undefined) {
          this.o.stats.dropped('untracked_delta', 1);
          return;
        }
      }
      const t = e.total as HistogramTotal | undefined;
      if (t === undefined || !('counts' in t)) e.total = newHistogramTotal(pt);
      else if (!addHistogramPoint(t, pt, true)) {
        this.o.stats.dropped('out_of_order', 1);
        return;
      }
      const tot = e.total as HistogramTotal;
      bounds = tot.bounds;
      counts = tot.counts;
      count = tot.count;
      sum = tot.sum;
    } else {
      bounds = pt.explicitBounds;
      counts = pt.bucketCounts;
      count = pt.count;
      sum = pt.sum;
      if (e === undefined) e = this.track(h, m, 'histogram', false, temporality, pt.attributes);
    }
    // Exemplars go with the bucket their value falls in.
    let perBucket: (PromExemplar[] | undefined)[] | undefined;
    if (pt.exemplars.length > 0) {
      perBucket = new Array(bounds.length + 1);
      for (const ex of pt.exemplars) {
        const v = exemplarValue(ex);
        const i = bucketIndex(bounds, v);
        (perBucket[i] ??= []).push({ labels: exemplarLabels(ex, this.o.labels.namer), value: v, timestampMs: nanosToMillis(ex.timeUnixNano) });
      }
    }
    let cum = 0;
    for (let i = 0; i < bounds.length; i++) {
      cum += counts[i] ?? 0;
      w.seriesPrepared(pl, names.bucket, this.le(bounds[i]!), cum, ms, false, perBucket?.[i]);
    }
    w.seriesPrepared(pl, names.bucket, LE_INF, count, ms, false, perBucket?.[bounds.length]);
    if (sum !== undefined) w.seriesPrepared(pl, names.sum, undefined, sum, ms, false);
    w.seriesPrepared(pl, names.count, undefined, count, ms, false);
    if (e !== undefined) {
      this.seen(e, ms, pt.attributes);
      e.bounds = pt.explicitBounds;
      e.hasSum = sum !== undefined;
    }
    this.maybeFlush();
  }

  private summary(name: string, m: Metric, pt: SummaryDataPoint): void {
    const labels = this.o.labels.point(pt.attributes, this.rl, this.rl.override);
    const h = hashSeries(name, labels);
    let e = this.entries.get(h);
    const ms = nanosToMillis(pt.timeUnixNano);
    if (ms <= 0) {
      // No timestamp: Prometheus would refuse the whole request.
      this.o.stats.dropped('invalid_timestamp', 1);
      return;
    }
    const names = this.names(name);
    const w = this.w;
    if (e !== undefined && ms <= e.lastMs) {
      if ((pt.flags & FLAG_NO_RECORDED_VALUE) === 0) this.o.stats.dropped('out_of_order', 1);
      return;
    }
    const stale = (pt.flags & FLAG_NO_RECORDED_VALUE) !== 0;
    const pl = this.pl;
    pl.prepare(labels, 'quantile');
    for (const q of pt.quantileValues) w.seriesPrepared(pl, names.base, this.quantile(q.quantile), q.value, ms, stale);
    w.seriesPrepared(pl, names.sum, undefined, pt.sum, ms, stale);
    w.seriesPrepared(pl, names.count, undefined, pt.count, ms, stale);
    if (stale) {
      if (e !== undefined) {
        this.entries.delete(h);
        this.o.stats.staleMarkers(1);
      }
    } else {
      if (e === undefined) e = this.track(h, m, 'summary', false, 0, pt.attributes);
      if (e !== undefined) {
        this.seen(e, ms, pt.attributes);
        e.quantiles = pt.quantileValues.map((q) => q.quantile);
      }
    }
    this.maybeFlush();
  }

  /**
   * Series that have disappeared: not seen for `missedIntervals` of their own
   * reporting intervals (see `reportingInterval`; capped at, and defaulting
   * to, `maxAgeMs`). Returns an
   * OTLP batch of NO_RECORDED_VALUE points for them, one millisecond after each
   * one's last sample, which the translator turns into staleness markers; or
   * undefined when none is due. The entries are marked so they are not
   * collected twice; `requeue` undoes that when the batch could not be queued.
   */
  collectStale(now: number, o: StalenessOptions): { data: Telemetry<'metrics'>; entries: Entry[] } | undefined {
    let byResource: Map<Resource, Map<string, Metric>> | undefined;
    const due: Entry[] = [];
    for (const e of this.entries.values()) {
      if (e.markerQueued || e.lastMs === -Infinity) continue;
      const interval = reportingInterval(e.gap0, e.gap1, e.gap2, o.minIntervalMs);
      const limit = interval > 0 ? Math.min(o.maxAgeMs, interval * o.missedIntervals) : o.maxAgeMs;
      if (now - e.seenAt <= limit) continue;
      e.markerQueued = true;
      due.push(e);
      byResource ??= new Map();
      let metrics = byResource.get(e.resource);
      if (metrics === undefined) byResource.set(e.resource, (metrics = new Map()));
      const key = `${e.kind}\u0000${e.name}\u0000${e.unit}\u0000${e.monotonic ? 1 : 0}\u0000${e.temporality}`;
      let m = metrics.get(key);
      if (m === undefined) {
        m = { name: e.name, description: '', unit: e.unit, metadata: [], data: shellData(e) };
        metrics.set(key, m);
      }
      const t = BigInt(e.lastMs + 1) * 1_000_000n;
      const d = m.data;
      if (d.type === 'histogram') {
        d.dataPoints.push({
          attributes: e.attrs,
          startTimeUnixNano: 0n,
          timeUnixNano: t,
          count: 0,
          sum: e.hasSum ? 0 : undefined,
          bucketCounts: [],
          explicitBounds: e.bounds ?? [],
          exemplars: [],
          flags: FLAG_NO_RECORDED_VALUE,
          min: undefined,
          max: undefined,
        });
      } else if (d.type === 'summary') {
        d.dataPoints.push({
          attributes: e.attrs,
          startTimeUnixNano: 0n,
          timeUnixNano: t,
          count: 0,
          sum: 0,
          quantileValues: (e.quantiles ?? []).map((q) => ({ quantile: q, value: 0 })),
          flags: FLAG_NO_RECORDED_VALUE,
        });
      } else if (d.type === 'gauge' || d.type === 'sum') {
        d.dataPoints.push({ attributes: e.attrs, startTimeUnixNano: 0n, timeUnixNano: t, value: 0, exemplars: [], flags: FLAG_NO_RECORDED_VALUE });
      }
    }
    if (byResource === undefined) return undefined;
    const resources: ResourceMetrics[] = [];
    for (const [resource, metrics] of byResource) {
      resources.push({
        resource,
        scopeMetrics: [{ scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0 }, metrics: [...metrics.values()], schemaUrl: '' }],
        schemaUrl: '',
      });
    }
    return { data: Telemetry.metrics(resources), entries: due };
  }

  /** Lets entries be collected again (their marker batch was not queued). */
  requeue(entries: readonly Entry[]): void {
    for (const e of entries) e.markerQueued = false;
  }
}

function shellData(e: Entry): Metric['data'] {
  switch (e.kind) {
    case 'histogram':
      return { type: 'histogram', dataPoints: [], aggregationTemporality: e.temporality || 2 };
    case 'summary':
      return { type: 'summary', dataPoints: [] };
    case 'sum':
      return { type: 'sum', dataPoints: [], aggregationTemporality: e.temporality || 2, isMonotonic: e.monotonic };
    default:
      return { type: 'gauge', dataPoints: [] };
  }
}
