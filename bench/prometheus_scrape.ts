// CPU per scrape of a 100k-sample target: a child process serves the
// exposition on loopback; this process runs the prometheus receiver's
// scrape path (HTTP GET, gzip off, decode, parse, convert to OTLP) and reports
// process.cpuUsage() per scrape (this process only; the target's CPU is not
// counted).
//
//   node --import tsx bench/prometheus_scrape.ts [--samples 100000] [--scrapes 10] [--om]
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { Issues } from '../src/config/schema.js';
import { Telemetry } from '../src/pdata/telemetry.js';
import { prometheusReceiverSchema, validatePrometheusReceiver } from '../src/receivers/prometheus/config.js';
import { PrometheusReceiver } from '../src/receivers/prometheus/receiver.js';
import { nopLogger } from '../src/service/logger.js';
import { SelfTelemetry } from '../src/service/telemetry.js';

const { values: args } = parseArgs({ options: { samples: { type: 'string', default: '100000' }, scrapes: { type: 'string', default: '10' }, om: { type: 'boolean', default: false } } });
const samples = Number(args.samples);
const scrapes = Number(args.scrapes);

const server = spawn(process.execPath, ['--import', 'tsx', '-e', `
  import('./src/receivers/prometheus/testdata/exposition.ts').then(({ exposition }) => {
    const body = Buffer.from(exposition(${samples}, ${args.om}));
    const http = require('node:http');
    const s = http.createServer((req, res) => { res.writeHead(200, { 'content-type': ${args.om} ? 'application/openmetrics-text; version=1.0.0' : 'text/plain; version=0.0.4' }); res.end(body); });
    s.listen(0, '127.0.0.1', () => console.log(s.address().port + ' ' + body.length));
  });
`], { stdio: ['ignore', 'pipe', 'inherit'], cwd: process.cwd() });
const [port, bytes] = await new Promise<number[]>((resolve) => server.stdout!.once('data', (c: Buffer) => resolve(c.toString().trim().split(' ').map(Number))));

let points = 0;
const consumer = { mutatesData: false, consume: async (d: Telemetry) => void (points += d.itemCount()) };
const issues = new Issues();
const cfg = prometheusReceiverSchema.parse({ config: { scrape_configs: [{ job_name: 'bench', scrape_interval: '1h', scrape_timeout: '1m', static_configs: [{ targets: [`127.0.0.1:${port}`] }] }] } }, [], issues);
validatePrometheusReceiver(cfg, [], issues);
const telemetry = new SelfTelemetry();
const rx = new PrometheusReceiver({ id: 'prometheus', kind: 'receiver', logger: nopLogger, telemetry, instanceId: 'bench', now: Date.now }, cfg, consumer);
await rx.start({ getExtension: () => undefined, components: () => new Map(), registerAdminRoute: () => undefined, logger: nopLogger, telemetry });
// Drive the loop's scrape directly, one after the other.
const loop = [...(rx as unknown as { jobs: { loops: Map<string, { run(): Promise<void> }> }[] }).jobs[0]!.loops.values()][0]!;
const cpu: number[] = [];
const wall: number[] = [];
for (let i = 0; i < scrapes; i++) {
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  await loop.run();
  const c = process.cpuUsage(c0);
  cpu.push((c.user + c.system) / 1000);
  wall.push(performance.now() - w0);
}
await rx.shutdown();
server.kill();
const sorted = [...cpu].sort((a, b) => a - b);
console.log(JSON.stringify({ samples, bodyBytes: bytes, format: args.om ? 'openmetrics' : 'text', scrapes, pointsPerScrape: points / scrapes, cpuMsPerScrape: cpu.map((x) => Math.round(x)), medianCpuMs: Math.round(sorted[Math.floor(sorted.length / 2)]!), steadyMedianCpuMs: Math.round([...cpu.slice(1)].sort((a, b) => a - b)[Math.floor((cpu.length - 1) / 2)]!), medianWallMs: Math.round([...wall].sort((a, b) => a - b)[Math.floor(wall.length / 2)]!) }));
