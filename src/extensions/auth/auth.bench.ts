// Micro-benchmark of authentication per request and of the tenant limiter per
// batch: bearertokenauth (SHA-256 and a constant-time compare per configured
// token), basicauth with a bcrypt user (verified pair cached, as in steady
// state) and with a SHA user, oidc with the issuer's key cached (signature
// check per request; RS256, ES256, EdDSA), and tenant_limiter on a batch of
// 1000 spans (cost per span = µs/batch / 1000).
//
//   node --import tsx src/extensions/auth/auth.bench.ts
import { createHash } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { Bench } from 'tinybench';
import type { Consumer, CreateSettings } from '../../component/component.js';
import { Issues } from '../../config/schema.js';
import { Telemetry } from '../../pdata/telemetry.js';
import { benchTraces } from '../../pdata/testdata/fixtures.js';
import { tenantLimiterFactory } from '../../processors/tenant_limiter/factory.js';
import { nopLogger } from '../../service/logger.js';
import { SelfTelemetry } from '../../service/telemetry.js';
import { startIssuer } from '../../../test/helpers/auth.js';
import { basicAuthFactory } from '../basicauth/factory.js';
import { bearerTokenAuthFactory } from '../bearertokenauth/factory.js';
import { oidcFactory } from '../oidc/factory.js';
import type { ServerAuthenticator } from './auth.js';

const TIME_MS = Number(process.env.BENCH_TIME_MS ?? 1000);
const settings = (id: string): CreateSettings => ({ id, kind: 'extension', logger: nopLogger, telemetry: new SelfTelemetry(), instanceId: 'b', now: Date.now });
function ext<C>(f: { schema: { parse(v: unknown, p: string[], i: Issues): C }; create(s: CreateSettings, c: C): unknown }, raw: unknown): ServerAuthenticator & { start(h: unknown): Promise<void> } {
  return f.create(settings('x'), f.schema.parse(raw, [], new Issues())) as never;
}

const issuer = await startIssuer();
const bearer = ext(bearerTokenAuthFactory, { tokens: Array.from({ length: 4 }, (_, i) => ({ token: `token-${i}-0123456789abcdef`, tenant: `t${i}` })) });
const basic = ext(basicAuthFactory, { htpasswd: { inline: `alice:${bcrypt.hashSync('alice-pw', 10)}\nbob:{SHA}${createHash('sha1').update('bob-pw').digest('base64')}` } });
const oidc = ext(oidcFactory, { issuer_url: issuer.url, audience: 'sieve' });
await oidc.start(undefined);
const jwt = { RS256: '', ES256: '', EdDSA: '' };
for (const alg of ['RS256', 'ES256', 'EdDSA'] as const) jwt[alg] = await issuer.mint({ sub: 'svc' }, { alg, expiresIn: '1h' });
const b64 = (s: string) => Buffer.from(s).toString('base64');
await basic.authenticate({ authorization: `Basic ${b64('alice:alice-pw')}` }); // fills the cache

const sink: Consumer = { mutatesData: false, consume: async () => undefined };
const limiter = tenantLimiterFactory.create({ ...settings('tenant_limiter'), kind: 'processor' }, tenantLimiterFactory.schema.parse({ default: { rate: 1e12, burst: 1e12 } }, [], new Issues()), 'traces', sink);
const spans = Telemetry.fromModel('traces', benchTraces(1000, 5)).toProto();

const bench = new Bench({ time: TIME_MS, warmupTime: 200 });
bench
  .add('bearertokenauth (4 tokens)', () => bearer.authenticate({ authorization: 'Bearer token-3-0123456789abcdef' }))
  .add('basicauth bcrypt, cached pair', () => basic.authenticate({ authorization: `Basic ${b64('alice:alice-pw')}` }))
  .add('basicauth SHA', () => basic.authenticate({ authorization: `Basic ${b64('bob:bob-pw')}` }))
  .add('oidc RS256, key cached', () => oidc.authenticate({ authorization: `Bearer ${jwt.RS256}` }))
  .add('oidc ES256, key cached', () => oidc.authenticate({ authorization: `Bearer ${jwt.ES256}` }))
  .add('oidc EdDSA, key cached', () => oidc.authenticate({ authorization: `Bearer ${jwt.EdDSA}` }))
  .add('tenant_limiter, 1000 spans', () => limiter.consume(Telemetry.fromProto('traces', spans, 1000, { tenant: 'team-a' })));
await bench.run();
for (const t of bench.tasks) {
  const r = t.result as unknown as { throughput: { mean: number }; latency: { rme: number } };
  console.log(`  ${t.name.padEnd(32)} ${Math.round(r.throughput.mean).toLocaleString('en-US').padStart(10)} ops/s  ${(1e6 / r.throughput.mean).toFixed(2).padStart(8)} µs/op  ±${r.latency.rme.toFixed(1)}%`);
}
await issuer.close();
