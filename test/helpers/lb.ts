// Helpers for the loadbalancing end-to-end tests: gateway and agent daemons,
// an OTLP/gRPC client built on Sieve's own otlp exporter (its promise
// resolves when the agent acknowledged the request), traces whose spans are
// split over two agents, and a reader of what each sink received.
import { randomBytes } from 'node:crypto';
import type { ExporterComponent } from '../../src/component/component.js';
import { Issues } from '../../src/config/schema.js';
import { otlpExporterFactory } from '../../src/exporters/otlp/factory.js';
import type { ResourceSpans, Span } from '../../src/pdata/model.js';
import { Telemetry } from '../../src/pdata/telemetry.js';
import { nopLogger } from '../../src/service/logger.js';
import { SelfTelemetry } from '../../src/service/telemetry.js';
import { startSieve, testHost, type RunningSieve, type Sink } from './sieve.js';

export const SPANS_PER_TRACE = 10;

/** A gateway: OTLP/gRPC in on `listen`, optional processors, OTLP out to its sink (no queue: it acknowledges once the sink has it). */
export function gatewayYaml(listen: string, sinkPort: number, processors = '', processorNames: string[] = []): string {
  return `
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: ${listen}
${processors ? `processors:\n${processors}` : ''}
exporters:
  otlp:
    endpoint: 127.0.0.1:${sinkPort}
    tls: { insecure: true }
    compression: none
    sending_queue: { enabled: false }
    retry_on_failure: { initial_interval: 50ms, max_interval: 200ms }
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [${processorNames.join(', ')}]
      exporters: [otlp]
`;
}

/** An agent: OTLP/gRPC in, loadbalancing out with this resolver block (YAML, indented 6). */
export function agentYaml(grpcPort: number, resolver: string, extra = ''): string {
  return `
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:${grpcPort}
exporters:
  loadbalancing:
    routing_key: traceID
${extra}
    protocol:
      otlp:
        tls: { insecure: true }
        compression: none
        timeout: 2s
        sending_queue: { queue_size: 20000, num_consumers: 4 }
        retry_on_failure: { initial_interval: 50ms, max_interval: 250ms, max_elapsed_time: 60s }
    resolver:
${resolver}
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [loadbalancing]
`;
}

export interface Client {
  send(rs: ResourceSpans[]): Promise<void>;
  stop(): Promise<void>;
}

/** Sieve's own OTLP/gRPC exporter as a client: no queue, so `send` resolves when the agent acknowledged. */
export async function otlpClient(port: number): Promise<Client> {
  const issues = new Issues();
  const cfg = otlpExporterFactory.schema.parse(
    {
      endpoint: `127.0.0.1:${port}`,
      tls: { insecure: true },
      compression: 'none',
      sending_queue: { enabled: false },
      retry_on_failure: { initial_interval: '50ms', max_interval: '250ms', max_elapsed_time: '60s' },
      timeout: '10s',
    },
    [],
    issues,
  );
  if (issues.hasErrors()) throw new Error(JSON.stringify(issues.errors));
  const settings = { id: 'otlp/client', kind: 'exporter' as const, logger: nopLogger, telemetry: new SelfTelemetry(), instanceId: 'client', now: Date.now };
  const exp: ExporterComponent = otlpExporterFactory.create(settings, cfg, 'traces');
  await exp.start(testHost());
  return {
    send: async (rs) => void (await exp.consume(Telemetry.traces(rs))),
    stop: () => exp.shutdown(),
  };
}

export interface TraceSpec {
  id: Uint8Array;
  /** Hex trace id. */
  hex: string;
}

export function newTraces(n: number): TraceSpec[] {
  const out: TraceSpec[] = [];
  for (let i = 0; i < n; i++) {
    const id = randomBytes(16);
    out.push({ id, hex: id.toString('hex') });
  }
  return out;
}

const BASE = 1_750_000_000_000_000_000n;

function mkSpan(t: TraceSpec, k: number, tag: string): Span {
  const spanId = new Uint8Array(8);
  spanId[0] = k + 1;
  spanId.set(t.id.subarray(0, 7), 1);
  const parent = new Uint8Array(k === 0 ? 0 : 8);
  if (k > 0) {
    parent[0] = 1;
    parent.set(t.id.subarray(0, 7), 1);
  }
  return {
    traceId: t.id,
    spanId,
    traceState: '',
    parentSpanId: parent,
    flags: 0,
    name: k === 0 ? 'GET /checkout' : `step-${k}`,
    kind: k === 0 ? 2 : 1,
    startTimeUnixNano: BASE + BigInt(k) * 1000n,
    endTimeUnixNano: BASE + BigInt(k) * 1000n + 500n,
    attributes: [{ key: 'lb.pass', value: { type: 'string', value: tag } }],
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    status: { message: '', code: 0 },
  };
}

/** One request holding spans [from, to) of each trace. */
export function request(traces: readonly TraceSpec[], from: number, to: number, tag = 'load'): ResourceSpans[] {
  const spans: Span[] = [];
  for (const t of traces) for (let k = from; k < to; k++) spans.push(mkSpan(t, k, tag));
  return [
    {
      resource: { attributes: [{ key: 'service.name', value: { type: 'string', value: 'checkout' } }], droppedAttributesCount: 0 },
      scopeSpans: [{ scope: { name: 'lb-test', version: '1', attributes: [], droppedAttributesCount: 0 }, spans, schemaUrl: '' }],
      schemaUrl: '',
    },
  ];
}

/**
 * Sends every trace with its first half of spans through agent A and its
 * second half through agent B, `perRequest` traces per request, `concurrency`
 * requests in flight per agent. Returns the spans acknowledged.
 */
export async function sendSplit(a: Client, b: Client, traces: readonly TraceSpec[], opts: { perRequest?: number; concurrency?: number; tag?: string; acked?: (t: readonly TraceSpec[], spans: number) => void } = {}): Promise<number> {
  const per = opts.perRequest ?? 100;
  const half = SPANS_PER_TRACE / 2;
  let acked = 0;
  const jobs: (() => Promise<void>)[] = [];
  for (let i = 0; i < traces.length; i += per) {
    const chunk = traces.slice(i, i + per);
    jobs.push(async () => {
      await a.send(request(chunk, 0, half, opts.tag));
      acked += chunk.length * half;
      opts.acked?.(chunk, half);
    });
    jobs.push(async () => {
      await b.send(request(chunk, half, SPANS_PER_TRACE, opts.tag));
      acked += chunk.length * half;
      opts.acked?.(chunk, half);
    });
  }
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) await jobs[next++]!();
  };
  await Promise.all(Array.from({ length: (opts.concurrency ?? 4) * 2 }, worker));
  return acked;
}

/** Spans per trace id (hex) received by a sink, optionally only those tagged `tag`. */
export function spansByTrace(sink: Sink, tag?: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const d of sink.received.traces) {
    for (const rs of d.read()) {
      for (const ss of rs.scopeSpans) {
        for (const sp of ss.spans) {
          if (tag !== undefined) {
            const a = sp.attributes.find((x) => x.key === 'lb.pass');
            if (!a || (a.value as { value: string }).value !== tag) continue;
          }
          const hex = Buffer.from(sp.traceId).toString('hex');
          out.set(hex, (out.get(hex) ?? 0) + 1);
        }
      }
    }
  }
  return out;
}

export async function stopAll(list: ({ stop(): Promise<void> } | undefined)[]): Promise<void> {
  for (const x of list) await x?.stop().catch(() => undefined);
}

export type { RunningSieve };
export { startSieve };
