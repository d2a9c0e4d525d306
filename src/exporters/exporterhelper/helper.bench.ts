// Micro-benchmark of the exporter helper's per-batch path: consume → queue →
// consumer → push (no-op) → release, with the in-memory queue and without a
// queue, and the cost a durable reference adds.
//
//   node --import tsx src/exporters/exporterhelper/helper.bench.ts
import { Bench } from 'tinybench';
import { Issues, s } from '../../config/schema.js';
import { host, settings, traces } from '../../durable/testdata/fixtures.js';
import type { DurableRef } from '../../pdata/telemetry.js';
import { createExporter, helperFields, type HelperConfig } from './helper.js';

const cfg = (raw: Record<string, unknown>) => s.object(helperFields).parse(raw, [], new Issues()) as HelperConfig;
let delivered = 0;
const queued = createExporter({ settings: settings('otlp/bench', 'exporter'), signal: 'traces', config: cfg({}), push: async () => void delivered++ });
const direct = createExporter({ settings: settings('otlp/direct', 'exporter'), signal: 'traces', config: cfg({ sending_queue: { enabled: false } }), push: async () => void delivered++ });
await queued.start(host());
await direct.start(host());
const batch = traces(0, 100);
const ref: DurableRef = { retain() {}, release() {} };
const durableBatch = traces(0, 100, { durable: [ref] });

const bench = new Bench({ time: 1500 });
bench
  .add('in-memory queue: consume 100 batches, wait until pushed', async () => {
    const target = delivered + 100;
    for (let i = 0; i < 100; i++) await queued.consume(batch);
    while (delivered < target) await new Promise((r) => setImmediate(r));
  })
  .add('in-memory queue, durable reference: consume 100 batches, wait until pushed', async () => {
    const target = delivered + 100;
    for (let i = 0; i < 100; i++) await queued.consume(durableBatch);
    while (delivered < target) await new Promise((r) => setImmediate(r));
  })
  .add('no queue: consume 100 batches', async () => {
    for (let i = 0; i < 100; i++) await direct.consume(batch);
  });
await bench.run();
console.table(bench.tasks.map((t) => ({ task: t.name, 'batches/s': Math.round(t.result!.throughput.mean * 100), 'p99 ms (100 batches)': t.result!.latency.p99?.toFixed(2) })));
await queued.shutdown();
await direct.shutdown();
