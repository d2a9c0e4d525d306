// Tail sampling through the daemon, fed by the real OpenTelemetry SDK: traces
// that contain an error span are always kept, the others are dropped; incident
// mode, switched on through the admin endpoint, keeps every trace.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpanStatusCode, context, trace } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { freePort, startSieve, startSink, waitFor, type RunningSieve, type Sink } from '../helpers/sieve.js';

let sink: Sink;
let sieve: RunningSieve;
let httpPort: number;
let adminPort: number;
const TOKEN = 'e2e-admin-token';

beforeAll(async () => {
  sink = await startSink();
  httpPort = await freePort();
  adminPort = await freePort();
  sieve = await startSieve(`
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${httpPort}
processors:
  tail_sampling:
    decision_wait: 200ms
    decision_cache:
      sampled_cache_size: 10000
      non_sampled_cache_size: 10000
    record_policy: true
    policies:
      - name: errors
        type: status_code
        status_code: { status_codes: [ERROR] }
      - name: drop-health
        type: drop
        drop:
          drop_sub_policy:
            - { name: health, type: string_attribute, string_attribute: { key: url.path, values: [/healthz] } }
exporters:
  otlp:
    endpoint: 127.0.0.1:${sink.grpcPort}
    tls: { insecure: true }
    sending_queue: { enabled: false }
service:
  admin:
    endpoint: 127.0.0.1:${adminPort}
    bearer_token: ${TOKEN}
  pipelines:
    traces:
      receivers: [otlp]
      processors: [tail_sampling]
      exporters: [otlp]
`);
});

afterAll(async () => {
  await sieve?.stop();
  await sink?.stop();
});

/** Sends `n` traces of 4 spans; trace i has an error span when `withError(i)`. Returns the trace ids by kind. */
async function sendTraces(n: number, withError: (i: number) => boolean, attrs: Record<string, string> = {}): Promise<{ error: Set<string>; ok: Set<string> }> {
  const exporter = new OTLPTraceExporter({ url: `http://127.0.0.1:${httpPort}/v1/traces` });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'checkout' }),
    spanProcessors: [new BatchSpanProcessor(exporter, { maxExportBatchSize: 7, scheduledDelayMillis: 10 })],
  });
  const tracer = provider.getTracer('e2e');
  const out = { error: new Set<string>(), ok: new Set<string>() };
  for (let i = 0; i < n; i++) {
    const root = tracer.startSpan('GET /checkout', { attributes: attrs });
    const ctx = trace.setSpan(context.active(), root);
    for (let c = 0; c < 3; c++) {
      const child = tracer.startSpan(`step-${c}`, {}, ctx);
      if (c === 1 && withError(i)) child.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
      child.end();
    }
    root.end();
    (withError(i) ? out.error : out.ok).add(root.spanContext().traceId);
  }
  await provider.forceFlush();
  await provider.shutdown();
  return out;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
function receivedSpans() {
  return sink.received.traces.flatMap((d) => d.read().flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)));
}

async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
  return sieve.svc.telemetry.value(name, labels);
}

describe('tail_sampling end to end (OpenTelemetry SDK → otlp receiver → tail_sampling → otlp exporter)', () => {
  it('always keeps traces containing an error span, and only those', async () => {
    const sent = await sendTraces(30, (i) => i % 3 === 0);
    await waitFor(async () => (await metric('otelcol_processor_tail_sampling_global_count_traces_sampled')) >= 30, { what: '30 decisions' });
    await waitFor(() => new Set(receivedSpans().map((s) => hex(s.traceId))).size >= sent.error.size, { what: 'kept traces at the sink' });
    const spans = receivedSpans();
    const kept = new Set(spans.map((s) => hex(s.traceId)));
    expect([...kept].sort()).toEqual([...sent.error].sort());
    // Whole traces, labelled with the policy that kept them.
    expect(spans.length).toBe(sent.error.size * 4);
    expect(spans.every((s) => s.attributes.some((a) => a.key === 'sampling.policy' && a.value.type === 'string' && a.value.value === 'errors'))).toBe(true);
  });

  it('incident mode (admin endpoint, bearer token) keeps every trace until it is ended', async () => {
    const url = `http://127.0.0.1:${adminPort}/admin/incident-mode`;
    expect((await fetch(url, { method: 'POST', body: '{"duration":"15m"}' })).status).toBe(401);
    const on = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: '{"duration":"15m"}' });
    expect(on.status).toBe(200);
    expect(await on.json()).toMatchObject({ processors: [{ active: true, source: 'manual' }] });
    const before = sink.received.traces.length;
    const sent = await sendTraces(5, () => false);
    await waitFor(() => {
      const ids = new Set(sink.received.traces.slice(before).flatMap((d) => d.read().flatMap((r) => r.scopeSpans.flatMap((s) => s.spans.map((sp) => hex(sp.traceId))))));
      return [...sent.ok].every((id) => ids.has(id));
    }, { what: 'every trace kept in incident mode' });
    expect(await metric('sieve_tail_sampling_incident_mode')).toBe(1);
    const off = await fetch(url, { method: 'DELETE', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(await off.json()).toMatchObject({ processors: [{ active: false }] });
    expect(await metric('sieve_tail_sampling_incident_mode')).toBe(0);
  });
});
