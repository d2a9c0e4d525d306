// Membership changes under load. Gateways listen on 127.0.0.1-4 (the whole
// 127/8 is loopback) on one port, found by the agents through a DNS server on
// a loopback UDP port, or through a fake Kubernetes API server.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startSieve, startSink, waitFor, type RunningSieve, type Sink } from '../helpers/sieve.js';
import { agentYaml, gatewayYaml, newTraces, otlpClient, sendSplit, spansByTrace, stopAll, SPANS_PER_TRACE, type Client, type TraceSpec } from '../helpers/lb.js';
import { startFakeDns } from '../fakes/dns.js';
import { startFakeK8s } from '../fakes/k8s.js';

const cleanup: { stop(): Promise<void> }[] = [];
afterAll(async () => {
  await stopAll(cleanup.reverse());
});

async function gatewayAt(ip: string, port: number): Promise<{ sink: Sink; gw: RunningSieve }> {
  const sink = await startSink();
  const gw = await startSieve(gatewayYaml(`${ip}:${port}`, sink.grpcPort));
  cleanup.push(sink, gw);
  return { sink, gw };
}

async function agentPair(resolver: string): Promise<{ a: Client; b: Client; svcs: RunningSieve[] }> {
  const svcs: RunningSieve[] = [];
  const clients: Client[] = [];
  for (let i = 0; i < 2; i++) {
    const port = await freePort();
    const agent = await startSieve(agentYaml(port, resolver));
    const c = await otlpClient(port);
    svcs.push(agent);
    clients.push(c);
    cleanup.push(c, agent);
  }
  return { a: clients[0]!, b: clients[1]!, svcs };
}

async function backendsAre(svcs: RunningSieve[], n: number, resolver: string): Promise<void> {
  await waitFor(async () => {
    for (const s of svcs) if ((await s.svc.telemetry.value('otelcol_loadbalancer_num_backends', { resolver })) !== n) return false;
    return true;
  }, { what: `${n} backends on every agent` });
}

/** Which sink got each probe's spans in pass `tag`; waits until all arrived. */
async function placement(sinks: Sink[], probes: readonly TraceSpec[], tag: string): Promise<Map<string, number>> {
  let maps: Map<string, number>[] = [];
  await waitFor(() => {
    maps = sinks.map((s) => spansByTrace(s, tag));
    return maps.reduce((n, m) => n + [...m.values()].reduce((x, y) => x + y, 0), 0) >= probes.length * SPANS_PER_TRACE;
  }, { timeoutMs: 30_000, what: `probe pass ${tag} delivered` });
  const out = new Map<string, number>();
  for (const p of probes) {
    const where = maps.map((m, i) => (m.has(p.hex) ? i : -1)).filter((i) => i >= 0);
    expect(where.length).toBe(1);
    out.set(p.hex, where[0]!);
  }
  return out;
}

