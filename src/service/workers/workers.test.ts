// The worker link (two links in this process, talking over loopback like two
// workers do), the per-worker view of a config, and service::workers validation.
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { Consumer } from '../../component/component.js';
import { ConsumerError } from '../../component/errors.js';
import { Telemetry } from '../../pdata/telemetry.js';
import { HashRing, hashBytes } from '../../routing/ring.js';
import { nopLogger } from '../logger.js';
import { SelfTelemetry } from '../telemetry.js';
import { validateYaml, workerConfig } from '../service.js';
import { testHost, tempDir } from '../../../test/helpers/sieve.js';
import { newTraces, request } from '../../../test/helpers/lb.js';
import { WorkerLink } from './link.js';

const links: WorkerLink[] = [];
const TOKEN = 'f'.repeat(64);
afterEach(async () => {
  for (const l of links.splice(0)) await l.shutdown();
});

function recorder(fail?: () => Error | undefined): Consumer & { got: Telemetry[] } {
  const got: Telemetry[] = [];
  return {
    got,
    mutatesData: false,
    async consume(d) {
      const e = fail?.();
      if (e) throw e;
      got.push(d);
    },
  };
}

async function pair(): Promise<{ l0: WorkerLink; l1: WorkerLink; c0: ReturnType<typeof recorder>; c1: ReturnType<typeof recorder>; fail1: { err?: Error } }> {
  const l0 = new WorkerLink({ index: 0, count: 2 }, nopLogger, new SelfTelemetry(), TOKEN);
  const l1 = new WorkerLink({ index: 1, count: 2 }, nopLogger, new SelfTelemetry(), TOKEN);
  links.push(l0, l1);
  const c0 = recorder();
  const fail1: { err?: Error } = {};
  const c1 = recorder(() => fail1.err);
  l0.register('traces#0', 'traces', c0);
  l1.register('traces#0', 'traces', c1);
  const p0 = await l0.start(testHost());
  const p1 = await l1.start(testHost());
  l0.setPeers({ 0: p0, 1: p1 });
  l1.setPeers({ 0: p0, 1: p1 });
  return { l0, l1, c0, c1, fail1 };
}

const traceIds = (list: Telemetry[]) => list.flatMap((d) => (d as Telemetry<'traces'>).read().flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => Buffer.from(s.traceId).toString('hex')))));

describe('worker link', () => {
  it('hands each trace to the worker the ring names, with its request context', async () => {
    const { l0, c0, c1 } = await pair();
    const router = l0.router('traces#0', 'traces', 'traces', 'traceID', c0);
    const traces = newTraces(200);
    await router.consume(Telemetry.traces(request(traces, 0, 10), { tenant: 'acme', metadata: { 'x-team': ['a'] } }));
    const ring = new HashRing(['0', '1']);
    const want = [new Set<string>(), new Set<string>()];
    for (const t of traces) want[Number(ring.lookup(hashBytes(t.id)))]!.add(t.hex);
    expect(new Set(traceIds(c0.got))).toEqual(want[0]);
    expect(new Set(traceIds(c1.got))).toEqual(want[1]);
    // Every span of a trace with its trace.
    expect(traceIds(c1.got).length).toBe(want[1]!.size * 10);
    expect(c1.got[0]!.ctx).toEqual({ tenant: 'acme', metadata: { 'x-team': ['a'] } });
  });

  it('passes the owner’s refusal back, permanent or retryable as it was', async () => {
    const { l0, c0, fail1 } = await pair();
    const router = l0.router('traces#0', 'traces', 'traces', 'traceID', c0);
    fail1.err = new ConsumerError('invalid', 'bad data there');
    await expect(router.consume(Telemetry.traces(request(newTraces(50), 0, 2)))).rejects.toMatchObject({ kind: 'invalid', permanent: true, message: 'bad data there' });
    fail1.err = new ConsumerError('exhausted', 'full there', { retryAfterMs: 2000 });
    await expect(router.consume(Telemetry.traces(request(newTraces(50), 0, 2)))).rejects.toMatchObject({ kind: 'exhausted', permanent: false, retryAfterMs: 2000 });
  });

  it('waits for an owner that is restarting and delivers once it is back', async () => {
    const { l0, l1, c0, c1 } = await pair();
    const router = l0.router('traces#0', 'traces', 'traces', 'traceID', c0);
    l0.dropPeer(1);
    const p = router.consume(Telemetry.traces(request(newTraces(50), 0, 2)));
    await new Promise((r) => setTimeout(r, 200));
    expect(c1.got).toHaveLength(0);
    l0.setPeers({ 1: l1.port! });
    await p;
    expect(c1.got.length).toBeGreaterThan(0);
  });

  it('routes everything to worker 0 in owner mode', async () => {
    const { l1, c0, c1 } = await pair();
    const router = l1.router('traces#0', 'traces', 'traces', 'owner', c1);
    await router.consume(Telemetry.traces(request(newTraces(20), 0, 3)));
    expect(c1.got).toHaveLength(0);
    expect(traceIds(c0.got)).toHaveLength(60);
  });

  it('refuses a hop without the daemon’s token (401) and answers a malformed body with 400', async () => {
    const { l0, c0 } = await pair();
    const url = `http://127.0.0.1:${l0.port}/route/${encodeURIComponent('traces#0')}`;
    const body = Buffer.from(Telemetry.traces(request(newTraces(2), 0, 2)).toProto());
    for (const headers of [{}, { 'x-sieve-hop-token': 'e'.repeat(64) }] as Record<string, string>[]) {
      const r = await fetch(url, { method: 'POST', body, headers });
      expect(r.status).toBe(401);
    }
    expect(c0.got).toHaveLength(0);
    const ok = await fetch(url, { method: 'POST', body, headers: { 'x-sieve-hop-token': TOKEN } });
    expect(ok.status).toBe(200);
    expect(c0.got).toHaveLength(1);
    const r = await fetch(url, { method: 'POST', body: new Uint8Array([0x0a, 0xff, 0xff]), headers: { 'x-sieve-hop-token': TOKEN } });
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: string }).error).toMatch(/malformed traces request/);
  });
});

