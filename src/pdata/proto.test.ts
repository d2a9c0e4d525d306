import { describe, expect, it } from 'vitest';
import { DecodeError } from '../component/errors.js';
import type { ResourceLogs, ResourceMetrics, ResourceSpans, Span } from './model.js';
import * as pb from './proto/index.js';
import { ProtoReader, ProtoWriter } from './proto/index.js';
import { benchTraces, fullLogs, fullMetrics, fullTraces, spanId, traceId } from './testdata/fixtures.js';
import {
  LogsRequest,
  LogsResponse,
  MetricsRequest,
  MetricsResponse,
  RpcStatus,
  TracesRequest,
  TracesResponse,
  logsFromPb,
  logsToPb,
  metricsFromPb,
  metricsToPb,
  pbEncode,
  stripDefaults,
  tracesFromPb,
  tracesToPb,
} from './testdata/reference.js';

interface Case<R> {
  name: string;
  model: () => R[];
  encode: (r: readonly R[]) => Uint8Array;
  decode: (b: Uint8Array) => R[];
  scan: (b: Uint8Array) => number;
  count: (r: readonly R[]) => number;
  refDecode: (b: Uint8Array) => R[];
  refEncode: (r: R[]) => Uint8Array;
  refEncodeStripped: (r: R[]) => Uint8Array;
}

const cases = [
  {
    name: 'traces',
    model: fullTraces,
    encode: pb.encodeTracesRequest,
    decode: pb.decodeTracesRequest,
    scan: pb.scanTracesRequest,
    count: pb.countSpans,
    refDecode: tracesFromPb,
    refEncode: (r: ResourceSpans[]) => pbEncode(TracesRequest, tracesToPb(r)),
    refEncodeStripped: (r: ResourceSpans[]) => pbEncode(TracesRequest, stripDefaults(tracesToPb(r)) as object),
  } satisfies Case<ResourceSpans>,
  {
    name: 'metrics',
    model: fullMetrics,
    encode: pb.encodeMetricsRequest,
    decode: pb.decodeMetricsRequest,
    scan: pb.scanMetricsRequest,
    count: pb.countDataPoints,
    refDecode: metricsFromPb,
    refEncode: (r: ResourceMetrics[]) => pbEncode(MetricsRequest, metricsToPb(r)),
    refEncodeStripped: (r: ResourceMetrics[]) => pbEncode(MetricsRequest, stripDefaults(metricsToPb(r)) as object),
  } satisfies Case<ResourceMetrics>,
  {
    name: 'logs',
    model: fullLogs,
    encode: pb.encodeLogsRequest,
    decode: pb.decodeLogsRequest,
    scan: pb.scanLogsRequest,
    count: pb.countLogRecords,
    refDecode: logsFromPb,
    refEncode: (r: ResourceLogs[]) => pbEncode(LogsRequest, logsToPb(r)),
    refEncodeStripped: (r: ResourceLogs[]) => pbEncode(LogsRequest, stripDefaults(logsToPb(r)) as object),
  } satisfies Case<ResourceLogs>,
] as Case<unknown>[];

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

describe.each(cases)('$name protobuf codec', (c) => {
  it('our encode is decoded by protobufjs to the same model', () => {
    const model = c.model();
    expect(c.refDecode(c.encode(model))).toEqual(model);
  });

  it('decodes what protobufjs encodes', () => {
    const model = c.model();
    expect(c.decode(c.refEncode(model))).toEqual(model);
  });

  it('round-trips through its own encode and decode', () => {
    const model = c.model();
    const bytes = c.encode(model);
    expect(c.decode(bytes)).toEqual(model);
    // Encoding is deterministic and canonical: re-encoding gives the same bytes.
    expect(c.encode(c.decode(bytes))).toEqual(bytes);
  });

  it('writes exactly the fields and bytes a proto3 encoder writes (canonical varints)', () => {
    const model = c.model();
    expect(c.encode(model).length).toBe(c.refEncodeStripped(model).length);
  });

  it('scan counts what decode counts', () => {
    const model = c.model();
    const n = c.count(model);
    expect(n).toBeGreaterThan(0);
    expect(c.scan(c.encode(model))).toBe(n);
    expect(c.scan(c.refEncode(model))).toBe(n);
    expect(c.count(c.decode(c.refEncode(model)))).toBe(n);
  });

  it('decodes the concatenation of two requests to the union of their resources', () => {
    const a = c.model();
    const b = c.model().slice(0, 1);
    const joined = concat(c.encode(a), c.encode(b));
    expect(c.decode(joined)).toEqual([...a, ...b]);
    expect(c.scan(joined)).toBe(c.count(a) + c.count(b));
  });

  it('accepts empty input as an empty request', () => {
    expect(c.decode(new Uint8Array(0))).toEqual([]);
    expect(c.scan(new Uint8Array(0))).toBe(0);
    expect(c.encode([])).toEqual(new Uint8Array(0));
  });

  it('copies ids out of the input, which may be a Node Buffer', () => {
    const bytes = Buffer.from(c.encode(c.model()));
    const decoded = c.decode(bytes);
    bytes.fill(0);
    expect(decoded).toEqual(c.model());
  });
});

