// Redaction on the wire bytes against the model walk: random batches under a
// range of configs must come out the same (decoded) with the same counts, a
// clean request must come back as its own bytes, unknown fields must survive
// an edit, and the shapes whose decode merges fields must still redact as the
// model does.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { logsCodec, tracesCodec } from '../../pdata/codec.js';
import type { AnyValue, KeyValue } from '../../pdata/model.js';
import { Telemetry } from '../../pdata/telemetry.js';
import { harness, kv, logRecord, logs, span, sv, traces } from './testdata/harness.js';

const STRINGS = [
  '',
  'GET',
  '/api/v1/users',
  'checkout-7f9c',
  'alice@example.com',
  'card 4111 1111 1111 1111 ok',
  '4111111111111111',
  'ssn 078-05-1120',
  'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
  'https://bob:hunter2@db.internal/x',
  'https://example.com/cb?token=abc123def456&x=1',
  'AKIAIOSFODNN7EXAMPLE',
  'ghp_1234567890abcdefghijABCDEFGHIJ123456',
  'path /home/alice/.ssh/id_rsa',
  'ünïcödé ✓ 東京',
  'x'.repeat(140),
  'secret-value-' + 'z'.repeat(300),
];
const KEYS = ['http.method', 'user.email', 'password', 'db.statement', 'api_key', 'note', 'authorization', 'keep', 'ignored.one', ''];

const str = fc.constantFrom(...STRINGS);
const anyValue: fc.Memo<AnyValue> = fc.memo((d) =>
  d <= 1
    ? fc.oneof<fc.Arbitrary<AnyValue>[]>(
        str.map((value) => ({ type: 'string', value })),
        fc.integer().map((v) => ({ type: 'int', value: BigInt(v) })),
        fc.boolean().map((value) => ({ type: 'bool', value })),
        fc.constant({ type: 'empty' }),
      )
    : fc.oneof(
        { weight: 3, arbitrary: str.map((value): AnyValue => ({ type: 'string', value })) },
        { weight: 1, arbitrary: fc.array(anyValue(d - 1), { maxLength: 3 }).map((value): AnyValue => ({ type: 'array', value })) },
        { weight: 1, arbitrary: fc.array(keyValue(d - 1), { maxLength: 3 }).map((value): AnyValue => ({ type: 'kvlist', value })) },
        { weight: 1, arbitrary: fc.double({ noNaN: true }).map((value): AnyValue => ({ type: 'double', value })) },
      ),
);
function keyValue(d: number): fc.Arbitrary<KeyValue> {
  return fc.record({ key: fc.constantFrom(...KEYS), value: anyValue(d) });
}
const attrs = fc.array(keyValue(3), { maxLength: 6 });

const spans = fc.array(
  fc.record({ name: str, attrs, status: str, eventName: str, eventAttrs: attrs, linkAttrs: attrs }).map((s) =>
    span(s.name, s.attrs, {
      status: { code: s.status === '' ? 0 : 2, message: s.status },
      events: [{ timeUnixNano: 1n, name: s.eventName, attributes: s.eventAttrs, droppedAttributesCount: 0 }],
      links: [{ traceId: new Uint8Array(16).fill(3), spanId: new Uint8Array(8).fill(4), traceState: '', attributes: s.linkAttrs, droppedAttributesCount: 0, flags: 0 }],
    }),
  ),
  { minLength: 1, maxLength: 4 },
);
const records = fc.array(
  fc.record({ body: anyValue(3), attrs, eventName: str }).map((r) => logRecord(r.body, r.attrs, r.eventName)),
  { minLength: 1, maxLength: 4 },
);

const CONFIGS: Record<string, Record<string, unknown>> = {
  'sieve default': { allow_all_keys: true, path_roots: ['/app'] },
  'allowed_keys (fails closed)': { allowed_keys: ['http.method', 'note', 'keep', 'db.statement'], ignored_keys: ['ignored.one'] },
  'blocked_values and blocked keys': { allow_all_keys: true, blocked_values: ['4[0-9]{12}(?:[0-9]{3})?', 'hunter2'], blocked_key_patterns: ['.*statement'] },
  'keyed hash': { allow_all_keys: true, hash_function: 'hmac-sha256', hmac_key: 'k'.repeat(32) },
  allowed_values: { allow_all_keys: true, allowed_values: ['.*@example\\.com', 'GET'] },
  redact_all_types: { allow_all_keys: true, redact_all_types: true, blocked_values: ['^1'] },
};

