// Logs from the real OpenTelemetry SDK through a running Sieve into a Loki
// double: the push API through the loki exporter, and Loki's native OTLP
// endpoint through otlphttp with the example config.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLokiFake, type LokiFake } from '../fakes/loki.js';
import { exportAll, logExporter, makeLogs } from '../helpers/sdk.js';
import { ROOT, freePort, startSieve, waitFor, type RunningSieve } from '../helpers/sieve.js';

// The SDK records are stamped 2023-11-14T22:13:20Z; the double's clock sits just after.
const SDK_NOW = 1_700_000_100_000;
const TRACE_ID = '5b8efff798038103d269b633813fc60c';
const SPAN_ID = 'eee19b7ec3c1b174';

describe('SDK logs → Sieve → loki exporter → Loki push API', () => {
  let loki: LokiFake;
  let sieve: RunningSieve;
  let ports: { grpc: number; http: number };

  beforeAll(async () => {
    loki = await startLokiFake({ now: () => SDK_NOW });
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
  loki:
    endpoint: ${loki.pushUrl}
    labels: { attributes: [str] }
    retry_on_failure: { initial_interval: 10ms, max_interval: 50ms }
service:
  pipelines:
    logs: { receivers: [otlp], processors: [tenant, batch], exporters: [loki] }
`);
  });
  afterAll(async () => {
    await sieve?.stop();
    await loki?.close();
  });

  it('lands with the labels, sorted entries, structured metadata and the tenant', async () => {
    const records = makeLogs(10);
    await exportAll(logExporter('http/protobuf', ports, { headers: { 'X-Scope-OrgID': 'team-a' } }), records);
    const entries = await waitFor(() => (loki.entries('team-a').length === 10 ? loki.entries('team-a') : undefined), { what: '10 entries in Loki' });
    expect(loki.tenants()).toEqual(['team-a']);
    for (const r of loki.requests) {
      expect(r.headers['content-type']).toBe('application/x-protobuf');
      expect(r.headers['x-scope-orgid']).toBe('team-a');
      expect(r.status).toBe(204);
      for (const s of r.sent!) expect(s.ts).toEqual([...s.ts].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    const labelSets = [...new Set(entries.map((e) => JSON.stringify(e.labels)))].sort();
    expect(labelSets).toEqual([
      JSON.stringify({ deployment_environment: 'test', level: 'error', service_name: 'checkout', service_namespace: 'shop', str: 'v' }),
      JSON.stringify({ deployment_environment: 'test', level: 'info', service_name: 'checkout', service_namespace: 'shop', str: 'v' }),
    ]);
    const errors = entries.filter((e) => e.labels.level === 'error');
    expect(errors).toHaveLength(5);
    for (const e of errors) {
      expect(e.metadata.trace_id).toBe(TRACE_ID);
      expect(e.metadata.span_id).toBe(SPAN_ID);
      expect(e.metadata.severity_text).toBe('ERROR');
    }
    const first = entries.find((e) => e.line.startsWith('{"msg":"structured 0"'))!;
    expect(first.metadata).toMatchObject({ host_cores: '8', host_arm: 'false', host_tags: '["a","b"]', scope_name: 'roundtrip-logger', scope_version: '7.8.9', int: '0', bool: 'true' });
    expect(first.metadata.str).toBeUndefined(); // a label, not metadata
    expect(entries.find((e) => e.line === 'log line 1 with ünïcode')).toBeDefined();
  });

  it('keeps two tenants apart over gRPC and HTTP', async () => {
    loki.reset();
    await Promise.all([
      exportAll(logExporter('grpc', ports, { headers: { 'X-Scope-OrgID': 'blue' } }), makeLogs(3)),
      exportAll(logExporter('http/json', ports, { headers: { 'X-Scope-OrgID': 'green' } }), makeLogs(4)),
    ]);
    await waitFor(() => loki.entries('blue').length === 3 && loki.entries('green').length === 4, { what: 'both tenants' });
    expect(loki.tenants().sort()).toEqual(['blue', 'green']);
    // 3 records under one tenant and 4 under the other: any mixing would change the counts.
    for (const r of loki.requests) expect(['blue', 'green']).toContain(r.tenant);
  });
});

describe("SDK logs → Sieve → otlphttp → Loki's OTLP endpoint (config/loki-otlp-example.yaml)", () => {
  let loki: LokiFake;
  let sieve: RunningSieve;
  let ports: { grpc: number; http: number };

  beforeAll(async () => {
    loki = await startLokiFake({ now: () => SDK_NOW });
    ports = { grpc: await freePort(), http: await freePort() };
    const example = readFileSync(join(ROOT, 'config', 'loki-otlp-example.yaml'), 'utf8');
    const yaml = example
      .replace('endpoint: http://loki:3100/otlp', `endpoint: ${loki.otlpUrl}`)
      .replace('endpoint: 0.0.0.0:4317', `endpoint: 127.0.0.1:${ports.grpc}`)
      .replace('endpoint: 0.0.0.0:4318', `endpoint: 127.0.0.1:${ports.http}`)
      .replace('initial_interval: 1s', 'initial_interval: 10ms');
    expect(yaml).toContain(loki.otlpUrl);
    expect(yaml).toContain(`127.0.0.1:${ports.http}`);
    sieve = await startSieve(yaml);
  });
  afterAll(async () => {
    await sieve?.stop();
    await loki?.close();
  });

  it('sends exactly application/x-protobuf with the tenant to /otlp/v1/logs and takes 204', async () => {
    await exportAll(logExporter('http/protobuf', ports, { headers: { 'X-Scope-OrgID': 'team-a' } }), makeLogs(6));
    const entries = await waitFor(() => (loki.entries('team-a').length === 6 ? loki.entries('team-a') : undefined), { what: '6 entries' });
    for (const r of loki.requests) {
      expect(r.path).toBe('/otlp/v1/logs');
      expect(r.headers['content-type']).toBe('application/x-protobuf');
      expect(r.headers['x-scope-orgid']).toBe('team-a');
      expect(r.status).toBe(204);
    }
    // Loki's OTLP translation: index labels from resource attributes, the rest structured metadata.
    expect(entries[0]!.labels).toEqual({ service_name: 'checkout', service_namespace: 'shop', deployment_environment: 'test' });
    const withTrace = entries.filter((e) => e.metadata.trace_id === TRACE_ID);
    expect(withTrace).toHaveLength(3);
    expect(withTrace[0]!.metadata).toMatchObject({ span_id: SPAN_ID, severity_text: 'ERROR', severity_number: '17', scope_name: 'roundtrip-logger', host_cores: '8' });
  });

  it("retries Loki's 503 (its 500s) and 429, honouring Retry-After", async () => {
    loki.reset();
    loki.failNext({ status: 500 }, { status: 429, retryAfter: '0' });
    await exportAll(logExporter('http/protobuf', ports, { headers: { 'X-Scope-OrgID': 'team-b' } }), makeLogs(2));
    await waitFor(() => loki.entries('team-b').length === 2, { what: 'entries after retries' });
    expect(loki.requests.map((r) => r.status)).toEqual([503, 429, 204]);
    expect(loki.requests[0]!.headers['content-type']).toBe('application/x-protobuf');
  });

  it('does not retry a 400, and a client without a tenant is refused before anything is sent', async () => {
    loki.reset();
    loki.failNext({ status: 400, body: 'bad data' });
    await exportAll(logExporter('http/protobuf', ports, { headers: { 'X-Scope-OrgID': 'team-c' } }), makeLogs(1));
    // The exporter counts the batch as failed once it has given up: no retry follows.
    await waitFor(() => sieve.svc.telemetry.value('otelcol_exporter_send_failed_log_records', { exporter: 'otlphttp/loki' }), { what: 'the failure to be counted' });
    expect(loki.requests.map((r) => r.status)).toEqual([400]);
    const err = await exportAll(logExporter('http/protobuf', ports), makeLogs(1)).then(() => undefined, (e: unknown) => e);
    expect(err).toBeDefined();
    expect(loki.requests).toHaveLength(1);
  });
});
