// Per-tenant ingest limits: team-a floods at 10x its limit and is throttled
// with retry hints (429 + Retry-After over HTTP, RESOURCE_EXHAUSTED + RetryInfo
// over gRPC) while team-b's traffic, within its own limit, is fully accepted.
// The daemon's clock is frozen so no tokens refill during the test.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { factories } from '../../src/components.js';
import { tracesCodec } from '../../src/pdata/codec.js';
import type { Telemetry } from '../../src/pdata/telemetry.js';
import { retryDelayFromStatus } from '../../src/receivers/otlp/status.js';
import { Service } from '../../src/service/service.js';
import { grpcExport, httpGet, memoryExporter } from '../helpers/auth.js';
import { traces } from '../helpers/model.js';
import { freePort } from '../helpers/sieve.js';

const seen: Telemetry[] = [];
const req = (n: number) => Buffer.from(tracesCodec.encode(traces(n)));

describe('per-tenant limits', () => {
  let svc: Service;
  const p: Record<string, number> = {};
  const clock = 1_700_000_000_000;

  beforeAll(async () => {
    p.g = await freePort();
    p.h = await freePort();
    svc = Service.fromYaml(
      `
extensions:
  bearertokenauth:
    tokens:
      - { token: tok-a, tenant: team-a }
      - { token: tok-b, tenant: team-b }
      - { token: tok-c, tenant: team-c }
receivers:
  otlp:
    protocols:
      grpc: { endpoint: "127.0.0.1:${p.g}", auth: { authenticator: bearertokenauth } }
      http: { endpoint: "127.0.0.1:${p.h}", auth: { authenticator: bearertokenauth } }
processors:
  tenant: { from_auth: tenant }
  tenant_limiter:
    default: { rate: 50, burst: 50 }
    tenants:
      team-a: { rate: 100, burst: 100 }
      team-b: { rate: 100, burst: 100 }
exporters:
  memory:
service:
  extensions: [bearertokenauth]
  pipelines:
    traces: { receivers: [otlp], processors: [tenant, tenant_limiter], exporters: [memory] }
`,
      { factories: [...factories, memoryExporter(seen)], metricsAddress: null, logWrite: () => undefined, now: () => clock },
    );
    await svc.start();
  });
  afterAll(() => svc.shutdown());

  it('throttles the flooding tenant with retry hints and accepts the other one fully', async () => {
    const statuses: number[] = [];
    const retryAfter: (string | undefined)[] = [];
    const grpcCodes: number[] = [];
    const grpcDelays: (number | undefined)[] = [];
    // team-a sends 1000 spans against a burst of 100, interleaved with team-b sending 100 within its limit.
    for (let i = 0; i < 10; i++) {
      if (i % 2 === 0) {
        const r = await httpGet(p.h!, '/v1/traces', { 'Content-Type': 'application/x-protobuf', authorization: 'Bearer tok-a' }, 'POST', req(100));
        statuses.push(r.status);
        retryAfter.push(r.headers['retry-after'] as string | undefined);
      } else {
        const g = await grpcExport(p.g!, req(100), { authorization: 'Bearer tok-a' });
        grpcCodes.push(g.code);
        const d = g.metadata?.get('grpc-status-details-bin')[0];
        grpcDelays.push(d instanceof Buffer ? retryDelayFromStatus(d) : undefined);
      }
      const b = i % 2 === 0 ? (await httpGet(p.h!, '/v1/traces', { 'Content-Type': 'application/x-protobuf', authorization: 'Bearer tok-b' }, 'POST', req(10))).status : (await grpcExport(p.g!, req(10), { authorization: 'Bearer tok-b' })).code;
      expect(b === 200 || b === 0).toBe(true);
    }
    expect(statuses).toEqual([200, 429, 429, 429, 429]);
    expect(retryAfter.slice(1)).toEqual(['1', '1', '1', '1']);
    expect(grpcCodes).toEqual([8, 8, 8, 8, 8]);
    expect(grpcDelays).toEqual([1000, 1000, 1000, 1000, 1000]);
    const byTenant = (t: string) => seen.filter((d) => d.ctx.tenant === t).reduce((n, d) => n + d.itemCount(), 0);
    expect(byTenant('team-a')).toBe(100);
    expect(byTenant('team-b')).toBe(100);
    expect(await svc.telemetry.value('sieve_tenant_limiter_throttled_total', { tenant: 'team-a' })).toBe(900);
    expect(await svc.telemetry.value('sieve_tenant_limiter_throttled_total', { tenant: 'team-b' })).toBe(0);
  });

  it('an unlisted tenant gets the default limit', async () => {
    const first = await httpGet(p.h!, '/v1/traces', { 'Content-Type': 'application/x-protobuf', authorization: 'Bearer tok-c' }, 'POST', req(50));
    const second = await httpGet(p.h!, '/v1/traces', { 'Content-Type': 'application/x-protobuf', authorization: 'Bearer tok-c' }, 'POST', req(1));
    expect([first.status, second.status]).toEqual([200, 429]);
  });
});