// ---------------------------------------------------------------- hand-built wire input

/** Builds a message with a ProtoWriter callback. */
function msg(fn: (w: ProtoWriter) => void): Uint8Array {
  const w = new ProtoWriter(16);
  fn(w);
  return w.finish();
}
/** A length-delimited field. */
function lenField(w: ProtoWriter, field: number, body: Uint8Array): void {
  w.uint32((field << 3) | 2);
  w.bytes(body);
}
/** ExportTraceServiceRequest { resource_spans { scope_spans { spans: span } } } from raw span bytes. */
function wrapSpan(span: Uint8Array): Uint8Array {
  const ss = msg((w) => lenField(w, 2, span));
  const rs = msg((w) => lenField(w, 2, ss));
  return msg((w) => lenField(w, 1, rs));
}
function spanBytes(s: Span): Uint8Array {
  return msg((w) => pb.encodeSpan(w, s));
}
function oneSpan(): Span {
  return fullTraces()[0]!.scopeSpans[0]!.spans[0]!;
}
function decodeOneSpan(buf: Uint8Array): Span {
  const r = pb.decodeTracesRequest(buf);
  return r[0]!.scopeSpans[0]!.spans[0]!;
}

describe('wire format details', () => {
  it('skips unknown fields of every wire type, including nested groups', () => {
    const span = oneSpan();
    const extra = msg((w) => {
      w.uint32((100 << 3) | 0);
      w.varint64(0xffffffff, 0xffffffff);
      w.uint32((101 << 3) | 1);
      w.fixed64(123n);
      lenField(w, 102, new Uint8Array([1, 2, 3]));
      w.uint32((103 << 3) | 3); // start group 103
      w.uint32((1 << 3) | 0);
      w.uint32(5);
      w.uint32((2 << 3) | 3); // nested group 2
      w.uint32((1 << 3) | 5);
      w.fixed32(7);
      w.uint32((2 << 3) | 4); // end group 2
      w.uint32((103 << 3) | 4); // end group 103
      w.uint32((104 << 3) | 5);
      w.fixed32(9);
    });
    const buf = wrapSpan(concat(spanBytes(span), extra));
    expect(decodeOneSpan(buf)).toEqual(span);
    expect(pb.scanTracesRequest(buf)).toBe(1);
    // Unknown fields at the request level too.
    const top = concat(extra, buf, extra);
    expect(pb.decodeTracesRequest(top)).toHaveLength(1);
    expect(pb.scanTracesRequest(top)).toBe(1);
  });

  it('rejects mismatched or stray end-group tags', () => {
    const stray = wrapSpan(msg((w) => w.uint32((103 << 3) | 4)));
    const mismatched = wrapSpan(
      msg((w) => {
        w.uint32((103 << 3) | 3);
        w.uint32((104 << 3) | 4);
      }),
    );
    const unterminated = wrapSpan(msg((w) => w.uint32((103 << 3) | 3)));
    for (const b of [stray, mismatched, unterminated]) {
      expect(() => pb.decodeTracesRequest(b)).toThrow(DecodeError);
      expect(() => pb.scanTracesRequest(b)).toThrow(DecodeError);
    }
  });

  it('accepts unpacked repeated scalars and mixes of packed and unpacked', () => {
    const dp = msg((w) => {
      w.uint32((4 << 3) | 1);
      w.fixed64Number(6);
      w.uint32((6 << 3) | 1); // bucket_counts, unpacked
      w.fixed64Number(1);
      w.uint32((6 << 3) | 2); // then packed
      w.uint32(16);
      w.fixed64Number(2);
      w.fixed64Number(3);
      w.uint32((7 << 3) | 1); // explicit_bounds, unpacked
      w.double(1.5);
      w.uint32((7 << 3) | 2);
      w.uint32(8);
      w.double(2.5);
    });
    const buckets = msg((w) => {
      w.uint32((1 << 3) | 0);
      w.sint32(-2);
      w.uint32((2 << 3) | 0); // unpacked uint64
      w.uint32(300);
      w.uint32((2 << 3) | 2);
      w.uint32(2);
      w.uint32(4);
      w.uint32(5);
    });
    const edp = msg((w) => lenField(w, 8, buckets));
    const hist = msg((w) => lenField(w, 1, dp));
    const ehist = msg((w) => lenField(w, 1, edp));
    const metric1 = msg((w) => lenField(w, 9, hist));
    const metric2 = msg((w) => lenField(w, 10, ehist));
    const sm = msg((w) => {
      lenField(w, 2, metric1);
      lenField(w, 2, metric2);
    });
    const rm = msg((w) => lenField(w, 2, sm));
    const req = msg((w) => lenField(w, 1, rm));
    const out = pb.decodeMetricsRequest(req);
    const [m1, m2] = out[0]!.scopeMetrics[0]!.metrics;
    expect(m1!.data).toMatchObject({ type: 'histogram', dataPoints: [{ count: 6, bucketCounts: [1, 2, 3], explicitBounds: [1.5, 2.5] }] });
    expect(m2!.data).toMatchObject({ type: 'exponentialHistogram', dataPoints: [{ positive: { offset: -2, bucketCounts: [300, 4, 5] } }] });
    expect(pb.scanMetricsRequest(req)).toBe(2);
    // protobufjs agrees.
    expect(metricsFromPb(req)).toEqual(out);
  });

  it('rejects packed fixed64 / double payloads that are not a multiple of 8 bytes', () => {
    const dp = msg((w) => {
      w.uint32((6 << 3) | 2);
      w.uint32(7);
      w.raw(new Uint8Array(7));
    });
    const req = msg((w) => lenField(w, 1, msg((w) => lenField(w, 2, msg((w) => lenField(w, 2, msg((w) => lenField(w, 9, msg((w) => lenField(w, 1, dp))))))))));
    expect(() => pb.decodeMetricsRequest(req)).toThrow(DecodeError);
    expect(() => pb.scanMetricsRequest(req)).toThrow(DecodeError);
  });

  it('merges repeated singular messages and keeps the last scalar', () => {
    const span = msg((w) => {
      w.uint32((5 << 3) | 2);
      w.string('first');
      lenField(w, 15, msg((w) => { w.uint32(18); w.string('msg'); }));
      lenField(w, 15, msg((w) => { w.uint32(24); w.uint32(2); }));
      w.uint32((5 << 3) | 2);
      w.string('second');
    });
    const s = decodeOneSpan(wrapSpan(span));
    expect(s.name).toBe('second');
    expect(s.status).toEqual({ message: 'msg', code: 2 });
    const rs = msg((w) => {
      lenField(w, 1, msg((w) => pb.encodeKeyValues(w, 1, [{ key: 'a', value: { type: 'bool', value: true } }])));
      lenField(w, 1, msg((w) => { w.uint32(16); w.uint32(3); }));
    });
    const r = pb.decodeTracesRequest(msg((w) => lenField(w, 1, rs)));
    expect(r[0]!.resource).toEqual({ attributes: [{ key: 'a', value: { type: 'bool', value: true } }], droppedAttributesCount: 3 });
  });

  it('counts only the last data member of a metric, as decode keeps it', () => {
    const gauge = msg((w) => {
      lenField(w, 1, new Uint8Array(0));
      lenField(w, 1, new Uint8Array(0));
    });
    const sum = msg((w) => lenField(w, 1, new Uint8Array(0)));
    const metric = msg((w) => {
      lenField(w, 5, gauge);
      lenField(w, 7, sum);
    });
    const req = msg((w) => lenField(w, 1, msg((w) => lenField(w, 2, msg((w) => lenField(w, 2, metric))))));
    const out = pb.decodeMetricsRequest(req);
    expect(out[0]!.scopeMetrics[0]!.metrics[0]!.data.type).toBe('sum');
    expect(pb.countDataPoints(out)).toBe(1);
    expect(pb.scanMetricsRequest(req)).toBe(1);
  });

  it('keeps -0, NaN and negative enums through the wire', () => {
    const m = fullMetrics();
    const d = m[0]!.scopeMetrics[0]!.metrics[5]!.data;
    if (d.type !== 'summary') throw new Error('fixture changed');
    d.dataPoints[0]!.sum = -0;
    d.dataPoints[0]!.quantileValues[0]!.value = NaN;
    const back = pb.decodeMetricsRequest(pb.encodeMetricsRequest(m));
    expect(back).toEqual(m);
    const span = { ...oneSpan(), kind: -1, status: { message: '', code: -5 } };
    const decoded = decodeOneSpan(wrapSpan(spanBytes(span)));
    expect(decoded.kind).toBe(-1);
    expect(decoded.status.code).toBe(-5);
    expect(tracesFromPb(wrapSpan(spanBytes(span)))[0]!.scopeSpans[0]!.spans[0]!.kind).toBe(-1);
  });

  it('rejects ids of the wrong length and accepts empty ones', () => {
    const bad = wrapSpan(msg((w) => { w.uint32(10); w.bytes(new Uint8Array(15)); }));
    expect(() => pb.decodeTracesRequest(bad)).toThrow(DecodeError);
    expect(() => pb.scanTracesRequest(bad)).toThrow(DecodeError);
    const badSpan = wrapSpan(msg((w) => { w.uint32(18); w.bytes(new Uint8Array(16)); }));
    expect(() => pb.decodeTracesRequest(badSpan)).toThrow(DecodeError);
    expect(() => pb.scanTracesRequest(badSpan)).toThrow(DecodeError);
    const empty = wrapSpan(msg((w) => { w.uint32(10); w.bytes(new Uint8Array(0)); }));
    expect(decodeOneSpan(empty).traceId).toEqual(new Uint8Array(0));
  });

  it('writes canonical varints for every length-prefix size', () => {
    for (const n of [0, 1, 24, 25, 42, 43, 127, 128, 300, 16383, 16384, 70000]) {
      for (const ch of ['a', 'é', '€']) {
        const s = ch.repeat(n);
        const b = msg((w) => pb.encodeKeyValues(w, 1, [{ key: s, value: { type: 'string', value: s } }]));
        const r = new ProtoReader(b);
        expect(r.tag()).toBe(10);
        const e = r.sub(b.length);
        expect(pb.decodeKeyValue(r, e)).toEqual({ key: s, value: { type: 'string', value: s } });
        expect(AnyLen(b)).toBe(b.length);
      }
    }
    // Spans of every size class around the reserved prefix boundaries.
    for (const n of [0, 100, 120, 16300, 16400]) {
      const span: Span = { ...oneSpan(), attributes: [], events: [], links: [], name: 'n'.repeat(n) };
      const model = [{ resource: { attributes: [], droppedAttributesCount: 0 }, scopeSpans: [{ scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0 }, spans: [span], schemaUrl: '' }], schemaUrl: '' }];
      const bytes = pb.encodeTracesRequest(model);
      expect(pb.decodeTracesRequest(bytes)).toEqual(model);
      expect(tracesFromPb(bytes)).toEqual(model);
      expect(bytes.length).toBe(pbEncode(TracesRequest, stripDefaults(tracesToPb(model)) as object).length);
    }
  });

  it('encodes large batches identically in content to protobufjs', () => {
    const model = benchTraces(100, 20);
    const ours = pb.encodeTracesRequest(model);
    expect(tracesFromPb(ours)).toEqual(model);
    expect(pb.decodeTracesRequest(pbEncode(TracesRequest, tracesToPb(model)))).toEqual(model);
    expect(pb.scanTracesRequest(ours)).toBe(100);
  });

  it('encodes and decodes export responses and rpc status', () => {
    expect(pb.encodeExportResponse()).toEqual(new Uint8Array(0));
    expect(pb.decodeExportResponse(new Uint8Array(0))).toBeUndefined();
    const partial = { rejected: 12, errorMessage: 'too old' };
    const bytes = pb.encodeExportResponse(partial);
    expect(TracesResponse.toObject(TracesResponse.decode(bytes), { longs: Number })).toEqual({ partialSuccess: { rejectedSpans: 12, errorMessage: 'too old' } });
    expect(MetricsResponse.toObject(MetricsResponse.decode(bytes), { longs: Number })).toEqual({ partialSuccess: { rejectedDataPoints: 12, errorMessage: 'too old' } });
    expect(pb.decodeExportResponse(bytes)).toEqual(partial);
    expect(pb.decodeExportResponse(pb.encodeExportResponse({ rejected: 0, errorMessage: '' }))).toEqual({ rejected: 0, errorMessage: '' });
    const ref = pbEncode(LogsResponse, { partialSuccess: { rejectedLogRecords: '5', errorMessage: 'w' } });
    expect(pb.decodeExportResponse(ref)).toEqual({ rejected: 5, errorMessage: 'w' });
    const st = pb.encodeRpcStatus(3, 'bad data');
    expect(RpcStatus.toObject(RpcStatus.decode(st))).toEqual({ code: 3, message: 'bad data' });
    expect(pb.decodeRpcStatus(st)).toEqual({ code: 3, message: 'bad data' });
    expect(() => pb.decodeExportResponse(new Uint8Array([0x0a, 0x05, 0x08]))).toThrow(DecodeError);
  });

  it('exposes AnyValue helpers that round-trip through protobufjs', () => {
    const v = fullTraces()[0]!.scopeSpans[0]!.spans[0]!.attributes[16]!.value;
    const bytes = msg((w) => pb.encodeAnyValue(w, v));
    const r = new ProtoReader(bytes);
    expect(pb.decodeAnyValue(r, bytes.length)).toEqual(v);
  });
});

