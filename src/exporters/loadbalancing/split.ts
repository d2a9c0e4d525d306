// Splits a batch into one batch per backend by routing key.
//
// traceID on traces works on the wire bytes: the tail-sampling splitter finds
// each trace's spans per ResourceSpans without decoding them, and the spans
// are copied as they are into one request per backend. A batch whose traces
// all belong to one backend is passed on untouched (no copy).
//
// The other keys read the decoded model (resource attributes, metric names,
// data point attributes); the parts are built from the model and encoded
// once when sent.
import type { HashRing } from '../../routing/ring.js';
import { hashBytes, hashString } from '../../routing/ring.js';
import type { AnyValue, KeyValue, Metric, MetricData, ResourceLogs, ResourceMetrics, ResourceSpans, Signal } from '../../pdata/model.js';
import { Telemetry } from '../../pdata/telemetry.js';
import { appendGroup, Splitter, type SpanGroup } from '../../processors/tail_sampling/split.js';
import { Needs } from '../../processors/tail_sampling/policies.js';
import type { TraceEntry } from '../../processors/tail_sampling/trace.js';
import type { RoutingKey } from './config.js';

/** Parts by ring member index. */
export type Parts = Map<number, Telemetry>;

export interface Router {
  split(data: Telemetry, ring: HashRing): Parts;
}

export function createRouter(signal: Signal, key: RoutingKey): Router {
  if (signal === 'traces' && key === 'traceID') return new TraceIdWireRouter();
  if (signal === 'logs' && key === 'traceID') return modelRouter('logs', logsByTraceId);
  if (key === 'service') return modelRouter(signal, byResource(serviceKey));
  if (key === 'resource') return modelRouter(signal, byResource(resourceKey));
  if (signal === 'metrics' && key === 'metric') return modelRouter('metrics', metricsBy(false));
  if (signal === 'metrics' && key === 'streamID') return modelRouter('metrics', metricsBy(true));
  throw new Error(`routing_key ${key} is not supported for ${signal}`);
}

// ---------------------------------------------------------------- traces by trace id, on the wire

class TraceIdWireRouter implements Router {
  // No policy facts are needed: the splitter only locates trace ids and span bounds.
  private readonly splitter = new Splitter(new Needs());

  split(data: Telemetry, ring: HashRing): Parts {
    const buf = data.toProto();
    const groups = this.splitter.split(buf);
    const parts: Parts = new Map();
    if (groups.length === 0) return parts;
    const byOwner = new Map<number, SpanGroup[]>();
    let first = -1;
    let single = true;
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i]!;
      const owner = ring.indexOf(hashBytes(buf, g.idStart, g.idEnd));
      if (i === 0) first = owner;
      else if (owner !== first) single = false;
      let list = byOwner.get(owner);
      if (!list) byOwner.set(owner, (list = []));
      list.push(g);
    }
    if (single) {
      parts.set(first, data);
      return parts;
    }
    for (const [owner, list] of byOwner) {
      let size = 0;
      let count = 0;
      for (const g of list) {
        size += g.size;
        count += g.spanCount;
      }
      // One writer entry per part: consecutive groups of one resource and scope share their ResourceSpans/ScopeSpans.
      const t = { buf: new Uint8Array(size), len: 0, rsBody: -1, rsHdrStart: 0, rsHdrEnd: 0, ssBody: -1, ssHdrStart: 0, ssHdrEnd: 0, reserve: () => 0 };
      for (const g of list) appendGroup(t as unknown as TraceEntry, g, buf);
      parts.set(owner, Telemetry.fromProto('traces', t.buf.subarray(0, t.len), count, data.ctx));
    }
    return parts;
  }
}

// ---------------------------------------------------------------- model-based keys

type Resources = ResourceSpans[] | ResourceMetrics[] | ResourceLogs[];
/** Adds a batch's content to per-owner resource lists. */
type Distribute = (resources: readonly any[], ring: HashRing, out: Map<number, any[]>) => void;

function modelRouter(signal: Signal, distribute: Distribute): Router {
  return {
    split(data, ring) {
      const out = new Map<number, any[]>();
      distribute(data.read(), ring, out);
      const parts: Parts = new Map();
      if (out.size === 1) {
        parts.set(out.keys().next().value!, data);
        return parts;
      }
      for (const [owner, res] of out) parts.set(owner, Telemetry.fromModel(signal, res as Resources extends (infer R)[] ? R[] : never, data.ctx));
      return parts;
    },
  };
}

function push<T>(out: Map<number, T[]>, owner: number, v: T): void {
  let l = out.get(owner);
  if (!l) out.set(owner, (l = []));
  l.push(v);
}

function strValue(v: AnyValue | undefined): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'object') return String(v);
  return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x instanceof Uint8Array ? Buffer.from(x).toString('base64') : x));
}

