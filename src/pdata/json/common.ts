// OTLP/JSON building blocks: the proto3 JSON mapping with the OTLP exceptions
// (hex trace and span ids, integer enums, lowerCamelCase keys).
//
// Encoders produce plain JSON values (objects, arrays, strings, numbers) with
// default values omitted; int64 and fixed64 values are decimal strings and
// non-finite doubles are "NaN", "Infinity" and "-Infinity".
//
// Decoders take the output of JSON.parse. They accept lowerCamelCase and the
// original snake_case keys, treat null as absent, ignore unknown keys, accept
// 64-bit integers as strings or numbers and enums as integers or names, and
// throw DecodeError on any value of the wrong shape.
import { DecodeError } from '../../component/errors.js';
import type { AnyValue, InstrumentationScope, KeyValue, Resource } from '../model.js';
import { MAX_DEPTH } from '../proto/reader.js';

export { DecodeError };

export type JsonObject = { [key: string]: JsonValue };
export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;

const EMPTY_BYTES = new Uint8Array(0);

// ---------------------------------------------------------------- text

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Parses JSON text (a string, or UTF-8 bytes) into a value. */
export function parseJson(text: string | Uint8Array): unknown {
  let s: string;
  if (typeof text === 'string') s = text;
  else {
    try {
      s = utf8.decode(text);
    } catch {
      throw new DecodeError('JSON body is not valid UTF-8');
    }
  }
  try {
    return JSON.parse(s);
  } catch (e) {
    throw new DecodeError(`invalid JSON: ${(e as Error).message}`);
  }
}

// ---------------------------------------------------------------- bytes

const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push(i.toString(16).padStart(2, '0'));

/** Lowercase hex of an id. */
export function toHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += HEX[b[i]!];
  return s;
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** A hex id of `size` bytes, case-insensitive; "" (or absent) means no id. */
export function idFromJson(v: unknown, size: 8 | 16, name: string): Uint8Array {
  if (v === undefined) return EMPTY_BYTES;
  if (typeof v !== 'string') throw new DecodeError(`${name}: expected a hex string`);
  if (v.length === 0) return EMPTY_BYTES;
  if (v.length !== size * 2) throw new DecodeError(`${name}: expected ${size * 2} hex digits, got ${v.length} characters`);
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) {
    const h = hexDigit(v.charCodeAt(2 * i));
    const l = hexDigit(v.charCodeAt(2 * i + 1));
    if (h < 0 || l < 0) throw new DecodeError(`${name}: invalid hex digit`);
    out[i] = (h << 4) | l;
  }
  return out;
}

export function toBase64(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
}

// Standard or URL-safe alphabet, padding optional (proto3 JSON accepts both).
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

export function bytesFromJson(v: unknown, name: string): Uint8Array {
  if (v === undefined) return EMPTY_BYTES;
  if (typeof v !== 'string') throw new DecodeError(`${name}: expected a base64 string`);
  if (!BASE64.test(v)) throw new DecodeError(`${name}: invalid base64`);
  const unpadded = v.length - (v.endsWith('==') ? 2 : v.endsWith('=') ? 1 : 0);
  if (unpadded % 4 === 1 || (v.length !== unpadded && v.length % 4 !== 0)) throw new DecodeError(`${name}: invalid base64 length`);
  return new Uint8Array(Buffer.from(v, 'base64'));
}

// ---------------------------------------------------------------- scalars

/** A field of a JSON object by lowerCamelCase or snake_case name; null reads as absent. */
export function field(o: Record<string, unknown>, camel: string, snake?: string): unknown {
  let v = o[camel];
  if ((v === undefined || v === null) && snake !== undefined) v = o[snake];
  return v === null ? undefined : v;
}

export function asObject(v: unknown, name: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new DecodeError(`${name}: expected an object`);
  return v as Record<string, unknown>;
}

/** A repeated field: absent reads as empty. */
export function asArray(v: unknown, name: string): unknown[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new DecodeError(`${name}: expected an array`);
  return v;
}

export function strFromJson(v: unknown, name: string): string {
  if (v === undefined) return '';
  if (typeof v !== 'string') throw new DecodeError(`${name}: expected a string`);
  return v;
}

export function boolFromJson(v: unknown, name: string): boolean {
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw new DecodeError(`${name}: expected a boolean`);
  return v;
}

const INTEGER = /^-?\d+$/;

/** An integer given as a JSON number or a decimal string, as a number (exactness not checked). */
function integerNumber(v: unknown, name: string): number {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new DecodeError(`${name}: expected an integer`);
    return v;
  }
  if (typeof v === 'string' && INTEGER.test(v)) return Number(v);
  throw new DecodeError(`${name}: expected an integer`);
}

export function uint32FromJson(v: unknown, name: string): number {
  if (v === undefined) return 0;
  const n = integerNumber(v, name);
  if (n < 0 || n > 0xffffffff) throw new DecodeError(`${name}: out of uint32 range`);
  return n;
}

