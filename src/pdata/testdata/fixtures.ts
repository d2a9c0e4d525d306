// Models for codec tests and benchmarks: every field of every message populated,
// and realistic span batches.
import type {
  AnyValue,
  KeyValue,
  LogRecord,
  Metric,
  ResourceLogs,
  ResourceMetrics,
  ResourceSpans,
  Span,
} from '../model.js';

export function bytesOf(len: number, seed: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = (seed * 31 + i * 7 + 1) & 0xff;
  return b;
}

export const traceId = (seed: number): Uint8Array => bytesOf(16, seed);
export const spanId = (seed: number): Uint8Array => bytesOf(8, seed + 100);

/** One value of every AnyValue type, including nested arrays and kvlists. */
export function anyValueZoo(): KeyValue[] {
  const nested: AnyValue = {
    type: 'kvlist',
    value: [
      { key: 'inner.s', value: { type: 'string', value: 'ünïcödé ✓ 𝄞' } },
      { key: 'inner.arr', value: { type: 'array', value: [{ type: 'int', value: -5n }, { type: 'empty' }, { type: 'bool', value: false }] } },
      { key: 'inner.empty.list', value: { type: 'kvlist', value: [] } },
      { key: 'inner.bytes', value: { type: 'bytes', value: new Uint8Array([0, 1, 2, 255]) } },
    ],
  };
  return [
    { key: 'str', value: { type: 'string', value: 'hello world' } },
    { key: 'str.empty', value: { type: 'string', value: '' } },
    { key: 'str.long', value: { type: 'string', value: 'x'.repeat(300) + 'é'.repeat(50) } },
    { key: 'bool.true', value: { type: 'bool', value: true } },
    { key: 'bool.false', value: { type: 'bool', value: false } },
    { key: 'int.zero', value: { type: 'int', value: 0n } },
    { key: 'int.neg', value: { type: 'int', value: -1234567890123n } },
    { key: 'int.max', value: { type: 'int', value: 9223372036854775807n } },
    { key: 'int.min', value: { type: 'int', value: -9223372036854775808n } },
    { key: 'int.2^53', value: { type: 'int', value: 9007199254740993n } },
    { key: 'double', value: { type: 'double', value: 3.141592653589793 } },
    { key: 'double.zero', value: { type: 'double', value: 0 } },
    { key: 'double.nan', value: { type: 'double', value: NaN } },
    { key: 'double.inf', value: { type: 'double', value: -Infinity } },
    { key: 'bytes', value: { type: 'bytes', value: bytesOf(40, 3) } },
    { key: 'bytes.empty', value: { type: 'bytes', value: new Uint8Array(0) } },
    { key: 'array', value: { type: 'array', value: [{ type: 'string', value: 'a' }, { type: 'double', value: 1.5 }, nested] } },
    { key: 'array.empty', value: { type: 'array', value: [] } },
    { key: 'kvlist', value: nested },
    { key: 'empty', value: { type: 'empty' } },
  ];
}

const attrs = (n: number, prefix: string): KeyValue[] =>
  Array.from({ length: n }, (_, i) => ({ key: `${prefix}.${i}`, value: { type: 'string', value: `v${i}` } as AnyValue }));

