// opentelemetry.proto.common.v1 and resource.v1: AnyValue, KeyValue,
// InstrumentationScope, Resource. Encoders, decoders and structural scanners.
//
// Merge rules on decode follow protobuf: a repeated field appends, a scalar
// field keeps the last value, a singular sub-message that occurs twice is
// merged into the first (Resource, InstrumentationScope, KeyValue.value); a
// oneof member replaces the previous member (as the Collector's pdata does).
import type { AnyValue, InstrumentationScope, KeyValue, Resource } from '../model.js';
import { DecodeError, MAX_DEPTH, ProtoReader, fieldMask } from './reader.js';
import type { ProtoWriter } from './writer.js';

// ---------------------------------------------------------------- encode

/** Writes the fields of an AnyValue message (no tag or length). `depth` is the value's nesting level (1 = attribute value). */
export function encodeAnyValue(w: ProtoWriter, v: AnyValue, depth = 1): void {
  if (depth > MAX_DEPTH) throw new RangeError(`AnyValue nested deeper than ${MAX_DEPTH} levels`);
  switch (v.type) {
    case 'string':
      w.uint32(10);
      w.string(v.value);
      return;
    case 'bool':
      w.uint32(16);
      w.bool(v.value);
      return;
    case 'int':
      w.uint32(24);
      w.int64(v.value);
      return;
    case 'double':
      w.uint32(33);
      w.double(v.value);
      return;
    case 'array': {
      w.uint32(42);
      const s = w.fork(2);
      const a = v.value;
      for (let i = 0; i < a.length; i++) {
        w.uint32(10);
        const s2 = w.fork();
        encodeAnyValue(w, a[i]!, depth + 1);
        w.join(s2);
      }
      w.join(s, 2);
      return;
    }
    case 'kvlist': {
      w.uint32(50);
      const s = w.fork(2);
      encodeKeyValueList(w, 10, v.value, depth + 1);
      w.join(s, 2);
      return;
    }
    case 'bytes':
      w.uint32(58);
      w.bytes(v.value);
      return;
    default:
      return;
  }
}

/** Writes the fields of a KeyValue message. */
export function encodeKeyValue(w: ProtoWriter, kv: KeyValue, depth = 1): void {
  if (kv.key.length !== 0) {
    w.uint32(10);
    w.string(kv.key);
  }
  const v = kv.value;
  if (v.type === 'string' && v.value.length <= 24) {
    // The common case, inlined: a short string value, so the AnyValue body
    // (tag, length, <= 72 bytes) and the KeyValue.value prefix fit one byte.
    w.uint32(18);
    const s = w.fork();
    w.uint32(10);
    w.string(v.value);
    w.join(s);
  } else if (v.type !== 'empty') {
    w.uint32(18);
    const s = w.fork();
    encodeAnyValue(w, v, depth);
    w.join(s);
  }
}

function encodeKeyValueList(w: ProtoWriter, tag: number, kvs: readonly KeyValue[], depth: number): void {
  for (let i = 0; i < kvs.length; i++) {
    w.uint32(tag);
    const s = w.fork();
    encodeKeyValue(w, kvs[i]!, depth);
    w.join(s);
  }
}

/** Writes each KeyValue as a length-delimited field `field` (e.g. attributes = 9 in Span). */
export function encodeKeyValues(w: ProtoWriter, field: number, kvs: readonly KeyValue[]): void {
  encodeKeyValueList(w, (field << 3) | 2, kvs, 1);
}

/** Writes the fields of a Resource message. */
export function encodeResource(w: ProtoWriter, r: Resource): void {
  encodeKeyValueList(w, 10, r.attributes, 1);
  if (r.droppedAttributesCount !== 0) {
    w.uint32(16);
    w.uint32(r.droppedAttributesCount >>> 0);
  }
}

/** Writes the fields of an InstrumentationScope message. */
export function encodeScope(w: ProtoWriter, s: InstrumentationScope): void {
  if (s.name.length !== 0) {
    w.uint32(10);
    w.string(s.name);
  }
  if (s.version.length !== 0) {
    w.uint32(18);
    w.string(s.version);
  }
  encodeKeyValueList(w, 26, s.attributes, 1);
  if (s.droppedAttributesCount !== 0) {
    w.uint32(32);
    w.uint32(s.droppedAttributesCount >>> 0);
  }
}

/** True when a Resource has only default fields (and is omitted on encode). */
export function isEmptyResource(r: Resource): boolean {
  return r.attributes.length === 0 && r.droppedAttributesCount === 0;
}

