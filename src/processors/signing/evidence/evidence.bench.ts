// Micro-benchmarks of evidence: the added cost per span of the Merkle leaf
// and tree, and the per-batch cost of sealing (manifest, Ed25519 DSSE
// signature).
//
//   node --import tsx src/processors/signing/evidence/evidence.bench.ts
//
// Batches of BENCH_SPANS (8192) spans with BENCH_ATTRS (20) attributes, from
// the shared codec fixtures; the canonical forms are computed once outside
// the timing (signing computes them anyway), so the figures are what
// evidence adds on top of signing.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nopLogger } from '../../../service/logger.js';
import { EvidenceRecorder } from './recorder.js';
import { Bench } from 'tinybench';
import { tracesCodec } from '../../../pdata/codec.js';
import { benchTraces } from '../../../pdata/testdata/fixtures.js';
import { CanonicalEncoder, RECORD_SPAN, RESERVED } from '../canonical.js';
import { signEnvelope } from './dsse.js';
import { MANIFEST_TYPE, PAYLOAD_TYPE, encodeManifest } from './manifest.js';
import { LeafBuffer, rootOfConcat } from './merkle.js';

const SPANS = Number(process.env.BENCH_SPANS ?? 8192);
const ATTRS = Number(process.env.BENCH_ATTRS ?? 20);
const TIME_MS = Number(process.env.BENCH_TIME_MS ?? 1000);

const enc = new CanonicalEncoder();
const forms: Buffer[] = [];
for (const rs of tracesCodec.decode(tracesCodec.encode(benchTraces(SPANS, ATTRS)))) {
  enc.beginResource(RECORD_SPAN, rs.resource.attributes);
  for (const ss of rs.scopeSpans) {
    enc.beginScope(ss.scope);
    for (const sp of ss.spans) forms.push(Buffer.from(enc.buf.subarray(RESERVED, enc.span(sp))));
  }
}
const avg = Math.round(forms.reduce((a, f) => a + f.length, 0) / forms.length);
const { privateKey } = generateKeyPairSync('ed25519');
const leaves = new LeafBuffer();
for (const f of forms) leaves.addEntry(f);
const concat = leaves.bytes();

const bench = new Bench({ time: TIME_MS, warmupTime: 300 });
bench.add('leaves (SHA-256 of 0x00 || form)', () => {
  leaves.reset();
  for (let i = 0; i < forms.length; i++) leaves.addEntry(forms[i]!);
});
bench.add('tree root over the leaves', () => void rootOfConcat(concat, SPANS));
bench.add('leaves + tree', () => {
  leaves.reset();
  for (let i = 0; i < forms.length; i++) leaves.addEntry(forms[i]!);
  rootOfConcat(leaves.bytes(), leaves.size);
});
bench.add('seal: manifest + Ed25519 DSSE (per batch)', () => {
  const payload = encodeManifest({ type: MANIFEST_TYPE, stream: 'bench/traces', seq: 1, prev: '', kid: 'ev1', time_unix_nano: '0', counts: { spans: SPANS, logs: 0 }, tree_size: SPANS, root: 'AAAA' });
  signEnvelope(PAYLOAD_TYPE, payload, [{ kid: 'ev1', key: privateKey }]);
});
const dir = mkdtempSync(join(tmpdir(), 'sieve-evidence-bench-'));
writeFileSync(join(dir, 'ev.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
const recorder = new EvidenceRecorder({
  cfg: { kid: 'ev1', private_key_file: join(dir, 'ev.key'), private_key: undefined, previous_keys: [], file: { path: join(dir, 'm.jsonl'), max_megabytes: 100, max_backups: 0, include_leaves: false }, logs_exporter: undefined, timestamp_authority: undefined, timestamp_timeout: 5000 },
  statePath: join(dir, 'state.json'),
  logger: nopLogger,
  now: Date.now,
});
let seq = 0;
bench.add('recorder.seal: + state write + file line (per batch)', () => void recorder.seal('bench/traces', ++seq));
await bench.run();
rmSync(dir, { recursive: true, force: true });
console.log(`\n${SPANS} spans per batch, ${ATTRS} attributes per span, canonical form ${avg} bytes on average`);
for (const t of bench.tasks) {
  const r = t.result as unknown as { latency: { mean: number; p50: number; rme: number } };
  const perBatch = t.name.includes('per batch');
  const div = perBatch ? 1 : SPANS;
  const unit = perBatch ? 'µs/batch' : 'µs/span';
  console.log(`  ${t.name.padEnd(44)} mean ${((r.latency.mean * 1000) / div).toFixed(3).padStart(8)} ${unit}  median ${((r.latency.p50 * 1000) / div).toFixed(3).padStart(8)} ${unit}  ±${r.latency.rme.toFixed(1)}%`);
}