export function fullTraces(): ResourceSpans[] {
  const span: Span = {
    traceId: traceId(1),
    spanId: spanId(1),
    traceState: 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE',
    parentSpanId: spanId(2),
    flags: 0x101,
    name: 'GET /api/v1/users/{id}',
    kind: 2,
    startTimeUnixNano: 1_700_000_000_123_456_789n,
    endTimeUnixNano: 18_446_744_073_709_551_615n,
    attributes: anyValueZoo(),
    droppedAttributesCount: 3,
    events: [
      { timeUnixNano: 1_700_000_000_200_000_000n, name: 'exception', attributes: attrs(2, 'ev'), droppedAttributesCount: 1 },
      { timeUnixNano: 0n, name: '', attributes: [], droppedAttributesCount: 0 },
    ],
    droppedEventsCount: 4,
    links: [
      { traceId: traceId(9), spanId: spanId(9), traceState: 'k=v', attributes: attrs(1, 'link'), droppedAttributesCount: 2, flags: 0xffffffff },
      { traceId: new Uint8Array(0), spanId: new Uint8Array(0), traceState: '', attributes: [], droppedAttributesCount: 0, flags: 0 },
    ],
    droppedLinksCount: 5,
    status: { message: 'upstream timed out', code: 2 },
  };
  const minimal: Span = {
    traceId: traceId(2),
    spanId: spanId(3),
    traceState: '',
    parentSpanId: new Uint8Array(0),
    flags: 0,
    name: '',
    kind: 0,
    startTimeUnixNano: 0n,
    endTimeUnixNano: 0n,
    attributes: [],
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    status: { message: '', code: 0 },
  };
  return [
    {
      resource: { attributes: [{ key: 'service.name', value: { type: 'string', value: 'checkout' } }, ...attrs(2, 'res')], droppedAttributesCount: 7 },
      scopeSpans: [
        {
          scope: { name: 'io.opentelemetry.http', version: '1.2.3', attributes: attrs(2, 'scope'), droppedAttributesCount: 1 },
          spans: [span, minimal],
          schemaUrl: 'https://opentelemetry.io/schemas/1.21.0',
        },
        { scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0 }, spans: [], schemaUrl: '' },
      ],
      schemaUrl: 'https://opentelemetry.io/schemas/1.20.0',
    },
    {
      resource: { attributes: [], droppedAttributesCount: 0 },
      scopeSpans: [],
      schemaUrl: '',
    },
  ];
}

export function fullLogs(): ResourceLogs[] {
  const full: LogRecord = {
    timeUnixNano: 1_700_000_000_000_000_001n,
    observedTimeUnixNano: 1_700_000_000_000_000_002n,
    severityNumber: 17,
    severityText: 'ERROR',
    body: { type: 'kvlist', value: anyValueZoo() },
    attributes: anyValueZoo(),
    droppedAttributesCount: 2,
    flags: 1,
    traceId: traceId(5),
    spanId: spanId(5),
    eventName: 'app.login.failed',
  };
  const bodies: AnyValue[] = [
    { type: 'string', value: 'plain message' },
    { type: 'string', value: '' },
    { type: 'int', value: 0n },
    { type: 'bool', value: false },
    { type: 'double', value: 2.5 },
    { type: 'bytes', value: bytesOf(5, 1) },
    { type: 'array', value: [] },
    { type: 'empty' },
  ];
  const others: LogRecord[] = bodies.map((body, i) => ({
    timeUnixNano: BigInt(i),
    observedTimeUnixNano: 0n,
    severityNumber: i,
    severityText: '',
    body,
    attributes: [],
    droppedAttributesCount: 0,
    flags: 0,
    traceId: new Uint8Array(0),
    spanId: new Uint8Array(0),
    eventName: '',
  }));
  return [
    {
      resource: { attributes: attrs(3, 'res'), droppedAttributesCount: 1 },
      scopeLogs: [
        {
          scope: { name: 'logger', version: '0.1', attributes: attrs(1, 'scope'), droppedAttributesCount: 2 },
          logRecords: [full, ...others],
          schemaUrl: 'https://opentelemetry.io/schemas/1.21.0',
        },
      ],
      schemaUrl: 'https://example.com/schema',
    },
  ];
}

