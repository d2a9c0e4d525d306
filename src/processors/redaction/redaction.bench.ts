// Micro-benchmarks of the redaction processor.
//
//   node --import tsx src/processors/redaction/redaction.bench.ts
//   BENCH_FILTER='benign' node --import tsx src/processors/redaction/redaction.bench.ts
//
// Batches are 100 spans with 20 string attributes each (realistic HTTP/DB/k8s
// values, a span name and, for the secret-heavy mixes, some values carrying a
// secret from the corpus), default detectors, allow_all_keys: true.
// Figures are per span on one core; BENCH_TIME_MS sets the time per task,
// BENCH_FILTER runs only the tasks whose name contains it.
import { Bench } from 'tinybench';
import { tracesCodec } from '../../pdata/codec.js';
import { Telemetry } from '../../pdata/telemetry.js';
import { benchTraces } from '../../pdata/testdata/fixtures.js';
import { Issues } from '../../config/schema.js';
import { nopLogger } from '../../service/logger.js';
import { SelfTelemetry } from '../../service/telemetry.js';
import { nopConsumer } from '../../component/component.js';
import { benignCorpus } from '../../../test/corpus/benign.js';
import { redactionSchema, type RedactionConfig } from './config.js';
import { DETECTORS, DetectorEngine, DEFAULT_DETECTORS } from './detectors.js';
import { RedactionProcessor } from './processor.js';
import { POOL, protos, SECRETS, SPANS } from './testdata/bench.js';

const TIME_MS = Number(process.env.BENCH_TIME_MS ?? 1000);

function processor(over: Record<string, unknown> = {}, opts: { cleanMaxLen?: number } = {}): RedactionProcessor {
  const issues = new Issues();
  const cfg = redactionSchema.parse({ allow_all_keys: true, ...over }, [], issues) as RedactionConfig;
  if (issues.hasErrors()) throw new Error(JSON.stringify(issues.list));
  return new RedactionProcessor({ id: 'redaction', kind: 'processor', logger: nopLogger, telemetry: new SelfTelemetry(), instanceId: 'bench', now: Date.now }, cfg, 'traces', nopConsumer, opts);
}

/** A task over a freshly decoded batch per iteration (cycling through `pool`); the decode runs in beforeEach, outside the timing. */
function onFreshBatch(bench: Bench, name: string, pool: Uint8Array[], fn: (t: Telemetry<'traces'>) => void): void {
  let cur: Telemetry<'traces'> | undefined;
  let k = 0;
  bench.add(name, () => fn(cur!), {
    beforeEach: () => {
      cur = Telemetry.fromProto('traces', pool[k++ % pool.length]!, SPANS);
      cur.read();
    },
  });
}

