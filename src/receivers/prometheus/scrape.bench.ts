// Parse and convert of one 100k-sample scrape (text format and OpenMetrics).
//   node --import tsx src/receivers/prometheus/scrape.bench.ts
import { Bench } from 'tinybench';
import { TargetConverter } from './convert.js';
import { parseExposition } from './parser.js';
import { exposition } from './testdata/exposition.js';

const SAMPLES = 100_000;
const text = exposition(SAMPLES);
const om = exposition(SAMPLES, true);
const nop = { meta() {}, sample() {} };

function converter(share: boolean): TargetConverter {
  return new TargetConverter({
    job: 'bench',
    instance: '127.0.0.1:9100',
    targetLabels: [['instance', '127.0.0.1:9100'], ['job', 'bench']],
    scheme: 'http',
    honorLabels: false,
    honorTimestamps: true,
    metricRules: [],
    sampleLimit: 0,
    labelLimit: 0,
    labelNameLengthLimit: 0,
    labelValueLengthLimit: 0,
    externalLabels: {},
    shareAttributes: () => share,
  });
}
const conv = converter(false);
const shared = converter(true);
let t = 1_700_000_000_000;

const bench = new Bench({ time: Number(process.env.BENCH_TIME_MS ?? 3000) });
bench
  .add(`parse text 0.0.4, ${SAMPLES} samples (${(text.length / 1e6).toFixed(1)} MB)`, () => {
    parseExposition(text, false, nop);
  })
  .add(`parse OpenMetrics, ${SAMPLES} samples`, () => {
    parseExposition(om, true, nop);
  })
  .add(`parse + convert to OTLP (steady state), ${SAMPLES} samples`, () => {
    conv.begin((t += 1000));
    parseExposition(text, false, conv);
    conv.finish(0.1);
  })
  .add(`parse + convert, attributes shared (read-only pipeline), ${SAMPLES} samples`, () => {
    shared.begin((t += 1000));
    parseExposition(text, false, shared);
    shared.finish(0.1);
  });
await bench.run();
console.table(bench.table());
