// The Remote Write 1.0 WriteRequest (prometheus/prompb remote.proto and
// types.proto), encoded by hand:
//
//   WriteRequest { repeated TimeSeries timeseries = 1; }
//   TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; repeated Exemplar exemplars = 3; }
//   Label        { string name = 1; string value = 2; }
//   Sample       { double value = 1; int64 timestamp = 2; }      // ms since the epoch
//   Exemplar     { repeated Label labels = 1; double value = 2; int64 timestamp = 3; }
//
// The writer emits one TimeSeries per call with its labels sorted and unique:
// the series' own labels (already sorted) are merged with `__name__` and an
// optional extra label (`le`, `quantile`) that wins over a series label of the
// same name.
import { ProtoReader, ProtoWriter, WT_I64, WT_LEN, WT_VARINT, fieldMask } from '../pdata/proto/index.js';
import type { Labels } from './labels.js';

/** The staleness marker: a NaN with this exact bit pattern. */
export const STALE_NAN_BITS = 0x7ff0000000000002n;

export interface Exemplar {
  /** Sorted flat label array. */
  labels: Labels;
  value: number;
  timestampMs: number;
}

const TAG_TS = (1 << 3) | WT_LEN; // WriteRequest.timeseries
const TAG_LABEL = (1 << 3) | WT_LEN; // TimeSeries.labels / Exemplar.labels
const TAG_SAMPLE = (2 << 3) | WT_LEN;
const TAG_EXEMPLAR = (3 << 3) | WT_LEN;
const TAG_NAME = (1 << 3) | WT_LEN;
const TAG_VALUE = (2 << 3) | WT_LEN;
const TAG_SAMPLE_VALUE = (1 << 3) | WT_I64;
const TAG_SAMPLE_TS = (2 << 3) | WT_VARINT;
const TAG_EXEMPLAR_VALUE = (2 << 3) | WT_I64;
const TAG_EXEMPLAR_TS = (3 << 3) | WT_VARINT;

/**
 * The labels of one data point encoded once for the several series it makes
 * (histogram buckets, summary quantiles, _sum, _count): the encoded Label
 * messages in three segments, around the places of `__name__` and of the
 * extra label ("le" or "quantile", which sort after "__name__"). Copying the
 * segments instead of encoding the labels again per series: 1000 histogram
 * points with 7 labels and 11 bounds (14 series each) took 3.8 ms against
 * 7.0 ms (CPU time, min of 15 runs).
 */
export class PointLabels {
  readonly w = new ProtoWriter(1024);
  /** End offsets of the segments before __name__, and before the extra label. */
  cut1 = 0;
  cut2 = 0;

  /** Encodes `labels` (sorted, unique) for series with `__name__` and optionally `extraName`. */
  prepare(labels: Labels, extraName: string): void {
    const w = this.w;
    w.reset();
    let phase = 0;
    for (let i = 0; i < labels.length; i += 2) {
      const n = labels[i]!;
      if (n === '__name__' || n === extraName) continue;
      if (phase === 0 && n > '__name__') {
        this.cut1 = w.pos;
        phase = 1;
      }
      if (phase === 1 && n > extraName) {
        this.cut2 = w.pos;
        phase = 2;
      }
      w.uint32(TAG_LABEL);
      const start = w.fork(1);
      w.uint32(TAG_NAME);
      w.string(n);
      w.uint32(TAG_VALUE);
      w.string(labels[i + 1]!);
      w.join(start, 1);
    }
    if (phase === 0) this.cut1 = w.pos;
    if (phase <= 1) this.cut2 = w.pos;
  }
}

const labelWriter = new ProtoWriter(256);

/** One encoded Label field of a TimeSeries (tag, length, name, value), for reuse across series. */
export function encodeLabel(name: string, value: string): Uint8Array {
  const w = labelWriter;
  w.reset();
  w.uint32(TAG_LABEL);
  const start = w.fork(1);
  w.uint32(TAG_NAME);
  w.string(name);
  w.uint32(TAG_VALUE);
  w.string(value);
  w.join(start, 1);
  return w.finish();
}

function copyInto(w: ProtoWriter, src: Uint8Array, from: number, to: number): void {
  const n = to - from;
  if (n === 0) return;
  w.ensure(n);
  const buf = w.buf;
  let p = w.pos;
  // Measured (CPU time, min of 15): 16 B loop 21 ns vs subarray()+set() 63 ns;
  // 32 B 82 vs 64 ns; 64 B 178 vs 60 ns.
  if (n < 24) for (let i = from; i < to; i++) buf[p++] = src[i]!;
  else {
    buf.set(src.subarray(from, to), p);
    p += n;
  }
  w.pos = p;
}

