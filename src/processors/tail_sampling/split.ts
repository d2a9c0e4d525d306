// Splits an ExportTraceServiceRequest by trace id at the wire level: no span
// is decoded into objects. Each span's bytes are copied as they are; only the
// fields policies need are read on the way (trace id, parent id, start/end,
// status code, flags, and — when a policy asks — trace_state and the values of
// the watched attribute keys).
import { DecodeError } from '../../component/errors.js';
import { ProtoReader, utf8Read } from '../../pdata/proto/reader.js';
import { doubled } from '../../pdata/wire/splice.js';
import type { Needs } from './policies.js';
import { durationMs, idKey, STATUS_BIT, type AttrVal, type TraceEntry } from './trace.js';

/** One ScopeSpans of the request: where its scope and schema_url fields lie. */
interface ScopeInfo {
  scopeStart: number;
  scopeEnd: number;
  schemaStart: number;
  schemaEnd: number;
}

/** One ResourceSpans of the request. */
export interface RsInfo {
  resStart: number;
  resEnd: number;
  schemaStart: number;
  schemaEnd: number;
  scopes: ScopeInfo[];
  /** Watched resource attributes: index, value pairs. */
  attrs: (number | AttrVal)[] | undefined;
}

/** The spans of one trace within one ResourceSpans of the request. */
export class SpanGroup {
  /** Flat triplets: scope index, span body start, span body end. */
  readonly spans: number[] = [];
  spanCount = 0;
  minHi = 0;
  minLo = 0;
  maxHi = 0;
  maxLo = 0;
  statusMask = 0;
  flagsSampled = false;
  rootSeen = false;
  /** start hi, lo, end hi, lo in arrival order (only when latency windows are watched). */
  times: number[] | undefined;
  /** Watched span attributes: index, value pairs. */
  attrs: (number | AttrVal)[] | undefined;
  traceStates: string[] | undefined;
  /** Upper bound of the bytes this group adds to a trace. */
  size = 0;
  /** Trace id bytes position in the request. */
  idStart = 0;
  idEnd = 0;
  constructor(readonly key: string, readonly rs: RsInfo) {}
}

/** Span fields read by the splitter (1 trace_id, 3 trace_state, 4 parent_span_id, 7/8 times, 9 attributes, 15 status, 16 flags). */
const SPAN_HANDLED = (1 << 1) | (1 << 3) | (1 << 4) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 15) | (1 << 16);
const LEN_PREFIX = 4; // padded varint for lengths that are patched in place
const MAX_PADDED = 1 << 28;

function varintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

function overrun(end: number): DecodeError {
  return new DecodeError('field overruns the enclosing message', end);
}

// One reader per request: nested messages move its position within their
// bounds (a DataView per nested message cost 10% of ingest CPU in
// bench/tail_sampling.ts). Each message loop must end exactly on its end.
export class Splitter {
  private local = new Map<string, SpanGroup>();
  /**
   * The group the previous span of this ResourceSpans joined. SDKs and
   * gateways mostly send a trace's spans side by side, so comparing the id
   * bytes with this group's first id skips the id's key string and its Map
   * lookup (in the full pipeline's allocation profile, those key strings were
   * 12% of the JS heap allocated).
   */
  private lastGroup: SpanGroup | undefined;
  /** Span body ranges of the ScopeSpans being split (start, end pairs). */
  private spanRanges: Int32Array = new Int32Array(512);
  private r: ProtoReader = new ProtoReader(new Uint8Array(0));
  private readonly watchAttrs: boolean;
  private readonly watchTimes: boolean;

  constructor(private needs: Needs) {
    this.watchAttrs = needs.attrKeys.length > 0;
    this.watchTimes = needs.latency.length > 0;
  }

  /** Splits a request into span groups, in request order. Throws DecodeError on malformed input. */
  split(buf: Uint8Array): SpanGroup[] {
    const out: SpanGroup[] = [];
    const r = (this.r = new ProtoReader(buf));
    const end = buf.length;
    while (r.pos < end) {
      const tag = r.tag();
      if (tag === 0x0a) {
        const n = r.len32(end);
        const s = r.pos;
        r.pos = s + n;
        this.resourceSpans(buf, s, s + n, out);
      } else r.unknown(tag, end, 1 << 1);
    }
    return out;
  }

