// Label sets for Prometheus series built from OTLP resources, scopes and
// data points, with the Collector's precedence rules:
//
//   1. data point attributes, names sanitised; attributes whose names collide
//      after sanitising are joined with ";" in the order of their original keys;
//   2. resource attributes, when resource_to_telemetry_conversion is on, for
//      names the point does not set;
//   3. `job` (service.namespace/service.name) and `instance`
//      (service.instance.id) from the resource, overriding 1 and 2;
//   4. scope labels (`otel_scope_name`, `otel_scope_version`) when asked for;
//   5. constant / external labels, for names nothing above set.
//
// Labels with an empty value are dropped (an empty value means "no label" in
// Prometheus, and Remote Write forbids them). A label set is a flat array
// [name0, value0, name1, value1, ...] sorted by name with unique names.
import type { InstrumentationScope, KeyValue, Resource } from '../pdata/model.js';
import { LabelNamer, normalizeLabel, valueString } from './naming.js';

export type Labels = string[];

/** Resource attributes that identify the target rather than describe it. */
export const SERVICE_NAME = 'service.name';
export const SERVICE_NAMESPACE = 'service.namespace';
export const SERVICE_INSTANCE_ID = 'service.instance.id';

export interface LabelOptions {
  resourceToTelemetry: boolean;
  /** Add otel_scope_name / otel_scope_version. */
  scopeLabels: boolean;
  /** Lowest-precedence labels (const_labels / external_labels); names are sanitised here. */
  extraLabels: Record<string, string>;
}

/** What a resource contributes to each of its series. */
export interface ResourceLabels {
  job: string;
  instance: string;
  /** Labels that win over point attributes (job, instance), sorted. */
  override: Labels;
  /** Labels that lose to point attributes (resource attributes, extra labels), sorted. */
  fallback: Labels;
  /**
   * Labels of the resource's `target_info` series (job, instance and every
   * non-identifying resource attribute), or undefined when the resource has no
   * such attribute.
   */
  targetInfo: Labels | undefined;
}

const tmpNames: string[] = [];
const tmpValues: string[] = [];
const tmpKeys: string[] = [];
const tmpOrder: number[] = [];

/**
 * Sanitises attribute names and sorts them into a flat label array; colliding
 * names are joined with ";" in the order of their original keys; empty values
 * are dropped.
 */
export function attributesToLabels(attrs: readonly KeyValue[], namer: LabelNamer, skip?: (key: string) => boolean): Labels {
  const out: Labels = [];
  const n = attrs.length;
  if (n === 0) return out;
  tmpNames.length = 0;
  tmpValues.length = 0;
  tmpKeys.length = 0;
  tmpOrder.length = 0;
  for (let i = 0; i < n; i++) {
    const kv = attrs[i]!;
    if (skip !== undefined && skip(kv.key)) continue;
    const name = namer.name(kv.key);
    if (name === '') continue;
    const v = kv.value.type === 'string' ? kv.value.value : valueString(kv.value);
    if (v === '') continue;
    tmpOrder.push(tmpNames.length);
    tmpNames.push(name);
    tmpValues.push(v);
    tmpKeys.push(kv.key);
  }
  const m = tmpOrder.length;
  // Insertion sort: attribute lists are short, and often already sorted.
  for (let i = 1; i < m; i++) {
    const x = tmpOrder[i]!;
    const xn = tmpNames[x]!;
    const xk = tmpKeys[x]!;
    let j = i - 1;
    while (j >= 0) {
      const y = tmpOrder[j]!;
      const yn = tmpNames[y]!;
      if (yn < xn || (yn === xn && tmpKeys[y]! <= xk)) break;
      tmpOrder[j + 1] = y;
      j--;
    }
    tmpOrder[j + 1] = x;
  }
  for (let i = 0; i < m; i++) {
    const k = tmpOrder[i]!;
    const name = tmpNames[k]!;
    if (out.length > 0 && out[out.length - 2] === name) out[out.length - 1] += ';' + tmpValues[k]!;
    else out.push(name, tmpValues[k]!);
  }
  return out;
}

/** Sorted, unique, non-empty labels from a plain map (sanitising names). */
export function mapToLabels(m: Record<string, string>): Labels {
  const entries: [string, string][] = [];
  for (const [k, v] of Object.entries(m)) {
    const name = normalizeLabel(k);
    if (name === '' || v === '') continue;
    entries.push([name, v]);
  }
  entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const out: Labels = [];
  for (const [k, v] of entries) {
    if (out.length > 0 && out[out.length - 2] === k) continue;
    out.push(k, v);
  }
  return out;
}

