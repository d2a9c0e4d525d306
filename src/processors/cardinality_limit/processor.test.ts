import { describe, expect, it } from 'vitest';
import type { Consumer } from '../../component/component.js';
import type { HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics } from '../../pdata/model.js';
import { metricsCodec } from '../../pdata/codec.js';
import { Telemetry } from '../../pdata/telemetry.js';
import { parse, settings, type Clock } from '../../prom/testdata/host.js';
import { T0, gauge, histogram, resourceMetrics, sum, summary, type Attrs } from '../../prom/testdata/metrics.js';
import { SelfTelemetry } from '../../service/telemetry.js';
import { cardinalityLimitSchema, validateCardinalityLimit } from './config.js';
import { CardinalityLimitProcessor, OVERFLOW_ATTRIBUTE } from './processor.js';

function setup(raw: Record<string, unknown>, clock: Clock = { now: T0 }) {
  const out: Telemetry[] = [];
  const next: Consumer = { mutatesData: false, consume: async (d) => void out.push(d) };
  const telemetry = new SelfTelemetry();
  const p = new CardinalityLimitProcessor(settings('cardinality_limit', 'processor', clock, telemetry), parse(cardinalityLimitSchema, raw, validateCardinalityLimit), next);
  const run = async (...rms: ResourceMetrics[]) => {
    await p.consume(Telemetry.metrics(rms));
    return out.at(-1)!.read() as ResourceMetrics[];
  };
  return { p, out, telemetry, run };
}

interface Flat {
  resource: Record<string, unknown>;
  metric: string;
  attrs: Record<string, unknown>;
  point: NumberDataPoint | HistogramDataPoint;
}

function flatten(rms: readonly ResourceMetrics[]): Flat[] {
  const out: Flat[] = [];
  const obj = (kvs: { key: string; value: { type: string; value?: unknown } }[]) => Object.fromEntries(kvs.map((k) => [k.key, k.value.value]));
  for (const rm of rms) {
    for (const sm of rm.scopeMetrics) {
      for (const m of sm.metrics) {
        if (m.data.type === 'empty') continue;
        for (const pt of m.data.dataPoints as (NumberDataPoint | HistogramDataPoint)[]) out.push({ resource: obj(rm.resource.attributes), metric: m.name, attrs: obj(pt.attributes), point: pt });
      }
    }
  }
  return out;
}

const overflowOf = (f: Flat[], metric: string) => f.filter((x) => x.metric === metric && x.attrs[OVERFLOW_ATTRIBUTE] === true);
const value = (x: Flat) => Number((x.point as NumberDataPoint).value);
const svc = { 'service.name': 'api' };

function flood(n: number, value: (i: number) => number, extra: Partial<Parameters<typeof sum>[2]> = {}, time = T0, attrs: (i: number) => Attrs = (i) => ({ user: `u${i}` })): Metric {
  return sum('requests', Array.from({ length: n }, (_, i) => ({ attrs: attrs(i), value: value(i), time })), extra);
}

describe('cardinality_limit: cumulative sums', () => {
  it('keeps a flood under the cap with an exact overflow total, batch after batch', async () => {
    const { run, telemetry, p } = setup({ max_series_per_metric: 10 });
    const f1 = flatten(await run(resourceMetrics(svc, [flood(1000, (i) => i)])));
    expect(f1.filter((x) => x.metric === 'requests')).toHaveLength(11);
    const ov1 = overflowOf(f1, 'requests');
    expect(ov1).toHaveLength(1);
    // Series 0..9 are admitted; 10..999 are merged: sum of 10..999.
    expect(value(ov1[0]!)).toBe((999 * 1000) / 2 - 45);
    expect(ov1[0]!.resource).toEqual({});
    expect(await telemetry.value('sieve_cardinality_limit_overflowed_points_total')).toBe(990);
    expect(await telemetry.value('sieve_cardinality_limit_series')).toBe(10);
    expect(p.admittedSeries).toBe(10);

    // Every series grows by 3: the overflow total grows by 3 per merged series.
    const f2 = flatten(await run(resourceMetrics(svc, [flood(1000, (i) => i + 3, {}, T0 + 1000)])));
    expect(value(overflowOf(f2, 'requests')[0]!)).toBe((999 * 1000) / 2 - 45 + 990 * 3);
    expect(f2.filter((x) => x.metric === 'requests' && !x.attrs[OVERFLOW_ATTRIBUTE]).map(value)).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);

    // New series keep arriving: the cap holds and the total stays exact.
    const f3 = flatten(await run(resourceMetrics(svc, [flood(500, () => 1, {}, T0 + 2000, (i) => ({ user: `new${i}` }))])));
    expect(f3.filter((x) => x.metric === 'requests')).toHaveLength(1);
    expect(value(overflowOf(f3, 'requests')[0]!)).toBe((999 * 1000) / 2 - 45 + 990 * 3 + 500);
    const pt = overflowOf(f3, 'requests')[0]!.point;
    expect(pt.timeUnixNano).toBe(BigInt(T0 + 2000) * 1_000_000n);
  });

  it('treats a restarted series (new start time or lower value) as counting from zero', async () => {
    const { run } = setup({ max_series_per_metric: 1 });
    const m = (v: number, start: number, time: number) => sum('c', [{ attrs: { a: 'kept' }, value: 1, time }, { attrs: { a: 'over' }, value: v, start, time }]);
    expect(value(overflowOf(flatten(await run(resourceMetrics(svc, [m(10, T0 - 100, T0)]))), 'c')[0]!)).toBe(10);
    expect(value(overflowOf(flatten(await run(resourceMetrics(svc, [m(15, T0 - 100, T0 + 1)]))), 'c')[0]!)).toBe(15);
    expect(value(overflowOf(flatten(await run(resourceMetrics(svc, [m(4, T0 + 1, T0 + 2)]))), 'c')[0]!)).toBe(19);
    expect(value(overflowOf(flatten(await run(resourceMetrics(svc, [m(2, T0 + 1, T0 + 3)]))), 'c')[0]!)).toBe(21);
  });
});

