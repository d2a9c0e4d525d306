// The 9 round trips: traces, metrics and logs from the real OpenTelemetry JS SDK
// over gRPC, HTTP/protobuf and HTTP/JSON into Sieve, out through otlp and
// otlphttp to an OTLP endpoint. What arrives must equal what the SDK sent
// straight to a reference endpoint, field for field.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResourceLogs, ResourceMetrics, ResourceSpans, Signal } from '../../src/pdata/model.js';
import { PROTOCOLS, exportAll, logExporter, makeLogs, makeMetrics, makeSpans, metricExporter, traceExporter, type Protocol } from '../helpers/sdk.js';
import { freePort, startSieve, startSink, waitFor, type RunningSieve, type Sink } from '../helpers/sieve.js';

/** A stable, comparable form: bigints and bytes as strings, items flattened with their envelopes, sorted. */
function normalize(signal: Signal, resources: readonly unknown[]): string[] {
  const plain = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x instanceof Uint8Array ? `0x${Buffer.from(x).toString('hex')}` : x));
  const out: string[] = [];
  for (const r of resources as (ResourceSpans & ResourceLogs & ResourceMetrics)[]) {
    const scopes = signal === 'traces' ? r.scopeSpans : signal === 'logs' ? r.scopeLogs : r.scopeMetrics;
    for (const s of scopes as { scope: unknown; schemaUrl: string; spans?: unknown[]; logRecords?: unknown[]; metrics?: unknown[] }[]) {
      const items = s.spans ?? s.logRecords ?? s.metrics ?? [];
      for (const it of items) out.push(plain({ resource: r.resource, rurl: r.schemaUrl, scope: s.scope, surl: s.schemaUrl, item: it }));
    }
  }
  return out.sort();
}

const EXPORTERS: Record<Protocol, string> = { grpc: 'otlp', 'http/protobuf': 'otlphttp/proto', 'http/json': 'otlphttp/json' };

describe('SDK round trip through Sieve', () => {
  let sink: Sink;
  let reference: Sink;
  const daemons: RunningSieve[] = [];
  const ports: Record<string, { grpc: number; http: number }> = {};

  beforeAll(async () => {
    sink = await startSink();
    reference = await startSink();
    // One daemon per outgoing exporter, so each client protocol is paired with a different exporter per signal.
    for (const exp of Object.values(EXPORTERS)) {
      const p = { grpc: await freePort(), http: await freePort() };
      ports[exp] = p;
      daemons.push(
        await startSieve(`
receivers:
  otlp:
    protocols:
      grpc: { endpoint: 127.0.0.1:${p.grpc} }
      http: { endpoint: 127.0.0.1:${p.http} }
processors:
  batch: { timeout: 50ms }
exporters:
  otlp:
    endpoint: 127.0.0.1:${sink.grpcPort}
    tls: { insecure: true }
  otlphttp/proto:
    endpoint: http://127.0.0.1:${sink.httpPort}
  otlphttp/json:
    endpoint: http://127.0.0.1:${sink.httpPort}
    encoding: json
service:
  pipelines:
    traces: { receivers: [otlp], processors: [batch], exporters: [${exp}] }
    metrics: { receivers: [otlp], processors: [batch], exporters: [${exp}] }
    logs: { receivers: [otlp], processors: [batch], exporters: [${exp}] }
`),
      );
    }
  });

  afterAll(async () => {
    for (const d of daemons) await d.stop();
    await sink.stop();
    await reference.stop();
  });

  const refPorts = () => ({ grpc: reference.grpcPort, http: reference.httpPort });

  // Rotate: client protocol i uses exporter (i + signal offset) so all 3x3 client/exporter pairs are covered.
  const exporterFor = (signalIdx: number, protoIdx: number) => Object.values(EXPORTERS)[(protoIdx + signalIdx) % 3]!;

  for (const [pi, proto] of PROTOCOLS.entries()) {
    it(`traces over ${proto} survive field for field (out via ${exporterFor(0, pi)})`, async () => {
      const spans = makeSpans(12);
      const before = sink.received.traces.length;
      await exportAll(traceExporter(proto, refPorts()), spans);
      await exportAll(traceExporter(proto, ports[exporterFor(0, pi)]!), spans);
      const ref = reference.received.traces.at(-1)!.read();
      const got = await waitFor(() => (sink.received.traces.length > before ? sink.received.traces.slice(before).flatMap((t) => [...t.read()]) : undefined));
      expect(normalize('traces', got)).toEqual(normalize('traces', ref));
      // The reference really carries the fields the test claims to cover.
      const all = ref.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
      expect(all).toHaveLength(12);
      expect(all.some((s) => s.events.length > 0 && s.links.length > 0)).toBe(true);
      expect(all.some((s) => s.droppedAttributesCount > 0)).toBe(true);
      expect(all.some((s) => s.droppedEventsCount > 0)).toBe(true);
      expect(all.some((s) => s.status.code === 2 && s.status.message)).toBe(true);
      expect(all.some((s) => s.parentSpanId.length === 8)).toBe(true);
      const types = new Set(all.flatMap((s) => s.attributes.map((a) => a.value.type)));
      expect([...types].sort()).toEqual(['array', 'bool', 'double', 'int', 'string']);
      expect(ref[0]!.scopeSpans[0]!.scope.version).toBe('1.2.3');
    });

    it(`metrics over ${proto} survive field for field (out via ${exporterFor(1, pi)})`, async () => {
      const rm = await makeMetrics();
      const before = sink.received.metrics.length;
      await exportAll(metricExporter(proto, refPorts()), rm);
      await exportAll(metricExporter(proto, ports[exporterFor(1, pi)]!), rm);
      const ref = reference.received.metrics.at(-1)!.read();
      const got = await waitFor(() => (sink.received.metrics.length > before ? sink.received.metrics.slice(before).flatMap((t) => [...t.read()]) : undefined));
      expect(normalize('metrics', got)).toEqual(normalize('metrics', ref));
      const kinds = new Set(ref.flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics.map((m) => m.data.type))));
      expect([...kinds].sort()).toEqual(['exponentialHistogram', 'gauge', 'histogram', 'sum']);
    });

    it(`logs over ${proto} survive field for field (out via ${exporterFor(2, pi)})`, async () => {
      const logs = makeLogs(9);
      const before = sink.received.logs.length;
      await exportAll(logExporter(proto, refPorts()), logs);
      await exportAll(logExporter(proto, ports[exporterFor(2, pi)]!), logs);
      const ref = reference.received.logs.at(-1)!.read();
      const got = await waitFor(() => (sink.received.logs.length > before ? sink.received.logs.slice(before).flatMap((t) => [...t.read()]) : undefined));
      expect(normalize('logs', got)).toEqual(normalize('logs', ref));
      const recs = ref.flatMap((r) => r.scopeLogs.flatMap((s) => s.logRecords));
      expect(recs.some((l) => l.body.type === 'kvlist')).toBe(true);
      expect(recs.some((l) => l.traceId.length === 16 && l.spanId.length === 8)).toBe(true);
      expect(recs.some((l) => l.eventName === 'app.started')).toBe(true);
      const types = new Set(recs.flatMap((l) => l.attributes.map((a) => a.value.type)));
      expect([...types].sort()).toEqual(['array', 'bool', 'bytes', 'double', 'int', 'kvlist', 'string']);
    });
  }
});
