// End-to-end metrics benchmark: OTLP/HTTP → Sieve (otlp receiver →
// cardinality_limit → prometheusremotewrite) → a Remote Write sink.
//
// Sieve runs as a child process; this process sends pre-encoded
// ExportMetricsServiceRequests (990 data points each: a third counters, gauges
// and explicit histograms with 11 bounds — 14 series each —, 5 attributes per
// point, 4 resources) as fast as
// the daemon accepts them, for a fixed number of rounds in which every series
// reports once at a later timestamp, and receives the Remote Write requests.
// It reports data points/s, the daemon's CPU seconds (so data points/s per
// core), samples delivered and peak RSS; with --cpu-prof, the daemon's top
// functions by self time.
//
// Runs the built daemon (npm run build) the way the `sieve` bin does.
//
//   node --import tsx bench/metrics_prw.ts
//   node --import tsx bench/metrics_prw.ts --series 12000 --rounds 30 --cap 1000 --cpu-prof
//   node --import tsx bench/metrics_prw.ts --cap 100      # most series over the cap: the overflow path
//   node --import tsx bench/metrics_prw.ts --no-histograms # counters and gauges only
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { metricsCodec } from '../src/pdata/codec.js';
import { loadBatch } from '../src/prom/testdata/load.js';
import { daemonArgv, daemonEnv } from './lib.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

const { values: args } = parseArgs({
  options: {
    series: { type: 'string', default: '12000' }, // data points per round
    rounds: { type: 'string', default: '30' },
    cap: { type: 'string', default: '1000' }, // cardinality_limit max_series_per_metric
    consumers: { type: 'string', default: '4' },
    concurrency: { type: 'string', default: '8' },
    'no-histograms': { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
  },
});

const POINTS_PER_REQ = 990; // loadBatch(1000) with 30 metrics: 33 points per metric
const PER_METRIC = 33;
const seriesPerRound = Number(args.series);
const rounds = Number(args.rounds);
const concurrency = Number(args.concurrency);
const reqsPerRound = Math.ceil(seriesPerRound / POINTS_PER_REQ);

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createNetServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const parts = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(parts[11]) + Number(parts[12])) / 100; // utime + stime, 100 Hz ticks
}

function peakRssMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

/**
 * The Remote Write sink: answers 204 and counts samples. It runs on a worker
 * thread so that the load generator's event loop never delays its answers
 * (each shard of the exporter waits for them).
 */
async function startSink(): Promise<{ port: number; samples: () => Promise<number>; requests: () => Promise<number>; stop: () => Promise<void> }> {
  const w = new Worker(SINK_SOURCE, { eval: true, workerData: { root: ROOT } });
  const port = await new Promise<number>((r) => w.once('message', (m: { port: number }) => r(m.port)));
  const ask = () =>
    new Promise<{ samples: number; requests: number }>((r) => {
      w.once('message', r);
      w.postMessage('count');
    });
  return {
    port,
    samples: async () => (await ask()).samples,
    requests: async () => (await ask()).requests,
    stop: async () => void (await w.terminate()),
  };
}

/** The sink's code (plain JS for the worker): snappy-decompress, count top-level TimeSeries fields. */
const SINK_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createServer } = require('node:http');
const { createRequire } = require('node:module');
const snappy = createRequire(workerData.root + '/package.json')('snappyjs');
function varint(b, p) { let v = 0, s = 0, c; do { c = b[p.i++]; v += (c & 0x7f) * 2 ** s; s += 7; } while (c & 0x80); return v; }
function countSeries(b) {
  const p = { i: 0 }; let n = 0;
  while (p.i < b.length) {
    const tag = varint(b, p); const wt = tag & 7;
    if (wt === 2) { const len = varint(b, p); p.i += len; if (tag >>> 3 === 1) n++; }
    else if (wt === 0) varint(b, p); else if (wt === 1) p.i += 8; else if (wt === 5) p.i += 4; else throw new Error('wire type ' + wt);
  }
  return n;
}
let samples = 0, requests = 0;
const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    res.writeHead(204).end();
    const body = Buffer.concat(chunks);
    samples += countSeries(snappy.uncompress(new Uint8Array(body.buffer, body.byteOffset, body.length)));
    requests++;
  });
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
parentPort.on('message', () => parentPort.postMessage({ samples, requests }));
`;

/** Top functions by self time of a .cpuprofile, and self time by source file. */
function profileSummary(path: string, top = 25): string[] {
  const p = JSON.parse(readFileSync(path, 'utf8')) as { nodes: { id: number; callFrame: { functionName: string; url: string } }[]; samples: number[] };
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  for (const id of p.samples) {
    const cf = byId.get(id)!.callFrame;
    const key = `${cf.functionName || '(anonymous)'} ${cf.url.replace(/^.*\/(src|node_modules)\//, '$1/')}`;
    self.set(key, (self.get(key) ?? 0) + 1);
  }
  const idle = self.get('(idle) ') ?? 0;
  const busy = p.samples.length - idle;
  const byFile = new Map<string, number>();
  for (const [k, c] of self) {
    if (k === '(idle) ') continue;
    const file = k.slice(k.indexOf(' ') + 1) || k;
    byFile.set(file, (byFile.get(file) ?? 0) + c);
  }
  const fmt = (m: Map<string, number>, n: number) =>
    [...m.entries()]
      .filter(([k]) => k !== '(idle) ')
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, c]) => `${((c / busy) * 100).toFixed(1).padStart(5)}%  ${k}`);
  return ['(percentages of busy time)', ...fmt(self, top), '', 'by source file:', ...fmt(byFile, 15)];
}

