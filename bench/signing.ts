// Pipeline throughput with signing on, in process: what the OTLP receiver
// hands on (validated request bytes) → signing processor → what the exporter
// sends (request bytes). Requests of 100 spans, 10 spans per trace, 20 (or
// --attrs) attributes. Compared with the same pipeline without signing, where
// bytes pass through untouched, and with the batch chain on.
//
//   node --import tsx bench/signing.ts [--attrs 20] [--requests 3000]
//
// Reports spans/s per core (process.cpuUsage over the measured phase, so the
// figure holds on a shared machine) and the added CPU per span.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Consumer, ProcessorComponent } from '../src/component/component.js';
import { Issues } from '../src/config/schema.js';
import { tracesCodec } from '../src/pdata/codec.js';
import { Telemetry } from '../src/pdata/telemetry.js';
import { signingSchema } from '../src/processors/signing/config.js';
import { signingFactory } from '../src/processors/signing/factory.js';
import { nopLogger } from '../src/service/logger.js';
import { SelfTelemetry } from '../src/service/telemetry.js';
import { traces } from '../test/helpers/model.js';
import { benchTraces } from '../src/pdata/testdata/fixtures.js';

const args = process.argv.slice(2);
const arg = (name: string, def: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const ATTRS = arg('--attrs', 20);
const REQUESTS = arg('--requests', 3000);
const SPANS = 100;

// Distinct requests (distinct trace ids), encoded once, as a receiver holds them.
const bodies: Uint8Array[] = [];
for (let i = 0; i < 32; i++) {
  const rs = ATTRS === 20 ? benchTraces(SPANS, ATTRS) : traces(SPANS, ATTRS, i * SPANS);
  bodies.push(tracesCodec.encode(rs));
}

/** The exporter's side: the request bytes it would send. */
const exporter: Consumer = {
  mutatesData: false,
  async consume(d) {
    sentBytes += d.toProto().length;
  },
};
let sentBytes = 0;

async function processor(raw: Record<string, unknown>): Promise<ProcessorComponent> {
  const issues = new Issues();
  const cfg = signingSchema.parse(raw, [], issues);
  if (issues.hasErrors()) throw new Error(JSON.stringify(issues.list));
  const telemetry = new SelfTelemetry();
  const p = signingFactory.create({ id: 'signing', kind: 'processor', logger: nopLogger, telemetry, instanceId: 'bench', pipelineId: 'traces', now: Date.now }, cfg, 'traces', exporter);
  await p.start({ getExtension: () => undefined, components: () => new Map(), registerAdminRoute: () => undefined, logger: nopLogger, telemetry });
  return p;
}

async function run(name: string, next: Consumer): Promise<{ name: string; perCore: number; usPerSpan: number }> {
  const once = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const b = bodies[i % bodies.length]!;
      await next.consume(Telemetry.fromProto('traces', b, tracesCodec.scan(b)));
    }
  };
  await once(300); // warm-up
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const c0 = process.cpuUsage();
    await once(REQUESTS);
    const c = process.cpuUsage(c0);
    best = Math.min(best, (c.user + c.system) / 1e6);
  }
  const spans = REQUESTS * SPANS;
  return { name, perCore: spans / best, usPerSpan: (best * 1e6) / spans };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sieve-sign-e2e-'));
  const key = { keys: [{ id: 'k1', secret: 'bench-signing-key-0123456789abcdef' }] };
  const results = [];
  results.push(await run('passthrough (bytes untouched)', exporter));
  const decodeOnly: Consumer = {
    mutatesData: true,
    consume: (d) => {
      d.mutate();
      return exporter.consume(d);
    },
  };
  results.push(await run('decode + re-encode, no signing', decodeOnly));
  const s256 = await processor({ ...key });
  results.push(await run('signing hmac-sha256', s256));
  const s512 = await processor({ ...key, algorithm: 'hmac-sha512' });
  results.push(await run('signing hmac-sha512', s512));
  const chained = await processor({ ...key, chain: true, state_directory: dir });
  results.push(await run('signing hmac-sha256 + chain', chained));
  for (const p of [s256, s512, chained]) await p.shutdown();
  rmSync(dir, { recursive: true, force: true });

  const base = results[1]!.usPerSpan;
  console.log(`\nin-process pipeline, ${SPANS} spans per request, ${ATTRS} attributes per span, ${REQUESTS} requests per round (best of 3, CPU time)`);
  for (const r of results) {
    const added = r.usPerSpan - base;
    console.log(`  ${r.name.padEnd(34)} ${Math.round(r.perCore).toLocaleString('en-US').padStart(10)} spans/s per core  ${r.usPerSpan.toFixed(2).padStart(6)} µs/span${r === results[0] || r === results[1] ? '' : `  (+${added.toFixed(2)} µs/span over decode + re-encode)`}`);
  }
  void sentBytes;
}

await main();
