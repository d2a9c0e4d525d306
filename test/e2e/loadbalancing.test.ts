// The loadbalancing exporter between two agents and three gateway daemons on
// loopback, all real OTLP/gRPC: each trace's spans are sent half through one
// agent and half through the other, so only consistent routing keeps a trace
// on one gateway.
import { afterAll, describe, expect, it } from 'vitest';
import { HashRing, hashBytes } from '../../src/routing/ring.js';
import { freePort, startSieve, startSink, waitFor, type RunningSieve, type Sink } from '../helpers/sieve.js';
import { agentYaml, gatewayYaml, newTraces, otlpClient, sendSplit, spansByTrace, stopAll, SPANS_PER_TRACE, type Client } from '../helpers/lb.js';

const cleanup: { stop(): Promise<void> }[] = [];
afterAll(async () => {
  await stopAll(cleanup.reverse());
});

async function gateways(n: number, processors = '', names: string[] = []): Promise<{ sinks: Sink[]; gws: RunningSieve[]; endpoints: string[] }> {
  const sinks: Sink[] = [];
  const gws: RunningSieve[] = [];
  const endpoints: string[] = [];
  for (let i = 0; i < n; i++) {
    const sink = await startSink();
    const port = await freePort();
    const gw = await startSieve(gatewayYaml(`127.0.0.1:${port}`, sink.grpcPort, processors, names));
    sinks.push(sink);
    gws.push(gw);
    endpoints.push(`127.0.0.1:${port}`);
    cleanup.push(gw, sink);
  }
  return { sinks, gws, endpoints };
}

async function agents(endpoints: string[], extra = ''): Promise<{ a: Client; b: Client; svcs: RunningSieve[] }> {
  const resolver = `      static:\n        hostnames: [${endpoints.join(', ')}]`;
  const svcs: RunningSieve[] = [];
  const clients: Client[] = [];
  for (let i = 0; i < 2; i++) {
    const port = await freePort();
    const agent = await startSieve(agentYaml(port, resolver, extra));
    svcs.push(agent);
    const c = await otlpClient(port);
    clients.push(c);
    cleanup.push(c, agent);
  }
  return { a: clients[0]!, b: clients[1]!, svcs };
}

