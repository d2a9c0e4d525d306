// Self-telemetry through a real daemon: the Prometheus endpoint passes
// `promtool check metrics` and carries the Collector's metric names.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensurePrometheus, promtoolCheckMetrics } from '../helpers/prometheus.js';
import { freePort, spawnSieve, tempDir, waitFor } from '../helpers/sieve.js';
import { metricValue, postSpans, scrape, startBackend } from '../../src/durable/testdata/backend.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

beforeAll(async () => {
  await ensurePrometheus();
}, 300_000);

describe('reliability: self-telemetry', () => {
  it('serves metrics that pass promtool check metrics, under the Collector names', async () => {
    const backend = await startBackend();
    cleanup.push(() => backend.stop());
    const [otlp, metrics] = [await freePort(), await freePort()];
    const sieve = await spawnSieve(`
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${otlp}
    durable: true
processors:
  batch:
    timeout: 10ms
exporters:
  otlphttp:
    endpoint: http://127.0.0.1:${backend.port}
    sending_queue:
      storage: file_storage
extensions:
  file_storage:
    directory: ${tempDir('sieve-metrics-')}
  health_check:
    endpoint: 127.0.0.1:0
service:
  extensions: [file_storage, health_check]
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
    for (let i = 0; i < 5; i++) expect((await postSpans(otlp, i * 10, 10)).status).toBe(200);
    await waitFor(() => backend.seqs.size === 50, { what: 'delivery' });
    // A refused request too, so the refused counters have samples.
    expect((await fetch(`http://127.0.0.1:${otlp}/v1/traces`, { method: 'POST', headers: { 'Content-Type': 'application/x-protobuf' }, body: new Uint8Array([0x0a, 0x05, 0x01]) })).status).toBe(400);

    const text = await waitFor(async () => {
      const t = await scrape(metrics);
      return metricValue(t, 'otelcol_exporter_sent_spans_total', { exporter: 'otlphttp' }) === 50 ? t : undefined;
    }, { what: 'sent spans to be counted' });

    const check = await promtoolCheckMetrics(text);
    expect(check).toEqual({ code: 0, output: '' });

    for (const name of [
      'otelcol_receiver_accepted_spans_total',
      'otelcol_receiver_refused_spans_total',
      'otelcol_exporter_sent_spans_total',
      'otelcol_exporter_send_failed_spans_total',
      'otelcol_exporter_enqueue_failed_spans_total',
      'otelcol_exporter_queue_size',
      'otelcol_exporter_queue_capacity',
      'otelcol_processor_incoming_items_total',
      'otelcol_processor_outgoing_items_total',
      'otelcol_process_uptime',
      'otelcol_process_cpu_seconds',
      'otelcol_process_memory_rss',
      'otelcol_process_runtime_heap_alloc_bytes',
      'sieve_storage_used_bytes',
      'sieve_durable_persisted_requests_total',
    ]) {
      expect(text, name).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
    }
    expect(metricValue(text, 'otelcol_receiver_accepted_spans_total', { receiver: 'otlp', transport: 'http' })).toBe(50);
    expect(metricValue(text, 'otelcol_processor_incoming_items_total', { processor: 'batch' })).toBe(50);
    expect(metricValue(text, 'otelcol_processor_outgoing_items_total', { processor: 'batch' })).toBe(50);
    expect(metricValue(text, 'sieve_durable_persisted_requests_total', { receiver: 'otlp' })).toBe(5);
    expect(metricValue(text, 'otelcol_exporter_queue_capacity', { exporter: 'otlphttp', data_type: 'traces' })).toBe(1000);
    expect(metricValue(text, 'otelcol_process_memory_rss')).toBeGreaterThan(0);
  });
});
