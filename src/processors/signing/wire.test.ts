// Signing on the wire bytes against the model signer: for random batches and
// hand-made wire shapes (fields repeated, values merged, keys unsorted,
// invalid UTF-8, nesting over the cap, stale signatures), the byte path must
// give the same signatures and the same decoded output as decode + sign.
// Every case runs on both engines: the native signer (native/signing.cc, with
// wire.ts splicing nothing) and wire.ts alone; on the native one the output
// must also be byte for byte what wire.ts alone gives.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { logsCodec, tracesCodec } from '../../pdata/codec.js';
import type { AnyValue, KeyValue, LogRecord, ResourceLogs, ResourceSpans, Span } from '../../pdata/model.js';
import { RESERVED } from './canonical.js';
import { ALG_INFO, type Algorithm } from './mac.js';
import { Signer, type SignStats } from './sign.js';
import { nativeSigning, NATIVE_FALLBACK, type NativeSigning } from './native.js';
import { WireSigner } from './wire.js';

const stats = (): SignStats => ({ signed: 0, unsignedDepth: 0, unsignedSize: 0 });
const j = (x: unknown) => JSON.stringify(x, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v));

/** The native signer, counting the requests it declined (left to wire.ts). */
function counting(): { native: NativeSigning; declined: () => number } {
  let n = 0;
  const base = nativeSigning!;
  return {
    native: {
      signRequest: (...a) => {
        const r = base.signRequest(...a);
        if (r === NATIVE_FALLBACK) n++;
        return r;
      },
      writeSigned: (src, out) => base.writeSigned(src, out),
      lastMacs: (out) => base.lastMacs(out),
    },
    declined: () => n,
  };
}

type Engine = 'native' | 'JavaScript';
const ENGINES: Engine[] = ['native', 'JavaScript'];

function both(alg: Algorithm, engine: Engine) {
  const secret = Buffer.from('wire-signing-test-key-0123456789');
  const model = new Signer(alg, secret, 'k1');
  const key = new Signer(alg, secret, 'k1').key;
  const off = RESERVED - ALG_INFO[alg].block;
  const c = engine === 'native' ? counting() : undefined;
  const wire = new WireSigner(key, 'k1', off, c?.native);
  const alone = new WireSigner(key, 'k1', off, undefined);
  /** On the native engine: the same bytes as wire.ts alone. */
  const same = (signal: 'traces' | 'logs', bytes: Uint8Array, out: Uint8Array) => {
    if (!c) return;
    const ref = alone.sign(signal, bytes, stats());
    expect(Buffer.from(out).equals(Buffer.from(ref))).toBe(true);
  };
  return {
    declined: () => c?.declined() ?? 0,
    traces(bytes: Uint8Array) {
      const m = tracesCodec.decode(bytes);
      const ms = stats();
      const macsM: string[] = [];
      Object.assign(ms, model.signTraces(m, macsM));
      const ws = stats();
      const macsW: string[] = [];
      const out = wire.sign('traces', bytes, ws, macsW);
      expect(ws).toEqual(ms);
      expect(macsW).toEqual(macsM);
      expect(j(tracesCodec.decode(out))).toBe(j(tracesCodec.decode(tracesCodec.encode(m))));
      same('traces', bytes, out);
      return { out, macs: macsW, st: ws };
    },
    logs(bytes: Uint8Array) {
      const m = logsCodec.decode(bytes);
      const ms = model.signLogs(m);
      const ws = stats();
      const out = wire.sign('logs', bytes, ws);
      expect(ws).toEqual(ms);
      expect(j(logsCodec.decode(out))).toBe(j(logsCodec.decode(logsCodec.encode(m))));
      same('logs', bytes, out);
      return { out, st: ws };
    },
  };
}

