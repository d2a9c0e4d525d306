// The prometheus exporter's store and exposition formats.
//   node --import tsx src/exporters/prometheus/render.bench.ts
import { Bench } from 'tinybench';
import { LabelBuilder } from '../../prom/labels.js';
import { MetricNamer } from '../../prom/naming.js';
import { loadBatch } from '../../prom/testdata/load.js';
import { T0 } from '../../prom/testdata/metrics.js';
import { renderOpenMetrics, renderText } from './render.js';
import { MetricStore } from './store.js';

const labels = new LabelBuilder({ resourceToTelemetry: false, scopeLabels: true, extraLabels: {} });
const store = new MetricStore({ namer: new MetricNamer({ namespace: '', addMetricSuffixes: true }), labels, scopeLabels: true, maxSeries: 1_000_000, dropped() {} });
const POINTS = 3000;
const rounds = Array.from({ length: 20 }, (_, r) => loadBatch(POINTS, T0 + r * 1000));
let r = 0;
store.add(loadBatch(10_000, T0 - 1000), T0);
const series = store.seriesCount;

const bench = new Bench({ time: 2000 });
bench
  .add(`add ${POINTS} points (existing series)`, () => {
    store.add(rounds[r++ % rounds.length]!, T0);
  })
  .add(`render text, ${series} series`, () => {
    renderText(store, false);
  })
  .add(`render OpenMetrics, ${series} series`, () => {
    renderOpenMetrics(store, false, labels.namer);
  });

await bench.run();
console.table(bench.table());
const add = bench.tasks[0]!.result!;
console.log(`add: ${Math.round((POINTS * 1000) / add.latency.mean).toLocaleString()} points/s; text size ${(renderText(store, false).length / 1e6).toFixed(1)} MB`);
