// The Remote Write 1.0 sender cases of prometheus/compliance, against a
// loopback receiver that records what it gets. (Prometheus 2.42 itself
// accepts unsorted labels and requests without the protocol headers, so these
// properties are checked here.)
import { afterEach, describe, expect, it } from 'vitest';
import type { ResourceMetrics } from '../../pdata/model.js';
import { Telemetry } from '../../pdata/telemetry.js';
import type { DecodedSeries } from '../../prom/prompb.js';
import { host, parse, settings, type Clock } from '../../prom/testdata/host.js';
import { T0, gauge, histogram, kvs, resourceMetrics, sum, summary } from '../../prom/testdata/metrics.js';
import { labelsOf, startReceiver, type FakeReceiver } from '../../prom/testdata/receiver.js';
import { SelfTelemetry } from '../../service/telemetry.js';
import { prwSchema, validatePrw } from './config.js';
import { PrometheusRemoteWriteExporter } from './exporter.js';
import { reportingInterval } from './translate.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function setup(raw: Record<string, unknown> = {}, clock?: Clock) {
  const rx = await startReceiver();
  cleanup.push(() => rx.close());
  const telemetry = new SelfTelemetry();
  const cfg = parse(prwSchema, { endpoint: rx.url, retry_on_failure: { initial_interval: '10ms', max_interval: '50ms' }, ...raw }, validatePrw);
  const exp = new PrometheusRemoteWriteExporter(settings('prometheusremotewrite', 'exporter', clock, telemetry), cfg);
  await exp.start(host(telemetry));
  cleanup.push(() => exp.shutdown());
  return { rx, exp, telemetry };
}

const svc = { 'service.name': 'test', 'service.instance.id': '127.0.0.1:9100' };
const batch = (...rms: ResourceMetrics[]) => Telemetry.metrics(rms);

