import { createHmac } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Consumer, ConsumeResult, ProcessorFactory } from '../../component/component.js';
import { factories } from '../../components.js';
import { unavailableError } from '../../component/errors.js';
import { Issues, s } from '../../config/schema.js';
import type { AnyValue, KeyValue, LogRecord, ResourceLogs, ResourceSpans, Span } from '../../pdata/model.js';
import { splitTelemetry } from '../../pdata/split.js';
import { Telemetry } from '../../pdata/telemetry.js';
import { nopLogger } from '../../service/logger.js';
import { SelfTelemetry } from '../../service/telemetry.js';
import { validateYaml } from '../../service/service.js';
import { logs, traces } from '../../../test/helpers/model.js';
import { tempDir, testHost } from '../../../test/helpers/sieve.js';
import { CanonicalEncoder, MAX_CANONICAL_BYTES, MAX_DEPTH, RECORD_SPAN, canonicalLog, canonicalSpan, compareKeys } from './canonical.js';
import { ChainStamper, SeqRanges, StateFile, STATE_SLOT, joinLine, readStamp, readStateFile, sortDistinct, splitLine } from './chain.js';
import { signingFactory } from './factory.js';
import { signingSchema } from './config.js';
import { HmacKey } from './mac.js';
import { ItemVerifier, Signer } from './sign.js';
import type { Keyring } from './keys.js';

const SECRET = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
const OTHER = Buffer.alloc(32, 0x5a);
const ring = (keys: Record<string, Buffer>): Keyring => ({ keys: new Map(Object.entries(keys)), anyKeys: [], signingKeyId: undefined });

const str = (key: string, value: string): KeyValue => ({ key, value: { type: 'string', value } });
const int = (key: string, value: number): KeyValue => ({ key, value: { type: 'int', value: BigInt(value) } });

/** A span with every covered field set. */
function richTraces(): ResourceSpans[] {
  const sp: Span = {
    traceId: Buffer.from('5b8efff798038103d269b633813fc60c', 'hex'),
    spanId: Buffer.from('eee19b7ec3c1b174', 'hex'),
    parentSpanId: Buffer.from('eee19b7ec3c1b173', 'hex'),
    traceState: 'congo=t61rcWkgMzE',
    flags: 1,
    name: 'GET /cart',
    kind: 2,
    startTimeUnixNano: 1_700_000_000_000_000_000n,
    endTimeUnixNano: 1_700_000_000_250_000_000n,
    attributes: [
      int('http.status_code', 200),
      str('http.method', 'GET'),
      { key: 'retry', value: { type: 'bool', value: false } },
      { key: 'ratio', value: { type: 'double', value: 0.25 } },
      { key: 'blob', value: { type: 'bytes', value: new Uint8Array([1, 2, 3]) } },
      { key: 'tags', value: { type: 'array', value: [{ type: 'string', value: 'a' }, { type: 'int', value: 1n }] } },
      { key: 'map', value: { type: 'kvlist', value: [str('z', '1'), str('a', '2')] } },
    ],
    droppedAttributesCount: 0,
    events: [
      { timeUnixNano: 1_700_000_000_100_000_000n, name: 'cache.miss', attributes: [str('cache.key', 'cart:42')], droppedAttributesCount: 0 },
      { timeUnixNano: 1_700_000_000_200_000_000n, name: 'retry', attributes: [], droppedAttributesCount: 0 },
    ],
    droppedEventsCount: 0,
    links: [{ traceId: Buffer.alloc(16, 3), spanId: Buffer.alloc(8, 4), traceState: 'a=b', attributes: [str('link.kind', 'follows')], droppedAttributesCount: 0, flags: 1 }],
    droppedLinksCount: 0,
    status: { code: 2, message: 'boom' },
  };
  return [
    {
      resource: { attributes: [str('service.name', 'checkout'), int('host.id', 42)], droppedAttributesCount: 0 },
      scopeSpans: [{ scope: { name: 'io.example.shop', version: '1.2.0', attributes: [], droppedAttributesCount: 0 }, spans: [sp], schemaUrl: '' }],
      schemaUrl: '',
    },
  ];
}

function richLogs(): ResourceLogs[] {
  const lr: LogRecord = {
    timeUnixNano: 1_700_000_000_000_000_000n,
    observedTimeUnixNano: 1_700_000_000_000_000_001n,
    severityNumber: 17,
    severityText: 'ERROR',
    body: { type: 'kvlist', value: [str('msg', 'payment failed'), int('code', 402)] },
    attributes: [str('user.id', 'u-1'), int('attempt', 3)],
    droppedAttributesCount: 0,
    flags: 1,
    traceId: Buffer.alloc(16, 1),
    spanId: Buffer.alloc(8, 2),
    eventName: 'payment.failed',
  };
  return [
    {
      resource: { attributes: [str('service.name', 'payments')], droppedAttributesCount: 0 },
      scopeLogs: [{ scope: { name: 'pay', version: '2', attributes: [], droppedAttributesCount: 0 }, logRecords: [lr], schemaUrl: '' }],
      schemaUrl: '',
    },
  ];
}

function verifyTraces(rs: readonly ResourceSpans[], keys: Keyring = ring({ k1: SECRET })) {
  const v = new ItemVerifier(keys);
  const out: ReturnType<ItemVerifier['checkSpan']>[] = [];
  for (const r of rs) {
    v.beginResource('span', r.resource.attributes);
    for (const ss of r.scopeSpans) {
      v.beginScope(ss.scope);
      for (const sp of ss.spans) out.push(v.checkSpan(sp));
    }
  }
  return out;
}

