// Authenticator extensions on the OTLP receiver, driven by the real
// OpenTelemetry SDK exporters over gRPC and HTTP: good credentials are
// accepted; none, wrong ones, an expired JWT, a wrong audience and a bad
// signature are refused with 401 / UNAUTHENTICATED and no detail. The bearer
// token file is rotated while the daemon runs. The OIDC issuer is served on
// loopback by the test.
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { factories } from '../../src/components.js';
import { tracesCodec } from '../../src/pdata/codec.js';
import type { Telemetry } from '../../src/pdata/telemetry.js';
import { Service } from '../../src/service/service.js';
import { grpcExport, httpGet, memoryExporter, startIssuer, type Issuer } from '../helpers/auth.js';
import { traces } from '../helpers/model.js';
import { exportAll, makeSpans, traceExporter, type Protocol } from '../helpers/sdk.js';
import { freePort, tempDir, waitFor } from '../helpers/sieve.js';

const seen: Telemetry[] = [];
const body = Buffer.from(tracesCodec.encode(traces(2)));

describe('authenticators on the otlp receiver', () => {
  const dir = tempDir();
  const tokenFile = join(dir, 'token');
  let svc: Service;
  let issuer: Issuer;
  const p: Record<string, number> = {};
  const logs: string[] = [];

  beforeAll(async () => {
    issuer = await startIssuer();
    writeFileSync(tokenFile, 'file-token-one\n');
    for (const n of ['bg', 'bh', 'ag', 'ah', 'og', 'oh']) p[n] = await freePort();
    const alice = bcrypt.hashSync('alice-pw', 4).replace(/^\$2b\$/, '$2y$');
    const bob = `{SHA}${createHash('sha1').update('bob-pw').digest('base64')}`;
    svc = Service.fromYaml(
      `
extensions:
  bearertokenauth:
    filename: ${tokenFile}
  basicauth:
    htpasswd:
      inline: |
        alice:${alice}
        bob:${bob}
  oidc:
    issuer_url: ${issuer.url}
    audience: sieve
    groups_claim: groups
receivers:
  otlp/bearer:
    protocols:
      grpc: { endpoint: "127.0.0.1:${p.bg}", auth: { authenticator: bearertokenauth } }
      http: { endpoint: "127.0.0.1:${p.bh}", auth: { authenticator: bearertokenauth }, cors: { allowed_origins: ["https://app.example"] } }
  otlp/basic:
    protocols:
      grpc: { endpoint: "127.0.0.1:${p.ag}", auth: { authenticator: basicauth } }
      http: { endpoint: "127.0.0.1:${p.ah}", auth: { authenticator: basicauth } }
  otlp/oidc:
    protocols:
      grpc: { endpoint: "127.0.0.1:${p.og}", auth: { authenticator: oidc } }
      http: { endpoint: "127.0.0.1:${p.oh}", auth: { authenticator: oidc } }
exporters:
  memory:
service:
  extensions: [bearertokenauth, basicauth, oidc]
  pipelines:
    traces: { receivers: [otlp/bearer, otlp/basic, otlp/oidc], exporters: [memory] }
`,
      { factories: [...factories, memoryExporter(seen)], metricsAddress: null, logWrite: (l) => logs.push(l) },
    );
    await svc.start();
  });
  afterAll(async () => {
    await svc.shutdown();
    await issuer.close();
  });

  const ports = (kind: 'b' | 'a' | 'o') => ({ grpc: p[`${kind}g`]!, http: p[`${kind}h`]! });
  const send = (proto: Protocol, kind: 'b' | 'a' | 'o', headers?: Record<string, string>) => exportAll(traceExporter(proto, ports(kind), { headers }), makeSpans(3));
  const basic = (u: string, pw: string) => `Basic ${Buffer.from(`${u}:${pw}`).toString('base64')}`;

  /** Accepted over both transports and arrives with the identity. */
  async function accepted(kind: 'b' | 'a' | 'o', headers: Record<string, string>, subject: string) {
    for (const proto of ['grpc', 'http/protobuf'] as Protocol[]) {
      const before = seen.length;
      await send(proto, kind, headers);
      expect(seen.length).toBe(before + 1);
      expect(seen.at(-1)!.ctx.auth?.subject).toEqual(subject);
    }
  }

  /** Refused by the SDK exporters and, raw, with 401 + WWW-Authenticate / UNAUTHENTICATED and no reason. */
  async function refused(kind: 'b' | 'a' | 'o', headers: Record<string, string>, challenge: string) {
    const before = seen.length;
    for (const proto of ['grpc', 'http/protobuf'] as Protocol[]) await expect(send(proto, kind, headers)).rejects.toThrow();
    const h = await httpGet(ports(kind).http, '/v1/traces', { 'Content-Type': 'application/x-protobuf', ...headers }, 'POST', body);
    expect(h.status).toBe(401);
    expect(h.headers['www-authenticate']).toBe(`${challenge} realm="sieve"`);
    expect(h.body).toBe('401 Unauthorized\n');
    const g = await grpcExport(ports(kind).grpc, body, headers);
    expect(g.code).toBe(16);
    expect(g.details).toBe('unauthenticated');
    expect(seen.length).toBe(before);
  }

  it('bearertokenauth accepts the token from its file and refuses none or a wrong one', async () => {
    await accepted('b', { Authorization: 'Bearer file-token-one' }, expect.stringMatching(/^token-[0-9a-f]{8}$/) as unknown as string);
    await refused('b', {}, 'Bearer');
    await refused('b', { Authorization: 'Bearer file-token-two' }, 'Bearer');
    await refused('b', { Authorization: 'Basic ZmlsZS10b2tlbi1vbmU=' }, 'Bearer');
  });

  it('a rotated token file takes effect without a restart: the old token is refused, the new one accepted', async () => {
    const tmp = join(dir, 'token.new');
    writeFileSync(tmp, 'file-token-two\n');
    renameSync(tmp, tokenFile);
    await waitFor(async () => (await grpcExport(p.bg!, body, { authorization: 'Bearer file-token-two' })).code === 0, { what: 'the new token' });
    await accepted('b', { Authorization: 'Bearer file-token-two' }, expect.any(String) as unknown as string);
    await refused('b', { Authorization: 'Bearer file-token-one' }, 'Bearer');
  });

  it('CORS preflight still answers without credentials', async () => {
    const r = await httpGet(p.bh!, '/v1/traces', { Origin: 'https://app.example', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization' }, 'OPTIONS');
    expect(r.status).toBe(204);
    expect(r.headers['access-control-allow-origin']).toBe('https://app.example');
  });

  it('basicauth accepts bcrypt and SHA htpasswd users and refuses a wrong password or user', async () => {
    await accepted('a', { Authorization: basic('alice', 'alice-pw') }, 'alice');
    await accepted('a', { Authorization: basic('bob', 'bob-pw') }, 'bob');
    await refused('a', {}, 'Basic');
    await refused('a', { Authorization: basic('alice', 'bob-pw') }, 'Basic');
    await refused('a', { Authorization: basic('mallory', 'alice-pw') }, 'Basic');
  });

  it('oidc accepts RS256, ES256 and EdDSA tokens from the issuer, with the subject and groups', async () => {
    for (const alg of ['RS256', 'ES256', 'EdDSA'] as const) {
      const t = await issuer.mint({ sub: `svc-${alg}`, groups: ['ingest'] }, { alg });
      await accepted('o', { Authorization: `Bearer ${t}` }, `svc-${alg}`);
      expect(seen.at(-1)!.ctx.auth?.groups).toEqual(['ingest']);
    }
    // Keys are fetched once and then served from the cache.
    expect(issuer.jwksFetches()).toBe(1);
  });

  it('oidc refuses an expired token, a wrong audience, a bad signature and no token', async () => {
    await refused('o', { Authorization: `Bearer ${await issuer.mint({ sub: 'x' }, { expiresIn: Math.floor(Date.now() / 1000) - 600 })}` }, 'Bearer');
    await refused('o', { Authorization: `Bearer ${await issuer.mint({ sub: 'x' }, { audience: 'someone-else' })}` }, 'Bearer');
    await refused('o', { Authorization: `Bearer ${await issuer.mint({ sub: 'x' }, { alg: 'ES256', forge: true })}` }, 'Bearer');
    await refused('o', {}, 'Bearer');
  });

  it('never logs a credential', () => {
    const text = logs.join('\n');
    for (const secret of ['file-token-one', 'file-token-two', 'alice-pw', 'bob-pw', 'eyJ']) expect(text).not.toContain(secret);
  });
});