/** Waits until the exporter's queues are empty and every send has completed. */
async function drained(exp: PrometheusRemoteWriteExporter, rx: FakeReceiver): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (exp.idle()) return;
    if (Date.now() > deadline) throw new Error(`not drained: ${rx.requests.length} requests`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function find(series: DecodedSeries[], name: string, labels: Record<string, string> = {}): DecodedSeries[] {
  return series.filter((s) => {
    const l = labelsOf(s);
    return l.__name__ === name && Object.entries(labels).every(([k, v]) => l[k] === v);
  });
}

describe('remote write sender compliance', () => {
  it('Headers: sends the protocol headers, which user headers cannot override', async () => {
    const { rx, exp } = await setup({
      headers: { 'X-Scope-OrgID': 'team-a', 'content-type': 'text/plain', 'User-Agent': 'evil', 'X-Prometheus-Remote-Write-Version': '9', 'Content-Encoding': 'gzip' },
    });
    await exp.consume(batch(resourceMetrics(svc, [gauge('g', [{ value: 1 }])])));
    await drained(exp, rx);
    const h = rx.requests[0]!.headers;
    expect(h['content-encoding']).toBe('snappy');
    expect(h['content-type']).toBe('application/x-protobuf');
    expect(h['user-agent']).toMatch(/^sieve\/\d+\.\d+\.\d+/);
    expect(h['x-prometheus-remote-write-version']).toBe('0.1.0');
    expect(h['x-scope-orgid']).toBe('team-a');
    // Snappy block format: the body starts with the uncompressed length varint, not a framing stream identifier (0xff).
    expect(rx.requests[0]!.body[0]).not.toBe(0xff);
    expect(rx.requests[0]!.series.length).toBeGreaterThan(0);
  });

  it('Counter, Gauge, Histogram, Summary: values and timestamps as sent', async () => {
    const { rx, exp } = await setup({ target_info: { enabled: false } });
    for (let i = 1; i <= 3; i++) {
      await exp.consume(
        batch(
          resourceMetrics(svc, [
            sum('counter', [{ value: i, time: T0 + i * 1000 }]),
            gauge('now', [{ value: T0 + i * 1000, time: T0 + i * 1000 }]),
            histogram('histogram', [{ bounds: [1, 2], counts: [1, 1, 0], sum: 3, time: T0 + i * 1000 }]),
            summary('summary', [{ quantiles: [[0.5, 2], [0.9, 3], [0.99, 3]], sum: 6, count: 3, time: T0 + i * 1000 }]),
          ]),
        ),
      );
    }
    await drained(exp, rx);
    const got = rx.accepted();
    const counter = find(got, 'counter_total').map((s) => s.samples[0]!);
    expect(counter.map((s) => s.value)).toEqual([1, 2, 3]);
    expect(counter.map((s) => s.timestamp)).toEqual([T0 + 1000, T0 + 2000, T0 + 3000]);
    for (const s of find(got, 'now')) expect(Math.abs(s.samples[0]!.value - s.samples[0]!.timestamp)).toBeLessThanOrEqual(s.samples[0]!.timestamp * 0.01);
    const last = (name: string, l: Record<string, string> = {}) => find(got, name, l).at(-1)!.samples[0]!.value;
    expect(last('histogram_bucket', { le: '1' })).toBe(1);
    expect(last('histogram_bucket', { le: '2' })).toBe(2);
    expect(last('histogram_bucket', { le: '+Inf' })).toBe(2);
    expect(last('histogram_sum')).toBe(3);
    expect(last('histogram_count')).toBe(2);
    expect(last('summary', { quantile: '0.5' })).toBe(2);
    expect(last('summary', { quantile: '0.9' })).toBe(3);
    expect(last('summary', { quantile: '0.99' })).toBe(3);
    expect(last('summary_sum')).toBe(6);
    expect(last('summary_count')).toBe(3);
  });

  it('JobLabel and InstanceLabel: from service.name and service.instance.id', async () => {
    const { rx, exp } = await setup();
    await exp.consume(batch(resourceMetrics(svc, [gauge('g', [{ value: 1 }])])));
    await drained(exp, rx);
    const l = labelsOf(find(rx.accepted(), 'g')[0]!);
    expect(l.job).toBe('test');
    expect(l.instance).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('SortedLabels, RepeatedLabels, EmptyLabels: every label set sorted and unique with no empty name or value', async () => {
    const { rx, exp } = await setup({ external_labels: { zone: 'z', Alpha: 'a' } });
    const m = gauge('test', [{ value: 1 }]);
    const pt = (m.data as { dataPoints: { attributes: ReturnType<typeof kvs> }[] }).dataPoints[0]!;
    // Repeated (a twice, and a.x / a_x colliding after sanitising), empty value, empty key, unsorted.
    pt.attributes = [...kvs({ z: '1', a: '1' }), ...kvs({ a: '1', 'a.x': '2', a_x: '3', empty: '', B: 'upper' }), { key: '', value: { type: 'string', value: 'no-name' } }];
    await exp.consume(batch(resourceMetrics({ ...svc, 'host.name': 'h' }, [m, gauge('other', [{ attrs: { _x: 'y', '9': 'nine' }, value: 2 }])])));
    await drained(exp, rx);
    const all = rx.accepted();
    expect(all.length).toBeGreaterThan(2);
    for (const s of all) {
      const names = s.labels.map((l) => l.name);
      for (let i = 1; i < names.length; i++) expect(names[i - 1]! < names[i]!, `sorted and unique: ${names.join(',')}`).toBe(true);
      for (const l of s.labels) {
        expect(l.name).not.toBe('');
        expect(l.value).not.toBe('');
        expect(l.name).toMatch(/^[a-zA-Z_][a-zA-Z0-9_]*$/);
      }
      expect(labelsOf(s).__name__).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/);
    }
    const test = labelsOf(find(all, 'test')[0]!);
    expect(test).toEqual({ Alpha: 'a', B: 'upper', __name__: 'test', a: '1;1', a_x: '2;3', instance: '127.0.0.1:9100', job: 'test', z: '1', zone: 'z' });
    expect(labelsOf(find(all, 'other')[0]!)).toMatchObject({ key_9: 'nine', key_x: 'y' });
  });

  it('NameLabel: a series without a name is not sent', async () => {
    const { rx, exp, telemetry } = await setup({ target_info: { enabled: false } });
    await exp.consume(batch(resourceMetrics(svc, [gauge('', [{ attrs: { label: 'value' }, value: 1 }]), gauge('...', [{ value: 1 }]), gauge('named', [{ value: 1 }])])));
    await drained(exp, rx);
    const all = rx.accepted();
    expect(all.map((s) => labelsOf(s).__name__)).toEqual(['named']);
    expect(await telemetry.value('sieve_prometheusremotewrite_dropped_points_total', { reason: 'invalid_name' })).toBe(2);
  });

  it('Timestamp: per-series timestamps never decrease; out-of-order and duplicate points are dropped and counted', async () => {
    const { rx, exp, telemetry } = await setup({ target_info: { enabled: false } });
    for (const t of [T0 + 1000, T0 + 3000, T0 + 2000, T0 + 3000, T0 + 4000]) {
      await exp.consume(batch(resourceMetrics(svc, [gauge('g', [{ value: t, time: t }])])));
    }
    await drained(exp, rx);
    expect(find(rx.accepted(), 'g').map((s) => s.samples[0]!.timestamp)).toEqual([T0 + 1000, T0 + 3000, T0 + 4000]);
    expect(await telemetry.value('sieve_prometheusremotewrite_dropped_points_total', { reason: 'out_of_order' })).toBe(2);
  });

  it('Ordering: 1000 series through parallel senders to a randomly slow receiver keep strictly increasing timestamps', async () => {
    const { rx, exp } = await setup({ sending_queue: { num_consumers: 4, queue_size: 1000 }, target_info: { enabled: false } });
    rx.reply = () => ({ status: 204, delayMs: Math.floor(Math.random() * 15) });
    const rounds = 10;
    for (let r = 0; r < rounds; r++) {
      const metrics = [];
      for (let m = 0; m < 100; m++) {
        metrics.push(gauge(`metric_${m}`, Array.from({ length: 10 }, (_, i) => ({ attrs: { series: String(i) }, value: r, time: T0 + r * 1000 }))));
      }
      await exp.consume(batch(resourceMetrics(svc, metrics)));
    }
    await drained(exp, rx);
    expect(rx.maxInFlight).toBeGreaterThan(1);
    const last = new Map<string, number>();
    let samples = 0;
    for (const req of rx.requests) {
      expect(req.status).toBe(204);
      for (const s of req.series) {
        const key = s.labels.map((l) => `${l.name}=${l.value}`).join(',');
        const ts = s.samples[0]!.timestamp;
        const prev = last.get(key);
        if (prev !== undefined) expect(ts).toBeGreaterThan(prev);
        last.set(key, ts);
        samples++;
      }
    }
    expect(last.size).toBe(1000);
    expect(samples).toBe(1000 * rounds);
  });

  it('Retries500: a batch answered with any 5xx is sent again', async () => {
    for (const status of [500, 502, 503, 504, 507]) {
      const { rx, exp } = await setup();
      rx.reply = (_r, n) => ({ status: n === 0 ? status : 204 });
      await exp.consume(batch(resourceMetrics(svc, [gauge('g', [{ value: 1 }])])));
      await drained(exp, rx);
      expect(rx.requests.map((r) => r.status)).toEqual([status, 204]);
      expect(rx.requests[1]!.body.equals(rx.requests[0]!.body)).toBe(true);
    }
  });

  it('Retries on network errors', async () => {
    const { rx, exp } = await setup();
    rx.reply = (_r, n) => (n === 0 ? { destroy: true } : { status: 204 });
    await exp.consume(batch(resourceMetrics(svc, [gauge('g', [{ value: 1 }])])));
    await drained(exp, rx);
    expect(rx.requests.map((r) => r.status)).toEqual([0, 204]);
  });

  it('Retries400: a batch answered with 400 (or another 4xx but 429) is not sent again', async () => {
    for (const status of [400, 401, 404, 413]) {
      const { rx, exp, telemetry } = await setup({ target_info: { enabled: false } });
      rx.reply = (_r, n) => ({ status: n === 0 ? status : 204 });
      await exp.consume(batch(resourceMetrics(svc, [gauge('first', [{ value: 1 }])])));
      await drained(exp, rx);
      await exp.consume(batch(resourceMetrics(svc, [gauge('first', [{ value: 2, time: T0 + 1 }])])));
      await drained(exp, rx);
      expect(rx.requests.map((r) => r.status)).toEqual([status, 204]);
      expect(find(rx.requests[1]!.series, 'first')[0]!.samples[0]!.value).toBe(2);
      expect(await telemetry.value('otelcol_exporter_send_failed_metric_points')).toBe(1);
    }
  });

  it('429 is retried after Retry-After', async () => {
    const { rx, exp } = await setup();
    const at: number[] = [];
    rx.reply = (_r, n) => {
      at.push(Date.now());
      return n === 0 ? { status: 429, headers: { 'Retry-After': '1' } } : { status: 204 };
    };
    await exp.consume(batch(resourceMetrics(svc, [gauge('g', [{ value: 1 }])])));
    await drained(exp, rx);
    expect(rx.requests.map((r) => r.status)).toEqual([429, 204]);
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(900);
  });

  it('ignores the response body; 200 and 204 both mean success', async () => {
    const { rx, exp, telemetry } = await setup({ target_info: { enabled: false } });
    rx.reply = (_r, n) => ({ status: n === 0 ? 200 : 204, body: 'whatever {not json' });
    await exp.consume(batch(resourceMetrics(svc, [gauge('a', [{ value: 1 }])])));
    await drained(exp, rx);
    await exp.consume(batch(resourceMetrics(svc, [gauge('a', [{ value: 1, time: T0 + 1 }])])));
    await drained(exp, rx);
    expect(rx.requests).toHaveLength(2);
    expect(await telemetry.value('otelcol_exporter_sent_metric_points')).toBe(2);
  });

  it('Staleness: a stale marker follows the last sample of a series that disappears', async () => {
    const clock = { now: T0 };
    const { rx, exp, telemetry } = await setup({ staleness: { missed_intervals: 3, max_age: '5m' } }, clock);
    // Two series report every 10 s; then "gone" stops while "alive" continues.
    for (let i = 0; i < 3; i++) {
      clock.now = T0 + i * 10_000;
      await exp.consume(batch(resourceMetrics(svc, [gauge('alive', [{ value: i, time: T0 + i * 10_000 }]), gauge('gone', [{ value: i, time: T0 + i * 10_000 }])])));
      await drained(exp, rx);
    }
    clock.now = T0 + 30_000;
    await exp.consume(batch(resourceMetrics(svc, [gauge('alive', [{ value: 3, time: T0 + 30_000 }])])));
    await drained(exp, rx);
    exp.sweep(); // 10 s since "gone" was seen: not yet stale (3 intervals = 30 s)
    clock.now = T0 + 51_000;
    await exp.consume(batch(resourceMetrics(svc, [gauge('alive', [{ value: 5, time: T0 + 50_000 }])])));
    await drained(exp, rx);
    exp.sweep(); // 31 s since "gone" was last seen
    await drained(exp, rx);
    const gone = find(rx.accepted(), 'gone').map((s) => s.samples[0]!);
    expect(gone.map((s) => s.stale)).toEqual([false, false, false, true]);
    expect(gone.at(-1)!.timestamp).toBe(T0 + 20_001);
    expect(find(rx.accepted(), 'alive').every((s) => !s.samples[0]!.stale)).toBe(true);
    // The resource has only identifying attributes: no target_info.
    expect(find(rx.accepted(), 'target_info')).toHaveLength(0);
    expect(await telemetry.value('sieve_prometheusremotewrite_stale_markers_total')).toBe(1);
    // A marker is sent once.
    exp.sweep();
    await drained(exp, rx);
    expect(find(rx.accepted(), 'gone')).toHaveLength(4);
  });

  it('Staleness: two pushes milliseconds apart do not end a series that reports every minute', async () => {
    const clock = { now: T0 };
    const { rx, exp, telemetry } = await setup({ staleness: { missed_intervals: 3, max_age: '10m' } }, clock);
    const push = async (at: number, value: number) => {
      clock.now = at;
      await exp.consume(batch(resourceMetrics(svc, [gauge('minutely', [{ value, time: at }])])));
      await drained(exp, rx);
    };
    const sweepAt = async (at: number) => {
      clock.now = at;
      exp.sweep();
      await drained(exp, rx);
    };
    await push(T0, 0);
    await push(T0 + 60_000, 1);
    await push(T0 + 120_000, 2);
    // A second push 4 ms later (a flush at shutdown, a retry, a second replica).
    await push(T0 + 120_004, 3);
    for (const at of [T0 + 120_500, T0 + 121_000, T0 + 150_000, T0 + 179_000]) await sweepAt(at);
    await push(T0 + 180_000, 4);
    await sweepAt(T0 + 181_000);
    let samples = find(rx.accepted(), 'minutely').map((s) => s.samples[0]!);
    expect(samples.map((s) => s.stale)).toEqual([false, false, false, false, false]);
    expect(await telemetry.value('sieve_prometheusremotewrite_stale_markers_total')).toBe(0);
    // It still ends after three of its minutes without a sample.
    await sweepAt(T0 + 180_000 + 179_000);
    expect(find(rx.accepted(), 'minutely')).toHaveLength(5);
    await sweepAt(T0 + 180_000 + 181_000);
    samples = find(rx.accepted(), 'minutely').map((s) => s.samples[0]!);
    expect(samples.map((s) => s.stale)).toEqual([false, false, false, false, false, true]);
    expect(samples.at(-1)!.timestamp).toBe(T0 + 180_001);
  });

  it('Staleness: the reporting interval has a floor of staleness.min_interval', async () => {
    const clock = { now: T0 };
    const { rx, exp } = await setup({ staleness: { missed_intervals: 3, min_interval: '10s' } }, clock);
    // Reports every 100 ms: 3 intervals would be 300 ms, the floor makes it 30 s.
    for (let i = 0; i < 4; i++) {
      clock.now = T0 + i * 100;
      await exp.consume(batch(resourceMetrics(svc, [gauge('fast', [{ value: i, time: T0 + i * 100 }])])));
      await drained(exp, rx);
    }
    clock.now = T0 + 300 + 29_000;
    exp.sweep();
    await drained(exp, rx);
    expect(find(rx.accepted(), 'fast').map((s) => s.samples[0]!.stale)).toEqual([false, false, false, false]);
    clock.now = T0 + 300 + 31_000;
    exp.sweep();
    await drained(exp, rx);
    expect(find(rx.accepted(), 'fast').map((s) => s.samples[0]!.stale)).toEqual([false, false, false, false, true]);
  });

  it('reportingInterval: median of the recent gaps, floored', () => {
    const cases: [number, number, number, number, number][] = [
      // g0 (newest), g1, g2, floor, expected
      [0, 0, 0, 10_000, 0],
      [60_000, 0, 0, 10_000, 60_000],
      [4, 60_000, 0, 10_000, 60_000],
      [4, 60_000, 60_000, 10_000, 60_000],
      [60_000, 4, 60_000, 10_000, 60_000],
      [30_000, 60_000, 90_000, 10_000, 60_000],
      [100, 100, 100, 10_000, 10_000],
      [4, 5, 60_000, 10_000, 10_000],
    ];
    for (const [g0, g1, g2, floor, want] of cases) expect(reportingInterval(g0, g1, g2, floor), `${g0},${g1},${g2}`).toBe(want);
  });

  it('Staleness: every series of a resource that stops reporting gets a marker, histogram buckets included', async () => {
    const clock = { now: T0 };
    const { rx, exp } = await setup({ staleness: { max_age: '1m' }, sending_queue: { num_consumers: 1 } }, clock);
    await exp.consume(batch(resourceMetrics({ ...svc, 'host.name': 'h1' }, [histogram('h', [{ bounds: [1], counts: [1, 1], sum: 2 }]), sum('c', [{ value: 1 }])])));
    await drained(exp, rx);
    clock.now = T0 + 61_000;
    exp.sweep();
    await drained(exp, rx);
    const stale = rx.requests.slice(-1)[0]!.series.map((s) => `${labelsOf(s).__name__}${labelsOf(s).le ? `{le=${labelsOf(s).le}}` : ''}:${s.samples[0]!.stale}`).sort();
    expect(stale).toEqual(['c_total:true', 'h_bucket{le=+Inf}:true', 'h_bucket{le=1}:true', 'h_count:true', 'h_sum:true', 'target_info:true']);
  });

  it('sends NO_RECORDED_VALUE points as staleness markers', async () => {
    const { rx, exp } = await setup({ target_info: { enabled: false } });
    await exp.consume(batch(resourceMetrics(svc, [gauge('g', [{ value: 1, time: T0 }])])));
    await exp.consume(batch(resourceMetrics(svc, [gauge('g', [{ value: 0, time: T0 + 1000, flags: 1 }])])));
    await drained(exp, rx);
    expect(find(rx.accepted(), 'g').map((s) => [s.samples[0]!.stale, s.samples[0]!.timestamp])).toEqual([
      [false, T0],
      [true, T0 + 1000],
    ]);
  });
});
