// End-to-end load tool. Starts Sieve as a child process with a scenario's
// config, drives OTLP/gRPC (or HTTP) at it flat out or at a fixed rate with
// realistic requests (100 spans per request, 10 spans per trace, 5 or 20
// attributes), receives its output in a sink, and reports accepted spans/s,
// the daemon's CPU seconds per million spans (so spans/s per core), its peak
// RSS, request latency p50/p99, and refused or lost counts.
//
//   npm run bench:e2e -- --scenario passthrough --duration 20
//   npm run bench:e2e -- --scenario passthrough --rate 10000 --duration 30
//   npm run bench:e2e -- --scenario passthrough --attrs 20 --transport http
//   npm run bench:e2e -- --scenario full --attrs 20 --workers 2
//
// Environment: BENCH_BATCH replaces the scenario's batch settings (a YAML
// flow map, e.g. '{ timeout: 10ms }'); BENCH_DAEMON_STDOUT=FILE keeps the
// daemon's standard output (what --node-flags=--trace-gc prints).
import * as grpc from '@grpc/grpc-js';
import { spawn } from 'node:child_process';
import { writeFileSync, mkdtempSync, openSync } from 'node:fs';
import { request, Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { tracesCodec } from '../src/pdata/codec.js';
import { traces } from '../test/helpers/model.js';
import { freePort, startSink, treeCpuSeconds, treeSysSeconds, treePeakRssMiB, pct, daemonArgv, daemonEnv } from './lib.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

const { values: args } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'passthrough' },
    rate: { type: 'string', default: '0' }, // spans/s; 0 = flat out
    duration: { type: 'string', default: '15' },
    attrs: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '8' },
    transport: { type: 'string', default: 'grpc' },
    'cpu-prof': { type: 'boolean', default: false },
    // V8 young-generation (semi-space) size for the daemon, MiB. 1 is what the
    // `sieve` bin and `npm start` run with; 16 is V8's default.
    semi: { type: 'string', default: '1' },
    // Worker processes (service::workers); CPU and RSS then cover the supervisor and every worker.
    workers: { type: 'string', default: '1' },
    // Extra V8/node flags for the daemon, space-separated (e.g. "--single-threaded-gc").
    'node-flags': { type: 'string', default: '' },
    // Pins the daemon (all its threads) to these CPUs with taskset, e.g. "1"; run the tool itself under `taskset -c 0`.
    'daemon-cpus': { type: 'string', default: '' },
  },
});

const SPANS_PER_REQ = 100;
const rate = Number(args.rate);
const duration = Number(args.duration) * 1000;
const attrs = Number(args.attrs);
const concurrency = Number(args.concurrency);
const transport = args.transport as 'grpc' | 'http';

