// End-to-end cost of the redaction processor: otlp -> otlp against
// otlp -> redaction -> otlp, same requests, daemon in a child process.
// Reports the daemon's CPU seconds per million spans for each, and the
// difference: what redaction adds per span inside a real daemon, including the
// decode it forces and the re-encode of batches it changed.
//
// Runs the built daemon (npm run build) the way the `sieve` bin does.
//
//   node --import tsx bench/redaction.ts                 # benign requests
//   node --import tsx bench/redaction.ts --secrets 100   # one value in 100 holds a secret
//   node --import tsx bench/redaction.ts --duration 20 --concurrency 8
//   node --import tsx bench/redaction.ts --cpu-prof     # profile the redacting daemon
//
// Requests: 100 spans, 20 string attributes each (HTTP, DB, k8s values; five
// of them unique per span; src/processors/redaction/testdata/bench.ts), sent flat
// out over OTLP/gRPC.
import * as grpc from '@grpc/grpc-js';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { tracesCodec } from '../src/pdata/codec.js';
import { SPANS, spans } from '../src/processors/redaction/testdata/bench.js';
import { daemonArgv, daemonEnv } from './lib.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '15' },
    concurrency: { type: 'string', default: '8' },
    secrets: { type: 'string', default: '0' }, // one value in N carries a secret; 0 = none
    'cpu-prof': { type: 'boolean', default: false },
  },
});
const DURATION = Number(args.duration) * 1000;
const CONCURRENCY = Number(args.concurrency);
const SECRET_EVERY = Number(args.secrets);

function request(b: number): Buffer {
  return Buffer.from(tracesCodec.encode(spans(b, SECRET_EVERY)));
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const id = (b: Buffer) => b;
const EXPORT = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

async function startSink(): Promise<{ port: number; spans: () => number; stop: () => void }> {
  let spans = 0;
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
  server.addService(
    { Export: { path: EXPORT, requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } },
    {
      Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        spans += tracesCodec.scan(call.request);
        cb(null, Buffer.alloc(0));
      },
    },
  );
  const port = await new Promise<number>((r, j) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? j(e) : r(p))));
  return { port, spans: () => spans, stop: () => server.forceShutdown() };
}

function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const parts = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(parts[11]) + Number(parts[12])) / 100;
}

async function run(withRedaction: boolean, bodies: Buffer[]): Promise<{ spansPerS: number; cpuPerMillion: number; delivered: number }> {
  const sink = await startSink();
  const grpcPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'sieve-redaction-bench-'));
  const cfgPath = join(dir, 'bench.yaml');
  writeFileSync(
    cfgPath,
    `
receivers:
  otlp:
    protocols:
      grpc: { endpoint: "127.0.0.1:${grpcPort}" }
processors:
  redaction: { allow_all_keys: true }
exporters:
  otlp:
    endpoint: "127.0.0.1:${sink.port}"
    compression: none
    tls: { insecure: true }
    sending_queue: { queue_size: 5000 }
service:
  telemetry: { metrics: { level: none } }
  pipelines:
    traces: { receivers: [otlp], processors: [${withRedaction ? 'redaction' : ''}], exporters: [otlp] }
`,
  );
  const prof = args['cpu-prof'] && withRedaction ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
  if (prof.length) console.error(`daemon CPU profile: ${dir}`);
  const child = spawn(process.execPath, daemonArgv(ROOT, cfgPath, prof), { env: daemonEnv(), cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const t0 = Date.now();
  while (!stderr.includes('Everything is ready')) {
    if (child.exitCode !== null || Date.now() - t0 > 30000) throw new Error(`daemon did not start:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const client = new grpc.Client(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure());
  const send = (body: Buffer) => new Promise<boolean>((resolve) => client.makeUnaryRequest(EXPORT, id, id, body, new grpc.Metadata(), {}, (err) => resolve(!err)));
  // Warm up (JIT, connections), then measure.
  let warm = 0;
  for (let i = 0; i < 50; i++) if (await send(bodies[i % bodies.length]!)) warm++;
  const w0 = Date.now();
  while (sink.spans() < warm * SPANS && Date.now() - w0 < 15000) await new Promise((r) => setTimeout(r, 20));
  if (warm === 0) throw new Error(`the daemon accepted nothing:\n${stderr}`);
  const base = sink.spans();
  let accepted = 0;
  let n = 0;
  const cpu0 = cpuSeconds(child.pid!);
  const start = Date.now();
  const end = start + DURATION;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < end) if (await send(bodies[n++ % bodies.length]!)) accepted += SPANS;
    }),
  );
  const elapsed = (Date.now() - start) / 1000;
  const drain = Date.now();
  while (sink.spans() - base < accepted && Date.now() - drain < 15000) await new Promise((r) => setTimeout(r, 50));
  const cpu = cpuSeconds(child.pid!) - cpu0;
  const delivered = sink.spans() - base;
  child.kill('SIGTERM');
  await new Promise((r) => child.on('exit', r));
  client.close();
  sink.stop();
  return { spansPerS: Math.round(delivered / elapsed), cpuPerMillion: (cpu / Math.max(delivered, 1)) * 1e6, delivered };
}

async function main(): Promise<void> {
  const bodies = Array.from({ length: 64 }, (_, b) => request(b));
  const plain = await run(false, bodies);
  const redacted = await run(true, bodies);
  const perSpanUs = redacted.cpuPerMillion - plain.cpuPerMillion;
  console.log(
    JSON.stringify(
      {
        request: `${SPANS} spans x 20 string attributes, ${bodies[0]!.length} bytes${SECRET_EVERY ? `, 1 value in ${SECRET_EVERY} a secret` : ', benign'}`,
        concurrency: CONCURRENCY,
        duration_s: DURATION / 1000,
        'otlp->otlp': { spans_per_s: plain.spansPerS, daemon_cpu_s_per_million_spans: Number(plain.cpuPerMillion.toFixed(2)), delivered: plain.delivered },
        'otlp->redaction->otlp': { spans_per_s: redacted.spansPerS, daemon_cpu_s_per_million_spans: Number(redacted.cpuPerMillion.toFixed(2)), delivered: redacted.delivered },
        redaction_daemon_cpu_us_per_span: Number(perSpanUs.toFixed(2)),
      },
      null,
      2,
    ),
  );
}

await main();
