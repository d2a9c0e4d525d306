// Resolvers against real servers on loopback: a DNS server on a UDP port
// and a fake Kubernetes API server.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Issues } from '../../config/schema.js';
import { nopLogger } from '../../service/logger.js';
import { startFakeDns } from '../../../test/fakes/dns.js';
import { startFakeK8s } from '../../../test/fakes/k8s.js';
import { waitFor } from '../../../test/helpers/sieve.js';
import { loadBalancingSchema } from './config.js';
import { DnsEndpointResolver, K8sEndpointResolver, StaticResolver, type Endpoints, type Resolver } from './resolver.js';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s();
});

function hooks() {
  const counts = { ok: 0, failed: 0 };
  return { counts, hooks: { logger: nopLogger, resolved: (ok: boolean) => void (ok ? counts.ok++ : counts.failed++) } };
}

async function run(r: Resolver): Promise<Endpoints[]> {
  const seen: Endpoints[] = [];
  await r.start((l) => seen.push(l));
  stops.push(() => r.shutdown());
  return seen;
}

function resolverCfg(raw: unknown) {
  const issues = new Issues();
  const cfg = loadBalancingSchema.parse({ resolver: raw }, [], issues);
  expect(issues.errors).toEqual([]);
  return cfg.resolver;
}

describe('static resolver', () => {
  it('adds the default port, sorts and de-duplicates', async () => {
    const { hooks: h } = hooks();
    const seen = await run(new StaticResolver(['b.example', 'a.example:4000', 'b.example:4317', '::1'], h));
    expect(seen).toEqual([['[::1]:4317', 'a.example:4000', 'b.example:4317']]);
  });
});

describe('dns resolver', () => {
  it('resolves A records from the configured server, follows changes and keeps the list on failure', async () => {
    const dns = await startFakeDns();
    stops.push(() => dns.stop());
    dns.set('gw.sieve.test', ['127.0.0.2', '127.0.0.1']);
    const { counts, hooks: h } = hooks();
    const cfg = resolverCfg({ dns: { hostname: 'gw.sieve.test', port: 5000, interval: '50ms', timeout: '500ms', nameservers: [`127.0.0.1:${dns.port}`] } }).dns!;
    const seen = await run(new DnsEndpointResolver(cfg, h));
    expect(seen).toEqual([['127.0.0.1:5000', '127.0.0.2:5000']]);
    dns.set('gw.sieve.test', ['127.0.0.3']);
    await waitFor(() => seen.length === 2, { what: 'the changed list' });
    expect(seen[1]).toEqual(['127.0.0.3:5000']);
    const okBefore = counts.ok;
    dns.failing(true);
    await waitFor(() => counts.failed >= 2, { what: 'failed resolutions' });
    expect(seen.length).toBe(2);
    dns.failing(false);
    await waitFor(() => counts.ok > okBefore + 1, { what: 'recovery' });
    expect(seen.length).toBe(2);
  });
});

describe('k8s resolver', () => {
  it('reads the Endpoints of name.namespace with the service-account token, one endpoint per port', async () => {
    const api = await startFakeK8s('sa-token-1');
    stops.push(() => api.stop());
    const dir = mkdtempSync(join(tmpdir(), 'sieve-k8s-'));
    writeFileSync(join(dir, 'token'), 'sa-token-1\n');
    api.setEndpoints('observability', 'sieve-gateway', ['10.0.0.2', '10.0.0.1']);
    const { counts, hooks: h } = hooks();
    const cfg = resolverCfg({ k8s: { service: 'sieve-gateway.observability', ports: [4317, 4319], api_server: api.url, token_file: join(dir, 'token'), interval: '50ms' } }).k8s!;
    const seen = await run(new K8sEndpointResolver(cfg, h, {}));
    expect(seen).toEqual([['10.0.0.1:4317', '10.0.0.1:4319', '10.0.0.2:4317', '10.0.0.2:4319']]);
    expect(api.requests[0]).toEqual({ path: '/api/v1/namespaces/observability/endpoints/sieve-gateway', authorization: 'Bearer sa-token-1' });
    api.setEndpoints('observability', 'sieve-gateway', ['10.0.0.1', '10.0.0.3']);
    await waitFor(() => seen.length === 2, { what: 'the changed endpoints' });
    expect(seen[1]).toEqual(['10.0.0.1:4317', '10.0.0.1:4319', '10.0.0.3:4317', '10.0.0.3:4319']);
    api.failWith(500);
    await waitFor(() => counts.failed >= 2, { what: 'failed polls' });
    expect(seen.length).toBe(2);
  });

  it('counts a failed resolution outside a cluster (no KUBERNETES_SERVICE_HOST, no api_server)', async () => {
    const { counts, hooks: h } = hooks();
    const cfg = resolverCfg({ k8s: { service: 'gw.ns', token_file: '/nonexistent' } }).k8s!;
    const seen = await run(new K8sEndpointResolver(cfg, h, {}));
    expect(seen).toEqual([]);
    expect(counts.failed).toBe(1);
  });
});