describe('cardinality_limit: other types', () => {
  it('merges delta sums into a delta overflow series', async () => {
    const { run } = setup({ max_series_per_metric: 2 });
    const d = (t: number) => flood(10, (i) => i, { delta: true }, t);
    const a = overflowOf(flatten(await run(resourceMetrics(svc, [d(T0)]))), 'requests')[0]!;
    expect(value(a)).toBe(45 - 1);
    const b = overflowOf(flatten(await run(resourceMetrics(svc, [d(T0 + 1000)]))), 'requests')[0]!;
    expect(value(b)).toBe(44);
    expect(b.point.startTimeUnixNano).toBe(a.point.timeUnixNano);
  });

  it('gives a gauge overflow series the most recent merged value', async () => {
    const { run } = setup({ max_series_per_metric: 1 });
    const g = gauge('temp', [
      { attrs: { s: '0' }, value: 1, time: T0 },
      { attrs: { s: '1' }, value: 20, time: T0 + 5 },
      { attrs: { s: '2' }, value: 30, time: T0 + 3 },
    ]);
    const ov = overflowOf(flatten(await run(resourceMetrics(svc, [g]))), 'temp');
    expect(ov.map((x) => [value(x), x.point.timeUnixNano])).toEqual([[20, BigInt(T0 + 5) * 1_000_000n]]);
  });

  it('merges histograms bucket by bucket when the bounds match, and drops those that do not', async () => {
    const { run, telemetry } = setup({ max_series_per_metric: 1 });
    const h = (t: number, c: number) =>
      histogram('lat', [
        { attrs: { r: 'a' }, bounds: [1, 2], counts: [1, 1, 1], sum: 5, time: t },
        { attrs: { r: 'b' }, bounds: [1, 2], counts: [c, 0, 1], sum: 2 * c, time: t },
        { attrs: { r: 'c' }, bounds: [1, 2], counts: [0, c, 0], sum: 3 * c, time: t },
        { attrs: { r: 'd' }, bounds: [5], counts: [1, 1], sum: 9, time: t },
      ]);
    const ov1 = overflowOf(flatten(await run(resourceMetrics(svc, [h(T0, 2)]))), 'lat')[0]!.point as HistogramDataPoint;
    expect([ov1.bucketCounts, ov1.count, ov1.sum, ov1.explicitBounds]).toEqual([[2, 2, 1], 5, 10, [1, 2]]);
    const ov2 = overflowOf(flatten(await run(resourceMetrics(svc, [h(T0 + 1, 3)]))), 'lat')[0]!.point as HistogramDataPoint;
    expect([ov2.bucketCounts, ov2.count, ov2.sum]).toEqual([[3, 3, 1], 7, 15]);
    expect(await telemetry.value('sieve_cardinality_limit_dropped_points_total', { reason: 'unmergeable' })).toBe(2);
  });

  it('drops summaries over the cap', async () => {
    const { run, telemetry } = setup({ max_series_per_metric: 1 });
    const s = summary('rpc', [
      { attrs: { a: '1' }, quantiles: [[0.5, 1]], sum: 1, count: 1 },
      { attrs: { a: '2' }, quantiles: [[0.5, 1]], sum: 1, count: 1 },
    ]);
    const f = flatten(await run(resourceMetrics(svc, [s])));
    expect(f.filter((x) => x.metric === 'rpc')).toHaveLength(1);
    expect(await telemetry.value('sieve_cardinality_limit_dropped_points_total', { reason: 'unmergeable' })).toBe(1);
  });
});

