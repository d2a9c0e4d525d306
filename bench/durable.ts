// Durable acknowledgement throughput, end to end: Sieve as a child process,
// OTLP requests (100 spans each) flat out from a client, a gRPC sink counting
// what arrives. Scenarios differ only in reliability settings:
//
//   memory         batch → otlp, in-memory sending queue (the baseline)
//   pq             persistent sending queue (file_storage, fsync false)
//   durable        durable receiver + persistent queue (fsync false)
//   durable_memq   durable receiver + in-memory queue (fsync false)
//   durable_fsync  durable receiver + persistent queue, fsync true
//
//   node --import tsx bench/durable.ts                       # every scenario, 15 s each
//   node --import tsx bench/durable.ts --scenario durable --duration 20 --cpu-prof
//
// Needs a build (npm run build): it runs dist/cli.js.
import * as grpc from '@grpc/grpc-js';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { tracesCodec } from '../src/pdata/codec.js';
import { traces } from '../test/helpers/model.js';
import { freePort, startSink, cpuSeconds, pct, daemonArgv, daemonEnv } from './lib.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SCENARIOS = ['memory', 'pq', 'durable', 'durable_memq', 'durable_fsync'] as const;
type Scenario = (typeof SCENARIOS)[number];

const { values: args } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'all' },
    duration: { type: 'string', default: '15' },
    concurrency: { type: 'string', default: '16' },
    transport: { type: 'string', default: 'http' },
    attrs: { type: 'string', default: '5' },
    'commit-delay': { type: 'string', default: '0s' },
    'cpu-prof': { type: 'boolean', default: false },
  },
});
const SPANS_PER_REQ = 100;

function config(s: Scenario, p: { grpc: number; http: number; sink: number; dir: string }): string {
  const durable = s.startsWith('durable');
  const persistentQueue = s === 'pq' || s === 'durable' || s === 'durable_fsync';
  const storage = durable || persistentQueue;
  const fs = `  file_storage:\n    directory: ${p.dir}\n    fsync: ${s === 'durable_fsync'}\n    max_size_bytes: 4GiB\n    commit_delay: ${args['commit-delay']}\n`;
  return `
receivers:
  otlp:
    protocols:
      grpc: { endpoint: "127.0.0.1:${p.grpc}" }
      http: { endpoint: "127.0.0.1:${p.http}" }
${durable ? '    durable: { enabled: true, storage: file_storage }' : ''}
processors:
  batch: {}
exporters:
  otlp:
    endpoint: "127.0.0.1:${p.sink}"
    compression: none
    tls: { insecure: true }
    sending_queue: { queue_size: 5000${persistentQueue ? ', storage: file_storage' : ''} }
${storage ? `extensions:\n${fs}` : ''}
service:
  ${storage ? 'extensions: [file_storage]' : ''}
  telemetry: { metrics: { level: none } }
  pipelines:
    traces: { receivers: [otlp], processors: [batch], exporters: [otlp] }
`;
}





