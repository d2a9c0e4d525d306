// One target's scrapes turned into OTLP metrics, the way the Collector's
// prometheus receiver does it:
//
// - counter → cumulative monotonic sum; gauge and unknown → gauge; histogram
//   (`_bucket`/`_sum`/`_count`) → explicit-bounds histogram; summary →
//   summary; info and stateset → non-monotonic cumulative sum; gaugehistogram
//   is dropped (OTLP has no such type).
// - start time of cumulative points: `_created` when served, otherwise the
//   time the series was first seen (a reset — the value going down — starts a
//   new series 1 ms before the point).
// - `job`/`instance` → resource service.name / service.instance.id, plus
//   server.address, server.port and url.scheme; `target_info` labels →
//   resource attributes; other labels → point attributes.
// - exemplars keep their value and time; trace_id/span_id become ids.
// - series that vanish from a scrape, and every series of a failed scrape or a
//   removed target, get one point with the NoRecordedValue flag.
// - the report metrics: up, scrape_duration_seconds, scrape_samples_scraped,
//   scrape_samples_post_metric_relabeling, scrape_series_added.
import type { Exemplar, HistogramDataPoint, KeyValue, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, SummaryDataPoint } from '../../pdata/model.js';
import { relabel, type CompiledRule } from './relabel.js';
import type { ParsedExemplar, SampleSink, MetaKind } from './parser.js';

export const SCOPE_NAME = 'github.com/open-telemetry/opentelemetry-collector-contrib/receiver/prometheusreceiver';
export const SCOPE_VERSION = '0.1.0';
export const FLAG_NO_RECORDED_VALUE = 1;

export class LimitError extends Error {
  constructor(readonly reason: 'sample_limit' | 'label_limit' | 'label_name_length_limit' | 'label_value_length_limit', message: string) {
    super(message);
  }
}

export interface ConvertOptions {
  job: string;
  instance: string;
  /** Target labels sorted by name, job and instance included. */
  targetLabels: readonly [string, string][];
  scheme: string;
  honorLabels: boolean;
  honorTimestamps: boolean;
  metricRules: readonly CompiledRule[];
  sampleLimit: number;
  labelLimit: number;
  labelNameLengthLimit: number;
  labelValueLengthLimit: number;
  externalLabels: Record<string, string>;
  /** Use this regex's gauge as the start time of cumulative points. */
  startTimeMetric?: RegExp;
  extraMetrics?: { bodyBytes?: number; timeoutSeconds: number } | undefined;
  /**
   * Reuse a series' attribute list in every scrape. Only when nothing
   * downstream mutates data (the consumer's mutatesData is false): it saves
   * most of the allocations of a scrape.
   */
  shareAttributes?: () => boolean;
}

/** A copy that does not keep the scraped body alive (V8 slices substrings of 13+ characters). */
function own(s: string): string {
  return s.length < 13 ? s : (' ' + s).slice(1);
}

type Kind = 'counter' | 'gauge' | 'histogram' | 'summary' | 'unknown' | 'info' | 'stateset' | 'gaugehistogram';

interface Family {
  name: string;
  kind: Kind;
  help: string;
  unit: string;
}

interface PointBuf {
  job: string;
  instance: string;
  /** Flat point attributes [name, value, ...]. */
  attrs: string[];
  key: string;
  tsMs: number | undefined;
  value: number;
  hasValue: boolean;
  created: number | undefined;
  sum: number | undefined;
  count: number | undefined;
  buckets: number[] | undefined; // flat [le, cumulative count, ...]
  quantiles: number[] | undefined; // flat [q, value, ...]
  exemplars: ParsedExemplar[] | undefined;
  exemplarTs: number[] | undefined;
}

interface MetricBuf {
  name: string;
  family: Family;
  points: Map<string, PointBuf>;
}

/** What the receiver remembers of a series between scrapes. */
interface SeriesState {
  gen: number;
  start: bigint;
  last: number;
  resKey: string;
  name: string;
  kind: Kind;
  help: string;
  unit: string;
  attrs: string[];
  /** The attributes as OTLP key-values (shared across scrapes with shareAttributes). */
  kvs: KeyValue[];
  /** Histogram bounds or summary quantiles of the last point, for its stale marker. */
  shape: number[] | undefined;
}

