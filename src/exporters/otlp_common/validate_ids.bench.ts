// Micro-benchmark of the span id check run before sending traces.
//
//   node --import tsx src/exporters/otlp_common/validate_ids.bench.ts
//
// A batch is 1000 spans (traces of 10 spans, 5 attributes). Figures are spans
// per second on one core: the common case (all valid, bytes cached: a wire walk
// without decoding), all valid without bytes (a model walk), and one invalid
// span (decode-free count, then a filtered copy).
import { Bench } from 'tinybench';
import { benchTraces } from '../../pdata/testdata/fixtures.js';
import { Telemetry } from '../../pdata/telemetry.js';
import { dropInvalidSpans } from './validate_ids.js';

const SPANS = 1000;
const TIME_MS = Number(process.env.BENCH_TIME_MS ?? 1000);
const good = benchTraces(SPANS, 5);
const bytes = Telemetry.traces(good).toProto();
const bad = benchTraces(SPANS, 5);
bad[0]!.scopeSpans[0]!.spans[500]!.spanId = new Uint8Array(8);
const badBytes = Telemetry.traces(bad).toProto();

const bench = new Bench({ time: TIME_MS, warmupTime: 200 });
bench
  .add('all valid, wire walk', () => dropInvalidSpans(Telemetry.fromProto('traces', bytes, SPANS)))
  .add('all valid, model walk', () => dropInvalidSpans(Telemetry.traces(good)))
  .add('one invalid, filtered copy', () => {
    const t = Telemetry.fromProto('traces', badBytes, SPANS);
    t.read();
    return dropInvalidSpans(t);
  });
await bench.run();
for (const t of bench.tasks) {
  const r = t.result as unknown as { throughput: { mean: number }; latency: { rme: number } };
  console.log(`  ${t.name.padEnd(30)} ${Math.round(r.throughput.mean * SPANS).toLocaleString('en-US').padStart(14)} spans/s  ±${r.latency.rme.toFixed(1)}%`);
}
