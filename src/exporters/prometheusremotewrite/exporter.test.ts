import { afterEach, describe, expect, it } from 'vitest';
import type { Metric } from '../../pdata/model.js';
import { Telemetry } from '../../pdata/telemetry.js';
import { toHex } from '../../prom/exemplars.js';
import { host, parse, settings, type Clock } from '../../prom/testdata/host.js';
import { T0, exemplar, gauge, histogram, resourceMetrics, sum } from '../../prom/testdata/metrics.js';
import { labelsOf, startReceiver } from '../../prom/testdata/receiver.js';
import { SelfTelemetry } from '../../service/telemetry.js';
import { prometheusRemoteWriteExporterFactory } from './factory.js';
import { prwSchema, validatePrw } from './config.js';
import { PrometheusRemoteWriteExporter } from './exporter.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function setup(raw: Record<string, unknown> = {}, clock?: Clock) {
  const rx = await startReceiver();
  cleanup.push(() => rx.close());
  const telemetry = new SelfTelemetry();
  const cfg = parse(prwSchema, { endpoint: rx.url, retry_on_failure: { initial_interval: '10ms', max_interval: '50ms' }, ...raw }, validatePrw);
  const exp = prometheusRemoteWriteExporterFactory.create(settings('prometheusremotewrite/test', 'exporter', clock, telemetry), cfg, 'metrics') as PrometheusRemoteWriteExporter;
  await exp.start(host(telemetry));
  cleanup.push(() => exp.shutdown());
  const drained = async () => {
    const deadline = Date.now() + 20_000;
    while (!exp.idle()) {
      if (Date.now() > deadline) throw new Error('not drained');
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const series = (): Record<string, string | number>[] => rx.accepted().map((s) => ({ ...labelsOf(s), value: s.samples[0]!.value, ts: s.samples[0]!.timestamp }));
  return { rx, exp, telemetry, drained, series };
}

const svc = { 'service.name': 'api', 'service.instance.id': 'i-1', 'host.name': 'h1' };

describe('prometheusremotewrite exporter', () => {
  it('turns delta sums and histograms into cumulative series', async () => {
    const { exp, drained, series } = await setup({ target_info: { enabled: false } });
    for (let i = 0; i < 3; i++) {
      await exp.consume(
        Telemetry.metrics([
          resourceMetrics(svc, [
            sum('jobs', [{ value: 2, start: T0 + i * 10, time: T0 + (i + 1) * 10 }], { delta: true }),
            histogram('lat', [{ bounds: [1], counts: [1, 1], sum: 3, start: T0 + i * 10, time: T0 + (i + 1) * 10 }], { delta: true, unit: 's' }),
          ]),
        ]),
      );
      await drained();
    }
    const s = series();
    expect(s.filter((x) => x.__name__ === 'jobs_total').map((x) => x.value)).toEqual([2, 4, 6]);
    expect(s.filter((x) => x.__name__ === 'lat_seconds_bucket' && x.le === '1').map((x) => x.value)).toEqual([1, 2, 3]);
    expect(s.filter((x) => x.__name__ === 'lat_seconds_count').map((x) => x.value)).toEqual([2, 4, 6]);
    expect(s.filter((x) => x.__name__ === 'lat_seconds_sum').map((x) => x.value)).toEqual([3, 6, 9]);
  });

  it('sends one target_info per resource per batch at the newest point time, with external labels below series labels', async () => {
    const { exp, drained, series } = await setup({ external_labels: { cluster: 'eu', job: 'overridden' }, namespace: 'ns' });
    await exp.consume(
      Telemetry.metrics([
        resourceMetrics(svc, [gauge('a', [{ value: 1, time: T0 + 5 }]), gauge('b', [{ value: 2, time: T0 + 9 }]), gauge('c', [{ value: 3, time: T0 + 1 }])]),
        resourceMetrics({ 'service.name': 'other' }, [gauge('a', [{ value: 4 }])]),
      ]),
    );
    await drained();
    const s = series();
    const ti = s.filter((x) => x.__name__ === 'ns_target_info');
    expect(ti).toEqual([{ __name__: 'ns_target_info', cluster: 'eu', host_name: 'h1', instance: 'i-1', job: 'api', value: 1, ts: T0 + 9 }]);
    expect(s.find((x) => x.__name__ === 'ns_a' && x.job === 'other')).toEqual({ __name__: 'ns_a', cluster: 'eu', job: 'other', value: 4, ts: T0 });
  });

  it('does not repeat (or count as out of order) a target_info already sent at the same time', async () => {
    const { exp, drained, series, telemetry } = await setup();
    await exp.consume(Telemetry.metrics([resourceMetrics(svc, [gauge('a', [{ value: 1 }])])]));
    await exp.consume(Telemetry.metrics([resourceMetrics(svc, [gauge('b', [{ value: 2 }])])]));
    await drained();
    expect(series().filter((x) => x.__name__ === 'target_info')).toHaveLength(1);
    expect(await telemetry.value('sieve_prometheusremotewrite_dropped_points_total')).toBe(0);
  });

  it('converts resource attributes to labels with resource_to_telemetry_conversion', async () => {
    const { exp, drained, series } = await setup({ resource_to_telemetry_conversion: { enabled: true }, target_info: { enabled: false } });
    await exp.consume(Telemetry.metrics([resourceMetrics(svc, [gauge('g', [{ attrs: { 'host.name': 'point-wins' }, value: 1 }])])]));
    await drained();
    expect(series()).toEqual([{ __name__: 'g', host_name: 'point-wins', instance: 'i-1', job: 'api', service_instance_id: 'i-1', service_name: 'api', value: 1, ts: T0 }]);
  });

  it('sends exemplars with the histogram bucket they fall in and with counters', async () => {
    const { rx, exp, drained } = await setup({ target_info: { enabled: false } });
    const e1 = exemplar(0.3, T0 - 10, 1);
    const e2 = exemplar(7, T0 - 5, 2);
    await exp.consume(
      Telemetry.metrics([
        resourceMetrics(svc, [histogram('h', [{ bounds: [0.5, 5], counts: [1, 0, 1], exemplars: [e1, e2] }]), sum('c', [{ value: 1, exemplars: [e1] }])]),
      ]),
    );
    await drained();
    const got = rx.accepted().filter((s) => s.exemplars.length > 0).map((s) => [labelsOf(s).__name__ + (labelsOf(s).le ?? ''), s.exemplars]);
    const ex = (e: typeof e1, v: number, t: number) => [{ labels: [{ name: 'span_id', value: toHex(e.spanId) }, { name: 'trace_id', value: toHex(e.traceId) }], value: v, timestamp: t }];
    expect(got).toEqual(expect.arrayContaining([['h_bucket0.5', ex(e1, 0.3, T0 - 10)], ['h_bucket+Inf', ex(e2, 7, T0 - 5)], ['c_total', ex(e1, 0.3, T0 - 10)]]));
    expect(got).toHaveLength(3);
  });

  it('splits requests larger than max_batch_size_bytes', async () => {
    const { rx, exp, drained } = await setup({ max_batch_size_bytes: 2048, sending_queue: { num_consumers: 1 }, target_info: { enabled: false } });
    const pts = Array.from({ length: 200 }, (_, i) => ({ attrs: { id: `series-${i}` }, value: i }));
    await exp.consume(Telemetry.metrics([resourceMetrics(svc, [gauge('g', pts)])]));
    await drained();
    expect(rx.requests.length).toBeGreaterThan(3);
    expect(rx.accepted()).toHaveLength(200);
  });

  it('resends only the parts of a split batch that failed', async () => {
    const { rx, exp, drained } = await setup({ max_batch_size_bytes: 2048, sending_queue: { num_consumers: 1 }, target_info: { enabled: false } });
    rx.reply = (_r, n) => ({ status: n === 2 ? 503 : 204 });
    const pts = Array.from({ length: 200 }, (_, i) => ({ attrs: { id: `series-${i}` }, value: i }));
    await exp.consume(Telemetry.metrics([resourceMetrics(svc, [gauge('g', pts)])]));
    await drained();
    expect(rx.accepted()).toHaveLength(200);
    expect(rx.requests[3]!.body.equals(rx.requests[2]!.body)).toBe(true);
  });

  it('drops points without a timestamp instead of sending a request Prometheus would refuse', async () => {
    const { rx, exp, drained, telemetry } = await setup({ target_info: { enabled: false } });
    const g = gauge('g', [{ value: 1 }, { attrs: { a: 'x' }, value: 2 }]);
    (g.data as { dataPoints: { timeUnixNano: bigint }[] }).dataPoints[1]!.timeUnixNano = 0n;
    await exp.consume(Telemetry.metrics([resourceMetrics(svc, [g])]));
    await drained();
    expect(rx.accepted()).toHaveLength(1);
    expect(await telemetry.value('sieve_prometheusremotewrite_dropped_points_total', { reason: 'invalid_timestamp' })).toBe(1);
  });

  it('drops exponential histograms and counts them', async () => {
    const { rx, exp, drained, telemetry } = await setup({ target_info: { enabled: false } });
    const exph: Metric = {
      name: 'e',
      description: '',
      unit: '',
      metadata: [],
      data: {
        type: 'exponentialHistogram',
        aggregationTemporality: 2,
        dataPoints: [{ attributes: [], startTimeUnixNano: 0n, timeUnixNano: 1n, count: 1, sum: 1, scale: 0, zeroCount: 0, positive: { offset: 0, bucketCounts: [1] }, negative: { offset: 0, bucketCounts: [] }, flags: 0, exemplars: [], min: undefined, max: undefined, zeroThreshold: 0 }],
      },
    };
    await exp.consume(Telemetry.metrics([resourceMetrics(svc, [exph, gauge('g', [{ value: 1 }])])]));
    await drained();
    expect(rx.accepted().map((s) => labelsOf(s).__name__)).toEqual(['g']);
    expect(await telemetry.value('sieve_prometheusremotewrite_dropped_points_total', { reason: 'unsupported_type' })).toBe(1);
  });

  it('bounds its per-series state; delta points of untracked series are dropped', async () => {
    const { rx, exp, drained, telemetry } = await setup({ max_tracked_series: 2, sending_queue: { num_consumers: 1 }, target_info: { enabled: false } });
    const pts = Array.from({ length: 5 }, (_, i) => ({ attrs: { id: String(i) }, value: 1 }));
    await exp.consume(Telemetry.metrics([resourceMetrics(svc, [gauge('g', pts), sum('d', pts, { delta: true })])]));
    await drained();
    expect(exp.trackedSeries()).toBe(2);
    expect(rx.accepted().filter((s) => labelsOf(s).__name__ === 'g')).toHaveLength(5);
    expect(rx.accepted().filter((s) => labelsOf(s).__name__ === 'd_total')).toHaveLength(0);
    expect(await telemetry.value('sieve_prometheusremotewrite_dropped_points_total', { reason: 'untracked_delta' })).toBe(5);
  });

  it('reports a partial success when some shards cannot queue', async () => {
    const { rx, exp } = await setup({ sending_queue: { num_consumers: 2, queue_size: 2 }, target_info: { enabled: false }, retry_on_failure: { initial_interval: '1s', max_interval: '1s', max_elapsed_time: '300ms' } });
    rx.reply = () => ({ status: 503 });
    const metrics = Array.from({ length: 20 }, (_, i) => gauge(`m${i}`, [{ value: 1 }]));
    const results = [];
    for (let i = 0; i < 4; i++) {
      try {
        results.push(await exp.consume(Telemetry.metrics([resourceMetrics(svc, metrics.map((m) => ({ ...m })))])));
      } catch (e) {
        results.push(e as Error);
      }
    }
    // Two shards of one request each, plus one queued each: the third batch is refused.
    expect(results[0]).toBeUndefined();
    expect(results[3]).toBeInstanceOf(Error);
    expect((results[3] as Error).message).toMatch(/queue is full/);
  });

  it('releases a batch’s durable references once every shard has delivered its part', async () => {
    const { exp, drained } = await setup();
    let held = 1;
    const ref = { retain: () => void held++, release: () => void held-- };
    const metrics = Array.from({ length: 20 }, (_, i) => gauge(`m${i}`, [{ value: 1 }]));
    const data = Telemetry.metrics([resourceMetrics(svc, metrics)], { durable: [ref] });
    await exp.consume(data);
    await drained();
    expect(held).toBe(0);
    // An empty batch is released at once.
    held = 1;
    await exp.consume(Telemetry.metrics([], { durable: [ref] }));
    expect(held).toBe(0);
  });

  it('shuts down idempotently, also without start', async () => {
    const cfg = parse(prwSchema, { endpoint: 'http://127.0.0.1:1/api/v1/write' });
    const e = new PrometheusRemoteWriteExporter(settings('prw', 'exporter'), cfg);
    await e.shutdown();
    await e.shutdown();
    await expect(e.consume(Telemetry.metrics([resourceMetrics(svc, [gauge('g', [{ value: 1 }])])]))).rejects.toThrow(/shutting down/);
  });
});
