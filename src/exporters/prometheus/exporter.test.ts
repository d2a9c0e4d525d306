import http from 'node:http';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { Telemetry } from '../../pdata/telemetry.js';
import { SelfTelemetry } from '../../service/telemetry.js';
import { host, parse, settings, type Clock } from '../../prom/testdata/host.js';
import { T0, exemplar, gauge, histogram, resourceMetrics, sum, summary } from '../../prom/testdata/metrics.js';
import { prometheusExporterSchema, validatePrometheusExporter } from './config.js';
import { PrometheusExporter } from './exporter.js';
import { negotiate } from './render.js';
import { toHex } from '../../prom/exemplars.js';

const PROM_ACCEPT = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

let running: PrometheusExporter[] = [];
afterEach(async () => {
  await Promise.all(running.map((e) => e.shutdown()));
  running = [];
});

async function start(raw: Record<string, unknown> = {}, clock: Clock = { now: T0 }, telemetry = new SelfTelemetry()) {
  const cfg = parse(prometheusExporterSchema, { endpoint: '127.0.0.1:0', ...raw }, validatePrometheusExporter);
  const e = new PrometheusExporter(settings('prometheus', 'exporter', clock, telemetry), cfg);
  await e.start(host(telemetry));
  running.push(e);
  return e;
}

function get(port: number, path = '/metrics', headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      })
      .on('error', reject);
  });
}

const svc = { 'service.name': 'checkout', 'service.namespace': 'shop', 'service.instance.id': 'pod-1', 'k8s.node.name': 'node-a' };

describe('prometheus exporter: text format', () => {
  it('serves every type with the Collector naming, job/instance, scope labels and target_info', async () => {
    const e = await start();
    await e.consume(
      Telemetry.metrics([
        resourceMetrics(svc, [
          sum('http.server.requests', [{ attrs: { 'http.method': 'GET', path: '/a"b\\c\nd' }, value: 7n }], { description: 'Requests.\nAll of them.' }),
          gauge('process.memory.usage', [{ value: 1024 }], 'By'),
          sum('queue.depth', [{ value: -3 }], { monotonic: false }),
          histogram('http.server.duration', [{ attrs: { route: '/' }, bounds: [0.1, 1], counts: [2, 1, 1], sum: 3.5 }], { unit: 's' }),
          summary('rpc.latency', [{ quantiles: [[0.5, 1], [0.99, 4]], sum: 10, count: 5 }]),
        ]),
      ]),
    );
    const r = await get(e.port);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    const common = 'instance="pod-1",job="shop/checkout",otel_scope_name="test-scope",otel_scope_version="1.0"';
    expect(r.body.toString()).toBe(
      [
        '# HELP http_server_duration_seconds http.server.duration help',
        '# TYPE http_server_duration_seconds histogram',
        `http_server_duration_seconds_bucket{${common},route="/",le="0.1"} 2`,
        `http_server_duration_seconds_bucket{${common},route="/",le="1"} 3`,
        `http_server_duration_seconds_bucket{${common},route="/",le="+Inf"} 4`,
        `http_server_duration_seconds_sum{${common},route="/"} 3.5`,
        `http_server_duration_seconds_count{${common},route="/"} 4`,
        '# HELP http_server_requests_total Requests.\\nAll of them.',
        '# TYPE http_server_requests_total counter',
        `http_server_requests_total{http_method="GET",${common},path="/a\\"b\\\\c\\nd"} 7`,
        '# HELP process_memory_usage_bytes process.memory.usage help',
        '# TYPE process_memory_usage_bytes gauge',
        `process_memory_usage_bytes{${common}} 1024`,
        '# HELP queue_depth queue.depth help',
        '# TYPE queue_depth gauge',
        `queue_depth{${common}} -3`,
        '# HELP rpc_latency rpc.latency help',
        '# TYPE rpc_latency summary',
        `rpc_latency{${common},quantile="0.5"} 1`,
        `rpc_latency{${common},quantile="0.99"} 4`,
        `rpc_latency_sum{${common}} 10`,
        `rpc_latency_count{${common}} 5`,
        '# HELP target_info Target metadata',
        '# TYPE target_info gauge',
        'target_info{instance="pod-1",job="shop/checkout",k8s_node_name="node-a"} 1',
        '',
      ].join('\n'),
    );
  });

  it('applies namespace, const_labels, without_scope_info, send_timestamps and add_metric_suffixes=false', async () => {
    const e = await start({ namespace: 'edge', const_labels: { cluster: 'eu', job: 'ignored' }, without_scope_info: true, send_timestamps: true, add_metric_suffixes: false });
    await e.consume(Telemetry.metrics([resourceMetrics({ 'service.name': 'api' }, [sum('hits', [{ value: 1, time: T0 + 5 }], { unit: 's' })])]));
    expect((await get(e.port)).body.toString()).toBe(
      ['# HELP edge_hits hits help', '# TYPE edge_hits counter', `edge_hits{cluster="eu",job="api"} 1 ${T0 + 5}`, ''].join('\n'),
    );
  });

  it('turns delta sums and histograms into cumulative ones', async () => {
    const e = await start();
    const batch = (start: number, time: number, v: number, c: number[]) =>
      Telemetry.metrics([
        resourceMetrics({ 'service.name': 'api' }, [
          sum('jobs', [{ value: v, start, time }], { delta: true }),
          histogram('lat', [{ bounds: [1], counts: c, sum: v, start, time }], { delta: true }),
        ]),
      ]);
    await e.consume(batch(T0, T0 + 10, 2, [1, 0]));
    await e.consume(batch(T0 + 10, T0 + 20, 3, [1, 2]));
    await e.consume(batch(T0 + 5, T0 + 15, 100, [9, 9])); // overlaps: dropped
    const text = (await get(e.port)).body.toString();
    expect(text).toMatch(/^jobs_total\{.*\} 5$/m);
    expect(text).toMatch(/^lat_bucket\{.*le="1"\} 2$/m);
    expect(text).toMatch(/^lat_bucket\{.*le="\+Inf"\} 4$/m);
    expect(text).toMatch(/^lat_sum\{.*\} 5$/m);
  });

  it('drops a series on NO_RECORDED_VALUE and keeps the newest cumulative value', async () => {
    const e = await start();
    await e.consume(Telemetry.metrics([resourceMetrics({}, [gauge('g', [{ attrs: { a: '1' }, value: 5, time: T0 + 10 }, { attrs: { a: '2' }, value: 1 }])])]));
    await e.consume(Telemetry.metrics([resourceMetrics({}, [gauge('g', [{ attrs: { a: '1' }, value: 4, time: T0 + 5 }, { attrs: { a: '2' }, value: 0, flags: 1 }])])]));
    const text = (await get(e.port)).body.toString();
    expect(text).toMatch(/^g\{a="1".*\} 5$/m);
    expect(text).not.toContain('a="2"');
  });
});