interface ResourceInfo {
  job: string;
  instance: string;
  extra: string[] | undefined;
}

export interface ScrapeStats {
  scraped: number;
  postRelabel: number;
  seriesAdded: number;
  points: number;
  stale: number;
}

const SUFFIX_KINDS: Record<string, readonly Kind[]> = {
  _total: ['counter'],
  _created: ['counter', 'histogram', 'summary', 'gaugehistogram'],
  _bucket: ['histogram', 'gaugehistogram'],
  _sum: ['histogram', 'summary'],
  _count: ['histogram', 'summary'],
  _gcount: ['gaugehistogram'],
  _gsum: ['gaugehistogram'],
  _info: ['info'],
};
const SUFFIXES = Object.keys(SUFFIX_KINDS);

function parseKind(t: string): Kind {
  return t === 'untyped' ? 'unknown' : (t as Kind);
}

function nanos(ms: number): bigint {
  return BigInt(Math.round(ms)) * 1_000_000n;
}

function kv(key: string, value: string): KeyValue {
  return { key, value: { type: 'string', value } };
}

function hexBytes(s: string, n: number): Uint8Array | undefined {
  if (s.length !== n * 2 || !/^[0-9a-fA-F]+$/.test(s)) return undefined;
  return Uint8Array.from(Buffer.from(s, 'hex'));
}

function splitHostPort(instance: string): { host: string; port: string } {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(instance);
  if (m) return { host: m[1]!, port: m[2]! };
  return { host: instance, port: '' };
}

/**
 * Converts the scrapes of one target. Not re-entrant: one scrape at a time
 * (begin → parser callbacks → finish or fail).
 */
export class TargetConverter implements SampleSink {
  private families = new Map<string, Family>();
  private metrics = new Map<string, MetricBuf>();
  private resources = new Map<string, ResourceInfo>();
  /** Series by metric name, then by point key. */
  private state = new Map<string, Map<string, SeriesState>>();
  private tracked = 0;
  private share = false;
  private resourceAttrs = new Map<string, KeyValue[]>();
  private gen = 0;
  private scrapeMs = 0;
  private scrapeNs = 0n;
  private stats: ScrapeStats = { scraped: 0, postRelabel: 0, seriesAdded: 0, points: 0, stale: 0 };
  private startOverride: bigint | undefined;
  private lastMetric: MetricBuf | undefined;
  private readonly targetLabelNames: Set<string>;
  private readonly extraTarget: [string, string][];
  private readonly external: [string, string][];

  constructor(private o: ConvertOptions) {
    this.targetLabelNames = new Set(o.targetLabels.map(([k]) => k));
    this.extraTarget = o.targetLabels.filter(([k]) => k !== 'job' && k !== 'instance');
    this.external = Object.entries(o.externalLabels).filter(([k]) => !this.targetLabelNames.has(k));
  }

  /** Number of series remembered for staleness and start times. */
  get trackedSeries(): number {
    return this.tracked;
  }

  begin(scrapeMs: number): void {
    this.share = this.o.shareAttributes?.() ?? false;
    this.families.clear();
    this.metrics.clear();
    this.resources.clear();
    this.lastMetric = undefined;
    this.gen++;
    this.scrapeMs = scrapeMs;
    this.scrapeNs = nanos(scrapeMs);
    this.stats = { scraped: 0, postRelabel: 0, seriesAdded: 0, points: 0, stale: 0 };
    this.startOverride = undefined;
  }

  meta(kind: MetaKind, name: string, text: string): void {
    let f = this.families.get(name);
    if (!f) {
      f = { name, kind: 'unknown', help: '', unit: '' };
      this.families.set(name, f);
    }
    if (kind === 'type') f.kind = parseKind(text);
    else if (kind === 'help') f.help = text;
    else f.unit = text;
  }

  private family(name: string): { f: Family; suffix: string } {
    const f = this.families.get(name);
    // An exact match wins.
    if (f !== undefined) return { f, suffix: '' };
    for (let i = 0; i < SUFFIXES.length; i++) {
      const sfx = SUFFIXES[i]!;
      if (name.length > sfx.length && name.endsWith(sfx)) {
        const base = this.families.get(name.slice(0, -sfx.length));
        if (base !== undefined && SUFFIX_KINDS[sfx]!.includes(base.kind)) return { f: base, suffix: sfx };
      }
    }
    const u: Family = { name, kind: 'unknown', help: '', unit: '' };
    this.families.set(name, u);
    return { f: u, suffix: '' };
  }

