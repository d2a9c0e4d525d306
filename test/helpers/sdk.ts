// Real OpenTelemetry JS SDK clients for tests: builds spans, metrics and log
// records that use every field the SDK can produce, and the OTLP exporters for
// each protocol.
import { SpanKind, SpanStatusCode, context, trace, type Link } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { AggregationType, MeterProvider, MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor, type ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { OTLPTraceExporter as TraceGrpc } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as TraceProto } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as TraceJson } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPMetricExporter as MetricGrpc } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as MetricProto } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPMetricExporter as MetricJson } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPLogExporter as LogGrpc } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPLogExporter as LogProto } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPLogExporter as LogJson } from '@opentelemetry/exporter-logs-otlp-http';
import { Metadata } from '@grpc/grpc-js';

export type Protocol = 'grpc' | 'http/protobuf' | 'http/json';
export const PROTOCOLS: Protocol[] = ['grpc', 'http/protobuf', 'http/json'];

export interface Ports {
  grpc: number;
  http: number;
}

export interface ExporterOptions {
  headers?: Record<string, string>;
  compression?: 'gzip' | 'none';
}

function grpcMetadata(headers: Record<string, string> | undefined): Metadata | undefined {
  if (!headers) return undefined;
  const md = new Metadata();
  for (const [k, v] of Object.entries(headers)) md.set(k.toLowerCase(), v);
  return md;
}

export function traceExporter(p: Protocol, ports: Ports, o: ExporterOptions = {}) {
  const compression = (o.compression ?? 'none') as never;
  if (p === 'grpc') return new TraceGrpc({ url: `http://127.0.0.1:${ports.grpc}`, metadata: grpcMetadata(o.headers), compression });
  const url = `http://127.0.0.1:${ports.http}/v1/traces`;
  return p === 'http/protobuf' ? new TraceProto({ url, headers: o.headers, compression }) : new TraceJson({ url, headers: o.headers, compression });
}

export function metricExporter(p: Protocol, ports: Ports, o: ExporterOptions = {}) {
  const compression = (o.compression ?? 'none') as never;
  if (p === 'grpc') return new MetricGrpc({ url: `http://127.0.0.1:${ports.grpc}`, metadata: grpcMetadata(o.headers), compression });
  const url = `http://127.0.0.1:${ports.http}/v1/metrics`;
  return p === 'http/protobuf' ? new MetricProto({ url, headers: o.headers, compression }) : new MetricJson({ url, headers: o.headers, compression });
}

export function logExporter(p: Protocol, ports: Ports, o: ExporterOptions = {}) {
  const compression = (o.compression ?? 'none') as never;
  if (p === 'grpc') return new LogGrpc({ url: `http://127.0.0.1:${ports.grpc}`, metadata: grpcMetadata(o.headers), compression });
  const url = `http://127.0.0.1:${ports.http}/v1/logs`;
  return p === 'http/protobuf' ? new LogProto({ url, headers: o.headers, compression }) : new LogJson({ url, headers: o.headers, compression });
}

/** Promisified `exporter.export(items, cb)`; rejects unless the result is SUCCESS. */
export function exportAll<T>(exporter: { export(items: T, cb: (r: ExportResult) => void): void }, items: T): Promise<void> {
  return new Promise((resolve, reject) =>
    exporter.export(items, (r) => (r.code === ExportResultCode.SUCCESS ? resolve() : reject(r.error ?? new Error('export failed')))),
  );
}

const resource = () =>
  resourceFromAttributes({
    'service.name': 'checkout',
    'service.namespace': 'shop',
    'deployment.environment': 'test',
    'host.cores': 8,
    'host.arm': false,
    'host.load': 0.75,
    'host.tags': ['a', 'b'],
  });