export class WriteRequestWriter {
  readonly w: ProtoWriter;
  /** Number of TimeSeries written since the last reset. */
  count = 0;

  constructor(initialSize = 64 * 1024) {
    this.w = new ProtoWriter(initialSize);
  }

  get size(): number {
    return this.w.pos;
  }

  reset(): void {
    this.w.reset();
    this.count = 0;
  }

  /** The encoded WriteRequest (a view valid until the next write or reset). */
  view(): Uint8Array {
    return this.w.buf.subarray(0, this.w.pos);
  }

  private label(tag: number, name: string, value: string): void {
    const w = this.w;
    w.uint32(tag);
    const start = w.fork(1);
    w.uint32(TAG_NAME);
    w.string(name);
    w.uint32(TAG_VALUE);
    w.string(value);
    w.join(start, 1);
  }

  private timestamp(ms: number): void {
    if (ms >= 0) this.w.uint64Number(ms);
    else this.w.int64(BigInt(ms));
  }

  /**
   * One TimeSeries with one sample. `labels` is sorted and unique and has no
   * `__name__`; `extraName` (e.g. "le") replaces a label of that name.
   */
  series(name: string, labels: Labels, extraName: string | undefined, extraValue: string, value: number, timestampMs: number, stale: boolean, exemplars?: readonly Exemplar[]): void {
    const w = this.w;
    w.uint32(TAG_TS);
    const start = w.fork(2);
    // Merge "__name__" and the extra label into the sorted labels.
    let s1 = '__name__';
    let v1 = name;
    let s2 = extraName;
    let v2 = extraValue;
    if (s2 !== undefined && s2 < s1) {
      s1 = s2;
      v1 = extraValue;
      s2 = '__name__';
      v2 = name;
    }
    const specials = s2 === undefined ? 1 : 2;
    let k = 0;
    const n = labels.length;
    for (let i = 0; i < n; i += 2) {
      const ln = labels[i]!;
      if (ln === '__name__' || ln === extraName) continue;
      while (k < specials) {
        const sn = k === 0 ? s1 : s2!;
        if (sn >= ln) break;
        this.label(TAG_LABEL, sn, k === 0 ? v1 : v2);
        k++;
      }
      this.label(TAG_LABEL, ln, labels[i + 1]!);
    }
    for (; k < specials; k++) this.label(TAG_LABEL, k === 0 ? s1 : s2!, k === 0 ? v1 : v2);
    this.sampleAndExemplars(value, timestampMs, stale, exemplars);
    w.join(start, 2);
    this.count++;
  }

  /**
   * One TimeSeries from labels prepared once per point, with the `__name__`
   * label and the extra label ("le", "quantile") given already encoded
   * (see encodeLabel); `extra` undefined leaves it out (`_sum`, `_count`).
   */
  seriesPrepared(pl: PointLabels, nameLabel: Uint8Array, extra: Uint8Array | undefined, value: number, timestampMs: number, stale: boolean, exemplars?: readonly Exemplar[]): void {
    const w = this.w;
    const src = pl.w.buf;
    w.uint32(TAG_TS);
    const start = w.fork(2);
    copyInto(w, src, 0, pl.cut1);
    copyInto(w, nameLabel, 0, nameLabel.length);
    copyInto(w, src, pl.cut1, pl.cut2);
    if (extra !== undefined) copyInto(w, extra, 0, extra.length);
    copyInto(w, src, pl.cut2, pl.w.pos);
    this.sampleAndExemplars(value, timestampMs, stale, exemplars);
    w.join(start, 2);
    this.count++;
  }

  /** The Sample and Exemplar fields of a TimeSeries. */
  sampleAndExemplars(value: number, timestampMs: number, stale: boolean, exemplars: readonly Exemplar[] | undefined): void {
    const w = this.w;
    w.uint32(TAG_SAMPLE);
    const ss = w.fork(1);
    w.uint32(TAG_SAMPLE_VALUE);
    if (stale) w.fixed64(STALE_NAN_BITS);
    else w.double(value);
    w.uint32(TAG_SAMPLE_TS);
    this.timestamp(timestampMs);
    w.join(ss, 1);
    if (exemplars !== undefined) {
      for (const ex of exemplars) {
        w.uint32(TAG_EXEMPLAR);
        const es = w.fork(1);
        for (let i = 0; i < ex.labels.length; i += 2) this.label(TAG_LABEL, ex.labels[i]!, ex.labels[i + 1]!);
        w.uint32(TAG_EXEMPLAR_VALUE);
        w.double(ex.value);
        w.uint32(TAG_EXEMPLAR_TS);
        this.timestamp(ex.timestampMs);
        w.join(es, 1);
      }
    }
  }
}