  sample(name: string, labels: string[], value: number, timestampMs: number | undefined, exemplar: ParsedExemplar | undefined): void {
    const o = this.o;
    this.stats.scraped++;
    let job = o.job;
    let instance = o.instance;
    let attrs: string[];
    if (o.metricRules.length > 0) {
      const r = this.relabelled(name, labels);
      if (r === undefined) return;
      ({ name, job, instance, attrs } = r);
    } else {
      // Target labels over scraped ones (honor_labels: false, scraped ones renamed exported_*) or under them.
      attrs = labels;
      for (let i = 0; i < attrs.length; i += 2) {
        const k = attrs[i]!;
        if (k === 'job' || k === 'instance' || this.targetLabelNames.has(k)) {
          attrs = this.mergeTarget(labels);
          if (o.honorLabels) {
            job = this.mergedJob ?? job;
            instance = this.mergedInstance ?? instance;
          }
          break;
        }
      }
      if (attrs === labels && (this.extraTarget.length > 0 || this.external.length > 0)) {
        for (const [k, v] of this.extraTarget) attrs.push(k, v);
        for (const [k, v] of this.external) if (!has(attrs, k)) attrs.push(k, v);
      }
      for (let i = 1; i < attrs.length; i += 2) {
        if (attrs[i] === '') {
          attrs = dropEmpty(attrs);
          break;
        }
      }
    }
    this.stats.postRelabel++;
    if (o.sampleLimit > 0 && this.stats.postRelabel > o.sampleLimit) throw new LimitError('sample_limit', `sample_limit exceeded: more than ${o.sampleLimit} samples`);
    if (o.labelLimit > 0 && attrs.length / 2 + 3 > o.labelLimit) throw new LimitError('label_limit', `label_limit exceeded: series ${name} has ${attrs.length / 2 + 3} labels, the limit is ${o.labelLimit}`);
    if (o.labelNameLengthLimit > 0 || o.labelValueLengthLimit > 0) this.checkLengths(name, attrs);
    if (name === 'target_info') {
      this.targetInfo(job, instance, attrs);
      return;
    }
    if (this.startOverride === undefined && o.startTimeMetric !== undefined && o.startTimeMetric.test(name)) this.startOverride = nanos(value * 1000);

    // Family and metric.
    let mb = this.lastMetric;
    let suffix = '';
    let fam: Family;
    if (mb !== undefined && mb.name === name && mb.family.name === name) {
      fam = mb.family;
    } else {
      const r = this.family(name);
      fam = r.f;
      suffix = r.suffix;
      const kind = fam.kind;
      if (kind === 'gaugehistogram') return;
      const mname = kind === 'histogram' || kind === 'summary' ? fam.name : suffix === '_created' ? fam.name + (this.families.has(fam.name + '_total') ? '_total' : '') : name;
      const metricName = kind === 'counter' && suffix === '_created' ? this.counterNameFor(fam) : mname;
      const mk = `${metricName}\xff${kind}`;
      mb = this.metrics.get(mk);
      if (mb === undefined) {
        mb = { name: metricName, family: fam, points: new Map() };
        this.metrics.set(mk, mb);
      }
      this.lastMetric = suffix === '' ? mb : undefined;
    }
    const kind = fam.kind;
    // Group key: the point's labels without le / quantile.
    let grouped = attrs;
    let le: string | undefined;
    if (kind === 'histogram' || kind === 'summary') {
      const drop = kind === 'histogram' ? 'le' : 'quantile';
      for (let i = 0; i < attrs.length; i += 2) {
        if (attrs[i] === drop) {
          le = attrs[i + 1];
          grouped = attrs.slice(0, i).concat(attrs.slice(i + 2));
          break;
        }
      }
    }
    let gk = grouped.join('\xff');
    if (job !== o.job || instance !== o.instance) gk = job + '\xfe' + instance + '\xfe' + gk;
    let p = mb.points.get(gk);
    if (p === undefined) {
      p = { job, instance, attrs: grouped, key: gk, tsMs: undefined, value: 0, hasValue: false, created: undefined, sum: undefined, count: undefined, buckets: undefined, quantiles: undefined, exemplars: undefined, exemplarTs: undefined };
      mb.points.set(gk, p);
      if (!this.resources.has(job + '\xff' + instance)) this.resources.set(job + '\xff' + instance, { job, instance, extra: undefined });
    }
    if (timestampMs !== undefined && o.honorTimestamps) p.tsMs = timestampMs;
    if (suffix === '_created') {
      p.created = value;
      return;
    }
    if (exemplar !== undefined) {
      (p.exemplars ??= []).push(exemplar);
    }
    switch (kind) {
      case 'histogram':
        if (suffix === '_sum') p.sum = value;
        else if (suffix === '_count') p.count = value;
        else if (suffix === '_bucket') {
          const b = le === undefined ? NaN : le === '+Inf' ? Infinity : Number(le);
          if (b === b) (p.buckets ??= []).push(b, value);
        }
        break;
      case 'summary':
        if (suffix === '_sum') p.sum = value;
        else if (suffix === '_count') p.count = value;
        else if (le !== undefined) {
          const q = Number(le);
          if (q === q) (p.quantiles ??= []).push(q, value);
        }
        break;
      default:
        p.value = value;
        p.hasValue = true;
    }
  }

