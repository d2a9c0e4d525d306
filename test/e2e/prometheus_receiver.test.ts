// The prometheus receiver against real targets: the Prometheus server's own
// /metrics and prometheus-node-exporter, compared series by series with what
// the target serves; and the round trip scrape → OTLP → prometheusremotewrite
// → a real Prometheus, read back through its query API.
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrometheus, type PrometheusServer } from '../helpers/prometheus.js';
import { startNodeExporter, type NodeExporter } from '../helpers/node_exporter.js';
import { startSieve, waitFor, type RunningSieve } from '../helpers/sieve.js';
import { Collector, startReceiver } from '../../src/receivers/prometheus/testdata/harness.js';

/** An independent, simple reading of the text format for comparison. */
function readText(text: string): { types: Map<string, string>; series: Map<string, number> } {
  const types = new Map<string, string>();
  const series = new Map<string, number>();
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)/.exec(line);
    if (t) types.set(t[1]!, t[2]!);
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: string[] = [];
    // An empty value is no label (Prometheus's rule).
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) if (l[2] !== '') labels.push(`${l[1]}=${l[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\')}`);
    labels.sort();
    const v = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    series.set(`${m[1]}{${labels.join(',')}}`, v);
  }
  return { types, series };
}

function fetchText(url: string): Promise<string> {
  return fetch(url, { headers: { accept: 'text/plain;version=0.0.4' } }).then((r) => r.text());
}

/** The receiver's counters and gauges as name{sorted labels} → value, from batches after `afterNs`. */
function received(c: Collector, afterNs: bigint): { series: Map<string, number>; kinds: Map<string, string> } {
  const series = new Map<string, number>();
  const kinds = new Map<string, string>();
  for (const { metric } of c.metrics()) {
    const d = metric.data;
    if (d.type !== 'gauge' && d.type !== 'sum') continue;
    kinds.set(metric.name, d.type === 'sum' ? (d.isMonotonic ? 'counter' : 'sum') : 'gauge');
    for (const p of d.dataPoints) {
      if (p.timeUnixNano <= afterNs || p.flags !== 0) continue;
      const labels = p.attributes.map((a) => `${a.key}=${String((a.value as { value?: unknown }).value)}`).sort();
      series.set(`${metric.name}{${labels.join(',')}}`, Number(p.value));
    }
  }
  return { series, kinds };
}

const REPORT = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped', 'scrape_samples_post_metric_relabeling', 'scrape_series_added']);

/**
 * Fetches the target, waits for one receiver scrape after that, fetches again;
 * then every counter lies between the two fetches, and every counter or gauge
 * that did not change between them equals what the receiver got.
 */
async function compareWithTarget(url: string, c: Collector): Promise<{ exact: number; bounded: number }> {
  const a = readText(await fetchText(url));
  const afterNs = BigInt(Date.now()) * 1_000_000n;
  const n0 = c.batches.length;
  await waitFor(() => c.batches.length > n0 && received(c, afterNs).series.size > 50, { timeoutMs: 20_000, what: 'a scrape after the first fetch' });
  const b = readText(await fetchText(url));
  const got = received(c, afterNs);
  let exact = 0;
  let bounded = 0;
  let gauges = 0;
  const gaugeMismatch: string[] = [];
  for (const [key, va] of a.series) {
    const name = key.slice(0, key.indexOf('{'));
    if (REPORT.has(name)) continue;
    const vb = b.series.get(key);
    const vr = got.series.get(key);
    const type = a.types.get(name);
    if (vb === undefined || (type !== 'counter' && type !== 'gauge')) continue;
    expect(vr, `${key} received`).toBeDefined();
    expect(got.kinds.get(name)).toBe(type === 'counter' ? 'counter' : 'gauge');
    if (type === 'counter') {
      expect(vr!, key).toBeGreaterThanOrEqual(va);
      expect(vr!, key).toBeLessThanOrEqual(vb);
      bounded++;
    }
    if (va === vb || (Number.isNaN(va) && Number.isNaN(vb))) {
      const same = Number.isNaN(va) ? Number.isNaN(vr!) : vr === va;
      // A counter that did not move between the fetches cannot have moved in
      // between; a gauge can go and come back (Go heap sizes), so gauges are
      // counted and most of them must match.
      if (type === 'counter') {
        expect(vr, key).toBe(va);
        exact++;
      } else {
        gauges++;
        if (same) exact++;
        else gaugeMismatch.push(key);
      }
    }
  }
  expect(gaugeMismatch.length, `gauges that differ: ${gaugeMismatch.join(' ')}`).toBeLessThanOrEqual(Math.max(2, gauges * 0.05));
  return { exact, bounded };
}

