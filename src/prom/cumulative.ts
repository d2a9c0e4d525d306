// Delta → cumulative conversion for one series, and the shared rules for
// accepting points in time order.
//
// Prometheus only has cumulative counters and histograms. A delta point is
// added to the running total of its series when it starts at or after the end
// of the previous one (contiguous or with a gap); a delta that overlaps what
// has already been added, or ends no later than it, is a duplicate or out of
// order and is dropped. A cumulative point replaces the previous value unless
// it is older. A delta histogram whose bucket bounds differ from the running
// total's restarts the total at that point.
import type { HistogramDataPoint, NumberDataPoint } from '../pdata/model.js';

/** OTLP DataPointFlags.NO_RECORDED_VALUE: the series has no value (is stale) at this time. */
export const FLAG_NO_RECORDED_VALUE = 1;

export function numberOf(v: number | bigint): number {
  return typeof v === 'number' ? v : Number(v);
}

/**
 * Milliseconds since the epoch of a nanosecond timestamp. Converting through a
 * double loses up to 256 ns at today's epoch, which can round a timestamp
 * lying within 256 ns of a millisecond boundary up to it; bigint division is
 * exact but costs about 5x more per point.
 */
export function nanosToMillis(ns: bigint): number {
  return Math.floor(Number(ns) / 1e6);
}

export interface NumberTotal {
  startNs: bigint;
  timeNs: bigint;
  value: number;
}

/**
 * Applies a sum point to a running total; returns false (total unchanged)
 * when the point must be dropped.
 */
export function addNumberPoint(total: NumberTotal, pt: NumberDataPoint, delta: boolean): boolean {
  if (!delta) {
    if (pt.timeUnixNano < total.timeNs) return false;
    total.startNs = pt.startTimeUnixNano;
    total.timeNs = pt.timeUnixNano;
    total.value = numberOf(pt.value);
    return true;
  }
  if (pt.timeUnixNano <= total.timeNs) return false;
  if (pt.startTimeUnixNano !== 0n && pt.startTimeUnixNano < total.timeNs) return false;
  total.timeNs = pt.timeUnixNano;
  total.value += numberOf(pt.value);
  return true;
}

export function newNumberTotal(pt: NumberDataPoint): NumberTotal {
  return {
    startNs: pt.startTimeUnixNano === 0n ? pt.timeUnixNano : pt.startTimeUnixNano,
    timeNs: pt.timeUnixNano,
    value: numberOf(pt.value),
  };
}

export interface HistogramTotal {
  startNs: bigint;
  timeNs: bigint;
  bounds: number[];
  /** Per-bucket counts (not cumulative), bounds.length + 1 of them. */
  counts: number[];
  count: number;
  sum: number | undefined;
}

export function sameBounds(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function newHistogramTotal(pt: HistogramDataPoint): HistogramTotal {
  const counts = new Array<number>(pt.explicitBounds.length + 1);
  for (let i = 0; i < counts.length; i++) counts[i] = pt.bucketCounts[i] ?? 0;
  return {
    startNs: pt.startTimeUnixNano === 0n ? pt.timeUnixNano : pt.startTimeUnixNano,
    timeNs: pt.timeUnixNano,
    bounds: pt.explicitBounds.slice(),
    counts,
    count: pt.count,
    sum: pt.sum,
  };
}

/** Applies a histogram point to a running total; false when the point is dropped. */
export function addHistogramPoint(total: HistogramTotal, pt: HistogramDataPoint, delta: boolean): boolean {
  if (!delta) {
    if (pt.timeUnixNano < total.timeNs) return false;
    const fresh = newHistogramTotal(pt);
    Object.assign(total, fresh);
    return true;
  }
  if (pt.timeUnixNano <= total.timeNs) return false;
  if (pt.startTimeUnixNano !== 0n && pt.startTimeUnixNano < total.timeNs) return false;
  if (!sameBounds(total.bounds, pt.explicitBounds)) {
    Object.assign(total, newHistogramTotal(pt));
    return true;
  }
  for (let i = 0; i < total.counts.length; i++) total.counts[i]! += pt.bucketCounts[i] ?? 0;
  total.count += pt.count;
  total.sum = total.sum === undefined || pt.sum === undefined ? undefined : total.sum + pt.sum;
  total.timeNs = pt.timeUnixNano;
  return true;
}
