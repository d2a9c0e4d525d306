// The spanmetrics connector: aggregating spans, and a flush.
//   node --import tsx src/connectors/spanmetrics/connector.bench.ts
import { Bench } from 'tinybench';
import type { Span } from '../../pdata/model.js';
import { Telemetry } from '../../pdata/telemetry.js';
import { parse, settings } from '../../prom/testdata/host.js';
import { kvs, ns, T0 } from '../../prom/testdata/metrics.js';
import { spanMetricsSchema } from './config.js';
import { SpanMetricsConnector } from './connector.js';

const SPANS = 1000;
function spans(n: number): Span[] {
  return Array.from({ length: n }, (_, i) => ({
    traceId: new Uint8Array(16).fill(i & 0xff),
    spanId: new Uint8Array(8).fill((i + 1) & 0xff),
    traceState: '',
    parentSpanId: new Uint8Array(0),
    flags: 1,
    name: `GET /api/items/${i % 20}`,
    kind: 2,
    startTimeUnixNano: ns(T0),
    endTimeUnixNano: ns(T0) + BigInt((i % 500) * 1_000_000),
    attributes: kvs({ 'http.method': i % 3 ? 'GET' : 'POST', 'http.route': `/api/items/${i % 20}`, 'http.status_code': 200 }),
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    status: { code: i % 17 === 0 ? 2 : 0, message: '' },
  }));
}
const batch = [{ resource: { attributes: kvs({ 'service.name': 'shop' }), droppedAttributesCount: 0 }, scopeSpans: [{ scope: { name: 's', version: '', attributes: [], droppedAttributesCount: 0 }, spans: spans(SPANS), schemaUrl: '' }], schemaUrl: '' }];
const next = { mutatesData: false, consume: async () => undefined };
const plain = new SpanMetricsConnector(settings('spanmetrics', 'connector'), parse(spanMetricsSchema, { dimensions: [{ name: 'http.method' }] }), next);
const exemplars = new SpanMetricsConnector(settings('spanmetrics', 'connector'), parse(spanMetricsSchema, { dimensions: [{ name: 'http.method' }], exemplars: { enabled: true } }), next);

await plain.consume(Telemetry.traces(batch));

const bench = new Bench({ time: 2000 });
bench
  .add(`${SPANS} spans`, async () => {
    await plain.consume(Telemetry.traces(batch));
  })
  .add(`${SPANS} spans, exemplars on`, async () => {
    await exemplars.consume(Telemetry.traces(batch));
  })
  .add(`flush (${plain.seriesCount()} series)`, () => {
    plain.collect();
  });

await bench.run();
console.table(bench.table());
const t = bench.tasks[0]!.result!;
console.log(`spans: ${Math.round((SPANS * 1000) / t.latency.mean).toLocaleString()} spans/s`);