describe('cardinality_limit: grouping, dropping, expiry and bounds', () => {
  it('caps each tenant separately and keeps the tenant on its overflow series', async () => {
    const { run } = setup({ max_series_per_metric: 2, group_by_attribute: 'tenant' });
    const out = flatten(
      await run(
        resourceMetrics({ tenant: 'a' }, [flood(5, () => 1)]),
        resourceMetrics({ tenant: 'b' }, [flood(3, () => 1)]),
        resourceMetrics({}, [flood(4, () => 1, {}, T0, (i) => ({ user: `u${i}`, tenant: 'c' }))]),
      ),
    );
    const ov = overflowOf(out, 'requests');
    expect(ov.map((x) => [x.resource, x.attrs, value(x)])).toEqual([
      [{ tenant: 'a' }, { [OVERFLOW_ATTRIBUTE]: true }, 3],
      [{ tenant: 'b' }, { [OVERFLOW_ATTRIBUTE]: true }, 1],
      [{}, { [OVERFLOW_ATTRIBUTE]: true, tenant: 'c' }, 2],
    ]);
    expect(out.filter((x) => !x.attrs[OVERFLOW_ATTRIBUTE])).toHaveLength(6);
  });

  it('counts whole series: the same labels under another resource are another series', async () => {
    const { run } = setup({ max_series_per_metric: 1 });
    const f = flatten(await run(resourceMetrics({ 'service.name': 'a' }, [gauge('g', [{ value: 1 }])]), resourceMetrics({ 'service.name': 'b' }, [gauge('g', [{ value: 2 }])])));
    expect(f.map((x) => [x.resource, x.attrs])).toEqual([
      [{ 'service.name': 'a' }, {}],
      [{}, { [OVERFLOW_ATTRIBUTE]: true }],
    ]);
  });

  it('drops points over the cap with action drop', async () => {
    const { run, telemetry } = setup({ max_series_per_metric: 3, action: 'drop' });
    const f = flatten(await run(resourceMetrics(svc, [flood(10, (i) => i)])));
    expect(f.map(value)).toEqual([0, 1, 2]);
    expect(await telemetry.value('sieve_cardinality_limit_dropped_points_total', { reason: 'limit' })).toBe(7);
    expect(await telemetry.value('sieve_cardinality_limit_overflowed_points_total')).toBe(0);
  });

  it('frees the cap for new series after series_expiration', async () => {
    const clock = { now: T0 };
    const { run, p } = setup({ max_series_per_metric: 2, series_expiration: '1m' }, clock);
    await run(resourceMetrics(svc, [flood(2, () => 1)]));
    clock.now += 30_000;
    await run(resourceMetrics(svc, [flood(1, () => 1)])); // u0 keeps reporting
    clock.now += 40_000;
    const f = flatten(await run(resourceMetrics(svc, [flood(1, () => 1, {}, T0, () => ({ user: 'fresh' }))])));
    expect(p.admittedSeries).toBe(2);
    expect(f.map((x) => x.attrs)).toEqual([{ user: 'fresh' }]);
  });

  it('bounds its state: new series it has no room for are dropped and counted', async () => {
    const { run, telemetry, p } = setup({ max_series_per_metric: 5, max_tracked_series: 10 });
    await run(resourceMetrics(svc, [flood(100, () => 1)]));
    expect(p.trackedEntries).toBe(10);
    // 1 metric state + 5 admitted + 4 remembered overflowed series; the other 91 could not be merged exactly.
    expect(await telemetry.value('sieve_cardinality_limit_overflowed_points_total')).toBe(4);
    expect(await telemetry.value('sieve_cardinality_limit_dropped_points_total', { reason: 'state_full' })).toBe(91);
  });

  it('passes batches under the cap on untouched, cached bytes included', async () => {
    const { p, out } = setup({ max_series_per_metric: 100 });
    const model = [resourceMetrics(svc, [flood(50, (i) => i)])];
    const bytes = metricsCodec.encode(model);
    const data = Telemetry.fromProto('metrics', bytes, 50);
    await p.consume(data);
    expect(out[0]).toBe(data);
    expect(out[0]!.hasProto()).toBe(true);
    expect(out[0]!.toProto()).toBe(bytes);
  });

  it('passes other signals through', async () => {
    const { p, out } = setup({});
    const t = Telemetry.traces([]);
    await p.consume(t);
    expect(out[0]).toBe(t);
  });
});