function scenarioConfig(name: string, p: { grpc: number; http: number; sink: number; dir: string }): string {
  const recv = `
receivers:
  otlp:
    protocols:
      grpc: { endpoint: "127.0.0.1:${p.grpc}" }
      http: { endpoint: "127.0.0.1:${p.http}" }
exporters:
  otlp:
    endpoint: "127.0.0.1:${p.sink}"
    compression: none
    tls: { insecure: true }
    sending_queue: { queue_size: 5000 }
`;
  const batch = process.env.BENCH_BATCH ?? '{}';
  switch (name) {
    case 'passthrough':
      return `${recv}
processors:
  batch: ${batch}
  memory_limiter: { check_interval: 1s, limit_mib: 1024 }
service:
  telemetry: { metrics: { level: none } }
  pipelines:
    traces: { receivers: [otlp], processors: [memory_limiter, batch], exporters: [otlp] }
`;
    case 'redaction':
      // The default config's processors: memory_limiter → redaction → batch.
      return `${recv}
processors:
  memory_limiter: { check_interval: 1s, limit_mib: 1024 }
  redaction: { allow_all_keys: true }
  batch: ${batch}
service:
  telemetry: { metrics: { level: none } }
  pipelines:
    traces: { receivers: [otlp], processors: [memory_limiter, redaction, batch], exporters: [otlp] }
`;
    case 'full': {
      // memory_limiter → redaction → tail_sampling → signing → batch → otlp
      const key = 'bench-signing-key-0123456789abcdef';
      return `${recv}
processors:
  memory_limiter: { check_interval: 1s, limit_mib: 2048 }
  redaction: { allow_all_keys: true }
  tail_sampling:
    decision_wait: 2s
    num_traces: 200000
    policies:
      - { name: errors, type: status_code, status_code: { status_codes: [ERROR] } }
      - { name: sample, type: probabilistic, probabilistic: { sampling_percentage: 25 } }
  signing:
    keys: [{ id: k1, secret: "${key}" }]
  batch: ${batch}
service:
  telemetry: { metrics: { level: none } }
  pipelines:
    traces: { receivers: [otlp], processors: [memory_limiter, redaction, tail_sampling, signing, batch], exporters: [otlp] }
`;
    }
    case 'secure': {
      // The secure pipeline without tail sampling (an agent that signs): memory_limiter → redaction → signing → batch → otlp
      const key = 'bench-signing-key-0123456789abcdef';
      return `${recv}
processors:
  memory_limiter: { check_interval: 1s, limit_mib: 2048 }
  redaction: { allow_all_keys: true }
  signing:
    keys: [{ id: k1, secret: "${key}" }]
  batch: ${batch}
service:
  telemetry: { metrics: { level: none } }
  pipelines:
    traces: { receivers: [otlp], processors: [memory_limiter, redaction, signing, batch], exporters: [otlp] }
`;
    }
    case 'gateway': {
      // The sampling tier behind agents that redacted: memory_limiter → tail_sampling → signing → batch → otlp
      const key = 'bench-signing-key-0123456789abcdef';
      return `${recv}
processors:
  memory_limiter: { check_interval: 1s, limit_mib: 2048 }
  tail_sampling:
    decision_wait: 2s
    num_traces: 200000
    policies:
      - { name: errors, type: status_code, status_code: { status_codes: [ERROR] } }
      - { name: sample, type: probabilistic, probabilistic: { sampling_percentage: 25 } }
  signing:
    keys: [{ id: k1, secret: "${key}" }]
  batch: ${batch}
service:
  telemetry: { metrics: { level: none } }
  pipelines:
    traces: { receivers: [otlp], processors: [memory_limiter, tail_sampling, signing, batch], exporters: [otlp] }
`;
    }
    default:
      throw new Error(`unknown scenario ${name}; known: passthrough, redaction, secure, gateway, full`);
  }
}






