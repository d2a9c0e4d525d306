// record_policy: adds string attributes to every span of a kept trace by
// rewriting its protobuf bytes (spans are copied field by field; nothing is
// decoded). An existing attribute with the same key is replaced.
import { ProtoReader } from '../../pdata/proto/reader.js';
import { ProtoWriter } from '../../pdata/proto/writer.js';

/** A span attribute to add: its key bytes (to replace an existing one) and the encoded KeyValue field. */
export interface Label {
  key: Uint8Array;
  field: Uint8Array;
}

const enc = new TextEncoder();

/** The span `attributes` field (tag 9) holding a string KeyValue. */
export function makeLabel(key: string, value: string): Label {
  const w = new ProtoWriter(64);
  w.uint32(0x4a);
  const kv = w.fork(2);
  w.uint32(0x0a);
  w.string(key);
  w.uint32(0x12);
  const av = w.fork(2);
  w.uint32(0x0a);
  w.string(value);
  w.join(av, 2);
  w.join(kv, 2);
  return { key: enc.encode(key), field: w.finish() };
}

/** Rewrites a sequence of ResourceSpans fields, adding `labels` to every span. */
export function relabel(src: Uint8Array, labels: readonly Label[], w: ProtoWriter): void {
  const r = new ProtoReader(src);
  const end = src.length;
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.tag();
    if (tag === 0x0a) {
      const n = r.len32(end);
      const s = r.pos;
      r.pos += n;
      w.uint32(0x0a);
      const body = w.fork(3);
      container(src, s, s + n, w, (ss, se) => container(src, ss, se, w, (ps, pe) => span(src, ps, pe, labels, w)));
      w.join(body, 3);
    } else {
      r.skip(tag, end);
      w.raw(src.subarray(at, r.pos));
    }
  }
}

/** Copies a ResourceSpans or ScopeSpans body, handing its field-2 children (scope_spans / spans) to `child`. */
function container(src: Uint8Array, start: number, end: number, w: ProtoWriter, child: (s: number, e: number) => void): void {
  const r = new ProtoReader(src, start, end);
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.tag();
    if (tag === 0x12) {
      const n = r.len32(end);
      const s = r.pos;
      r.pos += n;
      w.uint32(0x12);
      const body = w.fork(2);
      child(s, s + n);
      w.join(body, 2);
    } else {
      r.skip(tag, end);
      w.raw(src.subarray(at, r.pos));
    }
  }
}

function span(src: Uint8Array, start: number, end: number, labels: readonly Label[], w: ProtoWriter): void {
  const r = new ProtoReader(src, start, end);
  while (r.pos < end) {
    const at = r.pos;
    const tag = r.tag();
    r.skip(tag, end);
    if (tag === 0x4a && replaced(src, at, r.pos, labels)) continue;
    w.raw(src.subarray(at, r.pos));
  }
  for (const l of labels) w.raw(l.field);
}

/** True when the attribute field at [start,end) has the key of one of `labels`. */
function replaced(src: Uint8Array, start: number, end: number, labels: readonly Label[]): boolean {
  const r = new ProtoReader(src, start, end);
  r.tag();
  const n = r.len32(end);
  const kvEnd = r.pos + n;
  while (r.pos < kvEnd) {
    const tag = r.tag();
    if (tag === 0x0a) {
      const kl = r.len32(kvEnd);
      const ks = r.pos;
      for (const l of labels) {
        if (l.key.length !== kl) continue;
        let same = true;
        for (let i = 0; i < kl; i++) {
          if (src[ks + i] !== l.key[i]) {
            same = false;
            break;
          }
        }
        if (same) return true;
      }
      return false;
    }
    r.skip(tag, kvEnd);
  }
  return false;
}
