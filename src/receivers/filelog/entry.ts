// The record an operator chain works on, and field references in the
// Collector's syntax: `body`, `body.x`, `attributes.x`, `attributes["log.level"]`,
// `resource.x` (nested keys by more dots or brackets).
import type { AnyValue, KeyValue, LogRecord } from '../../pdata/model.js';

export interface Entry {
  /** A string (the line), or a map/array/scalar once a parser put it there. */
  body: unknown;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown> | undefined;
  /** Nanoseconds since the epoch; 0n when not set. */
  timestamp: bigint;
  observed: bigint;
  severity: number;
  severityText: string;
  traceId: Uint8Array | undefined;
  spanId: Uint8Array | undefined;
  traceFlags: number;
}

export type Root = 'body' | 'attributes' | 'resource';

export interface Field {
  root: Root;
  keys: string[];
  text: string;
}

/** Parses a field reference; throws with a readable message when it is not one. */
export function parseField(text: string): Field {
  const t = text.trim();
  const m = /^(body|attributes|resource)(?=$|[.[])/.exec(t);
  if (!m) throw new Error(`field ${JSON.stringify(text)} must start with body, attributes or resource`);
  const root = m[1] as Root;
  const keys: string[] = [];
  let i = root.length;
  while (i < t.length) {
    if (t[i] === '.') {
      let j = i + 1;
      while (j < t.length && t[j] !== '.' && t[j] !== '[') j++;
      const k = t.slice(i + 1, j);
      if (k === '') throw new Error(`field ${JSON.stringify(text)} has an empty key`);
      keys.push(k);
      i = j;
    } else if (t[i] === '[') {
      const q = t[i + 1];
      if (q !== '"' && q !== "'") throw new Error(`field ${JSON.stringify(text)}: a bracket key must be quoted, e.g. attributes["log.level"]`);
      const end = t.indexOf(q + ']', i + 2);
      if (end < 0) throw new Error(`field ${JSON.stringify(text)} has an unclosed bracket`);
      keys.push(t.slice(i + 2, end));
      i = end + 2;
    } else {
      throw new Error(`field ${JSON.stringify(text)}: unexpected ${JSON.stringify(t[i])}`);
    }
  }
  return { root, keys, text: t };
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

export function getField(e: Entry, f: Field): unknown {
  let cur: unknown = f.root === 'body' ? e.body : f.root === 'attributes' ? e.attributes : e.resource;
  for (let i = 0; i < f.keys.length; i++) {
    if (!isMap(cur)) return undefined;
    cur = cur[f.keys[i]!];
  }
  return cur;
}

/** Sets a field, creating maps on the way. Setting a whole root replaces it (attributes/resource need a map). */
export function setField(e: Entry, f: Field, value: unknown): void {
  if (f.keys.length === 0) {
    if (f.root === 'body') e.body = value;
    else if (isMap(value)) {
      if (f.root === 'attributes') e.attributes = value;
      else e.resource = value;
    } else throw new Error(`${f.root} can only be set to a map`);
    return;
  }
  let cur: Record<string, unknown>;
  if (f.root === 'body') {
    if (!isMap(e.body)) e.body = {};
    cur = e.body as Record<string, unknown>;
  } else if (f.root === 'attributes') cur = e.attributes;
  else cur = e.resource ??= {};
  for (let i = 0; i < f.keys.length - 1; i++) {
    const k = f.keys[i]!;
    let next = cur[k];
    if (!isMap(next)) cur[k] = next = {};
    cur = next as Record<string, unknown>;
  }
  cur[f.keys[f.keys.length - 1]!] = value;
}

/** Deletes a field and returns its value. */
export function deleteField(e: Entry, f: Field): unknown {
  if (f.keys.length === 0) {
    const v = getField(e, f);
    if (f.root === 'body') e.body = undefined;
    else if (f.root === 'attributes') e.attributes = {};
    else e.resource = undefined;
    return v;
  }
  let cur: unknown = f.root === 'body' ? e.body : f.root === 'attributes' ? e.attributes : e.resource;
  for (let i = 0; i < f.keys.length - 1; i++) {
    if (!isMap(cur)) return undefined;
    cur = cur[f.keys[i]!];
  }
  if (!isMap(cur)) return undefined;
  const k = f.keys[f.keys.length - 1]!;
  const v = cur[k];
  delete cur[k];
  return v;
}

// ---------------------------------------------------------------- to the OTLP model

export function toAnyValue(v: unknown): AnyValue {
  switch (typeof v) {
    case 'string':
      return { type: 'string', value: v };
    case 'number':
      return Number.isSafeInteger(v) ? { type: 'int', value: BigInt(v) } : { type: 'double', value: v };
    case 'boolean':
      return { type: 'bool', value: v };
    case 'bigint':
      return { type: 'int', value: v };
    case 'object':
      if (v === null) return { type: 'empty' };
      if (v instanceof Uint8Array) return { type: 'bytes', value: v };
      if (Array.isArray(v)) return { type: 'array', value: v.map(toAnyValue) };
      return { type: 'kvlist', value: toKeyValues(v as Record<string, unknown>) };
    default:
      return { type: 'empty' };
  }
}

export function toKeyValues(o: Record<string, unknown>): KeyValue[] {
  const out: KeyValue[] = [];
  for (const k in o) {
    const v = o[k];
    if (v === undefined) continue;
    out.push({ key: k, value: toAnyValue(v) });
  }
  return out;
}

const EMPTY = new Uint8Array(0);

export function toLogRecord(e: Entry): LogRecord {
  return {
    timeUnixNano: e.timestamp,
    observedTimeUnixNano: e.observed,
    severityNumber: e.severity,
    severityText: e.severityText,
    body: e.body === undefined ? { type: 'empty' } : toAnyValue(e.body),
    attributes: toKeyValues(e.attributes),
    droppedAttributesCount: 0,
    flags: e.traceFlags,
    traceId: e.traceId ?? EMPTY,
    spanId: e.spanId ?? EMPTY,
    eventName: '',
  };
}

/** A stable key for a resource map, to group records by resource. */
export function resourceKey(r: Record<string, unknown> | undefined): string {
  return r === undefined ? '' : JSON.stringify(r);
}