describe('prometheus receiver against real targets', () => {
  let prom: PrometheusServer;
  let node: NodeExporter;
  beforeAll(async () => {
    [prom, node] = await Promise.all([startPrometheus(), startNodeExporter()]);
  });
  afterAll(async () => {
    await Promise.all([prom?.stop(), node?.stop()]);
  });

  it("scrapes the Prometheus server's own /metrics: values match what it serves", async () => {
    const address = prom.url.replace('http://', '');
    const r = await startReceiver({ config: { scrape_configs: [{ job_name: 'prometheus', scrape_interval: '1s', scrape_timeout: '900ms', static_configs: [{ targets: [address] }] }] } });
    try {
      await waitFor(() => r.consumer.lastUp() === 1, { what: 'up' });
      const { exact, bounded } = await compareWithTarget(`${prom.url}/metrics`, r.consumer);
      expect(exact).toBeGreaterThan(50);
      expect(bounded).toBeGreaterThan(20);
      // Histograms keep their bounds and counts.
      const h = r.consumer.histograms('prometheus_http_request_duration_seconds').at(-1)!;
      expect(h.explicitBounds.length).toBeGreaterThan(3);
      expect(h.bucketCounts.reduce((x, y) => x + y, 0)).toBe(h.count);
      const info = r.consumer.points('prometheus_build_info').at(-1)!;
      expect(info.attrs.version).toMatch(/^\d+\.\d+/);
      expect(info.resource['service.name']).toBe('prometheus');
    } finally {
      await r.stop();
    }
  });

  it('scrapes prometheus-node-exporter: values match what it serves', async () => {
    const r = await startReceiver({ config: { scrape_configs: [{ job_name: 'node', scrape_interval: '1s', scrape_timeout: '900ms', static_configs: [{ targets: [node.address] }] }] } });
    try {
      await waitFor(() => r.consumer.lastUp() === 1, { what: 'up' });
      const { exact, bounded } = await compareWithTarget(node.url, r.consumer);
      expect(exact).toBeGreaterThan(50);
      expect(bounded).toBeGreaterThan(10);
      const total = r.consumer.points('node_memory_MemTotal_bytes').at(-1)!;
      expect(total.value).toBeGreaterThan(0);
      expect(total.resource).toMatchObject({ 'service.name': 'node', 'service.instance.id': node.address });
    } finally {
      await r.stop();
    }
  });
});