  private counterNameFor(f: Family): string {
    // An OpenMetrics counter "foo" is stored as foo_total; its _created goes to that series.
    for (const [k, m] of this.metrics) if (m.family === f && k.endsWith('\xffcounter')) return m.name;
    return f.name.endsWith('_total') ? f.name : `${f.name}_total`;
  }

  private mergedJob: string | undefined;
  private mergedInstance: string | undefined;

  /** The slow path of label merging: a scraped label collides with a target label. */
  private mergeTarget(labels: string[]): string[] {
    const o = this.o;
    const out: string[] = [];
    this.mergedJob = undefined;
    this.mergedInstance = undefined;
    for (let i = 0; i < labels.length; i += 2) {
      const k = labels[i]!;
      const v = labels[i + 1]!;
      if (o.honorLabels) {
        if (k === 'job') this.mergedJob = v;
        else if (k === 'instance') this.mergedInstance = v;
        else out.push(k, v);
      } else if (k === 'job' || k === 'instance' || this.targetLabelNames.has(k)) {
        let n = `exported_${k}`;
        while (has(labels, n) || this.targetLabelNames.has(n)) n = `exported_${n}`;
        out.push(n, v);
      } else out.push(k, v);
    }
    for (const [k, v] of this.extraTarget) if (!(o.honorLabels && has(out, k))) out.push(k, v);
    for (const [k, v] of this.external) if (!has(out, k)) out.push(k, v);
    return out;
  }

  private relabelled(name: string, labels: string[]): { name: string; job: string; instance: string; attrs: string[] } | undefined {
    const o = this.o;
    const m = new Map<string, string>();
    for (let i = 0; i < labels.length; i += 2) m.set(labels[i]!, labels[i + 1]!);
    if (!o.honorLabels) {
      for (const [k] of o.targetLabels) {
        const v = m.get(k);
        if (v !== undefined) {
          m.delete(k);
          let n = `exported_${k}`;
          while (m.has(n) || this.targetLabelNames.has(n)) n = `exported_${n}`;
          m.set(n, v);
        }
      }
      for (const [k, v] of o.targetLabels) m.set(k, v);
    } else for (const [k, v] of o.targetLabels) if (!m.has(k)) m.set(k, v);
    for (const [k, v] of this.external) if (!m.has(k)) m.set(k, v);
    m.set('__name__', name);
    if (!relabel(m, o.metricRules)) return undefined;
    const n = m.get('__name__');
    if (n === undefined || n === '') return undefined;
    const job = m.get('job') ?? '';
    const instance = m.get('instance') ?? '';
    const attrs: string[] = [];
    for (const [k, v] of m) if (k !== '__name__' && k !== 'job' && k !== 'instance') attrs.push(k, v);
    return { name: n, job, instance, attrs };
  }

