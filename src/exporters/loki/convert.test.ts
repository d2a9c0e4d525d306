import { describe, expect, it } from 'vitest';
import { Issues } from '../../config/schema.js';
import { lokiSchema, type LokiConfig } from './config.js';
import { compileOptions, convert, labelsAsMetadata, type ConvertStats, type Entry } from './convert.js';
import { snappyUncompress } from '../../prom/snappy.js';
import { encodeJson, encodeProtobuf } from './encode.js';
import { PushRequest, toPlain } from '../../../test/fakes/schemas.js';
import { parseLabels } from '../../../test/fakes/loki.js';
import { parseReasons } from './reason.js';
import { attrs, record, resourceLogs, str } from './testdata.js';
import { levelOf, logfmtValue, renderLine, sanitizeName, truncateUtf8 } from './values.js';
import { ProtoWriter } from '../../pdata/proto/writer.js';
import type { AnyValue } from '../../pdata/model.js';

/** A config; JSON encoding unless given, so that tests can look at entries as objects. */
function cfg(raw: Record<string, unknown> = {}): LokiConfig {
  const issues = new Issues();
  const c = lokiSchema.parse({ endpoint: 'http://loki/loki/api/v1/push', encoding: 'json', ...raw }, [], issues);
  expect(issues.list).toEqual([]);
  return c;
}

function stats(): ConvertStats {
  return { truncated: 0, droppedTooLong: 0, overflow: 0 };
}

function md(e: Entry): Record<string, string> {
  const o: Record<string, string> = {};
  for (const l of [e.shared, e.own]) if (l) for (let i = 0; i < l.length; i += 2) o[l[i]!] = l[i + 1]!;
  return o;
}

const RES = { 'service.name': 'checkout', 'service.namespace': 'shop', 'deployment.environment': 'prod', 'host.name': 'h1', 'tenant.id': 'team-a' };

describe('label names and values', () => {
  it.each([
    ['service.name', 'service_name'],
    ['k8s.pod.name', 'k8s_pod_name'],
    ['http-method', 'http_method'],
    ['9lives', '_9lives'],
    ['ünï', '_n_'],
    ['ok_Name1', 'ok_Name1'],
  ])('sanitises %s to %s', (a, b) => expect(sanitizeName(a)).toBe(b));

  it.each([
    [1, '', 'trace'], [4, '', 'trace'], [5, '', 'debug'], [9, 'x', 'info'], [12, '', 'info'], [13, '', 'warn'], [17, '', 'error'], [21, '', 'fatal'], [24, '', 'fatal'],
    [0, 'WARNING', 'warn'], [0, 'Err', 'error'], [0, 'notice', 'info'], [0, 'verbose', 'unknown'], [0, '', 'unknown'], [99, '', 'unknown'],
  ])('maps severity %d / %j to level %s', (n, t, want) => expect(levelOf(n, t)).toBe(want));

  it('renders lines as raw, json and logfmt', () => {
    const map: AnyValue = { type: 'kvlist', value: attrs({ msg: 'hello world', n: 3, ok: true }) };
    expect(renderLine(str('plain text'), 'raw')).toBe('plain text');
    expect(renderLine(map, 'raw')).toBe('{"msg":"hello world","n":3,"ok":true}');
    expect(renderLine(map, 'json')).toBe('{"msg":"hello world","n":3,"ok":true}');
    expect(renderLine(str('plain'), 'json')).toBe('{"body":"plain"}');
    expect(renderLine(map, 'logfmt')).toBe('msg="hello world" n=3 ok=true');
    expect(renderLine(str('a=b'), 'logfmt')).toBe('body="a=b"');
    expect(renderLine({ type: 'int', value: 42n }, 'raw')).toBe('42');
    expect(renderLine({ type: 'empty' }, 'raw')).toBe('');
    expect(logfmtValue('')).toBe('""');
    expect(logfmtValue('tab\there')).toBe('"tab\\there"');
  });

  it('truncates on a character boundary', () => {
    expect(truncateUtf8('aé', 2)).toBe('a');
    expect(truncateUtf8('日本語', 7)).toBe('日本');
    expect(truncateUtf8('abc', 5)).toBe('abc');
  });
});

