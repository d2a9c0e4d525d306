// config/prometheus-example.yaml against a real Prometheus 2.42 that both
// scrapes Sieve's prometheus exporter and receives its remote writes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SpanKind } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrometheus, type PrometheusServer } from '../helpers/prometheus.js';
import { exportAll, metricExporter, traceExporter } from '../helpers/sdk.js';
import { ROOT, freePort, startSieve, waitFor, type RunningSieve } from '../helpers/sieve.js';

class Reader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

describe('config/prometheus-example.yaml: scrape and remote write into one Prometheus', () => {
  let prom: PrometheusServer;
  let sieve: RunningSieve;
  let ports: { grpc: number; http: number };

  beforeAll(async () => {
    ports = { grpc: await freePort(), http: await freePort() };
    const scrapePort = await freePort();
    prom = await startPrometheus({ targets: [{ target: `127.0.0.1:${scrapePort}`, job: 'sieve', honorLabels: true }] });
    const yaml = readFileSync(join(ROOT, 'config', 'prometheus-example.yaml'), 'utf8')
      .replace('endpoint: 0.0.0.0:4317', `endpoint: 127.0.0.1:${ports.grpc}`)
      .replace('endpoint: 0.0.0.0:4318', `endpoint: 127.0.0.1:${ports.http}`)
      .replace('endpoint: 0.0.0.0:8889', `endpoint: 127.0.0.1:${scrapePort}`)
      .replace('endpoint: http://prometheus:9090/api/v1/write', `endpoint: ${prom.writeUrl}`)
      .replace('metrics_flush_interval: 15s', 'metrics_flush_interval: 200ms');
    expect(yaml).toContain(prom.writeUrl);
    expect(yaml).toContain('metrics_flush_interval: 200ms');
    sieve = await startSieve(yaml);
  });
  afterAll(async () => {
    // Sieve first: with Prometheus gone, its last span metrics would be retried until the shutdown deadline.
    await sieve?.stop();
    await prom?.stop();
  });

  it('lands OTLP metrics and span metrics through both paths with the same values', async () => {
    const resource = resourceFromAttributes({ 'service.name': 'cart', 'service.instance.id': 'c-1' });
    const reader = new Reader();
    const items = new MeterProvider({ resource, readers: [reader] }).getMeter('cart').createCounter('items.added', { description: 'Items added' });
    items.add(11, { sku: 'a' });
    await exportAll(metricExporter('grpc', ports), (await reader.collect()).resourceMetrics);

    const mem = new InMemorySpanExporter();
    const tracer = new BasicTracerProvider({ resource, spanProcessors: [new SimpleSpanProcessor(mem)] }).getTracer('cart');
    const now = Date.now();
    for (let i = 0; i < 4; i++) tracer.startSpan('GET /cart', { kind: SpanKind.SERVER, startTime: now - 100, attributes: { 'http.route': '/cart' } }).end(now - 80);
    await exportAll(traceExporter('grpc', ports), mem.getFinishedSpans());

    const one = async (q: string, want: number) =>
      waitFor(async () => {
        const r = await prom.query(q);
        return r.length === 1 && Number(r[0]!.value[1]) === want ? r[0]!.metric : undefined;
      }, { timeoutMs: 20_000, what: `${q} == ${want}` });
    // Scraped (const label pipeline) and remote-written (external label cluster).
    expect(await one('items_added_total{pipeline="sieve"}', 11)).toMatchObject({ job: 'cart', instance: 'c-1', sku: 'a' });
    expect(await one('items_added_total{cluster="example"}', 11)).toMatchObject({ job: 'cart', instance: 'c-1', sku: 'a' });
    expect(await one('traces_span_metrics_calls_total{pipeline="sieve",http_route="/cart"}', 4)).toMatchObject({ span_name: 'GET /cart' });
    expect(await one('traces_span_metrics_calls_total{cluster="example",http_route="/cart"}', 4)).toMatchObject({ span_name: 'GET /cart' });
    expect(await one('traces_span_metrics_duration_seconds_bucket{cluster="example",le="0.025"}', 4)).toMatchObject({ status_code: 'STATUS_CODE_UNSET' });
  });
});