export function fullMetrics(): ResourceMetrics[] {
  const exemplars = [
    { filteredAttributes: attrs(2, 'ex'), timeUnixNano: 1_700_000_000_000_000_005n, value: 1.25, spanId: spanId(7), traceId: traceId(7) },
    { filteredAttributes: [], timeUnixNano: 0n, value: -42n, spanId: new Uint8Array(0), traceId: new Uint8Array(0) },
    { filteredAttributes: [], timeUnixNano: 1n, value: 0, spanId: spanId(8), traceId: traceId(8) },
  ];
  const metrics: Metric[] = [
    {
      name: 'requests.in_flight',
      description: 'current requests',
      unit: '{request}',
      metadata: attrs(1, 'meta'),
      data: {
        type: 'gauge',
        dataPoints: [
          { attributes: anyValueZoo(), startTimeUnixNano: 1n, timeUnixNano: 2n, value: 12.5, exemplars, flags: 1 },
          { attributes: [], startTimeUnixNano: 0n, timeUnixNano: 0n, value: 0, exemplars: [], flags: 0 },
          { attributes: [], startTimeUnixNano: 0n, timeUnixNano: 3n, value: 0n, exemplars: [], flags: 0 },
          { attributes: [], startTimeUnixNano: 0n, timeUnixNano: 3n, value: -9223372036854775808n, exemplars: [], flags: 0 },
        ],
      },
    },
    {
      name: 'requests',
      description: '',
      unit: '1',
      metadata: [],
      data: {
        type: 'sum',
        aggregationTemporality: 2,
        isMonotonic: true,
        dataPoints: [{ attributes: attrs(2, 'dp'), startTimeUnixNano: 10n, timeUnixNano: 20n, value: 1234567890123n, exemplars: exemplars.slice(1), flags: 0 }],
      },
    },
    { name: 'empty.sum', description: '', unit: '', metadata: [], data: { type: 'sum', aggregationTemporality: 0, isMonotonic: false, dataPoints: [] } },
    {
      name: 'latency',
      description: 'request latency',
      unit: 'ms',
      metadata: [],
      data: {
        type: 'histogram',
        aggregationTemporality: 1,
        dataPoints: [
          {
            attributes: attrs(1, 'h'),
            startTimeUnixNano: 100n,
            timeUnixNano: 200n,
            count: 2 ** 40 + 3,
            sum: 0,
            bucketCounts: [1, 0, 2 ** 33, 7],
            explicitBounds: [0.5, 1, 2.5],
            exemplars: exemplars.slice(0, 1),
            flags: 1,
            min: -3.5,
            max: 0,
          },
          {
            attributes: [],
            startTimeUnixNano: 0n,
            timeUnixNano: 0n,
            count: 0,
            sum: undefined,
            bucketCounts: [],
            explicitBounds: [],
            exemplars: [],
            flags: 0,
            min: undefined,
            max: undefined,
          },
        ],
      },
    },
    {
      name: 'latency.exp',
      description: '',
      unit: 's',
      metadata: [],
      data: {
        type: 'exponentialHistogram',
        aggregationTemporality: 2,
        dataPoints: [
          {
            attributes: attrs(1, 'e'),
            startTimeUnixNano: 5n,
            timeUnixNano: 6n,
            count: 30,
            sum: 12.75,
            scale: -3,
            zeroCount: 2,
            positive: { offset: -7, bucketCounts: [1, 2, 300, 2 ** 35] },
            negative: { offset: 4, bucketCounts: [0, 5] },
            flags: 1,
            exemplars: exemplars.slice(2),
            min: -1.5,
            max: 99,
            zeroThreshold: 1e-9,
          },
          {
            attributes: [],
            startTimeUnixNano: 0n,
            timeUnixNano: 0n,
            count: 0,
            sum: undefined,
            scale: 0,
            zeroCount: 0,
            positive: { offset: 0, bucketCounts: [] },
            negative: { offset: 0, bucketCounts: [] },
            flags: 0,
            exemplars: [],
            min: undefined,
            max: undefined,
            zeroThreshold: 0,
          },
        ],
      },
    },
    {
      name: 'rpc.duration',
      description: '',
      unit: 'ms',
      metadata: [],
      data: {
        type: 'summary',
        dataPoints: [
          {
            attributes: attrs(1, 's'),
            startTimeUnixNano: 7n,
            timeUnixNano: 8n,
            count: 10,
            sum: 55.5,
            quantileValues: [
              { quantile: 0, value: 1 },
              { quantile: 0.5, value: 4.5 },
              { quantile: 1, value: 0 },
            ],
            flags: 0,
          },
        ],
      },
    },
    { name: 'no.data', description: 'metric without data', unit: '', metadata: [], data: { type: 'empty' } },
  ];
  return [
    {
      resource: { attributes: attrs(2, 'res'), droppedAttributesCount: 0 },
      scopeMetrics: [
        {
          scope: { name: 'meter', version: '2.0', attributes: attrs(1, 'scope'), droppedAttributesCount: 3 },
          metrics,
          schemaUrl: 'https://opentelemetry.io/schemas/1.21.0',
        },
      ],
      schemaUrl: 'https://opentelemetry.io/schemas/1.20.0',
    },
    { resource: { attributes: [], droppedAttributesCount: 0 }, scopeMetrics: [{ scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0 }, metrics: [], schemaUrl: '' }], schemaUrl: '' },
  ];
}