describe('convert', () => {
  it('makes labels from the default resource attributes and the level, the rest structured metadata', () => {
    const trace = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
    const span = Uint8Array.from({ length: 8 }, (_, i) => 0xa0 + i);
    const out = convert(
      [resourceLogs(RES, [record({ timeUnixNano: 5n, severityNumber: 9, severityText: 'INFO', body: 'hi', attributes: attrs({ 'http.route': '/x', empty: '' }), traceId: trace, spanId: span })], { name: 'lib', version: '1.0' })],
      compileOptions(cfg()),
      'team-a',
      1n,
      stats(),
    );
    expect(out).toHaveLength(1);
    expect(out[0]!.tenant).toBe('team-a');
    const s = out[0]!.streams[0]!;
    expect(s.labels).toBe('{deployment_environment="prod", level="info", service_name="checkout", service_namespace="shop"}');
    expect(s.entries[0]!.line).toBe('hi');
    expect(md(s.entries[0]!)).toEqual({
      host_name: 'h1',
      tenant_id: 'team-a',
      scope_name: 'lib',
      scope_version: '1.0',
      http_route: '/x',
      trace_id: '0102030405060708090a0b0c0d0e0f10',
      span_id: 'a0a1a2a3a4a5a6a7',
      severity_text: 'INFO',
    });
  });

  it('adds configured record attributes as labels, leaves out empty values, quotes values', () => {
    const c = cfg({ labels: { resource: ['service.name', 'missing'], attributes: ['http.method'], level: false } });
    const out = convert(
      [resourceLogs({ 'service.name': 'a "quoted"\nname' }, [record({ body: 'x', attributes: attrs({ 'http.method': 'GET' }) }), record({ body: 'y' })])],
      compileOptions(c),
      undefined,
      1n,
      stats(),
    );
    const labels = out[0]!.streams.map((s) => s.labels);
    expect(labels).toEqual(['{http_method="GET", service_name="a \\"quoted\\"\\nname"}', '{service_name="a \\"quoted\\"\\nname"}']);
    expect(labelsAsMetadata(labels[0]!)).toEqual(['http_method', 'GET', 'service_name', 'a "quoted"\nname']);
    // The attribute used as a label is not repeated in metadata.
    expect(out[0]!.streams[0]!.entries[0]!.own).toBeNull();
  });

  it('sorts entries by timestamp within each stream, keeping equal timestamps in order', () => {
    const out = convert(
      [resourceLogs(RES, [30n, 10n, 20n, 10n].map((t, i) => record({ timeUnixNano: t, body: `l${i}`, severityNumber: 9 })))],
      compileOptions(cfg()),
      undefined,
      1n,
      stats(),
    );
    expect(out[0]!.streams[0]!.entries.map((e) => [e.ts, e.line])).toEqual([[10n, 'l1'], [10n, 'l3'], [20n, 'l2'], [30n, 'l0']]);
  });

  it('uses the observed time, then the current time, when the record has no timestamp', () => {
    const out = convert([resourceLogs(RES, [record({ observedTimeUnixNano: 7n, body: 'a' }), record({ body: 'b' })])], compileOptions(cfg()), undefined, 99n, stats());
    expect(out[0]!.streams[0]!.entries.map((e) => e.ts)).toEqual([7n, 99n]);
  });

  it('groups by tenant from a resource attribute, falling back to the batch tenant', () => {
    const c = cfg({ tenant: { source: 'attribute', attribute: 'tenant.id' } });
    const out = convert(
      [
        resourceLogs({ ...RES, 'tenant.id': 'a' }, [record({ body: '1' })]),
        resourceLogs({ ...RES, 'tenant.id': 'b' }, [record({ body: '2' })]),
        resourceLogs({ 'service.name': 'x' }, [record({ body: '3' })]),
        resourceLogs({ ...RES, 'tenant.id': 'a' }, [record({ body: '4' })]),
      ],
      compileOptions(c),
      'fallback',
      1n,
      stats(),
    );
    expect(out.map((g) => [g.tenant, g.records, g.streams.flatMap((s) => s.entries.map((e) => e.line))])).toEqual([
      ['a', 2, ['1', '4']],
      ['b', 1, ['2']],
      ['fallback', 1, ['3']],
    ]);
  });

  it('truncates or drops long lines, counting them', () => {
    const recs = [record({ body: 'x'.repeat(20) }), record({ body: 'short' })];
    const st = stats();
    const t = convert([resourceLogs(RES, recs)], compileOptions(cfg({ max_line_size: 8 })), undefined, 1n, st);
    expect(t[0]!.streams[0]!.entries.map((e) => e.line)).toEqual(['xxxxxxxx', 'short']);
    expect(st).toEqual({ truncated: 1, droppedTooLong: 0, overflow: 0 });
    const sd = stats();
    const d = convert([resourceLogs(RES, recs)], compileOptions(cfg({ max_line_size: 8, line_too_long: 'drop' })), undefined, 1n, sd);
    expect(d[0]!.streams[0]!.entries.map((e) => e.line)).toEqual(['short']);
    expect(sd).toEqual({ truncated: 0, droppedTooLong: 1, overflow: 0 });
  });

  it('sends label sets beyond max_streams to one overflow stream that keeps their labels as metadata', () => {
    const c = cfg({ max_streams: 2, labels: { resource: ['service.name'], level: false } });
    const st = stats();
    const out = convert(
      ['a', 'b', 'c', 'd', 'a'].map((svc, i) => resourceLogs({ 'service.name': svc }, [record({ body: `${svc}${i}`, timeUnixNano: BigInt(10 - i) })])),
      compileOptions(c),
      undefined,
      1n,
      st,
    );
    const streams = out[0]!.streams;
    expect(streams.map((s) => s.labels)).toEqual(['{service_name="a"}', '{service_name="b"}', '{sieve_overflow="true"}']);
    expect(streams[0]!.entries.map((e) => e.line)).toEqual(['a4', 'a0']);
    const overflow = streams[2]!.entries;
    expect(overflow.map((e) => [e.line, md(e).service_name])).toEqual([['d3', 'd'], ['c2', 'c']]);
    expect(st.overflow).toBe(2);
  });
});