  private checkLengths(name: string, attrs: string[]): void {
    const o = this.o;
    for (let i = 0; i < attrs.length; i += 2) {
      if (o.labelNameLengthLimit > 0 && attrs[i]!.length > o.labelNameLengthLimit) throw new LimitError('label_name_length_limit', `label name ${JSON.stringify(attrs[i])} of ${name} is longer than ${o.labelNameLengthLimit}`);
      if (o.labelValueLengthLimit > 0 && attrs[i + 1]!.length > o.labelValueLengthLimit) throw new LimitError('label_value_length_limit', `a value of label ${attrs[i]} of ${name} is longer than ${o.labelValueLengthLimit}`);
    }
  }

  private targetInfo(job: string, instance: string, attrs: string[]): void {
    const rk = job + '\xff' + instance;
    let r = this.resources.get(rk);
    if (!r) {
      r = { job, instance, extra: undefined };
      this.resources.set(rk, r);
    }
    const extra = (r.extra ??= []);
    for (let i = 0; i < attrs.length; i += 2) if (!this.targetLabelNames.has(attrs[i]!) || attrs[i] === 'job' || attrs[i] === 'instance') extra.push(attrs[i]!, attrs[i + 1]!);
  }

  private resourceFor(rk: string, info: ResourceInfo | undefined): KeyValue[] {
    let attrs = this.resourceAttrs.get(rk);
    if (attrs !== undefined && info?.extra === undefined) return attrs;
    const [job, instance] = rk.split('\xff') as [string, string];
    attrs = [];
    if (job !== '') attrs.push(kv('service.name', job));
    if (instance !== '') {
      attrs.push(kv('service.instance.id', instance));
      const { host, port } = splitHostPort(instance);
      attrs.push(kv('server.address', host));
      if (port !== '') attrs.push(kv('server.port', port));
    }
    attrs.push(kv('url.scheme', this.o.scheme));
    if (info?.extra) for (let i = 0; i < info.extra.length; i += 2) attrs.push(kv(info.extra[i]!, info.extra[i + 1]!));
    this.resourceAttrs.set(rk, attrs);
    return attrs;
  }

  private toKvs(flat: string[]): KeyValue[] {
    const out: KeyValue[] = new Array(flat.length / 2);
    for (let i = 0, j = 0; i < flat.length; i += 2, j++) out[j] = { key: flat[i]!, value: { type: 'string', value: flat[i + 1]! } };
    return out;
  }

  private exemplarsOf(p: PointBuf): Exemplar[] {
    if (p.exemplars === undefined) return [];
    return p.exemplars.map((e) => {
      const attrs: KeyValue[] = [];
      let traceId: Uint8Array = new Uint8Array(0);
      let spanId: Uint8Array = new Uint8Array(0);
      for (let i = 0; i < e.labels.length; i += 2) {
        const k = e.labels[i]!;
        const v = e.labels[i + 1]!;
        const t = k === 'trace_id' ? hexBytes(v, 16) : k === 'span_id' ? hexBytes(v, 8) : undefined;
        if (k === 'trace_id' && t) traceId = t;
        else if (k === 'span_id' && t) spanId = t;
        else attrs.push(kv(k, v));
      }
      return { filteredAttributes: attrs, timeUnixNano: e.timestampMs !== undefined ? nanos(e.timestampMs) : this.scrapeNs, value: e.value, spanId, traceId };
    });
  }

  /** The series' bookkeeping, created on first sight. */
  private series(rk: string, m: MetricBuf, p: PointBuf): SeriesState {
    let byKey = this.state.get(m.name);
    if (byKey === undefined) this.state.set(m.name, (byKey = new Map()));
    let st = byKey.get(p.key);
    if (st === undefined) {
      const attrs = p.attrs.map(own);
      st = { gen: -1, start: -1n, last: 0, resKey: rk, name: m.name, kind: m.family.kind, help: m.family.help, unit: m.family.unit, attrs, kvs: this.toKvs(attrs), shape: undefined };
      byKey.set(own(p.key), st);
      this.tracked++;
      this.stats.seriesAdded++;
    }
    return st;
  }

  private attrsOf(st: SeriesState, p: PointBuf): KeyValue[] {
    return this.share ? st.kvs : this.toKvs(p.attrs);
  }

