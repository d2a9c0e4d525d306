// Traces to a Tempo double through the otlp (gRPC) and otlphttp exporters:
// content types, the tenant header (static, or per batch from the tenant the
// tenant processor stamped), Tempo's rate limiting and its refusal of whole
// requests that hold a span with an invalid id.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CreateSettings, ExporterComponent, ExporterFactory } from '../../src/component/component.js';
import { ConsumerError } from '../../src/component/errors.js';
import { Issues } from '../../src/config/schema.js';
import { otlpExporterFactory } from '../../src/exporters/otlp/factory.js';
import { otlpHttpExporterFactory } from '../../src/exporters/otlphttp/factory.js';
import type { ResourceSpans, Span } from '../../src/pdata/model.js';
import { Telemetry } from '../../src/pdata/telemetry.js';
import { tracesCodec } from '../../src/pdata/codec.js';
import { nopLogger } from '../../src/service/logger.js';
import { SelfTelemetry } from '../../src/service/telemetry.js';
import { startTempoFake, type TempoFake } from '../fakes/tempo.js';
import { exportAll, makeSpans, traceExporter } from '../helpers/sdk.js';
import { freePort, startSieve, testHost, waitFor, type RunningSieve } from '../helpers/sieve.js';

let tempo: TempoFake;
beforeAll(async () => {
  tempo = await startTempoFake();
});
afterAll(async () => {
  await tempo.close();
});

function span(name: string, traceId: Uint8Array, spanId: Uint8Array): Span {
  return {
    traceId, spanId, traceState: '', parentSpanId: new Uint8Array(0), flags: 0, name, kind: 2, startTimeUnixNano: 1n, endTimeUnixNano: 2n,
    attributes: [], droppedAttributesCount: 0, events: [], droppedEventsCount: 0, links: [], droppedLinksCount: 0, status: { code: 0, message: '' },
  };
}
function traces(spans: Span[], service = 'api'): ResourceSpans[] {
  return [{
    resource: { attributes: [{ key: 'service.name', value: { type: 'string', value: service } }], droppedAttributesCount: 0 },
    scopeSpans: [{ scope: { name: 's', version: '', attributes: [], droppedAttributesCount: 0 }, spans, schemaUrl: '' }],
    schemaUrl: '',
  }];
}
const id = (b: number, n: number) => new Uint8Array(n).fill(b);