describe('prometheus exporter: OpenMetrics', () => {
  it('serves OpenMetrics with exemplars on _total and _bucket to Prometheus', async () => {
    const e = await start({ enable_open_metrics: true });
    const ex = [exemplar(1, T0 - 1000, 1), exemplar(1, T0 - 500, 2), exemplar(0.2, T0 - 123, 3), exemplar(1.9, T0 - 42, 4)];
    await e.consume(
      Telemetry.metrics([
        resourceMetrics({ 'service.name': 'api' }, [
          sum('requests', [{ value: 3, exemplars: [ex[0]!, ex[1]!] }], { unit: '{request}' }),
          histogram('latency', [{ bounds: [0.5, 1], counts: [1, 0, 1], sum: 2.1, exemplars: [ex[2]!, ex[3]!] }], { unit: 's' }),
          gauge('temp', [{ value: 20.5 }], 'Cel'),
        ]),
      ]),
    );
    const r = await get(e.port, '/metrics', { Accept: PROM_ACCEPT });
    expect(r.headers['content-type']).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    const body = r.body.toString();
    const l = 'job="api",otel_scope_name="test-scope",otel_scope_version="1.0"';
    const exText = (i: number, v: number, ms: number) => ` # {span_id="${toHex(ex[i]!.spanId)}",trace_id="${toHex(ex[i]!.traceId)}"} ${v} ${ms / 1000}`;
    expect(body).toContain(
      [
        '# HELP latency_seconds latency help',
        '# TYPE latency_seconds histogram',
        '# UNIT latency_seconds seconds',
        `latency_seconds_bucket{${l},le="0.5"} 1${exText(2, 0.2, T0 - 123)}`,
        `latency_seconds_bucket{${l},le="1.0"} 1`,
        `latency_seconds_bucket{${l},le="+Inf"} 2${exText(3, 1.9, T0 - 42)}`,
        `latency_seconds_sum{${l}} 2.1`,
        `latency_seconds_count{${l}} 2`,
      ].join('\n'),
    );
    // The latest exemplar of a counter.
    expect(body).toContain(['# HELP requests requests help', '# TYPE requests counter', `requests_total{${l}} 3${exText(1, 1, T0 - 500)}`].join('\n'));
    expect(body).toContain(['# TYPE temp_celsius gauge', '# UNIT temp_celsius celsius', `temp_celsius{${l}} 20.5`].join('\n'));
    expect(body.endsWith('# EOF\n')).toBe(true);
  });

  it('negotiates with q-values and falls back to text', () => {
    expect(negotiate(PROM_ACCEPT, true).format).toBe('openmetrics');
    expect(negotiate(PROM_ACCEPT, false).format).toBe('text');
    expect(negotiate('text/plain;version=0.0.4;q=0.9,application/openmetrics-text;q=0.5', true).format).toBe('text');
    expect(negotiate('application/openmetrics-text;version=0.0.1', true).contentType).toBe('application/openmetrics-text; version=0.0.1; charset=utf-8');
    expect(negotiate('application/openmetrics-text;version=2.0.0', true).format).toBe('text');
    expect(negotiate('application/openmetrics-text;q=0', true).format).toBe('text');
    expect(negotiate(undefined, true).format).toBe('text');
    expect(negotiate('*/*', true).format).toBe('text');
  });

  it('never puts exemplars in the text format', async () => {
    const e = await start({ enable_open_metrics: true });
    await e.consume(Telemetry.metrics([resourceMetrics({}, [sum('c', [{ value: 1, exemplars: [exemplar(1, T0)] }])])]));
    expect((await get(e.port, '/metrics', { Accept: 'text/plain' })).body.toString()).not.toContain('#  {');
    expect((await get(e.port, '/metrics', { Accept: 'text/plain' })).body.toString()).not.toContain('trace_id');
  });
});

