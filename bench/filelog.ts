// End to end through the filelog receiver: a file of N JSON lines with 10
// fields is read, split, parsed and turned into OTLP log batches handed to a
// consumer that counts them. The figure is lines per CPU second of this
// process (process.cpuUsage: user + system), i.e. per core.
//
//   node --import tsx bench/filelog.ts [--lines N] [--ops json|python_json|none] [--encode]
//
// --encode also encodes every batch to OTLP protobuf, as an exporter would.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Issues } from '../src/config/schema.js';
import { filelogReceiverFactory } from '../src/receivers/filelog/factory.js';
import { jsonLine } from '../src/receivers/filelog/testdata/lines.js';
import type { Telemetry } from '../src/pdata/telemetry.js';
import { nopLogger } from '../src/service/logger.js';
import { SelfTelemetry } from '../src/service/telemetry.js';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
};
const LINES = Number(arg('lines', '500000'));
const OPS = arg('ops', 'python_json');
const ENCODE = process.argv.includes('--encode');

const dir = mkdtempSync(join(tmpdir(), 'sieve-filelog-bench-'));
const path = join(dir, 'app.log');
{
  const parts: string[] = [];
  for (let i = 0; i < LINES; i++) parts.push(jsonLine(i));
  writeFileSync(path, parts.join('\n') + '\n');
}

const raw: Record<string, unknown> = { include: [path], start_at: 'beginning', poll_interval: '50ms' };
if (OPS === 'python_json') raw.preset = 'python_json';
else if (OPS === 'json') raw.operators = [{ type: 'json_parser' }];
const issues = new Issues();
const cfg = filelogReceiverFactory.schema.parse(raw, ['filelog'], issues);
filelogReceiverFactory.validate!(cfg, ['filelog'], issues);
if (issues.hasErrors()) throw new Error(JSON.stringify(issues.errors));

let got = 0;
let bytesOut = 0;
let done: () => void;
const finished = new Promise<void>((r) => (done = r));
const consumer = {
  mutatesData: false,
  async consume(d: Telemetry) {
    got += d.itemCount();
    if (ENCODE) bytesOut += d.toProto().length;
    if (got >= LINES) done();
  },
};
const r = filelogReceiverFactory.create({ id: 'filelog', kind: 'receiver', logger: nopLogger, telemetry: new SelfTelemetry(), instanceId: 'bench', now: Date.now }, cfg, { logs: consumer });

const cpu0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
await r.start({ getExtension: () => undefined, components: () => new Map(), registerAdminRoute: () => undefined, logger: nopLogger, telemetry: new SelfTelemetry() });
await finished;
const wall = Number(process.hrtime.bigint() - t0) / 1e9;
const cpu = process.cpuUsage(cpu0);
const cpuS = (cpu.user + cpu.system) / 1e6;
await r.shutdown();
rmSync(dir, { recursive: true, force: true });
console.log(
  JSON.stringify({
    scenario: `filelog ${OPS}${ENCODE ? ' + OTLP encode' : ''}`,
    lines: LINES,
    wall_s: +wall.toFixed(2),
    cpu_s: +cpuS.toFixed(2),
    lines_per_s_wall: Math.round(LINES / wall),
    lines_per_cpu_s: Math.round(LINES / cpuS),
    ...(ENCODE ? { otlp_bytes: bytesOut } : {}),
    rss_mib: Math.round(process.memoryUsage().rss / 1048576),
  }),
);
