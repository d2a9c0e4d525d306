// Micro-benchmarks of the filelog hot path: splitting bytes into lines, the
// operator chain (json_parser, presets, logfmt), timestamp parsing, and the
// conversion into OTLP log records.
//
//   node --import tsx src/receivers/filelog/filelog.bench.ts
//
// Figures are lines per second on one core (a task handles LINES lines).
import { Bench } from 'tinybench';
import { Issues } from '../../config/schema.js';
import { OPERATOR_SCHEMAS } from './config.js';
import { toLogRecord, type Entry } from './entry.js';
import { compileChain, type CompilableOperator } from './operators.js';
import { expandPreset } from './presets.js';
import { Splitter } from './split.js';
import { compileTimeParser } from './time.js';
import { jsonLine, logfmtLine } from './testdata/lines.js';

const LINES = 1000;
const TIME_MS = Number(process.env.BENCH_TIME_MS ?? 1000);

const jsonLines = Array.from({ length: LINES }, (_, i) => jsonLine(i));
const kvLines = Array.from({ length: LINES }, (_, i) => logfmtLine(i));
const bytes = Buffer.from(jsonLines.join('\n') + '\n');

function entry(body: string): Entry {
  return { body, attributes: { 'log.file.name': 'app.log' }, resource: undefined, timestamp: 0n, observed: 0n, severity: 0, severityText: '', traceId: undefined, spanId: undefined, traceFlags: 0 };
}
function chainOf(ops: CompilableOperator[]) {
  return compileChain(ops, { malformed: () => undefined, unrouted: () => undefined });
}
function op(o: Record<string, unknown>): CompilableOperator {
  return OPERATOR_SCHEMAS[o.type as keyof typeof OPERATOR_SCHEMAS].parse(o, [], new Issues()) as CompilableOperator;
}

const jsonOnly = chainOf([op({ type: 'json_parser' })]);
const python = chainOf(expandPreset('python_json'));
const logfmt = chainOf(expandPreset('logfmt'));
const strptime = compileTimeParser('strptime', '%Y-%m-%dT%H:%M:%S.%LZ', 'UTC');
const iso = compileTimeParser('iso8601', undefined, 'UTC');
const stamps = jsonLines.map((l) => (JSON.parse(l) as { timestamp: string }).timestamp);

const tasks: [string, () => unknown][] = [
  ['split 1000 lines (utf-8)', () => {
    const sp = new Splitter({ encoding: 'utf-8', maxLogSize: 1 << 20 }, 0);
    const out: unknown[] = [];
    sp.feed(bytes, out as never);
    return out;
  }],
  ['json_parser', () => {
    for (const l of jsonLines) jsonOnly.run(entry(l));
  }],
  ['preset python_json', () => {
    for (const l of jsonLines) python.run(entry(l));
  }],
  ['preset python_json + toLogRecord', () => {
    for (const l of jsonLines) {
      const e = entry(l);
      python.run(e);
      toLogRecord(e);
    }
  }],
  ['preset logfmt', () => {
    for (const l of kvLines) logfmt.run(entry(l));
  }],
  ['timestamp iso8601', () => {
    for (const s of stamps) iso(s);
  }],
  ['timestamp strptime (regex)', () => {
    for (const s of stamps) strptime(s);
  }],
];

const bench = new Bench({ time: TIME_MS, warmupTime: 200 });
for (const [name, fn] of tasks) bench.add(name, fn);
await bench.run();
console.log(`filelog hot path, ${LINES} lines per task, JSON lines of 10 fields (${Math.round(bytes.length / LINES)} bytes each)`);
for (const t of bench.tasks) {
  const r = t.result as unknown as { throughput: { mean: number }; latency: { rme: number } };
  console.log(`  ${t.name.padEnd(36)} ${Math.round(r.throughput.mean * LINES).toLocaleString('en-US').padStart(12)} lines/s  ±${r.latency.rme.toFixed(1)}%`);
}
