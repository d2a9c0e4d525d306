// The cardinality_limit processor per batch of 3000 data points.
//   node --import tsx src/processors/cardinality_limit/processor.bench.ts
import { Bench } from 'tinybench';
import type { Metric, ResourceMetrics } from '../../pdata/model.js';
import { Telemetry } from '../../pdata/telemetry.js';
import { parse, settings } from '../../prom/testdata/host.js';
import { loadBatch } from '../../prom/testdata/load.js';
import { T0 } from '../../prom/testdata/metrics.js';
import { cardinalityLimitSchema } from './config.js';
import { CardinalityLimitProcessor } from './processor.js';

const POINTS = 3000;
const next = { mutatesData: false, consume: async () => undefined };
const under = new CardinalityLimitProcessor(settings('cardinality_limit', 'processor'), parse(cardinalityLimitSchema, { max_series_per_metric: 1000 }), next);
const over = new CardinalityLimitProcessor(settings('cardinality_limit', 'processor'), parse(cardinalityLimitSchema, { max_series_per_metric: 10 }), next);

const ROUNDS = 20;
const underBatches = Array.from({ length: ROUNDS }, (_, r) => loadBatch(POINTS, T0 + r * 1000));
// Over the cap the processor removes points from the batch: each run gets its batch back as built.
const overBatches = Array.from({ length: ROUNDS }, (_, r) => loadBatch(POINTS, T0 + r * 1000));
const originals = overBatches.map((b) => ({ b, len: b.length, rms: b.map((rm) => ({ rm, scopes: rm.scopeMetrics.slice(), metrics: rm.scopeMetrics.map((sm) => sm.metrics.slice()) })), points: b.flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics.map((m) => [m, (m.data as { dataPoints: unknown[] }).dataPoints.slice()] as [Metric, unknown[]]))) }));
function restore(k: number): ResourceMetrics[] {
  const o = originals[k]!;
  o.b.length = 0;
  for (const r of o.rms) {
    r.rm.scopeMetrics = r.scopes;
    r.scopes.forEach((sm, i) => (sm.metrics = r.metrics[i]!.slice()));
    o.b.push(r.rm);
  }
  for (const [m, pts] of o.points) (m.data as { dataPoints: unknown[] }).dataPoints = pts.slice();
  return o.b;
}
let i = 0;
let j = 0;
let current: ResourceMetrics[] = restore(0);

const bench = new Bench({ time: 2000 });
bench
  .add(`${POINTS} points, all under the cap (batch passed on unchanged)`, async () => {
    await under.consume(Telemetry.metrics(underBatches[i++ % ROUNDS]!));
  })
  .add(
    `${POINTS} points, 97% over the cap (merged into overflow series)`,
    async () => {
      await over.consume(Telemetry.metrics(current));
    },
    { beforeEach: () => void (current = restore(j++ % ROUNDS)) },
  );

await bench.run();
console.table(bench.table());
for (const t of bench.tasks) console.log(`${t.name}: ${Math.round((POINTS * 1000) / t.result!.latency.mean).toLocaleString()} points/s`);