function verifyLogs(rl: readonly ResourceLogs[], keys: Keyring = ring({ k1: SECRET })) {
  const v = new ItemVerifier(keys);
  const out: ReturnType<ItemVerifier['checkLog']>[] = [];
  for (const r of rl) {
    v.beginResource('log', r.resource.attributes);
    for (const sl of r.scopeLogs) {
      v.beginScope(sl.scope);
      for (const lr of sl.logRecords) out.push(v.checkLog(lr));
    }
  }
  return out;
}

function signedTraces(): ResourceSpans[] {
  const rs = richTraces();
  new Signer('hmac-sha256', SECRET, 'k1').signTraces(rs);
  return rs;
}

const sigOf = (attrs: readonly KeyValue[]) => (attrs.find((a) => a.key === 'sieve.sig')!.value as { value: string }).value;

describe('canonical form', () => {
  it('matches the test vector in docs/signing.md', () => {
    const doc = readFileSync(new URL('../../../docs/signing.md', import.meta.url), 'utf8');
    const block = (marker: string) => {
      const at = doc.indexOf(`<!-- test-vector:${marker} -->`);
      expect(at).toBeGreaterThan(0);
      const start = doc.indexOf('```text\n', at) + 8;
      return doc.slice(start, doc.indexOf('```', start));
    };
    const hex = block('span:canonical')
      .split('\n')
      .map((l) => l.split('#')[0]!.replace(/\s+/g, ''))
      .join('');
    const sigs = Object.fromEntries(
      block('span:sig')
        .trim()
        .split('\n')
        .map((l) => l.trim().split(/\s+/) as [string, string]),
    );
    const span: Span = {
      traceId: Buffer.from('5b8efff798038103d269b633813fc60c', 'hex'),
      spanId: Buffer.from('eee19b7ec3c1b174', 'hex'),
      parentSpanId: Buffer.from('eee19b7ec3c1b173', 'hex'),
      traceState: '',
      flags: 1,
      name: 'GET /cart',
      kind: 2,
      startTimeUnixNano: 1_700_000_000_000_000_000n,
      endTimeUnixNano: 1_700_000_000_250_000_000n,
      attributes: [int('http.status_code', 200), str('http.method', 'GET'), { key: 'retry', value: { type: 'bool', value: false } }],
      droppedAttributesCount: 0,
      events: [{ timeUnixNano: 1_700_000_000_100_000_000n, name: 'cache.miss', attributes: [str('cache.key', 'cart:42')], droppedAttributesCount: 0 }],
      droppedEventsCount: 0,
      links: [],
      droppedLinksCount: 0,
      status: { code: 0, message: '' },
    };
    const resource = [str('service.name', 'checkout'), int('host.id', 42)];
    const scope = { name: 'io.example.shop', version: '1.2.0', attributes: [], droppedAttributesCount: 0 };
    const canon = canonicalSpan(resource, scope, span);
    expect(canon.length).toBe(308);
    expect(canon.toString('hex')).toBe(hex);
    expect(createHmac('sha256', SECRET).update(canon).digest('base64')).toBe(sigs['hmac-sha256']);
    expect(createHmac('sha512', SECRET).update(canon).digest('base64')).toBe(sigs['hmac-sha512']);
    // The processor's signer produces the same values.
    for (const alg of ['hmac-sha256', 'hmac-sha512'] as const) {
      const rs: ResourceSpans[] = [{ resource: { attributes: resource, droppedAttributesCount: 0 }, scopeSpans: [{ scope, spans: [structuredClone(span)], schemaUrl: '' }], schemaUrl: '' }];
      new Signer(alg, SECRET, 'k1').signTraces(rs);
      const attrs = rs[0]!.scopeSpans[0]!.spans[0]!.attributes;
      expect(sigOf(attrs)).toBe(sigs[alg]);
      expect(attrs.find((a) => a.key === 'sieve.sig.kid')!.value).toEqual({ type: 'string', value: 'k1' });
      // Signing again over a signed span gives the same form (sieve.sig* excluded).
      expect(canonicalSpan(resource, scope, rs[0]!.scopeSpans[0]!.spans[0]!).equals(canon)).toBe(true);
    }
  });

  it('tags value types: int 1, double 1, string "1", bytes "1" and bool true all differ', () => {
    const values: AnyValue[] = [
      { type: 'int', value: 1n },
      { type: 'double', value: 1 },
      { type: 'string', value: '1' },
      { type: 'bytes', value: new Uint8Array([0x31]) },
      { type: 'bool', value: true },
      { type: 'array', value: [{ type: 'int', value: 1n }] },
      { type: 'kvlist', value: [] },
      { type: 'empty' },
    ];
    const forms = values.map((v) => {
      const rs = richTraces();
      rs[0]!.scopeSpans[0]!.spans[0]!.attributes = [{ key: 'x', value: v }];
      return canonicalSpan(rs[0]!.resource.attributes, rs[0]!.scopeSpans[0]!.scope, rs[0]!.scopeSpans[0]!.spans[0]!).toString('hex');
    });
    expect(new Set(forms).size).toBe(values.length);
  });

  it('normalises -0 and NaN the way JSON round trips leave them', () => {
    const form = (d: number) => {
      const rs = richTraces();
      rs[0]!.scopeSpans[0]!.spans[0]!.attributes = [{ key: 'x', value: { type: 'double', value: d } }];
      return canonicalSpan([], rs[0]!.scopeSpans[0]!.scope, rs[0]!.scopeSpans[0]!.spans[0]!).toString('hex');
    };
    expect(form(-0)).toBe(form(0));
    expect(form(NaN)).toBe(form(Number.NaN));
    expect(form(NaN)).toContain('7ff8000000000000');
  });

  it('sorts keys by UTF-8 bytes, not UTF-16 units', () => {
    // UTF-16 puts U+FF61 after U+1F600 (FF61 > D83D); UTF-8 before it (EF BD A1 < F0 9F 98 80).
    expect('\uff61' < '\u{1f600}').toBe(false);
    expect(compareKeys('\uff61', '\u{1f600}')).toBeLessThan(0);
    // The surrogate of U+10000 (D800) sorts below U+E000 in UTF-16, above it in UTF-8.
    expect(compareKeys('\u{10000}', '\ue000')).toBeGreaterThan(0);
    expect(compareKeys('a', 'ab')).toBeLessThan(0);
    expect(compareKeys('b', 'a')).toBeGreaterThan(0);
    expect(compareKeys('same', 'same')).toBe(0);
  });

  it('covers log records: every field changes the form', () => {
    const base = canonicalLog(richLogs()[0]!.resource.attributes, richLogs()[0]!.scopeLogs[0]!.scope, richLogs()[0]!.scopeLogs[0]!.logRecords[0]!).toString('hex');
    const muts: [string, (l: LogRecord) => void][] = [
      ['time', (l) => (l.timeUnixNano += 1n)],
      ['observed time', (l) => (l.observedTimeUnixNano += 1n)],
      ['severity number', (l) => (l.severityNumber = 18)],
      ['severity text', (l) => (l.severityText = 'WARN')],
      ['body', (l) => (l.body = { type: 'string', value: 'x' })],
      ['attributes', (l) => l.attributes.push(str('new', '1'))],
      ['flags', (l) => (l.flags = 0)],
      ['trace id', (l) => (l.traceId = Buffer.alloc(16, 9))],
      ['span id', (l) => (l.spanId = Buffer.alloc(8, 9))],
      ['event name', (l) => (l.eventName = 'other')],
    ];
    for (const [name, mut] of muts) {
      const rl = richLogs();
      mut(rl[0]!.scopeLogs[0]!.logRecords[0]!);
      expect(canonicalLog(rl[0]!.resource.attributes, rl[0]!.scopeLogs[0]!.scope, rl[0]!.scopeLogs[0]!.logRecords[0]!).toString('hex'), name).not.toBe(base);
    }
  });

  it('reuses the cached key order only when the keys match', () => {
    const enc = new CanonicalEncoder();
    const rs = richTraces();
    const sp = rs[0]!.scopeSpans[0]!.spans[0]!;
    enc.beginResource(RECORD_SPAN, rs[0]!.resource.attributes);
    enc.beginScope(rs[0]!.scopeSpans[0]!.scope);
    const a = enc.canonical(enc.span(sp));
    const other = structuredClone(sp);
    other.attributes.reverse();
    other.attributes[0] = str('zzz', 'x');
    const b = enc.canonical(enc.span(other));
    const fresh = canonicalSpan(rs[0]!.resource.attributes, rs[0]!.scopeSpans[0]!.scope, other);
    expect(b.equals(fresh)).toBe(true);
    expect(enc.canonical(enc.span(sp)).equals(a)).toBe(true);
  });
});

