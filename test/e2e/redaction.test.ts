// The secret corpus sent with the real OpenTelemetry JS SDK through a Sieve
// daemon with the redaction processor; nothing may survive in the file, otlp or
// debug exporter's output.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SpanKind, SpanStatusCode, context, trace, type Link } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyedCorpus, secretCorpus } from '../corpus/secrets.js';
import { exportAll, logExporter, metricExporter, traceExporter } from '../helpers/sdk.js';
import { freePort, startSieve, startSink, tempDir, waitFor, type RunningSieve, type Sink } from '../helpers/sieve.js';

const SECRETS = secretCorpus();
const KEYED = keyedCorpus();

/** Every secret substring, raw and as it appears inside a JSON string. */
const SENT_KEYED = [...new Map(KEYED.map((k) => [k.key, k.value])).values()];
const NEEDLES = [...new Set(SECRETS.flatMap((s) => s.secrets).concat(SENT_KEYED))].flatMap((x) => [x, JSON.stringify(x).slice(1, -1)]);

function leaks(text: string): string[] {
  return NEEDLES.filter((n) => text.includes(n));
}

class CollectingReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

describe('redaction end to end (OpenTelemetry SDK -> Sieve -> file, otlp, debug)', () => {
  let sink: Sink;
  let sieve: RunningSieve;
  let filePath: string;
  const ports = { grpc: 0, http: 0 };
  const debugOut: string[] = [];
  const realWrite = process.stderr.write.bind(process.stderr);

  beforeAll(async () => {
    sink = await startSink();
    ports.grpc = await freePort();
    ports.http = await freePort();
    filePath = join(tempDir('sieve-redaction-e2e-'), 'out.jsonl');
    // The debug exporter writes to stderr: keep what it writes.
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      debugOut.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
      return (realWrite as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk.length > 2000 ? '' : chunk, ...rest);
    }) as typeof process.stderr.write;
    sieve = await startSieve(`
receivers:
  otlp:
    protocols:
      grpc: { endpoint: 127.0.0.1:${ports.grpc} }
      http: { endpoint: 127.0.0.1:${ports.http} }
processors:
  redaction:
    allow_all_keys: true
    path_roots: [/app]
exporters:
  file:
    path: ${filePath}
    flush_interval: 0s
  otlp:
    endpoint: 127.0.0.1:${sink.grpcPort}
    tls: { insecure: true }
  debug:
    verbosity: detailed
    sampling_initial: 1000000
service:
  pipelines:
    traces: { receivers: [otlp], processors: [redaction], exporters: [file, otlp, debug] }
    metrics: { receivers: [otlp], processors: [redaction], exporters: [file, otlp, debug] }
    logs: { receivers: [otlp], processors: [redaction], exporters: [file, otlp, debug] }
`);
  });

  afterAll(async () => {
    await sieve?.stop();
    process.stderr.write = realWrite as typeof process.stderr.write;
    await sink?.stop();
  });

  it('sends the corpus as traces, logs and metrics and finds no secret in any output', async () => {
    const texts = SECRETS.map((s) => s.text);
    const keyedAttrs = Object.fromEntries(KEYED.map((k) => [k.key, k.value]));

    // Traces over gRPC: the resource, span names, attributes, status messages, events and links.
    const mem = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'checkout', 'deploy.note': texts[0]!, 'deploy.contact': texts.find((t) => t.includes('@'))!, ...keyedAttrs }),
      spanProcessors: [new SimpleSpanProcessor(mem)],
    });
    const tracer = provider.getTracer('redaction-e2e', '1.0.0');
    const root = tracer.startSpan('root', { kind: SpanKind.SERVER });
    const rootCtx = trace.setSpan(context.active(), root);
    texts.forEach((text, i) => {
      const links: Link[] = [{ context: root.spanContext(), attributes: { 'link.note': text } }];
      const s = tracer.startSpan(text, { kind: SpanKind.CLIENT, links, attributes: { 'http.request.method': 'GET', note: text, ...(i % 10 === 0 ? keyedAttrs : {}) } }, rootCtx);
      s.addEvent(text, { 'exception.message': text });
      s.setStatus({ code: SpanStatusCode.ERROR, message: text });
      s.end();
    });
    root.end();
    const spans = mem.getFinishedSpans();
    await exportAll(traceExporter('grpc', ports), spans);

    // Logs over HTTP/protobuf: string and map bodies, attributes, event names.
    const memLogs = new InMemoryLogRecordExporter();
    const lp = new LoggerProvider({ resource: resourceFromAttributes({ 'service.name': 'checkout', 'deploy.note': texts[1]! }), processors: [new SimpleLogRecordProcessor({ exporter: memLogs })] });
    const logger = lp.getLogger('redaction-e2e');
    texts.forEach((text, i) => {
      logger.emit({ severityNumber: SeverityNumber.INFO, body: text, attributes: { note: text }, eventName: text });
      logger.emit({ severityNumber: SeverityNumber.WARN, body: { msg: `request ${i}`, ctx: { deep: { detail: text }, list: ['a', text] }, ...(i % 10 === 0 ? keyedAttrs : {}) } });
    });
    await exportAll(logExporter('http/protobuf', ports), memLogs.getFinishedLogRecords());

    // Metrics over HTTP/JSON: data point attributes.
    const reader = new CollectingReader();
    const mp = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': 'checkout' }), readers: [reader] });
    const counter = mp.getMeter('redaction-e2e').createCounter('requests');
    texts.forEach((text) => counter.add(1, { note: text }));
    const collected = await reader.collect();
    await exportAll(metricExporter('http/json', ports), collected.resourceMetrics);

    await waitFor(
      () => {
        if (sink.count('traces') >= spans.length && sink.count('logs') >= texts.length * 2 && sink.count('metrics') >= new Set(texts).size) return true;
        throw new Error(`have ${sink.count('traces')}/${spans.length} spans, ${sink.count('logs')}/${texts.length * 2} log records, ${sink.count('metrics')}/${new Set(texts).size} points`);
      },
      { what: 'the sink to receive everything', timeoutMs: 30_000 },
    );
    await sieve.stop(); // drains and closes the file

    const fileText = readFileSync(filePath, 'utf8');
    const otlpText = ['traces', 'logs', 'metrics'].flatMap((sig) => sink.received[sig as 'traces'].map((t) => JSON.stringify(t.read(), (_k, v) => (typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? '' : v)))).join('\n');
    const debugText = debugOut.join('');

    // The outputs carry the data (redacted), so the checks are not vacuous.
    for (const [name, text] of [['file', fileText], ['otlp', otlpText], ['debug', debugText]] as const) {
      expect(text.length, name).toBeGreaterThan(100_000);
      expect(text.split('[REDACTED:').length, name).toBeGreaterThan(SECRETS.length * 5);
      expect(leaks(text), `${name} exporter output`).toEqual([]);
    }
    expect(fileText).toContain('[REDACTED:sensitive_key]');
    expect(fileText).toContain('redaction-e2e');
  });
});
