// OTLP → Prometheus names, following the Collector's Prometheus translator
// (pkg/translator/prometheus) and the OpenTelemetry "Prometheus and
// OpenMetrics compatibility" specification:
//
// - metric names keep [a-zA-Z0-9:]; every other run of characters becomes one
//   "_" (so "http.server.duration" → "http_server_duration");
// - with suffixes on, the UCUM unit is appended as a word ("s" → "seconds",
//   "By/s" → "bytes_per_second", "{requests}" → nothing), unless the name already
//   holds that word; monotonic sums end in "_total"; gauges with unit "1" end in
//   "_ratio";
// - a namespace is prepended with "_"; a name that would start with a digit
//   gets a leading "_";
// - label names keep [a-zA-Z0-9_]; other characters become "_"; a name starting
//   with a digit gets "key_", one starting with a single "_" gets "key".
import type { AnyValue, Metric } from '../pdata/model.js';

const UNIT_WORDS: Record<string, string> = {
  // time
  d: 'days',
  h: 'hours',
  min: 'minutes',
  s: 'seconds',
  ms: 'milliseconds',
  us: 'microseconds',
  ns: 'nanoseconds',
  // bytes
  By: 'bytes',
  KiBy: 'kibibytes',
  MiBy: 'mebibytes',
  GiBy: 'gibibytes',
  TiBy: 'tibibytes',
  KBy: 'kilobytes',
  MBy: 'megabytes',
  GBy: 'gigabytes',
  TBy: 'terabytes',
  // SI
  m: 'meters',
  V: 'volts',
  A: 'amperes',
  J: 'joules',
  W: 'watts',
  g: 'grams',
  // misc
  Cel: 'celsius',
  Hz: 'hertz',
  '1': '',
  '%': 'percent',
};

const PER_UNIT_WORDS: Record<string, string> = {
  s: 'second',
  m: 'minute',
  h: 'hour',
  d: 'day',
  w: 'week',
  mo: 'month',
  y: 'year',
};

/** The kind of Prometheus family an OTLP metric maps to. */
export type PromType = 'counter' | 'gauge' | 'histogram' | 'summary';

function isMetricNameChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 58; // a-z A-Z 0-9 :
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Splits `s` into runs of characters for which `keep` holds. */
function tokens(s: string, keep: (c: number) => boolean): string[] {
  const out: string[] = [];
  let start = -1;
  for (let i = 0; i < s.length; i++) {
    if (keep(s.charCodeAt(i))) {
      if (start < 0) start = i;
    } else if (start >= 0) {
      out.push(s.slice(start, i));
      start = -1;
    }
  }
  if (start >= 0) out.push(s.slice(start));
  return out;
}

/** Replaces characters outside [a-zA-Z0-9:] by "_", collapses "_" runs, drops a leading "_". */
function cleanUnit(unit: string): string {
  let out = '';
  let lastUnderscore = false;
  for (let i = 0; i < unit.length; i++) {
    const c = unit.charCodeAt(i);
    if (isMetricNameChar(c)) {
      out += unit[i];
      lastUnderscore = false;
    } else if (!lastUnderscore) {
      out += '_';
      lastUnderscore = true;
    }
  }
  return out.startsWith('_') ? out.slice(1) : out;
}

/** The main and "per" unit words for a UCUM unit ("By/s" → ["bytes", "per_second"]). */
export function unitWords(unit: string): { main: string; per: string } {
  const slash = unit.indexOf('/');
  const mainPart = (slash < 0 ? unit : unit.slice(0, slash)).trim();
  let main = '';
  let per = '';
  if (mainPart !== '' && !/[{}]/.test(mainPart)) main = UNIT_WORDS[mainPart] ?? mainPart;
  if (slash >= 0) {
    const perPart = unit.slice(slash + 1).trim();
    if (perPart !== '' && !/[{}]/.test(perPart)) {
      const w = PER_UNIT_WORDS[perPart] ?? perPart;
      if (w !== '') per = 'per_' + w;
    }
  }
  return { main, per };
}

/** The Prometheus unit word for `# UNIT` (OpenMetrics): "seconds", "bytes_per_second", or "". */
export function promUnit(unit: string): string {
  const { main, per } = unitWords(unit);
  let m = cleanUnit(main);
  let p = cleanUnit(per);
  if (p === 'per_') p = '';
  else if (p.endsWith('_')) p = p.slice(0, -1);
  if (p !== '' && m.endsWith('_')) m = m.slice(0, -1);
  return m && p ? `${m}_${p}` : m || p;
}

export interface NameOptions {
  namespace: string;
  addMetricSuffixes: boolean;
}

export function promTypeOf(metric: Metric): PromType | undefined {
  switch (metric.data.type) {
    case 'gauge':
      return 'gauge';
    case 'sum':
      return metric.data.isMonotonic ? 'counter' : 'gauge';
    case 'histogram':
      return 'histogram';
    case 'summary':
      return 'summary';
    default:
      return undefined;
  }
}

/**
 * The Prometheus metric name of an OTLP metric. `kind` is the OTLP type
 * ('gauge', 'sum', ...); `monotonic` matters for sums only.
 */
