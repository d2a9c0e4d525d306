// Exporter reliability through a real daemon process and a real backend on
// loopback: an outage then recovery, 429 with Retry-After, 400 not retried,
// and the readiness endpoint telling the truth along the way.
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, spawnSieve, waitFor, type SpawnedSieve } from '../helpers/sieve.js';
import { metricValue, postSpans, scrape, startBackend, type Backend } from '../../src/durable/testdata/backend.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

interface Daemon {
  sieve: SpawnedSieve;
  otlp: number;
  metrics: number;
  health: number;
}

async function daemon(backend: Backend, extra: { exporter?: string; service?: string; batch?: string } = {}): Promise<Daemon> {
  const [otlp, metrics, health] = [await freePort(), await freePort(), await freePort()];
  const sieve = await spawnSieve(`
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${otlp}
processors:
  batch:
    timeout: 20ms
${extra.batch ?? ''}
exporters:
  otlphttp:
    endpoint: http://127.0.0.1:${backend.port}
    compression: none
    timeout: 2s
    retry_on_failure:
      initial_interval: 50ms
      max_interval: 200ms
      max_elapsed_time: 0s
${extra.exporter ?? ''}
extensions:
  health_check:
    endpoint: 127.0.0.1:${health}
service:
  extensions: [health_check]
${extra.service ?? ''}
  telemetry:
    metrics:
      address: 127.0.0.1:${metrics}
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlphttp]
`);
  cleanup.push(() => sieve.kill('SIGKILL'));
  return { sieve, otlp, metrics, health };
}

async function readyz(port: number): Promise<{ code: number; body: { status: string; components: Record<string, { status: string; detail?: string }> } }> {
  const r = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { code: r.status, body: (await r.json()) as never };
}

describe('reliability: exporter helper end to end', () => {
  it('delivers everything accepted during a backend outage once the backend is back', async () => {
    const backend = await startBackend();
    cleanup.push(() => backend.stop());
    await backend.down();
    const d = await daemon(backend);

    for (let i = 0; i < 20; i++) expect((await postSpans(d.otlp, i * 10, 10)).status).toBe(200);
    const degraded = await waitFor(async () => {
      const r = await readyz(d.health);
      return r.body.status === 'degraded' ? r : undefined;
    }, { what: '/readyz to report the failing exporter' });
    expect(degraded.code).toBe(200);
    expect(degraded.body.components['otlphttp']!.detail).toMatch(/^export failing: /);
    expect(backend.seqs.size).toBe(0);

    await backend.up();
    await waitFor(() => backend.seqs.size === 200, { what: 'every span to arrive', timeoutMs: 20_000 });
    expect([...backend.seqs].sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    await waitFor(async () => (await readyz(d.health)).body.status === 'ok', { what: '/readyz back to ok' });
    const text = await scrape(d.metrics);
    expect(metricValue(text, 'otelcol_exporter_sent_spans_total', { exporter: 'otlphttp' })).toBe(200);
    expect(metricValue(text, 'otelcol_receiver_accepted_spans_total', { receiver: 'otlp' })).toBe(200);
  });

  it('honours a 429 Retry-After from the backend', async () => {
    const backend = await startBackend(0, { status: 429, retryAfter: '1', times: 1 });
    cleanup.push(() => backend.stop());
    const d = await daemon(backend);
    expect((await postSpans(d.otlp, 0, 5)).status).toBe(200);
    await waitFor(() => backend.seqs.size === 5, { what: 'the retried request' });
    expect(backend.requests.map((r) => r.status)).toEqual([429, 200]);
    // The exporter's own backoff is ~50ms; the second attempt waited for the server's second.
    expect(backend.requests[1]!.at - backend.requests[0]!.at).toBeGreaterThanOrEqual(990);
  });

  it('does not retry a 400, and counts the dropped spans', async () => {
    const backend = await startBackend(0, { status: 400 });
    cleanup.push(() => backend.stop());
    const d = await daemon(backend);
    expect((await postSpans(d.otlp, 0, 5)).status).toBe(200);
    await waitFor(async () => metricValue(await scrape(d.metrics), 'otelcol_exporter_send_failed_spans_total', { exporter: 'otlphttp' }) === 5, { what: 'the failure to be counted' });
    // Several retry intervals later there is still exactly one attempt.
    await new Promise((r) => setTimeout(r, 400));
    expect(backend.requests).toHaveLength(1);
    expect(backend.seqs.size).toBe(0);
    expect(d.sieve.stderr()).toContain('Exporting failed. Dropping data.');
  });

  it('answers 429 with Retry-After when the sending queue is full', async () => {
    const backend = await startBackend();
    cleanup.push(() => backend.stop());
    await backend.down();
    // The exporter's queue fills, then the batch processor's bounded buffer: the client is told to back off.
    const d = await daemon(backend, {
      exporter: `    sending_queue:
      queue_size: 2
      num_consumers: 1`,
      batch: '    send_batch_size: 2\n    max_buffered_items: 4',
    });
    const statuses: number[] = [];
    let retryAfter: string | undefined;
    for (let i = 0; i < 10 && !statuses.includes(429); i++) {
      const r = await postSpans(d.otlp, i, 1);
      statuses.push(r.status);
      if (r.status === 429) retryAfter = r.retryAfter;
      await new Promise((res) => setTimeout(res, 30)); // let the batch hand each request on
    }
    expect(statuses).toContain(429);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    const r = await readyz(d.health);
    expect(r.body.components['otlphttp']).toEqual({ status: 'degraded', detail: 'sending queue is full' });
  });

  it('answers 503 on /readyz while draining at shutdown', async () => {
    const backend = await startBackend(0, { status: 200, delayMs: 60_000 }); // accepts, never answers in time
    cleanup.push(() => backend.stop());
    const d = await daemon(backend, { service: '  shutdown_timeout: 2s' });
    expect((await readyz(d.health)).code).toBe(200);
    expect((await postSpans(d.otlp, 0, 5)).status).toBe(200);
    d.sieve.proc.kill('SIGTERM');
    const during = await waitFor(async () => {
      const r = await readyz(d.health).catch(() => undefined);
      return r && r.code === 503 ? r : undefined;
    }, { what: '/readyz to answer 503 while draining' });
    expect(during.body).toMatchObject({ status: 'error', detail: 'shutting down' });
    expect(await d.sieve.exited).toBe(0);
  });
});
