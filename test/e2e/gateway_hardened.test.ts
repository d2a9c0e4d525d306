// config/gateway-hardened.yaml runs as shipped (listen addresses moved to free
// loopback ports): mTLS plus a bearer token on ingest, identity-bound tenants,
// and an authenticated /metrics.
import bcrypt from 'bcryptjs';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tracesCodec } from '../../src/pdata/codec.js';
import * as grpc from '@grpc/grpc-js';
import { OTLPTraceExporter as TraceGrpc } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as TraceProto } from '@opentelemetry/exporter-trace-otlp-proto';
import { factories } from '../../src/components.js';
import type { Telemetry } from '../../src/pdata/telemetry.js';
import { Service } from '../../src/service/service.js';
import { httpGet, memoryExporter } from '../helpers/auth.js';
import { exportAll, makeSpans } from '../helpers/sdk.js';
import { traces } from '../helpers/model.js';
import { ROOT, freePort, startSieve, tempDir, type RunningSieve } from '../helpers/sieve.js';

const dir = tempDir();
const f = (n: string) => join(dir, n);
function openssl(...args: string[]) {
  execFileSync('openssl', args, { stdio: 'ignore' });
}

function post(port: number, headers: Record<string, string>, withCert: boolean): Promise<number> {
  const body = Buffer.from(tracesCodec.encode(traces(2)));
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/v1/traces',
        method: 'POST',
        ca: readFileSync(f('ca.pem')),
        ...(withCert ? { cert: readFileSync(f('client.pem')), key: readFileSync(f('client-key.pem')) } : {}),
        headers: { 'Content-Type': 'application/x-protobuf', 'Content-Length': String(body.length), ...headers },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      },
    );
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

describe('config/gateway-hardened.yaml', () => {
  let sieve: RunningSieve;
  const p: Record<string, number> = {};

  beforeAll(async () => {
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('ca-key.pem'), '-out', f('ca.pem'), '-subj', '/CN=test-ca', '-days', '2');
    for (const [name, subj, ext] of [
      ['server', '/CN=localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost'],
      ['client', '/CN=checkout', 'subjectAltName=DNS:checkout'],
    ]) {
      openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f(`${name}-key.pem`), '-out', f(`${name}.csr`), '-subj', subj!);
      writeFileSync(f(`${name}.ext`), ext!);
      openssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca-key.pem'), '-CAcreateserial', '-out', f(`${name}.pem`), '-days', '2', '-extfile', f(`${name}.ext`));
    }
    writeFileSync(f('htpasswd'), `prometheus:${bcrypt.hashSync('scrape-pw', 4)}\n`);
    for (const n of ['g', 'h', 'm', 'hc']) p[n] = await freePort();
    const yaml = readFileSync(join(ROOT, 'config', 'gateway-hardened.yaml'), 'utf8')
      .replace('0.0.0.0:4317', `127.0.0.1:${p.g}`)
      .replace('0.0.0.0:4318', `127.0.0.1:${p.h}`)
      .replace('0.0.0.0:8888', `127.0.0.1:${p.m}`)
      .replace('0.0.0.0:13133', `127.0.0.1:${p.hc}`)
      // Tempo is not running here: do not wait the full drain time on the way out.
      .replace('service:\n  extensions:', 'service:\n  shutdown_timeout: 1s\n  extensions:');
    sieve = await startSieve(yaml, {
      metricsAddress: undefined,
      env: { TEAM_A_TOKEN: 'tok-a', TEAM_B_TOKEN: 'tok-b', SIEVE_TLS_CERT: f('server.pem'), SIEVE_TLS_KEY: f('server-key.pem'), SIEVE_CLIENT_CA: f('ca.pem'), SIEVE_HTPASSWD: f('htpasswd'), TEMPO_ENDPOINT: '127.0.0.1:1' },
    });
  });
  afterAll(() => sieve?.stop());

  it('accepts a client with a certificate and its token', async () => {
    expect(await post(p.h!, { Authorization: 'Bearer tok-a' }, true)).toBe(200);
  });
  it('refuses a missing token (401), a missing certificate (TLS), and a claim to another tenant (403)', async () => {
    expect(await post(p.h!, {}, true)).toBe(401);
    expect(await post(p.h!, { Authorization: 'Bearer tok-a' }, false)).toBe(0);
    expect(await post(p.h!, { Authorization: 'Bearer tok-a', 'X-Scope-OrgID': 'team-b' }, true)).toBe(403);
  });
  it('serves /metrics and readiness only to the ops user; liveness is open', async () => {
    expect((await httpGet(p.m!, '/metrics')).status).toBe(401);
    expect((await httpGet(p.m!, '/metrics', { Authorization: `Basic ${Buffer.from('prometheus:scrape-pw').toString('base64')}` })).status).toBe(200);
    expect((await httpGet(p.hc!, '/readyz')).status).toBe(401);
    expect((await httpGet(p.hc!, '/healthz')).status).toBe(200);
  });
});

describe('mTLS client-certificate identity', () => {
  const seen: Telemetry[] = [];
  let svc: Service;
  const p: Record<string, number> = {};

  beforeAll(async () => {
    // Certificates from the describe block above (made in its beforeAll, which runs first).
    p.g = await freePort();
    p.h = await freePort();
    const tls = `{ cert_file: ${f('server.pem')}, key_file: ${f('server-key.pem')}, client_ca_file: ${f('ca.pem')} }`;
    svc = Service.fromYaml(
      `
receivers:
  otlp:
    protocols:
      grpc: { endpoint: "127.0.0.1:${p.g}", tls: ${tls} }
      http: { endpoint: "127.0.0.1:${p.h}", tls: ${tls} }
processors:
  tenant: { from_auth: subject }
exporters:
  memory:
service:
  pipelines:
    traces: { receivers: [otlp], processors: [tenant], exporters: [memory] }
`,
      { factories: [...factories, memoryExporter(seen)], metricsAddress: null, logWrite: () => undefined },
    );
    await svc.start();
  });
  afterAll(() => svc?.shutdown());

  it('the SDK exporters with a client certificate write under the certificate subject, over gRPC and HTTP', async () => {
    const ca = readFileSync(f('ca.pem'));
    const cert = readFileSync(f('client.pem'));
    const key = readFileSync(f('client-key.pem'));
    await exportAll(new TraceGrpc({ url: `https://127.0.0.1:${p.g}`, credentials: grpc.credentials.createSsl(ca, key, cert) }), makeSpans(2));
    await exportAll(new TraceProto({ url: `https://127.0.0.1:${p.h}/v1/traces`, httpAgentOptions: { ca, cert, key } }), makeSpans(2));
    expect(seen.map((d) => [d.ctx.auth?.method, d.ctx.auth?.subject, d.ctx.tenant])).toEqual([
      ['mtls', 'checkout', 'checkout'],
      ['mtls', 'checkout', 'checkout'],
    ]);
  });

  it('an exporter without a client certificate is refused at the TLS handshake', async () => {
    const ca = readFileSync(f('ca.pem'));
    await expect(exportAll(new TraceProto({ url: `https://127.0.0.1:${p.h}/v1/traces`, httpAgentOptions: { ca } }), makeSpans(1))).rejects.toThrow();
    await expect(exportAll(new TraceGrpc({ url: `https://127.0.0.1:${p.g}`, credentials: grpc.credentials.createSsl(ca), timeoutMillis: 3000 }), makeSpans(1))).rejects.toThrow();
  });
});