describe('loadbalancing: membership changes', () => {
  it('dns resolver: a gateway leaves and another joins under load; nothing acknowledged is lost and ~1/N of keys move', async () => {
    const dns = await startFakeDns();
    cleanup.push(dns);
    const port = await freePort();
    const ips = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'];
    const g = [];
    for (const ip of ips) g.push(await gatewayAt(ip, port));
    const sinks = g.map((x) => x.sink);
    dns.set('gw.lb.test', ips.slice(0, 3));
    const { a, b, svcs } = await agentPair(`      dns:
        hostname: gw.lb.test
        port: ${port}
        interval: 100ms
        timeout: 500ms
        nameservers: [127.0.0.1:${dns.port}]`);
    await backendsAre(svcs, 3, 'dns');

    // Background load of fresh traces; what the agents acknowledge is recorded.
    let stop = false;
    let ackedSpans = 0;
    const ackedIds = new Set<string>();
    const load = (async () => {
      while (!stop) {
        await sendSplit(a, b, newTraces(100), {
          perRequest: 50,
          concurrency: 1,
          tag: 'load',
          acked: (chunk, n) => {
            ackedSpans += chunk.length * n;
            for (const t of chunk) ackedIds.add(t.hex);
          },
        });
      }
    })();

    const probes = newTraces(3000);
    await sendSplit(a, b, probes, { tag: 'p1', perRequest: 100 });
    const p1 = await placement(sinks, probes, 'p1');

    // Gateway 3 goes down first, then leaves DNS: what the agents hold for it is routed again.
    const before = ackedSpans;
    await g[2]!.gw.stop();
    await waitFor(() => ackedSpans > before + 5000, { what: 'load while gateway 3 is down' });
    dns.set('gw.lb.test', [ips[0]!, ips[1]!]);
    await backendsAre(svcs, 2, 'dns');
    await sendSplit(a, b, probes, { tag: 'p2', perRequest: 100 });
    const p2 = await placement(sinks, probes, 'p2');
    let moved = 0;
    for (const p of probes) {
      const was = p1.get(p.hex)!;
      const now = p2.get(p.hex)!;
      // Only the keys of the gateway that left move.
      if (was === 2) expect(now).not.toBe(2);
      else expect(now).toBe(was);
      if (was !== now) moved++;
    }
    expect(moved / probes.length).toBeGreaterThan(0.2);
    expect(moved / probes.length).toBeLessThan(0.47);

    // Gateway 4 joins: it takes about 1/3 of the keys, only from the others.
    dns.set('gw.lb.test', [ips[0]!, ips[1]!, ips[3]!]);
    await backendsAre(svcs, 3, 'dns');
    await sendSplit(a, b, probes, { tag: 'p3', perRequest: 100 });
    const p3 = await placement(sinks, probes, 'p3');
    moved = 0;
    for (const p of probes) {
      const was = p2.get(p.hex)!;
      const now = p3.get(p.hex)!;
      if (was !== now) {
        expect(now).toBe(3);
        moved++;
      }
    }
    expect(moved / probes.length).toBeGreaterThan(0.2);
    expect(moved / probes.length).toBeLessThan(0.47);

    stop = true;
    await load;
    // Nothing acknowledged is lost: every acknowledged load span reached a gateway's sink.
    let seenSpans = 0;
    const seenIds = new Set<string>();
    await waitFor(() => {
      seenSpans = 0;
      seenIds.clear();
      for (const s of sinks) {
        for (const [k, n] of spansByTrace(s, 'load')) {
          seenSpans += n;
          seenIds.add(k);
        }
      }
      return seenSpans >= ackedSpans;
    }, { timeoutMs: 30_000, what: 'every acknowledged span at a gateway' });
    expect(seenSpans).toBeGreaterThanOrEqual(ackedSpans);
    for (const id of ackedIds) expect(seenIds.has(id)).toBe(true);
    let rerouted = 0;
    for (const s of svcs) {
      rerouted += await s.svc.telemetry.value('sieve_loadbalancer_rerouted_items', { reason: 'membership' });
      expect(await s.svc.telemetry.value('otelcol_loadbalancer_num_resolutions', { resolver: 'dns', success: 'true' })).toBeGreaterThan(3);
    }
    // Gateway 3's share held while it was down was handed to the new owners.
    expect(rerouted).toBeGreaterThan(0);
  }, 120_000);

  it('k8s resolver: follows the Endpoints of the gateway Service from the API server', async () => {
    const token = 'sa-token-e2e';
    const api = await startFakeK8s(token);
    cleanup.push(api);
    const dir = mkdtempSync(join(tmpdir(), 'sieve-lb-k8s-'));
    writeFileSync(join(dir, 'token'), token);
    const port = await freePort();
    const g1 = await gatewayAt('127.0.0.5', port);
    const g2 = await gatewayAt('127.0.0.6', port);
    api.setEndpoints('observability', 'sieve-gateway', ['127.0.0.5', '127.0.0.6'], port);
    const { a, b, svcs } = await agentPair(`      k8s:
        service: sieve-gateway.observability
        ports: [${port}]
        api_server: ${api.url}
        token_file: ${join(dir, 'token')}
        interval: 100ms`);
    await backendsAre(svcs, 2, 'k8s');
    const traces = newTraces(1000);
    await sendSplit(a, b, traces, { tag: 'k1', perRequest: 50 });
    const placed = await placement([g1.sink, g2.sink], traces, 'k1');
    const on = [0, 0];
    for (const i of placed.values()) on[i]!++;
    expect(on[0]).toBeGreaterThan(200);
    expect(on[1]).toBeGreaterThan(200);
    expect(api.requests.every((r) => r.authorization === `Bearer ${token}` && r.path === '/api/v1/namespaces/observability/endpoints/sieve-gateway')).toBe(true);

    api.setEndpoints('observability', 'sieve-gateway', ['127.0.0.5'], port);
    await backendsAre(svcs, 1, 'k8s');
    const more = newTraces(500);
    await sendSplit(a, b, more, { tag: 'k2', perRequest: 50 });
    const placed2 = await placement([g1.sink, g2.sink], more, 'k2');
    expect([...placed2.values()].every((i) => i === 0)).toBe(true);
  }, 60_000);
});