describe('redaction on the bytes equals the model walk', () => {
  for (const [name, cfg] of Object.entries(CONFIGS)) {
    it(`traces: ${name}`, async () => {
      const h = await harness(cfg, 'traces');
      await fc.assert(
        fc.asyncProperty(spans, attrs, attrs, async (ss, ra, sa) => {
          // harness.run throws when the two walks disagree in output or counts.
          await h.run(traces(ss, ra, sa));
        }),
        { numRuns: 60 },
      );
    });
    it(`logs: ${name}`, async () => {
      const h = await harness(cfg, 'logs');
      await fc.assert(
        fc.asyncProperty(records, attrs, async (rs, ra) => {
          await h.run(logs(rs, ra));
        }),
        { numRuns: 60 },
      );
    });
  }
});

// Hand-made wire shapes: field bytes spliced into an encoded request.
function varint(v: number): number[] {
  const out: number[] = [];
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return out;
}
const ld = (tag: number, body: Uint8Array | number[]): number[] => [tag, ...varint(body.length), ...body];
const utf8 = (s: string): number[] => [...Buffer.from(s, 'utf8')];

/** A one-span request whose span carries `spanExtra` after its encoded fields (raw field bytes). */
function requestWithSpanBytes(spanExtra: number[]): Uint8Array {
  // request { resource_spans { scope_spans { span { name, extra } } } }
  const spanBody = [...ld(0x2a, utf8('op')), ...spanExtra];
  const scopeSpans = ld(0x12, spanBody);
  const resourceSpans = ld(0x12, scopeSpans);
  return Uint8Array.from(ld(0x0a, resourceSpans));
}