// Short strings are copied byte by byte, long ones (over 24 bytes) another way: both lengths.
const str = fc.oneof(
  fc.constantFrom('', 'a', 'GET', 'sieve.sig', 'sieve.sig.kid', 'sieve.chain.seq', 'z-last', 'Ünï ✓ 東京', '\u{1F600}'),
  fc.string({ maxLength: 12 }),
  fc.string({ minLength: 20, maxLength: 90 }),
  fc.string({ unit: 'grapheme', minLength: 8, maxLength: 40 }),
);
const any: fc.Memo<AnyValue> = fc.memo((d) =>
  d <= 1
    ? fc.oneof(
        str.map((value): AnyValue => ({ type: 'string', value })),
        fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((value): AnyValue => ({ type: 'int', value })),
        fc.boolean().map((value): AnyValue => ({ type: 'bool', value })),
        fc.double().map((value): AnyValue => ({ type: 'double', value })),
        fc.uint8Array({ maxLength: 20 }).map((value): AnyValue => ({ type: 'bytes', value })),
        fc.constant<AnyValue>({ type: 'empty' }),
      )
    : fc.oneof(
        any(1),
        fc.array(any(d - 1), { maxLength: 3 }).map((value): AnyValue => ({ type: 'array', value })),
        fc.array(kv(d - 1), { maxLength: 3 }).map((value): AnyValue => ({ type: 'kvlist', value })),
      ),
);
function kv(d: number): fc.Arbitrary<KeyValue> {
  return fc.record({ key: str, value: any(d) });
}
const attrs = fc.array(kv(3), { maxLength: 6 });
const id = (n: number) => fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ minLength: n, maxLength: n }));
const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });

const span: fc.Arbitrary<Span> = fc.record({
  traceId: id(16),
  spanId: id(8),
  traceState: str,
  parentSpanId: id(8),
  flags: fc.nat(),
  name: str,
  kind: fc.integer({ min: 0, max: 5 }),
  startTimeUnixNano: u64,
  endTimeUnixNano: u64,
  attributes: attrs,
  droppedAttributesCount: fc.nat(),
  events: fc.array(fc.record({ timeUnixNano: u64, name: str, attributes: attrs, droppedAttributesCount: fc.constant(0) }), { maxLength: 2 }),
  droppedEventsCount: fc.constant(0),
  links: fc.array(fc.record({ traceId: id(16), spanId: id(8), traceState: str, attributes: attrs, droppedAttributesCount: fc.constant(0), flags: fc.nat() }), { maxLength: 2 }),
  droppedLinksCount: fc.constant(0),
  status: fc.record({ code: fc.integer({ min: 0, max: 2 }), message: str }),
});
const log: fc.Arbitrary<LogRecord> = fc.record({
  timeUnixNano: u64,
  observedTimeUnixNano: u64,
  severityNumber: fc.integer({ min: 0, max: 24 }),
  severityText: str,
  body: any(3),
  attributes: attrs,
  droppedAttributesCount: fc.constant(0),
  flags: fc.nat(),
  traceId: id(16),
  spanId: id(8),
  eventName: str,
});
const scope = fc.record({ name: str, version: str, attributes: attrs, droppedAttributesCount: fc.constant(0) });
const resource = fc.record({ attributes: attrs, droppedAttributesCount: fc.constant(0) });

for (const engine of ENGINES)
describe(`signing on the bytes equals decode + sign (${engine})`, () => {
  for (const alg of ['hmac-sha256', 'hmac-sha512'] as const) {
    it(`random traces, ${alg}`, () => {
      const s = both(alg, engine);
      fc.assert(
        fc.property(fc.array(fc.record({ resource, scopeSpans: fc.array(fc.record({ scope, spans: fc.array(span, { maxLength: 3 }), schemaUrl: fc.constant('') }), { maxLength: 2 }), schemaUrl: fc.constant('') }), { minLength: 1, maxLength: 2 }), (rs) => {
          s.traces(tracesCodec.encode(rs as ResourceSpans[]));
        }),
        { numRuns: 150 },
      );
      // Well-formed requests of valid UTF-8 within the caps: the native signer signs them all.
      expect(s.declined()).toBe(0);
    });
    it(`runs of ResourceSpans with the same Resource, as tail sampling sends them, ${alg}`, () => {
      const s = both(alg, engine);
      const ss = fc.array(fc.record({ scope, spans: fc.array(span, { minLength: 1, maxLength: 2 }), schemaUrl: fc.constant('') }), { minLength: 1, maxLength: 2 });
      fc.assert(
        fc.property(resource, resource, fc.array(fc.tuple(fc.boolean(), ss), { minLength: 2, maxLength: 6 }), (r1, r2, list) => {
          const rs = list.map(([first, scopeSpans]) => ({ resource: first ? r1 : r2, scopeSpans, schemaUrl: '' }));
          s.traces(tracesCodec.encode(rs as ResourceSpans[]));
        }),
        { numRuns: 100 },
      );
      expect(s.declined()).toBe(0);
    });
    it(`random logs, ${alg}`, () => {
      const s = both(alg, engine);
      fc.assert(
        fc.property(fc.array(fc.record({ resource, scopeLogs: fc.array(fc.record({ scope, logRecords: fc.array(log, { maxLength: 3 }), schemaUrl: fc.constant('') }), { maxLength: 2 }), schemaUrl: fc.constant('') }), { minLength: 1, maxLength: 2 }), (rl) => {
          s.logs(logsCodec.encode(rl as ResourceLogs[]));
        }),
        { numRuns: 150 },
      );
      expect(s.declined()).toBe(0);
    });
  }
});