  /** Start time of a cumulative point; updates the series. */
  private track(st: SeriesState, p: PointBuf, time: bigint, value: number, cumulative: boolean, shape?: number[]): bigint {
    let start = 0n;
    if (cumulative) {
      if (p.created !== undefined) st.start = nanos(p.created * 1000);
      else if (st.start < 0n) st.start = this.startOverride ?? time;
      else if (value < st.last) st.start = time - 1_000_000n;
      start = st.start;
    }
    st.gen = this.gen;
    st.last = value;
    st.shape = shape;
    return start;
  }

  /** Builds the scrape's OTLP resources, stale markers included. */
  finish(durationSeconds: number, extra?: { bodyBytes: number }): { resources: ResourceMetrics[]; stats: ScrapeStats } {
    const byRes = new Map<string, Metric[]>();
    const metricsOf = (rk: string): Metric[] => {
      let l = byRes.get(rk);
      if (!l) {
        l = [];
        byRes.set(rk, l);
      }
      return l;
    };
    let points = 0;
    for (const m of this.metrics.values()) {
      const kind = m.family.kind;
      // Points of one metric may belong to different resources (honor_labels).
      const perRes = new Map<string, Metric>();
      for (const p of m.points.values()) {
        const rk = p.job + '\xff' + p.instance;
        let metric = perRes.get(rk);
        if (metric === undefined) {
          metric = newMetric(m.name, kind, m.family.help, m.family.unit);
          perRes.set(rk, metric);
          metricsOf(rk).push(metric);
        }
        if (kind === 'histogram' ? p.buckets === undefined && p.count === undefined : kind !== 'summary' && !p.hasValue) continue;
        const time = p.tsMs !== undefined ? nanos(p.tsMs) : this.scrapeNs;
        const st = this.series(rk, m, p);
        const attrs = this.attrsOf(st, p);
        if (kind === 'histogram') {
          const h = this.histogramPoint(p, attrs, time);
          if (h === undefined) continue;
          h.startTimeUnixNano = this.track(st, p, time, h.count, true, h.explicitBounds);
          (metric.data as { dataPoints: HistogramDataPoint[] }).dataPoints.push(h);
        } else if (kind === 'summary') {
          const sp: SummaryDataPoint = { attributes: attrs, startTimeUnixNano: 0n, timeUnixNano: time, count: p.count ?? 0, sum: p.sum ?? 0, quantileValues: [], flags: 0 };
          const q = p.quantiles;
          if (q) {
            const pairs: { quantile: number; value: number }[] = [];
            for (let i = 0; i < q.length; i += 2) pairs.push({ quantile: q[i]!, value: q[i + 1]! });
            pairs.sort((a, b) => a.quantile - b.quantile);
            sp.quantileValues = pairs;
          }
          sp.startTimeUnixNano = this.track(st, p, time, sp.count, true, sp.quantileValues.map((q) => q.quantile));
          (metric.data as { dataPoints: SummaryDataPoint[] }).dataPoints.push(sp);
        } else {
          if (!p.hasValue) continue;
          const cumulative = kind === 'counter' || kind === 'info' || kind === 'stateset';
          const np: NumberDataPoint = { attributes: attrs, startTimeUnixNano: 0n, timeUnixNano: time, value: p.value, exemplars: this.exemplarsOf(p), flags: 0 };
          np.startTimeUnixNano = this.track(st, p, time, p.value, cumulative);
          (metric.data as { dataPoints: NumberDataPoint[] }).dataPoints.push(np);
        }
        points++;
      }
    }
    const stale = this.staleMarkers(metricsOf, false);
    this.stats.points = points;
    this.stats.stale = stale;
    const targetRk = this.o.job + '\xff' + this.o.instance;
    this.report(metricsOf(targetRk), 1, durationSeconds, extra?.bodyBytes);
    return { resources: this.build(byRes), stats: this.stats };
  }

