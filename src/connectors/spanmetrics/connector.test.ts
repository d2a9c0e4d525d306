import { describe, expect, it } from 'vitest';
import type { Consumer } from '../../component/component.js';
import type { HistogramDataPoint, KeyValue, NumberDataPoint, ResourceMetrics, Span } from '../../pdata/model.js';
import { Telemetry } from '../../pdata/telemetry.js';
import { host, parse, settings, type Clock } from '../../prom/testdata/host.js';
import { T0, kvs, ns, type Attrs } from '../../prom/testdata/metrics.js';
import { SelfTelemetry } from '../../service/telemetry.js';
import { spanMetricsSchema, validateSpanMetrics } from './config.js';
import { OVERFLOW_ATTRIBUTE, SpanMetricsConnector } from './connector.js';

function span(name: string, durMs: number, o: { kind?: number; status?: number; attrs?: Attrs; seed?: number } = {}): Span {
  const traceId = new Uint8Array(16).fill(o.seed ?? 1);
  const spanId = new Uint8Array(8).fill((o.seed ?? 1) + 1);
  return {
    traceId,
    spanId,
    traceState: '',
    parentSpanId: new Uint8Array(0),
    flags: 1,
    name,
    kind: o.kind ?? 2,
    startTimeUnixNano: ns(T0),
    endTimeUnixNano: ns(T0) + BigInt(Math.round(durMs * 1e6)),
    attributes: kvs(o.attrs),
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    status: { code: o.status ?? 0, message: '' },
  };
}

function traces(resource: Attrs, spans: Span[]): Telemetry<'traces'> {
  return Telemetry.traces([{ resource: { attributes: kvs(resource), droppedAttributesCount: 0 }, scopeSpans: [{ scope: { name: 's', version: '', attributes: [], droppedAttributesCount: 0 }, spans, schemaUrl: '' }], schemaUrl: '' }]);
}

function setup(raw: Record<string, unknown> = {}, clock: Clock = { now: T0 }) {
  const out: Telemetry[] = [];
  const next: Consumer = { mutatesData: false, consume: async (d) => void out.push(d) };
  const telemetry = new SelfTelemetry();
  const c = new SpanMetricsConnector(settings('spanmetrics', 'connector', clock, telemetry), parse(spanMetricsSchema, raw, validateSpanMetrics), next);
  return { c, out, telemetry };
}

const attrsOf = (a: KeyValue[]) => Object.fromEntries(a.map((k) => [k.key, k.value.type === 'string' || k.value.type === 'bool' ? k.value.value : String((k.value as { value: unknown }).value)]));

function points(rms: readonly ResourceMetrics[]) {
  const calls: { res: Record<string, unknown>; attrs: Record<string, unknown>; value: number; pt: NumberDataPoint }[] = [];
  const durations: { attrs: Record<string, unknown>; pt: HistogramDataPoint; unit: string; name: string }[] = [];
  for (const rm of rms) {
    for (const m of rm.scopeMetrics[0]!.metrics) {
      if (m.data.type === 'sum') for (const pt of m.data.dataPoints) calls.push({ res: attrsOf(rm.resource.attributes), attrs: attrsOf(pt.attributes), value: Number(pt.value), pt });
      if (m.data.type === 'histogram') for (const pt of m.data.dataPoints) durations.push({ attrs: attrsOf(pt.attributes), pt, unit: m.unit, name: m.name });
    }
  }
  return { calls, durations };
}

