// The real OpenTelemetry SDK → Sieve (OTLP receiver → cardinality_limit →
// prometheusremotewrite) → a real Prometheus 2.42 with the remote-write
// receiver; values and the cardinality cap are read back through its query API.
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrometheus, type PrometheusServer } from '../helpers/prometheus.js';
import { exportAll, metricExporter } from '../helpers/sdk.js';
import { freePort, startSieve, waitFor, type RunningSieve } from '../helpers/sieve.js';

class Reader extends MetricReader {
  constructor(temporality: AggregationTemporality) {
    super({ aggregationTemporalitySelector: () => temporality });
  }
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

const CAP = 20;

describe('SDK → Sieve → cardinality_limit → prometheusremotewrite → Prometheus', () => {
  let prom: PrometheusServer;
  let sieve: RunningSieve;
  let ports: { grpc: number; http: number };

  beforeAll(async () => {
    prom = await startPrometheus();
    ports = { grpc: await freePort(), http: await freePort() };
    sieve = await startSieve(`
receivers:
  otlp:
    protocols:
      grpc: { endpoint: 127.0.0.1:${ports.grpc} }
      http: { endpoint: 127.0.0.1:${ports.http} }
processors:
  cardinality_limit:
    max_series_per_metric: ${CAP}
exporters:
  prometheusremotewrite:
    endpoint: ${prom.writeUrl}
    external_labels: { cluster: e2e }
    retry_on_failure: { initial_interval: 20ms, max_interval: 200ms }
service:
  pipelines:
    metrics: { receivers: [otlp], processors: [cardinality_limit], exporters: [prometheusremotewrite] }
`);
  });
  afterAll(async () => {
    await sieve?.stop();
    await prom?.stop();
  });

  const value = async (q: string, want?: number) => {
    const r = await waitFor(async () => {
      const res = await prom.query(q);
      return res.length === 1 && (want === undefined || Number(res[0]!.value[1]) === want) ? res : undefined;
    }, { timeoutMs: 20_000, what: `${q}${want === undefined ? '' : ` == ${want}`}` });
    return { labels: r[0]!.metric, value: Number(r[0]!.value[1]) };
  };

  it('receives the writes and returns the values sent over OTLP, delta sums as counters', async () => {
    const resource = resourceFromAttributes({ 'service.name': 'billing', 'service.instance.id': 'b-1', 'cloud.region': 'eu-west' });
    const cum = new Reader(AggregationTemporality.CUMULATIVE);
    const meter = new MeterProvider({ resource, readers: [cum] }).getMeter('billing');
    meter.createHistogram('invoice.size', { description: 'Invoice size', unit: 'By', advice: { explicitBucketBoundaries: [100, 1000] } }).record(50);
    const h = meter.createHistogram('invoice.latency', { description: 'Latency', unit: 's', advice: { explicitBucketBoundaries: [0.5, 1] } });
    for (const v of [0.1, 0.7, 3]) h.record(v, { step: 'render' });
    meter.createGauge('queue.length', { description: 'Queue length' }).record(17, { queue: 'mail' });
    await exportAll(metricExporter('http/protobuf', ports), (await cum.collect()).resourceMetrics);

    const delta = new Reader(AggregationTemporality.DELTA);
    const dmeter = new MeterProvider({ resource, readers: [delta] }).getMeter('billing');
    const jobs = dmeter.createCounter('jobs.done', { description: 'Jobs done' });
    jobs.add(5, { kind: 'pdf' });
    await exportAll(metricExporter('http/protobuf', ports), (await delta.collect()).resourceMetrics);
    await new Promise((r) => setTimeout(r, 20));
    jobs.add(7, { kind: 'pdf' });
    await exportAll(metricExporter('http/protobuf', ports), (await delta.collect()).resourceMetrics);

    const lat = await value('invoice_latency_seconds_bucket{le="1"}', 2);
    expect(lat.labels).toEqual({ __name__: 'invoice_latency_seconds_bucket', cluster: 'e2e', instance: 'b-1', job: 'billing', le: '1', step: 'render' });
    expect((await value('invoice_latency_seconds_bucket{le="0.5"}')).value).toBe(1);
    expect((await value('invoice_latency_seconds_bucket{le="+Inf"}')).value).toBe(3);
    expect((await value('invoice_latency_seconds_sum')).value).toBeCloseTo(3.8, 10);
    expect((await value('invoice_latency_seconds_count')).value).toBe(3);
    expect((await value('invoice_size_bytes_count')).value).toBe(1);
    expect((await value('queue_length{queue="mail"}')).value).toBe(17);
    expect((await value('jobs_done_total{kind="pdf"}', 12)).value).toBe(12);
    expect((await value('target_info{job="billing"}')).labels).toEqual({ __name__: 'target_info', cloud_region: 'eu-west', cluster: 'e2e', instance: 'b-1', job: 'billing' });
  });

  it('keeps a flood of unique label values under the cap, with exact overflow totals', async () => {
    const resource = resourceFromAttributes({ 'service.name': 'flood' });
    const reader = new Reader(AggregationTemporality.CUMULATIVE);
    const counter = new MeterProvider({ resource, readers: [reader] }).getMeter('flood').createCounter('logins', { description: 'Logins' });
    const users = 1000; // under the SDK's own cardinality limit (2000)
    let total = 0;
    for (let u = 0; u < users; u++) {
      counter.add(u + 1, { user: `user-${u}` });
      total += u + 1;
    }
    await exportAll(metricExporter('http/protobuf', ports), (await reader.collect()).resourceMetrics);

    const series = await waitFor(async () => {
      const r = await prom.query('logins_total');
      return r.length === CAP + 1 ? r : undefined;
    }, { timeoutMs: 20_000, what: `${CAP + 1} series` });
    const overflow = series.filter((s) => s.metric.otel_metric_overflow === 'true');
    const admitted = series.filter((s) => s.metric.otel_metric_overflow === undefined);
    expect(overflow).toHaveLength(1);
    // The overflow series lives in a resource of its own (holding only the group_by_attribute, none here).
    expect(overflow[0]!.metric).toEqual({ __name__: 'logins_total', cluster: 'e2e', otel_metric_overflow: 'true' });
    expect(admitted).toHaveLength(CAP);
    for (const s of admitted) expect(s.metric.job).toBe('flood');
    const admittedSum = admitted.reduce((n, s) => n + Number(s.value[1]), 0);
    // Every admitted series has its own value; the overflow series holds exactly the rest.
    for (const s of admitted) expect(Number(s.value[1])).toBe(Number(s.metric.user!.slice(5)) + 1);
    expect(Number(overflow[0]!.value[1])).toBe(total - admittedSum);
    expect((await value('sum(logins_total)')).value).toBe(total);

    // The next collection adds 1 to every user: the cap holds and the total is still exact.
    for (let u = 0; u < users; u++) counter.add(1, { user: `user-${u}` });
    await exportAll(metricExporter('http/protobuf', ports), (await reader.collect()).resourceMetrics);
    await value('sum(logins_total)', total + users);
    expect(await prom.query('count(logins_total)')).toMatchObject([{ value: [expect.any(Number), String(CAP + 1)] }]);
    expect((await value('logins_total{otel_metric_overflow="true"}')).value).toBe(total - admittedSum + users - CAP);
  });
});
