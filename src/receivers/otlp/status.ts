// Maps consumer errors to OTLP/HTTP and gRPC status codes, per the OTLP spec:
// bad data 400 / INVALID_ARGUMENT; back-pressure 429 / RESOURCE_EXHAUSTED with
// Retry-After / RetryInfo; transient 503 / UNAVAILABLE; permanent 500 / INTERNAL.
import { ConsumerError } from '../../component/errors.js';

export const GRPC = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

export interface StatusMapping {
  http: number;
  grpc: number;
  /** Seconds for Retry-After / RetryInfo, when the error carries a delay. */
  retryAfterSec: number | undefined;
}

export function mapError(err: ConsumerError): StatusMapping {
  const ra = err.retryAfterMs === undefined ? undefined : Math.max(1, Math.ceil(err.retryAfterMs / 1000));
  switch (err.kind) {
    case 'invalid':
      return { http: 400, grpc: GRPC.INVALID_ARGUMENT, retryAfterSec: undefined };
    case 'too_large':
      return { http: 413, grpc: GRPC.RESOURCE_EXHAUSTED, retryAfterSec: undefined };
    case 'unauthenticated':
      return { http: 401, grpc: GRPC.UNAUTHENTICATED, retryAfterSec: undefined };
    case 'permission_denied':
      return { http: 403, grpc: GRPC.PERMISSION_DENIED, retryAfterSec: undefined };
    case 'exhausted':
      // RESOURCE_EXHAUSTED is retryable for gRPC clients only with RetryInfo: always attach one.
      return { http: 429, grpc: GRPC.RESOURCE_EXHAUSTED, retryAfterSec: ra ?? 1 };
    case 'unavailable':
      return { http: 503, grpc: GRPC.UNAVAILABLE, retryAfterSec: ra };
    default:
      return { http: 500, grpc: GRPC.INTERNAL, retryAfterSec: undefined };
  }
}

// --- google.rpc.Status with a RetryInfo detail, for grpc-status-details-bin.

function varint(out: number[], v: number): void {
  while (v > 127) {
    out.push((v & 127) | 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

function lenField(out: number[], field: number, bytes: ArrayLike<number>): void {
  varint(out, (field << 3) | 2);
  varint(out, bytes.length);
  for (let i = 0; i < bytes.length; i++) out.push(bytes[i]!);
}

/** google.rpc.Status { code, message, details: [Any(RetryInfo{retry_delay})] } */
export function rpcStatusWithRetryInfo(code: number, message: string, retryAfterSec: number | undefined): Buffer {
  const out: number[] = [];
  if (code) {
    varint(out, 1 << 3);
    varint(out, code);
  }
  if (message) lenField(out, 2, Buffer.from(message, 'utf8'));
  if (retryAfterSec !== undefined) {
    const duration: number[] = [];
    varint(duration, 1 << 3);
    varint(duration, retryAfterSec);
    const retryInfo: number[] = [];
    lenField(retryInfo, 1, duration);
    const any: number[] = [];
    lenField(any, 1, Buffer.from('type.googleapis.com/google.rpc.RetryInfo'));
    lenField(any, 2, retryInfo);
    lenField(out, 3, any);
  }
  return Buffer.from(out);
}

/** Reads the RetryInfo delay (ms) from a google.rpc.Status, if present. */
export function retryDelayFromStatus(buf: Uint8Array): number | undefined {
  try {
    const fields = readFields(buf);
    for (const d of fields.filter((f) => f.num === 3)) {
      const any = readFields(d.bytes!);
      const url = any.find((f) => f.num === 1);
      const val = any.find((f) => f.num === 2);
      if (!url || !val || !Buffer.from(url.bytes!).toString().endsWith('google.rpc.RetryInfo')) continue;
      const ri = readFields(val.bytes!);
      const dur = ri.find((f) => f.num === 1);
      if (!dur) return 0;
      const df = readFields(dur.bytes!);
      const secs = df.find((f) => f.num === 1)?.value ?? 0;
      const nanos = df.find((f) => f.num === 2)?.value ?? 0;
      return secs * 1000 + Math.round(nanos / 1e6);
    }
  } catch {
    return undefined;
  }
  return undefined;
}

function readFields(buf: Uint8Array): { num: number; value?: number; bytes?: Uint8Array }[] {
  const out: { num: number; value?: number; bytes?: Uint8Array }[] = [];
  let i = 0;
  const rv = (): number => {
    let r = 0;
    let mul = 1;
    for (let n = 0; n < 10; n++) {
      if (i >= buf.length) throw new Error('truncated');
      const b = buf[i++]!;
      r += (b & 127) * mul;
      if (b < 128) return r;
      mul *= 128;
    }
    throw new Error('varint too long');
  };
  while (i < buf.length) {
    const tag = rv();
    const num = tag >>> 3;
    const wt = tag & 7;
    if (wt === 0) out.push({ num, value: rv() });
    else if (wt === 2) {
      const len = rv();
      if (i + len > buf.length) throw new Error('truncated');
      out.push({ num, bytes: buf.subarray(i, i + len) });
      i += len;
    } else if (wt === 1) i += 8;
    else if (wt === 5) i += 4;
    else throw new Error('bad wire type');
  }
  return out;
}