describe('HMAC', () => {
  it('equals crypto.createHmac for short, block-sized and long keys', () => {
    for (const alg of ['hmac-sha256', 'hmac-sha512'] as const) {
      for (const len of [16, 32, 64, 128, 200]) {
        const secret = Buffer.alloc(len, 0x42);
        const k = new HmacKey(alg, secret);
        const msg = Buffer.from('the message');
        const buf = Buffer.alloc(k.info.block + msg.length);
        k.writeIpad(buf);
        msg.copy(buf, k.info.block);
        const want = createHmac(k.info.hash, secret).update(msg).digest();
        expect(Buffer.from(k.macOfPrepared(buf, 0, buf.length), 'base64').equals(want), `${alg} ${len}`).toBe(true);
        expect(k.mac(msg).equals(want)).toBe(true);
      }
    }
  });
});

describe('field tampering', () => {
  it('a signed span verifies, with its key id', () => {
    const res = verifyTraces(signedTraces());
    expect(res).toEqual([expect.objectContaining({ ok: true, kid: 'k1', alg: 'hmac-sha256' })]);
  });

  const spanCases: [string, (rs: ResourceSpans[]) => void][] = [
    ['a flipped bit in the trace id', (rs) => (rs[0]!.scopeSpans[0]!.spans[0]!.traceId[3]! ^= 0x01)],
    ['a flipped bit in the span id', (rs) => (rs[0]!.scopeSpans[0]!.spans[0]!.spanId[0]! ^= 0x80)],
    ['a flipped bit in the parent span id', (rs) => (rs[0]!.scopeSpans[0]!.spans[0]!.parentSpanId[7]! ^= 0x01)],
    ['a removed parent span id', (rs) => (rs[0]!.scopeSpans[0]!.spans[0]!.parentSpanId = new Uint8Array(0))],
    ['a changed trace state', (rs) => (rs[0]!.scopeSpans[0]!.spans[0]!.traceState = 'congo=t61rcWkgMzF')],
    ['changed flags', (rs) => (rs[0]!.scopeSpans[0]!.spans[0]!.flags = 0)],
    ['a changed name', (rs) => (rs[0]!.scopeSpans[0]!.spans[0]!.name = 'GET /cart ')],
    ['a changed kind', (rs) => (rs[0]!.scopeSpans[0]!.spans[0]!.kind = 3)],
    ['a changed start time', (rs) => (rs[0]!.scopeSpans[0]!.spans[0]!.startTimeUnixNano -= 1n)],
    ['a changed end time', (rs) => (rs[0]!.scopeSpans[0]!.spans[0]!.endTimeUnixNano += 1_000_000n)],
    ['a changed status code', (rs) => (rs[0]!.scopeSpans[0]!.spans[0]!.status.code = 1)],
    ['a changed status message', (rs) => (rs[0]!.scopeSpans[0]!.spans[0]!.status.message = '')],
    ['a changed attribute value', (rs) => (rs[0]!.scopeSpans[0]!.spans[0]!.attributes[1]!.value = { type: 'string', value: 'POST' })],
    ['int 200 turned into string "200"', (rs) => (rs[0]!.scopeSpans[0]!.spans[0]!.attributes[0]!.value = { type: 'string', value: '200' })],
    ['int 200 turned into double 200', (rs) => (rs[0]!.scopeSpans[0]!.spans[0]!.attributes[0]!.value = { type: 'double', value: 200 })],
    ['a changed attribute key', (rs) => (rs[0]!.scopeSpans[0]!.spans[0]!.attributes[1]!.key = 'http.verb')],
    ['an added attribute', (rs) => rs[0]!.scopeSpans[0]!.spans[0]!.attributes.push(str('injected', '1'))],
    ['a removed attribute', (rs) => rs[0]!.scopeSpans[0]!.spans[0]!.attributes.splice(2, 1)],
    ['a changed nested kvlist value', (rs) => ((rs[0]!.scopeSpans[0]!.spans[0]!.attributes[6]!.value as { value: KeyValue[] }).value[0]!.value = { type: 'string', value: '9' })],
    ['a reordered array', (rs) => (rs[0]!.scopeSpans[0]!.spans[0]!.attributes[5]!.value as { value: AnyValue[] }).value.reverse()],
    ['a flipped bit in a bytes value', (rs) => ((rs[0]!.scopeSpans[0]!.spans[0]!.attributes[4]!.value as { value: Uint8Array }).value[0]! ^= 1)],
    ['a removed event', (rs) => rs[0]!.scopeSpans[0]!.spans[0]!.events.pop()],
    ['reordered events', (rs) => rs[0]!.scopeSpans[0]!.spans[0]!.events.reverse()],
    ['a changed event time', (rs) => (rs[0]!.scopeSpans[0]!.spans[0]!.events[0]!.timeUnixNano += 1n)],
    ['a changed event attribute', (rs) => (rs[0]!.scopeSpans[0]!.spans[0]!.events[0]!.attributes[0] = str('cache.key', 'cart:43'))],
    ['a removed link', (rs) => rs[0]!.scopeSpans[0]!.spans[0]!.links.pop()],
    ['a changed link span id', (rs) => (rs[0]!.scopeSpans[0]!.spans[0]!.links[0]!.spanId[0]! ^= 1)],
    ['a changed resource attribute', (rs) => (rs[0]!.resource.attributes[0] = str('service.name', 'cart'))],
    ['an added resource attribute', (rs) => rs[0]!.resource.attributes.push(str('env', 'prod'))],
    ['a changed scope name', (rs) => (rs[0]!.scopeSpans[0]!.scope.name = 'io.example.other')],
    ['a changed scope version', (rs) => (rs[0]!.scopeSpans[0]!.scope.version = '1.2.1')],
    ['a changed sieve.sig', (rs) => {
      const a = rs[0]!.scopeSpans[0]!.spans[0]!.attributes.find((x) => x.key === 'sieve.sig')!;
      const b = Buffer.from((a.value as { value: string }).value, 'base64');
      b[0]! ^= 1;
      a.value = { type: 'string', value: b.toString('base64') };
    }],
  ];
  it.each(spanCases)('%s fails verification', (_name, mut) => {
    const rs = signedTraces();
    mut(rs);
    const [res] = verifyTraces(rs);
    expect(res).toMatchObject({ ok: false, code: 'mismatch' });
  });

  it('reordered span, resource, event and nested attributes still verify', () => {
    const rs = signedTraces();
    const sp = rs[0]!.scopeSpans[0]!.spans[0]!;
    sp.attributes.reverse();
    rs[0]!.resource.attributes.reverse();
    (sp.attributes.find((a) => a.key === 'map')!.value as { value: KeyValue[] }).value.reverse();
    sp.events[0]!.attributes.push(str('b', '1'));
    const rs2 = signedTraces();
    rs2[0]!.scopeSpans[0]!.spans[0]!.events[0]!.attributes.push(str('b', '1'));
    new Signer('hmac-sha256', SECRET, 'k1').signTraces(rs2);
    rs2[0]!.scopeSpans[0]!.spans[0]!.events[0]!.attributes.reverse();
    expect(verifyTraces(rs2)[0]).toMatchObject({ ok: true });
    sp.events[0]!.attributes.pop();
    expect(verifyTraces(rs)[0]).toMatchObject({ ok: true });
  });

  it('dropped counts, schema URLs and scope attributes are not covered (documented)', () => {
    const rs = signedTraces();
    rs[0]!.scopeSpans[0]!.spans[0]!.droppedAttributesCount = 5;
    rs[0]!.schemaUrl = 'https://opentelemetry.io/schemas/1.21.0';
    rs[0]!.scopeSpans[0]!.scope.attributes.push(str('x', 'y'));
    expect(verifyTraces(rs)[0]).toMatchObject({ ok: true });
  });

  it('log records: signed ones verify; tampering fails', () => {
    const rl = richLogs();
    new Signer('hmac-sha512', SECRET, 'k1').signLogs(rl);
    expect(verifyLogs(rl)[0]).toMatchObject({ ok: true, alg: 'hmac-sha512' });
    const lr = rl[0]!.scopeLogs[0]!.logRecords[0]!;
    lr.attributes.reverse();
    expect(verifyLogs(rl)[0]).toMatchObject({ ok: true });
    (lr.body as { value: KeyValue[] }).value[0] = str('msg', 'payment ok');
    expect(verifyLogs(rl)[0]).toMatchObject({ ok: false, code: 'mismatch' });
  });

  it('unsigned and malformed records are reported as such', () => {
    const rs = richTraces();
    expect(verifyTraces(rs)[0]).toMatchObject({ ok: false, code: 'unsigned' });
    rs[0]!.scopeSpans[0]!.spans[0]!.attributes.push(str('sieve.sig', 'not base64!'), str('sieve.sig.kid', 'k1'));
    expect(verifyTraces(rs)[0]).toMatchObject({ ok: false, code: 'malformed' });
  });
});