/**
 * Merges three sorted label arrays: `hi` wins over `mid`, which wins over `lo`.
 */
export function mergeLabels(lo: Labels, mid: Labels, hi: Labels): Labels {
  if (lo.length === 0 && hi.length === 0) return mid;
  const out: Labels = [];
  let a = 0;
  let b = 0;
  let c = 0;
  const la = lo.length;
  const lb = mid.length;
  const lc = hi.length;
  while (a < la || b < lb || c < lc) {
    const na = a < la ? lo[a]! : undefined;
    const nb = b < lb ? mid[b]! : undefined;
    const nc = c < lc ? hi[c]! : undefined;
    let min = na;
    if (nb !== undefined && (min === undefined || nb < min)) min = nb;
    if (nc !== undefined && (min === undefined || nc < min)) min = nc;
    let v: string;
    if (nc === min) v = hi[c + 1]!;
    else if (nb === min) v = mid[b + 1]!;
    else v = lo[a + 1]!;
    if (na === min) a += 2;
    if (nb === min) b += 2;
    if (nc === min) c += 2;
    out.push(min!, v);
  }
  return out;
}

/** Inserts or replaces one label in a sorted label array, returning a new array. */
export function withLabel(labels: Labels, name: string, value: string): Labels {
  const out: Labels = [];
  let placed = false;
  for (let i = 0; i < labels.length; i += 2) {
    const n = labels[i]!;
    if (!placed && n >= name) {
      out.push(name, value);
      placed = true;
      if (n === name) continue;
    }
    out.push(n, labels[i + 1]!);
  }
  if (!placed) out.push(name, value);
  return out;
}

/** A stable identity string for a series. */
export function seriesKey(name: string, labels: Labels): string {
  let k = name;
  for (let i = 0; i < labels.length; i++) k += '\xff' + labels[i]!;
  return k;
}

function attr(attrs: readonly KeyValue[], key: string): string {
  for (let i = 0; i < attrs.length; i++) {
    const kv = attrs[i]!;
    if (kv.key === key) return valueString(kv.value);
  }
  return '';
}

function isIdentifying(key: string): boolean {
  return key === SERVICE_NAME || key === SERVICE_NAMESPACE || key === SERVICE_INSTANCE_ID;
}

/** Builds and caches the label contributions of resources and scopes. */
export class LabelBuilder {
  readonly namer: LabelNamer;
  private readonly extra: Labels;

  constructor(private opts: LabelOptions, namer = new LabelNamer()) {
    this.namer = namer;
    this.extra = mapToLabels(opts.extraLabels);
  }

  resource(res: Resource): ResourceLabels {
    const attrs = res.attributes;
    const name = attr(attrs, SERVICE_NAME);
    const ns = attr(attrs, SERVICE_NAMESPACE);
    const job = name === '' ? '' : ns === '' ? name : `${ns}/${name}`;
    const instance = attr(attrs, SERVICE_INSTANCE_ID);
    const override: Labels = [];
    if (instance !== '') override.push('instance', instance);
    if (job !== '') override.push('job', job);
    const fallback = this.opts.resourceToTelemetry
      ? mergeLabels(this.extra, attributesToLabels(attrs, this.namer), [])
      : this.extra;
    let targetInfo: Labels | undefined;
    let describing = false;
    for (const kv of attrs) if (!isIdentifying(kv.key)) describing = true;
    if (describing) {
      const described = attributesToLabels(attrs, this.namer, isIdentifying);
      if (described.length > 0) targetInfo = mergeLabels(this.extra, described, override);
    }
    return { job, instance, override, fallback, targetInfo };
  }

  /** The override labels for one scope of a resource. */
  scopeOverride(r: ResourceLabels, scope: InstrumentationScope): Labels {
    if (!this.opts.scopeLabels) return r.override;
    const s: Labels = [];
    if (scope.name !== '') s.push('otel_scope_name', scope.name);
    if (scope.version !== '') s.push('otel_scope_version', scope.version);
    return s.length === 0 ? r.override : mergeLabels([], r.override, s);
  }

  /** The full label set of a data point (a new array). */
  point(attrs: readonly KeyValue[], r: ResourceLabels, override: Labels): Labels {
    return mergeLabels(r.fallback, attributesToLabels(attrs, this.namer), override);
  }
}
