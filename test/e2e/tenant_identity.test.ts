// Identity-bound tenants: a client authenticated as team-a that claims team-b
// in the X-Scope-OrgID header and in a resource attribute lands under team-a
// only (on_conflict: override), or is refused with 403 / PERMISSION_DENIED
// (on_conflict: reject). Over HTTP and gRPC, with the real SDK exporter too.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { factories } from '../../src/components.js';
import { tracesCodec } from '../../src/pdata/codec.js';
import type { ResourceSpans } from '../../src/pdata/model.js';
import type { Telemetry } from '../../src/pdata/telemetry.js';
import { Service } from '../../src/service/service.js';
import { grpcExport, httpGet, memoryExporter } from '../helpers/auth.js';
import { traces } from '../helpers/model.js';
import { exportAll, makeSpans, traceExporter } from '../helpers/sdk.js';
import { freePort } from '../helpers/sieve.js';

const seen: Telemetry[] = [];

function claimingB(): Buffer {
  const rs = traces(2);
  rs[0]!.resource.attributes.push({ key: 'tenant', value: { type: 'string', value: 'team-b' } });
  return Buffer.from(tracesCodec.encode(rs));
}

describe('identity-bound tenant', () => {
  let svc: Service;
  const p: Record<string, number> = {};
  const A = { authorization: 'Bearer tok-a', 'x-scope-orgid': 'team-b' };

  beforeAll(async () => {
    for (const n of ['og', 'oh', 'rg', 'rh']) p[n] = await freePort();
    svc = Service.fromYaml(
      `
extensions:
  bearertokenauth:
    tokens:
      - { token: tok-a, tenant: team-a }
      - { token: tok-b, tenant: team-b }
receivers:
  otlp/override:
    protocols:
      grpc: { endpoint: "127.0.0.1:${p.og}", include_metadata: true, auth: { authenticator: bearertokenauth } }
      http: { endpoint: "127.0.0.1:${p.oh}", include_metadata: true, auth: { authenticator: bearertokenauth } }
  otlp/reject:
    protocols:
      grpc: { endpoint: "127.0.0.1:${p.rg}", include_metadata: true, auth: { authenticator: bearertokenauth } }
      http: { endpoint: "127.0.0.1:${p.rh}", include_metadata: true, auth: { authenticator: bearertokenauth } }
processors:
  tenant/override: { from_auth: tenant, from_header: x-scope-orgid, from_attribute: tenant }
  tenant/reject: { from_auth: tenant, from_header: x-scope-orgid, from_attribute: tenant, on_conflict: reject }
exporters:
  memory:
service:
  extensions: [bearertokenauth]
  pipelines:
    traces/override: { receivers: [otlp/override], processors: [tenant/override], exporters: [memory] }
    traces/reject: { receivers: [otlp/reject], processors: [tenant/reject], exporters: [memory] }
`,
      { factories: [...factories, memoryExporter(seen)], metricsAddress: null, logWrite: () => undefined },
    );
    await svc.start();
  });
  afterAll(() => svc.shutdown());

  const tenantAttr = (d: Telemetry) => (d.read() as readonly ResourceSpans[]).map((r) => r.resource.attributes.find((a) => a.key === 'tenant')?.value);

  it('override: team-a claiming team-b by header and attribute lands under team-a only (HTTP and gRPC)', async () => {
    seen.length = 0;
    const h = await httpGet(p.oh!, '/v1/traces', { 'Content-Type': 'application/x-protobuf', ...A }, 'POST', claimingB());
    expect(h.status).toBe(200);
    expect((await grpcExport(p.og!, claimingB(), A)).code).toBe(0);
    await exportAll(traceExporter('grpc', { grpc: p.og!, http: p.oh! }, { headers: { Authorization: 'Bearer tok-a', 'X-Scope-OrgID': 'team-b' } }), makeSpans(2));
    expect(seen.length).toBe(3);
    for (const d of seen) expect(d.ctx.tenant).toBe('team-a');
    // The attribute the client set is rewritten too, so nothing downstream can read team-b from it.
    expect(tenantAttr(seen[0]!)).toEqual([{ type: 'string', value: 'team-a' }]);
  });

  it('override: the owner of team-b still writes as team-b', async () => {
    seen.length = 0;
    const h = await httpGet(p.oh!, '/v1/traces', { 'Content-Type': 'application/x-protobuf', authorization: 'Bearer tok-b' }, 'POST', claimingB());
    expect(h.status).toBe(200);
    expect(seen.map((d) => d.ctx.tenant)).toEqual(['team-b']);
  });

  it('reject: the same claims are refused with 403 / PERMISSION_DENIED and nothing is written', async () => {
    seen.length = 0;
    const h = await httpGet(p.rh!, '/v1/traces', { 'Content-Type': 'application/x-protobuf', ...A }, 'POST', claimingB());
    expect(h.status).toBe(403);
    expect((await grpcExport(p.rg!, claimingB(), A)).code).toBe(7);
    const onlyHeader = await httpGet(p.rh!, '/v1/traces', { 'Content-Type': 'application/x-protobuf', ...A }, 'POST', Buffer.from(tracesCodec.encode(traces(1))));
    expect(onlyHeader.status).toBe(403);
    expect(seen.length).toBe(0);
    // Without a conflicting claim team-a is accepted.
    const ok = await httpGet(p.rh!, '/v1/traces', { 'Content-Type': 'application/x-protobuf', authorization: 'Bearer tok-a' }, 'POST', Buffer.from(tracesCodec.encode(traces(1))));
    expect(ok.status).toBe(200);
    expect(seen.map((d) => d.ctx.tenant)).toEqual(['team-a']);
  });
});