describe('keys', () => {
  it('a wrong key fails', () => {
    const rs = signedTraces();
    expect(verifyTraces(rs, ring({ k1: OTHER }))[0]).toMatchObject({ ok: false, code: 'mismatch' });
    expect(verifyTraces(rs, ring({ k2: SECRET }))[0]).toMatchObject({ ok: false, code: 'unknown_key' });
  });

  it('a rotated key still verifies old data', () => {
    const old = signedTraces(); // k1
    const fresh = richTraces();
    new Signer('hmac-sha256', OTHER, 'k2').signTraces(fresh);
    const both = ring({ k1: SECRET, k2: OTHER });
    expect(verifyTraces(old, both)[0]).toMatchObject({ ok: true, kid: 'k1' });
    expect(verifyTraces(fresh, both)[0]).toMatchObject({ ok: true, kid: 'k2' });
    // Re-signing with the new key replaces the old signature.
    new Signer('hmac-sha256', OTHER, 'k2').signTraces(old);
    const attrs = old[0]!.scopeSpans[0]!.spans[0]!.attributes;
    expect(attrs.filter((a) => a.key === 'sieve.sig')).toHaveLength(1);
    expect(verifyTraces(old, both)[0]).toMatchObject({ ok: true, kid: 'k2' });
  });
});

