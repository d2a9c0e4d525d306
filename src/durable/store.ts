// The contract between what needs persistent records (the persistent sending
// queue, durable acknowledgement) and the storage extension that keeps them
// (file_storage). A record is one encoded OTLP export request with its item
// count and request context; appends are group-committed, removals batched.
import type { Component } from '../component/component.js';
import type { Signal } from '../pdata/model.js';
import type { RequestContext } from '../pdata/telemetry.js';

export interface RecordInfo {
  id: number;
  signal: Signal;
  /** Spans, data points or log records in the request. */
  items: number;
  /** Bytes charged against the storage cap (payload plus context). */
  size: number;
}

export interface RecordStore {
  /** The storage extension id, e.g. "file_storage/queue". */
  readonly storageId: string;
  /**
   * Appends a record; resolves with its id once the transaction holding it has
   * committed (with the storage's fsync policy). Rejects with a retryable
   * ConsumerError when the storage is full (`exhausted`, with a retry-after)
   * or unavailable (`unavailable`). `data` is the payload, or byte ranges
   * that join into it.
   */
  append(owner: string, signal: Signal, data: Uint8Array | readonly Uint8Array[], items: number, ctx: RequestContext): Promise<RecordInfo>;
  /**
   * Gives stored records to another owner, in the next transaction (a
   * persistent queue taking over whole durable requests instead of storing
   * their bytes again). Optional.
   */
  adopt?(owner: string, ids: readonly number[]): Promise<void>;
  /** Deletes a record. Deletions are batched into the next transaction; a crash before it means the record is seen again. */
  remove(id: number, size: number): void;
  /** The records of one owner, oldest first. */
  list(owner: string): Promise<RecordInfo[]>;
  /** A record's payload and context; undefined when it is gone (or the storage is not open). */
  read(id: number): Promise<{ data: Uint8Array; ctx: RequestContext } | undefined>;
  /** True once the database is open and the last write succeeded. */
  available(): boolean;
  /** Runs `fn` once the storage is open (right away when it already is). */
  whenOpen(fn: () => void): void;
}

export function isRecordStore(c: Component | undefined): c is Component & RecordStore {
  return !!c && typeof (c as Partial<RecordStore>).append === 'function' && typeof (c as Partial<RecordStore>).whenOpen === 'function';
}

/** Header names never written to disk with a request's metadata. */
const SECRET_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key', 'api-key']);

/** The part of a request context that is persisted: tenant, receiver and non-credential metadata. */
export function encodeContext(ctx: RequestContext): string {
  if (ctx.metadata === undefined && ctx.tenant === undefined && ctx.receiver === undefined) return '';
  const out: { m?: Record<string, readonly string[]>; t?: string; r?: string } = {};
  if (ctx.metadata) {
    const m: Record<string, readonly string[]> = {};
    for (const k of Object.keys(ctx.metadata)) if (!SECRET_HEADERS.has(k)) m[k] = ctx.metadata[k]!;
    out.m = m;
  }
  if (ctx.tenant !== undefined) out.t = ctx.tenant;
  if (ctx.receiver !== undefined) out.r = ctx.receiver;
  return JSON.stringify(out);
}

export function decodeContext(text: string | null | undefined): RequestContext {
  if (!text) return {};
  try {
    const o = JSON.parse(text) as { m?: Record<string, string[]>; t?: string; r?: string };
    const ctx: RequestContext = {};
    if (o.m) ctx.metadata = o.m;
    if (o.t !== undefined) ctx.tenant = o.t;
    if (o.r !== undefined) ctx.receiver = o.r;
    return ctx;
  } catch {
    return {};
  }
}
