// Decoders and scanners on hostile input: they must throw DecodeError (never
// another exception, never hang) and agree with each other on what they accept.
import { describe, expect, it } from 'vitest';
import { DecodeError } from '../component/errors.js';
import * as pb from './proto/index.js';
import { MAX_DEPTH, ProtoWriter } from './proto/index.js';
import { decodeLogsJson, decodeTracesJson } from './json/index.js';
import { benchTraces, fullLogs, fullMetrics, fullTraces } from './testdata/fixtures.js';

interface Codec {
  name: string;
  valid: Uint8Array;
  decode: (b: Uint8Array) => unknown[];
  scan: (b: Uint8Array) => number;
  count: (r: never[]) => number;
}

const codecs: Codec[] = [
  { name: 'traces', valid: pb.encodeTracesRequest(fullTraces()), decode: pb.decodeTracesRequest, scan: pb.scanTracesRequest, count: pb.countSpans as Codec['count'] },
  { name: 'metrics', valid: pb.encodeMetricsRequest(fullMetrics()), decode: pb.decodeMetricsRequest, scan: pb.scanMetricsRequest, count: pb.countDataPoints as Codec['count'] },
  { name: 'logs', valid: pb.encodeLogsRequest(fullLogs()), decode: pb.decodeLogsRequest, scan: pb.scanLogsRequest, count: pb.countLogRecords as Codec['count'] },
];

type Outcome = { ok: true; count: number } | { ok: false };

function attempt<T>(fn: () => T): { ok: true; value: T } | { ok: false } {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    if (!(e instanceof DecodeError)) throw new Error(`expected DecodeError, got ${String(e)}`, { cause: e });
    return { ok: false };
  }
}

/** Runs decode and scan; checks both accept or both reject, and agree on the count. */
function check(c: Codec, buf: Uint8Array): Outcome {
  const d = attempt(() => c.decode(buf));
  const s = attempt(() => c.scan(buf));
  if (d.ok !== s.ok) throw new Error(`${c.name}: decode ${d.ok ? 'accepts' : 'rejects'} but scan ${s.ok ? 'accepts' : 'rejects'} ${Buffer.from(buf).toString('hex')}`);
  if (!d.ok || !s.ok) return { ok: false };
  const n = c.count(d.value as never[]);
  expect(s.value).toBe(n);
  return { ok: true, count: n };
}

