import { describe, expect, it } from 'vitest';
import { DecodeError } from '../component/errors.js';
import type { ResourceLogs, ResourceMetrics, ResourceSpans } from './model.js';
import * as json from './json/index.js';
import * as pb from './proto/index.js';
import { fullLogs, fullMetrics, fullTraces, spanId, traceId } from './testdata/fixtures.js';

describe('OTLP/JSON round trip', () => {
  it('traces', () => {
    const m = fullTraces();
    expect(json.decodeTracesJson(json.encodeTracesJson(m))).toEqual(m);
  });
  it('metrics', () => {
    const m = fullMetrics();
    expect(json.decodeMetricsJson(json.encodeMetricsJson(m))).toEqual(m);
  });
  it('logs', () => {
    const m = fullLogs();
    expect(json.decodeLogsJson(json.encodeLogsJson(m))).toEqual(m);
  });
  it('accepts UTF-8 bytes', () => {
    const m = fullLogs();
    expect(json.decodeLogsJson(new TextEncoder().encode(json.encodeLogsJson(m)))).toEqual(m);
  });
  it('JSON and protobuf decode to the same model', () => {
    const m = fullMetrics();
    expect(json.decodeMetricsJson(json.encodeMetricsJson(m))).toEqual(pb.decodeMetricsRequest(pb.encodeMetricsRequest(m)));
  });
  it('single-resource helpers round-trip (one JSON value per resource)', () => {
    for (const rs of fullTraces()) expect(json.fromJsonValue('traces', JSON.parse(JSON.stringify(json.toJsonValue('traces', rs))))).toEqual(rs);
    for (const rm of fullMetrics()) expect(json.fromJsonValue('metrics', JSON.parse(JSON.stringify(json.toJsonValue('metrics', rm))))).toEqual(rm);
    for (const rl of fullLogs()) expect(json.fromJsonValue('logs', JSON.parse(JSON.stringify(json.toJsonValue('logs', rl))))).toEqual(rl);
  });
  it('encodes an empty request as {}', () => {
    expect(json.encodeTracesJson([])).toBe('{}');
    expect(json.decodeTracesJson('{}')).toEqual([]);
  });
});

describe('OTLP/JSON encoding', () => {
  it('writes hex ids, string 64-bit integers, integer enums and omits defaults', () => {
    const rs: ResourceSpans[] = [
      {
        resource: { attributes: [{ key: 'service.name', value: { type: 'string', value: 'api' } }], droppedAttributesCount: 0 },
        scopeSpans: [
          {
            scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0 },
            spans: [
              {
                traceId: traceId(1),
                spanId: spanId(1),
                traceState: '',
                parentSpanId: new Uint8Array(0),
                flags: 0,
                name: 'op',
                kind: 2,
                startTimeUnixNano: 1700000000000000001n,
                endTimeUnixNano: 0n,
                attributes: [
                  { key: 'i', value: { type: 'int', value: -5n } },
                  { key: 'd', value: { type: 'double', value: NaN } },
                  { key: 'b', value: { type: 'bytes', value: new Uint8Array([0xff, 0x00]) } },
                ],
                droppedAttributesCount: 0,
                events: [],
                droppedEventsCount: 0,
                links: [],
                droppedLinksCount: 0,
                status: { message: '', code: 0 },
              },
            ],
            schemaUrl: '',
          },
        ],
        schemaUrl: '',
      },
    ];
    expect(JSON.parse(json.encodeTracesJson(rs))).toEqual({
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'api' } }] },
          scopeSpans: [
            {
              spans: [
                {
                  traceId: Buffer.from(traceId(1)).toString('hex'),
                  spanId: Buffer.from(spanId(1)).toString('hex'),
                  name: 'op',
                  kind: 2,
                  startTimeUnixNano: '1700000000000000001',
                  attributes: [
                    { key: 'i', value: { intValue: '-5' } },
                    { key: 'd', value: { doubleValue: 'NaN' } },
                    { key: 'b', value: { bytesValue: '/wA=' } },
                  ],
                },
              ],
            },
          ],
        },
      ],
    });
  });

  it('writes export responses', () => {
    expect(json.encodeExportResponseJson('traces')).toBe('{}');
    expect(JSON.parse(json.encodeExportResponseJson('traces', { rejected: 2, errorMessage: 'x' }))).toEqual({ partialSuccess: { rejectedSpans: '2', errorMessage: 'x' } });
    expect(JSON.parse(json.encodeExportResponseJson('metrics', { rejected: 3, errorMessage: '' }))).toEqual({ partialSuccess: { rejectedDataPoints: '3' } });
    expect(JSON.parse(json.encodeExportResponseJson('logs', { rejected: 0, errorMessage: 'warn' }))).toEqual({ partialSuccess: { errorMessage: 'warn' } });
    for (const s of ['traces', 'metrics', 'logs'] as const) {
      expect(json.decodeExportResponseJson(json.encodeExportResponseJson(s, { rejected: 9, errorMessage: 'm' }))).toEqual({ rejected: 9, errorMessage: 'm' });
    }
    expect(json.decodeExportResponseJson('{}')).toBeUndefined();
    expect(json.decodeExportResponseJson('{"partial_success":{"rejected_log_records":4}}')).toEqual({ rejected: 4, errorMessage: '' });
  });
});