// Raw shapes.
function varint(v: number): number[] {
  const out: number[] = [];
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return out;
}
const ld = (tag: number, body: number[]): number[] => [tag, ...varint(body.length), ...body];
const u8 = (s: string): number[] => [...Buffer.from(s, 'utf8')];
const strKv = (k: string, v: number[]) => [...ld(0x0a, u8(k)), ...ld(0x12, ld(0x0a, v))];
const request = (resource: number[], spanBody: number[], scopeFirst = false) => {
  const rs = scopeFirst ? [...ld(0x12, ld(0x12, spanBody)), ...ld(0x0a, resource)] : [...ld(0x0a, resource), ...ld(0x12, ld(0x12, spanBody))];
  return Uint8Array.from(ld(0x0a, rs));
};

for (const engine of ENGINES)
describe(`wire shapes (${engine})`, () => {
  const s = both('hmac-sha256', engine);
  const shapes: [string, number[], number[], boolean?][] = [
    ['unsorted and duplicate keys', [], [...ld(0x4a, strKv('zeta', u8('1'))), ...ld(0x4a, strKv('alpha', u8('2'))), ...ld(0x4a, strKv('alpha', u8('3')))]],
    ['a KeyValue with two value fields and two keys', [], ld(0x4a, [...ld(0x0a, u8('a')), ...ld(0x12, ld(0x0a, u8('x'))), ...ld(0x0a, u8('b')), ...ld(0x12, [0x18, 7])])],
    ['a value field with no member after one with', [], ld(0x4a, [...ld(0x0a, u8('a')), ...ld(0x12, ld(0x0a, u8('x'))), ...ld(0x12, [])])],
    ['a span name and status given twice', [], [...ld(0x2a, u8('first')), ...ld(0x7a, [0x18, 2]), ...ld(0x2a, u8('second')), ...ld(0x7a, ld(0x12, u8('msg')))]],
    ['invalid UTF-8 in a name and a key', [], [...ld(0x2a, [0x66, 0xff, 0xfe, 0x6f]), ...ld(0x4a, strKv('k\xff', [0xc3]))]],
    ['invalid UTF-8 in long strings', [], [...ld(0x2a, [...Array<number>(30).fill(0x61), 0xff, 0x62]), ...ld(0x4a, strKv('k', [...Array<number>(40).fill(0x63), 0xc3])), ...ld(0x4a, strKv('m', [0xe2, 0x82, ...Array<number>(30).fill(0x64)]))]],
    ['long strings, ASCII and not, next to high bytes', [], [...ld(0x2a, u8('x'.repeat(100))), ...ld(0x4a, strKv('key.'.repeat(10), u8('Ünï ✓ 東京 '.repeat(6)))), ...ld(0x4a, [...ld(0x0a, u8('b')), ...ld(0x12, [0x18, 0xff, 0xff, 0x03])]), ...ld(0x4a, strKv('after.high.bytes', u8('y'.repeat(33))))]],
    ['stale signatures from upstream', [], [...ld(0x4a, strKv('sieve.sig', u8('AAAA'))), ...ld(0x4a, strKv('keep', u8('v'))), ...ld(0x4a, strKv('sieve.sig.kid', u8('old')))]],
    ['chain attributes on the resource', [...ld(0x0a, strKv('sieve.chain.seq', u8('9'))), ...ld(0x0a, strKv('service.name', u8('svc')))], ld(0x4a, strKv('a', u8('b')))],
    ['the resource after its scopes', ld(0x0a, strKv('service.name', u8('svc'))), ld(0x2a, u8('op')), true],
    ['unknown fields everywhere', [...ld(0x0a, strKv('r', u8('1'))), 0xf8, 0x06, 0x01], [0xa0, 0x1f, 0x05, ...ld(0x4a, [...strKv('a', u8('b')), 0x78, 0x01]), ...ld(0x2a, u8('op'))]],
    ['flags, kind and times', [], [0x85, 0x01, 1, 0, 0, 0, 0x30, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x39, 1, 2, 3, 4, 5, 6, 7, 8, 0x41, 8, 7, 6, 5, 4, 3, 2, 1]],
  ];
  for (const [name, res, body, scopeFirst] of shapes) {
    it(name, () => {
      const before = s.declined();
      const { st, out } = s.traces(request(res, body, scopeFirst));
      // The native signer leaves invalid UTF-8 to wire.ts, and signs the rest.
      if (engine === 'native') expect(s.declined() - before).toBe(name.startsWith('invalid UTF-8') ? 1 : 0);
      expect(st.signed).toBe(1);
      const attrs = tracesCodec.decode(out)[0]!.scopeSpans[0]!.spans[0]!.attributes;
      expect(attrs.filter((a) => a.key === 'sieve.sig')).toHaveLength(1);
      expect(attrs.at(-1)).toEqual({ key: 'sieve.sig.kid', value: { type: 'string', value: 'k1' } });
    });
  }

  it('length prefixes padded to four bytes, as tail sampling writes them, also around a scope without spans', () => {
    const pad = (n: number) => [(n & 0x7f) | 0x80, ((n >> 7) & 0x7f) | 0x80, ((n >> 14) & 0x7f) | 0x80, (n >> 21) & 0x7f];
    const lp = (tag: number, body: number[]) => [tag, ...pad(body.length), ...body];
    const spanBody = [...ld(0x2a, u8('op')), ...ld(0x4a, strKv('k', u8('v')))];
    const scope = lp(0x12, [...ld(0x0a, ld(0x0a, u8('lib'))), ...lp(0x12, spanBody), ...ld(0x12, spanBody)]);
    const empty = lp(0x12, ld(0x0a, ld(0x0a, u8('idle'))));
    const res = ld(0x0a, strKv('service.name', u8('svc')));
    const req = Uint8Array.from([...lp(0x0a, [...ld(0x0a, res), ...empty, ...scope]), ...lp(0x0a, [...ld(0x0a, res), ...empty])]);
    const before = s.declined();
    const { st, out } = s.traces(req);
    expect(st.signed).toBe(2);
    expect(s.declined()).toBe(before);
    // The ResourceSpans without spans, and the scope without spans, are carried over with their padded prefixes.
    const tail = [...lp(0x0a, [...ld(0x0a, res), ...empty])];
    expect(Buffer.from(out.subarray(out.length - tail.length)).equals(Buffer.from(tail))).toBe(true);
  });

  it('a Resource given twice in a ResourceSpans, between ones with it once', () => {
    const res = ld(0x0a, strKv('service.name', u8('svc')));
    const other = ld(0x0a, strKv('host.name', u8('h')));
    const spans = ld(0x12, ld(0x12, ld(0x2a, u8('op'))));
    const rs = (...fields: number[][]) => ld(0x0a, fields.flat());
    const req = Uint8Array.from([...rs(ld(0x0a, res), spans), ...rs(ld(0x0a, res), ld(0x0a, other), spans), ...rs(ld(0x0a, res), spans), ...rs(spans, ld(0x0a, res))]);
    const { st, out } = s.traces(req);
    expect(st.signed).toBe(4);
    expect(tracesCodec.decode(out)[1]!.resource.attributes.map((a) => a.key)).toEqual(['service.name', 'host.name']);
  });

  it('values nested over the cap leave the span unsigned, with stale signatures removed', () => {
    let v: AnyValue = { type: 'string', value: 'deep' };
    for (let i = 0; i < 40; i++) v = { type: 'array', value: [v] };
    const rs: ResourceSpans[] = [
      {
        resource: { attributes: [], droppedAttributesCount: 0 },
        scopeSpans: [{ scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0 }, spans: [{ ...sampleSpan(), attributes: [{ key: 'deep', value: v }, { key: 'sieve.sig', value: { type: 'string', value: 'stale' } }] }, sampleSpan()], schemaUrl: '' }],
        schemaUrl: '',
      },
    ];
    const before = s.declined();
    const { st, out } = s.traces(tracesCodec.encode(rs));
    if (engine === 'native') expect(s.declined() - before).toBe(1);
    expect(st).toEqual({ signed: 1, unsignedDepth: 1, unsignedSize: 0 });
    const spans = tracesCodec.decode(out)[0]!.scopeSpans[0]!.spans;
    expect(spans[0]!.attributes.map((a) => a.key)).toEqual(['deep']);
  });

  it('signs as the model does across the signer buffer\'s growth and past the largest request it copies', () => {
    // One signer for all three: a small request, one whose span's form outgrows
    // the room below the request's copy, and one over 4 MiB (no copy).
    const span = (i: number, attrs: number, len: number): Span => ({
      ...sampleSpan(),
      spanId: new Uint8Array(8).fill(i & 0xff),
      name: `op-${i}-${'n'.repeat(30)}`,
      attributes: Array.from({ length: attrs }, (_, k) => ({ key: `attr.${k}.${'k'.repeat(20)}`, value: { type: 'string' as const, value: `${i}-${k}-`.padEnd(len, 'v') + 'é' } })),
    });
    const req = (spans: Span[]) => tracesCodec.encode([{ resource: { attributes: [], droppedAttributesCount: 0 }, scopeSpans: [{ scope: { name: 's', version: '1', attributes: [], droppedAttributesCount: 0 }, spans, schemaUrl: '' }], schemaUrl: '' }]);
    // A span of many small int attributes has a canonical form about 1.3x its
    // encoding. Sized so the request is just under half of the signer's
    // buffer, its form outgrows the room below the copy, and the long strings
    // that sort after the ints are copied after the buffer moved.
    const manyInts = (n: number): Span => ({
      ...sampleSpan(),
      attributes: [
        ...Array.from({ length: n }, (_, k) => ({ key: `a${k.toString(36).padStart(4, '0')}`, value: { type: 'int' as const, value: BigInt(k % 100) } })),
        ...[1, 2, 3].map((k) => ({ key: `zz-${k}`, value: { type: 'string' as const, value: `long-${k}-`.padEnd(100, 'w') } })),
      ],
    });
    const per = (req([manyInts(2000)]).length - req([manyInts(1000)]).length) / 1000;
    const grows = req([manyInts(Math.floor((512 * 1024 - 200) / 2 / per) - 40)]);
    expect(grows.length).toBeLessThan((512 * 1024 - 128) / 2);
    expect(grows.length).toBeGreaterThan(250 * 1024);
    expect(s.traces(grows).st.signed).toBe(1);
    const small = req([span(1, 3, 40), span(2, 3, 40)]);
    const big = req([span(3, 2, 150 * 1024), span(4, 1, 30)]);
    const huge = req(Array.from({ length: 1100 }, (_, i) => span(i, 4, 1000)));
    expect(huge.length).toBeGreaterThan(4 * 1024 * 1024);
    expect(s.traces(small).st.signed).toBe(2);
    expect(s.traces(big).st.signed).toBe(2);
    expect(s.traces(huge).st.signed).toBe(1100);
    expect(s.traces(small).st.signed).toBe(2);
  });

  it('apart from the appended signature, the output is the input', () => {
    const req = tracesCodec.encode([{ resource: { attributes: [], droppedAttributesCount: 0 }, scopeSpans: [{ scope: { name: 's', version: '1', attributes: [], droppedAttributesCount: 0 }, spans: [sampleSpan(), sampleSpan()], schemaUrl: '' }], schemaUrl: '' }]);
    const { out } = s.traces(req);
    const m = tracesCodec.decode(out);
    for (const sp of m[0]!.scopeSpans[0]!.spans) sp.attributes = sp.attributes.filter((a) => !a.key.startsWith('sieve.sig'));
    expect(Buffer.from(tracesCodec.encode(m)).equals(Buffer.from(req))).toBe(true);
  });
});

