// Self-telemetry: the daemon's own metrics, under the Collector's names
// (otelcol_receiver_accepted_spans, ...) so existing dashboards work, and
// Sieve's own under sieve_*. One registry per daemon; components ask for
// instruments by name and get the same instrument each time.
import client from 'prom-client';

export class SelfTelemetry {
  readonly registry: client.Registry;
  private counters = new Map<string, client.Counter<string>>();
  private gauges = new Map<string, client.Gauge<string>>();
  private histograms = new Map<string, client.Histogram<string>>();

  constructor() {
    this.registry = new client.Registry();
  }

  /**
   * A counter. It is exposed with the `_total` suffix, as the Collector's
   * OpenTelemetry Prometheus exporter exposes its monotonic sums
   * (otelcol_receiver_accepted_spans → otelcol_receiver_accepted_spans_total,
   * the series Collector dashboards query), which also keeps
   * `promtool check metrics` clean. Pass the name with or without the suffix.
   */
  counter(name: string, help: string, labelNames: readonly string[] = []): client.Counter<string> {
    const exposed = name.endsWith('_total') ? name : `${name}_total`;
    let c = this.counters.get(exposed);
    if (!c) {
      c = new client.Counter({ name: exposed, help, labelNames: [...labelNames], registers: [this.registry] });
      this.counters.set(exposed, c);
    }
    return c;
  }

  gauge(name: string, help: string, labelNames: readonly string[] = [], collect?: (this: client.Gauge<string>) => void | Promise<void>): client.Gauge<string> {
    let g = this.gauges.get(name);
    if (!g) {
      g = new client.Gauge({ name, help, labelNames: [...labelNames], registers: [this.registry], ...(collect ? { collect } : {}) });
      this.gauges.set(name, g);
    }
    return g;
  }

  histogram(name: string, help: string, labelNames: readonly string[] = [], buckets?: number[]): client.Histogram<string> {
    let h = this.histograms.get(name);
    if (!h) {
      h = new client.Histogram({ name, help, labelNames: [...labelNames], registers: [this.registry], ...(buckets ? { buckets } : {}) });
      this.histograms.set(name, h);
    }
    return h;
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }

  /** Current value of a counter or gauge with these labels (tests, health); counters by either name. */
  async value(name: string, labels: Record<string, string> = {}): Promise<number> {
    const m = this.registry.getSingleMetric(name) ?? (name.endsWith('_total') ? undefined : this.registry.getSingleMetric(`${name}_total`));
    if (!m) return 0;
    const data = await m.get();
    let sum = 0;
    for (const v of data.values) {
      const l = v.labels as Record<string, string | number>;
      if (Object.entries(labels).every(([k, x]) => String(l[k]) === x)) sum += v.value;
    }
    return sum;
  }
}
