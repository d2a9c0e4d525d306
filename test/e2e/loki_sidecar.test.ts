// config/sidecar.yaml end to end: the real SDK sends logs, traces and metrics;
// secrets are redacted; logs reach the Loki double (push API) and traces the
// Tempo double, both under the configured tenant; metrics are served for
// Prometheus to scrape.
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLokiFake, type LokiFake } from '../fakes/loki.js';
import { startTempoFake, type TempoFake } from '../fakes/tempo.js';
import { exportAll, logExporter, makeMetrics, metricExporter, traceExporter } from '../helpers/sdk.js';
import { ROOT, freePort, startSieve, waitFor, type RunningSieve } from '../helpers/sieve.js';

function get(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body));
    })
      .on('error', reject)
      .end();
  });
}

describe('config/sidecar.yaml', () => {
  let loki: LokiFake;
  let tempo: TempoFake;
  let sieve: RunningSieve;
  let ports: { grpc: number; http: number; prom: number };

  beforeAll(async () => {
    loki = await startLokiFake();
    tempo = await startTempoFake();
    ports = { grpc: await freePort(), http: await freePort(), prom: await freePort() };
    const yaml = readFileSync(join(ROOT, 'config', 'sidecar.yaml'), 'utf8')
      .replace('endpoint: 127.0.0.1:4317', `endpoint: 127.0.0.1:${ports.grpc}`)
      .replace('endpoint: 127.0.0.1:4318', `endpoint: 127.0.0.1:${ports.http}`)
      .replace('endpoint: 0.0.0.0:8889', `endpoint: 127.0.0.1:${ports.prom}`)
      .replace('timeout: 200ms', 'timeout: 20ms');
    sieve = await startSieve(yaml, { env: { TENANT: 'shop-team', TEMPO_ENDPOINT: tempo.grpcEndpoint, LOKI_ENDPOINT: loki.url } });
  });
  afterAll(async () => {
    await sieve?.stop();
    await loki?.close();
    await tempo?.close();
  });

  it('redacts, and delivers logs to Loki and traces to Tempo under the tenant; serves metrics', async () => {
    const resource = resourceFromAttributes({ 'service.name': 'cart', 'k8s.namespace.name': 'shop' });
    const memLogs = new InMemoryLogRecordExporter();
    const lp = new LoggerProvider({ resource, processors: [new SimpleLogRecordProcessor({ exporter: memLogs })] });
    lp.getLogger('app').emit({ severityNumber: SeverityNumber.WARN, body: 'login for jane.doe@example.com with Authorization: Bearer abcdef0123456789abcdef', attributes: { password: 'hunter2', 'user.id': 42 } });
    lp.getLogger('app').emit({ severityNumber: SeverityNumber.INFO, body: 'cart updated' });
    const memSpans = new InMemorySpanExporter();
    const tp = new BasicTracerProvider({ resource, spanProcessors: [new SimpleSpanProcessor(memSpans)] });
    tp.getTracer('app').startSpan('checkout', { attributes: { 'http.url': 'https://shop.example.com/pay?token=s3cr3tvalue123' } }).end();

    await exportAll(logExporter('http/protobuf', { grpc: ports.grpc, http: ports.http }), memLogs.getFinishedLogRecords());
    await exportAll(traceExporter('grpc', { grpc: ports.grpc, http: ports.http }), memSpans.getFinishedSpans());
    await exportAll(metricExporter('grpc', { grpc: ports.grpc, http: ports.http }), await makeMetrics());

    const entries = await waitFor(() => (loki.entries('shop-team').length === 2 ? loki.entries('shop-team') : undefined), { what: 'logs in Loki' });
    expect(loki.tenants()).toEqual(['shop-team']);
    const warn = entries.find((e) => e.labels.level === 'warn')!;
    expect(warn.labels).toEqual({ service_name: 'cart', k8s_namespace_name: 'shop', level: 'warn' });
    expect(warn.line).not.toContain('jane.doe@example.com');
    expect(warn.line).not.toContain('abcdef0123456789abcdef');
    expect(warn.metadata.password).not.toBe('hunter2');
    expect(warn.metadata.user_id).toBe('42');

    await waitFor(() => tempo.spans('shop-team').length === 1, { what: 'the span in Tempo' });
    expect(tempo.tenants()).toEqual(['shop-team']);
    expect(tempo.spans('shop-team')[0]!.name).toBe('checkout');

    const scrape = await waitFor(async () => {
      const body = await get(ports.prom, '/metrics');
      return body.includes('requests') ? body : undefined;
    }, { what: 'metrics on the scrape endpoint' });
    expect(scrape).toMatch(/^# TYPE /m);
  });
});
