import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Issues } from '../../config/schema.js';
import { lokiSchema, type LokiConfig } from './config.js';
import { compileOptions, convert, type ConvertStats, type TenantStreams } from './convert.js';
import { convertWire } from './wire.js';
import { attrs, ns, record, resourceLogs } from './testdata.js';
import { decodeLogsRequest as decodeLogs, encodeLogsRequest } from '../../pdata/proto/logs.js';
import { ProtoWriter } from '../../pdata/proto/writer.js';
import type { AnyValue, KeyValue, ResourceLogs } from '../../pdata/model.js';

function cfg(raw: Record<string, unknown> = {}): LokiConfig {
  const issues = new Issues();
  const c = lokiSchema.parse({ endpoint: 'http://loki/loki/api/v1/push', encoding: 'protobuf', ...raw }, [], issues);
  expect(issues.list).toEqual([]);
  return c;
}

function stats(): ConvertStats {
  return { truncated: 0, droppedTooLong: 0, overflow: 0 };
}

/** Streams as plain data: labels and each entry's encoded bytes, in order. */
function plain(groups: TenantStreams[], w: ProtoWriter): unknown {
  return groups.map((g) => ({
    tenant: g.tenant,
    records: g.records,
    streams: g.streams.map((s) => ({
      labels: s.labels,
      sorted: s.sorted,
      tss: s.tss,
      entries: s.seg.flatMap((v, i) => (i % 2 === 0 ? [Buffer.from(w.buf.subarray(v, s.seg[i + 1])).toString('hex')] : [])),
    })),
  }));
}

/** The two routes over one request: same streams, entries byte for byte, same counters. */
function same(resources: ResourceLogs[], c: LokiConfig, tenant: string | undefined = undefined, bytes = encodeLogsRequest(resources)): void {
  const o = compileOptions(c);
  const wm = new ProtoWriter(1024);
  const sm = stats();
  const model = convert(resources, o, tenant, 5n, sm, wm);
  const ww = new ProtoWriter(1024);
  const sw = stats();
  const wire = convertWire(bytes, o, tenant, 5n, sw, ww);
  expect(plain(wire, ww)).toEqual(plain(model, wm));
  expect(sw).toEqual(sm);
}

const ID16 = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
const ID8 = Uint8Array.from({ length: 8 }, (_, i) => 0xf0 + i);
const RES = { 'service.name': 'checkout', 'service.namespace': 'shop', 'host.name': 'h1', 'tenant.id': 'team-a' };