describe('loadbalancing: static resolver', () => {
  it('puts every span of each of 20k traces of 10 spans on exactly one gateway', async () => {
    const { sinks, endpoints } = await gateways(3);
    const { a, b, svcs } = await agents(endpoints);
    const traces = newTraces(20_000);
    const acked = await sendSplit(a, b, traces, { perRequest: 100, concurrency: 4 });
    expect(acked).toBe(traces.length * SPANS_PER_TRACE);
    await waitFor(() => sinks.reduce((n, s) => n + s.count('traces'), 0) >= acked, { timeoutMs: 60_000, what: 'all spans at the gateways' });
    const seen = sinks.map((s) => spansByTrace(s));
    let split = 0;
    let incomplete = 0;
    for (const t of traces) {
      const where = seen.map((m) => m.get(t.hex) ?? 0);
      if (where.filter((n) => n > 0).length !== 1) split++;
      if (where.reduce((x, y) => x + y, 0) !== SPANS_PER_TRACE) incomplete++;
    }
    expect({ split, incomplete }).toEqual({ split: 0, incomplete: 0 });
    // The ring spreads traces: each of 3 gateways has roughly a third.
    for (const m of seen) expect(m.size / traces.length).toBeGreaterThan(0.2);
    // The agents report their backends and per-backend outcomes.
    for (const s of svcs) {
      expect(await s.svc.telemetry.value('otelcol_loadbalancer_num_backends', { resolver: 'static' })).toBe(3);
      expect(await s.svc.telemetry.value('otelcol_loadbalancer_backend_outcome', { success: 'true' })).toBeGreaterThan(0);
      // A gateway's sink may count a batch before the agent has read the gateway's answer to it.
      await waitFor(async () => (await s.svc.telemetry.value('sieve_loadbalancer_backend_items', { success: 'true' })) >= acked / 2, { what: 'the agent to record every answer' });
      expect(await s.svc.telemetry.value('sieve_loadbalancer_backend_items', { success: 'true' })).toBe(acked / 2);
      expect(await s.svc.telemetry.value('otelcol_loadbalancer_backend_outcome', { success: 'false' })).toBe(0);
    }
  }, 120_000);

  it('with tail sampling on each gateway, samples exactly the traces one gateway with the same policies samples', async () => {
    // A trace is kept when it has all 10 spans and the fixed-seed hash says so: a trace split across gateways is never kept.
    const ts = `  tail_sampling:
    decision_wait: 1s
    num_traces: 100000
    policies:
      - name: whole-and-sampled
        type: and
        and:
          and_sub_policy:
            - { name: complete, type: span_count, span_count: { min_spans: ${SPANS_PER_TRACE} } }
            - { name: hashed, type: probabilistic, probabilistic: { sampling_percentage: 30, hash_salt: lb-e2e } }
`;
    const { sinks, gws, endpoints } = await gateways(3, ts, ['tail_sampling']);
    const ref = await gateways(1, ts, ['tail_sampling']);
    const { a, b } = await agents(endpoints);
    const refClient = await otlpClient(Number(ref.endpoints[0]!.split(':')[1]));
    cleanup.push(refClient);
    const traces = newTraces(5_000);
    await Promise.all([sendSplit(a, b, traces, { perRequest: 50 }), sendSplit(refClient, refClient, traces, { perRequest: 50 })]);
    const decided = async (list: RunningSieve[]) => {
      let n = 0;
      for (const g of list) n += await g.svc.telemetry.value('otelcol_processor_tail_sampling_global_count_traces_sampled');
      return n;
    };
    const sampled = async (list: RunningSieve[]) => {
      let n = 0;
      for (const g of list) n += await g.svc.telemetry.value('otelcol_processor_tail_sampling_global_count_traces_sampled', { sampled: 'true' });
      return n;
    };
    await waitFor(async () => (await decided(gws)) >= traces.length && (await decided(ref.gws)) >= traces.length, { timeoutMs: 30_000, what: 'every trace decided' });
    const wantRef = (await sampled(ref.gws)) * SPANS_PER_TRACE;
    const wantGw = (await sampled(gws)) * SPANS_PER_TRACE;
    await waitFor(() => ref.sinks[0]!.count('traces') >= wantRef && sinks.reduce((n, s) => n + s.count('traces'), 0) >= wantGw, { what: 'sampled spans exported' });
    // Each trace was decided once, at one gateway.
    expect(await decided(gws)).toBe(traces.length);
    const refSet = [...spansByTrace(ref.sinks[0]!).keys()].sort();
    const union = new Map<string, number>();
    for (const s of sinks) for (const [k, n] of spansByTrace(s)) union.set(k, (union.get(k) ?? 0) + n);
    expect([...union.keys()].sort()).toEqual(refSet);
    for (const n of union.values()) expect(n).toBe(SPANS_PER_TRACE);
    // About 30% sampled (the hash is fixed, so this is one fixed number).
    expect(refSet.length / traces.length).toBeGreaterThan(0.2);
    expect(refSet.length / traces.length).toBeLessThan(0.4);
  }, 120_000);

  it('keeps a down backend’s share on it and delivers it when the backend comes back', async () => {
    const sink1 = await startSink();
    const sink2 = await startSink();
    cleanup.push(sink1, sink2);
    const p1 = await freePort();
    const p2 = await freePort();
    const e1 = `127.0.0.1:${p1}`;
    const e2 = `127.0.0.1:${p2}`;
    const gw1 = await startSieve(gatewayYaml(e1, sink1.grpcPort));
    cleanup.push(gw1);
    // Gateway 2 is down while the agents send.
    const { a, b, svcs } = await agents([e1, e2]);
    const traces = newTraces(2_000);
    const acked = await sendSplit(a, b, traces, { perRequest: 50 });
    expect(acked).toBe(traces.length * SPANS_PER_TRACE);
    const ring = new HashRing([e1, e2]);
    const owner = new Map(traces.map((t) => [t.hex, ring.lookup(hashBytes(t.id))]));
    const toGw2 = traces.filter((t) => owner.get(t.hex) === e2).length;
    expect(toGw2).toBeGreaterThan(0);
    await waitFor(() => sink1.count('traces') >= (traces.length - toGw2) * SPANS_PER_TRACE, { what: 'gateway 1 share' });
    // The agents are retrying gateway 2's share, not sending it to gateway 1.
    for (const s of svcs) expect(await s.svc.telemetry.value('otelcol_loadbalancer_backend_outcome', { endpoint: e2, success: 'false' })).toBe(0);
    expect(sink2.count('traces')).toBe(0);
    const gw2 = await startSieve(gatewayYaml(e2, sink2.grpcPort));
    cleanup.push(gw2);
    await waitFor(() => sink2.count('traces') >= toGw2 * SPANS_PER_TRACE, { timeoutMs: 30_000, what: 'gateway 2 share delivered after it came back' });
    const on1 = spansByTrace(sink1);
    const on2 = spansByTrace(sink2);
    for (const t of traces) {
      const mine = owner.get(t.hex) === e1 ? on1 : on2;
      const other = mine === on1 ? on2 : on1;
      expect(mine.get(t.hex)).toBe(SPANS_PER_TRACE);
      expect(other.has(t.hex)).toBe(false);
    }
  }, 60_000);
});