  private resourceSpans(buf: Uint8Array, start: number, end: number, out: SpanGroup[]): void {
    const r = this.r;
    r.pos = start;
    const rs: RsInfo = { resStart: 0, resEnd: 0, schemaStart: 0, schemaEnd: 0, scopes: [], attrs: undefined };
    const scopeRanges: number[] = [];
    while (r.pos < end) {
      const at = r.pos;
      const tag = r.tag();
      if (tag === 0x0a) {
        const n = r.len32(end);
        const s = r.pos;
        r.pos += n;
        rs.resStart = at;
        rs.resEnd = r.pos;
        if (this.watchAttrs) rs.attrs = this.resourceAttrs(buf, s, s + n);
      } else if (tag === 0x12) {
        const n = r.len32(end);
        scopeRanges.push(r.pos, r.pos + n);
        r.pos += n;
      } else if (tag === 0x1a) {
        r.skipLen(end);
        rs.schemaStart = at;
        rs.schemaEnd = r.pos;
      } else r.unknown(tag, end, (1 << 1) | (1 << 2) | (1 << 3));
    }
    if (r.pos !== end) throw overrun(end);
    const local = this.local;
    local.clear();
    this.lastGroup = undefined;
    for (let i = 0; i < scopeRanges.length; i += 2) {
      this.scopeSpans(buf, scopeRanges[i]!, scopeRanges[i + 1]!, rs, local);
    }
    if (local.size === 0) return;
    const hdr = rs.resEnd - rs.resStart + (rs.schemaEnd - rs.schemaStart);
    for (const g of local.values()) {
      // Upper bound: a new ResourceSpans and one ScopeSpans per scope run.
      let size = 1 + LEN_PREFIX + hdr;
      let lastScope = -1;
      const sp = g.spans;
      for (let i = 0; i < sp.length; i += 3) {
        const sc = sp[i]!;
        if (sc !== lastScope) {
          const si = rs.scopes[sc]!;
          size += 1 + LEN_PREFIX + (si.scopeEnd - si.scopeStart) + (si.schemaEnd - si.schemaStart);
          lastScope = sc;
        }
        const n = sp[i + 2]! - sp[i + 1]!;
        size += 1 + varintSize(n) + n;
      }
      if (size >= MAX_PADDED) throw new DecodeError('a trace in one ResourceSpans exceeds 256MiB');
      g.size = size;
      out.push(g);
    }
  }

  private scopeSpans(buf: Uint8Array, start: number, end: number, rs: RsInfo, local: Map<string, SpanGroup>): void {
    const r = this.r;
    r.pos = start;
    const scope: ScopeInfo = { scopeStart: 0, scopeEnd: 0, schemaStart: 0, schemaEnd: 0 };
    const scopeIdx = rs.scopes.length;
    rs.scopes.push(scope);
    // First pass for the scope and schema_url, noting the spans' ranges in
    // the splitter's scratch (span() never comes back here); then the spans.
    let ranges = this.spanRanges;
    let k = 0;
    while (r.pos < end) {
      const at = r.pos;
      const tag = r.tag();
      if (tag === 0x12) {
        const n = r.len32(end);
        if (k === ranges.length) ranges = this.spanRanges = doubled(ranges);
        ranges[k] = r.pos;
        ranges[k + 1] = r.pos + n;
        k += 2;
        r.pos += n;
      } else if (tag === 0x0a) {
        r.skipLen(end);
        scope.scopeStart = at;
        scope.scopeEnd = r.pos;
      } else if (tag === 0x1a) {
        r.skipLen(end);
        scope.schemaStart = at;
        scope.schemaEnd = r.pos;
      } else r.unknown(tag, end, (1 << 1) | (1 << 2) | (1 << 3));
    }
    if (r.pos !== end) throw overrun(end);
    for (let i = 0; i < k; i += 2) this.span(buf, ranges[i]!, ranges[i + 1]!, scopeIdx, rs, local);
  }