describe('convertWire matches convert', () => {
  it('for plain records with labels, metadata, ids and scopes', () => {
    const recs = [
      record({ timeUnixNano: ns(2000), severityNumber: 9, body: 'hello', attributes: attrs({ 'http.method': 'GET', n: 3, ok: true, d: 1.5 }), traceId: ID16, spanId: ID8 }),
      record({ timeUnixNano: ns(1000), severityText: 'WARNING', body: '', attributes: attrs({ 'http.method': '' }) }),
      record({ observedTimeUnixNano: ns(1500), severityNumber: 17, severityText: 'ERROR', body: { type: 'kvlist', value: attrs({ msg: 'x', code: 7 }) } }),
      record({ body: { type: 'int', value: 42n } }),
      record({ body: 'ünïcødé 日本語' }),
    ];
    for (const raw of [{}, { labels: { attributes: ['http.method'], level: true } }, { structured_metadata: false }, { line_format: 'json' }, { line_format: 'logfmt' }, { max_streams: 1, labels: { level: true } }]) {
      same([resourceLogs(RES, recs, { name: 'lib', version: '1.2' })], cfg(raw));
    }
    same([resourceLogs(RES, recs), resourceLogs({ ...RES, 'tenant.id': 'team-b' }, recs)], cfg({ tenant: { source: 'attribute', attribute: 'tenant.id' } }), 'fallback');
  });

  it('for lines over max_line_size, truncated on a character boundary or dropped', () => {
    const recs = [record({ body: 'abcdefghij' }), record({ body: 'aé日本語é' }), record({ body: 'short' }), record({ body: { type: 'kvlist', value: attrs({ long: 'value value' }) } })];
    for (const n of [1, 2, 3, 4, 5, 8]) {
      same([resourceLogs(RES, recs)], cfg({ max_line_size: n }));
      same([resourceLogs(RES, recs)], cfg({ max_line_size: n, line_too_long: 'drop' }));
    }
  });

  it('for a resource that follows its scopes on the wire, and unknown fields', () => {
    const rl = resourceLogs(RES, [record({ body: 'x', attributes: attrs({ a: 'b' }) })]);
    const w = new ProtoWriter(256);
    // ResourceLogs { scope_logs = 2 (with an unknown field 99 in the record) ; resource = 1 }
    const one = encodeLogsRequest([{ ...rl, resource: { attributes: [], droppedAttributesCount: 0 } }]);
    const res = encodeLogsRequest([{ ...rl, scopeLogs: [] }]);
    // Strip the outer ResourceLogs tag+len of each and join scope part then resource part.
    const inner = (b: Uint8Array) => {
      let p = 1;
      while (b[p]! & 0x80) p++;
      return b.subarray(p + 1);
    };
    const body = Buffer.concat([inner(one), inner(res), Buffer.from([0xa8, 0x06, 0x01])]); // + unknown varint field 101
    w.uint32(0x0a);
    w.uint32(body.length);
    w.raw(body);
    const o = compileOptions(cfg());
    const a = new ProtoWriter(64);
    const b = new ProtoWriter(64);
    expect(plain(convertWire(w.finish(), o, undefined, 1n, stats(), a), a)).toEqual(plain(convert([rl], o, undefined, 1n, stats(), b), b));
  });

  it('for generated requests of every value type and nesting', () => {
    const leaf: fc.Arbitrary<AnyValue> = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 12 }).map((value) => ({ type: 'string' as const, value })),
      fc.boolean().map((value) => ({ type: 'bool' as const, value })),
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((value) => ({ type: 'int' as const, value })),
      fc.double().map((value) => ({ type: 'double' as const, value })),
      fc.uint8Array({ maxLength: 6 }).map((value) => ({ type: 'bytes' as const, value })),
      fc.constant({ type: 'empty' as const }),
    );
    const value: fc.Arbitrary<AnyValue> = fc.letrec<{ v: AnyValue }>((tie) => ({
      v: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        leaf,
        fc.array(tie('v'), { maxLength: 3 }).map((value) => ({ type: 'array' as const, value })),
        fc.array(fc.record({ key: fc.string({ maxLength: 5 }), value: tie('v') }), { maxLength: 3 }).map((value) => ({ type: 'kvlist' as const, value: value as KeyValue[] })),
      ),
    })).v;
    const kv = fc.record({ key: fc.constantFrom('a', 'b', 'http.method', 'user', '', 'ü.x'), value });
    const rec = fc.record({
      timeUnixNano: fc.bigInt({ min: 0n, max: 2n ** 62n }),
      observedTimeUnixNano: fc.constantFrom(0n, 7n),
      severityNumber: fc.integer({ min: 0, max: 25 }),
      severityText: fc.constantFrom('', 'INFO', 'warning', 'odd'),
      body: value,
      attributes: fc.array(kv, { maxLength: 5 }),
      traceId: fc.constantFrom(new Uint8Array(0), ID16),
      spanId: fc.constantFrom(new Uint8Array(0), ID8),
    });
    const req = fc.array(
      fc.record({ res: fc.constantFrom(RES, { 'service.name': 'x' }, {}), recs: fc.array(rec, { maxLength: 6 }), scope: fc.constantFrom({ name: '', version: '' }, { name: 'lib', version: '' }) }),
      { minLength: 1, maxLength: 3 },
    );
    const configs = [cfg(), cfg({ labels: { attributes: ['http.method', 'user'], level: true } }), cfg({ line_format: 'logfmt', max_line_size: 10 }), cfg({ max_streams: 2, labels: { attributes: ['a'] } })];
    fc.assert(
      fc.property(req, fc.constantFrom(...configs), (rs, c) => {
        same(
          rs.map((x) => resourceLogs(x.res, x.recs.map((r) => record(r)), x.scope)),
          c,
        );
      }),
      { numRuns: 300 },
    );
  });

  it('for strings that are not valid UTF-8, as the decoder reads them', () => {
    const rl = resourceLogs(RES, [record({ body: 'AAAA', attributes: attrs({ k: 'BBBB' }) })]);
    const bytes = encodeLogsRequest([rl]);
    const b = Buffer.from(bytes);
    for (const pat of ['AAAA', 'BBBB']) {
      const at = b.indexOf(pat);
      b[at + 1] = 0xff; // a lone byte above 0x7f
    }
    const o = compileOptions(cfg());
    const a = new ProtoWriter(64);
    const m = new ProtoWriter(64);
    const decoded = convert(decodeLogs(b), o, undefined, 1n, stats(), m);
    expect(plain(convertWire(b, o, undefined, 1n, stats(), a), a)).toEqual(plain(decoded, m));
  });
});
