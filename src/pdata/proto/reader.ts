// A bounds-checked protobuf wire reader.
//
// Every read checks the buffer end, so malformed input can only raise a
// DecodeError. Message decoders pass the end offset of the message they are
// reading: length prefixes are checked against it (`len`), and a message loop
// must finish exactly on it (`endMessage`), so a field can never overrun its
// enclosing message. Nothing is allocated from a length read off the wire
// before that length has been checked against the bytes actually present.
import { DecodeError } from '../../component/errors.js';

export { DecodeError };

/** Wire types. */
export const WT_VARINT = 0;
export const WT_I64 = 1;
export const WT_LEN = 2;
export const WT_SGROUP = 3;
export const WT_EGROUP = 4;
export const WT_I32 = 5;

/**
 * Maximum nesting of AnyValue (array / kvlist) values, and of unknown groups.
 * Deeper input is rejected: it bounds the recursion depth of every decoder.
 */
export const MAX_DEPTH = 64;

type NodeBufferMethods = {
  utf8Slice(this: Uint8Array, start: number, end: number): string;
};
const nodeUtf8Slice: ((this: Uint8Array, start: number, end: number) => string) | undefined =
  typeof Buffer === 'function' ? (Buffer.prototype as unknown as NodeBufferMethods).utf8Slice : undefined;
const textDecoder = new TextDecoder();

/**
 * UTF-8 bytes to a string; invalid sequences become U+FFFD (strings are not
 * validated, as in most OTLP implementations).
 */
// Buffer#utf8Slice (callable on any Uint8Array) beats TextDecoder#decode: 51 vs 79 ns
// at 42 bytes and 52 vs 80 ns at 11 bytes; a JS loop with String.fromCharCode is
// 59 ns at 11 bytes and 171 ns at 42 (codec.bench.ts --primitives).
export const utf8Read: (buf: Uint8Array, start: number, end: number) => string =
  nodeUtf8Slice !== undefined
    ? (buf, start, end) => nodeUtf8Slice.call(buf, start, end)
    : (buf, start, end) => textDecoder.decode(buf.subarray(start, end));

// Short strings repeat: attribute keys, and values such as http.method or a
// peer name. They are looked up by content in a direct-mapped cache (hash and
// compare the bytes, no allocation) before being decoded; a hit returns the
// same string instance. Measured: span decode 1.05-1.13x faster at 5
// attributes and 1.4-1.9x at 20 (A/B runs; "string cache" rows in
// codec.bench.ts --primitives).
const CACHE_MAX_BYTES = 32;
let cacheLimit = CACHE_MAX_BYTES;
const CACHE_BITS = 12;
const CACHE_MASK = (1 << CACHE_BITS) - 1;
const cacheLen = new Int32Array(1 << CACHE_BITS).fill(-1);
const cacheBytes = new Uint8Array((1 << CACHE_BITS) * CACHE_MAX_BYTES);
const cacheStr: string[] = new Array<string>(1 << CACHE_BITS).fill('');

/** Decodes `n` (1..CACHE_MAX_BYTES) UTF-8 bytes at `start` through the string cache. */
function cachedString(buf: Uint8Array, start: number, n: number): string {
  let h = n;
  for (let i = 0; i < n; i++) h = (Math.imul(h, 31) + buf[start + i]!) | 0;
  const slot = (h ^ (h >>> 15)) & CACHE_MASK;
  const base = slot * CACHE_MAX_BYTES;
  if (cacheLen[slot] === n) {
    let i = 0;
    while (i < n && cacheBytes[base + i] === buf[start + i]) i++;
    if (i === n) return cacheStr[slot]!;
  }
  const s = utf8Read(buf, start, start + n);
  for (let i = 0; i < n; i++) cacheBytes[base + i] = buf[start + i]!;
  cacheLen[slot] = n;
  cacheStr[slot] = s;
  return s;
}

/**
 * Strings of up to `maxBytes` (0..32) bytes go through the decode string cache;
 * 0 disables it. For benchmarks.
 */
export function setStringCacheLimit(maxBytes: number): void {
  cacheLimit = Math.max(0, Math.min(CACHE_MAX_BYTES, Math.floor(maxBytes)));
}

function truncated(pos: number): DecodeError {
  return new DecodeError('truncated message', pos);
}

export class ProtoReader {
  buf!: Uint8Array;
  view!: DataView;
  /** Absolute end of the buffer. */
  len = 0;
  pos = 0;
  /** Low and high 32 bits of the last varint read by `varint64`. */
  lo = 0;
  hi = 0;
  /** The buffer given to the constructor or the last reset(). */
  private source: Uint8Array | undefined = undefined;

  constructor(buf: Uint8Array, pos = 0, end = buf.length) {
    this.reset(buf, pos, end);
  }

