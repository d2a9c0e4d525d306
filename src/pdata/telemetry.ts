// The unit of data that flows through a pipeline: one batch of one signal.
//
// A batch holds its encoded protobuf bytes, its decoded model, or both. Data
// that no component needs to look at is never decoded: a receiver validates the
// request with a structural scan and passes the bytes on; the batch processor
// concatenates request bytes (protobuf merges repeated fields, so the
// concatenation of two ExportTraceServiceRequests is their union); an exporter
// sends the same bytes. A component that reads calls read(); one that changes
// data calls mutate(), which drops the cached bytes so they are re-encoded once.
import { CODECS, type SignalCodec } from './codec.js';
import type { ResourceLogs, ResourceMetrics, ResourceSpans, Signal } from './model.js';
import type { AuthIdentity } from '../extensions/auth/auth.js';

/** Per-request context carried with a batch through the pipeline. */
export interface RequestContext {
  /** Client metadata (lower-cased header names), set when the receiver has include_metadata. */
  metadata?: Readonly<Record<string, readonly string[]>>;
  /** Tenant id, when tenancy is configured. */
  tenant?: string;
  /** Who sent the data: the receiver's authenticator, or the client certificate (mTLS). */
  auth?: AuthIdentity;
  /** Receiver id that accepted the data. */
  receiver?: string;
  /** Durable-acknowledgement handles this batch derives from (see the durable storage layer). */
  durable?: readonly DurableRef[];
}

/** A reference to a durably stored request; released when every exporter is done with what derives from it. */
export interface DurableRef {
  retain(): void;
  release(): void;
}

/**
 * Releases the durable references a batch holds. Call it wherever data leaves
 * the pipeline for good other than through an exporter: dropped by a sampler or
 * filter, or given up on after a permanent failure.
 */
export function releaseDurable(data: { ctx: RequestContext }): void {
  const refs = data.ctx.durable;
  if (refs) for (const r of refs) r.release();
}

type ResourceOf<S extends Signal> = S extends 'traces' ? ResourceSpans : S extends 'metrics' ? ResourceMetrics : ResourceLogs;

export class Telemetry<S extends Signal = Signal> {
  readonly signal: S;
  ctx: RequestContext;
  private bytes: Uint8Array | undefined;
  /**
   * The request as byte ranges that join into it (a concatenation of
   * requests not yet copied into one buffer); set only while `bytes` is not.
   */
  private parts: readonly Uint8Array[] | undefined;
  private model: ResourceOf<S>[] | undefined;
  private count: number;

  private constructor(signal: S, bytes: Uint8Array | undefined, model: ResourceOf<S>[] | undefined, count: number, ctx: RequestContext) {
    this.signal = signal;
    this.bytes = bytes;
    this.model = model;
    this.count = count;
    this.ctx = ctx;
  }

  /** Wraps request bytes that have already been validated by `codec.scan` (which gave `count`). */
  static fromProto<S extends Signal>(signal: S, bytes: Uint8Array, count: number, ctx: RequestContext = {}): Telemetry<S> {
    return new Telemetry(signal, bytes, undefined, count, ctx);
  }

  /**
   * Wraps a request given as byte ranges that join into it (whole requests or
   * whole ResourceX fields, in order; validated, `count` items in all).
   */
  static fromParts<S extends Signal>(signal: S, parts: readonly Uint8Array[], count: number, ctx: RequestContext = {}): Telemetry<S> {
    const t = new Telemetry(signal, undefined, undefined, count, ctx);
    if (parts.length > 1) t.parts = parts;
    else t.bytes = parts[0] ?? new Uint8Array(0);
    return t;
  }

  static fromModel<S extends Signal>(signal: S, resources: ResourceOf<S>[], ctx: RequestContext = {}): Telemetry<S> {
    return new Telemetry(signal, undefined, resources, -1, ctx);
  }

  static traces(resources: ResourceSpans[], ctx: RequestContext = {}): Telemetry<'traces'> {
    return Telemetry.fromModel('traces', resources, ctx);
  }
  static metrics(resources: ResourceMetrics[], ctx: RequestContext = {}): Telemetry<'metrics'> {
    return Telemetry.fromModel('metrics', resources, ctx);
  }
  static logs(resources: ResourceLogs[], ctx: RequestContext = {}): Telemetry<'logs'> {
    return Telemetry.fromModel('logs', resources, ctx);
  }

  private codec(): SignalCodec<ResourceOf<S>> {
    return CODECS[this.signal] as unknown as SignalCodec<ResourceOf<S>>;
  }

  /** The decoded resources, for reading only. Keeps the cached bytes valid. */
  read(): readonly ResourceOf<S>[] {
    if (this.model === undefined) this.model = this.codec().decode(this.toProto());
    return this.model;
  }

  /** The decoded resources, for changing in place. Cached bytes and counts are dropped. */
  mutate(): ResourceOf<S>[] {
    const m = this.read() as ResourceOf<S>[];
    this.bytes = undefined;
    this.parts = undefined;
    this.count = -1;
    return m;
  }

