// One buffered trace: its spans as OTLP protobuf bytes, plus the few facts the
// policies look at, gathered once while the spans are split by trace id.
//
// The bytes are a sequence of ExportTraceServiceRequest `resource_spans`
// fields (tag 1), so a kept trace is forwarded by concatenation, with no
// decoding. The last ResourceSpans and its last ScopeSpans carry 4-byte
// (non-minimal) length prefixes so that later spans with the same resource and
// scope extend them in place instead of repeating the resource bytes; every
// protobuf decoder accepts padded varints.
import type { DurableRef } from '../../pdata/telemetry.js';

/** A policy-visible attribute value: string, int (as number), bool, or null for every other type. */
export type AttrVal = string | number | boolean | null;

/** pdata's Value.Str(): the string, or "" for other types. */
export function attrStr(v: AttrVal): string {
  return typeof v === 'string' ? v : '';
}
/** pdata's Value.Int(): the int, or 0 for other types. */
export function attrInt(v: AttrVal): number {
  return typeof v === 'number' ? v : 0;
}
/** pdata's Value.Bool(): the bool, or false for other types. */
export function attrBool(v: AttrVal): boolean {
  return typeof v === 'boolean' ? v : false;
}

/** Milliseconds between two ns timestamps given as halves, truncated toward zero like Go's Duration.Milliseconds(). */
export function durationMs(sHi: number, sLo: number, eHi: number, eLo: number): number {
  return Math.trunc(((eHi - sHi) * 4294967296 + (eLo - sLo)) / 1e6);
}

/** Status code bits in `statusMask`. */
export const STATUS_BIT = { UNSET: 1, OK: 2, ERROR: 4 } as const;

/** Fixed accounting per buffered trace: the entry object, its Map slot and key. Measured in bench/tail_sampling.ts. */
export const TRACE_OVERHEAD_BYTES = 320;

export class TraceEntry {
  /** Trace id as a 16-char latin1 string (the Map key). */
  readonly key: string;
  /** Arrival of the first span (ms, settings.now). */
  readonly firstMs: number;
  /** When the trace is decided (ms). */
  deadline: number;
  spanCount = 0;
  /** Encoded size of the spans' ResourceSpans fields (bytes_limiting). */
  buf: Uint8Array;
  len = 0;
  /** Bytes charged against max_buffered_bytes. */
  accounted = 0;
  /** Durable-acknowledgement references held for this trace's spans (one retain each). */
  refs: DurableRef[] | undefined;

  // Extend-in-place bookkeeping: offsets into `buf` (-1 when none).
  rsBody = -1; // body start of the last ResourceSpans (its 4-byte length sits just before)
  rsHdrStart = 0; // resource + schema_url bytes of the last ResourceSpans
  rsHdrEnd = 0;
  ssBody = -1; // body start of the last ScopeSpans
  ssHdrStart = 0; // scope + schema_url bytes of the last ScopeSpans
  ssHdrEnd = 0;

  // Facts for policies.
  // Earliest start and latest end in ns, as unsigned 32-bit halves (exact).
  minHi = 0;
  minLo = 0;
  maxHi = 0;
  maxLo = 0;
  statusMask = 0;
  flagsSampled = false;
  rootSeen = false;
  /** Bit i: latency policy i matched on some running window (the Collector's per-span early exit). */
  latencyHits = 0;
  /** Distinct span trace_state strings (only when a trace_state policy exists). */
  traceStates: string[] | undefined = undefined;
  /** Per watched attribute key index: the distinct values seen on resources and spans. */
  attrs: (AttrVal[] | undefined)[] | undefined = undefined;
  /** Tenant of the first request (output batches are grouped by it). */
  tenant: string | undefined;
  /** True once the root span arrived and the deadline was moved. */
  rootQueued = false;

  constructor(key: string, nowMs: number, deadline: number, initialCapacity: number, tenant: string | undefined) {
    this.key = key;
    this.firstMs = nowMs;
    this.deadline = deadline;
    // Not zero-filled: only [0, len) is ever read, and it is written first.
    // A 12 KB trace buffer cost 1.5-2.2 µs zero-filled, 0.6-0.7 µs not (Node
    // 20, this machine); the constructor was 1.7% of the full pipeline's main thread.
    this.buf = Buffer.allocUnsafeSlow(initialCapacity);
    this.tenant = tenant;
  }

  /** The trace's bytes: a valid ExportTraceServiceRequest on its own. */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }

  /** Makes room for `n` more bytes; returns the capacity growth. */
  reserve(n: number): number {
    const need = this.len + n;
    const cap = this.buf.length;
    if (need <= cap) return 0;
    // Growth by 1.5x keeps appends amortised O(1) for traces that arrive span by span.
    const next = Math.max(need, cap + (cap >>> 1));
    const b = Buffer.allocUnsafeSlow(next);
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
    return next - cap;
  }

  /** Records a value of watched attribute `idx` (deduplicated); returns the bytes added. */
  addAttr(idx: number, v: AttrVal, nKeys: number): number {
    let attrs = this.attrs;
    if (attrs === undefined) attrs = this.attrs = new Array<AttrVal[] | undefined>(nKeys).fill(undefined);
    let list = attrs[idx];
    if (list === undefined) {
      attrs[idx] = [v];
      return attrCost(v) + 32;
    }
    for (let i = 0; i < list.length; i++) if (list[i] === v) return 0;
    list.push(v);
    return attrCost(v);
  }

  addTraceState(ts: string): number {
    const list = this.traceStates ?? (this.traceStates = []);
    if (list.includes(ts)) return 0;
    list.push(ts);
    return 16 + 2 * ts.length;
  }
}

function attrCost(v: AttrVal): number {
  return typeof v === 'string' ? 24 + v.length : 8;
}

/** Trace id bytes → Map key (one latin1 char per byte). */
export const idKey: (buf: Uint8Array, start: number, end: number) => string = (() => {
  const latin1Slice = (Buffer.prototype as unknown as { latin1Slice(this: Uint8Array, s: number, e: number): string }).latin1Slice;
  return (buf, start, end) => latin1Slice.call(buf, start, end);
})();

/** Map key → trace id bytes, into `out` (16 bytes). */
export function keyBytes(key: string, out: Uint8Array): Uint8Array {
  const n = Math.min(key.length, out.length);
  for (let i = 0; i < n; i++) out[i] = key.charCodeAt(i);
  return n === out.length ? out : out.subarray(0, n);
}