  /** Starts over on another buffer (readers that walk many requests are reused). */
  reset(buf: Uint8Array, pos = 0, end = buf.length): this {
    // The same buffer again (a reader reset per record of one request) keeps
    // its views: a DataView per reset was 1.9% of a Loki load's profile.
    if (buf !== this.source) {
      this.source = buf;
      // A Node Buffer's slice() returns a view, not a copy: read through a plain
      // Uint8Array over the same memory so `bytes` always copies.
      this.buf = buf.constructor === Uint8Array ? buf : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
      this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    }
    this.pos = pos;
    this.len = Math.min(end, buf.length);
    return this;
  }

  /** Reads a varint of up to 10 bytes into `lo`/`hi` (unsigned 32-bit halves). */
  varint64(): void {
    const buf = this.buf;
    const len = this.len;
    let pos = this.pos;
    let lo = 0;
    let b = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      if (pos >= len) throw truncated(pos);
      b = buf[pos++]!;
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        this.lo = lo >>> 0;
        this.hi = 0;
        return;
      }
    }
    if (pos >= len) throw truncated(pos);
    b = buf[pos++]!;
    lo |= (b & 0x0f) << 28;
    let hi = (b & 0x7f) >> 4;
    if (b < 0x80) {
      this.pos = pos;
      this.lo = lo >>> 0;
      this.hi = hi;
      return;
    }
    for (let shift = 3; shift < 32; shift += 7) {
      if (pos >= len) throw truncated(pos);
      b = buf[pos++]!;
      hi |= (b & 0x7f) << shift;
      if (b < 0x80) {
        // The 10th byte carries only bit 63.
        if (shift === 31 && b > 1) throw new DecodeError('varint overflows 64 bits', pos - 1);
        this.pos = pos;
        this.lo = lo >>> 0;
        this.hi = hi >>> 0;
        return;
      }
    }
    throw new DecodeError('varint longer than 10 bytes', pos - 1);
  }

  /** A varint truncated to its low 32 bits, unsigned (uint32 fields, enums read as unsigned). */
  uint32(): number {
    const pos = this.pos;
    if (pos < this.len) {
      const b = this.buf[pos]!;
      if (b < 0x80) {
        this.pos = pos + 1;
        return b;
      }
    }
    this.varint64();
    return this.lo;
  }

  /** A varint truncated to its low 32 bits, signed (int32 fields and enums). */
  int32(): number {
    return this.uint32() | 0;
  }

  /** A varint that must fit 32 bits unsigned (tags, lengths). */
  private strictUint32(): number {
    const pos = this.pos;
    if (pos < this.len) {
      const b = this.buf[pos]!;
      if (b < 0x80) {
        this.pos = pos + 1;
        return b;
      }
    }
    this.varint64();
    if (this.hi !== 0) throw new DecodeError('varint out of 32-bit range', pos);
    return this.lo;
  }

  /** Reads a field tag: field number << 3 | wire type. Field number 0 is invalid. */
  tag(): number {
    const pos = this.pos;
    const t = this.strictUint32();
    if (t < 8) throw new DecodeError('invalid field number 0', pos);
    return t;
  }

  /** The length prefix of a length-delimited field, checked against `end`. */
  len32(end: number): number {
    const at = this.pos;
    const n = this.strictUint32();
    if (n > end - this.pos) throw new DecodeError(`length ${n} exceeds the enclosing message`, at);
    return n;
  }

  /** Reads the length prefix of a sub-message; returns the sub-message's end offset. */
  sub(end: number): number {
    const n = this.len32(end);
    return this.pos + n;
  }

  /** A varint bool. */
  bool(): boolean {
    this.varint64();
    return this.lo !== 0 || this.hi !== 0;
  }

  /** An int64 varint as a bigint. */
  int64(): bigint {
    this.varint64();
    const lo = this.lo;
    const hi = this.hi;
    if (hi === 0) return BigInt(lo);
    // Exact double range: |value| < 2^53.
    if (hi < 0x200000) return BigInt(hi * 4294967296 + lo);
    if (hi >= 0xffe00000) return BigInt((hi | 0) * 4294967296 + lo);
    return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo));
  }

  /** An int64 varint as a number (exact within ±2^53). */
  int64Number(): number {
    this.varint64();
    const hi = this.hi;
    return hi < 0x80000000 ? hi * 4294967296 + this.lo : (hi | 0) * 4294967296 + this.lo;
  }

  /** A uint64 varint as a number (exact up to 2^53). */
  uint64Number(): number {
    const pos = this.pos;
    if (pos < this.len) {
      const b = this.buf[pos]!;
      if (b < 0x80) {
        this.pos = pos + 1;
        return b;
      }
    }
    this.varint64();
    return this.hi * 4294967296 + this.lo;
  }

  /** A sint32 (zigzag) varint. */
  sint32(): number {
    const n = this.uint32();
    return (n >>> 1) ^ -(n & 1);
  }

  fixed32(): number {
    const pos = this.pos;
    if (pos + 4 > this.len) throw truncated(pos);
    this.pos = pos + 4;
    return this.view.getUint32(pos, true);
  }

  // DataView#getBigUint64 beats assembling two 32-bit halves with BigInt
  // shifts: 13 vs 31 ns (codec.bench.ts --primitives).
  fixed64(): bigint {
    const pos = this.pos;
    if (pos + 8 > this.len) throw truncated(pos);
    this.pos = pos + 8;
    return this.view.getBigUint64(pos, true);
  }

  sfixed64(): bigint {
    const pos = this.pos;
    if (pos + 8 > this.len) throw truncated(pos);
    this.pos = pos + 8;
    return this.view.getBigInt64(pos, true);
  }

  /** A fixed64 as a number (exact up to 2^53). */
  fixed64Number(): number {
    const pos = this.pos;
    if (pos + 8 > this.len) throw truncated(pos);
    this.pos = pos + 8;
    const v = this.view;
    return v.getUint32(pos + 4, true) * 4294967296 + v.getUint32(pos, true);
  }

  double(): number {
    const pos = this.pos;
    if (pos + 8 > this.len) throw truncated(pos);
    this.pos = pos + 8;
    return this.view.getFloat64(pos, true);
  }

  /** A length-delimited UTF-8 string field. */
  string(end: number): string {
    const n = this.len32(end);
    if (n === 0) return '';
    const start = this.pos;
    this.pos = start + n;
    if (n <= cacheLimit) return cachedString(this.buf, start, n);
    return utf8Read(this.buf, start, start + n);
  }

  /**
   * A length-delimited bytes field, copied out of the input so a decoded model
   * neither aliases nor retains the request buffer.
   */
  // Copying a 16-byte id with slice costs 34 ns against 28 ns for a subarray
  // view (codec.bench.ts --primitives): a copy does not pin the whole request
  // buffer in memory for as long as one span is kept, and stays valid if the
  // caller reuses the input buffer.
  bytes(end: number): Uint8Array {
    const n = this.len32(end);
    const start = this.pos;
    this.pos = start + n;
    return this.buf.slice(start, start + n);
  }

  /** Skips a length-delimited field's payload, validating only its length. */
  skipLen(end: number): void {
    const n = this.len32(end);
    this.pos += n;
  }

  /**
   * Skips the value of an unknown field of the given tag. Groups are skipped
   * with their contents (bounded by MAX_DEPTH). End-group tags without a
   * matching start and the undefined wire types 6 and 7 are errors.
   */
  skip(tag: number, end: number, depth = 0): void {
    const at = this.pos;
    switch (tag & 7) {
      case WT_VARINT:
        this.varint64();
        return;
      case WT_I64:
        if (this.pos + 8 > this.len) throw truncated(this.pos);
        this.pos += 8;
        return;
      case WT_LEN:
        this.skipLen(end);
        return;
      case WT_I32:
        if (this.pos + 4 > this.len) throw truncated(this.pos);
        this.pos += 4;
        return;
      case WT_SGROUP: {
        if (depth >= MAX_DEPTH) throw new DecodeError('groups nested too deeply', at);
        const field = tag >>> 3;
        for (;;) {
          if (this.pos >= end) throw truncated(this.pos);
          const t = this.tag();
          if ((t & 7) === WT_EGROUP) {
            if (t >>> 3 !== field) throw new DecodeError('mismatched end group', at);
            return;
          }
          this.skip(t, end, depth + 1);
        }
      }
      case WT_EGROUP:
        throw new DecodeError('unexpected end group', at);
      default:
        throw new DecodeError(`invalid wire type ${tag & 7}`, at);
    }
  }

  /**
   * Handles a tag a message decoder did not match: a known field number with an
   * unexpected wire type is an error, anything else is skipped. `known` has bit
   * n set when field n (1..31) is defined by the message.
   */
  unknown(tag: number, end: number, known: number): void {
    const field = tag >>> 3;
    if (field < 32 && (known & (1 << field)) !== 0) {
      throw new DecodeError(`wrong wire type ${tag & 7} for field ${field}`, this.pos);
    }
    this.skip(tag, end);
  }

  /** Checks a message loop ended exactly at its declared end. */
  endMessage(end: number): void {
    if (this.pos !== end) throw new DecodeError('field overruns the enclosing message', end);
  }
}

/** Bit mask of known field numbers, for ProtoReader#unknown. */
export function fieldMask(...fields: number[]): number {
  let m = 0;
  for (const f of fields) m |= 1 << f;
  return m;
}
