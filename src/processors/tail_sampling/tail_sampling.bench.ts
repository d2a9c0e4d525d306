// Micro-benchmarks of tail_sampling's hot paths on a 100-span request
// (10 traces of 10 spans, 5 attributes each).
//
//   node --import tsx src/processors/tail_sampling/tail_sampling.bench.ts
//
// Figures are spans (or lookups) per second on one core.
import { Bench } from 'tinybench';
import { ProtoWriter } from '../../pdata/proto/writer.js';
import { TraceIdCache } from './id_cache.js';
import { buildEvaluator, decide, Needs, type NamedPolicy } from './policies.js';
import { makeLabel, relabel } from './relabel.js';
import { appendGroup, mergeFacts, Splitter } from './split.js';
import { keyBytes, TraceEntry } from './trace.js';
import { mkSpan, request, resource, traceId } from './testutil.js';
import { idKey } from './trace.js';

const TIME_MS = Number(process.env.BENCH_TIME_MS ?? 1000);
const spans = [];
for (let t = 0; t < 10; t++) {
  for (let s = 0; s < 10; s++) {
    spans.push(
      mkSpan({
        trace: t,
        span: t * 10 + s,
        parent: s === 0 ? undefined : t * 10,
        durMs: 3 + s,
        attrs: { 'http.request.method': 'GET', 'url.path': `/api/v1/items/${s}`, 'server.address': 'shop.example.com', 'http.response.status_code': 200, 'db.system': 'postgresql' },
      }),
    );
  }
}
const src = request([resource(spans, { 'service.name': 'checkout', 'host.name': 'node-17' })]).toProto();

const needsNone = new Needs();
const needsAttrs = new Needs();
const policies: NamedPolicy[] = [
  { name: 'errors', type: 'status_code', status_code: { status_codes: ['ERROR'] } },
  { name: 'slow', type: 'latency', latency: { threshold_ms: 500, upper_threshold_ms: 0 } },
  { name: 'health', type: 'drop', drop: { drop_sub_policy: [{ name: 'h', type: 'string_attribute', string_attribute: { key: 'url.path', values: ['/healthz'], enabled_regex_matching: false, cache_max_size: 0, invert_match: false } }] } },
  { name: 'sample', type: 'probabilistic', probabilistic: { sampling_percentage: 10, hash_salt: '', hash_seed: undefined } },
].map((p) => ({ name: p.name, evaluator: buildEvaluator(p as never, needsAttrs) }));
const splitNone = new Splitter(needsNone);
const splitAttrs = new Splitter(needsAttrs);

const groups = splitAttrs.split(src);
const entries = groups.map((g) => {
  const t = new TraceEntry(g.key, 0, 0, g.size, undefined);
  appendGroup(t, g, src);
  mergeFacts(t, g, needsAttrs);
  return t;
});
const scratch = new Uint8Array(16);
const label = [makeLabel('sampling.policy', 'errors')];
const w = new ProtoWriter(64 * 1024);

const cache = new TraceIdCache(1_000_000);
const keys: string[] = [];
for (let i = 0; i < 100_000; i++) keys.push(idKey(traceId(i), 0, 16));
for (let i = 0; i < 1_000_000; i++) cache.set(idKey(traceId(i + 1_000_000), 0, 16), 1, 0);
let ki = 0;

const bench = new Bench({ time: TIME_MS, warmupTime: 200 });
bench
  .add('split (no watched attributes)', () => splitNone.split(src))
  .add('split (watching url.path)', () => splitAttrs.split(src))
  .add('split + append into traces', () => {
    for (const g of splitAttrs.split(src)) {
      const t = new TraceEntry(g.key, 0, 0, g.size, undefined);
      appendGroup(t, g, src);
      mergeFacts(t, g, needsAttrs);
    }
  })
  .add('decide (4 policies)', () => {
    for (const t of entries) decide(policies, { trace: t, traceId: keyBytes(t.key, scratch), nowMs: 0 }, false);
  })
  .add('relabel (record_policy)', () => {
    for (const t of entries) {
      w.reset();
      relabel(t.bytes(), label, w);
    }
  })
  .add('decision cache get+set (1M entries), x100', () => {
    for (let i = 0; i < 100; i++) {
      const k = keys[ki++ % keys.length]!;
      if (cache.get(k) < 0) cache.set(k, 1, 0);
    }
  });
await bench.run();
console.log('\ntail_sampling hot paths (per 100-span request; spans/s or lookups/s on one core)');
for (const t of bench.tasks) {
  const r = t.result as unknown as { throughput: { mean: number }; latency: { rme: number } };
  console.log(`  ${t.name.padEnd(44)} ${Math.round(r.throughput.mean * 100).toLocaleString('en-US').padStart(12)} /s  ±${r.latency.rme.toFixed(1)}%`);
}
