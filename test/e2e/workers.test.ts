// Worker processes (service::workers): the daemon run as `node dist/cli.js`
// with two workers sharing its listeners. Traces are decided whole by the
// worker that owns them, one /metrics adds up the workers, and a worker killed
// with -9 under load is restarted without losing what it acknowledged.
import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HashRing, hashBytes } from '../../src/routing/ring.js';
import { freePort, spawnSieve, startSieve, startSink, tempDir, waitFor, type SpawnedSieve } from '../helpers/sieve.js';
import { newTraces, otlpClient, request, spansByTrace, SPANS_PER_TRACE, type Client, type TraceSpec } from '../helpers/lb.js';
import { loadClient, metricValue, startBackend } from '../../src/durable/testdata/backend.js';
import { runVerify } from '../../src/verify/index.js';
import { exportAll, makeSpans, traceExporter } from '../helpers/sdk.js';
import { existsSync, readdirSync } from 'node:fs';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c().catch(() => undefined);
});

async function spawnWorkers(yaml: string, dir?: string): Promise<SpawnedSieve> {
  const s = await spawnSieve(yaml, { dir, waitReady: false });
  cleanup.push(() => s.kill('SIGKILL'));
  let exited = false;
  void s.exited.then(() => (exited = true));
  await waitFor(() => exited || s.stderr().includes('All workers are ready'), { timeoutMs: 30_000, what: 'the workers to start' });
  if (exited) throw new Error(`sieve exited early:\n${s.stderr()}`);
  return s;
}

/** SIGTERM, and exit code 0; the daemon's last output is the message otherwise. */
async function stopsCleanly(d: SpawnedSieve): Promise<void> {
  const code = await d.kill('SIGTERM');
  expect(code, d.stderr().slice(-4000)).toBe(0);
}

async function metrics(port: number, worker?: number): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${port}/metrics${worker === undefined ? '' : `?worker=${worker}`}`);
  expect(r.status).toBe(200);
  return r.text();
}

/** The pid of each worker, from the supervisor's "Worker ready" lines (the latest per worker). */
function workerPids(stderr: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const line of stderr.split('\n')) {
    if (!line.includes('"Worker ready"')) continue;
    const j = JSON.parse(line) as { worker: number; pid: number };
    out.set(j.worker, j.pid);
  }
  return out;
}

const SAMPLING = `  tail_sampling:
    decision_wait: 1s
    num_traces: 100000
    policies:
      - name: whole-and-sampled
        type: and
        and:
          and_sub_policy:
            - { name: complete, type: span_count, span_count: { min_spans: ${SPANS_PER_TRACE} } }
            - { name: hashed, type: probabilistic, probabilistic: { sampling_percentage: 30, hash_salt: workers-e2e } }
`;

function samplingYaml(grpc: string, sinkPort: number, extra = ''): string {
  return `
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: ${grpc}
processors:
${SAMPLING}
exporters:
  otlp:
    endpoint: 127.0.0.1:${sinkPort}
    tls: { insecure: true }
    compression: none
    sending_queue: { enabled: false }
    retry_on_failure: { initial_interval: 50ms, max_interval: 200ms }
service:
${extra}
  pipelines:
    traces:
      receivers: [otlp]
      processors: [tail_sampling]
      exporters: [otlp]
