// The receiver against scrape targets on loopback whose expositions the tests
// set: conversion, start times, staleness, limits, bad input, discovery.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../service/logger.js';
import { SelfTelemetry } from '../../service/telemetry.js';
import { host, settings } from '../../prom/testdata/host.js';
import { toHex } from '../../prom/exemplars.js';
import { prometheusReceiverFactory } from './factory.js';
import { FLAG_NO_RECORDED_VALUE } from './convert.js';
import { PrometheusReceiver, scrapeOffset } from './receiver.js';
import { Collector, parseConfig, startReceiver, waitFor } from './testdata/harness.js';
import { startTarget, type TestTarget } from './testdata/target.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function target(body = '', ct?: string): Promise<TestTarget> {
  const t = await startTarget(body, ct);
  cleanup.push(() => t.close());
  return t;
}

function job(t: TestTarget | string[], extra: Record<string, unknown> = {}) {
  return { job_name: 'app', scrape_interval: '200ms', scrape_timeout: '150ms', static_configs: [{ targets: Array.isArray(t) ? t : [t.address] }], ...extra };
}

async function receiver(jobs: Record<string, unknown>[], more: Record<string, unknown> = {}) {
  const r = await startReceiver({ config: { scrape_configs: jobs }, ...more });
  cleanup.push(() => r.stop());
  return r;
}

function logging(): { logger: Logger; lines: { level: string; msg: string; fields?: Record<string, unknown> }[] } {
  const lines: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  const mk = (level: string) => (msg: string, fields?: Record<string, unknown>) => void lines.push({ level, msg, fields });
  const logger: Logger = { debug: mk('debug'), info: mk('info'), warn: mk('warn'), error: mk('error'), child: () => logger, enabled: () => true };
  return { logger, lines };
}

const OM = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