/** Walks a KeyValue field at the start of `b` and returns the offset after it. */
function AnyLen(b: Uint8Array): number {
  const r = new ProtoReader(b);
  r.tag();
  const n = r.len32(b.length);
  return r.pos + n;
}

export { concat, msg, lenField, wrapSpan, spanBytes, oneSpan, traceId, spanId };

describe('ProtoWriter and ProtoReader primitives', () => {
  it('round-trip every scalar encoding at its edges', () => {
    const ints = [0, 1, 127, 128, 16383, 16384, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1];
    const w = new ProtoWriter(4);
    for (const v of ints) {
      w.uint64Number(v);
      w.int64Number(v);
      w.int64Number(0 - v);
      w.fixed64Number(v);
    }
    const i32 = [0, 1, -1, 2 ** 31 - 1, -(2 ** 31)];
    for (const v of i32) {
      w.int32(v);
      w.sint32(v);
    }
    const bigs = [0n, 1n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 53n + 1n, -(2n ** 53n) - 1n];
    for (const v of bigs) {
      w.int64(v);
      w.sfixed64(v);
    }
    w.fixed64(2n ** 64n - 1n);
    w.tag(16, 5);
    w.fixed32(0xffffffff);
    w.double(-0);
    w.bool(true);
    const b = w.finish();
    const r = new ProtoReader(b);
    for (const v of ints) {
      expect(r.uint64Number()).toBe(v);
      expect(r.int64Number()).toBe(v);
      expect(r.int64Number()).toBe(0 - v);
      expect(r.fixed64Number()).toBe(v);
    }
    for (const v of i32) {
      expect(r.int32()).toBe(v);
      expect(r.sint32()).toBe(v);
    }
    for (const v of bigs) {
      expect(r.int64()).toBe(v);
      expect(r.sfixed64()).toBe(v);
    }
    expect(r.fixed64()).toBe(2n ** 64n - 1n);
    expect(r.tag()).toBe((16 << 3) | 5);
    expect(r.fixed32()).toBe(0xffffffff);
    expect(Object.is(r.double(), -0)).toBe(true);
    expect(r.bool()).toBe(true);
    expect(r.pos).toBe(b.length);
  });

  it('refuses to encode AnyValues nested deeper than the decoders accept', () => {
    let v: import('./model.js').AnyValue = { type: 'bool', value: true };
    for (let i = 0; i < pb.MAX_DEPTH; i++) v = { type: 'array', value: [v] };
    expect(() => msg((w) => pb.encodeAnyValue(w, v))).toThrow(RangeError);
  });
});
