// The loki exporter against a Loki double on loopback (test/fakes/loki.ts),
// created through its factory as the daemon would.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CreateSettings, ExporterComponent, Host } from '../../component/component.js';
import { ConsumerError } from '../../component/errors.js';
import { Issues } from '../../config/schema.js';
import { Telemetry } from '../../pdata/telemetry.js';
import { nopLogger } from '../../service/logger.js';
import { SelfTelemetry } from '../../service/telemetry.js';
import { startLokiFake, type LokiFake } from '../../../test/fakes/loki.js';
import type { LokiConfig } from './config.js';
import { lokiExporterFactory } from './factory.js';
import { attrs, ns, record, resourceLogs } from './testdata.js';

function testHost(telemetry: SelfTelemetry): Host {
  return { getExtension: () => undefined, components: () => new Map(), registerAdminRoute: () => undefined, logger: nopLogger, telemetry };
}

let loki: LokiFake;
const running: ExporterComponent[] = [];

beforeAll(async () => {
  loki = await startLokiFake();
});
afterAll(async () => {
  await loki.close();
});
afterEach(async () => {
  for (const e of running.splice(0)) await e.shutdown();
  loki.reset();
});

async function exporter(raw: Record<string, unknown> = {}, telemetry = new SelfTelemetry()) {
  const issues = new Issues();
  const cfg = lokiExporterFactory.schema.parse(
    {
      endpoint: loki.pushUrl,
      sending_queue: { enabled: false },
      retry_on_failure: { initial_interval: '5ms', max_interval: '20ms', max_elapsed_time: '10s' },
      ...raw,
    },
    ['exporters', 'loki'],
    issues,
  ) as LokiConfig;
  lokiExporterFactory.validate!(cfg, ['exporters', 'loki'], issues);
  expect(issues.errors).toEqual([]);
  const settings: CreateSettings = { id: 'loki', kind: 'exporter', logger: nopLogger, telemetry, instanceId: 't', now: Date.now };
  const e = lokiExporterFactory.create(settings, cfg, 'logs');
  await e.start(testHost(telemetry));
  running.push(e);
  return { e, telemetry };
}

const now = Date.now();
const RES = { 'service.name': 'checkout', 'service.namespace': 'shop', 'deployment.environment': 'prod', 'host.name': 'h1' };
const TRACE = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
const SPAN = Uint8Array.from({ length: 8 }, (_, i) => 0xb0 + i);

function batch(tenant?: string) {
  return Telemetry.logs(
    [
      resourceLogs(
        RES,
        [
          record({ timeUnixNano: ns(now + 3), severityNumber: 9, body: 'third', attributes: attrs({ 'http.route': '/pay' }), traceId: TRACE, spanId: SPAN }),
          record({ timeUnixNano: ns(now + 1), severityNumber: 9, body: 'first' }),
          record({ timeUnixNano: ns(now + 2), severityNumber: 17, severityText: 'ERROR', body: 'boom' }),
          record({ timeUnixNano: ns(now + 0), severityNumber: 9, body: 'zeroth' }),
        ],
        { name: 'app', version: '2' },
      ),
    ],
    tenant ? { tenant } : {},
  );
}