  /** A failed scrape: every known series ends, and up is 0. */
  fail(scrapeMs: number, durationSeconds: number): { resources: ResourceMetrics[]; stats: ScrapeStats } {
    this.gen++;
    this.share = this.o.shareAttributes?.() ?? false;
    this.scrapeMs = scrapeMs;
    this.scrapeNs = nanos(scrapeMs);
    const byRes = new Map<string, Metric[]>();
    const metricsOf = (rk: string): Metric[] => {
      let l = byRes.get(rk);
      if (!l) byRes.set(rk, (l = []));
      return l;
    };
    this.stats = { scraped: 0, postRelabel: 0, seriesAdded: 0, points: 0, stale: 0 };
    this.stats.stale = this.staleMarkers(metricsOf, true);
    this.report(metricsOf(this.o.job + '\xff' + this.o.instance), 0, durationSeconds, undefined);
    return { resources: this.build(byRes), stats: this.stats };
  }

  /** The target is gone: stale markers for everything it served, including the report metrics. */
  end(nowMs: number): ResourceMetrics[] {
    this.scrapeMs = nowMs;
    this.scrapeNs = nanos(nowMs);
    this.gen++;
    this.share = this.o.shareAttributes?.() ?? false;
    const byRes = new Map<string, Metric[]>();
    const metricsOf = (rk: string): Metric[] => {
      let l = byRes.get(rk);
      if (!l) byRes.set(rk, (l = []));
      return l;
    };
    this.staleMarkers(metricsOf, true);
    const rk = this.o.job + '\xff' + this.o.instance;
    const attrs = this.toKvs(this.reportAttrs());
    const list = metricsOf(rk);
    for (const n of REPORT_NAMES) {
      const m = newMetric(n, 'gauge', '', '');
      (m.data as { dataPoints: NumberDataPoint[] }).dataPoints.push({ attributes: attrs, startTimeUnixNano: 0n, timeUnixNano: this.scrapeNs, value: NaN, exemplars: [], flags: FLAG_NO_RECORDED_VALUE });
      list.push(m);
    }
    return this.build(byRes);
  }

  private staleMarkers(metricsOf: (rk: string) => Metric[], all: boolean): number {
    let n = 0;
    const byMetric = new Map<string, Metric>();
    for (const [name, byKey] of this.state) {
      for (const [k, st] of byKey) {
        if (!all && st.gen === this.gen) continue;
        byKey.delete(k);
        this.tracked--;
        const mk = st.resKey + '\xff' + st.name + '\xff' + st.kind;
        let m = byMetric.get(mk);
        if (m === undefined) {
          m = newMetric(st.name, st.kind, st.help, st.unit);
          byMetric.set(mk, m);
          metricsOf(st.resKey).push(m);
        }
        const attrs = this.share ? st.kvs : this.toKvs(st.attrs);
        const t = this.scrapeNs;
        const d = m.data as { dataPoints: unknown[] };
        if (st.kind === 'histogram') {
          d.dataPoints.push({ attributes: attrs, startTimeUnixNano: st.start, timeUnixNano: t, count: 0, sum: 0, bucketCounts: [], explicitBounds: st.shape ?? [], exemplars: [], flags: FLAG_NO_RECORDED_VALUE, min: undefined, max: undefined } satisfies HistogramDataPoint);
        } else if (st.kind === 'summary') {
          d.dataPoints.push({ attributes: attrs, startTimeUnixNano: st.start, timeUnixNano: t, count: 0, sum: 0, quantileValues: (st.shape ?? []).map((q) => ({ quantile: q, value: NaN })), flags: FLAG_NO_RECORDED_VALUE } satisfies SummaryDataPoint);
        } else {
          d.dataPoints.push({ attributes: attrs, startTimeUnixNano: st.start < 0n ? 0n : st.start, timeUnixNano: t, value: NaN, exemplars: [], flags: FLAG_NO_RECORDED_VALUE } satisfies NumberDataPoint);
        }
        n++;
      }
      if (byKey.size === 0) this.state.delete(name);
    }
    return n;
  }

  private reportAttrs(): string[] {
    const out: string[] = [];
    for (const [k, v] of this.extraTarget) out.push(k, v);
    return out;
  }