async function main() {
  const sink = await startSink();
  const p = { grpc: await freePort(), http: await freePort(), sink: sink.port, dir: mkdtempSync(join(tmpdir(), 'sieve-bench-')) };
  const cfgPath = join(p.dir, 'bench.yaml');
  writeFileSync(cfgPath, scenarioConfig(args.scenario!, p));
  const nodeArgs = [...(args['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${join(ROOT, 'bench', 'profiles')}`] : []), ...args['node-flags']!.split(' ').filter(Boolean)];
  const workers = Number(args.workers);
  const argv = [...daemonArgv(ROOT, cfgPath, nodeArgs, args.semi), ...(workers > 1 ? ['--workers', String(workers)] : [])];
  // taskset execs node in place: the child's pid is the daemon's.
  const out = process.env.BENCH_DAEMON_STDOUT ? openSync(process.env.BENCH_DAEMON_STDOUT, 'w') : 'ignore';
  const child = args['daemon-cpus'] ? spawn('taskset', ['-c', args['daemon-cpus']!, process.execPath, ...argv], { env: daemonEnv(), stdio: ['ignore', out, 'pipe'] }) : spawn(process.execPath, argv, { env: daemonEnv(), stdio: ['ignore', out, 'pipe'] });
  let stderr = '';
  // Only the readiness lines are kept: a daemon's log can grow long.
  child.stderr!.on('data', (c: Buffer) => {
    if (stderr.length < 1 << 20) stderr += c.toString();
  });
  const t0 = Date.now();
  const ready = workers > 1 ? 'All workers are ready' : 'Everything is ready';
  while (!stderr.includes(ready)) {
    if (child.exitCode !== null || Date.now() - t0 > 20000) throw new Error(`daemon did not start:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }

  // Pre-encode 64 requests (10 traces of 10 spans each) and reuse them. Each
  // send stamps its own number into the last 4 bytes of every trace id, so
  // trace ids never repeat, as in real traffic: a repeated id would reach
  // tail sampling as a late span of a trace already decided, which skips the
  // buffering and the decision that new traces go through.
  const bodies: Buffer[] = [];
  const idAt: number[][] = [];
  for (let i = 0; i < 64; i++) {
    const model = traces(SPANS_PER_REQ, attrs, i * SPANS_PER_REQ);
    const body = Buffer.from(tracesCodec.encode(model));
    const at: number[] = [];
    for (const sp of model[0]!.scopeSpans[0]!.spans) {
      const field = Buffer.from([0x0a, 0x10, ...sp.traceId]);
      let from = at.length > 0 ? at[at.length - 1]! : 0;
      const k = body.indexOf(field, from);
      if (k < 0) throw new Error('trace id not found in the encoded request');
      at.push(k + 2);
      from = k + 2;
    }
    bodies.push(body);
    idAt.push(at);
  }
  const reqBytes = bodies[0]!.length;
  let stamp = 0;
  const nextBody = (k: number): Buffer => {
    const b = Buffer.from(bodies[k]!);
    stamp = (stamp + 1) >>> 0;
    for (const at of idAt[k]!) b.writeUInt32BE(stamp, at + 12);
    return b;
  };

  // One connection per concurrent sender, so the kernel can spread them over workers.
  const clients = Array.from({ length: concurrency }, () => new grpc.Client(`127.0.0.1:${p.grpc}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }));
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const id = (b: Buffer) => b;
  const send = (body: Buffer, w: number): Promise<boolean> =>
    transport === 'grpc'
      ? new Promise((resolve) =>
          clients[w]!.makeUnaryRequest('/opentelemetry.proto.collector.trace.v1.TraceService/Export', id, id, body, new grpc.Metadata(), {}, (err) => resolve(!err)),
        )
      : new Promise((resolve) => {
          const req = request({ host: '127.0.0.1', port: p.http, path: '/v1/traces', method: 'POST', agent, headers: { 'Content-Type': 'application/x-protobuf', 'Content-Length': body.length } }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode === 200));
          });
          req.on('error', () => resolve(false));
          req.end(body);
        });

  const latencies: number[] = [];
  let accepted = 0;
  let refused = 0;
  let n = 0;
  const cpu0 = treeCpuSeconds(child.pid!);
  const sys0 = treeSysSeconds(child.pid!);
  const own0 = process.cpuUsage();
  const start = Date.now();
  const end = start + duration;
  const interval = rate > 0 ? (1000 * SPANS_PER_REQ) / rate : 0;
  const worker = async (w: number) => {
    let next = start + (interval * w) / concurrency;
    while (Date.now() < end) {
      if (interval > 0) {
        const wait = next - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        next += interval * concurrency;
      }
      const t = performance.now();
      const ok = await send(nextBody(n++ % bodies.length), w);
      latencies.push(performance.now() - t);
      if (ok) accepted += SPANS_PER_REQ;
      else refused += SPANS_PER_REQ;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  const elapsed = (Date.now() - start) / 1000;
  const own = process.cpuUsage(own0);
  // Let the pipeline drain, then read CPU.
  const drainStart = Date.now();
  while (sink.spans() < accepted && Date.now() - drainStart < 10000) await new Promise((r) => setTimeout(r, 100));
  const cpu = treeCpuSeconds(child.pid!) - cpu0;
  const sys = treeSysSeconds(child.pid!) - sys0;
  const rss = treePeakRssMiB(child.pid!);
  child.kill('SIGTERM');
  await new Promise((r) => child.on('exit', r));
  sink.stop();
  for (const c of clients) c.close();
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const delivered = sink.spans();
  const result = {
    scenario: args.scenario,
    workers,
    transport,
    attrs,
    target_rate: rate || 'flat out',
    request_bytes: reqBytes,
    duration_s: Number(elapsed.toFixed(1)),
    accepted_spans_per_s: Math.round(accepted / elapsed),
    delivered_spans: delivered,
    accepted_spans: accepted,
    refused_spans: refused,
    lost_spans: Math.max(0, accepted - delivered),
    daemon_cpu_s: Number(cpu.toFixed(2)),
    daemon_cpu_s_per_million_spans: Number(((cpu / Math.max(1, delivered)) * 1e6).toFixed(2)),
    spans_per_s_per_core: Math.round(delivered / Math.max(cpu, 0.001)),
    daemon_core_fraction: Number((cpu / elapsed).toFixed(3)),
    // Of the daemon's CPU, the part spent in the kernel (sockets, page faults).
    daemon_sys_share: Number((sys / Math.max(cpu, 0.001)).toFixed(3)),
    // The load generator and the sink share the machine: what they used, in cores.
    load_tool_core_fraction: Number(((own.user + own.system) / 1e6 / elapsed).toFixed(3)),
    peak_rss_mib: Number(rss.toFixed(1)),
    latency_ms_p50: Number(pct(latencies, 50).toFixed(2)),
    latency_ms_p99: Number(pct(latencies, 99).toFixed(2)),
  };
  console.log(JSON.stringify(result, null, 2));
}

await main();
