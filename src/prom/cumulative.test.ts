import { describe, expect, it } from 'vitest';
import { addHistogramPoint, addNumberPoint, nanosToMillis, newHistogramTotal, newNumberTotal } from './cumulative.js';
import { histPoint, ns, numberPoint } from './testdata/metrics.js';

describe('delta sums → cumulative', () => {
  it('adds contiguous and gapped deltas, drops overlapping and old ones', () => {
    const t = newNumberTotal(numberPoint({ value: 2, start: 1, time: 10 }));
    expect(addNumberPoint(t, numberPoint({ value: 3, start: 10, time: 20 }), true)).toBe(true);
    expect(addNumberPoint(t, numberPoint({ value: 1, start: 30, time: 40 }), true)).toBe(true);
    expect(t.value).toBe(6);
    expect(addNumberPoint(t, numberPoint({ value: 100, start: 35, time: 50 }), true)).toBe(false); // overlaps
    expect(addNumberPoint(t, numberPoint({ value: 100, start: 40, time: 40 }), true)).toBe(false); // not after
    expect(addNumberPoint(t, numberPoint({ value: 5n, start: 40, time: 45 }), true)).toBe(true);
    expect(t.value).toBe(11);
    expect(t.startNs).toBe(ns(1));
  });

  it('replaces cumulative values unless older', () => {
    const t = newNumberTotal(numberPoint({ value: 5, time: 10 }));
    expect(addNumberPoint(t, numberPoint({ value: 7, time: 20 }), false)).toBe(true);
    expect(addNumberPoint(t, numberPoint({ value: 1, time: 15 }), false)).toBe(false);
    expect(t.value).toBe(7);
  });
});

describe('delta histograms → cumulative', () => {
  it('adds bucket-wise and restarts when the bounds change', () => {
    const t = newHistogramTotal(histPoint({ bounds: [1, 2], counts: [1, 0, 1], sum: 4, start: 0, time: 10 }));
    expect(addHistogramPoint(t, histPoint({ bounds: [1, 2], counts: [0, 2, 0], sum: 3, start: 10, time: 20 }), true)).toBe(true);
    expect(t.counts).toEqual([1, 2, 1]);
    expect(t.count).toBe(4);
    expect(t.sum).toBe(7);
    expect(addHistogramPoint(t, histPoint({ bounds: [5], counts: [1, 1], sum: 9, start: 20, time: 30 }), true)).toBe(true);
    expect(t.bounds).toEqual([5]);
    expect(t.counts).toEqual([1, 1]);
    expect(t.startNs).toBe(ns(20));
  });
});

describe('nanosToMillis', () => {
  it('floors to milliseconds', () => {
    expect(nanosToMillis(1_700_000_000_123_000_000n)).toBe(1_700_000_000_123);
    expect(nanosToMillis(0n)).toBe(0);
  });
});