describe('caps', () => {
  it(`leaves records nested deeper than ${MAX_DEPTH} unsigned and counts them`, async () => {
    let v: AnyValue = { type: 'string', value: 'leaf' };
    for (let i = 0; i < MAX_DEPTH; i++) v = { type: 'array', value: [v] };
    const rs = traces(3, 2);
    rs[0]!.scopeSpans[0]!.spans[1]!.attributes.push({ key: 'deep', value: v }, str('sieve.sig', 'stale'));
    const { proc, telemetry, out } = await processor({});
    await proc.consume(Telemetry.traces(rs));
    const spans = (out[0]!.read() as ResourceSpans[])[0]!.scopeSpans[0]!.spans;
    expect(spans.map((s) => s.attributes.some((a) => a.key === 'sieve.sig'))).toEqual([true, false, true]);
    expect(await telemetry.value('sieve_signing_unsigned_items', { reason: 'depth' })).toBe(1);
    expect(await telemetry.value('sieve_signing_signed_items')).toBe(2);
    expect(verifyTraces(out[0]!.read() as ResourceSpans[])[1]).toMatchObject({ ok: false, code: 'unsigned' });
  });

  it('depth exactly at the cap is signed', () => {
    let v: AnyValue = { type: 'string', value: 'leaf' };
    for (let i = 1; i < MAX_DEPTH; i++) v = { type: 'array', value: [v] };
    const rs = traces(1, 0);
    rs[0]!.scopeSpans[0]!.spans[0]!.attributes.push({ key: 'deep', value: v });
    expect(new Signer('hmac-sha256', SECRET, 'k1').signTraces(rs).signed).toBe(1);
  });

  it(`leaves records larger than ${MAX_CANONICAL_BYTES} bytes unsigned`, () => {
    const rs = traces(2, 1);
    rs[0]!.scopeSpans[0]!.spans[0]!.attributes.push(str('big', 'x'.repeat(MAX_CANONICAL_BYTES)));
    const st = new Signer('hmac-sha256', SECRET, 'k1').signTraces(rs);
    expect(st).toEqual({ signed: 1, unsignedDepth: 0, unsignedSize: 1 });
    expect(verifyTraces(rs).map((r) => r.ok)).toEqual([false, true]);
  });
});

// ---------------------------------------------------------------- processor

const settings = (over: Partial<{ now: () => number; dataDir: string }> = {}) => ({
  id: 'signing',
  kind: 'processor' as const,
  logger: nopLogger,
  telemetry: new SelfTelemetry(),
  instanceId: 'inst-1',
  pipelineId: 'traces/default',
  now: Date.now,
  ...over,
});

function parse(raw: unknown) {
  const issues = new Issues();
  const cfg = signingSchema.parse(raw, ['processors', 'signing'], issues);
  if (!issues.hasErrors()) signingFactory.validate!(cfg, ['processors', 'signing'], issues);
  return { cfg, issues };
}

class Sink implements Consumer {
  readonly mutatesData = false;
  out: Telemetry[] = [];
  fail: Error | undefined;
  partial: number | undefined;
  async consume(d: Telemetry): Promise<ConsumeResult> {
    if (this.fail) throw this.fail;
    this.out.push(d);
    if (this.partial) return { rejected: this.partial, errorMessage: 'some refused' };
  }
}

