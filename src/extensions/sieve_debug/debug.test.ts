import { afterEach, describe, expect, it } from 'vitest';
import { Issues, formatPath } from '../../config/schema.js';
import { encodeSpans } from '../../durable/testdata/fixtures.js';
import type { OtlpReceiver } from '../../receivers/otlp/receiver.js';
import { startSieve, startSink, type RunningSieve, type Sink } from '../../../test/helpers/sieve.js';
import { sieveDebugSchema, validateSieveDebug } from './config.js';
import type { SieveDebug } from './debug.js';
import { SpanRing } from './ring.js';
import { makeSpans } from '../../durable/testdata/fixtures.js';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s();
});

describe('sieve_debug config', () => {
  const parse = (raw: unknown) => {
    const issues = new Issues();
    const path = ['extensions', 'sieve_debug'];
    const cfg = sieveDebugSchema.parse(raw, path, issues);
    if (!issues.hasErrors()) validateSieveDebug(cfg, path, issues);
    return { cfg, errors: issues.list.map((i) => `${i.severity} ${formatPath(i.path)}: ${i.message}`) };
  };
  it('defaults to loopback and 1000 spans', () => {
    expect(parse({})).toEqual({ cfg: { endpoint: '127.0.0.1:55679', recent_spans: 1000, exporters: [] }, errors: [] });
  });
  it.each([
    [{ recent_spans: 0 }, 'error extensions::sieve_debug::recent_spans: must be at least 1, got 0'],
    [{ endpoint: '0.0.0.0:55679' }, 'warning extensions::sieve_debug::endpoint: listens on every interface: the debug endpoints serve telemetry data without authentication'],
    [{ exporter: ['x'] }, 'error extensions::sieve_debug::exporter: unknown key "exporter" (did you mean "exporters"?)'],
  ])('reports %j', (raw, message) => {
    expect(parse(raw).errors).toEqual([message]);
  });
});

describe('SpanRing', () => {
  it('keeps the newest spans, once each, grouped by trace', () => {
    const ring = new SpanRing(5);
    ring.add(makeSpans(0, 4), 'a');
    ring.add(makeSpans(3, 3), 'b'); // span 3 again, from another exporter
    expect(ring.spanCount()).toBe(5);
    const traces = ring.traces(10);
    expect(traces).toHaveLength(5);
    expect(traces[0]!.spans[0]!.name).toBe('op-5');
    const three = traces.find((t) => t.spans[0]!.name === 'op-3')!;
    expect(three.spans[0]!.exporters).toEqual(['a', 'b']);
    expect(three.spans[0]!.attributes).toEqual({ 'http.method': 'GET', 'http.route': '/api/items/3', 'http.status_code': 200 });
    expect(ring.traces(2)).toHaveLength(2);
  });
});

describe('sieve_debug endpoints', () => {
  let sink: Sink;
  let sieve: RunningSieve;

  async function start(): Promise<{ debug: string; otlp: string }> {
    sink = await startSink();
    stops.push(() => sink.stop());
    sieve = await startSieve(`
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:0
processors:
  batch:
    timeout: 0s
exporters:
  otlphttp/sink:
    endpoint: http://127.0.0.1:${sink.httpPort}
    compression: none
extensions:
  sieve_debug:
    endpoint: 127.0.0.1:0
    recent_spans: 50
service:
  extensions: [sieve_debug]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlphttp/sink]
`);
    stops.push(() => sieve.stop());
    const dbg = sieve.svc.components().get('sieve_debug')!.component as SieveDebug;
    const rcv = sieve.svc.components().get('otlp')!.component as OtlpReceiver;
    return { debug: `http://127.0.0.1:${dbg.port}`, otlp: `http://127.0.0.1:${rcv.httpPort}` };
  }

  it('shows recently exported traces and the pipeline graph with counts', async () => {
    const { debug, otlp } = await start();
    const r = await fetch(`${otlp}/v1/traces`, { method: 'POST', headers: { 'Content-Type': 'application/x-protobuf' }, body: encodeSpans(0, 3) });
    expect(r.status).toBe(200);
    await expect.poll(() => sink.count('traces')).toBe(3);

    const traces = (await (await fetch(`${debug}/debug/traces?limit=2`)).json()) as { traces: { spans: { name: string; service: string; exporters: string[] }[] }[] };
    expect(traces.traces).toHaveLength(2);
    expect(traces.traces[0]!.spans[0]).toMatchObject({ name: 'op-2', service: 'test-service', exporters: ['otlphttp/sink'] });

    const p = (await (await fetch(`${debug}/debug/pipelines`)).json()) as any;
    expect(p.pipelines).toEqual([
      {
        id: 'traces',
        signal: 'traces',
        receivers: [{ id: 'otlp', accepted: 3, refused: 0 }],
        processors: [{ id: 'batch', incoming: 3, outgoing: 3 }],
        exporters: [{ id: 'otlphttp/sink', sent: 3, send_failed: 0, enqueue_failed: 0, queue_size: 0, queue_capacity: 1000, health: { status: 'ok' } }],
      },
    ]);
    expect(p.recent_spans).toBe(3);
  });

  it('validates the limit', async () => {
    const { debug } = await start();
    const r = await fetch(`${debug}/debug/traces?limit=zero`);
    expect(r.status).toBe(400);
    expect(await r.json()).toEqual({ error: 'limit must be a positive integer, got "zero"' });
    expect((await fetch(`${debug}/debug/nothing`)).status).toBe(404);
  });
});
