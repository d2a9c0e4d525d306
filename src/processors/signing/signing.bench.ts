// Micro-benchmarks of span signing.
//
//   node --import tsx src/processors/signing/signing.bench.ts
//   BENCH_FILTER='on bytes' BENCH_TIME_MS=5000 node --import tsx src/processors/signing/signing.bench.ts
//
// Batches are 100 spans with 20 realistic attributes (the shared codec
// fixtures), decoded from protobuf first so that strings are what the receiver
// produces. Figures are per span on one core.
import { tmpdir } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Bench } from 'tinybench';
import { tracesCodec } from '../../pdata/codec.js';
import type { ResourceSpans } from '../../pdata/model.js';
import { benchTraces } from '../../pdata/testdata/fixtures.js';
import { CanonicalEncoder, RECORD_SPAN } from './canonical.js';
import { ChainStamper } from './chain.js';
import { Signer, ItemVerifier } from './sign.js';
import { WireSigner } from './wire.js';
import { RESERVED } from './canonical.js';
import { ALG_INFO } from './mac.js';

const SPANS = 100;
const ATTRS = Number(process.env.BENCH_ATTRS ?? 20);
const TIME_MS = Number(process.env.BENCH_TIME_MS ?? 1000);
// BENCH_FILTER runs only the tasks whose name contains it.
const secret = Buffer.alloc(32, 7);
const proto = tracesCodec.encode(benchTraces(SPANS, ATTRS));

async function main(): Promise<void> {
  const enc = new CanonicalEncoder();
  const decoded = tracesCodec.decode(proto);
  const s256 = new Signer('hmac-sha256', secret, 'k1');
  const s512 = new Signer('hmac-sha512', secret, 'k1');
  // Each iteration signs a freshly decoded batch; decoding happens in beforeEach, outside the timing.
  let batch: ResourceSpans[] = [];
  const fresh = { beforeEach: () => void (batch = tracesCodec.decode(proto)) };
  const signedBatch = tracesCodec.decode(proto);
  s256.signTraces(signedBatch);
  const verifier = new ItemVerifier({ keys: new Map([['k1', secret]]), anyKeys: [], signingKeyId: undefined });
  const dir = mkdtempSync(join(tmpdir(), 'sieve-sign-bench-'));
  const chain = ChainStamper.open({ path: join(dir, 'state.json'), stream: 'bench/traces', alg: 'hmac-sha256', key: s256.key, kid: 'k1' });

  const bench = new Bench({ time: TIME_MS, warmupTime: 300 });
  bench.add('canonical encoding only', () => {
    for (const rs of decoded) {
      enc.beginResource(RECORD_SPAN, rs.resource.attributes);
      for (const ss of rs.scopeSpans) {
        enc.beginScope(ss.scope);
        for (const sp of ss.spans) enc.span(sp);
      }
    }
  });
  // On the wire bytes, as the daemon signs a batch that holds its request bytes: no decode, no re-encode.
  const w256 = new WireSigner(s256.key, 'k1', RESERVED - ALG_INFO['hmac-sha256'].block);
  const st = { signed: 0, unsignedDepth: 0, unsignedSize: 0 };
  // The last 32 outputs stay referenced, as a pipeline holds signed requests
  // in its batch and exporter queue. With one output alive at a time, glibc
  // trims the heap's top on each free and every new output faults its pages
  // in again: 19 page faults per call and 7.3-7.5 µs per span, against 4 and
  // 5.3-5.5 with the ring (perf stat, same build).
  const ring: Uint8Array[] = new Array(32);
  let r = 0;
  bench.add('on bytes: sign hmac-sha256', () => void (ring[r++ & 31] = w256.sign('traces', proto, st)));
  bench.add('decode + sign hmac-sha256 + encode', () => void tracesCodec.encode(s256.signTraces(tracesCodec.decode(proto)) && tracesCodec.decode(proto)));
  bench.add('sign hmac-sha256', () => void s256.signTraces(batch), fresh);
  bench.add('sign hmac-sha512', () => void s512.signTraces(batch), fresh);
  bench.add('sign hmac-sha256 + chain stamp', () => {
    const macs: string[] = [];
    s256.signTraces(batch, macs);
    chain.stamp(batch, macs).persisted.catch(() => undefined);
  }, fresh);
  bench.add('verify hmac-sha256', () => {
    for (const rs of signedBatch) {
      verifier.beginResource('span', rs.resource.attributes);
      for (const ss of rs.scopeSpans) {
        verifier.beginScope(ss.scope);
        for (const sp of ss.spans) verifier.checkSpan(sp);
      }
    }
  });
  const only = process.env.BENCH_FILTER;
  if (only) for (const t of [...bench.tasks]) if (!t.name.includes(only)) bench.remove(t.name);
  await bench.run();
  await chain.flush();
  rmSync(dir, { recursive: true, force: true });
  console.log(`\nper span, ${SPANS} spans per batch, ${ATTRS} attributes per span (batch decoding excluded)`);
  for (const t of bench.tasks) {
    const r = t.result as unknown as { latency: { mean: number; p50: number; rme: number } };
    const mean = (r.latency.mean * 1000) / SPANS;
    const p50 = (r.latency.p50 * 1000) / SPANS;
    console.log(`  ${t.name.padEnd(34)} mean ${mean.toFixed(2).padStart(6)} µs/span  median ${p50.toFixed(2).padStart(6)} µs/span  ${Math.round(1e6 / p50).toLocaleString('en-US').padStart(9)} spans/s  ±${r.latency.rme.toFixed(1)}%`);
  }
}

await main();