describe('loki exporter → Loki push API', () => {
  it('sends snappy protobuf with the labels, sorted entries, structured metadata and the tenant', async () => {
    const { e, telemetry } = await exporter();
    await e.consume(batch('team-a'));
    expect(loki.requests).toHaveLength(1);
    const req = loki.requests[0]!;
    expect(req.status).toBe(204);
    expect(req.headers['content-type']).toBe('application/x-protobuf');
    expect(req.headers['x-scope-orgid']).toBe('team-a');
    // Entries went out sorted within each stream.
    for (const s of req.sent!) expect(s.ts).toEqual([...s.ts].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    expect(loki.tenants()).toEqual(['team-a']);
    const streams = loki.streams('team-a');
    expect(streams.map((s) => s.labels)).toEqual([
      { deployment_environment: 'prod', level: 'info', service_name: 'checkout', service_namespace: 'shop' },
      { deployment_environment: 'prod', level: 'error', service_name: 'checkout', service_namespace: 'shop' },
    ]);
    expect(streams[0]!.entries.map((x) => x.line)).toEqual(['zeroth', 'first', 'third']);
    expect(streams[0]!.entries[2]!.metadata).toEqual({
      host_name: 'h1',
      scope_name: 'app',
      scope_version: '2',
      http_route: '/pay',
      trace_id: '0102030405060708090a0b0c0d0e0f10',
      span_id: 'b0b1b2b3b4b5b6b7',
    });
    expect(streams[1]!.entries[0]!.metadata.severity_text).toBe('ERROR');
    expect(await telemetry.value('sieve_loki_requests', { exporter: 'loki', status_code: '204' })).toBe(1);
    expect(await telemetry.value('otelcol_exporter_sent_log_records', { exporter: 'loki' })).toBe(4);
    expect(await telemetry.value('sieve_loki_sent_bytes', { exporter: 'loki' })).toBeGreaterThan(0);
  });

  it('sends the JSON body when encoding is json', async () => {
    const { e } = await exporter({ encoding: 'json', line_format: 'logfmt', tenant: { source: 'static', value: 'ops' } });
    await e.consume(
      Telemetry.logs([resourceLogs(RES, [record({ timeUnixNano: ns(now), severityNumber: 13, body: { type: 'kvlist', value: attrs({ msg: 'disk full', pct: 97 }) } })])]),
    );
    expect(loki.requests[0]!.headers['content-type']).toBe('application/json');
    expect(loki.requests[0]!.status).toBe(204);
    const [entry] = loki.entries('ops');
    expect(entry!.line).toBe('msg="disk full" pct=97');
    expect(entry!.labels.level).toBe('warn');
    expect(entry!.metadata.host_name).toBe('h1');
  });

  it('sends one request per tenant when the tenant comes from a resource attribute; tenants never mix', async () => {
    const { e } = await exporter({ tenant: { source: 'attribute', attribute: 'tenant.id' } });
    await e.consume(
      Telemetry.logs([
        resourceLogs({ ...RES, 'tenant.id': 'red' }, [record({ timeUnixNano: ns(now), body: 'r1' })]),
        resourceLogs({ ...RES, 'tenant.id': 'blue' }, [record({ timeUnixNano: ns(now), body: 'b1' })]),
        resourceLogs({ ...RES, 'tenant.id': 'red' }, [record({ timeUnixNano: ns(now + 1), body: 'r2' })]),
      ]),
    );
    expect(loki.requests.map((r) => [r.tenant, r.status, r.entries]).sort()).toEqual([
      ['blue', 204, 1],
      ['red', 204, 2],
    ]);
    expect(loki.entries('red').map((x) => x.line)).toEqual(['r1', 'r2']);
    expect(loki.entries('blue').map((x) => x.line)).toEqual(['b1']);
  });

  it('gets 401 "no org id" without a tenant, and does not retry it', async () => {
    const { e, telemetry } = await exporter();
    const err = await e.consume(batch()).then(() => undefined, (x: unknown) => x);
    expect(err).toBeInstanceOf(ConsumerError);
    expect((err as ConsumerError).kind).toBe('unauthenticated');
    expect((err as ConsumerError).message).toMatch(/HTTP 401: no org id \(reason: no_org_id\)/);
    expect(loki.requests.map((r) => r.status)).toEqual([401]);
    expect(loki.tenants()).toEqual([]);
    expect(await telemetry.value('sieve_loki_rejected_log_records', { exporter: 'loki', reason: 'no_org_id' })).toBe(4);
    expect(await telemetry.value('otelcol_exporter_send_failed_log_records', { exporter: 'loki' })).toBe(4);
  });

  it('counts a partial 400 with its reason, without retrying, while Loki keeps the valid streams', async () => {
    const { e, telemetry } = await exporter({ tenant: { source: 'static', value: 'team-a' }, labels: { resource: ['service.name'], level: false } });
    const old = ns(now - 8 * 24 * 3600 * 1000);
    const err = await e
      .consume(
        Telemetry.logs([
          resourceLogs({ 'service.name': 'good' }, [record({ timeUnixNano: ns(now), body: 'kept' })]),
          resourceLogs({ 'service.name': 'stale' }, [record({ timeUnixNano: old, body: 'too old' })]),
        ]),
      )
      .then(() => undefined, (x: unknown) => x);
    expect((err as ConsumerError).kind).toBe('invalid');
    expect((err as ConsumerError).message).toMatch(/reason: greater_than_max_sample_age/);
    expect(loki.requests.map((r) => r.status)).toEqual([400]);
    expect(loki.entries('team-a').map((x) => [x.labels.service_name, x.line])).toEqual([['good', 'kept']]);
    expect(await telemetry.value('sieve_loki_rejected_log_records', { exporter: 'loki', reason: 'greater_than_max_sample_age' })).toBe(2);
    expect(await telemetry.value('sieve_loki_requests', { exporter: 'loki', status_code: '400' })).toBe(1);
  });

  it('retries 429 and 500, and reports the Retry-After of a 429', async () => {
    const { e, telemetry } = await exporter({ tenant: { source: 'static', value: 'team-a' } });
    loki.failNext({ status: 429, retryAfter: '0' }, { status: 500 });
    await e.consume(batch());
    expect(loki.requests.map((r) => r.status)).toEqual([429, 500, 204]);
    expect(loki.entries('team-a')).toHaveLength(4);
    expect(await telemetry.value('sieve_loki_requests', { exporter: 'loki', status_code: '429' })).toBe(1);

    // With retries off, the error carries Loki's Retry-After for the caller.
    const { e: once } = await exporter({ tenant: { source: 'static', value: 'team-a' }, retry_on_failure: { enabled: false } });
    loki.failNext({ status: 429, retryAfter: '7' });
    const err = (await once.consume(batch()).then(() => undefined, (x: unknown) => x)) as ConsumerError;
    expect(err.kind).toBe('exhausted');
    expect(err.retryAfterMs).toBe(7000);
    expect(err.permanent).toBe(false);
  });

  it('resends only the tenant whose request failed', async () => {
    const { e } = await exporter({ tenant: { source: 'attribute' } });
    loki.failNext({ status: 503 });
    await e.consume(
      Telemetry.logs([
        resourceLogs({ ...RES, 'tenant.id': 'a' }, [record({ timeUnixNano: ns(now), body: 'a' })]),
        resourceLogs({ ...RES, 'tenant.id': 'b' }, [record({ timeUnixNano: ns(now), body: 'b' })]),
      ]),
    );
    const byTenant = (t: string) => loki.requests.filter((r) => r.tenant === t).map((r) => r.status);
    const failed = byTenant('a').includes(503) ? 'a' : 'b';
    const other = failed === 'a' ? 'b' : 'a';
    expect(byTenant(failed)).toEqual([503, 204]);
    expect(byTenant(other)).toEqual([204]);
    expect(loki.entries('a')).toHaveLength(1);
    expect(loki.entries('b')).toHaveLength(1);
  });

  it('returns a partial success when one tenant is refused and another accepted', async () => {
    const { e } = await exporter({ tenant: { source: 'attribute' }, max_line_size: 0 });
    // The "b" tenant's line is longer than the fake's 256KB limit: Loki refuses it (400), "a" is stored.
    const res = await e.consume(
      Telemetry.logs([
        resourceLogs({ ...RES, 'tenant.id': 'a' }, [record({ timeUnixNano: ns(now), body: 'fine' })]),
        resourceLogs({ ...RES, 'tenant.id': 'b' }, [record({ timeUnixNano: ns(now), body: 'x'.repeat(300 * 1024) })]),
      ]),
    );
    expect(res).toMatchObject({ rejected: 1 });
    expect((res as { errorMessage: string }).errorMessage).toMatch(/reason: line_too_long/);
    expect(loki.entries('a')).toHaveLength(1);
    expect(loki.entries('b')).toHaveLength(0);
  });

  it('truncates long lines before sending and counts them', async () => {
    const { e, telemetry } = await exporter({ tenant: { source: 'static', value: 'team-a' }, max_line_size: 100 });
    await e.consume(Telemetry.logs([resourceLogs(RES, [record({ timeUnixNano: ns(now), body: 'y'.repeat(1000) })])]));
    expect(loki.entries('team-a')[0]!.line).toBe('y'.repeat(100));
    expect(await telemetry.value('sieve_loki_truncated_lines', { exporter: 'loki' })).toBe(1);
  });

  it('drops a batch whose tenant id Loki would refuse, without sending it', async () => {
    const { e, telemetry } = await exporter({ tenant: { source: 'attribute' } });
    const err = await e.consume(Telemetry.logs([resourceLogs({ ...RES, 'tenant.id': 'bad tenant/../x' }, [record({ timeUnixNano: ns(now), body: 'x' })])])).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect((err as ConsumerError).permanent).toBe(true);
    expect(loki.requests).toHaveLength(0);
    expect(await telemetry.value('sieve_loki_dropped_log_records', { exporter: 'loki', reason: 'invalid_tenant' })).toBe(1);
  });

  it('queues by default and delivers after start', async () => {
    const { e } = await exporter({ sending_queue: { enabled: true }, tenant: { source: 'static', value: 'q' } });
    await e.consume(batch());
    await e.shutdown();
    expect(loki.entries('q')).toHaveLength(4);
  });
});
