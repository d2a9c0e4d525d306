// End-to-end: OTLP logs → (redaction) → batch → loki exporter → a Loki sink.
// Starts Sieve as a child process, drives OTLP/HTTP protobuf log requests at it
// flat out (or at a fixed rate), counts the log records that reach the sink
// (snappy-decoded PushRequests, entries counted on the wire), and reports log
// records/s and log records/s per core of daemon CPU (utime + stime).
//
// Runs the built daemon (npm run build) the way the `sieve` bin does.
//
//   node --import tsx bench/logs_loki.ts                       # with redaction, flat out
//   node --import tsx bench/logs_loki.ts --rate 20000           # records/s
//   node --import tsx bench/logs_loki.ts --redaction off
//   node --import tsx bench/logs_loki.ts --exporter debug       # same pipeline without Loki
//   node --import tsx bench/logs_loki.ts --cpu-prof             # profile in bench/profiles/logs_loki/
//
// Requests: 500 log records each (one resource: service.name, version, host;
// 5 attributes per record, trace context, severities INFO/WARN/ERROR, bodies of
// 40-120 bytes, one in ten carrying an e-mail address or a bearer token for the
// redaction detectors to find).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import { createRequire } from 'node:module';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { logsCodec } from '../src/pdata/codec.js';
import { benchLogs } from '../src/pdata/testdata/fixtures.js';
import { daemonArgv, daemonEnv } from './lib.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const snappy = createRequire(import.meta.url)('snappyjs') as { uncompress(b: Uint8Array): Uint8Array };

const { values: args } = parseArgs({
  options: {
    redaction: { type: 'string', default: 'on' },
    // debug: the same pipeline ending in the debug exporter, to measure what the loki exporter adds.
    exporter: { type: 'string', default: 'loki' },
    rate: { type: 'string', default: '0' }, // records/s; 0 = flat out
    duration: { type: 'string', default: '15' },
    // Enough requests in flight to fill 8192-record batches before the batch timeout.
    concurrency: { type: 'string', default: '32' },
    'cpu-prof': { type: 'boolean', default: false },
  },
});

const RECORDS_PER_REQ = 500;
const rate = Number(args.rate);
const duration = Number(args.duration) * 1000;
const concurrency = Number(args.concurrency);
const redaction = args.redaction !== 'off';
const viaLoki = args.exporter !== 'debug';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Counts EntryAdapter fields (2) inside StreamAdapter fields (1) of a PushRequest, without decoding strings. */
function countEntries(buf: Uint8Array): number {
  let n = 0;
  let i = 0;
  const varint = (): number => {
    let v = 0;
    let shift = 0;
    let b: number;
    do {
      b = buf[i++]!;
      v += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    return v;
  };
  while (i < buf.length) {
    const tag = varint();
    const len = varint();
    if (tag !== 0x0a) {
      i += len;
      continue;
    }
    const end = i + len;
    while (i < end) {
      const t = varint();
      const l = varint();
      if (t === 0x12) n++;
      i += l;
    }
  }
  return n;
}

/** A Loki push endpoint that answers 204 and counts entries. */
async function startSink(): Promise<{ port: number; entries: () => number; requests: () => number; tenants: Set<string>; stop: () => void }> {
  let entries = 0;
  let requests = 0;
  const tenants = new Set<string>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests++;
      tenants.add(String(req.headers['x-scope-orgid']));
      entries += countEntries(snappy.uncompress(Buffer.concat(chunks)));
      res.writeHead(204).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as { port: number }).port, entries: () => entries, requests: () => requests, tenants, stop: () => server.close() };
}

function config(p: { http: number; sink: number }): string {
  return `
receivers:
  otlp:
    protocols:
      http: { endpoint: "127.0.0.1:${p.http}" }
processors:
  redaction:
    allow_all_keys: true
    detectors: [default]
  batch: {}
exporters:
  loki:
    endpoint: http://127.0.0.1:${p.sink}/loki/api/v1/push
    tenant: { source: static, value: bench }
    sending_queue: { queue_size: 5000 }
  debug:
    verbosity: basic
    sampling_initial: 1
    sampling_thereafter: 1000000
service:
  telemetry: { metrics: { level: none } }
  pipelines:
    logs: { receivers: [otlp], processors: [${redaction ? 'redaction, ' : ''}batch], exporters: [${viaLoki ? 'loki' : 'debug'}] }
`;
}

function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const parts = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(parts[11]) + Number(parts[12])) / 100;
}

function peakRssMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

