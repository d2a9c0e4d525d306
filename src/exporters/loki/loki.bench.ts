// Micro-benchmarks of the loki exporter's hot path: OTLP log records → Loki
// streams → PushRequest → snappy.
//
//   node --import tsx src/exporters/loki/loki.bench.ts
//
// A batch is 1000 log records of one resource (service.name, version, host)
// with 5 attributes each, trace context, INFO severity and a ~45-byte message;
// figures are log records per second on one core.
import { Bench } from 'tinybench';
import { Issues } from '../../config/schema.js';
import { ProtoWriter } from '../../pdata/proto/writer.js';
import { benchLogs } from '../../pdata/testdata/fixtures.js';
import { lokiSchema } from './config.js';
import { compileOptions, convert, type ConvertStats } from './convert.js';
import { createRequire } from 'node:module';
import { SnappyBlock } from '../../prom/snappy.js';
import { encodeJson, writePushRequest } from './encode.js';

const RECORDS = 1000;
const TIME_MS = Number(process.env.BENCH_TIME_MS ?? 1000);

const resources = benchLogs(RECORDS, 5);
// Mix severities so that records spread over several streams, as in real traffic.
resources[0]!.scopeLogs[0]!.logRecords.forEach((r, i) => (r.severityNumber = [9, 9, 9, 13, 17][i % 5]!));
const cfg = lokiSchema.parse({ endpoint: 'http://loki/loki/api/v1/push' }, [], new Issues());
const opts = compileOptions(cfg);
const jsonOpts = compileOptions({ ...cfg, encoding: 'json' });
const stats = (): ConvertStats => ({ truncated: 0, droppedTooLong: 0, overflow: 0 });
const now = 1_700_000_000_000_000_000n;
const scratch = new ProtoWriter(64 * 1024);
const w = new ProtoWriter(64 * 1024);
const streams = convert(resources, opts, 'team-a', now, stats(), scratch)[0]!.streams;
writePushRequest(w, streams, scratch);
const raw = w.buf.slice(0, w.pos);
// snappyjs, for comparison with the project's compressor.
const snappy = createRequire(import.meta.url)('snappyjs') as { compress(input: Uint8Array): Uint8Array };
const compressed = snappy.compress(raw);
const block = new SnappyBlock();
const jsonStreams = convert(resources, jsonOpts, 'team-a', now, stats())[0]!.streams;

const bench = new Bench({ time: TIME_MS, warmupTime: 200 });
bench
  .add('convert + encode entries', () => {
    scratch.reset();
    return convert(resources, opts, 'team-a', now, stats(), scratch);
  })
  .add('assemble PushRequest', () => writePushRequest(w, streams, scratch))
  .add('snappy compress (snappyjs.compress)', () => snappy.compress(raw))
  .add('snappy compress (reused buffer)', () => block.compress(raw))
  .add('all: convert + assemble + snappy', () => {
    scratch.reset();
    const s = convert(resources, opts, 'team-a', now, stats(), scratch)[0]!.streams;
    writePushRequest(w, s, scratch);
    return block.compress(w.buf.subarray(0, w.pos));
  })
  .add('json: convert + encode', () => encodeJson(convert(resources, jsonOpts, 'team-a', now, stats())[0]!.streams))
  .add('json: encode only', () => encodeJson(jsonStreams));

await bench.run();
console.log(`\n${RECORDS} records, ${streams.length} streams, PushRequest ${raw.length} bytes, snappy ${compressed.length} bytes (${((compressed.length / raw.length) * 100).toFixed(0)}%)`);
for (const t of bench.tasks) {
  const r = t.result as unknown as { throughput: { mean: number }; latency: { rme: number } };
  console.log(`  ${t.name.padEnd(36)} ${Math.round(r.throughput.mean * RECORDS).toLocaleString('en-US').padStart(12)} records/s  ±${r.latency.rme.toFixed(1)}%`);
}