async function main() {
  const sink = await startSink();
  const dir = mkdtempSync(join(tmpdir(), 'sieve-bench-prw-'));
  const httpPort = await freePort();
  const cfgPath = join(dir, 'bench.yaml');
  writeFileSync(
    cfgPath,
    `
receivers:
  otlp:
    protocols:
      http: { endpoint: "127.0.0.1:${httpPort}", max_request_body_size: 67108864 }
processors:
  cardinality_limit:
    max_series_per_metric: ${Number(args.cap)}
exporters:
  prometheusremotewrite:
    endpoint: http://127.0.0.1:${sink.port}/api/v1/write
    sending_queue: { num_consumers: ${Number(args.consumers)}, queue_size: 100000 }
service:
  telemetry: { metrics: { level: none } }
  pipelines:
    metrics: { receivers: [otlp], processors: [cardinality_limit], exporters: [prometheusremotewrite] }
`,
  );
  const profDir = join(dir, 'prof');
  const nodeArgs = args['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];
  const child = spawn(process.execPath, daemonArgv(ROOT, cfgPath, nodeArgs), { env: daemonEnv(), stdio: ['ignore', 'ignore', 'pipe'], cwd: ROOT });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const t0 = Date.now();
  while (!stderr.includes('Everything is ready')) {
    if (child.exitCode !== null || Date.now() - t0 > 30_000) throw new Error(`daemon did not start:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }

  // Every round sends every series once, 1 s after the previous round.
  process.stdout.write(`encoding ${rounds} rounds x ${reqsPerRound} requests... `);
  const bodies: Buffer[] = [];
  const T = Date.now() - rounds * 1000;
  let points = 0;
  for (let r = 0; r < rounds; r++) {
    for (let q = 0; q < reqsPerRound; q++) {
      const model = loadBatch(1000, T + r * 1000, q * PER_METRIC, 30, 4, !args['no-histograms']);
      points += metricsCodec.count(model);
      bodies.push(Buffer.from(metricsCodec.encode(model)));
    }
  }
  console.log(`${points.toLocaleString()} data points, ${(bodies.reduce((n, b) => n + b.length, 0) / 1e6).toFixed(1)} MB of OTLP`);

  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const send = (body: Buffer): Promise<number> =>
    new Promise((resolve) => {
      const req = request({ host: '127.0.0.1', port: httpPort, path: '/v1/metrics', method: 'POST', agent, headers: { 'Content-Type': 'application/x-protobuf', 'Content-Length': body.length } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', () => resolve(0));
      req.end(body);
    });

  const cpu0 = cpuSeconds(child.pid!);
  const start = performance.now();
  let next = 0;
  let accepted = 0;
  let refused = 0;
  // Rounds in order: all requests of a round are sent before the next round starts
  // (a later sample of a series must not overtake an earlier one).
  for (let r = 0; r < rounds; r++) {
    const round = bodies.slice(r * reqsPerRound, (r + 1) * reqsPerRound);
    next = 0;
    await Promise.all(
      Array.from({ length: Math.min(concurrency, round.length) }, async () => {
        while (next < round.length) {
          const body = round[next++]!;
          for (;;) {
            const status = await send(body);
            if (status === 200) {
              accepted++;
              break;
            }
            refused++;
            await new Promise((res) => setTimeout(res, 20));
          }
        }
      }),
    );
  }
  const sentAt = performance.now();
  // Wait for the exporter to deliver everything.
  let last = -1;
  let stableSince = performance.now();
  for (;;) {
    await new Promise((r) => setTimeout(r, 100));
    const s = await sink.samples();
    if (s !== last) {
      last = s;
      stableSince = performance.now();
    } else if (performance.now() - stableSince > 1500) break;
  }
  const elapsed = (stableSince - start) / 1000;
  const cpu = cpuSeconds(child.pid!) - cpu0;
  const rss = peakRssMiB(child.pid!);
  child.kill('SIGTERM');
  await new Promise((r) => child.on('exit', r));
  const delivered = await sink.samples();
  const rwRequests = await sink.requests();
  await sink.stop();
  agent.destroy();

  const result = {
    data_points: points,
    requests_accepted: accepted,
    requests_retried: refused,
    send_s: Number(((sentAt - start) / 1000).toFixed(2)),
    delivered_s: Number(elapsed.toFixed(2)),
    points_per_s: Math.round(points / elapsed),
    daemon_cpu_s: Number(cpu.toFixed(2)),
    points_per_s_per_core: Math.round(points / Math.max(cpu, 0.01)),
    daemon_core_fraction: Number((cpu / elapsed).toFixed(2)),
    remote_write_requests: rwRequests,
    samples_delivered: delivered,
    peak_rss_mib: Math.round(rss),
  };
  console.log(JSON.stringify(result, null, 2));
  if (args['cpu-prof']) {
    const f = readdirSync(profDir).filter((n) => n.endsWith('.cpuprofile'));
    // The largest profile is the main thread (tsx adds a loader thread).
    const main = f.map((n) => join(profDir, n)).sort((a, b) => readFileSync(b).length - readFileSync(a).length)[0];
    if (main) console.log(`\ndaemon CPU profile, top self time:\n${profileSummary(main).join('\n')}`);
  }
  rmSync(dir, { recursive: true, force: true });
}

await main();
