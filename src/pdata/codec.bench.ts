// Micro-benchmarks of the OTLP protobuf codec against the protobufjs reference.
//
//   node --import tsx src/pdata/codec.bench.ts               # codec figures
//   node --import tsx src/pdata/codec.bench.ts --primitives  # also the primitive choices
//
// Batches are 100 items per request (spans in traces of 10 spans) with 5 or 20
// realistic attributes. Figures are items per second on one core.
import { Bench } from 'tinybench';
import * as pb from './proto/index.js';
import { ProtoWriter } from './proto/index.js';
import { benchLogs, benchMetrics, benchTraces } from './testdata/fixtures.js';
import { LogsRequest, MetricsRequest, TracesRequest } from './testdata/reference.js';

const ITEMS = 100;
const TIME_MS = Number(process.env.BENCH_TIME_MS ?? 1000);

interface Row {
  name: string;
  itemsPerSec: number;
  rme: number;
}

async function run(tasks: [string, () => unknown][], items = ITEMS): Promise<Row[]> {
  const bench = new Bench({ time: TIME_MS, warmupTime: 200 });
  for (const [name, fn] of tasks) bench.add(name, fn);
  await bench.run();
  return bench.tasks.map((t) => {
    const r = t.result as unknown as { throughput: { mean: number }; latency: { rme: number } };
    return { name: t.name, itemsPerSec: r.throughput.mean * items, rme: r.latency.rme };
  });
}

function print(title: string, rows: Row[]): void {
  console.log(`\n${title}`);
  for (const r of rows) {
    console.log(`  ${r.name.padEnd(34)} ${Math.round(r.itemsPerSec).toLocaleString('en-US').padStart(12)} items/s  ±${r.rme.toFixed(1)}%`);
  }
}

async function codecs(): Promise<void> {
  for (const attrs of [5, 20]) {
    const traces = benchTraces(ITEMS, attrs);
    const tBytes = pb.encodeTracesRequest(traces);
    const tRef = TracesRequest.decode(tBytes);
    print(`traces: ${ITEMS} spans/request, ${attrs} attributes (${tBytes.length} bytes)`, await run([
      ['decode', () => pb.decodeTracesRequest(tBytes)],
      ['scan', () => pb.scanTracesRequest(tBytes)],
      ['encode', () => pb.encodeTracesRequest(traces)],
      ['decode+encode', () => pb.encodeTracesRequest(pb.decodeTracesRequest(tBytes))],
      ['protobufjs decode', () => TracesRequest.decode(tBytes)],
      ['protobufjs encode', () => TracesRequest.encode(tRef).finish()],
      ['protobufjs decode+encode', () => TracesRequest.encode(TracesRequest.decode(tBytes)).finish()],
    ]));

    const logs = benchLogs(ITEMS, attrs);
    const lBytes = pb.encodeLogsRequest(logs);
    print(`logs: ${ITEMS} records/request, ${attrs} attributes (${lBytes.length} bytes)`, await run([
      ['decode', () => pb.decodeLogsRequest(lBytes)],
      ['scan', () => pb.scanLogsRequest(lBytes)],
      ['encode', () => pb.encodeLogsRequest(logs)],
      ['protobufjs decode+encode', () => LogsRequest.encode(LogsRequest.decode(lBytes)).finish()],
    ]));

    const metrics = benchMetrics(ITEMS, attrs);
    const mBytes = pb.encodeMetricsRequest(metrics);
    print(`metrics: ${ITEMS} data points/request, ${attrs} attributes (${mBytes.length} bytes)`, await run([
      ['decode', () => pb.decodeMetricsRequest(mBytes)],
      ['scan', () => pb.scanMetricsRequest(mBytes)],
      ['encode', () => pb.encodeMetricsRequest(metrics)],
      ['protobufjs decode+encode', () => MetricsRequest.encode(MetricsRequest.decode(mBytes)).finish()],
    ]));
  }
}

// The measurements behind the micro-choices commented in proto/reader.ts and
// proto/writer.ts. Each task repeats its operation OPS times so the harness
// overhead is amortised; figures are nanoseconds per operation.
const OPS = 1000;

async function runOps(title: string, tasks: [string, () => unknown][]): Promise<void> {
  const rows = await run(tasks, OPS);
  console.log(`\n${title}`);
  for (const r of rows) console.log(`  ${r.name.padEnd(34)} ${(1e9 / r.itemsPerSec).toFixed(1).padStart(8)} ns/op  ±${r.rme.toFixed(1)}%`);
}