const HTTP_METHODS = ['GET', 'POST', 'PUT', 'DELETE'];
const ROUTES = ['/api/v1/users/{id}', '/api/v1/orders', '/healthz', '/api/v2/catalog/items/{sku}/reviews'];

/**
 * A realistic batch: `spans` spans in traces of 10 spans, each with `attrs`
 * attributes (http.method, http.url, net.peer.name, status code, sizes...).
 */
export function benchTraces(spans: number, attrs: number): ResourceSpans[] {
  const base: KeyValue[] = [];
  const out: Span[] = [];
  for (let i = 0; i < spans; i++) {
    const t = Math.floor(i / 10);
    const a: KeyValue[] = [];
    const route = ROUTES[i % ROUTES.length]!;
    const pool: KeyValue[] = [
      { key: 'http.method', value: { type: 'string', value: HTTP_METHODS[i % 4]! } },
      { key: 'http.url', value: { type: 'string', value: `https://shop.example.com${route.replace('{id}', String(1000 + i))}?page=${i % 7}` } },
      { key: 'net.peer.name', value: { type: 'string', value: `backend-${i % 5}.svc.cluster.local` } },
      { key: 'http.status_code', value: { type: 'int', value: BigInt(200 + (i % 3) * 100) } },
      { key: 'http.route', value: { type: 'string', value: route } },
      { key: 'http.request_content_length', value: { type: 'int', value: BigInt(100 + i * 13) } },
      { key: 'http.user_agent', value: { type: 'string', value: 'Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/124.0' } },
      { key: 'net.peer.port', value: { type: 'int', value: 8080n } },
      { key: 'thread.name', value: { type: 'string', value: `worker-${i % 16}` } },
      { key: 'db.system', value: { type: 'string', value: 'postgresql' } },
      { key: 'db.statement', value: { type: 'string', value: 'SELECT id, name FROM users WHERE id = $1' } },
      { key: 'retry', value: { type: 'bool', value: i % 9 === 0 } },
    ];
    for (let k = 0; k < attrs; k++) {
      const p = pool[k % pool.length]!;
      a.push(k < pool.length ? p : { key: `${p.key}.${Math.floor(k / pool.length)}`, value: p.value });
    }
    out.push({
      traceId: traceId(t),
      spanId: spanId(i),
      traceState: '',
      parentSpanId: i % 10 === 0 ? new Uint8Array(0) : spanId(t * 10),
      flags: 1,
      name: `${HTTP_METHODS[i % 4]} ${route}`,
      kind: 2 + (i % 2),
      startTimeUnixNano: 1_700_000_000_000_000_000n + BigInt(i) * 1_000_000n,
      endTimeUnixNano: 1_700_000_000_000_000_000n + BigInt(i) * 1_000_000n + 250_000n,
      attributes: a,
      droppedAttributesCount: 0,
      events: [],
      droppedEventsCount: 0,
      links: [],
      droppedLinksCount: 0,
      status: { message: '', code: i % 20 === 0 ? 2 : 0 },
    });
  }
  return [
    {
      resource: {
        attributes: [
          { key: 'service.name', value: { type: 'string', value: 'checkout' } },
          { key: 'service.version', value: { type: 'string', value: '1.4.2' } },
          { key: 'host.name', value: { type: 'string', value: 'ip-10-0-3-17.ec2.internal' } },
          ...base,
        ],
        droppedAttributesCount: 0,
      },
      scopeSpans: [{ scope: { name: '@opentelemetry/instrumentation-http', version: '0.52.0', attributes: [], droppedAttributesCount: 0 }, spans: out, schemaUrl: '' }],
      schemaUrl: 'https://opentelemetry.io/schemas/1.24.0',
    },
  ];
}