async function run(s: Scenario): Promise<Record<string, unknown>> {
  const sink = await startSink();
  const p = { grpc: await freePort(), http: await freePort(), sink: sink.port, dir: mkdtempSync(join(tmpdir(), 'sieve-bench-durable-')) };
  const cfgPath = join(p.dir, 'bench.yaml');
  writeFileSync(cfgPath, config(s, p));
  const nodeArgs = args['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${join(ROOT, 'bench', 'profiles')}`, `--cpu-prof-name=durable-${s}.cpuprofile`] : [];
  const child = spawn(process.execPath, daemonArgv(ROOT, cfgPath, nodeArgs), { env: daemonEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const t0 = Date.now();
  while (!stderr.includes('Everything is ready')) {
    if (child.exitCode !== null || Date.now() - t0 > 20000) throw new Error(`daemon did not start:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const bodies: Buffer[] = [];
  for (let i = 0; i < 64; i++) bodies.push(Buffer.from(tracesCodec.encode(traces(SPANS_PER_REQ, Number(args.attrs), i * SPANS_PER_REQ))));
  const concurrency = Number(args.concurrency);
  const client = new grpc.Client(`127.0.0.1:${p.grpc}`, grpc.credentials.createInsecure());
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const id = (b: Buffer) => b;
  const send = (body: Buffer): Promise<boolean> =>
    args.transport === 'grpc'
      ? new Promise((resolve) => client.makeUnaryRequest('/opentelemetry.proto.collector.trace.v1.TraceService/Export', id, id, body, new grpc.Metadata(), {}, (err) => resolve(!err)))
      : new Promise((resolve) => {
          const req = request({ host: '127.0.0.1', port: p.http, path: '/v1/traces', method: 'POST', agent, headers: { 'Content-Type': 'application/x-protobuf', 'Content-Length': body.length } }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode === 200));
          });
          req.on('error', () => resolve(false));
          req.end(body);
        });
  // Warm up, then measure.
  const warmEnd = Date.now() + 2000;
  await Promise.all(Array.from({ length: concurrency }, async (_, w) => {
    let n = w;
    while (Date.now() < warmEnd) await send(bodies[n++ % bodies.length]!);
  }));
  const latencies: number[] = [];
  let accepted = 0;
  let refused = 0;
  let n = 0;
  const sunk0 = sink.spans();
  const cpu0 = cpuSeconds(child.pid!);
  const start = Date.now();
  const end = start + Number(args.duration) * 1000;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (Date.now() < end) {
      const t = performance.now();
      const ok = await send(bodies[n++ % bodies.length]!);
      latencies.push(performance.now() - t);
      if (ok) accepted += SPANS_PER_REQ;
      else refused += SPANS_PER_REQ;
    }
  }));
  const elapsed = (Date.now() - start) / 1000;
  const drainStart = Date.now();
  while (sink.spans() - sunk0 < accepted && Date.now() - drainStart < 20000) await new Promise((r) => setTimeout(r, 100));
  const cpu = cpuSeconds(child.pid!) - cpu0;
  child.kill('SIGTERM');
  await new Promise((r) => child.on('exit', r));
  sink.stop();
  client.close();
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    scenario: s,
    transport: args.transport,
    accepted_spans_per_s: Math.round(accepted / elapsed),
    refused_spans: refused,
    delivered_within_20s: sink.spans() - sunk0 >= accepted,
    daemon_cpu_s_per_million_spans: Number(((cpu / Math.max(1, accepted)) * 1e6).toFixed(2)),
    // CPU of the daemon's threads (main and storage worker), user + system, while sending and draining.
    spans_per_s_per_core: Math.round(accepted / Math.max(cpu, 1e-9)),
    latency_ms_p50: Number(pct(latencies, 50).toFixed(2)),
    latency_ms_p99: Number(pct(latencies, 99).toFixed(2)),
  };
}

const which = args.scenario === 'all' ? [...SCENARIOS] : (args.scenario.split(',') as Scenario[]);
const results: Record<string, unknown>[] = [];
for (const s of which) {
  const r = await run(s);
  results.push(r);
  console.log(JSON.stringify(r));
}
const base = results.find((r) => r.scenario === 'memory')?.accepted_spans_per_s as number | undefined;
const baseCore = results.find((r) => r.scenario === 'memory')?.spans_per_s_per_core as number | undefined;
if (base && baseCore) {
  for (const r of results) {
    const wall = (r.accepted_spans_per_s as number) / base;
    const core = (r.spans_per_s_per_core as number) / baseCore;
    console.log(`${r.scenario}: ${r.accepted_spans_per_s} spans/s (${(wall * 100).toFixed(0)}% of memory), ${r.spans_per_s_per_core} spans/s per core (${(core * 100).toFixed(0)}% of memory)`);
  }
}
