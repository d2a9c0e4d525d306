// Splits a batch into one batch per backend by routing key.
//
// traceID on traces works on the wire bytes: a scan finds each span's trace
// id and bounds without decoding, and the spans are copied as they are into
// one request per backend. A batch whose traces
// all belong to one backend is passed on untouched (no copy).
//
// The other keys read the decoded model (resource attributes, metric names,
// data point attributes); the parts are built from the model and encoded
// once when sent.
import type { HashRing } from '../../routing/ring.js';
import { hashBytes, hashString } from '../../routing/ring.js';
import type { AnyValue, KeyValue, Metric, MetricData, ResourceLogs, ResourceMetrics, ResourceSpans, Signal } from '../../pdata/model.js';
import { Telemetry } from '../../pdata/telemetry.js';
import { ProtoReader } from '../../pdata/proto/reader.js';
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

// Measured reason for a scanner of its own rather than the tail-sampling
// splitter: that one builds a group (and a map key string) per trace and
// reads policy fields; routing only needs each span's trace id and bounds,
// and grouping by owner instead of by trace. bench/loadbalancing.ts: 1.4 µs
// per span of added CPU with the splitter, see bench/RESULTS.md for this one.
class TraceIdWireRouter implements Router {
  private readonly r = new ProtoReader(new Uint8Array(0));

  split(data: Telemetry, ring: HashRing): Parts {
    const parts: Parts = new Map();
    // One backend owns everything: nothing to look at.
    if (ring.size === 1) {
      parts.set(0, data);
      return parts;
    }
    const buf = data.toProto();
    const r = this.r.reset(buf);
    const end = buf.length;
    // Headers: flat [start, end) ranges of the resource + schema_url fields per ResourceSpans, scope + schema_url per ScopeSpans.
    const hdr: number[] = [];
    // Spans: flat (owner, header index of its ResourceSpans, header index of its ScopeSpans, field start, field end).
    const spans: number[] = [];
    let first = -1;
    let single = true;
    let lastHash = -1;
    let lastOwner = -1;
    while (r.pos < end) {
      const tag = r.tag();
      if (tag !== 0x0a) {
        r.unknown(tag, end, 1 << 1);
        continue;
      }
      const rsEnd = r.sub(end);
      const rsHdr = hdr.length;
      hdr.push(0, 0, 0, 0);
      const scopes: number[] = [];
      while (r.pos < rsEnd) {
        const at = r.pos;
        const t = r.tag();
        if (t === 0x0a) {
          r.skipLen(rsEnd);
          hdr[rsHdr] = at;
          hdr[rsHdr + 1] = r.pos;
        } else if (t === 0x12) {
          const n = r.len32(rsEnd);
          scopes.push(r.pos, r.pos + n);
          r.pos += n;
        } else if (t === 0x1a) {
          r.skipLen(rsEnd);
          hdr[rsHdr + 2] = at;
          hdr[rsHdr + 3] = r.pos;
        } else r.unknown(t, rsEnd, (1 << 1) | (1 << 2) | (1 << 3));
      }
      r.endMessage(rsEnd);
      for (let si = 0; si < scopes.length; si += 2) {
        const ssEnd = scopes[si + 1]!;
        r.pos = scopes[si]!;
        const ssHdr = hdr.length;
        hdr.push(0, 0, 0, 0);
        while (r.pos < ssEnd) {
          const at = r.pos;
          const t = r.tag();
          if (t === 0x12) {
            const spEnd = r.sub(ssEnd);
            const h = this.traceIdHash(spEnd);
            // Spans of one trace tend to be adjacent: reuse the lookup.
            const owner = h === lastHash ? lastOwner : ring.indexOf(h);
            lastHash = h;
            lastOwner = owner;
            r.pos = spEnd;
            if (first < 0) first = owner;
            else if (owner !== first) single = false;
            spans.push(owner, rsHdr, ssHdr, at, spEnd);
          } else if (t === 0x0a) {
            r.skipLen(ssEnd);
            hdr[ssHdr] = at;
            hdr[ssHdr + 1] = r.pos;
          } else if (t === 0x1a) {
            r.skipLen(ssEnd);
            hdr[ssHdr + 2] = at;
            hdr[ssHdr + 3] = r.pos;
          } else r.unknown(t, ssEnd, (1 << 1) | (1 << 2) | (1 << 3));
        }
        r.endMessage(ssEnd);
      }
    }
    if (first < 0) return parts;
    if (single) {
      parts.set(first, data);
      return parts;
    }
    const owners = new Set<number>();
    for (let i = 0; i < spans.length; i += 5) owners.add(spans[i]!);
    for (const o of owners) parts.set(o, writePart(buf, hdr, spans, o, data));
    return parts;
  }