describe('otlp and otlphttp exporters → Tempo', () => {
  const running: ExporterComponent[] = [];
  afterEach(async () => {
    for (const e of running.splice(0)) await e.shutdown();
    tempo.reset();
  });

  async function exporter(factory: ExporterFactory, raw: Record<string, unknown>, telemetry = new SelfTelemetry()) {
    const issues = new Issues();
    const cfg = factory.schema.parse({ sending_queue: { enabled: false }, retry_on_failure: { initial_interval: '5ms', max_interval: '20ms' }, ...raw }, [], issues);
    factory.validate?.(cfg, [], issues);
    expect(issues.errors).toEqual([]);
    const settings: CreateSettings = { id: `${factory.type}/tempo`, kind: 'exporter', logger: nopLogger, telemetry, instanceId: 't', now: Date.now };
    const e = factory.create(settings, cfg, 'traces');
    await e.start(testHost(telemetry));
    running.push(e);
    return e;
  }
  const grpc = (raw: Record<string, unknown> = {}) => exporter(otlpExporterFactory, { endpoint: tempo.grpcEndpoint, tls: { insecure: true }, ...raw });
  const http = (raw: Record<string, unknown> = {}) => exporter(otlpHttpExporterFactory, { endpoint: tempo.httpUrl, ...raw });
  const good = () => Telemetry.traces(traces([span('a', id(1, 16), id(2, 8)), span('b', id(3, 16), id(4, 8))]));

  it('sends a static X-Scope-OrgID from headers, over gRPC and HTTP', async () => {
    await (await grpc({ headers: { 'X-Scope-OrgID': 'static-g' } })).consume(good());
    await (await http({ headers: { 'X-Scope-OrgID': 'static-h' } })).consume(good());
    expect(tempo.requests.map((r) => [r.transport, r.tenant, r.status])).toEqual([
      ['grpc', 'static-g', 'OK'],
      ['http', 'static-h', 200],
    ]);
    expect(tempo.requests[1]!.contentType).toBe('application/x-protobuf');
    expect(tempo.spans('static-g').map((s) => s.name)).toEqual(['a', 'b']);
    expect(tempo.spans('static-h').map((s) => s.name)).toEqual(['a', 'b']);
  });

  it('sends the batch tenant in tenant_header, per batch', async () => {
    const g = await grpc({ tenant_header: 'X-Scope-OrgID' });
    const h = await http({ tenant_header: 'X-Scope-OrgID', encoding: 'json' });
    const batch = (tenant: string, name: string) => Telemetry.traces(traces([span(name, id(5, 16), id(6, 8))]), { tenant });
    await g.consume(batch('t1', 'g1'));
    await g.consume(batch('t2', 'g2'));
    await h.consume(batch('t1', 'h1'));
    expect(tempo.spans('t1').map((s) => s.name)).toEqual(['g1', 'h1']);
    expect(tempo.spans('t2').map((s) => s.name)).toEqual(['g2']);
    expect(tempo.requests[2]!.contentType).toBe('application/json');
  });

  it('fails without a tenant as Tempo does (UNAVAILABLE / 503)', async () => {
    const e = await grpc({ retry_on_failure: { enabled: false } });
    const err = (await e.consume(good()).then(() => undefined, (x: unknown) => x)) as ConsumerError;
    expect(err.kind).toBe('unavailable');
    expect(err.message).toMatch(/no org id/);
  });

  it('honours RESOURCE_EXHAUSTED with RetryInfo and 429 with Retry-After', async () => {
    // The error carries Tempo's delay (5s by default) for the caller ...
    tempo.throttleNext(2, 5);
    const once = await grpc({ headers: { 'X-Scope-OrgID': 'r' }, retry_on_failure: { enabled: false } });
    const ge = (await once.consume(good()).then(() => undefined, (x: unknown) => x)) as ConsumerError;
    expect([ge.kind, ge.permanent, ge.retryAfterMs]).toEqual(['exhausted', false, 5000]);
    const onceHttp = await http({ headers: { 'X-Scope-OrgID': 'r' }, retry_on_failure: { enabled: false } });
    const he = (await onceHttp.consume(good()).then(() => undefined, (x: unknown) => x)) as ConsumerError;
    expect([he.kind, he.permanent, he.retryAfterMs]).toEqual(['exhausted', false, 5000]);
    expect(tempo.requests.map((r) => r.status)).toEqual(['RESOURCE_EXHAUSTED', 429]);
    // ... and with retries on, the batch is sent again and lands.
    tempo.reset();
    tempo.throttleNext(1, 0);
    await (await grpc({ headers: { 'X-Scope-OrgID': 'r' } })).consume(good());
    tempo.throttleNext(1, 0);
    await (await http({ headers: { 'X-Scope-OrgID': 'r' } })).consume(good());
    expect(tempo.requests.map((r) => r.status)).toEqual(['RESOURCE_EXHAUSTED', 'OK', 429, 200]);
    expect(tempo.spans('r')).toHaveLength(4);
  });

  it('drops and counts spans with invalid ids before sending, since Tempo refuses a whole request for one', async () => {
    const bad = () => Telemetry.traces(traces([span('ok', id(1, 16), id(2, 8)), span('short-trace', id(1, 8), id(2, 8)), span('zero-span', id(1, 16), id(0, 8))]));
    for (const [make, tenant] of [[grpc, 'v'], [http, 'w']] as const) {
      const telemetry = new SelfTelemetry();
      const e = await (make === grpc ? exporter(otlpExporterFactory, { endpoint: tempo.grpcEndpoint, tls: { insecure: true }, headers: { 'X-Scope-OrgID': tenant } }, telemetry) : exporter(otlpHttpExporterFactory, { endpoint: tempo.httpUrl, headers: { 'X-Scope-OrgID': tenant } }, telemetry));
      await e.consume(bad());
      expect(tempo.spans(tenant).map((s) => s.name)).toEqual(['ok']);
      const id_ = make === grpc ? 'otlp/tempo' : 'otlphttp/tempo';
      expect(await telemetry.value('sieve_exporter_invalid_id_spans', { exporter: id_, reason: 'trace_id' })).toBe(1);
      expect(await telemetry.value('sieve_exporter_invalid_id_spans', { exporter: id_, reason: 'span_id' })).toBe(1);
      // A batch with nothing valid left is not sent at all.
      const before = tempo.requests.length;
      await e.consume(Telemetry.traces(traces([span('zero-trace', id(0, 16), id(3, 8))])));
      expect(tempo.requests.length).toBe(before);
    }
    // Unchecked, Tempo refuses all of it: the fake answers as Tempo does.
    const res = await fetch(`${tempo.httpUrl}/v1/traces`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Scope-OrgID': 'v' }, body: tracesCodec.encodeJson(bad().read()) });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/trace ids must be 128 bit, received 64 bits/);
  });
});

describe('SDK traces → Sieve → Tempo, per-tenant', () => {
  let sieve: RunningSieve;
  let ports: { grpc: number; http: number };

  beforeAll(async () => {
    ports = { grpc: await freePort(), http: await freePort() };
    sieve = await startSieve(`
receivers:
  otlp:
    protocols:
      grpc: { endpoint: 127.0.0.1:${ports.grpc}, include_metadata: true }
      http: { endpoint: 127.0.0.1:${ports.http}, include_metadata: true }
processors:
  tenant: { from_header: x-scope-orgid }
  batch: { timeout: 20ms }
exporters:
  otlp/tempo:
    endpoint: ${tempo.grpcEndpoint}
    tls: { insecure: true }
    tenant_header: X-Scope-OrgID
    retry_on_failure: { initial_interval: 10ms, max_interval: 50ms }
  otlphttp/tempo:
    endpoint: ${tempo.httpUrl}
    tenant_header: X-Scope-OrgID
    retry_on_failure: { initial_interval: 10ms, max_interval: 50ms }
service:
  pipelines:
    traces/grpc: { receivers: [otlp], processors: [tenant, batch], exporters: [otlp/tempo] }
    traces/http: { receivers: [otlp], processors: [tenant, batch], exporters: [otlphttp/tempo] }
`);
  });
  afterAll(async () => {
    await sieve?.stop();
  });

  it('each tenant lands only under its own id, over both exporters, through a rate limit', async () => {
    tempo.reset();
    tempo.throttleNext(1, 0);
    const a = makeSpans(4);
    const b = makeSpans(6);
    await Promise.all([
      exportAll(traceExporter('grpc', ports, { headers: { 'X-Scope-OrgID': 'alpha' } }), a),
      exportAll(traceExporter('http/protobuf', ports, { headers: { 'X-Scope-OrgID': 'beta' } }), b),
    ]);
    // Two pipelines (gRPC and HTTP out) each deliver every span once.
    await waitFor(() => tempo.spans('alpha').length === 8 && tempo.spans('beta').length === 12, { what: 'spans in Tempo' });
    const ids = (spans: { spanContext(): { spanId: string } }[]) => new Set(spans.map((s) => s.spanContext().spanId));
    for (const s of tempo.spans('alpha')) expect(ids(a).has(s.spanId)).toBe(true);
    for (const s of tempo.spans('beta')) expect(ids(b).has(s.spanId)).toBe(true);
    expect(tempo.tenants().sort()).toEqual(['alpha', 'beta']);
    const statuses = tempo.requests.map((r) => r.status);
    expect(statuses.filter((s) => s === 'RESOURCE_EXHAUSTED' || s === 429)).toHaveLength(1);
    for (const r of tempo.requests.filter((x) => x.transport === 'http')) expect(r.contentType).toBe('application/x-protobuf');
  });
});