  /** Replaces the content. */
  replace(resources: ResourceOf<S>[]): void {
    this.model = resources;
    this.bytes = undefined;
    this.parts = undefined;
    this.count = -1;
  }

  /**
   * Replaces the content with edited request bytes holding the same items
   * (a processor that spliced the wire form); the decoded model is dropped.
   */
  replaceProto(bytes: Uint8Array): void {
    if (bytes === this.bytes) return;
    this.bytes = bytes;
    this.parts = undefined;
    this.model = undefined;
  }

  /** True when the encoded bytes are cached (no re-encode needed). */
  hasProto(): boolean {
    return this.bytes !== undefined || this.parts !== undefined;
  }

  /** The Export<Signal>ServiceRequest bytes; encoded (or joined) at most once while unchanged. */
  toProto(): Uint8Array {
    if (this.bytes === undefined) {
      if (this.parts !== undefined) {
        this.bytes = join(this.parts);
        this.parts = undefined;
      } else this.bytes = this.codec().encode(this.model!);
    }
    return this.bytes;
  }

  /**
   * The request bytes as byte ranges whose concatenation is toProto(), for a
   * writer that can send them one after another: a batch joined from several
   * requests is not copied into one buffer for it.
   */
  protoParts(): readonly Uint8Array[] {
    if (this.bytes === undefined && this.parts !== undefined) return this.parts;
    return [this.toProto()];
  }

  /** The length of toProto(), without joining or encoding when the bytes are at hand. */
  protoLength(): number {
    if (this.bytes !== undefined) return this.bytes.length;
    if (this.parts !== undefined) {
      let n = 0;
      for (const p of this.parts) n += p.length;
      return n;
    }
    return this.toProto().length;
  }

  /** Spans, metric data points or log records. */
  itemCount(): number {
    if (this.count < 0) this.count = this.codec().count(this.model!);
    return this.count;
  }

  isEmpty(): boolean {
    return this.itemCount() === 0;
  }

  /** An independent copy that may be mutated without affecting this batch. */
  clone(): Telemetry<S> {
    if (this.bytes !== undefined || this.parts !== undefined) {
      // Bytes are immutable: share them; the copy decodes its own model on demand.
      const t = new Telemetry(this.signal, this.bytes, undefined, this.count, this.ctx);
      t.parts = this.parts;
      return t;
    }
    return new Telemetry(this.signal, undefined, structuredClone(this.model!), this.count, this.ctx);
  }

  /**
   * Joins batches of one signal. When every part has its bytes, the result is
   * their concatenation, kept as the list of the parts' byte ranges (joined
   * into one buffer only if something asks toProto()), so nothing is decoded,
   * re-encoded or copied; otherwise the models are joined.
   */
  static concat<S extends Signal>(signal: S, parts: readonly Telemetry<S>[], ctx?: RequestContext): Telemetry<S> {
    const mergedCtx = ctx ?? mergeContexts(parts);
    if (parts.length === 1) {
      const p = parts[0]!;
      const t = new Telemetry(signal, p.bytes, p.model, p.count, mergedCtx);
      t.parts = p.parts;
      return t;
    }
    let allBytes = true;
    let total = 0;
    for (const p of parts) {
      if (p.bytes === undefined && p.parts === undefined) allBytes = false;
      const c = p.itemCount();
      total += c;
    }
    if (allBytes) {
      const ranges: Uint8Array[] = [];
      for (const p of parts) {
        if (p.bytes !== undefined) {
          if (p.bytes.length > 0) ranges.push(p.bytes);
        } else for (const r of p.parts!) ranges.push(r);
      }
      return Telemetry.fromParts(signal, ranges, total, mergedCtx);
    }
    const model: ResourceOf<S>[] = [];
    for (const p of parts) {
      const m = p.read();
      for (let i = 0; i < m.length; i++) model.push(m[i]!);
    }
    return new Telemetry(signal, undefined, model, total, mergedCtx);
  }
}

/** The concatenation of byte ranges, in one new buffer (not zero-filled first: every byte is written). */
function join(parts: readonly Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = Buffer.allocUnsafeSlow(len);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function mergeContexts(parts: readonly Telemetry[]): RequestContext {
  if (parts.length === 0) return {};
  const first = parts[0]!.ctx;
  let durable: DurableRef[] | undefined;
  for (const p of parts) {
    if (p.ctx.durable) (durable ??= []).push(...p.ctx.durable);
  }
  const out: RequestContext = { ...first };
  if (durable) out.durable = durable;
  else delete out.durable;
  return out;
}

export type Traces = Telemetry<'traces'>;
export type Metrics = Telemetry<'metrics'>;
export type Logs = Telemetry<'logs'>;
export type AnyTelemetry = Telemetry<'traces'> | Telemetry<'metrics'> | Telemetry<'logs'>;