describe('round trip: scrape → OTLP → prometheusremotewrite → Prometheus', () => {
  let prom: PrometheusServer;
  let node: NodeExporter;
  let sieve: RunningSieve;
  let target: Server;
  let address = '';
  const exposition = [
    '# TYPE jobs_total counter',
    'jobs_total{kind="pdf"} 1234',
    'jobs_total{kind="csv"} 7',
    '# TYPE queue_length gauge',
    'queue_length{queue="mail"} 17.5',
    '# TYPE lat_seconds histogram',
    'lat_seconds_bucket{le="0.5"} 3',
    'lat_seconds_bucket{le="1"} 5',
    'lat_seconds_bucket{le="+Inf"} 6',
    'lat_seconds_sum 4.25',
    'lat_seconds_count 6',
    '# TYPE rtt_seconds summary',
    'rtt_seconds{quantile="0.5"} 0.2',
    'rtt_seconds{quantile="0.9"} 0.8',
    'rtt_seconds_sum 12',
    'rtt_seconds_count 40',
    '',
  ].join('\n');

  beforeAll(async () => {
    [prom, node] = await Promise.all([startPrometheus(), startNodeExporter()]);
    target = createServer((_, res) => {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(exposition);
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    address = `127.0.0.1:${(target.address() as { port: number }).port}`;
    sieve = await startSieve(`
receivers:
  prometheus:
    config:
      global: { scrape_interval: 1s, scrape_timeout: 900ms }
      scrape_configs:
        - job_name: rt
          static_configs: [{ targets: ['${address}'], labels: { env: e2e } }]
        - job_name: node
          static_configs: [{ targets: ['${node.address}'] }]
exporters:
  prometheusremotewrite:
    endpoint: ${prom.writeUrl}
    retry_on_failure: { initial_interval: 20ms, max_interval: 200ms }
service:
  pipelines:
    metrics: { receivers: [prometheus], exporters: [prometheusremotewrite] }
`);
  });
  afterAll(async () => {
    await sieve?.stop();
    await new Promise((r) => target?.close(r));
    await Promise.all([prom?.stop(), node?.stop()]);
  });

  const one = async (q: string) => {
    const r = await waitFor(async () => {
      const res = await prom.query(q);
      return res.length === 1 ? res : undefined;
    }, { timeoutMs: 20_000, what: q });
    return { labels: r[0]!.metric, value: Number(r[0]!.value[1]) };
  };

  it('the values in Prometheus equal the target’s', async () => {
    expect(await one('jobs_total{job="rt",kind="pdf"}')).toMatchObject({ value: 1234, labels: { instance: address, env: 'e2e' } });
    expect((await one('jobs_total{job="rt",kind="csv"}')).value).toBe(7);
    expect((await one('queue_length{job="rt",queue="mail"}')).value).toBe(17.5);
    expect((await one('lat_seconds_bucket{job="rt",le="0.5"}')).value).toBe(3);
    expect((await one('lat_seconds_bucket{job="rt",le="1"}')).value).toBe(5);
    expect((await one('lat_seconds_bucket{job="rt",le="+Inf"}')).value).toBe(6);
    expect((await one('lat_seconds_sum{job="rt"}')).value).toBe(4.25);
    expect((await one('lat_seconds_count{job="rt"}')).value).toBe(6);
    expect((await one('rtt_seconds{job="rt",quantile="0.9"}')).value).toBe(0.8);
    expect((await one('rtt_seconds_count{job="rt"}')).value).toBe(40);
    expect((await one('up{job="rt"}')).value).toBe(1);
  });

  it('node-exporter series arrive with the values it serves', async () => {
    const served = readText(await fetchText(node.url)).series;
    const memTotal = [...served].find(([k]) => k.startsWith('node_memory_MemTotal_bytes{'))![1];
    expect((await one(`node_memory_MemTotal_bytes{job="node"}`)).value).toBe(memTotal);
    const buildKey = [...served.keys()].find((k) => k.startsWith('node_exporter_build_info{'))!;
    const version = /[{,]version=([^,}]+)/.exec(buildKey)![1];
    expect((await one(`node_exporter_build_info{job="node"}`)).labels.version).toBe(version);
    // A counter: Prometheus's latest value is one the exporter served (between two reads around it).
    const before = readText(await fetchText(node.url)).series;
    const key = [...before.keys()].find((k) => k.startsWith('node_cpu_seconds_total{') && k.includes('mode=idle'))!;
    const cpu = /cpu=(\d+)/.exec(key)![1];
    await waitFor(async () => (await prom.query(`node_cpu_seconds_total{job="node",cpu="${cpu}",mode="idle"}`)).some((s) => Number(s.value[1]) >= before.get(key)!), { timeoutMs: 20_000, what: 'a fresh cpu counter' });
    const after = readText(await fetchText(node.url)).series.get(key)!;
    const v = (await one(`node_cpu_seconds_total{job="node",cpu="${cpu}",mode="idle"}`)).value;
    expect(v).toBeGreaterThanOrEqual(before.get(key)!);
    expect(v).toBeLessThanOrEqual(after);
  });

  it('a target that goes down is up == 0 in Prometheus and its series go stale', async () => {
    await one('jobs_total{job="rt",kind="pdf"}');
    target.closeAllConnections();
    await new Promise((r) => target.close(r));
    await waitFor(async () => (await prom.query('up{job="rt"}')).some((s) => s.value[1] === '0'), { timeoutMs: 20_000, what: 'up == 0' });
    // The stale markers end the series: an instant query no longer returns them.
    await waitFor(async () => (await prom.query('jobs_total{job="rt"}')).length === 0, { timeoutMs: 20_000, what: 'jobs_total stale' });
    expect(await prom.query('lat_seconds_bucket{job="rt"}')).toEqual([]);
    expect(await prom.query('rtt_seconds{job="rt"}')).toEqual([]);
    expect(await prom.query('queue_length{job="rt"}')).toEqual([]);
    expect((await one('up{job="node"}')).value).toBe(1);
  });
});