// ------------------------------------------------------------------ decoding
// Used by tests, benchmarks and anything that receives Remote Write.

export interface DecodedLabel {
  name: string;
  value: string;
}
export interface DecodedSample {
  value: number;
  timestamp: number;
  /** True when the value carries the staleness marker's bit pattern. */
  stale: boolean;
}
export interface DecodedExemplar {
  labels: DecodedLabel[];
  value: number;
  timestamp: number;
}
export interface DecodedSeries {
  labels: DecodedLabel[];
  samples: DecodedSample[];
  exemplars: DecodedExemplar[];
}

const WR_FIELDS = fieldMask(1, 3);
const TS_FIELDS = fieldMask(1, 2, 3, 4);
const LABEL_FIELDS = fieldMask(1, 2);
const SAMPLE_FIELDS = fieldMask(1, 2);
const EXEMPLAR_FIELDS = fieldMask(1, 2, 3);

function decodeLabel(r: ProtoReader, end: number): DecodedLabel {
  const l: DecodedLabel = { name: '', value: '' };
  while (r.pos < end) {
    const t = r.tag();
    if (t === TAG_NAME) l.name = r.string(end);
    else if (t === TAG_VALUE) l.value = r.string(end);
    else r.unknown(t, end, LABEL_FIELDS);
  }
  r.endMessage(end);
  return l;
}

function decodeSample(r: ProtoReader, end: number): DecodedSample {
  const s: DecodedSample = { value: 0, timestamp: 0, stale: false };
  while (r.pos < end) {
    const t = r.tag();
    if (t === TAG_SAMPLE_VALUE) {
      s.value = r.double();
      s.stale = r.view.getBigUint64(r.pos - 8, true) === STALE_NAN_BITS;
    } else if (t === TAG_SAMPLE_TS) s.timestamp = Number(r.int64());
    else r.unknown(t, end, SAMPLE_FIELDS);
  }
  r.endMessage(end);
  return s;
}

function decodeExemplar(r: ProtoReader, end: number): DecodedExemplar {
  const e: DecodedExemplar = { labels: [], value: 0, timestamp: 0 };
  while (r.pos < end) {
    const t = r.tag();
    if (t === TAG_LABEL) {
      const n = r.len32(end);
      e.labels.push(decodeLabel(r, r.pos + n));
    } else if (t === TAG_EXEMPLAR_VALUE) e.value = r.double();
    else if (t === TAG_EXEMPLAR_TS) e.timestamp = Number(r.int64());
    else r.unknown(t, end, EXEMPLAR_FIELDS);
  }
  r.endMessage(end);
  return e;
}

/** Decodes an uncompressed WriteRequest. Throws DecodeError on malformed input. */
export function decodeWriteRequest(buf: Uint8Array): DecodedSeries[] {
  const r = new ProtoReader(buf);
  const end = buf.length;
  const out: DecodedSeries[] = [];
  while (r.pos < end) {
    const t = r.tag();
    if (t !== TAG_TS) {
      r.unknown(t, end, WR_FIELDS);
      continue;
    }
    const len = r.len32(end);
    const stop = r.pos + len;
    const ts: DecodedSeries = { labels: [], samples: [], exemplars: [] };
    while (r.pos < stop) {
      const f = r.tag();
      if (f === TAG_LABEL) {
        const n = r.len32(stop);
        ts.labels.push(decodeLabel(r, r.pos + n));
      } else if (f === TAG_SAMPLE) {
        const n = r.len32(stop);
        ts.samples.push(decodeSample(r, r.pos + n));
      } else if (f === TAG_EXEMPLAR) {
        const n = r.len32(stop);
        ts.exemplars.push(decodeExemplar(r, r.pos + n));
      } else r.unknown(f, stop, TS_FIELDS);
    }
    r.endMessage(stop);
    out.push(ts);
  }
  return out;
}