  /** Hash of the trace id (field 1) of the span whose body ends at `end`; the reader is left inside the span. */
  private traceIdHash(end: number): number {
    const r = this.r;
    while (r.pos < end) {
      const t = r.tag();
      if (t === 0x0a) {
        const n = r.len32(end);
        return hashBytes(r.buf, r.pos, r.pos + n);
      }
      r.unknown(t, end, 1 << 1);
    }
    return hashBytes(r.buf, 0, 0);
  }
}

function varintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

function putVarint(out: Uint8Array, pos: number, v: number): number {
  while (v > 0x7f) {
    out[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  out[pos++] = v;
  return pos;
}

/** One owner's spans as a request: consecutive spans of one ResourceSpans/ScopeSpans share their headers. */
function writePart(buf: Uint8Array, hdr: number[], spans: number[], owner: number, data: Telemetry): Telemetry {
  // Pass 1: body sizes of each ResourceSpans and ScopeSpans run.
  const rsSizes: number[] = [];
  const ssSizes: number[] = [];
  let count = 0;
  let lastRs = -1;
  let lastSs = -1;
  let rsBody = 0;
  let ssBody = 0;
  const hlen = (h: number) => hdr[h + 1]! - hdr[h]! + (hdr[h + 3]! - hdr[h + 2]!);
  const closeSs = () => {
    if (lastSs >= 0) {
      ssSizes.push(ssBody);
      rsBody += 1 + varintSize(ssBody) + ssBody;
    }
  };
  for (let i = 0; i < spans.length; i += 5) {
    if (spans[i] !== owner) continue;
    count++;
    const rs = spans[i + 1]!;
    const ss = spans[i + 2]!;
    if (rs !== lastRs) {
      closeSs();
      if (lastRs >= 0) rsSizes.push(rsBody);
      lastRs = rs;
      lastSs = -1;
      rsBody = hlen(rs);
    }
    if (ss !== lastSs) {
      closeSs();
      lastSs = ss;
      ssBody = hlen(ss);
    }
    ssBody += spans[i + 4]! - spans[i + 3]!;
  }
  closeSs();
  rsSizes.push(rsBody);
  let total = 0;
  for (const n of rsSizes) total += 1 + varintSize(n) + n;
  // Pass 2: write.
  const out = new Uint8Array(total);
  let pos = 0;
  let rsi = 0;
  let ssi = 0;
  lastRs = -1;
  lastSs = -1;
  const copyHdr = (h: number) => {
    out.set(buf.subarray(hdr[h]!, hdr[h + 1]!), pos);
    pos += hdr[h + 1]! - hdr[h]!;
    out.set(buf.subarray(hdr[h + 2]!, hdr[h + 3]!), pos);
    pos += hdr[h + 3]! - hdr[h + 2]!;
  };
  for (let i = 0; i < spans.length; i += 5) {
    if (spans[i] !== owner) continue;
    const rs = spans[i + 1]!;
    const ss = spans[i + 2]!;
    if (rs !== lastRs) {
      out[pos++] = 0x0a;
      pos = putVarint(out, pos, rsSizes[rsi++]!);
      copyHdr(rs);
      lastRs = rs;
      lastSs = -1;
    }
    if (ss !== lastSs) {
      out[pos++] = 0x12;
      pos = putVarint(out, pos, ssSizes[ssi++]!);
      copyHdr(ss);
      lastSs = ss;
    }
    // Adjacent spans (a trace's spans usually are) are copied in one go.
    const s = spans[i + 3]!;
    let e = spans[i + 4]!;
    while (i + 5 < spans.length && spans[i + 5] === owner && spans[i + 6] === rs && spans[i + 7] === ss && spans[i + 8] === e) {
      i += 5;
      e = spans[i + 4]!;
    }
    out.set(buf.subarray(s, e), pos);
    pos += e - s;
  }
  return Telemetry.fromProto('traces', out, count, data.ctx);
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
