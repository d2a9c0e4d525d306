// Every listener besides OTLP ingest can be locked down with an authenticator:
// self-telemetry /metrics, the prometheus exporter, health_check's /readyz
// (liveness stays open), sieve_debug and admin. Each refuses without
// credentials with 401 + WWW-Authenticate and serves with them; the real
// Prometheus scrapes /metrics with basic_auth and the exporter with
// authorization in its scrape config. An exporter sends its credentials
// through `auth` too.
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { factories } from '../../src/components.js';
import type { Telemetry } from '../../src/pdata/telemetry.js';
import { Service } from '../../src/service/service.js';
import { httpGet, memoryExporter } from '../helpers/auth.js';
import { startPrometheus, type PrometheusServer } from '../helpers/prometheus.js';
import { exportAll, makeSpans, traceExporter } from '../helpers/sdk.js';
import { freePort, waitFor } from '../helpers/sieve.js';

const seen: Telemetry[] = [];

describe('authentication on every listener', () => {
  let front: Service;
  let back: Service;
  let prom: PrometheusServer | undefined;
  const p: Record<string, number> = {};
  const basic = `Basic ${Buffer.from('prometheus:scrape-pw').toString('base64')}`;
  const bearer = 'Bearer op-token';

  beforeAll(async () => {
    for (const n of ['metrics', 'prom', 'health', 'debug', 'admin', 'http', 'bhttp']) p[n] = await freePort();
    const hash = bcrypt.hashSync('scrape-pw', 4);
    // The back daemon requires a bearer token on ingest; the front's exporter sends it through `auth`.
    back = Service.fromYaml(
      `
extensions:
  bearertokenauth: { token: ingest-token }
receivers:
  otlp: { protocols: { http: { endpoint: "127.0.0.1:${p.bhttp}", auth: { authenticator: bearertokenauth } } } }
exporters:
  memory:
service:
  extensions: [bearertokenauth]
  pipelines:
    traces: { receivers: [otlp], exporters: [memory] }
`,
      { factories: [...factories, memoryExporter(seen)], metricsAddress: null, logWrite: () => undefined },
    );
    await back.start();
    front = Service.fromYaml(
      `
extensions:
  basicauth/scrape:
    htpasswd: { inline: "prometheus:${hash}" }
  bearertokenauth/ops: { token: op-token }
  bearertokenauth/out: { token: ingest-token }
  health_check: { endpoint: "127.0.0.1:${p.health}", auth: { authenticator: bearertokenauth/ops } }
  sieve_debug: { endpoint: "127.0.0.1:${p.debug}", auth: { authenticator: bearertokenauth/ops } }
receivers:
  otlp: { protocols: { http: { endpoint: "127.0.0.1:${p.http}" } } }
exporters:
  prometheus: { endpoint: "127.0.0.1:${p.prom}", auth: { authenticator: bearertokenauth/ops } }
  otlphttp: { endpoint: "http://127.0.0.1:${p.bhttp}", compression: none, auth: { authenticator: bearertokenauth/out }, retry_on_failure: { enabled: false } }
service:
  extensions: [basicauth/scrape, bearertokenauth/ops, bearertokenauth/out, health_check, sieve_debug]
  admin: { endpoint: "127.0.0.1:${p.admin}", auth: { authenticator: bearertokenauth/ops } }
  telemetry:
    metrics: { address: "127.0.0.1:${p.metrics}", auth: { authenticator: basicauth/scrape } }
  pipelines:
    traces: { receivers: [otlp], exporters: [otlphttp] }
    metrics: { receivers: [otlp], exporters: [prometheus] }
`,
      { logWrite: () => undefined },
    );
    await front.start();
  });
  afterAll(async () => {
    await prom?.stop();
    await front.shutdown();
    await back.shutdown();
  });

  const cases: [string, string, string, string][] = [
    ['service::telemetry::metrics', 'metrics', '/metrics', 'Basic'],
    ['prometheus exporter', 'prom', '/metrics', 'Bearer'],
    ['health_check /readyz', 'health', '/readyz', 'Bearer'],
    ['health_check status path', 'health', '/', 'Bearer'],
    ['sieve_debug', 'debug', '/debug/pipelines', 'Bearer'],
    ['admin', 'admin', '/no-such-route', 'Bearer'],
  ];
  for (const [name, port, path, scheme] of cases) {
    it(`${name} refuses without or with wrong credentials and serves with them`, async () => {
      const none = await httpGet(p[port]!, path);
      expect(none.status).toBe(401);
      expect(none.headers['www-authenticate']).toBe(`${scheme} realm="sieve"`);
      expect(none.body).toBe('401 Unauthorized\n');
      const wrong = await httpGet(p[port]!, path, { Authorization: scheme === 'Basic' ? `Basic ${Buffer.from('prometheus:nope').toString('base64')}` : 'Bearer nope' });
      expect(wrong.status).toBe(401);
      const ok = await httpGet(p[port]!, path, { Authorization: scheme === 'Basic' ? basic : bearer });
      expect(ok.status).not.toBe(401);
      if (port === 'admin') expect(ok.status).toBe(404); // authenticated, then routed
      else if (port === 'health') expect([200, 503]).toContain(ok.status);
      else expect(ok.status).toBe(200);
    });
  }

  it('liveness stays open', async () => {
    expect((await httpGet(p.health!, '/healthz')).status).toBe(200);
  });

  it('an exporter sends its authenticator credentials upstream', async () => {
    await exportAll(traceExporter('http/protobuf', { grpc: 0, http: p.http! }), makeSpans(2));
    await waitFor(() => seen.length > 0, { what: 'the back daemon to receive' });
    expect(seen[0]!.ctx.auth?.method).toBe('bearer');
  });

  it('the real Prometheus scrapes /metrics with basic_auth and the exporter with authorization', async () => {
    prom = await startPrometheus({
      targets: [
        { job: 'self', target: `127.0.0.1:${p.metrics}`, basicAuth: { username: 'prometheus', password: 'scrape-pw' } },
        { job: 'exporter', target: `127.0.0.1:${p.prom}`, bearerToken: 'op-token' },
        { job: 'self-noauth', target: `127.0.0.1:${p.metrics}` },
      ],
    });
    const up = await waitFor(
      async () => {
        const r = await prom!.query('up');
        return r.length === 3 ? Object.fromEntries(r.map((x) => [x.metric.job!, x.value[1]])) : undefined;
      },
      { what: 'three scrapes', timeoutMs: 20_000 },
    );
    expect(up).toEqual({ self: '1', exporter: '1', 'self-noauth': '0' });
    const ok = await prom.query('sieve_auth_requests_total{listener="service::telemetry::metrics",outcome="ok"}');
    expect(ok.length).toBe(1);
  });
});
