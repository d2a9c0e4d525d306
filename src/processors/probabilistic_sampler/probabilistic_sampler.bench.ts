// Micro-benchmarks of the sampling hashes and of probabilistic_sampler on a
// 100-span request.
//
//   node --import tsx src/processors/probabilistic_sampler/probabilistic_sampler.bench.ts
import { Bench } from 'tinybench';
import { Telemetry } from '../../pdata/telemetry.js';
import { nopLogger } from '../../service/logger.js';
import { SelfTelemetry } from '../../service/telemetry.js';
import { HashSeedSampler, TailProbabilistic } from './hash.js';
import { configSchema } from './config.js';
import { Issues } from '../../config/schema.js';
import { ProbabilisticSampler } from './processor.js';
import { mkSpan, request, resource, traceId } from '../tail_sampling/testutil.js';

const TIME_MS = Number(process.env.BENCH_TIME_MS ?? 1000);
const ids = Array.from({ length: 1024 }, (_, i) => traceId(i));
const head = new HashSeedSampler(10, 22);
const tail = new TailProbabilistic(10, 'salt');
const spans = Array.from({ length: 100 }, (_, i) => mkSpan({ trace: Math.floor(i / 10), attrs: { 'url.path': `/items/${i}`, n: i } }));
const bytes = request([resource(spans)]).toProto();
const cfg = configSchema.parse({ sampling_percentage: 10, hash_seed: 22 }, [], new Issues());
const proc = new ProbabilisticSampler(
  { id: 'probabilistic_sampler', kind: 'processor', logger: nopLogger, telemetry: new SelfTelemetry(), instanceId: 'b', now: Date.now },
  cfg,
  'traces',
  { mutatesData: false, consume: async () => undefined },
);
let i = 0;
const bench = new Bench({ time: TIME_MS, warmupTime: 200 });
bench
  .add('hash_seed decision (FNV-1a 32), x100', () => {
    for (let k = 0; k < 100; k++) head.sampled(ids[i++ & 1023]!);
  })
  .add('tail probabilistic (FNV-1a 64), x100', () => {
    for (let k = 0; k < 100; k++) tail.sampled(ids[i++ & 1023]!);
  })
  .add('probabilistic_sampler, 100-span request', async () => {
    await proc.consume(Telemetry.fromProto('traces', bytes, 100));
  });
await bench.run();
console.log('\nprobabilistic sampling (decisions or spans per second on one core)');
for (const t of bench.tasks) {
  const r = t.result as unknown as { throughput: { mean: number }; latency: { rme: number } };
  console.log(`  ${t.name.padEnd(44)} ${Math.round(r.throughput.mean * 100).toLocaleString('en-US').padStart(12)} /s  ±${r.latency.rme.toFixed(1)}%`);
}
