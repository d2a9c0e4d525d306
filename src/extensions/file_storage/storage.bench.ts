// Micro-benchmark of the storage hot path: appending requests (group commit
// of 16 per event-loop turn, as under load) and deleting them again, the
// lifecycle of a durably acknowledged request; and a persistent queue
// offer → take → done round trip.
//
//   node --import tsx src/extensions/file_storage/storage.bench.ts
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bench } from 'tinybench';
import { Issues } from '../../config/schema.js';
import { host, settings, traces } from '../../durable/testdata/fixtures.js';
import { helperFields, type HelperConfig } from '../../exporters/exporterhelper/helper.js';
import { s } from '../../config/schema.js';
import { fileStorageSchema } from './config.js';
import { FileStorage } from './storage.js';

const PER_TURN = 16;

async function open(fsync: boolean): Promise<FileStorage> {
  const cfg = fileStorageSchema.parse({ directory: mkdtempSync(join(tmpdir(), 'sieve-bench-fs-')), fsync, max_size_bytes: 0 }, [], new Issues());
  const st = new FileStorage(settings('file_storage'), cfg);
  await st.start(host());
  return st;
}

const request = traces(0, 100).toProto(); // one OTLP request of 100 spans
const stores = { nosync: await open(false), fsync: await open(true) };
const queueCfg = (s.object(helperFields).parse({ sending_queue: { queue_size: 1_000_000 } }, [], new Issues()) as HelperConfig).sending_queue;
const queue = stores.nosync.createQueue('bench', 'traces', queueCfg, () => 1);
await queue.start?.(host());
const batch = traces(0, 100);

const bench = new Bench({ time: 2000 });
for (const [name, st] of Object.entries(stores)) {
  bench.add(`append+remove ${PER_TURN} requests of ${request.length} B in one commit (fsync ${name === 'fsync'})`, async () => {
    const infos = await Promise.all(Array.from({ length: PER_TURN }, () => st.append('durable/bench', 'traces', request, 100, {})));
    for (const i of infos) st.remove(i.id, i.size);
  });
}
bench.add(`persistent queue offer+take+done, ${PER_TURN} batches per commit`, async () => {
  await Promise.all(Array.from({ length: PER_TURN }, () => queue.offer(batch)));
  for (let i = 0; i < PER_TURN; i++) (await queue.take())!.done(true);
});

await bench.run();
console.table(
  bench.tasks.map((t) => ({
    task: t.name,
    'ops/s': Math.round(t.result!.throughput.mean),
    'requests/s': Math.round(t.result!.throughput.mean * PER_TURN),
    'MB/s': ((t.result!.throughput.mean * PER_TURN * request.length) / 1e6).toFixed(1),
    'p99 ms': t.result!.latency.p99?.toFixed(2),
  })),
);
for (const st of Object.values(stores)) await st.shutdown();