describe('wire shapes', () => {
  it('an unknown field in a span and in an attribute survives an edit next to it', async () => {
    const h = await harness({ allow_all_keys: true });
    const unknownSpan = [...varint((99 << 3) | 2), 3, 7, 7, 7];
    const unknownKv = [...varint((15 << 3) | 0), 42];
    const attr = ld(0x4a, [...ld(0x0a, utf8('user')), ...unknownKv, ...ld(0x12, ld(0x0a, utf8('mail alice@example.com now')))]);
    const req = requestWithSpanBytes([...unknownSpan, ...attr]);
    const got = (await h.run(Telemetry.fromProto('traces', req, 1))).toProto();
    const b = Buffer.from(got);
    expect(b.includes(Buffer.from(unknownSpan))).toBe(true);
    expect(b.includes(Buffer.from(unknownKv))).toBe(true);
    expect(b.includes(Buffer.from('alice@example.com'))).toBe(false);
    expect(tracesCodec.decode(got)[0]!.scopeSpans[0]!.spans[0]!.attributes[0]!.value).toEqual(sv('mail [REDACTED:email] now'));
  });

  it('a clean request comes back as the same bytes object', async () => {
    const h = await harness({ allow_all_keys: true });
    const req = requestWithSpanBytes(ld(0x4a, [...ld(0x0a, utf8('http.method')), ...ld(0x12, ld(0x0a, utf8('GET')))]));
    expect((await h.run(Telemetry.fromProto('traces', req, 1))).toProto()).toBe(req);
  });

  const merged: [string, number[]][] = [
    ['a KeyValue with two value fields', ld(0x4a, [...ld(0x0a, utf8('note')), ...ld(0x12, ld(0x0a, utf8('bob@example.com'))), ...ld(0x12, ld(0x0a, utf8('alice@example.com')))])],
    ['a KeyValue with two key fields', ld(0x4a, [...ld(0x0a, utf8('note')), ...ld(0x0a, utf8('password')), ...ld(0x12, ld(0x0a, utf8('hunter2')))])],
    ['an AnyValue with two oneof members', ld(0x4a, [...ld(0x0a, utf8('note')), ...ld(0x12, [...ld(0x0a, utf8('alice@example.com')), 0x18, 5])])],
    ['an AnyValue whose later member is the string', ld(0x4a, [...ld(0x0a, utf8('note')), ...ld(0x12, [0x18, 5, ...ld(0x0a, utf8('alice@example.com'))])])],
  ];
  for (const [name, bytes] of merged) {
    it(`${name} redacts as the model decodes it`, async () => {
      const h = await harness({ allow_all_keys: true });
      const req = requestWithSpanBytes(bytes);
      const got = tracesCodec.decode((await h.run(Telemetry.fromProto('traces', req, 1))).toProto());
      expect(JSON.stringify(got, (_k, v) => (typeof v === 'bigint' ? String(v) : v))).not.toContain('alice@example.com');
      expect(JSON.stringify(got, (_k, v) => (typeof v === 'bigint' ? String(v) : v))).not.toContain('hunter2');
    });
  }

  it('a log record with two bodies is redacted as the merge decodes it', async () => {
    const h = await harness({ allow_all_keys: true }, 'logs');
    const rec = [...ld(0x2a, ld(0x0a, utf8('from bob@example.com'))), ...ld(0x2a, ld(0x0a, utf8('to alice@example.com')))];
    const req = Uint8Array.from(ld(0x0a, ld(0x12, ld(0x12, rec))));
    const got = logsCodec.decode((await h.run(Telemetry.fromProto('logs', req, 1))).toProto());
    expect(got[0]!.scopeLogs[0]!.logRecords[0]!.body).toEqual(sv('to [REDACTED:email]'));
  });

  it('strings across the 127/128-byte length boundary keep every enclosing length right', async () => {
    const h = await harness({ allow_all_keys: true, hash_function: 'hmac-sha256', hmac_key: 'k'.repeat(32) });
    for (let pad = 100; pad < 140; pad += 3) {
      const v = 'a'.repeat(pad) + ' alice@example.com';
      const t = traces([span('n', [kv('note', v), kv('nested', { type: 'kvlist', value: [kv('deep', { type: 'array', value: [sv(v)] })] })])]);
      const got = (await h.run(t)).read();
      expect(JSON.stringify(got, (_k, x) => (typeof x === 'bigint' ? String(x) : x instanceof Uint8Array ? [...x] : x))).not.toContain('alice@');
    }
  });

  it('a value remembered clean never stands in for other bytes that share its length and sampled bytes', async () => {
    const h = await harness({ allow_all_keys: true });
    // The tables pick a pair of slots from the length and five 4-byte words:
    // at 0, n/4, n/2 - 2, 3n/4 - 4 and n - 4 (for 56 bytes: 0-3, 14-17,
    // 26-29, 38-41, 52-55). Both values below share all of those; only the
    // second holds an email, in bytes 42-51. Their whole attributes (66 bytes,
    // the value at 10) collide the same way in the attribute table. The clean
    // one is seen three times first, so it is in the tables.
    const n = 56;
    const fill = (gap: string) => 'q'.repeat(41) + ' ' + gap + ' ' + 'q'.repeat(3);
    const clean = fill('a'.repeat(10));
    const dirty = fill('ab@cde.com');
    expect(clean.length).toBe(n);
    expect(dirty.length).toBe(n);
    for (const at of [0, n >> 2, (n >> 1) - 2, ((n * 3) >> 2) - 4, n - 4]) expect(dirty.slice(at, at + 4)).toBe(clean.slice(at, at + 4));
    for (let k = 0; k < 3; k++) {
      const req = traces([span('n', [kv('note', clean)])]).toProto();
      expect((await h.run(Telemetry.fromProto('traces', req, 1))).toProto()).toBe(req);
    }
    const got = (await h.run(Telemetry.fromProto('traces', traces([span('n', [kv('note', dirty), kv('again', clean)])]).toProto(), 1))).read();
    const attrs = got[0]!.scopeSpans[0]!.spans[0]!.attributes;
    expect(attrs[0]!.value).toEqual(sv(fill('[REDACTED:email]')));
    expect(attrs[1]!.value).toEqual(sv(clean));
  });

  it('redacts the same while the attribute table rests on traffic that never repeats, and after it resumes', async () => {
    const h = await harness({ allow_all_keys: true });
    // 40 requests of 300 unique attributes send the table to rest (fewer than
    // one hit in eight lookups) and past the end of its rest; every request
    // also carries a secret and two attributes that repeat.
    for (let b = 0; b < 40; b++) {
      const attrs = Array.from({ length: 300 }, (_, i) => kv(`k${i % 20}`, `value-${b}-${i}-https://shop.example.com/items/${b * 300 + i}`));
      attrs.push(kv('note', `mail carol${b}@example.com`), kv('method', 'GET'), kv('route', '/api/cart'));
      const got = (await h.run(traces([span('n', attrs)]))).read();
      const out = got[0]!.scopeSpans[0]!.spans[0]!.attributes;
      expect(out.slice(300).map((a) => a.value)).toEqual([sv('mail [REDACTED:email]'), sv('GET'), sv('/api/cart')]);
      expect(out[7]!.value).toEqual(sv(`value-${b}-7-https://shop.example.com/items/${b * 300 + 7}`));
    }
  });

  it('a key whose values never repeat still has every value scanned, secrets and repeats alike', async () => {
    const h = await harness({ allow_all_keys: true });
    // 300 unique values send the key past the table's miss limit and through
    // a probe; values in between hold a secret or repeat one value.
    for (let i = 0; i < 300; i++) {
      const v = i % 37 === 36 ? `id ${i} for alice${i}@example.com` : i % 11 === 10 ? 'same value each time, long enough' : `https://shop.example.com/items/${i}?ts=${1_700_000_000 + i}`;
      const got = (await h.run(traces([span('n', [kv('url', v)])]))).read();
      const out = got[0]!.scopeSpans[0]!.spans[0]!.attributes[0]!.value;
      expect(out).toEqual(sv(i % 37 === 36 ? `id ${i} for [REDACTED:email]` : v));
    }
  });
});