export function int32FromJson(v: unknown, name: string): number {
  if (v === undefined) return 0;
  const n = integerNumber(v, name);
  if (n < -0x80000000 || n > 0x7fffffff) throw new DecodeError(`${name}: out of int32 range`);
  return n;
}

/** An enum: an integer, or one of its value names. */
export function enumFromJson(v: unknown, names: readonly string[], name: string): number {
  if (typeof v === 'string' && !INTEGER.test(v)) {
    const i = names.indexOf(v);
    if (i < 0) throw new DecodeError(`${name}: unknown enum value ${JSON.stringify(v)}`);
    return i;
  }
  return int32FromJson(v, name);
}

const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

function bigIntFromJson(v: unknown, name: string): bigint {
  if (typeof v === 'string') {
    if (!INTEGER.test(v)) throw new DecodeError(`${name}: expected a decimal integer string`);
    return BigInt(v);
  }
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  throw new DecodeError(`${name}: expected an integer`);
}

/** A uint64 / fixed64 as a bigint. */
export function uint64BigFromJson(v: unknown, name: string): bigint {
  if (v === undefined) return 0n;
  const b = bigIntFromJson(v, name);
  if (b < 0n || b > U64_MAX) throw new DecodeError(`${name}: out of uint64 range`);
  return b;
}

/** An int64 / sfixed64 as a bigint. */
export function int64BigFromJson(v: unknown, name: string): bigint {
  if (v === undefined) return 0n;
  const b = bigIntFromJson(v, name);
  if (b < I64_MIN || b > I64_MAX) throw new DecodeError(`${name}: out of int64 range`);
  return b;
}

/** A uint64 count as a number (exact up to 2^53). */
export function uint64NumberFromJson(v: unknown, name: string): number {
  if (v === undefined) return 0;
  return Number(uint64BigFromJson(v, name));
}

const NUMERIC = /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

/** A double: a number, "NaN", "Infinity", "-Infinity" or a numeric string. */
export function doubleFromJson(v: unknown, name: string): number {
  if (v === undefined) return 0;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    if (v === 'NaN') return NaN;
    if (v === 'Infinity') return Infinity;
    if (v === '-Infinity') return -Infinity;
    if (NUMERIC.test(v)) return Number(v);
  }
  throw new DecodeError(`${name}: expected a number`);
}

/** A double for JSON: finite values as numbers, others as their proto3 JSON names. */
export function doubleToJson(v: number): number | string {
  if (Number.isFinite(v)) return v;
  return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
}

/** proto3 omits a double only when it is +0. */
export function isDefaultDouble(v: number): boolean {
  return v === 0 && 1 / v > 0;
}

// ---------------------------------------------------------------- AnyValue, KeyValue

function tooDeep(): DecodeError {
  return new DecodeError(`AnyValue nested deeper than ${MAX_DEPTH} levels`);
}

/** An AnyValue as JSON; `depth` is its nesting level (1 = attribute value). */
export function anyValueToJson(v: AnyValue, depth = 1): JsonObject {
  if (depth > MAX_DEPTH) throw new RangeError(`AnyValue nested deeper than ${MAX_DEPTH} levels`);
  switch (v.type) {
    case 'string':
      return { stringValue: v.value };
    case 'bool':
      return { boolValue: v.value };
    case 'int':
      return { intValue: v.value.toString() };
    case 'double':
      return { doubleValue: doubleToJson(v.value) };
    case 'bytes':
      return { bytesValue: toBase64(v.value) };
    case 'array': {
      const values: JsonValue[] = [];
      for (const x of v.value) values.push(anyValueToJson(x, depth + 1));
      return { arrayValue: values.length === 0 ? {} : { values } };
    }
    case 'kvlist': {
      const values = keyValuesToJsonAt(v.value, depth + 1);
      return { kvlistValue: values.length === 0 ? {} : { values } };
    }
    default:
      return {};
  }
}

function keyValuesToJsonAt(kvs: readonly KeyValue[], depth: number): JsonObject[] {
  const out: JsonObject[] = [];
  for (const kv of kvs) out.push({ key: kv.key, value: anyValueToJson(kv.value, depth) });
  return out;
}

export function keyValuesToJson(kvs: readonly KeyValue[]): JsonObject[] {
  return keyValuesToJsonAt(kvs, 1);
}

/** Sets `o[key]` to the attributes when there are any. */
export function putAttributes(o: JsonObject, key: string, kvs: readonly KeyValue[]): void {
  if (kvs.length !== 0) o[key] = keyValuesToJsonAt(kvs, 1);
}

const ANY_KEYS: readonly (readonly [string, string])[] = [
  ['stringValue', 'string_value'],
  ['boolValue', 'bool_value'],
  ['intValue', 'int_value'],
  ['doubleValue', 'double_value'],
  ['arrayValue', 'array_value'],
  ['kvlistValue', 'kvlist_value'],
  ['bytesValue', 'bytes_value'],
];