describe('prometheus receiver', () => {
  it('converts an OpenMetrics target like the Collector: types, _created, exemplars, info, stateset, target_info, gzip', async () => {
    const t = await target(
      [
        '# TYPE target info',
        'target_info{env="prod",region="eu"} 1',
        '# TYPE rpc counter',
        '# HELP rpc RPCs served.',
        `rpc_total{code="200"} 42 # {trace_id="${TRACE}",span_id="${SPAN}",user="u1"} 1 1700000000.5`,
        'rpc_created{code="200"} 1600000000.25',
        '# TYPE lat_seconds histogram',
        '# UNIT lat_seconds seconds',
        `lat_seconds_bucket{path="/a",le="0.1"} 3 # {trace_id="${TRACE}"} 0.05`,
        'lat_seconds_bucket{path="/a",le="1"} 5',
        'lat_seconds_bucket{path="/a",le="+Inf"} 6',
        'lat_seconds_count{path="/a"} 6',
        'lat_seconds_sum{path="/a"} 7.5',
        'lat_seconds_created{path="/a"} 1600000001',
        '# TYPE rtt summary',
        'rtt{quantile="0.99"} 9',
        'rtt{quantile="0.5"} 2',
        'rtt_sum 30',
        'rtt_count 10',
        '# TYPE build info',
        'build_info{version="1.2"} 1',
        '# TYPE feature stateset',
        'feature{feature="a"} 1',
        'feature{feature="b"} 0',
        '# TYPE temp gauge',
        'temp 21.5',
        'mystery 3',
        '# EOF',
        '',
      ].join('\n'),
      OM,
    );
    t.set({ gzip: true });
    const r = await receiver([job(t)]);
    await waitFor(() => r.consumer.lastUp() === 1, 'a scrape');
    expect(String(t.requests[0]!.headers.accept)).toMatch(/^application\/openmetrics-text;version=1\.0\.0,/);
    expect(t.requests[0]!.headers['accept-encoding']).toBe('gzip');
    expect(t.requests[0]!.headers['x-prometheus-scrape-timeout-seconds']).toBe('0.15');

    const { resource, metric } = r.consumer.metrics().find((m) => m.metric.name === 'rpc_total')!;
    expect(resource).toEqual({ 'service.name': 'app', 'service.instance.id': t.address, 'server.address': '127.0.0.1', 'server.port': t.address.split(':')[1], 'url.scheme': 'http', env: 'prod', region: 'eu' });
    expect(metric.description).toBe('RPCs served.');
    expect(metric.data).toMatchObject({ type: 'sum', isMonotonic: true, aggregationTemporality: 2 });
    const rpc = r.consumer.points('rpc_total')[0]!;
    expect(rpc.value).toBe(42);
    expect(rpc.attrs).toEqual({ code: '200' });
    expect(rpc.startTimeUnixNano).toBe(1_600_000_000_250_000_000n);
    expect(rpc.exemplars).toHaveLength(1);
    const ex = rpc.exemplars[0]!;
    expect([toHex(ex.traceId), toHex(ex.spanId), ex.value, ex.timeUnixNano]).toEqual([TRACE, SPAN, 1, 1_700_000_000_500_000_000n]);
    expect(ex.filteredAttributes).toEqual([{ key: 'user', value: { type: 'string', value: 'u1' } }]);

    const h = r.consumer.histograms('lat_seconds')[0]!;
    expect(h).toMatchObject({ attrs: { path: '/a' }, count: 6, sum: 7.5, explicitBounds: [0.1, 1], bucketCounts: [3, 2, 1], startTimeUnixNano: 1_600_000_001_000_000_000n });
    expect(toHex(h.exemplars[0]!.traceId)).toBe(TRACE);
    expect(r.consumer.metrics().find((m) => m.metric.name === 'lat_seconds')!.metric.unit).toBe('seconds');
    const s = r.consumer.summaries('rtt')[0]!;
    expect(s).toMatchObject({ count: 10, sum: 30, quantileValues: [{ quantile: 0.5, value: 2 }, { quantile: 0.99, value: 9 }] });
    expect(r.consumer.metrics().find((m) => m.metric.name === 'build_info')!.metric.data).toMatchObject({ type: 'sum', isMonotonic: false });
    expect(r.consumer.points('feature').map((p) => [p.attrs.feature, p.value])).toEqual([['a', 1], ['b', 0]]);
    expect(r.consumer.metrics().find((m) => m.metric.name === 'temp')!.metric.data.type).toBe('gauge');
    expect(r.consumer.metrics().find((m) => m.metric.name === 'mystery')!.metric.data.type).toBe('gauge');
    expect(r.consumer.metrics().some((m) => m.metric.name === 'target_info')).toBe(false);
    // The report metrics.
    for (const n of ['up', 'scrape_duration_seconds', 'scrape_samples_scraped', 'scrape_samples_post_metric_relabeling', 'scrape_series_added']) expect(r.consumer.points(n).length).toBeGreaterThan(0);
    expect(r.consumer.points('scrape_samples_scraped')[0]!.value).toBe(18);
    expect(await r.telemetry.value('otelcol_receiver_accepted_metric_points', { receiver: 'prometheus', transport: 'http' })).toBeGreaterThan(0);
  });

  it('keeps start times across scrapes, starts again on a reset, and ends series that vanish with NoRecordedValue', async () => {
    const t = await target('# TYPE c_total counter\nc_total{k="a"} 10\nc_total{k="b"} 5\ng 1\n');
    const r = await receiver([job(t)]);
    const pts = (k: string) => r.consumer.points('c_total').filter((p) => p.attrs.k === k);
    await waitFor(() => pts('a').length >= 2, 'two scrapes');
    const [a1, a2] = pts('a');
    expect(a1!.startTimeUnixNano).toBe(a1!.timeUnixNano);
    expect(a2!.startTimeUnixNano).toBe(a1!.startTimeUnixNano);
    expect(a2!.timeUnixNano).toBeGreaterThan(a1!.timeUnixNano);

    t.set({ body: '# TYPE c_total counter\nc_total{k="a"} 2\ng 1\n' });
    const stale = await waitFor(() => pts('b').find((p) => p.flags === FLAG_NO_RECORDED_VALUE), 'a stale marker for the vanished series');
    expect(Number.isNaN(stale.value)).toBe(true);
    expect(stale.startTimeUnixNano).toBe(a1!.startTimeUnixNano);
    const reset = await waitFor(() => pts('a').find((p) => p.value === 2), 'the reset point');
    expect(reset.startTimeUnixNano).toBe(reset.timeUnixNano - 1_000_000n);
    expect(r.consumer.points('g').every((p) => p.startTimeUnixNano === 0n)).toBe(true);
  });

  it('reports a target that goes down with up=0 and stale markers, and up=1 when it is back', async () => {
    const t = await target('# TYPE c_total counter\nc_total 1\n# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_count 1\nh_sum 1\n');
    const r = await receiver([job(t)]);
    await waitFor(() => r.consumer.lastUp() === 1, 'up');
    t.set({ status: 500 });
    await waitFor(() => r.consumer.lastUp() === 0, 'up == 0');
    const cs = r.consumer.points('c_total');
    expect(cs[cs.length - 1]!.flags).toBe(FLAG_NO_RECORDED_VALUE);
    const hs = r.consumer.histograms('h');
    expect(hs[hs.length - 1]!.flags).toBe(FLAG_NO_RECORDED_VALUE);
    // A stale marker is sent once, not on every failed scrape.
    const downAt = r.consumer.batches.length;
    await waitFor(() => r.consumer.batches.length >= downAt + 2, 'more failed scrapes');
    expect(r.consumer.points('c_total').filter((p) => p.flags === FLAG_NO_RECORDED_VALUE)).toHaveLength(1);
    t.set({ status: 200 });
    await waitFor(() => r.consumer.lastUp() === 1, 'up again');
    expect(await r.telemetry.value('sieve_receiver_prometheus_scrape_failures', { reason: 'http_status' })).toBeGreaterThan(0);
  });

  it('a closed port is a failed scrape (connection), logged once', async () => {
    const t = await target('x 1\n');
    const addr = t.address;
    await t.close();
    const log = logging();
    const telemetry = new SelfTelemetry();
    const consumer = new Collector();
    const rx = new PrometheusReceiver({ ...settings('prometheus', 'receiver', undefined, telemetry), logger: log.logger }, parseConfig({ config: { scrape_configs: [job([addr])] } }), consumer);
    await rx.start(host(telemetry));
    cleanup.push(() => rx.shutdown());
    await waitFor(async () => (await telemetry.value('sieve_receiver_prometheus_scrape_failures', { reason: 'connection' })) >= 3, 'three failures');
    expect(consumer.lastUp()).toBe(0);
    expect(log.lines.filter((l) => l.level === 'warn' && /Scrape failed/.test(l.msg))).toHaveLength(1);
  });

  it.each([
    ['garbage', { body: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 1, 2, 3]) }, 'parse'],
    ['a truncated OpenMetrics body', { body: '# TYPE a gauge\na 1\n', contentType: OM }, 'parse'],
    ['a body over body_size_limit', { body: 'x 1\n'.repeat(4000) }, 'body_size_limit'],
    ['a gzip bomb over body_size_limit', { body: '# ' + ' '.repeat(200_000) + '\n', gzip: true }, 'body_size_limit'],
    ['an unsupported Content-Encoding', { body: 'x 1\n', headers: { 'content-encoding': 'br' } }, 'encoding'],
    ['a body that claims gzip but is not', { body: 'x 1\n', headers: { 'content-encoding': 'gzip' } }, 'encoding'],
    ['a slow target', { body: 'x 1\n', delayMs: 400 }, 'timeout'],
  ])('%s: the scrape fails, is counted, and the other target keeps being scraped', async (_, state, reason) => {
    const bad = await target();
    bad.set(state as Parameters<TestTarget['set']>[0]);
    const good = await target('ok_metric 1\n');
    const r = await receiver([job(bad, { body_size_limit: '10KB' }), { ...job(good), job_name: 'good' }]);
    await waitFor(async () => (await r.telemetry.value('sieve_receiver_prometheus_scrape_failures', { reason, job: 'app' })) >= 2, `${reason} failures`);
    const ups = r.consumer.points('up');
    expect(ups.filter((p) => p.resource['service.name'] === 'app').every((p) => p.value === 0)).toBe(true);
    await waitFor(() => r.consumer.points('ok_metric').length >= 2, 'the good target scraped');
  });

  it('a target over sample_limit or label_limit is up=0 and ingests nothing', async () => {
    const many = await target(Array.from({ length: 20 }, (_, i) => `s{i="${i}"} ${i}`).join('\n') + '\n');
    const wide = await target('w{a="1",b="2",c="3",d="4"} 1\n');
    const r = await receiver([job(many, { sample_limit: 10 }), { ...job(wide), job_name: 'wide', label_limit: 5 }]);
    await waitFor(async () => (await r.telemetry.value('sieve_receiver_prometheus_scrape_failures', { reason: 'sample_limit' })) >= 1, 'sample_limit');
    await waitFor(async () => (await r.telemetry.value('sieve_receiver_prometheus_scrape_failures', { reason: 'label_limit' })) >= 1, 'label_limit');
    expect(r.consumer.points('s')).toHaveLength(0);
    expect(r.consumer.points('w')).toHaveLength(0);
    expect(r.consumer.points('up').every((p) => p.value === 0)).toBe(true);
  });

  it('honor_labels, static labels, metric_relabel_configs and basic_auth', async () => {
    const t = await target('m{job="pushed",instance="i-9",env="scraped",drop_me="x"} 1\ndropped_metric 2\n');
    const r = await receiver([
      job(t, {
        static_configs: [{ targets: [t.address], labels: { env: 'static' } }],
        basic_auth: { username: 'u', password: 'p@ss' },
        metric_relabel_configs: [
          { source_labels: ['__name__'], regex: 'dropped_.*', action: 'drop' },
          { regex: 'drop_me', action: 'labeldrop' },
        ],
      }),
      { ...job(t), job_name: 'honoring', honor_labels: true, static_configs: [{ targets: [t.address], labels: { env: 'static' } }] },
    ]);
    await waitFor(() => r.consumer.points('m').length >= 2 && r.consumer.points('m').some((p) => p.resource['service.name'] === 'pushed'), 'both jobs');
    expect(t.requests.some((q) => q.headers.authorization === `Basic ${Buffer.from('u:p@ss').toString('base64')}`)).toBe(true);
    const app = r.consumer.points('m').find((p) => p.resource['service.name'] === 'app')!;
    expect(app.attrs).toEqual({ exported_job: 'pushed', exported_instance: 'i-9', exported_env: 'scraped', env: 'static' });
    expect(r.consumer.points('dropped_metric').filter((p) => p.resource['service.name'] === 'app')).toHaveLength(0);
    const honored = r.consumer.points('m').find((p) => p.resource['service.name'] === 'pushed')!;
    expect(honored.resource['service.instance.id']).toBe('i-9');
    expect(honored.attrs).toEqual({ env: 'scraped', drop_me: 'x' });
  });

  it('file_sd_configs (JSON and YAML): targets come and go, and a removed target ends its series', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sieve-filesd-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const a = await target('from_a 1\n');
    const b = await target('from_b 1\n');
    writeFileSync(join(dir, 'a.json'), JSON.stringify([{ targets: [a.address], labels: { team: 'x' } }]));
    writeFileSync(join(dir, 'b.yml'), `- targets: ['${b.address}']\n  labels:\n    team: y\n`);
    const r = await receiver([
      {
        job_name: 'sd',
        scrape_interval: '200ms',
        scrape_timeout: '150ms',
        file_sd_configs: [{ files: [join(dir, '*.json'), join(dir, '*.yml')], refresh_interval: '100ms' }],
        relabel_configs: [{ source_labels: ['__meta_filepath'], regex: '.*/(.*)', target_label: 'file' }],
      },
    ]);
    await waitFor(() => r.consumer.points('from_a').length > 0 && r.consumer.points('from_b').length > 0, 'both targets');
    expect(r.consumer.points('from_a')[0]!.attrs).toEqual({ team: 'x', file: 'a.json' });
    expect(r.consumer.points('from_b')[0]!.attrs).toEqual({ team: 'y', file: 'b.yml' });
    // A broken file keeps its last targets.
    writeFileSync(join(dir, 'b.yml'), '- targets: [unclosed\n');
    const nb = r.consumer.points('from_b').length;
    await waitFor(() => r.consumer.points('from_b').length > nb + 1, 'b still scraped');
    writeFileSync(join(dir, 'a.json'), '[]');
    await waitFor(() => r.consumer.points('from_a').some((p) => p.flags === FLAG_NO_RECORDED_VALUE), 'a stale marker for the removed target');
    await waitFor(() => r.consumer.points('up').some((p) => p.resource['service.instance.id'] === a.address && p.flags === FLAG_NO_RECORDED_VALUE), 'up ends');
    expect(Object.values(r.rx.targets()).flat().map((t) => t.instance)).toEqual([b.address]);
  });

  it('spreads targets over the interval by hash', () => {
    const offsets = Array.from({ length: 200 }, (_, i) => scrapeOffset(`job\xffhttp://10.0.0.${i}:9100/metrics`, 10_000, 0));
    expect(offsets.every((o) => o >= 0 && o < 10_000)).toBe(true);
    // In 10 slots of one second each, no slot holds more than a quarter of the targets.
    const slots = new Array(10).fill(0);
    for (const o of offsets) slots[Math.floor(o / 1000)]++;
    expect(Math.max(...slots)).toBeLessThan(50);
    // A target keeps its phase: the same key gives the same slot at any time.
    expect(scrapeOffset('k', 10_000, 1234) + 1234).toBe(scrapeOffset('k', 10_000, 0) + (scrapeOffset('k', 10_000, 1234) + 1234 >= 10_000 ? 10_000 : 0));
  });

  it('shutdown is idempotent and safe without start', async () => {
    const rx = prometheusReceiverFactory.create(settings('prometheus', 'receiver'), parseConfig({ config: { scrape_configs: [job(['127.0.0.1:1'])] } }), { metrics: new Collector() });
    await rx.shutdown();
    await rx.shutdown();
  });
});