/** Distinct requests: benchLogs records with varied severities and bodies, some with secrets. */
function bodies(count: number): Buffer[] {
  const out: Buffer[] = [];
  for (let k = 0; k < count; k++) {
    const rl = benchLogs(RECORDS_PER_REQ, 5);
    const recs = rl[0]!.scopeLogs[0]!.logRecords;
    recs.forEach((r, i) => {
      const n = k * RECORDS_PER_REQ + i;
      r.severityNumber = [9, 9, 9, 9, 13, 17][n % 6]!;
      r.severityText = ['INFO', 'INFO', 'INFO', 'INFO', 'WARN', 'ERROR'][n % 6]!;
      r.timeUnixNano = BigInt(Date.now()) * 1_000_000n + BigInt(i);
      let body = `request ${n} handled: ${['GET', 'POST'][n % 2]} /api/v1/orders/${n} in ${(n % 97) / 10} ms status=${200 + (n % 3) * 100}`;
      if (n % 10 === 3) body += ` user=jane.doe${n % 50}@example.com`;
      if (n % 10 === 7) body += ` auth=Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIx${n}.c2lnbmF0dXJl`;
      r.body = { type: 'string', value: body };
    });
    out.push(Buffer.from(logsCodec.encode(rl)));
  }
  return out;
}

async function main(): Promise<void> {
  const sink = await startSink();
  const p = { http: await freePort(), sink: sink.port };
  const dir = mkdtempSync(join(tmpdir(), 'sieve-bench-loki-'));
  const cfgPath = join(dir, 'bench.yaml');
  writeFileSync(cfgPath, config(p));
  const nodeArgs = args['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${join(ROOT, 'bench', 'profiles', 'logs_loki')}`] : [];
  const child = spawn(process.execPath, daemonArgv(ROOT, cfgPath, nodeArgs), { env: daemonEnv(), cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const t0 = Date.now();
  while (!stderr.includes('Everything is ready')) {
    if (child.exitCode !== null || Date.now() - t0 > 30_000) throw new Error(`daemon did not start:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }

  const reqs = bodies(32);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const send = (body: Buffer): Promise<boolean> =>
    new Promise((resolve) => {
      const req = request(
        { host: '127.0.0.1', port: p.http, path: '/v1/logs', method: 'POST', agent, headers: { 'Content-Type': 'application/x-protobuf', 'Content-Length': body.length } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode === 200));
        },
      );
      req.on('error', () => resolve(false));
      req.end(body);
    });

  // Warm-up (JIT, connections), not measured.
  for (let i = 0; i < 20; i++) await send(reqs[i % reqs.length]!);
  while (viaLoki && sink.entries() < 20 * RECORDS_PER_REQ && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 50));

  const base = sink.entries();
  let accepted = 0;
  let refused = 0;
  let n = 0;
  const cpu0 = cpuSeconds(child.pid!);
  const start = Date.now();
  const end = start + duration;
  const interval = rate > 0 ? (1000 * RECORDS_PER_REQ) / rate : 0;
  const worker = async (w: number) => {
    let next = start + (interval * w) / concurrency;
    while (Date.now() < end) {
      if (interval > 0) {
        const wait = next - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        next += interval * concurrency;
      }
      if (await send(reqs[n++ % reqs.length]!)) accepted += RECORDS_PER_REQ;
      else refused += RECORDS_PER_REQ;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  const elapsed = (Date.now() - start) / 1000;
  const drainStart = Date.now();
  while (viaLoki && sink.entries() - base < accepted && Date.now() - drainStart < 15_000) await new Promise((r) => setTimeout(r, 50));
  const cpu = cpuSeconds(child.pid!) - cpu0;
  const rss = peakRssMiB(child.pid!);
  child.kill('SIGTERM');
  await new Promise((r) => child.on('exit', r));
  sink.stop();
  agent.destroy();
  // The debug exporter delivers nowhere: an accepted record counts as delivered (the receiver answers after the exporter took it).
  const delivered = viaLoki ? sink.entries() - base : accepted;
  console.log(
    JSON.stringify(
      {
        pipeline: `otlp(http) → ${redaction ? 'redaction → ' : ''}batch → ${viaLoki ? 'loki' : 'debug'}`,
        target_rate: rate || 'flat out',
        records_per_request: RECORDS_PER_REQ,
        request_bytes: reqs[0]!.length,
        duration_s: Number(elapsed.toFixed(1)),
        accepted_records_per_s: Math.round(accepted / elapsed),
        delivered_records: delivered,
        refused_records: refused,
        lost_records: Math.max(0, accepted - delivered),
        loki_push_requests: sink.requests(),
        tenants: [...sink.tenants],
        daemon_cpu_s: Number(cpu.toFixed(2)),
        records_per_s_per_core: Math.round(delivered / Math.max(cpu, 0.001)),
        daemon_core_fraction: Number((cpu / elapsed).toFixed(3)),
        peak_rss_mib: Number(rss.toFixed(1)),
      },
      null,
      2,
    ),
  );
}

await main();