/** Small deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function msg(fn: (w: ProtoWriter) => void): Uint8Array {
  const w = new ProtoWriter(16);
  fn(w);
  return w.finish();
}
function lenField(w: ProtoWriter, field: number, body: Uint8Array): void {
  w.uint32((field << 3) | 2);
  w.bytes(body);
}
function wrapSpan(span: Uint8Array): Uint8Array {
  return msg((w) => lenField(w, 1, msg((w) => lenField(w, 2, msg((w) => lenField(w, 2, span))))));
}
function wrapLog(log: Uint8Array): Uint8Array {
  return msg((w) => lenField(w, 1, msg((w) => lenField(w, 2, msg((w) => lenField(w, 2, log))))));
}

describe.each(codecs)('$name decoder on malformed input', (c) => {
  it('truncated at every byte offset: DecodeError or success, decode and scan agree', () => {
    let rejected = 0;
    for (let i = 0; i < c.valid.length; i++) {
      if (!check(c, c.valid.subarray(0, i)).ok) rejected++;
    }
    expect(rejected).toBeGreaterThan(c.valid.length / 2);
  });

  it('random garbage: DecodeError or success, decode and scan agree', () => {
    const rand = rng(1234);
    for (let i = 0; i < 2000; i++) {
      const len = Math.floor(rand() * 256);
      const buf = new Uint8Array(len);
      for (let j = 0; j < len; j++) buf[j] = Math.floor(rand() * 256);
      // Half of the buffers start like a request, so the fuzz gets past the first tag.
      if (i % 2 === 0 && len > 2) {
        buf[0] = 0x0a;
        buf[1] = len - 2 > 127 ? 127 : len - 2;
      }
      check(c, buf);
    }
  });

  it('random byte flips of a valid message: DecodeError or success, decode and scan agree', () => {
    const rand = rng(99);
    let accepted = 0;
    for (let i = 0; i < 2000; i++) {
      const buf = c.valid.slice();
      const flips = 1 + Math.floor(rand() * 3);
      for (let k = 0; k < flips; k++) {
        const at = Math.floor(rand() * buf.length);
        buf[at] = rand() < 0.5 ? buf[at]! ^ (1 << Math.floor(rand() * 8)) : Math.floor(rand() * 256);
      }
      if (check(c, buf).ok) accepted++;
    }
    // Flips inside strings and numbers keep the message valid.
    expect(accepted).toBeGreaterThan(0);
  });

  it('rejects a length prefix of 2^31 and beyond the buffer', () => {
    for (const prefix of [
      [0x80, 0x80, 0x80, 0x80, 0x08], // 2^31
      [0xff, 0xff, 0xff, 0xff, 0x0f], // 2^32 - 1
      [0x80, 0x80, 0x80, 0x80, 0x80, 0x01], // 2^35
      [0x10], // 16, with 2 bytes left
    ]) {
      const buf = new Uint8Array([0x0a, ...prefix, 0x0a, 0x00]);
      const t0 = performance.now();
      expect(() => c.decode(buf)).toThrow(DecodeError);
      expect(() => c.scan(buf)).toThrow(DecodeError);
      expect(performance.now() - t0).toBeLessThan(50);
    }
  });

  it('rejects varints longer than 10 bytes and 10-byte varints overflowing 64 bits', () => {
    const eleven = new Uint8Array([0x28, ...new Array(10).fill(0xff), 0x01]); // unknown field 5, varint
    expect(() => c.decode(eleven)).toThrow(DecodeError);
    expect(() => c.scan(eleven)).toThrow(DecodeError);
    const overflow = new Uint8Array([0x28, ...new Array(9).fill(0xff), 0x02]);
    expect(() => c.decode(overflow)).toThrow(DecodeError);
    expect(() => c.scan(overflow)).toThrow(DecodeError);
    const ok = new Uint8Array([0x28, ...new Array(9).fill(0xff), 0x01]);
    expect(c.decode(ok)).toEqual([]);
    expect(c.scan(ok)).toBe(0);
  });

  it('rejects a known field with the wrong wire type, field number 0 and wire types 6 and 7', () => {
    for (const buf of [
      new Uint8Array([0x08, 0x01]), // resource_* = 1 as a varint
      new Uint8Array([0x0d, 0, 0, 0, 0]), // as fixed32
      new Uint8Array([0x02, 0x00]), // field 0
      new Uint8Array([0x2e]), // wire type 6
      new Uint8Array([0x2f]), // wire type 7
    ]) {
      expect(() => c.decode(buf)).toThrow(DecodeError);
      expect(() => c.scan(buf)).toThrow(DecodeError);
    }
  });
});

describe('malformed nested messages', () => {
  const traces = codecs[0]!;
  const logs = codecs[2]!;

  it('rejects wrong wire types deep inside a span', () => {
    const cases = [
      msg((w) => { w.uint32((5 << 3) | 0); w.uint32(1); }), // name as varint
      msg((w) => { w.uint32((7 << 3) | 0); w.uint32(1); }), // start time as varint
      msg((w) => { w.uint32((16 << 3) | 0); w.uint32(1); }), // flags as varint
      msg((w) => { w.uint32((9 << 3) | 2); w.bytes(msg((w) => { w.uint32((2 << 3) | 0); w.uint32(1); })); }), // KeyValue.value as varint
      msg((w) => { w.uint32((9 << 3) | 2); w.bytes(msg((w) => { w.uint32(18); w.bytes(msg((w) => { w.uint32((1 << 3) | 0); w.uint32(1); })); })); }), // AnyValue.string as varint
    ];
    for (const span of cases) {
      const buf = wrapSpan(span);
      expect(() => traces.decode(buf)).toThrow(DecodeError);
      expect(() => traces.scan(buf)).toThrow(DecodeError);
    }
  });

  it('rejects a field that overruns its enclosing message', () => {
    // A span whose last field (a string of 4 bytes) extends past the span's declared length.
    const span = msg((w) => { w.uint32(42); w.string('abcd'); });
    const cut = span.subarray(0, span.length - 2);
    const rs = msg((w) => lenField(w, 2, msg((w) => { w.uint32(18); w.bytes(cut); })));
    const buf = new Uint8Array([...msg((w) => lenField(w, 1, rs)), 0x63, 0x64]);
    expect(() => traces.decode(buf)).toThrow(DecodeError);
    expect(() => traces.scan(buf)).toThrow(DecodeError);
  });

  /** AnyValue nested `depth` levels deep as kvlists, built inside out without recursion. */
  function deepKvlist(depth: number): Uint8Array {
    const rev: number[] = [];
    const prepend = (bytes: number[]): void => {
      for (let i = bytes.length - 1; i >= 0; i--) rev.push(bytes[i]!);
    };
    const varint = (n: number): number[] => {
      const out: number[] = [];
      while (n > 0x7f) {
        out.push((n & 0x7f) | 0x80);
        n >>>= 7;
      }
      out.push(n);
      return out;
    };
    prepend([0x10, 0x01]); // innermost: bool_value = true
    for (let i = 1; i < depth; i++) {
      prepend([0x12, ...varint(rev.length)]); // KeyValue.value
      prepend([0x0a, 0x01, 0x6b]); // KeyValue.key = "k"
      prepend([0x0a, ...varint(rev.length)]); // KeyValueList.values
      prepend([0x32, ...varint(rev.length)]); // AnyValue.kvlist_value
    }
    return Uint8Array.from(rev.reverse());
  }

  function logWithBody(body: Uint8Array): Uint8Array {
    return wrapLog(msg((w) => lenField(w, 5, body)));
  }

  it('rejects AnyValue nesting of 10,000 levels quickly', () => {
    const buf = logWithBody(deepKvlist(10_000));
    const t0 = performance.now();
    expect(() => logs.decode(buf)).toThrow(DecodeError);
    expect(() => logs.scan(buf)).toThrow(DecodeError);
    expect(performance.now() - t0).toBeLessThan(200);
  });

  it(`accepts nesting up to ${MAX_DEPTH} levels and rejects one more`, () => {
    const ok = logWithBody(deepKvlist(MAX_DEPTH));
    expect(logs.scan(ok)).toBe(1);
    const decoded = pb.decodeLogsRequest(ok);
    // The encoder accepts what the decoder accepts, and gives the same bytes back.
    expect(pb.encodeLogsRequest(decoded)).toEqual(ok);
    const tooDeep = logWithBody(deepKvlist(MAX_DEPTH + 1));
    expect(() => logs.decode(tooDeep)).toThrow(DecodeError);
    expect(() => logs.scan(tooDeep)).toThrow(DecodeError);
    // The JSON decoder has the same limit.
    const json = (d: number): string => {
      let s = '{"boolValue":true}';
      for (let i = 1; i < d; i++) s = `{"kvlistValue":{"values":[{"key":"k","value":${s}}]}}`;
      return `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":${s}}]}]}]}`;
    };
    expect(decodeLogsJson(json(MAX_DEPTH))[0]!.scopeLogs[0]!.logRecords[0]!.body).toEqual(decoded[0]!.scopeLogs[0]!.logRecords[0]!.body);
    expect(() => decodeLogsJson(json(MAX_DEPTH + 1))).toThrow(DecodeError);
  });

  it('rejects 10,000 levels of JSON nesting with DecodeError', () => {
    let s = '{"boolValue":true}';
    for (let i = 0; i < 10_000; i++) s = `{"arrayValue":{"values":[${s}]}}`;
    const text = `{"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[{"key":"k","value":${s}}]}]}]}]}`;
    expect(() => decodeTracesJson(text)).toThrow(DecodeError);
  });

  it('scans a large valid batch', () => {
    expect(pb.scanTracesRequest(pb.encodeTracesRequest(benchTraces(1000, 5)))).toBe(1000);
  });

  it('fuzzes export responses', () => {
    const rand = rng(7);
    const valid = pb.encodeExportResponse({ rejected: 3, errorMessage: 'some were bad' });
    for (let i = 0; i < 2000; i++) {
      const buf = valid.slice();
      buf[Math.floor(rand() * buf.length)] = Math.floor(rand() * 256);
      attempt(() => pb.decodeExportResponse(buf));
    }
  });
});