describe('prometheus exporter: limits, expiry and access', () => {
  it('expires series on a timer, not on scrape', async () => {
    const clock = { now: T0 };
    const e = await start({ metric_expiration: '1m' }, clock);
    await e.consume(Telemetry.metrics([resourceMetrics({}, [gauge('old', [{ value: 1 }])])]));
    clock.now += 50_000;
    await e.consume(Telemetry.metrics([resourceMetrics({}, [gauge('new', [{ value: 2 }])])]));
    clock.now += 20_000;
    // A scrape removes nothing.
    expect((await get(e.port)).body.toString()).toContain('old ');
    expect(e.store.seriesCount).toBe(2);
    expect(e.expire()).toBe(1);
    const text = (await get(e.port)).body.toString();
    expect(text).not.toContain('old');
    expect(text).toMatch(/^new\{.*\} 2$/m);
  });

  it('caps the number of series and counts what it drops', async () => {
    const telemetry = new SelfTelemetry();
    const e = await start({ max_series: 3 }, { now: T0 }, telemetry);
    const pts = Array.from({ length: 10 }, (_, i) => ({ attrs: { id: String(i) }, value: i }));
    await e.consume(Telemetry.metrics([resourceMetrics({}, [gauge('g', pts)])]));
    expect(e.store.seriesCount).toBe(3);
    expect(await telemetry.value('sieve_prometheus_exporter_dropped_points_total', { reason: 'series_limit' })).toBe(7);
    expect(await telemetry.value('otelcol_exporter_sent_metric_points')).toBe(3);
  });

  it('drops points whose family already has another type', async () => {
    const telemetry = new SelfTelemetry();
    const e = await start({}, { now: T0 }, telemetry);
    await e.consume(Telemetry.metrics([resourceMetrics({}, [gauge('x', [{ value: 1 }]), sum('x', [{ value: 2 }], { monotonic: false, description: '' })])]));
    await e.consume(Telemetry.metrics([resourceMetrics({}, [histogram('x', [{ bounds: [], counts: [1] }])])]));
    expect(await telemetry.value('sieve_prometheus_exporter_dropped_points_total', { reason: 'type_conflict' })).toBe(1);
    expect((await get(e.port)).body.toString()).toMatch(/^x\{.*\} 2$/m);
  });

  it('requires the bearer token when configured', async () => {
    const e = await start({ auth: { bearer_token: 't0ken' } });
    expect((await get(e.port)).status).toBe(401);
    expect((await get(e.port, '/metrics', { Authorization: 'Bearer wrong' })).status).toBe(401);
    const ok = await get(e.port, '/metrics', { Authorization: 'Bearer t0ken' });
    expect(ok.status).toBe(200);
  });

  it('gzips large responses when asked and serves only /metrics', async () => {
    const e = await start();
    const pts = Array.from({ length: 200 }, (_, i) => ({ attrs: { id: String(i) }, value: i }));
    await e.consume(Telemetry.metrics([resourceMetrics({}, [gauge('g', pts)])]));
    const r = await get(e.port, '/metrics', { 'Accept-Encoding': 'gzip' });
    expect(r.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(r.body).toString()).toContain('g{id="199",otel_scope_name="test-scope",otel_scope_version="1.0"} 199');
    expect((await get(e.port, '/')).status).toBe(404);
  });

  it('shuts down idempotently, also without start', async () => {
    const e = new PrometheusExporter(settings('prometheus', 'exporter'), parse(prometheusExporterSchema, { endpoint: '127.0.0.1:0' }));
    await e.shutdown();
    await e.shutdown();
    const s = await start();
    await s.shutdown();
    await s.shutdown();
    await expect(s.consume(Telemetry.metrics([]))).rejects.toThrow(/shutting down/);
  });
});
