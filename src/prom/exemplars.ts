// OTLP exemplars as Prometheus exemplars: `trace_id` and `span_id` in hex plus
// as many filtered attributes as fit OpenMetrics' limit of 128 code points for
// the label names and values together (Prometheus enforces the same limit on
// exemplars it receives by Remote Write).
import type { Exemplar } from '../pdata/model.js';
import type { LabelNamer } from './naming.js';
import { valueString } from './naming.js';
import type { Labels } from './labels.js';
import { numberOf } from './cumulative.js';

export const EXEMPLAR_MAX_RUNES = 128;

const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push(i.toString(16).padStart(2, '0'));

export function toHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += HEX[b[i]!]!;
  return s;
}

function isZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

function runes(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdbff) n++;
  }
  return n;
}

/** The sorted labels of an exemplar, within the 128-code-point limit. */
export function exemplarLabels(ex: Exemplar, namer: LabelNamer): Labels {
  const pairs: [string, string][] = [];
  let used = 0;
  if (ex.traceId.length > 0 && !isZero(ex.traceId)) {
    const v = toHex(ex.traceId);
    pairs.push(['trace_id', v]);
    used += 8 + v.length;
  }
  if (ex.spanId.length > 0 && !isZero(ex.spanId)) {
    const v = toHex(ex.spanId);
    pairs.push(['span_id', v]);
    used += 7 + v.length;
  }
  for (const kv of ex.filteredAttributes) {
    const name = namer.name(kv.key);
    if (name === '' || name === 'trace_id' || name === 'span_id') continue;
    const v = valueString(kv.value);
    if (v === '') continue;
    const cost = runes(name) + runes(v);
    if (used + cost > EXEMPLAR_MAX_RUNES) continue;
    if (pairs.some((p) => p[0] === name)) continue;
    pairs.push([name, v]);
    used += cost;
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const out: Labels = [];
  for (const [k, v] of pairs) out.push(k, v);
  return out;
}

export function exemplarValue(ex: Exemplar): number {
  return numberOf(ex.value);
}

/**
 * Index of the histogram bucket an observation falls in: the first bound it
 * does not exceed, or bounds.length for the +Inf bucket.
 */
export function bucketIndex(bounds: readonly number[], v: number): number {
  let lo = 0;
  let hi = bounds.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (v <= bounds[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
