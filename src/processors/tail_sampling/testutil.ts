// Test helpers for tail_sampling: span builders, a harness with a manual clock
// and timers, and a fake host that records admin routes.
import type { AdminHandler, Consumer, CreateSettings, Host } from '../../component/component.js';
import { Issues } from '../../config/schema.js';
import type { KeyValue, ResourceSpans, Span } from '../../pdata/model.js';
import { Telemetry } from '../../pdata/telemetry.js';
import { nopLogger } from '../../service/logger.js';
import { SelfTelemetry } from '../../service/telemetry.js';
import { configSchema, validateConfig, type TailSamplingConfig } from './config.js';
import { TailSamplingProcessor, type Timers } from './processor.js';

export const BASE_NS = 1_700_000_000_000_000_000n;

/** A random-looking trace id whose last 4 bytes are `n` (ids in tests stand for real, random ones). */
export function traceId(n: number): Uint8Array {
  const b = new Uint8Array(16);
  let x = (n * 0x9e3779b1) >>> 0 || 1;
  for (let i = 0; i < 12; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  new DataView(b.buffer).setUint32(12, n);
  return b;
}
export function spanId(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setUint32(4, n + 1);
  return b;
}

export type AttrInput = string | number | boolean | bigint;
export function attrs(a: Record<string, AttrInput> = {}): KeyValue[] {
  return Object.entries(a).map(([key, v]) => ({
    key,
    value:
      typeof v === 'string'
        ? { type: 'string', value: v }
        : typeof v === 'boolean'
          ? { type: 'bool', value: v }
          : typeof v === 'bigint'
            ? { type: 'int', value: v }
            : Number.isInteger(v)
              ? { type: 'int', value: BigInt(v) }
              : { type: 'double', value: v },
  }));
}

export interface SpanOpts {
  trace: number;
  span?: number;
  /** Parent span number; undefined (default) makes a root span. */
  parent?: number;
  startMs?: number;
  durMs?: number;
  status?: 0 | 1 | 2;
  attrs?: Record<string, AttrInput>;
  traceState?: string;
  flags?: number;
  name?: string;
}

let spanSeq = 0;
export function mkSpan(o: SpanOpts): Span {
  const start = BASE_NS + BigInt(Math.round((o.startMs ?? 0) * 1e6));
  return {
    traceId: traceId(o.trace),
    spanId: spanId(o.span ?? ++spanSeq),
    traceState: o.traceState ?? '',
    parentSpanId: o.parent === undefined ? new Uint8Array(0) : spanId(o.parent),
    flags: o.flags ?? 0,
    name: o.name ?? 'op',
    kind: 2,
    startTimeUnixNano: start,
    endTimeUnixNano: start + BigInt(Math.round((o.durMs ?? 1) * 1e6)),
    attributes: attrs(o.attrs),
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    status: { code: o.status ?? 0, message: '' },
  };
}

export function resource(spans: Span[], res: Record<string, AttrInput> = { 'service.name': 'checkout' }, scope = 'lib'): ResourceSpans {
  return {
    resource: { attributes: attrs(res), droppedAttributesCount: 0 },
    scopeSpans: [{ scope: { name: scope, version: '1', attributes: [], droppedAttributesCount: 0 }, spans, schemaUrl: '' }],
    schemaUrl: '',
  };
}

/** A request as a receiver hands it on: protobuf bytes only. */
export function request(rs: ResourceSpans[], tenant?: string): Telemetry<'traces'> {
  const bytes = Telemetry.traces(rs).toProto();
  let n = 0;
  for (const r of rs) for (const s of r.scopeSpans) n += s.spans.length;
  return Telemetry.fromProto('traces', bytes, n, tenant === undefined ? {} : { tenant });
}

export function spansReq(spans: Span[], res?: Record<string, AttrInput>): Telemetry<'traces'> {
  return request([resource(spans, res)]);
}

export function parseConfig(raw: unknown): { cfg: TailSamplingConfig; issues: Issues } {
  const issues = new Issues();
  const cfg = configSchema.parse(raw, ['processors', 'tail_sampling'], issues);
  if (!issues.hasErrors()) validateConfig(cfg, ['processors', 'tail_sampling'], issues);
  return { cfg, issues };
}

export class ManualTimers implements Timers {
  fns: (() => void)[] = [];
  setInterval(fn: () => void): unknown {
    this.fns.push(fn);
    return fn;
  }
  clearInterval(h: unknown): void {
    this.fns = this.fns.filter((f) => f !== h);
  }
}

export interface FakeHost extends Host {
  routes: Map<string, AdminHandler>;
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }>;
}

export function fakeHost(telemetry: SelfTelemetry): FakeHost {
  const routes = new Map<string, AdminHandler>();
  return {
    routes,
    getExtension: () => undefined,
    components: () => new Map(),
    registerAdminRoute: (method, path, handler) => {
      routes.set(`${method} ${path}`, handler);
    },
    logger: nopLogger,
    telemetry,
    async call(method, path, body) {
      const url = new URL(path, 'http://127.0.0.1');
      const h = routes.get(`${method} ${url.pathname}`);
      if (!h) return { status: 404, body: undefined };
      const buf = body === undefined ? Buffer.alloc(0) : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
      return h({ url, body: buf, headers: {} });
    },
  };
}

export interface Harness {
  proc: TailSamplingProcessor;
  cfg: TailSamplingConfig;
  telemetry: SelfTelemetry;
  host: FakeHost;
  out: Telemetry<'traces'>[];
  clock: { now: number };
  /** Moves the clock and runs the ticker. */
  advance(ms: number): Promise<void>;
  /** Spans received downstream so far. */
  spans(): Span[];
  /** Trace numbers (as given to mkSpan) received downstream. */
  keptTraces(): Set<number>;
  metric(name: string, labels?: Record<string, string>): Promise<number>;
}

export async function harness(raw: Record<string, unknown>, opts: { next?: Consumer; start?: boolean } = {}): Promise<Harness> {
  const { cfg, issues } = parseConfig(raw);
  if (issues.hasErrors()) throw new Error(issues.errors.map((i) => `${i.path.join('::')}: ${i.message}`).join('\n'));
  const telemetry = new SelfTelemetry();
  const clock = { now: 1_000_000 };
  const out: Telemetry<'traces'>[] = [];
  const next: Consumer = opts.next ?? {
    mutatesData: false,
    async consume(d) {
      out.push(d as Telemetry<'traces'>);
    },
  };
  const settings: CreateSettings = {
    id: 'tail_sampling',
    kind: 'processor',
    logger: nopLogger,
    telemetry,
    instanceId: 'test',
    now: () => clock.now,
  };
  const timers = new ManualTimers();
  const proc = new TailSamplingProcessor(settings, cfg, next, timers);
  const host = fakeHost(telemetry);
  if (opts.start !== false) await proc.start(host);
  const flush = () => new Promise<void>((r) => setImmediate(r));
  return {
    proc,
    cfg,
    telemetry,
    host,
    out,
    clock,
    async advance(ms) {
      clock.now += ms;
      for (const f of timers.fns) f();
      await flush();
    },
    spans: () => out.flatMap((d) => d.read().flatMap((r) => r.scopeSpans.flatMap((s) => s.spans))),
    keptTraces: () => new Set(out.flatMap((d) => d.read().flatMap((r) => r.scopeSpans.flatMap((s) => s.spans.map((sp) => new DataView(sp.traceId.buffer, sp.traceId.byteOffset).getUint32(12)))))),
    metric: (name, labels = {}) => telemetry.value(name, labels),
  };
}