describe('spanmetrics connector', () => {
  it('counts calls and durations by service, span name, kind and status, plus dimensions', async () => {
    const { c, out } = setup({ dimensions: [{ name: 'http.method', default: 'GET' }, { name: 'region' }, { name: 'missing' }] });
    await c.consume(
      traces({ 'service.name': 'shop', region: 'eu' }, [
        span('GET /a', 3, { attrs: { 'http.method': 'POST' } }),
        span('GET /a', 30, { attrs: { 'http.method': 'POST' } }),
        span('GET /a', 1500, { status: 2 }),
        span('query', 0.5, { kind: 3 }),
      ]),
    );
    await c.flush();
    const rms = out[0]!.read() as ResourceMetrics[];
    expect(rms[0]!.scopeMetrics[0]!.metrics.map((m) => [m.name, m.unit])).toEqual([
      ['traces.span.metrics.calls', ''],
      ['traces.span.metrics.duration', 'ms'],
    ]);
    const { calls, durations } = points(rms);
    expect(calls.map((x) => [x.attrs, x.value])).toEqual([
      [{ 'service.name': 'shop', 'span.name': 'GET /a', 'span.kind': 'SPAN_KIND_SERVER', 'status.code': 'STATUS_CODE_UNSET', 'http.method': 'POST', region: 'eu' }, 2],
      [{ 'service.name': 'shop', 'span.name': 'GET /a', 'span.kind': 'SPAN_KIND_SERVER', 'status.code': 'STATUS_CODE_ERROR', 'http.method': 'GET', region: 'eu' }, 1],
      [{ 'service.name': 'shop', 'span.name': 'query', 'span.kind': 'SPAN_KIND_CLIENT', 'status.code': 'STATUS_CODE_UNSET', 'http.method': 'GET', region: 'eu' }, 1],
    ]);
    expect(calls[0]!.res).toEqual({ 'service.name': 'shop', region: 'eu' });
    const d = durations[0]!.pt;
    expect(d.explicitBounds).toEqual([2, 4, 6, 8, 10, 50, 100, 200, 400, 800, 1000, 1400, 2000, 5000, 10000, 15000]);
    expect(d.count).toBe(2);
    expect(d.sum).toBeCloseTo(33);
    expect(d.bucketCounts[1]).toBe(1); // 3ms in (2, 4]
    expect(d.bucketCounts[5]).toBe(1); // 30ms in (10, 50]
    expect(durations[1]!.pt.bucketCounts[12]).toBe(1); // 1500ms in (1400, 2000]
  });

  it('uses seconds, custom buckets, excluded dimensions and no namespace', async () => {
    const { c, out } = setup({ histogram: { unit: 's', explicit: { buckets: ['100ms', '1s'] } }, exclude_dimensions: ['span.kind', 'status.code'], namespace: '' });
    await c.consume(traces({ 'service.name': 'x' }, [span('a', 50, { kind: 1 }), span('a', 500, { kind: 2, status: 1 })]));
    await c.flush();
    const rms = out[0]!.read() as ResourceMetrics[];
    expect(rms[0]!.scopeMetrics[0]!.metrics.map((m) => m.name)).toEqual(['calls', 'duration']);
    const { calls, durations } = points(rms);
    expect(calls.map((x) => [x.attrs, x.value])).toEqual([[{ 'service.name': 'x', 'span.name': 'a' }, 2]]);
    expect(durations[0]!.pt.explicitBounds).toEqual([0.1, 1]);
    expect(durations[0]!.pt.bucketCounts).toEqual([1, 1, 0]);
    expect(durations[0]!.unit).toBe('s');
  });

  it('attaches exemplars with the trace id, capped per point and cleared at each flush', async () => {
    const { c, out } = setup({ exemplars: { enabled: true, max_per_data_point: 2 } });
    await c.consume(traces({ 'service.name': 'x' }, [span('a', 1, { seed: 1 }), span('a', 2, { seed: 2 }), span('a', 3, { seed: 3 })]));
    await c.flush();
    const d = points(out[0]!.read() as ResourceMetrics[]).durations[0]!.pt;
    expect(d.exemplars.map((e) => [e.traceId[0], e.spanId[0], e.value])).toEqual([
      [2, 3, 2],
      [3, 4, 3],
    ]);
    await c.consume(traces({ 'service.name': 'x' }, [span('a', 1, { seed: 9 })]));
    await c.flush();
    expect(points(out[1]!.read() as ResourceMetrics[]).calls[0]!.pt.exemplars.map((e) => e.traceId[0])).toEqual([9]);
  });

  it('sends series over aggregation_cardinality_limit to one overflow series', async () => {
    const { c, out, telemetry } = setup({ aggregation_cardinality_limit: 3 });
    await c.consume(traces({ 'service.name': 'x' }, Array.from({ length: 10 }, (_, i) => span(`op${i}`, 1))));
    await c.consume(traces({ 'service.name': 'x' }, [span('op0', 1), span('op9', 1)]));
    await c.flush();
    const { calls } = points(out[0]!.read() as ResourceMetrics[]);
    expect(calls).toHaveLength(4);
    expect(calls.find((x) => x.attrs[OVERFLOW_ATTRIBUTE] === true)).toMatchObject({ attrs: { [OVERFLOW_ATTRIBUTE]: true }, value: 8 });
    expect(calls.find((x) => x.attrs['span.name'] === 'op0')!.value).toBe(2);
    expect(c.seriesCount()).toBe(4);
    expect(await telemetry.value('sieve_spanmetrics_overflow_spans_total')).toBe(8);
  });

  it('is cumulative by default and delta when asked', async () => {
    const clock = { now: T0 };
    const cum = setup({}, clock);
    const del = setup({ aggregation_temporality: 'AGGREGATION_TEMPORALITY_DELTA' }, clock);
    for (const { c } of [cum, del]) await c.consume(traces({ 'service.name': 'x' }, [span('a', 1), span('b', 1)]));
    clock.now += 15_000;
    for (const { c } of [cum, del]) await c.flush();
    for (const { c } of [cum, del]) await c.consume(traces({ 'service.name': 'x' }, [span('a', 1)]));
    clock.now += 15_000;
    for (const { c } of [cum, del]) await c.flush();
    const cumPts = points(cum.out[1]!.read() as ResourceMetrics[]).calls;
    expect(cumPts.map((x) => [x.attrs['span.name'], x.value])).toEqual([
      ['a', 2],
      ['b', 1],
    ]);
    expect(cumPts[0]!.pt.startTimeUnixNano).toBe(ns(T0));
    const delPts = points(del.out[1]!.read() as ResourceMetrics[]).calls;
    expect(delPts.map((x) => [x.attrs['span.name'], x.value])).toEqual([['a', 1]]);
    expect(delPts[0]!.pt.startTimeUnixNano).toBe(ns(T0 + 15_000));
    expect(delPts[0]!.pt.timeUnixNano).toBe(ns(T0 + 30_000));
  });

  it('expires series after metrics_expiration and evicts least recently used resources', async () => {
    const clock = { now: T0 };
    const { c, out } = setup({ metrics_expiration: '1m', resource_metrics_cache_size: 2 }, clock);
    await c.consume(traces({ 'service.name': 'a' }, [span('x', 1)]));
    await c.consume(traces({ 'service.name': 'b' }, [span('x', 1)]));
    await c.consume(traces({ 'service.name': 'a' }, [span('x', 1)]));
    await c.consume(traces({ 'service.name': 'c' }, [span('x', 1)])); // evicts b
    await c.flush();
    expect(points(out[0]!.read() as ResourceMetrics[]).calls.map((x) => x.res['service.name'])).toEqual(['a', 'c']);
    clock.now += 61_000;
    await c.consume(traces({ 'service.name': 'c' }, [span('y', 1)]));
    await c.flush();
    expect(points(out[1]!.read() as ResourceMetrics[]).calls.map((x) => [x.res['service.name'], x.attrs['span.name']])).toEqual([['c', 'y']]);
    expect(c.seriesCount()).toBe(1);
  });

  it('keys resources by resource_metrics_key_attributes', async () => {
    const { c, out } = setup({ resource_metrics_key_attributes: ['service.name'] });
    await c.consume(traces({ 'service.name': 'a', pod: '1' }, [span('x', 1)]));
    await c.consume(traces({ 'service.name': 'a', pod: '2' }, [span('x', 1)]));
    await c.flush();
    const { calls } = points(out[0]!.read() as ResourceMetrics[]);
    expect(calls.map((x) => x.value)).toEqual([2]);
  });

  it('flushes on its timer and once more at shutdown', async () => {
    const { c, out } = setup({ metrics_flush_interval: '50ms' });
    await c.start(host());
    await c.consume(traces({ 'service.name': 'a' }, [span('x', 1)]));
    for (let i = 0; i < 200 && out.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(out.length).toBeGreaterThan(0);
    const before = out.length;
    await c.shutdown();
    expect(out.length).toBe(before + 1);
    await c.shutdown();
  });

  it('hands out copies: downstream changes do not affect its state', async () => {
    const { c, out } = setup();
    await c.consume(traces({ 'service.name': 'a' }, [span('x', 1)]));
    await c.flush();
    const rm = (out[0]!.read() as ResourceMetrics[])[0]!;
    const m = rm.scopeMetrics[0]!.metrics[0]!;
    (m.data as { dataPoints: NumberDataPoint[] }).dataPoints[0]!.attributes[0]!.value = { type: 'string', value: 'changed' };
    rm.resource.attributes.length = 0;
    await c.flush();
    const again = points(out[1]!.read() as ResourceMetrics[]).calls[0]!;
    expect(again.attrs['service.name']).toBe('a');
    expect(again.res).toEqual({ 'service.name': 'a' });
  });
});