`;
}

/** Sends every trace's first half and second half over two different clients (connections), `per` traces a request. */
async function sendHalves(clients: Client[], traces: readonly TraceSpec[], per = 50): Promise<number> {
  const half = SPANS_PER_TRACE / 2;
  const jobs: (() => Promise<number>)[] = [];
  let k = 0;
  for (let i = 0; i < traces.length; i += per) {
    const chunk = traces.slice(i, i + per);
    const a = clients[k++ % clients.length]!;
    const b = clients[k % clients.length]!;
    jobs.push(() => a.send(request(chunk, 0, half)).then(() => chunk.length * half));
    jobs.push(() => b.send(request(chunk, half, SPANS_PER_TRACE)).then(() => chunk.length * half));
  }
  let next = 0;
  let acked = 0;
  await Promise.all(
    Array.from({ length: clients.length * 2 }, async () => {
      while (next < jobs.length) {
        const n = await jobs[next++]!();
        acked += n;
      }
    }),
  );
  return acked;
}

describe('workers', () => {
  it('with workers: 2, decides every trace whole at its owner, as one process would, and /metrics adds up the workers', async () => {
    const sink = await startSink();
    const refSink = await startSink();
    cleanup.push(() => sink.stop(), () => refSink.stop());
    const grpc = await freePort();
    const metricsPort = await freePort();
    const d = await spawnWorkers(samplingYaml(`127.0.0.1:${grpc}`, sink.grpcPort, `  workers: 2\n  telemetry:\n    metrics:\n      address: 127.0.0.1:${metricsPort}`));
    const refGrpc = await freePort();
    const ref = await startSieve(samplingYaml(`127.0.0.1:${refGrpc}`, refSink.grpcPort));
    cleanup.push(() => ref.stop());

    // Several connections: the kernel spreads them over the two workers.
    const clients = await Promise.all(Array.from({ length: 6 }, () => otlpClient(grpc)));
    const refClient = await otlpClient(refGrpc);
    cleanup.push(...clients.map((c) => () => c.stop()), () => refClient.stop());
    const traces = newTraces(4_000);
    const [acked] = await Promise.all([sendHalves(clients, traces), sendHalves([refClient], traces)]);
    expect(acked).toBe(traces.length * SPANS_PER_TRACE);

    const decided = (text: string) => metricValue(text, 'otelcol_processor_tail_sampling_global_count_traces_sampled_total');
    await waitFor(async () => decided(await metrics(metricsPort)) >= traces.length && (await ref.svc.telemetry.value('otelcol_processor_tail_sampling_global_count_traces_sampled')) >= traces.length, {
      timeoutMs: 30_000,
      what: 'every trace decided',
    });
    const wantRef = (await ref.svc.telemetry.value('otelcol_processor_tail_sampling_global_count_traces_sampled', { sampled: 'true' })) * SPANS_PER_TRACE;
    await waitFor(() => refSink.count('traces') >= wantRef && sink.count('traces') >= wantRef, { what: 'sampled spans exported' });

    // The same traces kept, each with all its spans: no trace was split between the workers.
    const got = spansByTrace(sink);
    expect([...got.keys()].sort()).toEqual([...spansByTrace(refSink).keys()].sort());
    for (const n of got.values()) expect(n).toBe(SPANS_PER_TRACE);

    // One /metrics for the daemon; its totals are the sum of the workers' own.
    const total = await metrics(metricsPort);
    const per = [await metrics(metricsPort, 0), await metrics(metricsPort, 1)];
    const accepted = (t: string) => metricValue(t, 'otelcol_receiver_accepted_spans_total');
    expect(accepted(total)).toBe(acked);
    expect(accepted(per[0]!) + accepted(per[1]!)).toBe(acked);
    expect(decided(total)).toBe(traces.length);
    expect(decided(per[0]!) + decided(per[1]!)).toBe(traces.length);
    // Each worker decided the traces the ring gives it, and no other.
    const ring = new HashRing(['0', '1']);
    const share = [0, 0];
    for (const t of traces) share[Number(ring.lookup(hashBytes(t.id)))]!++;
    expect([decided(per[0]!), decided(per[1]!)]).toEqual(share);
    // What a worker took in for the other worker went there.
    const routed = (t: string) => metricValue(t, 'sieve_worker_routed_items_total');
    const received = (t: string) => metricValue(t, 'sieve_worker_received_items_total');
    expect(routed(total)).toBeGreaterThan(0);
    expect(routed(per[0]!)).toBe(received(per[1]!));
    expect(routed(per[1]!)).toBe(received(per[0]!));
    expect(metricValue(total, 'sieve_workers', { state: 'ready' })).toBe(2);
    await stopsCleanly(d);
  }, 120_000);

  it('restarts a worker killed with -9 under load, and with durable acknowledgement loses no acknowledged span', async () => {
    const backend = await startBackend(0, { status: 200, delayMs: 5 });
    cleanup.push(() => backend.stop());
    const dir = tempDir('sieve-workers-');
    const http = await freePort();
    const metricsPort = await freePort();
    const yaml = `
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${http}
    durable: true
processors:
  tail_sampling:
    decision_wait: 500ms
    policies:
      - { name: all, type: always_sample }
  batch:
    timeout: 100ms
exporters:
  otlphttp:
    endpoint: http://127.0.0.1:${backend.port}
    compression: none
    retry_on_failure: { initial_interval: 50ms, max_interval: 200ms, max_elapsed_time: 0s }
    sending_queue: { queue_size: 100000 }
extensions:
  file_storage:
    directory: ${join(dir, 'storage')}
    create_directory: true
service:
  workers: 2
  data_dir: ${join(dir, 'data')}
  extensions: [file_storage]
  telemetry:
    metrics:
      address: 127.0.0.1:${metricsPort}
  pipelines:
    traces:
      receivers: [otlp]
      processors: [tail_sampling, batch]
      exporters: [otlphttp]
