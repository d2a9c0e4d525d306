// The real OpenTelemetry SDK → Sieve (OTLP receiver) → prometheus exporter
// ← a real Prometheus 2.42 scraping it every second. Traces go through the
// spanmetrics connector with exemplars, which Prometheus stores from the
// OpenMetrics exposition.
import { SpanKind } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promtoolCheckMetrics, startPrometheus, type PrometheusServer } from '../helpers/prometheus.js';
import { exportAll, metricExporter, traceExporter } from '../helpers/sdk.js';
import { freePort, startSieve, waitFor, type RunningSieve } from '../helpers/sieve.js';

class Reader extends MetricReader {
  constructor(temporality: AggregationTemporality = AggregationTemporality.CUMULATIVE) {
    super({ aggregationTemporalitySelector: () => temporality });
  }
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

const resource = resourceFromAttributes({ 'service.name': 'checkout', 'service.namespace': 'shop', 'service.instance.id': 'pod-7', 'deployment.environment': 'e2e' });

describe('SDK → Sieve → prometheus exporter ← Prometheus scrape', () => {
  let prom: PrometheusServer;
  let sieve: RunningSieve;
  let ports: { grpc: number; http: number };
  let scrapePort: number;

  beforeAll(async () => {
    ports = { grpc: await freePort(), http: await freePort() };
    scrapePort = await freePort();
    sieve = await startSieve(`
receivers:
  otlp:
    protocols:
      grpc: { endpoint: 127.0.0.1:${ports.grpc} }
      http: { endpoint: 127.0.0.1:${ports.http} }
connectors:
  spanmetrics:
    histogram: { unit: s, explicit: { buckets: [10ms, 100ms, 1s] } }
    exemplars: { enabled: true }
    metrics_flush_interval: 200ms
exporters:
  prometheus:
    endpoint: 127.0.0.1:${scrapePort}
    enable_open_metrics: true
    const_labels: { region: eu }
service:
  pipelines:
    metrics: { receivers: [otlp, spanmetrics], exporters: [prometheus] }
    traces: { receivers: [otlp], exporters: [spanmetrics] }
`);
    prom = await startPrometheus({ targets: [{ target: `127.0.0.1:${scrapePort}`, job: 'sieve', honorLabels: true }] });
  });
  afterAll(async () => {
    await prom?.stop();
    await sieve?.stop();
  });

  it('is scraped (up == 1) and serves back exactly the values sent over OTLP', async () => {
    const reader = new Reader();
    const provider = new MeterProvider({ resource, readers: [reader] });
    const meter = provider.getMeter('shop-meter', '1.2.3');
    const orders = meter.createCounter('orders', { description: 'Orders placed', unit: '{order}' });
    const latency = meter.createHistogram('checkout.duration', { description: 'Checkout latency', unit: 's', advice: { explicitBucketBoundaries: [0.1, 0.5, 1] } });
    const inflight = meter.createUpDownCounter('checkout.inflight', { description: 'Checkouts in flight' });
    const temp = meter.createGauge('cpu.temperature', { description: 'CPU temperature', unit: 'Cel' });
    orders.add(3, { payment: 'card' });
    orders.add(4, { payment: 'card' });
    orders.add(2, { payment: 'cash' });
    for (const v of [0.05, 0.2, 0.3, 0.7, 2]) latency.record(v, { route: '/pay' });
    inflight.add(5);
    inflight.add(-2);
    temp.record(61.5, { core: '0' });
    const { resourceMetrics, errors } = await reader.collect();
    expect(errors).toEqual([]);
    await exportAll(metricExporter('http/protobuf', ports), resourceMetrics);

    await waitFor(async () => (await prom.query('up{job="sieve"}'))[0]?.value[1] === '1', { timeoutMs: 20_000, what: 'up == 1' });
    const value = async (q: string) => {
      const r = await waitFor(async () => {
        const res = await prom.query(q);
        return res.length === 1 ? res : undefined;
      }, { timeoutMs: 20_000, what: q });
      return { labels: r[0]!.metric, value: Number(r[0]!.value[1]) };
    };
    const card = await value('orders_total{payment="card"}');
    expect(card.value).toBe(7);
    expect(card.labels).toMatchObject({ job: 'shop/checkout', instance: 'pod-7', region: 'eu', otel_scope_name: 'shop-meter', otel_scope_version: '1.2.3' });
    expect((await value('orders_total{payment="cash"}')).value).toBe(2);
    expect((await value('checkout_duration_seconds_bucket{le="0.1"}')).value).toBe(1);
    expect((await value('checkout_duration_seconds_bucket{le="0.5"}')).value).toBe(3);
    expect((await value('checkout_duration_seconds_bucket{le="1.0"}')).value).toBe(4);
    expect((await value('checkout_duration_seconds_bucket{le="+Inf"}')).value).toBe(5);
    expect((await value('checkout_duration_seconds_count')).value).toBe(5);
    expect((await value('checkout_duration_seconds_sum')).value).toBeCloseTo(3.25, 10);
    expect((await value('checkout_inflight')).value).toBe(3);
    expect((await value('cpu_temperature_celsius{core="0"}')).value).toBe(61.5);
    expect((await value('target_info{job="shop/checkout"}')).labels).toMatchObject({ deployment_environment: 'e2e', instance: 'pod-7' });
  });

  it('serves exemplars in OpenMetrics, which Prometheus stores and returns with the trace ids', async () => {
    const mem = new InMemorySpanExporter();
    const tp = new BasicTracerProvider({ resource, spanProcessors: [new SimpleSpanProcessor(mem)] });
    const tracer = tp.getTracer('shop-tracer');
    const now = Date.now();
    for (let i = 0; i < 3; i++) {
      const s = tracer.startSpan('POST /pay', { kind: SpanKind.SERVER, startTime: now - 500 });
      s.end(now - 500 + 50 * (i + 1)); // 50, 100, 150 ms
    }
    const spans = mem.getFinishedSpans();
    await exportAll(traceExporter('http/protobuf', ports), spans);
    const traceIds = new Set(spans.map((s) => s.spanContext().traceId));

    const calls = await waitFor(async () => {
      const r = await prom.query('traces_span_metrics_calls_total{span_name="POST /pay"}');
      return r.length === 1 && r[0]!.value[1] === '3' ? r : undefined;
    }, { timeoutMs: 20_000, what: 'span metrics' });
    expect(calls[0]!.metric).toMatchObject({ job: 'shop/checkout', span_kind: 'SPAN_KIND_SERVER', status_code: 'STATUS_CODE_UNSET', service_name: 'checkout' });

    const start = Math.floor(now / 1000) - 60;
    const end = Math.ceil(Date.now() / 1000) + 60;
    const ex = await waitFor(async () => {
      const r = await prom.queryExemplars('traces_span_metrics_duration_seconds_bucket{span_name="POST /pay"}', start, end);
      const all = r.flatMap((s) => s.exemplars.map((e) => ({ le: s.seriesLabels.le, ...e })));
      return all.length >= 2 ? all : undefined;
    }, { timeoutMs: 20_000, what: 'exemplars' });
    for (const e of ex) {
      expect(traceIds.has(e.labels.trace_id!)).toBe(true);
      expect(e.labels.span_id).toMatch(/^[0-9a-f]{16}$/);
    }
    // 50 ms and 100 ms fall in le=0.1; 150 ms in le=1.
    expect(new Set(ex.map((e) => e.le))).toEqual(new Set(['0.1', '1.0']));
  });

  it('passes promtool check metrics on the text format', async () => {
    const res = await fetch(`http://127.0.0.1:${scrapePort}/metrics`, { headers: { Accept: 'text/plain;version=0.0.4' } });
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    expect(text).toContain('orders_total');
    expect(text).not.toContain('# EOF');
    const lint = await promtoolCheckMetrics(text);
    expect(lint.output).toBe('');
    expect(lint.code).toBe(0);
  });
});