describe('OTLP/JSON decoding leniency', () => {
  it('accepts snake_case keys, numbers for 64-bit ints, enum names, uppercase hex, nulls and unknown keys', () => {
    const tid = Buffer.from(traceId(3)).toString('hex').toUpperCase();
    const text = JSON.stringify({
      resource_spans: [
        {
          resource: null,
          unknownField: { anything: [1, 2] },
          scope_spans: [
            {
              scope: { name: 's', dropped_attributes_count: '2' },
              spans: [
                {
                  trace_id: tid,
                  span_id: '',
                  parent_span_id: null,
                  name: 'x',
                  kind: 'SPAN_KIND_CLIENT',
                  start_time_unix_nano: 1700000000000,
                  end_time_unix_nano: '1700000000001',
                  attributes: [
                    { key: 'a', value: { int_value: 42 } },
                    { key: 'b', value: { double_value: 'Infinity' } },
                    { key: 'c', value: { string_value: 'v', int_value: null } },
                    { key: 'd', value: { kvlist_value: { values: [{ key: 'e', value: { bytes_value: '_-8' } }] } } },
                    { key: 'e' },
                  ],
                  status: { code: 'STATUS_CODE_ERROR', message: 'bad' },
                  events: [{ time_unix_nano: '5', name: 'ev' }],
                  links: [{ trace_id: tid, span_id: 'ABCDEF0123456789', flags: 1 }],
                },
              ],
            },
          ],
        },
      ],
    });
    const [rs] = json.decodeTracesJson(text);
    const span = rs!.scopeSpans[0]!.spans[0]!;
    expect(rs!.resource).toEqual({ attributes: [], droppedAttributesCount: 0 });
    expect(rs!.scopeSpans[0]!.scope).toEqual({ name: 's', version: '', attributes: [], droppedAttributesCount: 2 });
    expect(span.traceId).toEqual(traceId(3));
    expect(span.spanId).toEqual(new Uint8Array(0));
    expect(span.kind).toBe(3);
    expect(span.startTimeUnixNano).toBe(1700000000000n);
    expect(span.endTimeUnixNano).toBe(1700000000001n);
    expect(span.attributes).toEqual([
      { key: 'a', value: { type: 'int', value: 42n } },
      { key: 'b', value: { type: 'double', value: Infinity } },
      { key: 'c', value: { type: 'string', value: 'v' } },
      { key: 'd', value: { type: 'kvlist', value: [{ key: 'e', value: { type: 'bytes', value: new Uint8Array([0xff, 0xef]) } }] } },
      { key: 'e', value: { type: 'empty' } },
    ]);
    expect(span.status).toEqual({ code: 2, message: 'bad' });
    expect(span.events[0]!.timeUnixNano).toBe(5n);
    expect(span.links[0]!.spanId).toEqual(new Uint8Array([0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89]));
  });

  it('accepts metric enum names and numeric strings', () => {
    const text = JSON.stringify({
      resourceMetrics: [
        {
          scopeMetrics: [
            {
              metrics: [
                {
                  name: 'm',
                  sum: { aggregationTemporality: 'AGGREGATION_TEMPORALITY_DELTA', isMonotonic: true, dataPoints: [{ asInt: '7', timeUnixNano: '1' }] },
                },
                { name: 'h', histogram: { dataPoints: [{ count: 3, bucketCounts: [1, '2'], explicitBounds: [1, '2.5'], sum: '1e3' }] } },
              ],
            },
          ],
        },
      ],
    });
    const [rm] = json.decodeMetricsJson(text);
    const [m, h] = rm!.scopeMetrics[0]!.metrics;
    expect(m!.data).toEqual({ type: 'sum', aggregationTemporality: 1, isMonotonic: true, dataPoints: [{ attributes: [], startTimeUnixNano: 0n, timeUnixNano: 1n, value: 7n, exemplars: [], flags: 0 }] });
    expect(h!.data).toMatchObject({ type: 'histogram', dataPoints: [{ count: 3, bucketCounts: [1, 2], explicitBounds: [1, 2.5], sum: 1000, min: undefined }] });
  });

  it('accepts severity names', () => {
    const [rl] = json.decodeLogsJson('{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityNumber":"SEVERITY_NUMBER_WARN2","body":{"stringValue":"x"}}]}]}]}');
    expect(rl!.scopeLogs[0]!.logRecords[0]!.severityNumber).toBe(14);
  });
});

