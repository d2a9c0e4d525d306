// kill -9 under load: with durable acknowledgement and file_storage, every
// span the daemon acknowledged to the client arrives after a restart, whether
// it was in the batch buffer, the sending queue or in flight when the process
// died.
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, spawnSieve, tempDir, waitFor, type SpawnedSieve } from '../helpers/sieve.js';
import { loadClient, metricValue, scrape, startBackend } from '../../src/durable/testdata/backend.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function config(p: { otlp: number; metrics: number; backend: number; dir: string; persistentQueue: boolean }): string {
  return `
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${p.otlp}
    durable:
      enabled: true
      storage: file_storage
processors:
  batch:
    timeout: 200ms
    send_batch_size: 400
exporters:
  otlphttp:
    endpoint: http://127.0.0.1:${p.backend}
    compression: none
    timeout: 2s
    retry_on_failure:
      initial_interval: 50ms
      max_interval: 200ms
      max_elapsed_time: 0s
    sending_queue:
      queue_size: 100000
${p.persistentQueue ? '      storage: file_storage' : ''}
extensions:
  file_storage:
    directory: ${p.dir}
service:
  extensions: [file_storage]
  telemetry:
    metrics:
      address: 127.0.0.1:${p.metrics}
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlphttp]
`;
}

async function killUnderLoad(persistentQueue: boolean): Promise<void> {
  const backend = await startBackend(0, { status: 200, delayMs: 20 });
  cleanup.push(() => backend.stop());
  const p = { otlp: await freePort(), metrics: await freePort(), backend: backend.port, dir: tempDir('sieve-kill9-'), persistentQueue };
  const yaml = config(p);
  const first: SpawnedSieve = await spawnSieve(yaml, { dir: p.dir });
  cleanup.push(() => first.kill('SIGKILL'));

  const client = loadClient(p.otlp, { perRequest: 20, concurrency: 4 });
  await waitFor(() => client.acked.size >= 2000, { what: 'load to build up', timeoutMs: 20_000 });
  // The backend goes away while the client keeps going: what is acknowledged now is only in Sieve.
  await backend.down();
  const ackedBefore = client.acked.size;
  await waitFor(() => client.acked.size >= ackedBefore + 400, { what: 'more acknowledgements while the backend is down' });
  first.proc.kill('SIGKILL');
  await first.exited;
  await client.stop();
  const acked = [...client.acked];
  const missing = acked.filter((s) => !backend.seqs.has(s));
  expect(missing.length).toBeGreaterThan(0); // the crash really did catch acknowledged data in Sieve

  await backend.up();
  const second = await spawnSieve(yaml, { dir: p.dir });
  cleanup.push(() => second.kill('SIGKILL'));
  await waitFor(() => acked.every((s) => backend.seqs.has(s)), { what: `all ${acked.length} acknowledged spans to arrive`, timeoutMs: 30_000 });
  expect(acked.filter((s) => !backend.seqs.has(s))).toEqual([]);

  // Once everything is delivered, storage empties: nothing stays pinned.
  await waitFor(async () => {
    const text = await scrape(p.metrics);
    return metricValue(text, 'sieve_storage_used_bytes', { storage: 'file_storage' }) === 0 && metricValue(text, 'sieve_durable_pending_requests') === 0;
  }, { what: 'storage to drain', timeoutMs: 20_000 });
  // What the kill caught sits in the persistent queue (batches the backend never took, the durable
  // requests themselves once the queue took them over) and, with an in-memory queue, in the receiver's
  // records alone. Whether the batch buffer held anything at the kill is a matter of timing.
  expect(second.stderr()).toContain(persistentQueue ? 'Resuming the persistent queue backlog' : 'Replaying durably stored requests');
  expect(await second.kill('SIGTERM')).toBe(0);
}

describe('reliability: kill -9 with durable acknowledgement', () => {
  it('loses no acknowledged span with a persistent sending queue', async () => {
    await killUnderLoad(true);
  });

  it('loses no acknowledged span with an in-memory sending queue (durable replay covers it)', async () => {
    await killUnderLoad(false);
  });
});
