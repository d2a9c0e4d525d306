// Test helpers for authentication: an OIDC issuer served on loopback (discovery
// document and JWKS, keys made for the test), JWT minting, an in-memory
// exporter, and raw HTTP/gRPC calls that show status codes and headers.
import * as grpc from '@grpc/grpc-js';
import { createServer, request, type Server } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type CryptoKey } from 'jose';
import type { Consumer, ExporterFactory } from '../../src/component/component.js';
import { s } from '../../src/config/schema.js';
import type { Telemetry } from '../../src/pdata/telemetry.js';

export type Alg = 'RS256' | 'ES256' | 'EdDSA';

export interface Issuer {
  url: string;
  /** Signs a token with the issuer's key for `alg` (or `key`, to forge a bad signature under the same kid). */
  mint(claims: Record<string, unknown>, opts?: { alg?: Alg; expiresIn?: string | number; audience?: string; forge?: boolean }): Promise<string>;
  /** How many times the JWKS was fetched. */
  jwksFetches(): number;
  close(): Promise<void>;
}

export async function startIssuer(): Promise<Issuer> {
  const algs: Alg[] = ['RS256', 'ES256', 'EdDSA'];
  const keys = new Map<Alg, { priv: CryptoKey; jwk: JWK; forged: CryptoKey }>();
  for (const alg of algs) {
    const { privateKey, publicKey } = await generateKeyPair(alg, { crv: alg === 'EdDSA' ? 'Ed25519' : undefined });
    const other = await generateKeyPair(alg, { crv: alg === 'EdDSA' ? 'Ed25519' : undefined });
    const jwk = { ...(await exportJWK(publicKey)), kid: `k-${alg}`, alg, use: 'sig' };
    keys.set(alg, { priv: privateKey, jwk, forged: other.privateKey });
  }
  let fetches = 0;
  let url = '';
  const server: Server = createServer((req, res) => {
    if (req.url === '/.well-known/openid-configuration') {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ issuer: url, jwks_uri: `${url}/jwks` }));
    } else if (req.url === '/jwks') {
      fetches++;
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ keys: [...keys.values()].map((k) => k.jwk) }));
    } else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url,
    async mint(claims, opts = {}) {
      const alg = opts.alg ?? 'RS256';
      const k = keys.get(alg)!;
      return new SignJWT(claims)
        .setProtectedHeader({ alg, kid: k.jwk.kid! })
        .setIssuer(url)
        .setAudience(opts.audience ?? 'sieve')
        .setIssuedAt()
        .setExpirationTime(opts.expiresIn ?? '5m')
        .sign(opts.forge ? k.forged : k.priv);
    },
    jwksFetches: () => fetches,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** An exporter that records batches in memory: the far end of the pipelines under test. */
export function memoryExporter(seen: Telemetry[]): ExporterFactory {
  return {
    kind: 'exporter',
    type: 'memory',
    schema: s.object({}),
    signals: { traces: 'development', logs: 'development', metrics: 'development' },
    create: () => ({ mutatesData: false, start: async () => {}, shutdown: async () => {}, consume: async (d) => void seen.push(d) }) as Consumer & { start(): Promise<void>; shutdown(): Promise<void> },
  };
}

export interface HttpReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export function httpGet(port: number, path: string, headers: Record<string, string> = {}, method = 'GET', body?: Buffer): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers: body ? { 'Content-Length': String(body.length), ...headers } : headers }, (res) => {
      let b = '';
      res.on('data', (c: Buffer) => (b += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: b }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** One raw gRPC Export call; resolves with the status code and trailers. */
export function grpcExport(port: number, body: Buffer, headers: Record<string, string> = {}, path = '/opentelemetry.proto.collector.trace.v1.TraceService/Export'): Promise<{ code: number; details: string; metadata?: grpc.Metadata }> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(headers)) md.set(k.toLowerCase(), v);
  const id = (b: Buffer) => b;
  return new Promise((resolve) => {
    client.makeUnaryRequest(path, id, id, body, md, {}, (err) => {
      client.close();
      resolve(err ? { code: err.code, details: err.details, metadata: err.metadata } : { code: 0, details: '' });
    });
  });
}
