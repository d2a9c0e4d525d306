// OTLP → Remote Write translation (labels, encoding, snappy) for one shard.
//   node --import tsx src/exporters/prometheusremotewrite/translate.bench.ts
import { Bench } from 'tinybench';
import { LabelBuilder, type ResourceLabels } from '../../prom/labels.js';
import { MetricNamer } from '../../prom/naming.js';
import { WriteRequestWriter } from '../../prom/prompb.js';
import { snappyCompress } from '../../prom/snappy.js';
import { loadBatch } from '../../prom/testdata/load.js';
import { T0 } from '../../prom/testdata/metrics.js';
import type { Resource } from '../../pdata/model.js';
import { ShardTranslator } from './translate.js';

const POINTS = 3000;
const labels = new LabelBuilder({ resourceToTelemetry: false, scopeLabels: false, extraLabels: { cluster: 'bench' } });
const namer = new MetricNamer({ namespace: '', addMetricSuffixes: true });
const cache = new WeakMap<Resource, ResourceLabels>();
const translator = new ShardTranslator({
  namer,
  labels,
  resourceLabels: (r) => {
    let rl = cache.get(r);
    if (!rl) cache.set(r, (rl = labels.resource(r)));
    return rl;
  },
  maxTracked: 1_000_000,
  maxBodyBytes: 3_000_000,
  stats: { dropped() {}, staleMarkers() {} },
});

// Pre-built batches at increasing times (the translator drops samples that are not newer).
const ROUNDS = 20;
const batches = Array.from({ length: ROUNDS }, (_, r) => loadBatch(POINTS, T0 + r * 1000));
const plainBatches = Array.from({ length: ROUNDS }, (_, r) => loadBatch(POINTS, T0 + r * 1000, 0, 30, 4, false));
const plain = new ShardTranslator({
  namer,
  labels,
  resourceLabels: (r) => {
    let rl = cache.get(r);
    if (!rl) cache.set(r, (rl = labels.resource(r)));
    return rl;
  },
  maxTracked: 1_000_000,
  maxBodyBytes: 3_000_000,
  stats: { dropped() {}, staleMarkers() {} },
});
let plainRound = 0;
const points = batches[0]!.reduce((n, rm) => n + rm.scopeMetrics.reduce((k, sm) => k + sm.metrics.reduce((j, m) => j + (m.data.type === 'empty' ? 0 : m.data.dataPoints.length), 0), 0), 0);
let round = 0;

const labelsOnly = loadBatch(POINTS, T0);
const pointAttrs = labelsOnly.flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics.flatMap((m) => (m.data.type === 'empty' ? [] : m.data.dataPoints.map((p) => p.attributes)))));
const rl = labels.resource(labelsOnly[0]!.resource);

const w = new WriteRequestWriter();

const bench = new Bench({ time: 2000 });
bench
  .add(`translate+encode+snappy ${points} points`, () => {
    // The translator drops samples that are not newer: start over with fresh state after the last round.
    if (round % ROUNDS === 0) translator.entries.clear();
    translator.translate(batches[round++ % ROUNDS]!, 0);
  })
  .add(`translate+encode+snappy ${points} points, counters and gauges only`, () => {
    if (plainRound % ROUNDS === 0) plain.entries.clear();
    plain.translate(plainBatches[plainRound++ % ROUNDS]!, 0);
  })
  .add(`label sets only, ${pointAttrs.length} points`, () => {
    for (const a of pointAttrs) labels.point(a, rl, rl.override);
  })
  .add('encode 3000 series (writer only)', () => {
    w.reset();
    for (let i = 0; i < 3000; i++) w.series('http_server_requests_total', ['http_method', 'GET', 'http_route', '/api/v1/items/1', 'job', 'svc', 'status', '200'], undefined, '', i, T0, false);
  })
  .add('snappy 3000 series', () => {
    snappyCompress(w.view());
  });

await bench.run();
console.table(bench.table());
for (const t of bench.tasks) {
  if (t.name.startsWith('translate')) console.log(`${t.name}: ${Math.round((points * 1000) / t.result!.latency.mean).toLocaleString()} points/s (mean), ${Math.round((points * 1000) / t.result!.latency.p50!).toLocaleString()} (median)`);
}