`;
    const d = await spawnWorkers(yaml, dir);
    const client = loadClient(http, { perRequest: 20, concurrency: 6 });
    await waitFor(() => client.acked.size >= 3000, { what: 'load to build up', timeoutMs: 20_000 });
    const victim = workerPids(d.stderr()).get(1)!;
    expect(victim).toBeGreaterThan(0);
    process.kill(victim, 'SIGKILL');
    // The supervisor starts worker 1 again; the load goes on meanwhile.
    await waitFor(() => workerPids(d.stderr()).get(1) !== victim, { what: 'worker 1 to be restarted', timeoutMs: 20_000 });
    const at = client.acked.size;
    await waitFor(() => client.acked.size >= at + 1000, { what: 'acknowledgements after the restart', timeoutMs: 20_000 });
    await client.stop();
    const acked = [...client.acked];
    await waitFor(() => acked.every((s) => backend.seqs.has(s)), { what: `all ${acked.length} acknowledged spans to arrive`, timeoutMs: 40_000 });
    expect(acked.filter((s) => !backend.seqs.has(s))).toEqual([]);
    const text = await metrics(metricsPort);
    expect(metricValue(text, 'sieve_worker_restarts_total', { worker: '1' })).toBe(1);
    // The crash did catch acknowledged data in worker 1: its successor replayed it.
    expect(metricValue(await metrics(metricsPort, 1), 'sieve_durable_replayed_items_total')).toBeGreaterThan(0);
    expect(metricValue(text, 'sieve_workers', { state: 'ready' })).toBe(2);
    expect(d.stderr()).toContain('Worker died; restarting it.');
    // Each worker keeps its own state directory and instance id.
    const base = readFileSync(join(dir, 'data', 'instance-id'), 'utf8').trim();
    expect(base).toMatch(/^[0-9a-f-]{36}$/);
    await stopsCleanly(d);
  }, 120_000);

  it('signs per worker stream; sieve verify checks the workers\' output together and reports each stream', async () => {
    const dir = tempDir('sieve-workers-sign-');
    const http = await freePort();
    const out = join(dir, 'out', 'signed.jsonl');
    const env = { SIEVE_SIGNING_KEY: 'base64:' + Buffer.alloc(32, 0x5a).toString('base64') };
    const yaml = `
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:${http} }
processors:
  tail_sampling:
    decision_wait: 300ms
    policies: [{ name: all, type: always_sample }]
  signing:
    keys: [{ id: k1, secret: "${env.SIEVE_SIGNING_KEY}" }]
    chain: true
    state_directory: ${join(dir, 'sign-state')}
  batch: { timeout: 50ms }
exporters:
  file:
    path: ${out}
    append: true
    flush_interval: 0s
    tamper_evident:
      enabled: true
      keys: [{ id: k1, secret: "${env.SIEVE_SIGNING_KEY}" }]
      state_directory: ${join(dir, 'file-state')}
service:
  workers: 2
  pipelines:
    traces: { receivers: [otlp], processors: [tail_sampling, signing, batch], exporters: [file] }