export function isEmptyScope(s: InstrumentationScope): boolean {
  return s.name.length === 0 && s.version.length === 0 && s.attributes.length === 0 && s.droppedAttributesCount === 0;
}

/** Writes a Resource as a sub-message field with tag `tag`, unless it is empty. */
export function encodeResourceField(w: ProtoWriter, tag: number, r: Resource): void {
  if (isEmptyResource(r)) return;
  w.uint32(tag);
  const s = w.fork(2);
  encodeResource(w, r);
  w.join(s, 2);
}

/** Writes an InstrumentationScope as a sub-message field with tag `tag`, unless it is empty. */
export function encodeScopeField(w: ProtoWriter, tag: number, sc: InstrumentationScope): void {
  if (isEmptyScope(sc)) return;
  w.uint32(tag);
  const s = w.fork();
  encodeScope(w, sc);
  w.join(s);
}

// ---------------------------------------------------------------- decode

const ANY_KNOWN = fieldMask(1, 2, 3, 4, 5, 6, 7);
const LIST_KNOWN = fieldMask(1);
const KV_KNOWN = fieldMask(1, 2);
const RESOURCE_KNOWN = fieldMask(1, 2);
const SCOPE_KNOWN = fieldMask(1, 2, 3, 4);

function tooDeep(r: ProtoReader): DecodeError {
  return new DecodeError(`AnyValue nested deeper than ${MAX_DEPTH} levels`, r.pos);
}

/**
 * Decodes an AnyValue message body ending at `end`. `depth` is its nesting
 * level (1 for an attribute value or log body); `prev` is a value to merge into.
 */
export function decodeAnyValue(r: ProtoReader, end: number, depth = 1, prev?: AnyValue): AnyValue {
  if (depth > MAX_DEPTH) throw tooDeep(r);
  let v: AnyValue | undefined = prev;
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 10:
        v = { type: 'string', value: r.string(end) };
        break;
      case 16:
        v = { type: 'bool', value: r.bool() };
        break;
      case 24:
        v = { type: 'int', value: r.int64() };
        break;
      case 33:
        v = { type: 'double', value: r.double() };
        break;
      case 42: {
        const e = r.sub(end);
        const values: AnyValue[] = [];
        while (r.pos < e) {
          const t = r.tag();
          if (t === 10) {
            const e2 = r.sub(e);
            values.push(decodeAnyValue(r, e2, depth + 1));
          } else r.unknown(t, e, LIST_KNOWN);
        }
        r.endMessage(e);
        v = { type: 'array', value: values };
        break;
      }
      case 50: {
        const e = r.sub(end);
        const values: KeyValue[] = [];
        while (r.pos < e) {
          const t = r.tag();
          if (t === 10) {
            const e2 = r.sub(e);
            values.push(decodeKeyValue(r, e2, depth + 1));
          } else r.unknown(t, e, LIST_KNOWN);
        }
        r.endMessage(e);
        v = { type: 'kvlist', value: values };
        break;
      }
      case 58:
        v = { type: 'bytes', value: r.bytes(end) };
        break;
      default:
        r.unknown(tag, end, ANY_KNOWN);
    }
  }
  r.endMessage(end);
  return v ?? { type: 'empty' };
}

/** Decodes a KeyValue message body; its value is at nesting level `depth`. */
export function decodeKeyValue(r: ProtoReader, end: number, depth = 1): KeyValue {
  let key = '';
  let value: AnyValue | undefined;
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 10) key = r.string(end);
    else if (tag === 18) {
      const e = r.sub(end);
      value = decodeAnyValue(r, e, depth, value);
    } else r.unknown(tag, end, KV_KNOWN);
  }
  r.endMessage(end);
  return { key, value: value ?? { type: 'empty' } };
}

/** Reads one length-delimited KeyValue field value and appends it to `out`. */
export function readKeyValueInto(r: ProtoReader, end: number, out: KeyValue[]): void {
  const e = r.sub(end);
  out.push(decodeKeyValue(r, e, 1));
}

/** Decodes a Resource message body, merging into `into` when given. */
export function decodeResource(r: ProtoReader, end: number, into?: Resource): Resource {
  const res: Resource = into ?? { attributes: [], droppedAttributesCount: 0 };
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 10) readKeyValueInto(r, end, res.attributes);
    else if (tag === 16) res.droppedAttributesCount = r.uint32();
    else r.unknown(tag, end, RESOURCE_KNOWN);
  }
  r.endMessage(end);
  return res;
}