describe('OTLP/JSON malformed input', () => {
  const spanWith = (fields: Record<string, unknown>): string => JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [fields] }] }] });
  const bad: [string, string][] = [
    ['not JSON', '{"resourceSpans": ['],
    ['top level not an object', '[]'],
    ['resourceSpans not an array', '{"resourceSpans":{}}'],
    ['span not an object', '{"resourceSpans":[{"scopeSpans":[{"spans":[1]}]}]}'],
    ['traceId too short', spanWith({ traceId: 'abcd' })],
    ['traceId not hex', spanWith({ traceId: 'zz'.repeat(16) })],
    ['spanId of trace id length', spanWith({ spanId: 'ab'.repeat(16) })],
    ['traceId a number', spanWith({ traceId: 5 })],
    ['timestamp not an integer', spanWith({ startTimeUnixNano: '12.5' })],
    ['timestamp negative', spanWith({ startTimeUnixNano: '-1' })],
    ['timestamp beyond uint64', spanWith({ startTimeUnixNano: '18446744073709551616' })],
    ['intValue beyond int64', spanWith({ attributes: [{ key: 'a', value: { intValue: '9223372036854775808' } }] })],
    ['intValue garbage', spanWith({ attributes: [{ key: 'a', value: { intValue: 'abc' } }] })],
    ['boolValue as a string', spanWith({ attributes: [{ key: 'a', value: { boolValue: 'true' } }] })],
    ['two AnyValue members', spanWith({ attributes: [{ key: 'a', value: { stringValue: 'x', intValue: '1' } }] })],
    ['bytesValue not base64', spanWith({ attributes: [{ key: 'a', value: { bytesValue: '***' } }] })],
    ['attributes not an array', spanWith({ attributes: { key: 'a' } })],
    ['unknown enum name', spanWith({ kind: 'SPAN_KIND_BOGUS' })],
    ['flags out of range', spanWith({ flags: 2 ** 32 })],
    ['name a number', spanWith({ name: 1 })],
  ];
  it.each(bad)('%s → DecodeError', (_, text) => {
    expect(() => json.decodeTracesJson(text)).toThrow(DecodeError);
  });

  it('rejects invalid UTF-8 bytes', () => {
    expect(() => json.decodeTracesJson(new Uint8Array([0x7b, 0xff, 0x7d]))).toThrow(DecodeError);
  });

  it('rejects two metric data members and two data point values', () => {
    expect(() => json.decodeMetricsJson('{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"gauge":{},"sum":{}}]}]}]}')).toThrow(DecodeError);
    expect(() => json.decodeMetricsJson('{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"gauge":{"dataPoints":[{"asInt":"1","asDouble":1}]}}]}]}]}')).toThrow(DecodeError);
  });

  it('never throws anything but DecodeError on mangled documents', () => {
    const texts = [json.encodeTracesJson(fullTraces()), json.encodeMetricsJson(fullMetrics()), json.encodeLogsJson(fullLogs())];
    const decoders = [json.decodeTracesJson, json.decodeMetricsJson, json.decodeLogsJson] as ((t: string) => unknown)[];
    let seed = 17;
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    const alphabet = '{}[]":,0123456789-abcdefnulltrue eE.';
    for (let k = 0; k < 3; k++) {
      for (let i = 0; i < 700; i++) {
        const t = texts[k]!.split('');
        for (let j = 0; j < 3; j++) t[Math.floor(rand() * t.length)] = alphabet[Math.floor(rand() * alphabet.length)]!;
        try {
          decoders[k]!(t.join(''));
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
        }
      }
    }
  });
});

// Type-only check that the model types are what the JSON helpers produce.
export type _Check = [ResourceLogs, ResourceMetrics];