`;
    const d = await spawnWorkers(yaml, dir);
    // The real SDK exporter, 12 traces of 10 spans: tail sampling routes each trace to its owner, so both workers sign.
    // Spread over time, so each worker writes several batches (lines).
    for (let i = 0; i < 12; i++) {
      await exportAll(traceExporter('http/protobuf', { grpc: 0, http }), makeSpans(10));
      await new Promise((r) => setTimeout(r, 150));
    }
    const files = () => (existsSync(join(dir, 'out')) ? readdirSync(join(dir, 'out')).filter((f) => f.endsWith('.jsonl')).map((f) => join(dir, 'out', f)) : []);
    const spans = () =>
      files()
        .flatMap((f) => readFileSync(f, 'utf8').split('\n').filter(Boolean))
        .reduce((n, l) => n + (JSON.parse(l) as { resourceSpans: { scopeSpans: { spans: unknown[] }[] }[] }).resourceSpans.reduce((m, r) => m + r.scopeSpans.reduce((k, s) => k + s.spans.length, 0), 0), 0);
    await waitFor(() => spans() === 120, { what: '120 signed spans written', timeoutMs: 20_000 });
    await stopsCleanly(d);
    // One file per worker, each its own line chain.
    expect(files().map((f) => f.split('/').pop()).sort()).toEqual(['signed-worker-0.jsonl', 'signed-worker-1.jsonl']);
    const r = await runVerify(['--key', 'k1=SIEVE_SIGNING_KEY', '--state', join(dir, 'sign-state'), '--state', join(dir, 'file-state'), '--from-genesis', join(dir, 'out')], { env });
    expect(r.output.split('\n').filter((l) => l.startsWith('FAIL'))).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(r.output).toContain('records:       120 checked, 120 verified, 0 not verified');
    expect(r.output).toMatch(/batch chains: {2}2 stream\(s\), \d+ link\(s\), 0 problem\(s\)/);
    expect(r.output).toMatch(/line chains: {3}2 stream\(s\), \d+ line\(s\), 0 problem\(s\)/);
    // Each worker's streams, named by instance and worker, on their own lines.
    const streams = r.output.split('\n').filter((l) => /^ {4}(batch|line) stream /.test(l));
    expect(streams).toHaveLength(4);
    for (const w of ['w0', 'w1']) expect(streams.filter((l) => l.includes(`-${w}/`) && l.endsWith(', ok'))).toHaveLength(2);

    // A line removed from one worker's file fails that worker's stream only.
    const f1 = files().find((f) => f.endsWith('signed-worker-1.jsonl'))!;
    const lines = readFileSync(f1, 'utf8').split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(1);
    writeFileSync(f1, [lines[0], ...lines.slice(2)].join('\n') + '\n');
    const bad = await runVerify(['--key', 'k1=SIEVE_SIGNING_KEY', '--state', join(dir, 'sign-state'), '--state', join(dir, 'file-state'), '--from-genesis', join(dir, 'out')], { env });
    expect(bad.exitCode).toBe(1);
    const badStreams = bad.output.split('\n').filter((l) => /^ {4}line stream /.test(l));
    expect(badStreams.filter((l) => l.includes('-w0/') && l.endsWith(', ok'))).toHaveLength(1);
    expect(badStreams.filter((l) => l.includes('-w1/') && /problem/.test(l))).toHaveLength(1);
  }, 60_000);

  it('reloads every worker on SIGHUP and on the admin endpoint, and relays admin changes', async () => {
    const dir = tempDir('sieve-workers-reload-');
    const http = await freePort();
    const metricsPort = await freePort();
    const admin = await freePort();
    const sink = await startSink();
    cleanup.push(() => sink.stop());
    const yaml = (mask: string) => `
receivers:
  otlp:
    protocols:
      http: { endpoint: 127.0.0.1:${http} }
processors:
  redaction:
    allow_all_keys: true
    blocked_values: ["${mask}"]
exporters:
  otlp:
    endpoint: 127.0.0.1:${sink.grpcPort}
    tls: { insecure: true }
    sending_queue: { enabled: false }
service:
  workers: 2
  admin:
    endpoint: 127.0.0.1:${admin}
    bearer_token: admin-secret-0123456789
  telemetry:
    metrics:
      address: 127.0.0.1:${metricsPort}
  pipelines:
    traces: { receivers: [otlp], processors: [redaction], exporters: [otlp] }
`;
    const d = await spawnWorkers(yaml('first-[0-9]+'), dir);
    const reloads = async () => metricValue(await metrics(metricsPort), 'sieve_config_reloads_total', { result: 'success' });
    expect(await reloads()).toBe(0);
    writeFileSync(join(dir, 'sieve.yaml'), yaml('second-[0-9]+'));
    d.proc.kill('SIGHUP');
    await waitFor(async () => (await reloads()) === 2, { what: 'both workers to reload on SIGHUP' });
    for (const w of [0, 1]) expect(metricValue(await metrics(metricsPort, w), 'sieve_config_reloads_total', { result: 'success' })).toBe(1);
    // POST /reload reaches worker 0, which has the others reload too.
    const r = await fetch(`http://127.0.0.1:${admin}/reload`, { method: 'POST', headers: { authorization: 'Bearer admin-secret-0123456789' } });
    expect(r.status).toBe(200);
    await waitFor(async () => (await reloads()) === 4, { what: 'both workers to reload on POST /reload' });
    // Whichever worker takes a request, the new rule applies.
    for (let i = 0; i < 8; i++) {
      const body = JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', name: `op-${i}`, kind: 1, startTimeUnixNano: '1', endTimeUnixNano: '2', attributes: [{ key: 'note', value: { stringValue: `second-${i} first-${i}` } }] }] }] }] });
      const res = await fetch(`http://127.0.0.1:${http}/v1/traces`, { method: 'POST', body, headers: { 'content-type': 'application/json', connection: 'close' } });
      expect(res.status).toBe(200);
    }
    await waitFor(() => sink.count('traces') === 8, { what: '8 spans exported' });
    const notes = sink.received.traces.flatMap((t) => t.read().flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => (s.attributes.find((a) => a.key === 'note')!.value as { value: string }).value))));
    expect(notes).toHaveLength(8);
    for (const n of notes) {
      expect(n).not.toMatch(/second-[0-9]/);
      expect(n).toMatch(/first-[0-9]/);
    }
    await stopsCleanly(d);
  }, 60_000);
});