async function main(): Promise<void> {
  const p = processor();
  const benign = protos(0);
  const mixes = [
    ['benign', benign],
    ['1% secret values', protos(100)],
    ['10% secret values', protos(10)],
    ['50% secret values', protos(2)],
  ] as const;
  const fixture = [tracesCodec.encode(benchTraces(SPANS, 20))];
  const pHash = processor({ hash_function: 'hmac-sha256', hmac_key: 'bench-key-0123456789abcdef' });
  const pNone = processor({ detectors: [] });
  const pSummary = processor({ summary: 'debug' });
  const pCold = processor({}, { cleanMaxLen: 0 });

  const bench = new Bench({ time: TIME_MS, warmupTime: 300 });
  // On the wire bytes (what the daemon runs for a batch that arrived as protobuf): nothing decoded.
  for (const [name, pool] of mixes) {
    let i = 0;
    bench.add(`on bytes: redact 100 spans x 20 str attrs, ${name}`, () => {
      p.redact(Telemetry.fromProto('traces', pool[i++ % pool.length]!, SPANS));
    });
  }
  {
    let i = 0;
    bench.add('on bytes: redact benchTraces fixture (20 mixed attrs)', () => {
      p.redact(Telemetry.fromProto('traces', fixture[i++ % fixture.length]!, SPANS));
    });
    bench.add('on bytes: redact, 10% secret values, hmac-sha256', () => {
      pHash.redact(Telemetry.fromProto('traces', mixes[2][1][i++ % POOL]!, SPANS));
    });
  }
  for (const [name, pool] of mixes) onFreshBatch(bench, `model: redact 100 spans x 20 str attrs, ${name}`, pool, (t) => p.process(t));
  onFreshBatch(bench, 'redact, benign, clean-value table off (every value scanned)', benign, (t) => pCold.process(t));
  onFreshBatch(bench, 'redact, 10% secret values, hmac-sha256', mixes[2][1], (t) => pHash.process(t));
  onFreshBatch(bench, 'redact, benign, no detectors (key rules only)', benign, (t) => pNone.process(t));
  onFreshBatch(bench, 'redact, benign, summary: debug', benign, (t) => pSummary.process(t));
  onFreshBatch(bench, 'redact benchTraces fixture (20 mixed attrs)', fixture, (t) => p.process(t));
  onFreshBatch(bench, 'redact benchTraces fixture, clean-value table off', fixture, (t) => pCold.process(t));
  // What "mutate only on hit" saves: a clean batch keeps its protobuf bytes. Both include the decode.
  let k = 0;
  bench.add('clean batch: decode + redact, bytes kept (no re-encode)', async () => {
    const t = Telemetry.fromProto('traces', benign[k++ % POOL]!, SPANS);
    await p.consume(t);
    t.toProto();
  });
  bench.add('clean batch: decode + redact + forced re-encode', async () => {
    const t = Telemetry.fromProto('traces', benign[k++ % POOL]!, SPANS);
    await p.consume(t);
    t.mutate();
    t.toProto();
  });

  // The detector engine alone, per value.
  const engine = new DetectorEngine({ detectors: DEFAULT_DETECTORS });
  const mask = (d: number) => `[REDACTED:${DETECTORS[d]}]`;
  const corpus = benignCorpus().map((b) => b.value);
  bench.add(`engine: ${corpus.length} benign corpus values`, () => {
    for (let i = 0; i < corpus.length; i++) engine.redact(corpus[i]!, mask);
  });
  bench.add(`engine: ${SECRETS.length} secret corpus values`, () => {
    for (let i = 0; i < SECRETS.length; i++) engine.redact(SECRETS[i]!, mask);
  });

  // The prefilter over the bytes of values as they lie in a request: 1000 values of 51 bytes,
  // a URL with a colon (the ':' / '=' context pass runs) and one without.
  const url = new TextEncoder().encode('value-3-https://shop.example.com/api/v1/items/12345');
  const noColon = new TextEncoder().encode('value-3-https//shop.example.com/api/v1/items/12345');
  bench.add('engine: 1000 prefilter candidatesBytes, 51-byte URL', () => {
    for (let i = 0; i < 1000; i++) engine.candidatesBytes(url, 0, url.length);
  });
  bench.add('engine: 1000 prefilter candidatesBytes, 51 bytes without a colon', () => {
    for (let i = 0; i < 1000; i++) engine.candidatesBytes(noColon, 0, noColon.length);
  });

  const only = process.env.BENCH_FILTER;
  if (only) for (const t of bench.tasks) if (!t.name.includes(only)) bench.remove(t.name);
  await bench.run();
  const rows = bench.tasks.map((t) => {
    const r = t.result as unknown as { latency: { mean: number; p50: number; min: number } };
    const per = t.name.startsWith('engine:') ? Number(/(\d+)/.exec(t.name.slice(8))![1]) : SPANS;
    const unit = t.name.startsWith('engine:') ? 'value' : 'span';
    const us = (ms: number) => ((ms * 1000) / per).toFixed(2);
    return { task: t.name, [`µs/${unit} median`]: us(r.latency.p50), [`µs/${unit} min`]: us(r.latency.min), [`µs/${unit} mean`]: us(r.latency.mean), samples: t.runs };
  });
  console.table(rows);
}

await main();