function anyToString(v: AnyValue): string {
  const o = v as unknown as { type?: string; value?: unknown };
  if (o && typeof o === 'object' && 'value' in o) return strValue(o.value as AnyValue);
  return strValue(v);
}

/** An order-independent identity of attributes: sorted key=value pairs. */
function attrsIdentity(attrs: readonly KeyValue[]): string {
  if (attrs.length === 0) return '';
  const kv = attrs.map((a) => `${a.key}=${anyToString(a.value)}`);
  kv.sort();
  return kv.join('\u0000');
}

function serviceKey(r: { resource: { attributes: KeyValue[] } }): string {
  for (const a of r.resource.attributes) if (a.key === 'service.name') return anyToString(a.value);
  return '';
}

function resourceKey(r: { resource: { attributes: KeyValue[] } }): string {
  return attrsIdentity(r.resource.attributes);
}

function byResource(key: (r: { resource: { attributes: KeyValue[] } }) => string): Distribute {
  return (resources, ring, out) => {
    for (const r of resources) push(out, ring.indexOf(hashString(key(r))), r);
  };
}

const EMPTY_ID = new Uint8Array(0);

function logsByTraceId(resources: readonly ResourceLogs[], ring: HashRing, out: Map<number, ResourceLogs[]>): void {
  for (const rl of resources) {
    const mine = new Map<number, ResourceLogs>();
    for (const sl of rl.scopeLogs) {
      const scopes = new Map<number, (typeof sl.logRecords)>();
      for (const rec of sl.logRecords) {
        const id = rec.traceId ?? EMPTY_ID;
        // Records without a trace id spread at random, as the Collector does.
        const h = id.length > 0 ? hashBytes(id) : (Math.random() * 0x100000000) >>> 0;
        const owner = ring.indexOf(h);
        let l = scopes.get(owner);
        if (!l) scopes.set(owner, (l = []));
        l.push(rec);
      }
      for (const [owner, recs] of scopes) {
        let r = mine.get(owner);
        if (!r) mine.set(owner, (r = { resource: rl.resource, schemaUrl: rl.schemaUrl, scopeLogs: [] }));
        r.scopeLogs.push({ scope: sl.scope, schemaUrl: sl.schemaUrl, logRecords: recs });
      }
    }
    for (const [owner, r] of mine) push(out, owner, r);
  }
}

/** Data points of a metric, for splitting by stream. */
function dataPoints(d: MetricData): { attributes: KeyValue[] }[] {
  return d.type === 'empty' ? [] : (d.dataPoints as { attributes: KeyValue[] }[]);
}

function withPoints(m: Metric, points: { attributes: KeyValue[] }[]): Metric {
  return { ...m, data: { ...m.data, dataPoints: points } as MetricData };
}

/**
 * metric: the metric name. streamID: resource attributes + scope name/version
 * + metric name + data point attributes, so each series stays on one backend.
 */
function metricsBy(stream: boolean): Distribute {
  return (resources: readonly ResourceMetrics[], ring, out: Map<number, ResourceMetrics[]>) => {
    for (const rm of resources) {
      const resId = stream ? attrsIdentity(rm.resource.attributes) : '';
      const mine = new Map<number, ResourceMetrics>();
      for (const sm of rm.scopeMetrics) {
        const scopeId = stream ? `${sm.scope.name}\u0001${sm.scope.version}` : '';
        const scopes = new Map<number, Metric[]>();
        const add = (owner: number, m: Metric) => {
          let l = scopes.get(owner);
          if (!l) scopes.set(owner, (l = []));
          l.push(m);
        };
        for (const m of sm.metrics) {
          if (!stream) {
            add(ring.indexOf(hashString(m.name)), m);
            continue;
          }
          const base = `${resId}\u0002${scopeId}\u0002${m.name}\u0002`;
          const pts = dataPoints(m.data);
          if (pts.length === 0) {
            add(ring.indexOf(hashString(base)), m);
            continue;
          }
          const byOwner = new Map<number, { attributes: KeyValue[] }[]>();
          for (const p of pts) {
            const owner = ring.indexOf(hashString(base + attrsIdentity(p.attributes)));
            let l = byOwner.get(owner);
            if (!l) byOwner.set(owner, (l = []));
            l.push(p);
          }
          if (byOwner.size === 1) add(byOwner.keys().next().value!, m);
          else for (const [owner, p] of byOwner) add(owner, withPoints(m, p));
        }
        for (const [owner, ms] of scopes) {
          let r = mine.get(owner);
          if (!r) mine.set(owner, (r = { resource: rm.resource, schemaUrl: rm.schemaUrl, scopeMetrics: [] }));
          r.scopeMetrics.push({ scope: sm.scope, schemaUrl: sm.schemaUrl, metrics: ms });
        }
      }
      for (const [owner, r] of mine) push(out, owner, r);
    }
  };
}