export function buildMetricName(name: string, unit: string, kind: string, monotonic: boolean, opts: NameOptions): string {
  if (!opts.addMetricSuffixes) {
    const n = tokens(name, (c) => isMetricNameChar(c) || c === 95).join('_');
    if (opts.namespace !== '') return `${opts.namespace}_${n}`;
    return n !== '' && isDigit(n.charCodeAt(0)) ? `_${n}` : n;
  }
  let toks = tokens(name, isMetricNameChar);
  const { main, per } = unitWords(unit);
  let m = cleanUnit(main);
  let p = cleanUnit(per);
  if (toks.includes(m)) m = '';
  if (p === 'per_') p = '';
  else {
    if (p.endsWith('_')) p = p.slice(0, -1);
    if (toks.includes(p)) p = '';
  }
  if (p !== '' && m.endsWith('_')) m = m.slice(0, -1);
  if (m !== '') toks.push(m);
  if (p !== '') toks.push(p);
  if (kind === 'sum' && monotonic) {
    toks = toks.filter((t) => t !== 'total');
    toks.push('total');
  }
  if (unit === '1' && kind === 'gauge') {
    toks = toks.filter((t) => t !== 'ratio');
    toks.push('ratio');
  }
  if (opts.namespace !== '') toks.unshift(opts.namespace);
  const n = toks.join('_');
  return n !== '' && isDigit(n.charCodeAt(0)) ? `_${n}` : n;
}

/** Caches metric names: a pipeline sees few distinct (name, unit, type) triples. */
export class MetricNamer {
  private cache = new Map<string, string>();
  constructor(private opts: NameOptions, private max = 10_000) {}

  name(metric: Metric): string {
    const d = metric.data;
    const mono = d.type === 'sum' && d.isMonotonic;
    const key = `${d.type}\u0000${mono ? 1 : 0}\u0000${metric.unit}\u0000${metric.name}`;
    let n = this.cache.get(key);
    if (n === undefined) {
      n = buildMetricName(metric.name, metric.unit, d.type, mono, this.opts);
      if (this.cache.size >= this.max) this.cache.clear();
      this.cache.set(key, n);
    }
    return n;
  }
}

/** A valid Prometheus metric name. */
export const METRIC_NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
/** A valid Prometheus label name. */
export const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A Prometheus-compliant label name for an attribute key; "" stays "" (and is then dropped). */
export function normalizeLabel(key: string): string {
  if (key === '') return key;
  let out = key;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (!((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || isDigit(c) || c === 95)) {
      out = sanitizeSlow(key);
      break;
    }
  }
  if (isDigit(out.charCodeAt(0))) return 'key_' + out;
  if (out.charCodeAt(0) === 95 && out.charCodeAt(1) !== 95) return 'key' + out;
  return out;
}

function sanitizeSlow(key: string): string {
  let out = '';
  for (const ch of key) {
    const c = ch.charCodeAt(0);
    out += (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || isDigit(c) || c === 95 ? ch : '_';
  }
  return out;
}

/** Caches label-name normalisation: attribute keys repeat across points. */
export class LabelNamer {
  private cache = new Map<string, string>();
  constructor(private max = 10_000) {}
  name(key: string): string {
    let n = this.cache.get(key);
    if (n === undefined) {
      n = normalizeLabel(key);
      if (this.cache.size >= this.max) this.cache.clear();
      this.cache.set(key, n);
    }
    return n;
  }
}

/** An attribute value as a label value (the Collector's `Value.AsString`). */
export function valueString(v: AnyValue): string {
  switch (v.type) {
    case 'string':
      return v.value;
    case 'int':
      return v.value.toString();
    case 'double':
      return formatDouble(v.value);
    case 'bool':
      return v.value ? 'true' : 'false';
    case 'bytes':
      return Buffer.from(v.value.buffer, v.value.byteOffset, v.value.byteLength).toString('base64');
    case 'array':
    case 'kvlist':
      return JSON.stringify(toJsonish(v));
    default:
      return '';
  }
}

function toJsonish(v: AnyValue): unknown {
  switch (v.type) {
    case 'string':
    case 'bool':
      return v.value;
    case 'int':
      return Number(v.value);
    case 'double':
      return Number.isFinite(v.value) ? v.value : String(v.value);
    case 'bytes':
      return Buffer.from(v.value).toString('base64');
    case 'array':
      return v.value.map(toJsonish);
    case 'kvlist': {
      const o: Record<string, unknown> = {};
      for (const kv of v.value) o[kv.key] = toJsonish(kv.value);
      return o;
    }
    default:
      return null;
  }
}

/** A double in plain decimal where JS would use exponent notation for large magnitudes ('f', -1). */
function formatDouble(n: number): string {
  if (!Number.isFinite(n)) return Number.isNaN(n) ? 'NaN' : n > 0 ? '+Inf' : '-Inf';
  return String(n);
}

/** A sample value as Prometheus text: NaN, +Inf, -Inf or the shortest decimal. */
export function formatValue(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (Number.isNaN(v)) return 'NaN';
  return String(v);
}

/** A float in OpenMetrics canonical form (integers carry ".0"), used for `le` and `quantile` there. */
export function formatCanonical(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (Number.isNaN(v)) return 'NaN';
  const s = String(v);
  return Number.isInteger(v) && !s.includes('e') ? s + '.0' : s;
}