async function primitives(): Promise<void> {
  const buf = new Uint8Array(4096);
  const long = 'https://shop.example.com/api/v1/users/1042'; // 42 chars
  const short = 'http.method';
  const enc = new TextEncoder();
  enc.encodeInto(long, buf);
  enc.encodeInto(short, buf.subarray(100));
  for (let i = 200; i < 216; i++) buf[i] = i;
  const td = new TextDecoder();
  const slice = (Buffer.prototype as unknown as { utf8Slice(this: Uint8Array, s: number, e: number): string }).utf8Slice;
  const write = (Buffer.prototype as unknown as { utf8Write(this: Uint8Array, s: string, o: number): number }).utf8Write;
  const manual = (b: Uint8Array, s: number, e: number): string => {
    let out = '';
    for (let i = s; i < e; i++) out += String.fromCharCode(b[i]!);
    return out;
  };
  const view = new DataView(buf.buffer);
  const out = new Uint8Array(4096);
  const outView = new DataView(out.buffer);
  const loopWrite = (s: string): number => {
    let p = 0;
    for (let i = 0; i < s.length; i++) out[p++] = s.charCodeAt(i);
    return p;
  };
  const t = 1_700_000_000_123_456_789n;
  let sink: unknown;
  const rep = (fn: () => unknown) => () => {
    for (let i = 0; i < OPS; i++) sink = fn();
    return sink;
  };
  await runOps('strings, ids, 64-bit values', [
    ['read 42B TextDecoder', rep(() => td.decode(buf.subarray(0, 42)))],
    ['read 42B Buffer#utf8Slice', rep(() => slice.call(buf, 0, 42))],
    ['read 42B JS loop', rep(() => manual(buf, 0, 42))],
    ['read 11B TextDecoder', rep(() => td.decode(buf.subarray(100, 111)))],
    ['read 11B Buffer#utf8Slice', rep(() => slice.call(buf, 100, 111))],
    ['read 11B JS loop', rep(() => manual(buf, 100, 111))],
    ['id 16B slice (copy)', rep(() => buf.slice(200, 216))],
    ['id 16B subarray (view)', rep(() => buf.subarray(200, 216))],
    ['fixed64 getBigUint64', rep(() => view.getBigUint64(200, true))],
    ['fixed64 BigInt halves', rep(() => (BigInt(view.getUint32(204, true)) << 32n) | BigInt(view.getUint32(200, true)))],
    ['write 42 chars Buffer#utf8Write', rep(() => write.call(out, long, 0))],
    ['write 42 chars JS loop', rep(() => loopWrite(long))],
    ['write 11 chars Buffer#utf8Write', rep(() => write.call(out, short, 0))],
    ['write 11 chars JS loop', rep(() => loopWrite(short))],
    ['fixed64 setBigUint64', rep(() => outView.setBigUint64(0, t, true))],
    [
      'fixed64 split halves',
      rep(() => {
        outView.setUint32(0, Number(t & 0xffffffffn), true);
        outView.setUint32(4, Number(t >> 32n), true);
      }),
    ],
  ]);

  // Span length prefixes: reserving 1 byte moves every span body >= 128 bytes on join.
  for (const attrs of [5, 20]) {
    const spans = benchTraces(ITEMS, attrs)[0]!.scopeSpans[0]!.spans;
    const w = new ProtoWriter(1 << 18);
    const encodeWith = (reserve: number) => () => {
      w.reset();
      for (const s of spans) {
        w.uint32(18);
        const st = w.fork(reserve);
        pb.encodeSpan(w, s);
        w.join(st, reserve);
      }
      return w.pos;
    };
    print(`span fork reserve (${ITEMS} spans, ${attrs} attributes)`, await run([
      ['reserve 1 byte', encodeWith(1)],
      ['reserve 2 bytes', encodeWith(2)],
    ]));

    const bytes = pb.encodeTracesRequest(benchTraces(ITEMS, attrs));
    const decodeWith = (limit: number) => () => {
      pb.setStringCacheLimit(limit);
      return pb.decodeTracesRequest(bytes);
    };
    print(`string cache (${ITEMS} spans, ${attrs} attributes)`, await run([
      ['decode, no string cache', decodeWith(0)],
      ['decode, cache <= 16 bytes', decodeWith(16)],
      ['decode, cache <= 32 bytes', decodeWith(32)],
    ]));
    pb.setStringCacheLimit(32);
  }
}

await codecs();
if (process.argv.includes('--primitives')) await primitives();
