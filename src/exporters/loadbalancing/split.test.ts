import { describe, expect, it } from 'vitest';
import { Telemetry } from '../../pdata/telemetry.js';
import { HashRing, hashBytes, hashString } from '../../routing/ring.js';
import type { ResourceMetrics, ResourceSpans } from '../../pdata/model.js';
import { gauges, logs, str, traces } from '../../../test/helpers/model.js';
import { createRouter } from './split.js';

const ring = new HashRing(['gw-a:4317', 'gw-b:4317', 'gw-c:4317']);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('loadbalancing router', () => {
  it('traceID on traces: splits on the wire bytes, each trace whole on its owner, every span once', () => {
    // 40 traces of 10 spans, in two resources.
    const rs: ResourceSpans[] = [...traces(200), ...traces(200, 5, 200)];
    rs[1]!.resource.attributes = [str('service.name', 'cart')];
    const data = Telemetry.fromProto('traces', Telemetry.traces(rs).toProto(), 400);
    const parts = createRouter('traces', 'traceID').split(data, ring);
    expect(parts.size).toBe(3);
    let total = 0;
    for (const [owner, part] of parts) {
      expect(part.hasProto()).toBe(true);
      total += part.itemCount();
      const spans = (part.read() as ResourceSpans[]).flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
      expect(spans.length).toBe(part.itemCount());
      for (const s of spans) expect(ring.indexOf(hashBytes(s.traceId))).toBe(owner);
      // Resources are kept with their spans.
      for (const r of part.read() as ResourceSpans[]) expect(['checkout', 'cart']).toContain((r.resource.attributes[0]!.value as { value: string }).value);
    }
    expect(total).toBe(400);
    // Same content as the input, by span id.
    const ids = (d: Telemetry<"traces">) => (d.read() as ResourceSpans[]).flatMap((r) => r.scopeSpans.flatMap((s) => s.spans.map((x) => hex(x.spanId) + hex(x.traceId)))).sort();
    expect([...parts.values()].flatMap((p) => ids(p as Telemetry<'traces'>)).sort()).toEqual(ids(data as Telemetry<'traces'>));
  });

  it('passes a batch whose traces share one owner through untouched', () => {
    const data = Telemetry.fromProto('traces', Telemetry.traces(traces(10)).toProto(), 10);
    const parts = createRouter('traces', 'traceID').split(data, ring);
    expect([...parts.values()]).toEqual([data]);
  });

  it('service and resource keys keep a resource whole; resource identity ignores attribute order', () => {
    const mk = (attrs: [string, string][]) => ({ ...traces(3)[0]!, resource: { attributes: attrs.map(([k, v]) => str(k, v)), droppedAttributesCount: 0 } });
    const rs = [mk([['service.name', 'a'], ['host', '1']]), mk([['host', '1'], ['service.name', 'a']]), mk([['service.name', 'b']])];
    const byRes = createRouter('traces', 'resource').split(Telemetry.traces(rs), ring);
    const owners = [...byRes].flatMap(([o, p]) => (p as Telemetry<'traces'>).read().map((r) => [o, r.resource.attributes.length] as const));
    const two = owners.filter(([, n]) => n === 2).map(([o]) => o);
    expect(new Set(two).size).toBe(1);
    const bySvc = createRouter('traces', 'service').split(Telemetry.traces(rs), ring);
    for (const [o, p] of bySvc) for (const r of (p as Telemetry<'traces'>).read()) {
      const svc = (r.resource.attributes.find((a) => a.key === 'service.name')!.value as { value: string }).value;
      expect(ring.indexOf(hashString(svc))).toBe(o);
    }
  });

  it('logs by trace id of each record', () => {
    const data = Telemetry.logs(logs(300));
    const parts = createRouter('logs', 'traceID').split(data, ring);
    let n = 0;
    for (const [o, p] of parts) {
      for (const r of (p as Telemetry<'logs'>).read()) for (const sl of r.scopeLogs) for (const rec of sl.logRecords) {
        expect(ring.indexOf(hashBytes(rec.traceId))).toBe(o);
        n++;
      }
    }
    expect(n).toBe(300);
    expect(parts.size).toBe(3);
  });

  it('metrics by metric name and by stream (data point attributes)', () => {
    const rm: ResourceMetrics[] = gauges(60);
    const two: ResourceMetrics[] = [{ ...rm[0]!, scopeMetrics: [{ ...rm[0]!.scopeMetrics[0]!, metrics: [rm[0]!.scopeMetrics[0]!.metrics[0]!, { ...rm[0]!.scopeMetrics[0]!.metrics[0]!, name: 'humidity' }, { ...rm[0]!.scopeMetrics[0]!.metrics[0]!, name: 'pressure' }] }] }];
    const byName = createRouter('metrics', 'metric').split(Telemetry.metrics(two), ring);
    for (const [o, p] of byName) for (const r of (p as Telemetry<'metrics'>).read()) for (const sm of r.scopeMetrics) for (const m of sm.metrics) expect(ring.indexOf(hashString(m.name))).toBe(o);
    const byStream = createRouter('metrics', 'streamID').split(Telemetry.metrics(rm), ring);
    expect(byStream.size).toBe(3);
    let points = 0;
    const placed = new Map<string, number>();
    for (const [o, p] of byStream) for (const r of (p as Telemetry<'metrics'>).read()) for (const sm of r.scopeMetrics) for (const m of sm.metrics) {
      const dps = (m.data as { dataPoints: { attributes: { value: { value: string } }[] }[] }).dataPoints;
      for (const dp of dps) {
        placed.set(dp.attributes[0]!.value.value, o);
        points++;
      }
    }
    expect(points).toBe(60);
    // Deterministic: the same stream goes to the same owner again.
    const again = createRouter('metrics', 'streamID').split(Telemetry.metrics(gauges(60)), ring);
    for (const [o, p] of again) for (const r of (p as Telemetry<'metrics'>).read()) for (const sm of r.scopeMetrics) for (const m of sm.metrics) {
      for (const dp of (m.data as { dataPoints: { attributes: { value: { value: string } }[] }[] }).dataPoints) expect(placed.get(dp.attributes[0]!.value.value)).toBe(o);
    }
  });

  it('refuses keys a signal does not support', () => {
    expect(() => createRouter('traces', 'metric')).toThrow(/not supported/);
    expect(() => createRouter('logs', 'streamID')).toThrow(/not supported/);
  });
});