function sampleSpan(): Span {
  return {
    traceId: new Uint8Array(16).fill(1),
    spanId: new Uint8Array(8).fill(2),
    traceState: '',
    parentSpanId: new Uint8Array(0),
    flags: 0,
    name: 'op',
    kind: 1,
    startTimeUnixNano: 1n,
    endTimeUnixNano: 2n,
    attributes: [{ key: 'a', value: { type: 'string', value: 'b' } }],
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    status: { message: '', code: 0 },
  };
}

for (const engine of ENGINES)
describe(`signing a batch joined from requests (signParts, ${engine})`, () => {
  const secret = Buffer.from('wire-signing-test-key-0123456789');
  const fresh = () => new WireSigner(new Signer('hmac-sha256', secret, 'k1').key, 'k1', RESERVED - ALG_INFO['hmac-sha256'].block, engine === 'native' ? nativeSigning : undefined);
  /** signParts on one signer against sign() of the joined bytes on another: same output, MACs and counts. */
  function check(parts: Uint8Array[], signer = fresh()): Uint8Array | undefined {
    const whole = Buffer.concat(parts);
    const ref = fresh();
    const st1 = stats();
    const macs1: string[] = [];
    const want = ref.sign('traces', whole, st1, macs1);
    const st2 = stats();
    const macs2: string[] = [];
    const got = signer.signParts('traces', parts, st2, macs2);
    expect(st2).toEqual(st1);
    expect(macs2).toEqual(macs1);
    if (got === undefined) expect(Buffer.from(want).equals(whole)).toBe(true);
    else expect(Buffer.from(got).equals(Buffer.from(want))).toBe(true);
    return got;
  }
  const resourceSpans = fc.record({ resource, scopeSpans: fc.array(fc.record({ scope, spans: fc.array(span, { maxLength: 3 }), schemaUrl: fc.constant('') }), { maxLength: 2 }), schemaUrl: fc.constant('') });

  it('random requests, each a part', () => {
    const signer = fresh();
    fc.assert(
      fc.property(fc.array(fc.array(resourceSpans, { minLength: 1, maxLength: 2 }), { minLength: 2, maxLength: 4 }), (reqs) => {
        check(reqs.map((rs) => tracesCodec.encode(rs as ResourceSpans[])), signer);
      }),
      { numRuns: 100 },
    );
  });

  it('gives undefined when the parts hold no span, and signs parts past the largest copy through one buffer', () => {
    const empty = tracesCodec.encode([{ resource: { attributes: [], droppedAttributesCount: 0 }, scopeSpans: [], schemaUrl: '' }]);
    expect(check([empty, empty])).toBeUndefined();
    const one = (i: number, len: number) =>
      tracesCodec.encode([{ resource: { attributes: [], droppedAttributesCount: 0 }, scopeSpans: [{ scope: { name: 's', version: '1', attributes: [], droppedAttributesCount: 0 }, spans: [{ ...sampleSpan(), spanId: new Uint8Array(8).fill(i + 1), attributes: [{ key: 'v', value: { type: 'string', value: 'x'.repeat(len) } }] }], schemaUrl: '' }], schemaUrl: '' }]);
    const signer = fresh();
    // Small, then large enough that the buffer grows, then over 4 MiB in all (no copy), then small again.
    const outs = [
      check([one(0, 10), one(1, 30)], signer),
      check([one(2, 200 * 1024), one(3, 300 * 1024)], signer),
      check([one(4, 2.5 * 1024 * 1024), one(5, 2 * 1024 * 1024)], signer),
      check([one(6, 50), empty, one(7, 5)], signer),
    ];
    const copies = outs.map((o) => Buffer.from(o!));
    // Later calls reuse the signer's buffer: no output lies in it.
    check([one(8, 100 * 1024), one(9, 100 * 1024)], signer);
    outs.forEach((o, i) => expect(Buffer.from(o!).equals(copies[i]!)).toBe(true));
  });
});
