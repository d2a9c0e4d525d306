// config/agent.yaml end to end, as shipped: a JSON log file tailed into a
// Loki fake, the real prometheus-node-exporter scraped into a real Prometheus
// over remote write, and OTLP spans into a Tempo fake, all under the node's
// tenant and through redaction.
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLokiFake, type LokiFake } from '../fakes/loki.js';
import { startTempoFake, type TempoFake } from '../fakes/tempo.js';
import { startNodeExporter, type NodeExporter } from '../helpers/node_exporter.js';
import { startPrometheus, type PrometheusServer } from '../helpers/prometheus.js';
import { ROOT, freePort, spawnSieve, tempDir, waitFor, type SpawnedSieve } from '../helpers/sieve.js';

describe('config/agent.yaml', () => {
  let loki: LokiFake;
  let tempo: TempoFake;
  let prom: PrometheusServer;
  let node: NodeExporter;
  let sieve: SpawnedSieve;
  let logDir: string;
  let httpPort: number;

  beforeAll(async () => {
    [loki, tempo, prom, node] = await Promise.all([startLokiFake(), startTempoFake(), startPrometheus(), startNodeExporter()]);
    const dir = tempDir('sieve-agent-');
    logDir = join(dir, 'logs');
    mkdirSync(logDir);
    writeFileSync(join(logDir, 'app.log'), '');
    httpPort = await freePort();
    sieve = await spawnSieve('', {
      args: ['--config', join(ROOT, 'config', 'agent.yaml')],
      env: {
        APP_LOG_GLOB: join(logDir, '*.log'),
        APP_METRICS_TARGET: node.url.replace(/^http:\/\//, '').replace(/\/.*$/, ''),
        TENANT: 'team-a',
        SIEVE_STATE_DIR: join(dir, 'state'),
        LOKI_PUSH_URL: loki.pushUrl,
        PROMETHEUS_RW_URL: prom.writeUrl,
        TEMPO_ENDPOINT: tempo.grpcEndpoint,
        OTLP_GRPC_ENDPOINT: `127.0.0.1:${await freePort()}`,
        OTLP_HTTP_ENDPOINT: `127.0.0.1:${httpPort}`,
        HEALTH_ENDPOINT: `127.0.0.1:${await freePort()}`,
        SIEVE_METRICS_ADDRESS: `127.0.0.1:${await freePort()}`,
      },
    });
  }, 60_000);

  afterAll(async () => {
    await sieve?.kill();
    await Promise.all([loki?.close(), tempo?.close(), prom?.stop(), node?.stop()]);
  });

  it('tails a JSON log file into Loki, redacted, with the trace ids and the tenant', async () => {
    const line = { timestamp: '2026-12-06T10:00:00.123Z', level: 'error', message: 'payment failed for jane@example.com', trace_id: '5b8efff798038103d269b633813fc60c', span_id: 'eee19b7ec3c1b174', order: 42 };
    // The file is read from its end once the receiver has found it: warm-up
    // lines until one arrives show that it has.
    const file = join(logDir, 'app.log');
    await waitFor(
      () => {
        if (loki.entries('team-a').length > 0) return true;
        appendFileSync(file, JSON.stringify({ timestamp: new Date().toISOString(), level: 'info', message: 'warm-up' }) + '\n');
        return false;
      },
      { timeoutMs: 20_000, intervalMs: 500, what: 'a warm-up line in Loki' },
    );
    appendFileSync(file, JSON.stringify(line) + '\n');
    const mine = () => loki.entries('team-a').filter((x) => x.line.startsWith('payment failed'));
    const entries = await waitFor(() => (mine().length > 0 ? mine() : undefined), { timeoutMs: 20_000, what: 'the log line in Loki' });
    expect(entries).toHaveLength(1);
    const e = entries[0]!;
    expect(e.line).toBe('payment failed for [REDACTED:email]');
    expect(e.line).not.toContain('jane@example.com');
    expect(e.metadata).toMatchObject({ trace_id: line.trace_id, span_id: line.span_id });
    expect(loki.tenants()).toEqual(['team-a']);
  });

  it('scrapes the node exporter into Prometheus over remote write, values as the target serves them', async () => {
    const up = await waitFor(async () => {
      const r = await prom.query('up{job="app"}');
      return r.length > 0 ? r : undefined;
    }, { timeoutMs: 40_000, what: 'up{job="app"} in Prometheus' });
    expect(up[0]!.value[1]).toBe('1');
    // A value that does not change between scrapes: the node's boot time.
    const served = await (await fetch(`${node.url}`)).text();
    const boot = /^node_boot_time_seconds\s+(\S+)$/m.exec(served)?.[1];
    expect(boot).toBeDefined();
    const got = await waitFor(async () => {
      const r = await prom.query('node_boot_time_seconds{job="app"}');
      return r.length > 0 ? r : undefined;
    }, { timeoutMs: 40_000, what: 'node_boot_time_seconds in Prometheus' });
    expect(Number(got[0]!.value[1])).toBe(Number(boot));
  });

  it('sends OTLP spans to Tempo under the tenant, redacted', async () => {
    const body = {
      resourceSpans: [{
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'checkout' } }] },
        scopeSpans: [{ spans: [{ traceId: '5b8efff798038103d269b633813fc60c', spanId: 'eee19b7ec3c1b175', name: 'GET /cart', startTimeUnixNano: '1700000000000000000', endTimeUnixNano: '1700000000100000000', attributes: [{ key: 'user.email', value: { stringValue: 'jane@example.com' } }] }] }],
      }],
    };
    const res = await fetch(`http://127.0.0.1:${httpPort}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status).toBe(200);
    const spans = await waitFor(() => (tempo.spans('team-a').length > 0 ? tempo.spans('team-a') : undefined), { timeoutMs: 20_000, what: 'the span in Tempo' });
    expect(spans).toHaveLength(1);
    expect(JSON.stringify(spans[0])).not.toContain('jane@example.com');
  });
});