/** `records` log records with the attributes of benchTraces spans and a message body. */
export function benchLogs(records: number, attrs: number): ResourceLogs[] {
  const spans = benchTraces(records, attrs)[0]!;
  return [
    {
      resource: spans.resource,
      scopeLogs: [
        {
          scope: { name: 'app.logger', version: '1.0.0', attributes: [], droppedAttributesCount: 0 },
          logRecords: spans.scopeSpans[0]!.spans.map((s, i) => ({
            timeUnixNano: s.startTimeUnixNano,
            observedTimeUnixNano: s.endTimeUnixNano,
            severityNumber: 9,
            severityText: 'INFO',
            body: { type: 'string', value: `request ${i} handled: ${s.name} in 0.25 ms` },
            attributes: s.attributes,
            droppedAttributesCount: 0,
            flags: 1,
            traceId: s.traceId,
            spanId: s.spanId,
            eventName: '',
          })),
          schemaUrl: '',
        },
      ],
      schemaUrl: '',
    },
  ];
}

/** `points` data points (half sums, half histograms) with the attributes of benchTraces spans. */
export function benchMetrics(points: number, attrs: number): ResourceMetrics[] {
  const spans = benchTraces(points, attrs)[0]!.scopeSpans[0]!.spans;
  const half = Math.floor(points / 2);
  return [
    {
      resource: benchTraces(1, 0)[0]!.resource,
      scopeMetrics: [
        {
          scope: { name: 'app.meter', version: '1.0.0', attributes: [], droppedAttributesCount: 0 },
          metrics: [
            {
              name: 'http.server.requests',
              description: 'requests',
              unit: '1',
              metadata: [],
              data: {
                type: 'sum',
                aggregationTemporality: 2,
                isMonotonic: true,
                dataPoints: spans.slice(0, half).map((s, i) => ({
                  attributes: s.attributes,
                  startTimeUnixNano: s.startTimeUnixNano,
                  timeUnixNano: s.endTimeUnixNano,
                  value: BigInt(i * 17),
                  exemplars: [],
                  flags: 0,
                })),
              },
            },
            {
              name: 'http.server.duration',
              description: 'latency',
              unit: 'ms',
              metadata: [],
              data: {
                type: 'histogram',
                aggregationTemporality: 2,
                dataPoints: spans.slice(half).map((s, i) => ({
                  attributes: s.attributes,
                  startTimeUnixNano: s.startTimeUnixNano,
                  timeUnixNano: s.endTimeUnixNano,
                  count: 100 + i,
                  sum: 1234.5 + i,
                  bucketCounts: [1, 5, 20, 40, 20, 10, 3, 1],
                  explicitBounds: [5, 10, 25, 50, 100, 250, 500],
                  exemplars: [],
                  flags: 0,
                  min: 0.5,
                  max: 700,
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