  private report(list: Metric[], up: number, duration: number, bodyBytes: number | undefined): void {
    const s = this.stats;
    const values: [string, number][] = [
      ['up', up],
      ['scrape_duration_seconds', duration],
      ['scrape_samples_scraped', s.scraped],
      ['scrape_samples_post_metric_relabeling', s.postRelabel],
      ['scrape_series_added', s.seriesAdded],
    ];
    if (this.o.extraMetrics) {
      values.push(['scrape_sample_limit', this.o.sampleLimit], ['scrape_timeout_seconds', this.o.extraMetrics.timeoutSeconds]);
      if (bodyBytes !== undefined) values.push(['scrape_body_size_bytes', bodyBytes]);
    }
    const flat = this.reportAttrs();
    for (const [n, v] of values) {
      const m = newMetric(n, 'gauge', REPORT_HELP[n] ?? '', '');
      (m.data as { dataPoints: NumberDataPoint[] }).dataPoints.push({ attributes: this.toKvs(flat), startTimeUnixNano: 0n, timeUnixNano: this.scrapeNs, value: v, exemplars: [], flags: 0 });
      list.push(m);
    }
  }

  private build(byRes: Map<string, Metric[]>): ResourceMetrics[] {
    const out: ResourceMetrics[] = [];
    for (const [rk, metrics] of byRes) {
      if (metrics.length === 0) continue;
      const scope: ScopeMetrics = { scope: { name: SCOPE_NAME, version: SCOPE_VERSION, attributes: [], droppedAttributesCount: 0 }, metrics, schemaUrl: '' };
      out.push({ resource: { attributes: this.resourceFor(rk, this.resources.get(rk)), droppedAttributesCount: 0 }, scopeMetrics: [scope], schemaUrl: '' });
    }
    return out;
  }

  private histogramPoint(p: PointBuf, attrs: KeyValue[], time: bigint): HistogramDataPoint | undefined {
    const b = p.buckets;
    if (b === undefined && p.count === undefined) return undefined;
    const pairs: [number, number][] = [];
    if (b) for (let i = 0; i < b.length; i += 2) pairs.push([b[i]!, b[i + 1]!]);
    pairs.sort((x, y) => x[0] - y[0]);
    const bounds: number[] = [];
    const counts: number[] = [];
    let prev = 0;
    let inf: number | undefined;
    for (const [le, c] of pairs) {
      if (le === Infinity) {
        inf = c;
        continue;
      }
      bounds.push(le);
      counts.push(Math.max(0, c - prev));
      prev = c;
    }
    const total = p.count ?? inf ?? prev;
    counts.push(Math.max(0, (inf ?? total) - prev));
    return { attributes: attrs, startTimeUnixNano: 0n, timeUnixNano: time, count: total, sum: p.sum, bucketCounts: counts, explicitBounds: bounds, exemplars: this.exemplarsOf(p), flags: 0, min: undefined, max: undefined };
  }
}

const REPORT_NAMES = ['up', 'scrape_duration_seconds', 'scrape_samples_scraped', 'scrape_samples_post_metric_relabeling', 'scrape_series_added'];
const REPORT_HELP: Record<string, string> = {
  up: 'The scraping was successful',
  scrape_duration_seconds: 'Duration of the scrape',
  scrape_samples_scraped: 'The number of samples the target exposed',
  scrape_samples_post_metric_relabeling: 'The number of samples remaining after metric relabeling was applied',
  scrape_series_added: 'The approximate number of new series in this scrape',
};

function newMetric(name: string, kind: Kind, help: string, unit: string): Metric {
  const base = { name, description: help, unit, metadata: [] };
  switch (kind) {
    case 'counter':
      return { ...base, data: { type: 'sum', dataPoints: [], aggregationTemporality: 2, isMonotonic: true } };
    case 'info':
    case 'stateset':
      return { ...base, data: { type: 'sum', dataPoints: [], aggregationTemporality: 2, isMonotonic: false } };
    case 'histogram':
      return { ...base, data: { type: 'histogram', dataPoints: [], aggregationTemporality: 2 } };
    case 'summary':
      return { ...base, data: { type: 'summary', dataPoints: [] } };
    default:
      return { ...base, data: { type: 'gauge', dataPoints: [] } };
  }
}

function has(flat: string[], k: string): boolean {
  for (let i = 0; i < flat.length; i += 2) if (flat[i] === k) return true;
  return false;
}

function dropEmpty(flat: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < flat.length; i += 2) if (flat[i + 1] !== '') out.push(flat[i]!, flat[i + 1]!);
  return out;
}