describe('encoding', () => {
  const input = () => [
    resourceLogs(RES, [
      record({ timeUnixNano: 1_700_000_000_123_456_789n, body: 'hello', severityNumber: 13, attributes: attrs({ k: 'v', n: 7 }), traceId: Uint8Array.from({ length: 16 }, (_, i) => i), spanId: new Uint8Array(8).fill(0xab), severityText: 'WARN' }),
      record({ timeUnixNano: 1_700_000_000_000_000_000n, body: 'earlier', severityNumber: 13 }),
      record({ timeUnixNano: 5n, body: '', severityNumber: 9 }),
      record({ timeUnixNano: 1_700_000_001_000_000_000n, body: 'ünïcode ☃', severityNumber: 13, attributes: attrs({ 'long.value': 'x'.repeat(300) }) }),
    ], { name: 'lib', version: '' }),
    resourceLogs({ 'service.name': 'other' }, [record({ timeUnixNano: 9n, body: 'b' })]),
  ];

  /** Streams as plain data from a snappy PushRequest, decoded with the published schema. */
  function decodeProto(body: Uint8Array) {
    const req = toPlain(PushRequest, snappyUncompress(body)) as {
      streams: { labels: string; entries: { timestamp: { seconds: string; nanos: number }; line: string; structuredMetadata: { name: string; value: string }[] }[] }[];
    };
    return req.streams.map((s) => ({
      labels: Object.fromEntries(parseLabels(s.labels)),
      entries: s.entries.map((e) => ({
        ts: (BigInt(e.timestamp.seconds) * 1_000_000_000n + BigInt(e.timestamp.nanos)).toString(),
        line: e.line,
        md: Object.fromEntries(e.structuredMetadata.map((p) => [p.name, p.value])),
      })),
    }));
  }

  /** Streams as plain data from the JSON body. */
  function fromJson(body: string) {
    const doc = JSON.parse(body) as { streams: { stream: Record<string, string>; values: [string, string, Record<string, string>?][] }[] };
    return doc.streams.map((s) => ({ labels: s.stream, entries: s.values.map(([ts, line, md]) => ({ ts, line, md: md ?? {} })) }));
  }

  it('writes a snappy PushRequest that decodes, per the published schema, to what the JSON body says', () => {
    const stJ = stats();
    const json = fromJson(encodeJson(convert(input(), compileOptions(cfg()), undefined, 1n, stJ)[0]!.streams));
    const scratch = new ProtoWriter(16);
    const w = new ProtoWriter(16);
    const streams = convert(input(), compileOptions(cfg({ encoding: 'protobuf' })), undefined, 1n, stats(), scratch)[0]!.streams;
    const proto = decodeProto(encodeProtobuf(w, streams, scratch));
    expect(proto).toEqual(json);
    // Sorted within each stream, metadata as expected.
    expect(proto[0]!.entries.map((e) => e.line)).toEqual(['earlier', 'hello', 'ünïcode ☃']);
    expect(proto[0]!.entries[1]!.md).toEqual({ host_name: 'h1', tenant_id: 'team-a', scope_name: 'lib', k: 'v', n: '7', trace_id: '000102030405060708090a0b0c0d0e0f', span_id: 'abababababababab', severity_text: 'WARN' });
    expect(proto.map((s) => s.labels.level ?? '-')).toEqual(['warn', 'info', 'unknown']);
  });

  it.each([
    ['the overflow stream', { max_streams: 1 }],
    ['no structured metadata', { structured_metadata: false }],
    ['record attribute labels and logfmt', { labels: { resource: ['service.name'], attributes: ['k', 'n'] }, line_format: 'logfmt' }],
  ])('protobuf and JSON agree with %s', (_name, raw) => {
    const json = fromJson(encodeJson(convert(input(), compileOptions(cfg(raw)), undefined, 1n, stats())[0]!.streams));
    const scratch = new ProtoWriter(16);
    const streams = convert(input(), compileOptions(cfg({ ...raw, encoding: 'protobuf' })), undefined, 1n, stats(), scratch)[0]!.streams;
    expect(decodeProto(encodeProtobuf(new ProtoWriter(16), streams, scratch))).toEqual(json);
  });

  it('writes the JSON body with string timestamps and metadata', () => {
    const doc = JSON.parse(encodeJson(convert(input(), compileOptions(cfg()), undefined, 1n, stats())[0]!.streams));
    expect(doc.streams[0].stream).toEqual({ deployment_environment: 'prod', level: 'warn', service_name: 'checkout', service_namespace: 'shop' });
    expect(doc.streams[0].values[1][0]).toBe('1700000000123456789');
    expect(doc.streams[0].values[1][1]).toBe('hello');
    expect(doc.streams[0].values[1][2]).toMatchObject({ k: 'v', host_name: 'h1' });
  });

  it('keeps entries of a big batch across scratch buffer growth', () => {
    const scratch = new ProtoWriter(16);
    const w = new ProtoWriter(16);
    const recs = Array.from({ length: 3000 }, (_, i) => record({ timeUnixNano: BigInt(3000 - i), body: `line ${i} `.repeat(5), severityNumber: [9, 13][i % 2]! }));
    const streams = convert([resourceLogs(RES, recs)], compileOptions(cfg({ encoding: 'protobuf' })), undefined, 1n, stats(), scratch)[0]!.streams;
    const req = toPlain(PushRequest, snappyUncompress(encodeProtobuf(w, streams, scratch))) as { streams: { entries: { line: string; timestamp: { nanos: number } }[] }[] };
    expect(req.streams.map((s) => s.entries.length)).toEqual([1500, 1500]);
    const nanos = req.streams[0]!.entries.map((e) => e.timestamp.nanos);
    expect(nanos).toEqual([...nanos].sort((a, b) => a - b));
    expect(req.streams[0]!.entries[0]!.line).toBe('line 2998 '.repeat(5));
  });
});