  private span(buf: Uint8Array, start: number, end: number, scopeIdx: number, rs: RsInfo, local: Map<string, SpanGroup>): void {
    const r = this.r;
    r.pos = start;
    let idStart = start;
    let idEnd = start;
    let root = true;
    let stHi = 0;
    let stLo = 0;
    let enHi = 0;
    let enLo = 0;
    let code = 0;
    let flags = 0;
    let traceState: string | undefined;
    let attrs: (number | AttrVal)[] | undefined;
    const view = r.view;
    while (r.pos < end) {
      const tag = r.tag();
      switch (tag) {
        case 0x0a: {
          const n = r.len32(end);
          idStart = r.pos;
          idEnd = r.pos + n;
          r.pos = idEnd;
          break;
        }
        case 0x1a:
          if (this.needs.traceState) traceState = r.string(end);
          else r.skipLen(end);
          break;
        case 0x22: {
          const n = r.len32(end);
          const p = r.pos;
          r.pos = p + n;
          // pdata treats an all-zero parent id as empty too.
          for (let i = p; i < p + n; i++) {
            if (buf[i] !== 0) {
              root = false;
              break;
            }
          }
          break;
        }
        case 0x39: {
          const p = r.pos;
          if (p + 8 > end) throw new DecodeError('truncated message', p);
          stLo = view.getUint32(p, true);
          stHi = view.getUint32(p + 4, true);
          r.pos = p + 8;
          break;
        }
        case 0x41: {
          const p = r.pos;
          if (p + 8 > end) throw new DecodeError('truncated message', p);
          enLo = view.getUint32(p, true);
          enHi = view.getUint32(p + 4, true);
          r.pos = p + 8;
          break;
        }
        case 0x4a:
          if (this.watchAttrs) {
            const n = r.len32(end);
            const p = r.pos;
            r.pos = p + n;
            attrs = this.keyValue(buf, p, p + n, attrs);
          } else r.skipLen(end);
          break;
        case 0x7a: {
          const n = r.len32(end);
          const p = r.pos;
          r.pos = p + n;
          code = statusCode(r, p, p + n);
          break;
        }
        case 133: // field 16 (flags, fixed32)
          flags = r.fixed32();
          break;
        default:
          r.unknown(tag, end, SPAN_HANDLED);
      }
    }
    if (r.pos !== end) throw overrun(end);
    let g = this.lastGroup;
    if (g === undefined || g.idEnd - g.idStart !== idEnd - idStart || !sameBytes(buf, g.idStart, g.idEnd, buf, idStart)) {
      const key = idKey(buf, idStart, idEnd);
      g = local.get(key);
      if (g === undefined) {
        g = new SpanGroup(key, rs);
        g.idStart = idStart;
        g.idEnd = idEnd;
        if (this.watchTimes) g.times = [];
        local.set(key, g);
      }
      this.lastGroup = g;
    }
    g.spans.push(scopeIdx, start, end);
    g.spanCount++;
    if ((g.minHi === 0 && g.minLo === 0) || stHi < g.minHi || (stHi === g.minHi && stLo < g.minLo)) {
      g.minHi = stHi;
      g.minLo = stLo;
    }
    if ((g.maxHi === 0 && g.maxLo === 0) || enHi > g.maxHi || (enHi === g.maxHi && enLo > g.maxLo)) {
      g.maxHi = enHi;
      g.maxLo = enLo;
    }
    g.statusMask |= code === 2 ? STATUS_BIT.ERROR : code === 1 ? STATUS_BIT.OK : STATUS_BIT.UNSET;
    if ((flags & 1) !== 0) g.flagsSampled = true;
    if (root) g.rootSeen = true;
    if (g.times !== undefined) g.times.push(stHi, stLo, enHi, enLo);
    if (attrs !== undefined) {
      if (g.attrs === undefined) g.attrs = attrs;
      else for (let i = 0; i < attrs.length; i++) g.attrs.push(attrs[i]!);
    }
    if (traceState !== undefined && traceState !== '') {
      const list = g.traceStates ?? (g.traceStates = []);
      if (!list.includes(traceState)) list.push(traceState);
    }
  }

  private resourceAttrs(buf: Uint8Array, start: number, end: number): (number | AttrVal)[] | undefined {
    const r = this.r;
    r.pos = start;
    let out: (number | AttrVal)[] | undefined;
    while (r.pos < end) {
      const tag = r.tag();
      if (tag === 0x0a) {
        const n = r.len32(end);
        const p = r.pos;
        r.pos = p + n;
        out = this.keyValue(buf, p, p + n, out);
      } else r.unknown(tag, end, 1 << 1);
    }
    if (r.pos !== end) throw overrun(end);
    return out;
  }

  /** Reads one KeyValue; when its key is watched, appends (index, value) to `out`. */
  private keyValue(buf: Uint8Array, start: number, end: number, out: (number | AttrVal)[] | undefined): (number | AttrVal)[] | undefined {
    const r = this.r;
    r.pos = start;
    let keyStart = -1;
    let keyEnd = -1;
    let valStart = -1;
    let valEnd = -1;
    while (r.pos < end) {
      const tag = r.tag();
      if (tag === 0x0a) {
        const n = r.len32(end);
        keyStart = r.pos;
        keyEnd = r.pos + n;
        r.pos = keyEnd;
      } else if (tag === 0x12) {
        const n = r.len32(end);
        valStart = r.pos;
        valEnd = r.pos + n;
        r.pos = valEnd;
      } else r.unknown(tag, end, (1 << 1) | (1 << 2));
    }
    if (r.pos !== end) throw overrun(end);
    if (keyStart < 0) return out;
    const keys = this.needs.attrKeyBytes;
    const klen = keyEnd - keyStart;
    for (let k = 0; k < keys.length; k++) {
      const want = keys[k]!;
      if (want.length !== klen) continue;
      let same = true;
      for (let i = 0; i < klen; i++) {
        if (buf[keyStart + i] !== want[i]) {
          same = false;
          break;
        }
      }
      if (!same) continue;
      const v = valStart < 0 ? null : anyValue(r, valStart, valEnd);
      r.pos = end;
      (out ??= []).push(k, v);
      return out;
    }
    return out;
  }
}