export function anyValueFromJson(v: unknown, depth = 1): AnyValue {
  if (depth > MAX_DEPTH) throw tooDeep();
  if (v === undefined) return { type: 'empty' };
  const o = asObject(v, 'AnyValue');
  let found = -1;
  let value: unknown;
  for (let i = 0; i < ANY_KEYS.length; i++) {
    const x = field(o, ANY_KEYS[i]![0], ANY_KEYS[i]![1]);
    if (x === undefined) continue;
    if (found >= 0) throw new DecodeError('AnyValue: more than one value set');
    found = i;
    value = x;
  }
  switch (found) {
    case 0:
      return { type: 'string', value: strFromJson(value, 'stringValue') };
    case 1:
      return { type: 'bool', value: boolFromJson(value, 'boolValue') };
    case 2:
      return { type: 'int', value: int64BigFromJson(value, 'intValue') };
    case 3:
      return { type: 'double', value: doubleFromJson(value, 'doubleValue') };
    case 4: {
      const list = asArray(field(asObject(value, 'arrayValue'), 'values'), 'arrayValue.values');
      const out: AnyValue[] = [];
      for (const x of list) out.push(anyValueFromJson(x === null ? undefined : x, depth + 1));
      return { type: 'array', value: out };
    }
    case 5: {
      const list = asArray(field(asObject(value, 'kvlistValue'), 'values'), 'kvlistValue.values');
      return { type: 'kvlist', value: keyValuesFromJsonAt(list, depth + 1) };
    }
    case 6:
      return { type: 'bytes', value: bytesFromJson(value, 'bytesValue') };
    default:
      return { type: 'empty' };
  }
}

function keyValuesFromJsonAt(list: unknown[], depth: number): KeyValue[] {
  const out: KeyValue[] = [];
  for (const x of list) {
    const o = asObject(x, 'KeyValue');
    out.push({ key: strFromJson(field(o, 'key'), 'key'), value: anyValueFromJson(field(o, 'value'), depth) });
  }
  return out;
}

/** A repeated KeyValue field (absent reads as empty). */
export function keyValuesFromJson(v: unknown, name = 'attributes'): KeyValue[] {
  return keyValuesFromJsonAt(asArray(v, name), 1);
}

// ---------------------------------------------------------------- Resource, InstrumentationScope

export function resourceToJson(r: Resource): JsonObject {
  const o: JsonObject = {};
  putAttributes(o, 'attributes', r.attributes);
  if (r.droppedAttributesCount !== 0) o.droppedAttributesCount = r.droppedAttributesCount;
  return o;
}

export function scopeToJson(s: InstrumentationScope): JsonObject {
  const o: JsonObject = {};
  if (s.name.length !== 0) o.name = s.name;
  if (s.version.length !== 0) o.version = s.version;
  putAttributes(o, 'attributes', s.attributes);
  if (s.droppedAttributesCount !== 0) o.droppedAttributesCount = s.droppedAttributesCount;
  return o;
}

export function resourceFromJson(v: unknown): Resource {
  if (v === undefined) return { attributes: [], droppedAttributesCount: 0 };
  const o = asObject(v, 'resource');
  return {
    attributes: keyValuesFromJson(field(o, 'attributes')),
    droppedAttributesCount: uint32FromJson(field(o, 'droppedAttributesCount', 'dropped_attributes_count'), 'droppedAttributesCount'),
  };
}

export function scopeFromJson(v: unknown): InstrumentationScope {
  if (v === undefined) return { name: '', version: '', attributes: [], droppedAttributesCount: 0 };
  const o = asObject(v, 'scope');
  return {
    name: strFromJson(field(o, 'name'), 'scope.name'),
    version: strFromJson(field(o, 'version'), 'scope.version'),
    attributes: keyValuesFromJson(field(o, 'attributes')),
    droppedAttributesCount: uint32FromJson(field(o, 'droppedAttributesCount', 'dropped_attributes_count'), 'droppedAttributesCount'),
  };
}

/** Sets the resource / scope and schemaUrl keys of a Resource* or Scope* JSON object. */
export function putResource(o: JsonObject, r: Resource): void {
  if (r.attributes.length !== 0 || r.droppedAttributesCount !== 0) o.resource = resourceToJson(r);
}

export function putScope(o: JsonObject, s: InstrumentationScope): void {
  if (s.name.length !== 0 || s.version.length !== 0 || s.attributes.length !== 0 || s.droppedAttributesCount !== 0) {
    o.scope = scopeToJson(s);
  }
}

/** Sets `o[key]` to a fixed64 / int64 as a decimal string when non-zero. */
export function putU64(o: JsonObject, key: string, v: bigint): void {
  if (v !== 0n) o[key] = v.toString();
}

export function putString(o: JsonObject, key: string, v: string): void {
  if (v.length !== 0) o[key] = v;
}

export function putNumber(o: JsonObject, key: string, v: number): void {
  if (v !== 0) o[key] = v;
}

export function putId(o: JsonObject, key: string, id: Uint8Array): void {
  if (id.length !== 0) o[key] = toHex(id);
}