async function processor(raw: Record<string, unknown>, over: Parameters<typeof settings>[0] = {}) {
  const { cfg, issues } = parse({ keys: [{ id: 'k1', secret: 'hex:' + SECRET.toString('hex') }], ...raw });
  expect(issues.errors).toEqual([]);
  const s = settings(over);
  const sink = new Sink();
  const proc = signingFactory.create(s, cfg, 'traces', sink);
  await proc.start(testHost(s.telemetry));
  return { proc, telemetry: s.telemetry, out: sink.out, sink };
}

describe('signing processor', () => {
  const valid: [string, Record<string, unknown>, Record<string, unknown>][] = [
    ['one inline key signs by default', { keys: [{ id: 'k1', secret: 'x'.repeat(32) }] }, { algorithm: 'hmac-sha256', chain: false, signing_key_id: undefined }],
    ['sha512 and a signing key among several', { algorithm: 'hmac-sha512', signing_key_id: 'k2', keys: [{ id: 'k1', secret: 'x'.repeat(32) }, { id: 'k2', secret: 'base64:' + Buffer.alloc(32, 1).toString('base64') }] }, { algorithm: 'hmac-sha512', signing_key_id: 'k2' }],
    ['chain with a state directory', { chain: true, state_directory: '/var/lib/sieve', keys: [{ id: 'k1', secret: 'x'.repeat(32) }] }, { chain: true, state_directory: '/var/lib/sieve', state_fsync: false }],
    ['chain with fsync', { chain: true, state_directory: '/d', state_fsync: true, keys: [{ id: 'k1', secret: 'x'.repeat(32) }] }, { state_fsync: true }],
  ];
  it.each(valid)('valid config: %s', (_n, raw, want) => {
    const { cfg, issues } = parse(raw);
    expect(issues.errors).toEqual([]);
    expect(cfg).toMatchObject(want);
  });

  const invalid: [string, Record<string, unknown>, string, string][] = [
    ['no keys', {}, 'processors::signing::keys', 'no keys configured: set key_file or keys'],
    ['unknown algorithm', { algorithm: 'md5', keys: [{ id: 'k1', secret: 'x'.repeat(32) }] }, 'processors::signing::algorithm', 'must be one of "hmac-sha256", "hmac-sha512", got "md5"'],
    ['short secret', { keys: [{ id: 'k1', secret: 'short' }] }, 'processors::signing::keys', 'key "k1" is 5 bytes; at least 16 are required (32 recommended)'],
    ['empty secret (unset env)', { keys: [{ id: 'k1', secret: '' }] }, 'processors::signing::keys::0::secret', 'must not be empty'],
    ['bad key id', { keys: [{ id: 'k 1', secret: 'x'.repeat(32) }] }, 'processors::signing::keys::0::id', 'must match ^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$, got "k 1"'],
    ['duplicate key id', { keys: [{ id: 'k1', secret: 'x'.repeat(32) }, { id: 'k1', secret: 'y'.repeat(32) }] }, 'processors::signing::keys::1::id', 'key id "k1" is configured twice'],
    ['signing key id missing with two keys', { keys: [{ id: 'k1', secret: 'x'.repeat(32) }, { id: 'k2', secret: 'y'.repeat(32) }] }, 'processors::signing::signing_key_id', 'signing_key_id is required when several keys are configured (k1, k2)'],
    ['unknown signing key id', { signing_key_id: 'k9', keys: [{ id: 'k1', secret: 'x'.repeat(32) }] }, 'processors::signing::signing_key_id', 'signing_key_id "k9" is not among the configured keys (k1)'],
    ['bad base64 secret', { keys: [{ id: 'k1', secret: 'base64:***' }] }, 'processors::signing::keys::0::secret', 'secret with "base64:" prefix is not valid base64'],
    ['missing key file', { key_file: '/nonexistent/keys.yaml' }, 'processors::signing::key_file', 'cannot read key file /nonexistent/keys.yaml: ENOENT'],
    ['unknown key', { keys: [{ id: 'k1', secret: 'x'.repeat(32) }], chains: true }, 'processors::signing::chains', 'unknown key "chains" (did you mean "chain"?)'],
  ];
  it.each(invalid)('invalid config: %s', (_n, raw, path, message) => {
    const { issues } = parse(raw);
    expect(issues.errors.map((e) => [e.path.join('::'), e.message])).toContainEqual([path, message]);
  });

  it('warns on a secret shorter than 32 bytes', () => {
    const { issues } = parse({ keys: [{ id: 'k1', secret: 'x'.repeat(20) }] });
    expect(issues.errors).toEqual([]);
    expect(issues.warnings.map((w) => [w.path.join('::'), w.message])).toEqual([['processors::signing::keys::0::secret', 'is 20 bytes; 32 or more are recommended']]);
  });

  it('reads keys from a key file; its key signs when named', async () => {
    const dir = tempDir();
    const file = join(dir, 'keys.yaml');
    writeFileSync(file, `keys:\n  - id: old\n    secret: "hex:${OTHER.toString('hex')}"\n  - id: new\n    secret: "base64:${SECRET.toString('base64')}"\n`);
    const { cfg, issues } = parse({ key_file: file, signing_key_id: 'new' });
    expect(issues.errors).toEqual([]);
    const sink = new Sink();
    const proc = signingFactory.create(settings(), cfg, 'traces', sink);
    await proc.start(testHost());
    await proc.consume(Telemetry.traces(richTraces()));
    expect(verifyTraces(sink.out[0]!.read() as ResourceSpans[], ring({ new: SECRET }))[0]).toMatchObject({ ok: true, kid: 'new' });
    await proc.shutdown();
  });

  it('signs spans and log records flowing through it; metrics pass untouched', async () => {
    const { cfg } = parse({ keys: [{ id: 'k1', secret: 'hex:' + SECRET.toString('hex') }] });
    for (const signal of ['traces', 'logs'] as const) {
      const sink = new Sink();
      const s = settings();
      const proc = signingFactory.create(s, cfg, signal, sink);
      await proc.start(testHost(s.telemetry));
      await proc.consume(signal === 'traces' ? Telemetry.traces(traces(5, 20)) : Telemetry.logs(logs(4)));
      const got = sink.out[0]!;
      const res = signal === 'traces' ? verifyTraces(got.read() as ResourceSpans[]) : verifyLogs(got.read() as ResourceLogs[]);
      expect(res.every((r) => r.ok)).toBe(true);
      expect(res).toHaveLength(signal === 'traces' ? 5 : 4);
      expect(await s.telemetry.value('sieve_signing_signed_items', { signal })).toBe(res.length);
      await proc.shutdown();
      await proc.shutdown();
      await expect(proc.consume(Telemetry.traces(traces(1)))).rejects.toMatchObject({ kind: 'unavailable' });
    }
    expect(signingFactory.signals).toEqual({ traces: 'alpha', logs: 'alpha' });
    expect(signingFactory.mutatesData).toBe(true);
  });

  it('shutdown without start is safe', async () => {
    const { cfg } = parse({ keys: [{ id: 'k1', secret: 'x'.repeat(32) }], chain: true, state_directory: tempDir() });
    const proc = signingFactory.create(settings(), cfg, 'traces', new Sink());
    await proc.shutdown();
    await proc.shutdown();
  });

  it('chain: true needs a state directory or service.data_dir', () => {
    const { cfg } = parse({ keys: [{ id: 'k1', secret: 'x'.repeat(32) }], chain: true });
    expect(() => signingFactory.create(settings(), cfg, 'traces', new Sink())).toThrow('chain: true needs state_directory (or service.data_dir)');
    expect(() => signingFactory.create(settings({ dataDir: tempDir() }), cfg, 'traces', new Sink())).not.toThrow();
  });

  it('validation warns when redaction comes after signing, not when batch does', () => {
    const redaction: ProcessorFactory = { ...signingFactory, type: 'redaction', schema: s.object({}), validate: undefined };
    const yaml = (order: string) => `
receivers: { otlp: { protocols: { grpc: { endpoint: "127.0.0.1:0" } } } }
processors:
  signing: { keys: [{ id: k1, secret: "${'x'.repeat(32)}" }] }
  redaction: {}
  batch: {}
exporters: { debug: {} }
service:
  pipelines:
    traces: { receivers: [otlp], processors: [${order}], exporters: [debug] }
`;
    // A stand-in redaction processor: only the order matters here.
    const withRedaction = [...factories.filter((f) => !(f.kind === 'processor' && f.type === 'redaction')), redaction];
    const fine = validateYaml(yaml('redaction, signing, batch'), withRedaction);
    expect(fine.errors).toEqual([]);
    expect(fine.warnings).toEqual([]);
    const wrong = validateYaml(yaml('signing, redaction, batch'), withRedaction);
    expect(wrong.errors).toEqual([]);
    expect(wrong.warnings).toHaveLength(1);
    expect(wrong.warnings[0]).toContain('service::pipelines::traces::processors::1: processor "redaction" changes data after "signing" signed it');
  });
});

