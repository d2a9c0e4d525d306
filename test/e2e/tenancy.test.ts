// Two tenants share one gateway (config/gateway-multitenant.yaml). Their
// clients, the real OpenTelemetry SDK over gRPC and HTTP, authenticate with
// their own bearer tokens; each tenant's logs and traces must land in Loki and
// Tempo under its own tenant id and nowhere else.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor, type ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLokiFake, type LokiFake } from '../fakes/loki.js';
import { startTempoFake, type TempoFake } from '../fakes/tempo.js';
import { exportAll, logExporter, traceExporter, type Protocol } from '../helpers/sdk.js';
import { ROOT, freePort, startSieve, waitFor, type RunningSieve } from '../helpers/sieve.js';

const TOKENS = { 'team-a': 'token-for-team-a-0123456789', 'team-b': 'token-for-team-b-9876543210' };
type Team = keyof typeof TOKENS;

/** Log records and spans from a team's own SDK providers; team-b's resource claims to be team-a. */
function telemetryOf(team: Team, n: number): { logs: ReadableLogRecord[]; spans: ReadableSpan[] } {
  const resource = resourceFromAttributes({ 'service.name': `svc-${team}`, 'deployment.environment': 'prod', 'tenant.id': team === 'team-b' ? 'team-a' : team });
  const memLogs = new InMemoryLogRecordExporter();
  const lp = new LoggerProvider({ resource, processors: [new SimpleLogRecordProcessor({ exporter: memLogs })] });
  const logger = lp.getLogger('app');
  for (let i = 0; i < n; i++) logger.emit({ severityNumber: SeverityNumber.INFO, body: `${team} log ${i}`, attributes: { i } });
  const memSpans = new InMemorySpanExporter();
  const tp = new BasicTracerProvider({ resource, spanProcessors: [new SimpleSpanProcessor(memSpans)] });
  for (let i = 0; i < n; i++) tp.getTracer('app').startSpan(`${team} span ${i}`).end();
  return { logs: memLogs.getFinishedLogRecords(), spans: memSpans.getFinishedSpans() };
}

describe('two tenants through one gateway', () => {
  let loki: LokiFake;
  let tempo: TempoFake;
  let sieve: RunningSieve;
  let ports: { grpc: number; http: number };

  beforeAll(async () => {
    loki = await startLokiFake();
    tempo = await startTempoFake();
    ports = { grpc: await freePort(), http: await freePort() };
    const yaml = readFileSync(join(ROOT, 'config', 'gateway-multitenant.yaml'), 'utf8')
      .replace('endpoint: 0.0.0.0:4317', `endpoint: 127.0.0.1:${ports.grpc}`)
      .replace('endpoint: 0.0.0.0:4318', `endpoint: 127.0.0.1:${ports.http}`)
      .replace('timeout: 200ms', 'timeout: 20ms');
    sieve = await startSieve(yaml, {
      env: {
        TEAM_A_TOKEN: TOKENS['team-a'],
        TEAM_B_TOKEN: TOKENS['team-b'],
        TEMPO_ENDPOINT: tempo.grpcEndpoint,
        LOKI_PUSH_URL: loki.pushUrl,
        MIMIR_OTLP_URL: `${tempo.httpUrl}/unused`,
      },
    });
  });
  afterAll(async () => {
    await sieve?.stop();
    await loki?.close();
    await tempo?.close();
  });

  const send = async (team: Team, protocol: Protocol, n: number) => {
    const t = telemetryOf(team, n);
    const headers = { Authorization: `Bearer ${TOKENS[team]}` };
    await exportAll(logExporter(protocol, ports, { headers }), t.logs);
    await exportAll(traceExporter(protocol, ports, { headers }), t.spans);
  };

  it('each tenant lands only under its own id in Loki and Tempo', async () => {
    await Promise.all([send('team-a', 'grpc', 5), send('team-b', 'http/protobuf', 7), send('team-a', 'http/json', 2), send('team-b', 'grpc', 1)]);
    await waitFor(
      () => loki.entries('team-a').length === 7 && loki.entries('team-b').length === 8 && tempo.spans('team-a').length === 7 && tempo.spans('team-b').length === 8,
      { what: 'all data delivered' },
    );
    expect(loki.tenants().sort()).toEqual(['team-a', 'team-b']);
    expect(tempo.tenants().sort()).toEqual(['team-a', 'team-b']);
    for (const team of ['team-a', 'team-b'] as const) {
      for (const e of loki.entries(team)) {
        expect(e.line.startsWith(`${team} log`)).toBe(true);
        expect(e.labels.service_name).toBe(`svc-${team}`);
        // The gateway overwrote what team-b's resource claimed.
        expect(e.metadata.tenant_id).toBe(team);
      }
      for (const s of tempo.spans(team)) {
        expect(s.name.startsWith(`${team} span`)).toBe(true);
        expect(s.resource['tenant.id']).toBe(team);
      }
    }
    for (const r of loki.requests) expect(r.headers['x-scope-orgid']).toBe(r.tenant);
    const t = sieve.svc.telemetry;
    expect(await t.value('sieve_tenant_accepted_items', { tenant: 'team-a', otel_signal: 'logs' })).toBe(7);
    expect(await t.value('sieve_tenant_accepted_items', { tenant: 'team-b', otel_signal: 'traces' })).toBe(8);
  });

  it('refuses a client with an unknown token or none, and sends nothing for it', async () => {
    const before = { loki: loki.requests.length, tempo: tempo.requests.length };
    const t = telemetryOf('team-a', 2);
    for (const p of ['grpc', 'http/protobuf'] as const) {
      const bad = await exportAll(logExporter(p, ports, { headers: { Authorization: 'Bearer guessed' } }), t.logs).then(() => undefined, (e: unknown) => e);
      expect(bad).toBeDefined();
      const none = await exportAll(traceExporter(p, ports), t.spans).then(() => undefined, (e: unknown) => e);
      expect(none).toBeDefined();
    }
    expect(loki.requests.length).toBe(before.loki);
    expect(tempo.requests.length).toBe(before.tempo);
    const tel = sieve.svc.telemetry;
    expect(await tel.value('sieve_tenant_rejected_items', { reason: 'unknown_token' })).toBe(4);
    expect(await tel.value('sieve_tenant_rejected_items', { reason: 'missing_tenant' })).toBe(4);
  });
});