function statusCode(r: ProtoReader, start: number, end: number): number {
  r.pos = start;
  let code = 0;
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 0x18) code = r.int32();
    else r.unknown(tag, end, 1 << 3);
  }
  if (r.pos !== end) throw overrun(end);
  return code;
}

/** A watched attribute's value: string, int, bool; null for every other type. */
function anyValue(r: ProtoReader, start: number, end: number): AttrVal {
  r.pos = start;
  let v: AttrVal = null;
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 0x0a:
        v = r.string(end);
        break;
      case 0x10:
        v = r.bool();
        break;
      case 0x18:
        r.varint64();
        v = (r.hi | 0) * 4294967296 + r.lo;
        break;
      default:
        r.unknown(tag, end, (1 << 1) | (1 << 2) | (1 << 3));
        v = null;
    }
  }
  if (r.pos !== end) throw overrun(end);
  return v;
}

// ---------------------------------------------------------------- writing

function sameBytes(a: Uint8Array, as: number, ae: number, b: Uint8Array, bs: number): boolean {
  for (let i = as; i < ae; i++, bs++) if (a[i] !== b[bs]) return false;
  return true;
}

function writePadded(buf: Uint8Array, at: number, v: number): void {
  buf[at] = (v & 0x7f) | 0x80;
  buf[at + 1] = ((v >>> 7) & 0x7f) | 0x80;
  buf[at + 2] = ((v >>> 14) & 0x7f) | 0x80;
  buf[at + 3] = (v >>> 21) & 0x7f;
}

/**
 * Appends a group's spans to a trace's bytes, extending the trace's last
 * ResourceSpans/ScopeSpans in place when the resource and scope are the same.
 * Returns the capacity growth (bytes newly allocated).
 */