/** Spans with every field the SDK can set: kinds, status, events, links, all attribute types, dropped counts. */
export function makeSpans(n = 10): ReadableSpan[] {
  const mem = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resource(),
    spanProcessors: [new SimpleSpanProcessor(mem)],
    spanLimits: { attributeCountLimit: 12, eventCountLimit: 3, linkCountLimit: 2 },
  });
  const tracer = provider.getTracer('roundtrip-scope', '1.2.3');
  const root = tracer.startSpan('GET /checkout', { kind: SpanKind.SERVER, attributes: { 'http.method': 'GET', 'http.status_code': 200 } });
  const rootCtx = trace.setSpan(context.active(), root);
  for (let i = 0; i < n - 1; i++) {
    const links: Link[] = [{ context: root.spanContext(), attributes: { 'link.n': i, 'link.kind': 'follows' } }];
    const kinds = [SpanKind.INTERNAL, SpanKind.CLIENT, SpanKind.PRODUCER, SpanKind.CONSUMER];
    const s = tracer.startSpan(`child-${i}`, { kind: kinds[i % kinds.length], links, startTime: [1_700_000_000, 123_456_789 + i] }, rootCtx);
    s.setAttributes({
      'str': `value-${i}`,
      'int': i * 1000,
      'neg.int': -i,
      'big.int': 2 ** 40 + i,
      'dbl': i + 0.5,
      'bool': i % 2 === 0,
      'str.arr': ['x', 'y', `z${i}`],
      'int.arr': [1, 2, 3],
      'dbl.arr': [1.5, 2.5],
      'bool.arr': [true, false],
      'unicode': 'naïve ☃ 日本',
    });
    if (i === 0) for (let k = 0; k < 5; k++) s.setAttribute(`extra.${k}`, k); // over the limit: dropped attributes
    s.addEvent('cache.miss', { 'cache.key': `k${i}`, 'cache.size': i }, [1_700_000_000, 500_000_000]);
    if (i === 1) for (let k = 0; k < 5; k++) s.addEvent(`burst-${k}`); // over the limit: dropped events
    if (i % 3 === 0) s.setStatus({ code: SpanStatusCode.ERROR, message: `failed ${i}` });
    else if (i % 3 === 1) s.setStatus({ code: SpanStatusCode.OK });
    s.end([1_700_000_001, 987_654_321]);
  }
  root.end();
  return mem.getFinishedSpans();
}

class CollectingReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

/** One collection with sum (monotonic and not), gauge, histogram and exponential histogram. */
export async function makeMetrics(): Promise<ResourceMetrics> {
  const reader = new CollectingReader();
  const provider = new MeterProvider({
    resource: resource(),
    readers: [reader],
    views: [{ instrumentName: 'latency.exp', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }],
  });
  const meter = provider.getMeter('roundtrip-meter', '4.5.6');
  const counter = meter.createCounter('requests', { description: 'Requests served', unit: '{request}' });
  const updown = meter.createUpDownCounter('queue.depth', { unit: '{item}' });
  const hist = meter.createHistogram('latency', { unit: 'ms', advice: { explicitBucketBoundaries: [1, 5, 10, 50, 100] } });
  const exp = meter.createHistogram('latency.exp', { unit: 's' });
  const gauge = meter.createGauge('temperature', { unit: 'Cel' });
  const dgauge = meter.createGauge('cpu.count', { valueType: 1 as never });
  meter.createObservableGauge('heap.used', { unit: 'By' }).addCallback((r) => r.observe(123456, { region: 'eu' }));
  for (let i = 0; i < 20; i++) {
    const attrs = { route: `/r${i % 3}`, code: 200 + (i % 2) * 300 };
    counter.add(i + 1, attrs);
    updown.add(i % 2 ? -1 : 2, attrs);
    hist.record(i * 3.3, attrs);
    exp.record(0.001 * (i + 1) ** 2, attrs);
  }
  gauge.record(21.5, { room: 'a' });
  dgauge.record(8, { host: 'x' });
  const { resourceMetrics, errors } = await reader.collect();
  if (errors.length) throw errors[0];
  return resourceMetrics;
}

/** Log records with string and map bodies, every attribute value type, severities, trace context, event names. */
export function makeLogs(n = 10): ReadableLogRecord[] {
  const mem = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({ resource: resource(), processors: [new SimpleLogRecordProcessor({ exporter: mem })] });
  const logger = provider.getLogger('roundtrip-logger', '7.8.9');
  const spanCtx = trace.setSpanContext(context.active(), {
    traceId: '5b8efff798038103d269b633813fc60c',
    spanId: 'eee19b7ec3c1b174',
    traceFlags: 1,
  });
  for (let i = 0; i < n; i++) {
    logger.emit({
      timestamp: [1_700_000_000, i * 1000],
      observedTimestamp: [1_700_000_002, 42],
      severityNumber: i % 2 ? SeverityNumber.ERROR : SeverityNumber.INFO,
      severityText: i % 2 ? 'ERROR' : 'INFO',
      body:
        i % 3 === 0
          ? { msg: `structured ${i}`, nested: { level: 2, list: [1, 'two', true, { deep: 'yes' }] }, raw: new Uint8Array([1, 2, 3, 255]) }
          : `log line ${i} with ünïcode`,
      attributes: {
        'str': 'v',
        'int': i,
        'dbl': 1.25,
        'bool': true,
        'bytes': new Uint8Array([0, 1, 2, 3]),
        'arr': ['a', 'b'],
        'map': { k: 'v', n: 1 },
      },
      eventName: i === 0 ? 'app.started' : undefined,
      context: i % 2 ? spanCtx : undefined,
    });
  }
  return mem.getFinishedLogRecords();
}
