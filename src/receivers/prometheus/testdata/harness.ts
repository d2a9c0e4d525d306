// Drives a prometheus receiver directly in tests: a consumer that keeps every
// batch, and lookups over what was received.
import type { Consumer } from '../../../component/component.js';
import { Issues } from '../../../config/schema.js';
import type { HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, SummaryDataPoint } from '../../../pdata/model.js';
import type { Telemetry } from '../../../pdata/telemetry.js';
import { host, settings } from '../../../prom/testdata/host.js';
import { SelfTelemetry } from '../../../service/telemetry.js';
import { prometheusReceiverSchema, validatePrometheusReceiver } from '../config.js';
import { PrometheusReceiver } from '../receiver.js';

export class Collector implements Consumer {
  readonly mutatesData = false;
  batches: ResourceMetrics[][] = [];
  fail: Error | undefined;
  async consume(data: Telemetry): Promise<void> {
    if (this.fail) throw this.fail;
    this.batches.push([...(data.read() as ResourceMetrics[])]);
  }
  /** Every (resource, metric) pair received, oldest first. */
  metrics(): { resource: Record<string, string>; metric: Metric; batch: number }[] {
    const out: { resource: Record<string, string>; metric: Metric; batch: number }[] = [];
    this.batches.forEach((b, i) => {
      for (const rm of b) {
        const resource = attrs(rm.resource.attributes);
        for (const sm of rm.scopeMetrics) for (const metric of sm.metrics) out.push({ resource, metric, batch: i });
      }
    });
    return out;
  }
  /** Number points of a metric, newest batch last. */
  points(name: string): (NumberDataPoint & { attrs: Record<string, string>; resource: Record<string, string> })[] {
    const out: (NumberDataPoint & { attrs: Record<string, string>; resource: Record<string, string> })[] = [];
    for (const { resource, metric } of this.metrics()) {
      if (metric.name !== name) continue;
      const d = metric.data;
      if (d.type === 'gauge' || d.type === 'sum') for (const p of d.dataPoints) out.push({ ...p, attrs: attrs(p.attributes), resource });
    }
    return out;
  }
  histograms(name: string): (HistogramDataPoint & { attrs: Record<string, string> })[] {
    const out: (HistogramDataPoint & { attrs: Record<string, string> })[] = [];
    for (const { metric } of this.metrics()) if (metric.name === name && metric.data.type === 'histogram') for (const p of metric.data.dataPoints) out.push({ ...p, attrs: attrs(p.attributes) });
    return out;
  }
  summaries(name: string): (SummaryDataPoint & { attrs: Record<string, string> })[] {
    const out: (SummaryDataPoint & { attrs: Record<string, string> })[] = [];
    for (const { metric } of this.metrics()) if (metric.name === name && metric.data.type === 'summary') for (const p of metric.data.dataPoints) out.push({ ...p, attrs: attrs(p.attributes) });
    return out;
  }
  /** The last batch holding an `up` point, and that point's value. */
  lastUp(): number | undefined {
    const ups = this.points('up');
    return ups.length ? Number(ups[ups.length - 1]!.value) : undefined;
  }
}

export function attrs(kvs: readonly { key: string; value: { type: string; value?: unknown } }[]): Record<string, string> {
  const o: Record<string, string> = {};
  for (const kv of kvs) o[kv.key] = String(kv.value.value);
  return o;
}

export function parseConfig(raw: unknown) {
  const issues = new Issues();
  const cfg = prometheusReceiverSchema.parse(raw, ['prometheus'], issues);
  if (!issues.hasErrors()) validatePrometheusReceiver(cfg, ['prometheus'], issues);
  if (issues.hasErrors()) throw new Error(issues.errors.map((i) => `${i.path.join('::')}: ${i.message}`).join('\n'));
  return cfg;
}

export async function startReceiver(raw: unknown, consumer = new Collector()) {
  const telemetry = new SelfTelemetry();
  const rx = new PrometheusReceiver(settings('prometheus', 'receiver', undefined, telemetry), parseConfig(raw), consumer);
  await rx.start(host(telemetry));
  return { rx, consumer, telemetry, stop: () => rx.shutdown() };
}

export async function waitFor<T>(fn: () => T | Promise<T>, what: string, timeoutMs = 20_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