export function appendGroup(t: TraceEntry, g: SpanGroup, src: Uint8Array): number {
  const grown = t.reserve(g.size);
  const rs = g.rs;
  const buf = t.buf;
  let pos = t.len;
  const resLen = rs.resEnd - rs.resStart;
  const rsSchemaLen = rs.schemaEnd - rs.schemaStart;
  let sameRs =
    t.rsBody >= 0 &&
    t.rsHdrEnd - t.rsHdrStart === resLen + rsSchemaLen &&
    sameBytes(src, rs.resStart, rs.resEnd, buf, t.rsHdrStart) &&
    sameBytes(src, rs.schemaStart, rs.schemaEnd, buf, t.rsHdrStart + resLen);
  if (sameRs && pos - t.rsBody + g.size >= MAX_PADDED) sameRs = false;
  if (!sameRs) {
    buf[pos++] = 0x0a;
    pos += LEN_PREFIX;
    t.rsBody = pos;
    t.rsHdrStart = pos;
    buf.set(src.subarray(rs.resStart, rs.resEnd), pos);
    pos += resLen;
    buf.set(src.subarray(rs.schemaStart, rs.schemaEnd), pos);
    pos += rsSchemaLen;
    t.rsHdrEnd = pos;
    t.ssBody = -1;
  }
  const sp = g.spans;
  let lastScope = -1;
  for (let i = 0; i < sp.length; i += 3) {
    const sc = sp[i]!;
    if (sc !== lastScope) {
      const si = rs.scopes[sc]!;
      const scLen = si.scopeEnd - si.scopeStart;
      const scSchemaLen = si.schemaEnd - si.schemaStart;
      const sameSs =
        lastScope < 0 &&
        t.ssBody >= 0 &&
        t.ssHdrEnd - t.ssHdrStart === scLen + scSchemaLen &&
        sameBytes(src, si.scopeStart, si.scopeEnd, buf, t.ssHdrStart) &&
        sameBytes(src, si.schemaStart, si.schemaEnd, buf, t.ssHdrStart + scLen);
      if (!sameSs) {
        if (t.ssBody >= 0) writePadded(buf, t.ssBody - LEN_PREFIX, pos - t.ssBody);
        buf[pos++] = 0x12;
        pos += LEN_PREFIX;
        t.ssBody = pos;
        t.ssHdrStart = pos;
        buf.set(src.subarray(si.scopeStart, si.scopeEnd), pos);
        pos += scLen;
        buf.set(src.subarray(si.schemaStart, si.schemaEnd), pos);
        pos += scSchemaLen;
        t.ssHdrEnd = pos;
      }
      lastScope = sc;
    }
    const s = sp[i + 1]!;
    let e = sp[i + 2]!;
    let n = e - s;
    buf[pos++] = 0x12;
    while (n > 0x7f) {
      buf[pos++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    buf[pos++] = n;
    // The spans of one trace mostly lie one after another in the request:
    // a following span of the same scope whose body starts one tag byte and
    // a minimal length prefix after this one ends (so its field starts right
    // here, and the bytes between are the tag and length written above) is
    // copied in the same run. One view and one copy per run, not per span:
    // in the full pipeline's allocation profile, a view per span was 12% of
    // the JS heap allocated.
    while (i + 3 < sp.length && sp[i + 3] === sc && sp[i + 4]! === e + 1 + varintSize(sp[i + 5]! - sp[i + 4]!)) {
      e = sp[i + 5]!;
      i += 3;
    }
    buf.set(src.subarray(s, e), pos);
    pos += e - s;
  }
  writePadded(buf, t.ssBody - LEN_PREFIX, pos - t.ssBody);
  writePadded(buf, t.rsBody - LEN_PREFIX, pos - t.rsBody);
  t.len = pos;
  return grown;
}

/** A group as one standalone ResourceSpans field (for pass-through of late spans). */
export function groupBytes(g: SpanGroup, src: Uint8Array): Uint8Array {
  // A throwaway entry reuses the same writer.
  const t = { buf: new Uint8Array(g.size), len: 0, rsBody: -1, rsHdrStart: 0, rsHdrEnd: 0, ssBody: -1, ssHdrStart: 0, ssHdrEnd: 0, reserve: () => 0 };
  appendGroup(t as unknown as TraceEntry, g, src);
  return t.buf.subarray(0, t.len);
}

function updateMin(t: TraceEntry, hi: number, lo: number): void {
  if ((t.minHi === 0 && t.minLo === 0) || hi < t.minHi || (hi === t.minHi && lo < t.minLo)) {
    t.minHi = hi;
    t.minLo = lo;
  }
}

function updateMax(t: TraceEntry, hi: number, lo: number): void {
  if ((t.maxHi === 0 && t.maxLo === 0) || hi > t.maxHi || (hi === t.maxHi && lo > t.maxLo)) {
    t.maxHi = hi;
    t.maxLo = lo;
  }
}

/** Applies a group's policy facts to its trace. Returns the bytes of facts added. */
export function mergeFacts(t: TraceEntry, g: SpanGroup, needs: Needs): number {
  let added = 0;
  const times = g.times;
  if (times !== undefined) {
    // Running windows in arrival order, as the Collector evaluates latency span by span.
    const lat = needs.latency;
    for (let i = 0; i < times.length; i += 4) {
      updateMin(t, times[i]!, times[i + 1]!);
      updateMax(t, times[i + 2]!, times[i + 3]!);
      const ms = durationMs(t.minHi, t.minLo, t.maxHi, t.maxLo);
      for (let b = 0; b < lat.length; b++) {
        const w = lat[b]!;
        const hit = w.upper === 0 ? ms >= w.lower : w.lower < ms && ms <= w.upper;
        if (hit) t.latencyHits |= 1 << b;
      }
    }
  } else {
    if (g.minHi !== 0 || g.minLo !== 0) updateMin(t, g.minHi, g.minLo);
    updateMax(t, g.maxHi, g.maxLo);
  }
  t.spanCount += g.spanCount;
  t.statusMask |= g.statusMask;
  if (g.flagsSampled) t.flagsSampled = true;
  if (g.rootSeen) t.rootSeen = true;
  const nKeys = needs.attrKeys.length;
  const ra = g.rs.attrs;
  if (ra !== undefined) for (let i = 0; i < ra.length; i += 2) added += t.addAttr(ra[i] as number, ra[i + 1] as AttrVal, nKeys);
  const sa = g.attrs;
  if (sa !== undefined) for (let i = 0; i < sa.length; i += 2) added += t.addAttr(sa[i] as number, sa[i + 1] as AttrVal, nKeys);
  if (g.traceStates !== undefined) for (const ts of g.traceStates) added += t.addTraceState(ts);
  return added;
}

export { utf8Read };