// ---------------------------------------------------------------- batch chain

describe('batch chain', () => {
  it('stamps every resource with a MAC-ed link and persists the head', async () => {
    const dir = tempDir();
    const { proc, out } = await processor({ chain: true, state_directory: dir });
    const two: ResourceSpans[] = [...traces(2), ...traces(1, 5, 10)];
    await proc.consume(Telemetry.traces(two));
    await proc.consume(Telemetry.traces(traces(3)));
    await proc.shutdown();
    const stamps = out.map((t) => (t.read() as ResourceSpans[]).map((r) => readStamp(r.resource.attributes)));
    expect(stamps[0]).toHaveLength(2);
    const [a, b] = [stamps[0]![0], stamps[1]![0]] as [Exclude<ReturnType<typeof readStamp>, string | undefined>, Exclude<ReturnType<typeof readStamp>, string | undefined>];
    expect(stamps[0]![1]).toEqual(a);
    expect(a).toMatchObject({ stream: 'inst-1/traces/default', seq: 1, prev: '', count: 3, kid: 'k1', void: '' });
    expect(b).toMatchObject({ seq: 2, prev: a.digest, count: 3 });
    const state = readStateFile(join(dir, 'chain-signing-traces_default.json'))!.state;
    expect(state).toMatchObject({ version: 1, kind: 'batch', stream: 'inst-1/traces/default', seq: 2, digest: b.digest, unacked: '' });
    // Record signatures ignore the chain attributes.
    expect(verifyTraces(out[0]!.read() as ResourceSpans[]).every((r) => r.ok)).toBe(true);
  });

  it('continues across restarts (state file) under the same stream', async () => {
    const dir = tempDir();
    let p = await processor({ chain: true, state_directory: dir });
    await p.proc.consume(Telemetry.traces(traces(1)));
    await p.proc.shutdown();
    const first = readStamp((p.out[0]!.read() as ResourceSpans[])[0]!.resource.attributes) as { digest: string };
    p = await processor({ chain: true, state_directory: dir });
    await p.proc.consume(Telemetry.traces(traces(1)));
    await p.proc.shutdown();
    expect(readStamp((p.out[0]!.read() as ResourceSpans[])[0]!.resource.attributes)).toMatchObject({ seq: 2, prev: first.digest });
  });

  it('announces refused batches as void in the next link', async () => {
    const dir = tempDir();
    const { proc, out, sink } = await processor({ chain: true, state_directory: dir });
    await proc.consume(Telemetry.traces(traces(1)));
    sink.fail = unavailableError('down', 100);
    await expect(proc.consume(Telemetry.traces(traces(1)))).rejects.toThrow('down');
    await expect(proc.consume(Telemetry.traces(traces(1)))).rejects.toThrow('down');
    sink.fail = undefined;
    await proc.consume(Telemetry.traces(traces(1)));
    await proc.consume(Telemetry.traces(traces(1)));
    await proc.shutdown();
    const st = out.map((t) => readStamp((t.read() as ResourceSpans[])[0]!.resource.attributes) as { seq: number; void: string });
    expect(st.map((s) => [s.seq, s.void])).toEqual([[1, ''], [4, '2-3'], [5, '']]);
  });

  it('a batch in flight at a crash is void after the restart', async () => {
    const dir = tempDir();
    const path = join(dir, 'chain.json');
    const key = new HmacKey('hmac-sha256', SECRET);
    const c1 = ChainStamper.open({ path, stream: 's', alg: 'hmac-sha256', key, kid: 'k1' });
    const t = c1.stamp(traces(1), ['AAAA']);
    await t.persisted; // never acknowledged: the process "crashes"
    const c2 = ChainStamper.open({ path, stream: 's', alg: 'hmac-sha256', key, kid: 'k1' });
    expect(c2.head()).toMatchObject({ seq: 1, void: '1' });
  });

  it('orders record MACs by bytes and drops duplicates', () => {
    const macs: Buffer[] = [];
    for (let i = 0; i < 300; i++) {
      const b = Buffer.alloc(32, 0);
      b[i % 7] = (i * 37) & 0xff; // shared prefixes: ties on the 48-bit key are common
      b[31] = i % 50;
      macs.push(b);
    }
    const want = [...new Set(macs.map((m) => m.toString('hex')))].sort();
    expect(sortDistinct(macs).map((m) => Buffer.from(m).toString('hex'))).toEqual(want);
  });

  it('with state_fsync, concurrent stamps share writes and the newest state wins', async () => {
    const dir = tempDir();
    const path = join(dir, 'chain.json');
    const key = new HmacKey('hmac-sha256', SECRET);
    const c = ChainStamper.open({ path, stream: 's', alg: 'hmac-sha256', key, kid: 'k1', fsync: true });
    const tickets = [1, 2, 3, 4, 5].map(() => c.stamp(traces(1), ['AAAA']));
    await Promise.all(tickets.map((t) => t.persisted));
    expect(readStateFile(path)!.state).toMatchObject({ seq: 5, unacked: '1-5' });
    for (const t of tickets) c.ack(t);
    await c.flush();
    expect(readStateFile(path)!.state).toMatchObject({ seq: 5, unacked: '', void: '' });
  });

  it('the state file survives a torn write: the other slot is used', () => {
    const dir = tempDir();
    const path = join(dir, 'state');
    const f = new StateFile(path);
    const st = (seq: number) => ({ version: 1 as const, kind: 'batch' as const, stream: 's', seq, digest: 'ZA==', alg: 'hmac-sha256' as const, kid: 'k1', updated: '' });
    f.saveSync(st(1));
    f.saveSync(st(2));
    f.close();
    expect(readStateFile(path)!.state.seq).toBe(2);
    // Damage the newest slot (generation 2 is in slot 0).
    const buf = readFileSync(path);
    buf[10] = buf[10]! ^ 0xff;
    writeFileSync(path, buf);
    expect(readStateFile(path)!.state.seq).toBe(1);
    // Both damaged: refuse rather than restart the chain silently.
    buf[STATE_SLOT + 10] = buf[STATE_SLOT + 10]! ^ 0xff;
    writeFileSync(path, buf);
    expect(() => readStateFile(path)).toThrow('holds no valid state');
    const g = new StateFile(join(dir, 'fresh'));
    expect(g.load()).toBeUndefined();
  });

  it('SeqRanges keeps sorted, merged ranges', () => {
    const r = SeqRanges.parse('9,3-5');
    r.add(6);
    r.add(1);
    expect(r.toString()).toBe('1,3-6,9');
    r.remove(4);
    expect(r.toString()).toBe('1,3,5-6,9');
    expect(r.has(5)).toBe(true);
    expect(r.has(4)).toBe(false);
    expect(() => SeqRanges.parse('5-3')).toThrow();
  });

  it('a batch split after signing keeps every record', async () => {
    const { proc, out } = await processor({ chain: true, state_directory: tempDir() });
    await proc.consume(Telemetry.traces(traces(10)));
    const parts = splitTelemetry(out[0]!, 3);
    expect(parts).toHaveLength(4);
    const stamps = parts.map((p) => readStamp((p.read() as ResourceSpans[])[0]!.resource.attributes));
    expect(new Set(stamps.map((s) => JSON.stringify(s))).size).toBe(1);
  });
});

describe('line format', () => {
  it('appends the link as the last member and splits it back byte for byte', () => {
    const link = { v: 1 as const, stream: 's', seq: 1, prev: '', digest: 'ZA==', kid: 'k1', mac: 'bQ==' };
    for (const payload of ['{"resourceSpans":[]}', '{}', '{ }', '{"a":"\\"sieve.chain\\":"}']) {
      const line = joinLine(payload, link);
      expect(JSON.parse(line)['sieve.chain']).toEqual(link);
      expect(splitLine(line)).toEqual({ payload, link });
    }
    expect(splitLine('{"resourceSpans":[]}')).toBeUndefined();
  });
});