describe("Loki's rejection reasons", () => {
  it.each([
    [400, "max entry size '10' bytes exceeded for stream '{a=\"b\"}' while adding an entry with length '20' bytes", ['line_too_long']],
    [400, "entry with timestamp 2024-01-01 ignored, reason: 'entry too far behind, entry timestamp is: x, oldest acceptable timestamp is: y',\nuser 'a', total ignored: 1 out of 2 for stream: {a=\"b\"}", ['too_far_behind']],
    [400, "entry for stream '{a=\"b\"}' has timestamp too old: x, oldest acceptable timestamp is: y\nentry for stream '{a=\"b\"}' has timestamp too new: z", ['greater_than_max_sample_age', 'too_far_in_future']],
    [400, "entry for stream '{a=\"b\"}' has 16 label names; limit 15", ['max_label_names_per_series']],
    [400, "stream '{a=\"b\"}' includes structured metadata, but this feature is disallowed.", ['disallowed_structured_metadata']],
    [429, 'ingestion rate limit exceeded for user a (limit: 1 bytes/sec)', ['rate_limited']],
    [401, 'no org id', ['no_org_id']],
    [413, 'request too large', ['request_too_large']],
    [400, 'something new', ['other']],
    [400, '', ['other']],
  ])('%d %j → %j', (status, body, want) => expect(parseReasons(status as number, body as string)).toEqual(want));
});
