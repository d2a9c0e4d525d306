// Storage failures through a real daemon: an unwritable storage location and
// a full storage give a clear error, a degraded /readyz, retryable answers to
// clients, and no crash.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, spawnSieve, tempDir, waitFor } from '../helpers/sieve.js';
import { postSpans, startBackend } from '../../src/durable/testdata/backend.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function config(p: { otlp: number; health: number; backend: number; storage: string }): string {
  return `
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${p.otlp}
    durable:
      enabled: true
exporters:
  otlphttp:
    endpoint: http://127.0.0.1:${p.backend}
    compression: none
    retry_on_failure:
      initial_interval: 50ms
      max_interval: 100ms
      max_elapsed_time: 0s
    sending_queue:
      storage: file_storage
extensions:
  health_check:
    endpoint: 127.0.0.1:${p.health}
  file_storage:
${p.storage}
service:
  extensions: [health_check, file_storage]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlphttp]
`;
}

async function readyz(port: number): Promise<{ code: number; body: { status: string; components: Record<string, { status: string; detail?: string }> } }> {
  const r = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { code: r.status, body: (await r.json()) as never };
}

describe('reliability: storage failures', () => {
  it('runs degraded with a clear error when the storage location is unwritable, and refuses with 503 + Retry-After', async () => {
    const backend = await startBackend();
    cleanup.push(() => backend.stop());
    const dir = tempDir('sieve-unwritable-');
    writeFileSync(join(dir, 'file'), 'not a directory');
    const storageDir = join(dir, 'file', 'storage');
    const p = { otlp: await freePort(), health: await freePort(), backend: backend.port };
    const sieve = await spawnSieve(config({ ...p, storage: `    directory: ${storageDir}\n    create_directory: true\n    reopen_interval: 200ms` }));
    cleanup.push(() => sieve.kill('SIGKILL'));

    const r = await readyz(p.health);
    expect(r.code).toBe(200);
    expect(r.body.status).toBe('degraded');
    expect(r.body.components['file_storage']).toEqual({ status: 'degraded', detail: `storage unavailable: cannot create directory ${storageDir}: a parent is not a directory` });
    const logs = sieve.stderr().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logs.find((l) => l['log.level'] === 'error')).toMatchObject({
      message: 'Cannot open storage; data that needs it is refused until it opens.',
      'otelcol.component.id': 'file_storage',
      'error.message': `cannot create directory ${storageDir}: a parent is not a directory`,
    });

    const res = await postSpans(p.otlp, 0, 5);
    expect(res.status).toBe(503);
    expect(Number(res.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(res.body).toContain('file_storage is unavailable');
    expect(sieve.proc.exitCode).toBeNull();
    expect(backend.seqs.size).toBe(0);
  });

  it('refuses with 429 + Retry-After when storage is full, and accepts again once the backlog drains', async () => {
    const backend = await startBackend();
    cleanup.push(() => backend.stop());
    await backend.down();
    const p = { otlp: await freePort(), health: await freePort(), backend: backend.port };
    const sieve = await spawnSieve(config({ ...p, storage: `    directory: ${tempDir('sieve-full-')}\n    max_size_bytes: 64KiB` }));
    cleanup.push(() => sieve.kill('SIGKILL'));

    let seq = 0;
    let refused: Awaited<ReturnType<typeof postSpans>> | undefined;
    const accepted: number[] = [];
    for (let i = 0; i < 200 && !refused; i++) {
      const r = await postSpans(p.otlp, seq, 50);
      if (r.status === 200) for (let k = 0; k < 50; k++) accepted.push(seq + k);
      else refused = r;
      seq += 50;
    }
    expect(refused?.status).toBe(429);
    expect(Number(refused?.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(refused?.body).toContain('file_storage is full');
    const r = await readyz(p.health);
    expect(r.body.status).toBe('degraded');
    expect(r.body.components['file_storage']!.detail).toMatch(/^storage is full: \d+ of 65536 bytes used$/);
    expect(sieve.stderr()).toContain('Storage is full; refusing new data until records are delivered.');

    await backend.up();
    await waitFor(() => accepted.every((s) => backend.seqs.has(s)), { what: 'the backlog to drain', timeoutMs: 20_000 });
    await waitFor(async () => (await postSpans(p.otlp, seq, 50)).status === 200, { what: 'new data to be accepted again' });
    await waitFor(async () => (await readyz(p.health)).body.status === 'ok', { what: '/readyz back to ok' });
    expect(sieve.proc.exitCode).toBeNull();
  });
});