describe('worker config', () => {
  const yaml = (dir: string, workers = '2') => `
receivers:
  otlp:
    protocols: { http: { endpoint: 127.0.0.1:0 } }
  filelog:
    include: [${dir}/*.log]
processors:
  signing:
    keys: [{ id: k1, secret: "0123456789abcdef0123456789abcdef" }]
    chain: true
    state_directory: ${dir}/sign
exporters:
  file:
    path: ${dir}/out/signed.jsonl
  debug: {}
extensions:
  file_storage:
    directory: ${dir}/storage
    create_directory: true
service:
  workers: ${workers}
  data_dir: ${dir}/data
  extensions: [file_storage]
  pipelines:
    traces: { receivers: [otlp], processors: [signing], exporters: [file] }
    logs: { receivers: [otlp, filelog], exporters: [debug] }
`;

  it('gives each worker its own state and output, and pull receivers to worker 0 only', () => {
    const dir = tempDir('sieve-workercfg-');
    const r = validateYaml(yaml(dir));
    expect(r.errors).toEqual([]);
    expect(r.config!.service.workers).toBe(2);
    const w0 = workerConfig(r.config!, 0);
    const w1 = workerConfig(r.config!, 1);
    expect(w1.service.data_dir).toBe(join(dir, 'data', 'worker-1'));
    expect((w1.extensions.get('file_storage')!.config as { directory: string }).directory).toBe(join(dir, 'storage', 'worker-1'));
    expect((w1.processors.get('signing')!.config as { state_directory: string }).state_directory).toBe(join(dir, 'sign', 'worker-1'));
    expect((w0.exporters.get('file')!.config as { path: string }).path).toBe(join(dir, 'out', 'signed-worker-0.jsonl'));
    expect(w0.receivers.has('filelog')).toBe(true);
    expect(w1.receivers.has('filelog')).toBe(false);
    expect(w1.pipelines.find((p) => p.id === 'logs')!.receivers).toEqual(['otlp']);
    // The original is untouched.
    expect(r.config!.receivers.has('filelog')).toBe(true);
  });

  it('accepts auto and rejects what is not a worker count, with the path and line', () => {
    const dir = tempDir('sieve-workercfg-');
    expect(validateYaml(yaml(dir, 'auto')).config!.service.workers).toBe('auto');
    for (const bad of ['0', '65', 'many', '1.5']) {
      const r = validateYaml(yaml(dir, bad));
      expect(r.errors.join('\n')).toMatch(/service::workers: must be a whole number from 1 to 64, or "auto", got .+ \(config\.yaml:\d+\)/);
    }
  });
});
