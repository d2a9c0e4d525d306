// CPU per span added by the loadbalancing exporter, against a plain otlp
// exporter under the same load. The sinks run in a child process, so
// process.cpuUsage() of this process is the exporter's cost: the otlp
// exporter sends whole requests to one sink; the loadbalancing exporter
// (routing_key traceID, static resolver, 3 backends) splits each request by
// trace id on the wire bytes and sends one request per backend.
//
//   node --import tsx bench/loadbalancing.ts [requests=600] [traces-per-request=100] [backends=3]
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { ExporterComponent } from '../src/component/component.js';
import { Issues } from '../src/config/schema.js';
import { loadBalancingExporterFactory } from '../src/exporters/loadbalancing/factory.js';
import { otlpExporterFactory } from '../src/exporters/otlp/factory.js';
import type { Span } from '../src/pdata/model.js';
import { Telemetry } from '../src/pdata/telemetry.js';
import { nopLogger } from '../src/service/logger.js';
import { SelfTelemetry } from '../src/service/telemetry.js';
import { testHost } from '../test/helpers/sieve.js';
import { startSink } from './lib.js';

if (process.argv[2] === '--sinks') {
  const sinks = await Promise.all([startSink(), startSink(), startSink()]);
  process.send!({ ports: sinks.map((s) => s.port) });
  process.on('message', (m) => {
    if (m === 'count') process.send!({ spans: sinks.reduce((n, s) => n + s.spans(), 0) });
  });
} else {
  const REQUESTS = Number(process.argv[2] ?? 600);
  const TRACES = Number(process.argv[3] ?? 100);
  const BACKENDS = Number(process.argv[4] ?? 3);
  const child = fork(fileURLToPath(import.meta.url), ['--sinks'], { execArgv: ['--import', 'tsx'] });
  const ports = await new Promise<number[]>((r) => child.once('message', (m: { ports: number[] }) => r(m.ports)));

  // Requests of TRACES traces x 10 spans, 5 attributes each, encoded once.
  const mkSpan = (tid: Uint8Array, k: number): Span => ({
    traceId: tid,
    spanId: randomBytes(8),
    traceState: '',
    parentSpanId: k === 0 ? new Uint8Array(0) : randomBytes(8),
    flags: 1,
    name: `GET /api/items/${k}`,
    kind: 2,
    startTimeUnixNano: 1_700_000_000_000_000_000n + BigInt(k),
    endTimeUnixNano: 1_700_000_000_005_000_000n,
    attributes: ['http.method', 'http.url', 'net.peer.name', 'component', 'user.id'].map((key, i) => ({ key, value: { type: 'string' as const, value: `value-${i}-https://shop.example.com/api/v1/items/${k}` } })),
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    status: { code: 0, message: '' },
  });
  const bodies: Uint8Array[] = [];
  for (let i = 0; i < 20; i++) {
    const spans: Span[] = [];
    for (let t = 0; t < TRACES; t++) {
      const tid = randomBytes(16);
      for (let k = 0; k < 10; k++) spans.push(mkSpan(tid, k));
    }
    bodies.push(
      Telemetry.traces([
        {
          resource: { attributes: [{ key: 'service.name', value: { type: 'string', value: 'checkout' } }], droppedAttributesCount: 0 },
          scopeSpans: [{ scope: { name: 'bench', version: '1', attributes: [], droppedAttributesCount: 0 }, spans, schemaUrl: '' }],
          schemaUrl: '',
        },
      ]).toProto(),
    );
  }
  const perRequest = TRACES * 10;
  const otlpBlock = { tls: { insecure: true }, compression: 'none', sending_queue: { enabled: false }, timeout: '10s' };
  const settings = { id: 'bench', kind: 'exporter' as const, logger: nopLogger, telemetry: new SelfTelemetry(), instanceId: 'bench', now: Date.now };

  function build(kind: 'otlp' | 'loadbalancing'): ExporterComponent {
    const issues = new Issues();
    if (kind === 'otlp') {
      const cfg = otlpExporterFactory.schema.parse({ ...otlpBlock, endpoint: `127.0.0.1:${ports[0]}` }, [], issues);
      return otlpExporterFactory.create(settings, cfg, 'traces');
    }
    const cfg = loadBalancingExporterFactory.schema.parse({ protocol: { otlp: otlpBlock }, resolver: { static: { hostnames: ports.slice(0, BACKENDS).map((p) => `127.0.0.1:${p}`) } } }, [], issues);
    if (issues.hasErrors()) throw new Error(JSON.stringify(issues.errors));
    return loadBalancingExporterFactory.create(settings, cfg, 'traces');
  }

  async function run(kind: 'otlp' | 'loadbalancing', n: number): Promise<number> {
    const exp = build(kind);
    await exp.start(testHost());
    let next = 0;
    const c0 = process.cpuUsage();
    const worker = async () => {
      while (next < n) {
        const i = next++;
        await exp.consume(Telemetry.fromProto('traces', bodies[i % bodies.length]!, perRequest));
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    const c = process.cpuUsage(c0);
    await exp.shutdown();
    return (c.user + c.system) / (n * perRequest); // µs per span
  }

  // Warm-up, then alternate the two, three rounds each.
  await run('otlp', 100);
  await run('loadbalancing', 100);
  const res: Record<string, number[]> = { otlp: [], loadbalancing: [] };
  for (let r = 0; r < 3; r++) {
    res.otlp!.push(await run('otlp', REQUESTS));
    res.loadbalancing!.push(await run('loadbalancing', REQUESTS));
  }
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
  const o = med(res.otlp!);
  const l = med(res.loadbalancing!);
  console.log(JSON.stringify({ requests: REQUESTS, backends: BACKENDS, spans_per_request: perRequest, otlp_us_per_span: res.otlp!.map((x) => +x.toFixed(3)), loadbalancing_us_per_span: res.loadbalancing!.map((x) => +x.toFixed(3)), median_overhead_pct: +(((l - o) / o) * 100).toFixed(1) }));
  child.kill();
}
