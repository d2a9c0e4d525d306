import { afterEach, describe, expect, it } from 'vitest';
import type { Component, HealthReport, Kind } from '../../component/component.js';
import { Issues, formatPath } from '../../config/schema.js';
import { host, settings } from '../../durable/testdata/fixtures.js';
import { healthCheckSchema, validateHealthCheck, type HealthCheckConfig } from './config.js';
import { HealthCheck } from './health.js';

function parse(raw: unknown): { cfg: HealthCheckConfig; errors: string[] } {
  const issues = new Issues();
  const path = ['extensions', 'health_check'];
  const cfg = healthCheckSchema.parse(raw, path, issues);
  if (!issues.hasErrors()) validateHealthCheck(cfg, path, issues);
  return { cfg, errors: issues.errors.map((i) => `${formatPath(i.path)}: ${i.message}`) };
}

/** A component whose health the test sets. */
function reporter(status: HealthReport['status'] = 'ok', detail?: string): Component & { set(s: HealthReport['status'], d?: string): void; health(): HealthReport } {
  let r: HealthReport = detail === undefined ? { status } : { status, detail };
  return {
    start: async () => undefined,
    shutdown: async () => undefined,
    health: () => r,
    set(s, d) {
      r = d === undefined ? { status: s } : { status: s, detail: d };
    },
  };
}

const running: HealthCheck[] = [];
async function start(components: Record<string, { kind: Kind; component: Component }>, raw: Record<string, unknown> = {}): Promise<{ hc: HealthCheck; get(path: string): Promise<{ code: number; body: any }> }> {
  const { cfg } = parse({ endpoint: '127.0.0.1:0', ...raw });
  const hc = new HealthCheck(settings('health_check'), cfg);
  await hc.start(host(components));
  running.push(hc);
  return {
    hc,
    async get(path) {
      const r = await fetch(`http://127.0.0.1:${hc.port}${path}`);
      return { code: r.status, body: await r.json() };
    },
  };
}

afterEach(async () => {
  for (const h of running.splice(0)) await h.shutdown();
});

describe('health_check config', () => {
  it('defaults to 127.0.0.1:13133', () => {
    expect(parse({})).toEqual({ cfg: { endpoint: '127.0.0.1:13133', path: '/', unready_when_degraded: false }, errors: [] });
  });
  it.each([
    [{ endpoint: '13133' }, 'extensions::health_check::endpoint: must be host:port, got "13133"'],
    [{ path: 'health' }, 'extensions::health_check::path: must start with "/"'],
    [{ path: '/readyz' }, 'extensions::health_check::path: must differ from /healthz and /readyz, got "/readyz"'],
    [{ check_collector_pipeline: { enabled: true } }, 'extensions::health_check::check_collector_pipeline: unknown key "check_collector_pipeline"; valid keys: endpoint, path, unready_when_degraded, auth'],
  ])('rejects %j', (raw, message) => {
    expect(parse(raw).errors).toEqual([message]);
  });
});

describe('health_check', () => {
  it('answers 503 while starting, then aggregates component health', async () => {
    const exp = reporter();
    const st = reporter();
    const { hc, get } = await start({ 'otlphttp/tempo': { kind: 'exporter', component: exp }, file_storage: { kind: 'extension', component: st }, otlp: { kind: 'receiver', component: { start: async () => undefined, shutdown: async () => undefined } } });
    expect(await get('/readyz')).toEqual({ code: 503, body: { status: 'error', detail: 'starting', components: { 'otlphttp/tempo': { status: 'ok' }, file_storage: { status: 'ok' } } } });
    expect(await get('/')).toMatchObject({ code: 503, body: { status: 'Server not available' } });
    hc.ready();
    expect(await get('/readyz')).toEqual({ code: 200, body: { status: 'ok', components: { 'otlphttp/tempo': { status: 'ok' }, file_storage: { status: 'ok' } } } });
    expect(await get('/')).toMatchObject({ code: 200, body: { status: 'Server available' } });

    exp.set('degraded', 'export failing: HTTP 503');
    expect(await get('/readyz')).toEqual({ code: 200, body: { status: 'degraded', components: { 'otlphttp/tempo': { status: 'degraded', detail: 'export failing: HTTP 503' }, file_storage: { status: 'ok' } } } });

    st.set('error', 'corrupt');
    expect(await get('/readyz')).toMatchObject({ code: 503, body: { status: 'error' } });
    expect(await get('/healthz')).toEqual({ code: 200, body: { status: 'ok' } });
  });

  it('answers 503 while draining, keeping liveness', async () => {
    const { hc, get } = await start({});
    hc.ready();
    expect((await get('/readyz')).code).toBe(200);
    hc.notReady();
    expect(await get('/readyz')).toEqual({ code: 503, body: { status: 'error', detail: 'shutting down', components: {} } });
    expect(await get('/')).toMatchObject({ code: 503 });
    expect((await get('/healthz')).code).toBe(200);
  });

  it('can answer 503 for degraded when asked', async () => {
    const exp = reporter('degraded', 'sending queue is full');
    const { hc, get } = await start({ 'otlp/x': { kind: 'exporter', component: exp } }, { unready_when_degraded: true });
    hc.ready();
    expect(await get('/readyz')).toMatchObject({ code: 503, body: { status: 'degraded' } });
  });

  it('reports a component whose health check throws as error', async () => {
    const bad = { start: async () => undefined, shutdown: async () => undefined, health: () => { throw new Error('boom'); } };
    const { hc, get } = await start({ bad: { kind: 'processor', component: bad } });
    hc.ready();
    expect(await get('/readyz')).toEqual({ code: 503, body: { status: 'error', components: { bad: { status: 'error', detail: 'health check failed: boom' } } } });
  });

  it('serves HEAD, refuses other methods and unknown paths', async () => {
    const { hc } = await start({});
    hc.ready();
    const base = `http://127.0.0.1:${hc.port}`;
    expect((await fetch(`${base}/readyz`, { method: 'HEAD' })).status).toBe(200);
    expect((await fetch(`${base}/readyz`, { method: 'POST' })).status).toBe(405);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });

  it('fails to start with a clear error when the port is taken', async () => {
    const { hc } = await start({});
    const { cfg } = parse({ endpoint: `127.0.0.1:${hc.port}` });
    const other = new HealthCheck(settings('health_check/2'), cfg);
    await expect(other.start(host())).rejects.toThrow(`extensions::health_check/2::endpoint: address 127.0.0.1:${hc.port} is already in use`);
  });
});
