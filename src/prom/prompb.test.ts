import { describe, expect, it } from 'vitest';
import { DecodeError } from '../component/errors.js';
import { hashSeries } from './hash.js';
import { PointLabels, WriteRequestWriter, decodeWriteRequest, encodeLabel } from './prompb.js';
import { snappyCompress, snappyUncompress } from './snappy.js';

describe('WriteRequestWriter', () => {
  it('merges __name__ and the extra label into sorted labels', () => {
    const w = new WriteRequestWriter(16);
    w.series('http_bucket', ['A', 'x', 'job', 'api', 'le', 'ignored', 'zone', 'a'], 'le', '0.5', 3, 1000, false);
    w.series('up', [], undefined, '', 1, 2000, false);
    const ts = decodeWriteRequest(w.view());
    expect(ts[0]!.labels.map((l) => `${l.name}=${l.value}`)).toEqual(['A=x', '__name__=http_bucket', 'job=api', 'le=0.5', 'zone=a']);
    expect(ts[0]!.samples).toEqual([{ value: 3, timestamp: 1000, stale: false }]);
    expect(ts[1]!.labels).toEqual([{ name: '__name__', value: 'up' }]);
    expect(w.count).toBe(2);
  });

  it('puts an extra label sorting before __name__ first', () => {
    const w = new WriteRequestWriter();
    w.series('m', ['b', '1'], 'A', 'first', 1, 1, false);
    expect(decodeWriteRequest(w.view())[0]!.labels.map((l) => l.name)).toEqual(['A', '__name__', 'b']);
  });

  it('writes the staleness marker bit pattern, special values, negative timestamps and exemplars', () => {
    const w = new WriteRequestWriter();
    w.series('m', [], undefined, '', NaN, 5, true);
    w.series('m', [], undefined, '', Infinity, -5, false, [{ labels: ['trace_id', 'ab'], value: 0.5, timestampMs: 7 }]);
    const [a, b] = decodeWriteRequest(w.view());
    expect(a!.samples[0]!.stale).toBe(true);
    expect(Number.isNaN(a!.samples[0]!.value)).toBe(true);
    expect(b!.samples[0]).toEqual({ value: Infinity, timestamp: -5, stale: false });
    expect(b!.exemplars).toEqual([{ labels: [{ name: 'trace_id', value: 'ab' }], value: 0.5, timestamp: 7 }]);
  });

  it('encodes long label values and many series (length prefixes that outgrow their reservation)', () => {
    const w = new WriteRequestWriter(8);
    const long = 'x'.repeat(20_000);
    w.series('m', ['k', long], undefined, '', 1, 1, false);
    for (let i = 0; i < 100; i++) w.series('m', ['i', String(i)], undefined, '', i, i, false);
    const ts = decodeWriteRequest(w.view());
    expect(ts).toHaveLength(101);
    expect(ts[0]!.labels[1]!.value).toBe(long);
    expect(ts[100]!.samples[0]!.value).toBe(99);
  });

  it('writes the same bytes from labels prepared once per point', () => {
    const labels = ['A', 'up', 'job', 'api', 'zone', 'z'];
    const a = new WriteRequestWriter();
    const b = new WriteRequestWriter();
    const pl = new PointLabels();
    pl.prepare(labels, 'le');
    for (const le of ['0.5', '+Inf']) {
      a.series('h_bucket', labels, 'le', le, 3, 1000, false, [{ labels: ['trace_id', 'ab'], value: 1, timestampMs: 9 }]);
      b.seriesPrepared(pl, encodeLabel('__name__', 'h_bucket'), encodeLabel('le', le), 3, 1000, false, [{ labels: ['trace_id', 'ab'], value: 1, timestampMs: 9 }]);
    }
    a.series('h_count', labels, undefined, '', 2, 1000, true);
    b.seriesPrepared(pl, encodeLabel('__name__', 'h_count'), undefined, 2, 1000, true);
    expect(Buffer.from(b.view()).equals(Buffer.from(a.view()))).toBe(true);
    expect(decodeWriteRequest(b.view())[0]!.labels.map((l) => l.name)).toEqual(['A', '__name__', 'job', 'le', 'zone']);
  });

  it('rejects malformed input with DecodeError', () => {
    expect(() => decodeWriteRequest(new Uint8Array([0x0a, 0x05, 0x0a]))).toThrow(DecodeError);
  });
});

describe('snappy', () => {
  it('round-trips in block format', () => {
    const input = new TextEncoder().encode('hello hello hello hello remote write');
    const c = snappyCompress(input);
    expect(c[0]).toBe(input.length); // block format starts with the uncompressed length varint
    expect(Buffer.from(snappyUncompress(c)).toString()).toBe('hello hello hello hello remote write');
    expect(Buffer.from(snappyUncompress(snappyCompress(Buffer.from('buf')))).toString()).toBe('buf');
  });

  it('round-trips through an independent decoder (snappyjs) at every size and kind of content', () => {
    let seed = 42;
    const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const kinds: ((i: number) => number)[] = [
      () => Math.floor(rnd() * 256), // incompressible
      (i) => i % 7, // short period
      (i) => (i % 1000 < 500 ? 65 : Math.floor(rnd() * 4)), // long runs and noise
      (i) => 'http_server_requests_total{method="GET"}'.charCodeAt(i % 41), // label-like text
    ];
    for (const n of [0, 1, 4, 14, 15, 16, 17, 100, 4096, 65535, 65536, 65537, 131072, 300_000]) {
      for (const k of kinds) {
        const input = new Uint8Array(n);
        for (let i = 0; i < n; i++) input[i] = k(i);
        const c = snappyCompress(input);
        expect(c.length).toBeLessThanOrEqual(32 + n + Math.floor(n / 6));
        expect(Buffer.from(snappyUncompress(c)).equals(Buffer.from(input)), `size ${n}`).toBe(true);
        // The same bytes as a view into a larger buffer compress the same.
        const outer = new Uint8Array(n + 13).fill(0xee);
        outer.set(input, 7);
        expect(Buffer.from(snappyCompress(outer.subarray(7, 7 + n))).equals(Buffer.from(c)), `view of size ${n}`).toBe(true);
      }
    }
  });

  it('refuses bodies that claim more than the limit', () => {
    const c = snappyCompress(new Uint8Array(1000));
    expect(() => snappyUncompress(c, 100)).toThrow(/too big/);
  });
});

describe('hashSeries', () => {
  it('separates label boundaries and is stable', () => {
    expect(hashSeries('m', ['ab', 'c'])).not.toBe(hashSeries('m', ['a', 'bc']));
    expect(hashSeries('m', ['a', 'b'])).toBe(hashSeries('m', ['a', 'b']));
    expect(Number.isSafeInteger(hashSeries('m', ['a', 'b']))).toBe(true);
  });
});
