// Small hand-built models for tests.
import type { KeyValue, LogRecord, ResourceLogs, ResourceMetrics, ResourceSpans, Span } from '../../src/pdata/model.js';

export const str = (key: string, value: string): KeyValue => ({ key, value: { type: 'string', value } });
export const int = (key: string, value: number | bigint): KeyValue => ({ key, value: { type: 'int', value: BigInt(value) } });

export function id(bytes: number, seed: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) out[i] = (seed * 31 + i * 7 + 1) & 0xff;
  return out;
}

export function span(i: number, attrs = 5, traceSeed = Math.floor(i / 10)): Span {
  const attributes: KeyValue[] = [];
  const names = ['http.method', 'http.url', 'net.peer.name', 'http.status_code', 'component', 'db.system', 'db.statement', 'rpc.service', 'user.id', 'thread.name'];
  for (let a = 0; a < attrs; a++) {
    const k = names[a % names.length]! + (a >= names.length ? `.${a}` : '');
    attributes.push(a % 4 === 3 ? int(k, 200 + a) : str(k, `value-${a}-https://shop.example.com/api/v1/items/${i}`));
  }
  return {
    traceId: id(16, traceSeed),
    spanId: id(8, i + 1000),
    traceState: '',
    parentSpanId: i % 10 === 0 ? new Uint8Array(0) : id(8, traceSeed * 10 + 1000),
    flags: 1,
    name: `GET /api/items/${i % 10}`,
    kind: 2,
    startTimeUnixNano: 1_700_000_000_000_000_000n + BigInt(i) * 1000n,
    endTimeUnixNano: 1_700_000_000_000_000_000n + BigInt(i) * 1000n + 5_000_000n,
    attributes,
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    status: { code: i % 17 === 0 ? 2 : 0, message: '' },
  };
}

export function traces(nSpans: number, attrs = 5, offset = 0): ResourceSpans[] {
  const spans: Span[] = [];
  for (let i = 0; i < nSpans; i++) spans.push(span(i + offset, attrs));
  return [
    {
      resource: { attributes: [str('service.name', 'checkout'), str('host.name', 'node-1')], droppedAttributesCount: 0 },
      scopeSpans: [{ scope: { name: 'test', version: '1.0', attributes: [], droppedAttributesCount: 0 }, spans, schemaUrl: '' }],
      schemaUrl: '',
    },
  ];
}

export function logRecord(i: number, body = `log line ${i}`): LogRecord {
  return {
    timeUnixNano: 1_700_000_000_000_000_000n + BigInt(i),
    observedTimeUnixNano: 0n,
    severityNumber: 9,
    severityText: 'INFO',
    body: { type: 'string', value: body },
    attributes: [str('k', 'v')],
    droppedAttributesCount: 0,
    flags: 0,
    traceId: id(16, i),
    spanId: id(8, i),
    eventName: '',
  };
}

export function logs(n: number): ResourceLogs[] {
  const logRecords: LogRecord[] = [];
  for (let i = 0; i < n; i++) logRecords.push(logRecord(i));
  return [
    {
      resource: { attributes: [str('service.name', 'checkout')], droppedAttributesCount: 0 },
      scopeLogs: [{ scope: { name: 'test', version: '', attributes: [], droppedAttributesCount: 0 }, logRecords, schemaUrl: '' }],
      schemaUrl: '',
    },
  ];
}

export function gauges(n: number): ResourceMetrics[] {
  return [
    {
      resource: { attributes: [str('service.name', 'checkout')], droppedAttributesCount: 0 },
      scopeMetrics: [
        {
          scope: { name: 'test', version: '', attributes: [], droppedAttributesCount: 0 },
          metrics: [
            {
              name: 'temperature',
              description: '',
              unit: 'Cel',
              metadata: [],
              data: {
                type: 'gauge',
                dataPoints: Array.from({ length: n }, (_, i) => ({
                  attributes: [str('room', `r${i}`)],
                  startTimeUnixNano: 0n,
                  timeUnixNano: 1_700_000_000_000_000_000n,
                  value: 20 + i,
                  exemplars: [],
                  flags: 0,
                })),
              },
            },
          ],
          schemaUrl: '',
        },
      ],
      schemaUrl: '',
    },
  ];
}