/** Decodes an InstrumentationScope message body, merging into `into` when given. */
export function decodeScope(r: ProtoReader, end: number, into?: InstrumentationScope): InstrumentationScope {
  const sc: InstrumentationScope = into ?? { name: '', version: '', attributes: [], droppedAttributesCount: 0 };
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 10:
        sc.name = r.string(end);
        break;
      case 18:
        sc.version = r.string(end);
        break;
      case 26:
        readKeyValueInto(r, end, sc.attributes);
        break;
      case 32:
        sc.droppedAttributesCount = r.uint32();
        break;
      default:
        r.unknown(tag, end, SCOPE_KNOWN);
    }
  }
  r.endMessage(end);
  return sc;
}

export function emptyResource(): Resource {
  return { attributes: [], droppedAttributesCount: 0 };
}

export function emptyScope(): InstrumentationScope {
  return { name: '', version: '', attributes: [], droppedAttributesCount: 0 };
}

// ---------------------------------------------------------------- scan
// Each scanner accepts exactly the input its decoder accepts.

/** Validates an AnyValue message body without building it. */
export function scanAnyValue(r: ProtoReader, end: number, depth = 1): void {
  if (depth > MAX_DEPTH) throw tooDeep(r);
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 10:
      case 58:
        r.skipLen(end);
        break;
      case 16:
      case 24:
        r.varint64();
        break;
      case 33:
        r.double();
        break;
      case 42: {
        const e = r.sub(end);
        while (r.pos < e) {
          const t = r.tag();
          if (t === 10) {
            const e2 = r.sub(e);
            scanAnyValue(r, e2, depth + 1);
          } else r.unknown(t, e, LIST_KNOWN);
        }
        r.endMessage(e);
        break;
      }
      case 50: {
        const e = r.sub(end);
        while (r.pos < e) {
          const t = r.tag();
          if (t === 10) {
            const e2 = r.sub(e);
            scanKeyValue(r, e2, depth + 1);
          } else r.unknown(t, e, LIST_KNOWN);
        }
        r.endMessage(e);
        break;
      }
      default:
        r.unknown(tag, end, ANY_KNOWN);
    }
  }
  r.endMessage(end);
}

/** Validates a KeyValue message body. */
export function scanKeyValue(r: ProtoReader, end: number, depth = 1): void {
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 10) r.skipLen(end);
    else if (tag === 18) {
      const e = r.sub(end);
      scanAnyValue(r, e, depth);
    } else r.unknown(tag, end, KV_KNOWN);
  }
  r.endMessage(end);
}

/** Validates one length-delimited KeyValue field value. */
export function scanKeyValueField(r: ProtoReader, end: number): void {
  const e = r.sub(end);
  scanKeyValue(r, e, 1);
}

export function scanResource(r: ProtoReader, end: number): void {
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 10) scanKeyValueField(r, end);
    else if (tag === 16) r.varint64();
    else r.unknown(tag, end, RESOURCE_KNOWN);
  }
  r.endMessage(end);
}

export function scanScope(r: ProtoReader, end: number): void {
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 10:
      case 18:
        r.skipLen(end);
        break;
      case 26:
        scanKeyValueField(r, end);
        break;
      case 32:
        r.varint64();
        break;
      default:
        r.unknown(tag, end, SCOPE_KNOWN);
    }
  }
  r.endMessage(end);
}

/** Reads a trace id (16 bytes) or span id (8 bytes); an empty field means absent. */
export function readId(r: ProtoReader, end: number, size: 8 | 16): Uint8Array {
  const at = r.pos;
  const id = r.bytes(end);
  if (id.length !== size && id.length !== 0) throw new DecodeError(`id of ${id.length} bytes, expected ${size}`, at);
  return id;
}

/** Validates a trace or span id field. */
export function scanId(r: ProtoReader, end: number, size: 8 | 16): void {
  const at = r.pos;
  const n = r.len32(end);
  if (n !== size && n !== 0) throw new DecodeError(`id of ${n} bytes, expected ${size}`, at);
  r.pos += n;
}

/** Writes an id field when non-empty. */
export function encodeIdField(w: ProtoWriter, tag: number, id: Uint8Array): void {
  if (id.length === 0) return;
  w.uint32(tag);
  w.bytes(id);
}

/** Writes a string field when non-empty. */
export function encodeStringField(w: ProtoWriter, tag: number, s: string): void {
  if (s.length === 0) return;
  w.uint32(tag);
  w.string(s);
}
