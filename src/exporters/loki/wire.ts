// OTLP log records → Loki push entries straight from the request bytes.
//
// The protobuf-mode twin of convert(): the same Converter places each record
// in its stream, but records are read where they lie in the
// ExportLogsServiceRequest instead of being decoded into LogRecord objects
// first. A string body and string attribute values are copied into the
// EntryAdapter as bytes; only resources and scopes (once each), severity
// texts, attribute keys (through the reader's string cache) and values that
// are not plain strings are decoded. Anything with an unusual shape (a field
// repeated, a body or value that is not a lone string, bytes that are not
// valid UTF-8) takes the decoding route for that one value, so the output is
// byte for byte what convert() gives for the decoded request (wire.test.ts).
//
// Measured with bench/logs_loki.ts (500-record requests, 5 attributes,
// redaction on, shared 2-core machine): per-record LogRecord, KeyValue and
// AnyValue objects were most of the garbage (GC 18.6% of the daemon's
// profile, decodeLogRecord + decodeAnyValue another 14%).
import { isUtf8 } from 'node:buffer';
import type { InstrumentationScope, LogRecord, Resource } from '../../pdata/model.js';
import { decodeAnyValue, decodeKeyValue, decodeResource, decodeScope, emptyResource, emptyScope } from '../../pdata/proto/common.js';
import { decodeLogRecord } from '../../pdata/proto/logs.js';
import { ProtoReader, utf8Read } from '../../pdata/proto/reader.js';
import type { ProtoWriter } from '../../pdata/proto/writer.js';
import { Converter, F_SPAN_ID, F_TRACE_ID, HEX_CODES, nameField, valueText, writePair, type ConvertOptions, type ConvertStats, type RecordView, type TenantStreams } from './convert.js';
import { renderLine } from './values.js';

/** True when buf[s, e) is valid UTF-8 (ASCII checked in JS: most values are, and isUtf8 needs a view). */
function validUtf8(buf: Uint8Array, s: number, e: number): boolean {
  for (let i = s; i < e; i++) if (buf[i]! >= 0x80) return isUtf8(buf.subarray(s, e));
  return true;
}

/**
 * One log record as positions in the request. attrs holds, per attribute:
 * where its key field's length prefix is, where the KeyValue ends, its value
 * (AnyValue body) start and end, and the KeyValue body start and end; a key
 * position of -1 marks a KeyValue whose shape needs decoding.
 */
class WireRecord implements RecordView {
  buf: Uint8Array = new Uint8Array(0);
  readonly r = new ProtoReader(new Uint8Array(0));
  start = 0;
  end = 0;
  time = 0n;
  observed = 0n;
  severityNumber = 0;
  severityText = '';
  bodyStart = -1;
  bodyEnd = -1;
  bodyFields = 0;
  traceStart = -1;
  spanStart = -1;
  readonly attrs: number[] = [];
  nAttrs = 0;

  /** Reads the record body buf[start, end); false when its shape calls for decoding it whole. */
  load(buf: Uint8Array, start: number, end: number): boolean {
    this.buf = buf;
    this.start = start;
    this.end = end;
    this.time = 0n;
    this.observed = 0n;
    this.severityNumber = 0;
    this.severityText = '';
    this.bodyStart = -1;
    this.bodyFields = 0;
    this.traceStart = -1;
    this.spanStart = -1;
    this.nAttrs = 0;
    const r = this.r.reset(buf, start, end);
    let plain = true;
    while (r.pos < end) {
      const tag = r.tag();
      switch (tag) {
        case 9:
          this.time = r.fixed64();
          break;
        case 16:
          this.severityNumber = r.int32();
          break;
        case 26:
          this.severityText = r.string(end);
          break;
        case 42: {
          // A body given twice merges in the decoder: leave that to it.
          if (this.bodyFields++ > 0) plain = false;
          const e = r.sub(end);
          this.bodyStart = r.pos;
          this.bodyEnd = e;
          r.pos = e;
          break;
        }
        case 50: {
          const e = r.sub(end);
          this.kv(r.pos, e);
          r.pos = e;
          break;
        }
        case 74: {
          const n = r.len32(end);
          this.traceStart = n === 16 ? r.pos : -1;
          if (n !== 16 && n !== 0) plain = false;
          r.pos += n;
          break;
        }
        case 82: {
          const n = r.len32(end);
          this.spanStart = n === 8 ? r.pos : -1;
          if (n !== 8 && n !== 0) plain = false;
          r.pos += n;
          break;
        }
        case 89:
          this.observed = r.fixed64();
          break;
        default:
          // dropped_attributes_count, flags, event_name and unknown fields do not reach Loki.
          r.skip(tag, end);
      }
    }
    return plain;
  }

  /** Files one KeyValue body [s, e). */
  private kv(s: number, e: number): void {
    const r = this.r;
    const save = r.pos;
    r.pos = s;
    let ks = -1;
    let vs = -1;
    let ve = -1;
    let odd = false;
    while (r.pos < e) {
      const tag = r.tag();
      if (tag === 10) {
        if (ks >= 0) odd = true;
        ks = r.pos;
        const n = r.len32(e);
        r.pos += n;
      } else if (tag === 18) {
        if (vs >= 0) odd = true;
        const n = r.len32(e);
        vs = r.pos;
        ve = r.pos + n;
        r.pos = ve;
      } else {
        odd = true;
        r.skip(tag, e);
      }
    }
    r.pos = save;
    const a = this.attrs;
    const o = this.nAttrs++ * 6;
    a[o] = odd ? -1 : ks;
    a[o + 1] = e;
    a[o + 2] = vs;
    a[o + 3] = ve;
    a[o + 4] = s;
    a[o + 5] = e;
  }

  /** The key of attribute i (short keys come from the reader's string cache). */
  key(i: number): string {
    const a = this.attrs;
    const o = i * 6;
    if (a[o]! < 0) return this.decodeKv(i).key;
    const r = this.r;
    r.pos = a[o]!;
    return r.string(a[o + 1]!);
  }

  /** [start, end) of attribute i's value when it is a lone, valid UTF-8 string_value; else -1 in `plainStart`. */
  plainStart = -1;
  plainEnd = -1;
  plainValue(i: number): boolean {
    const a = this.attrs;
    const o = i * 6;
    if (a[o]! < 0 || a[o + 2]! < 0) return false;
    return this.loneString(a[o + 2]!, a[o + 3]!);
  }

  /** Whether AnyValue body [s, e) is exactly one string_value field of valid UTF-8; sets plainStart / plainEnd. */
  loneString(s: number, e: number): boolean {
    const buf = this.buf;
    if (e - s < 2 || buf[s] !== 0x0a) return false;
    const r = this.r;
    r.pos = s + 1;
    const n = r.len32(e);
    if (r.pos + n !== e) return false;
    if (!validUtf8(buf, r.pos, e)) return false;
    this.plainStart = r.pos;
    this.plainEnd = e;
    return true;
  }

  /** The text of attribute i's value (decoded). */
  valueText(i: number): string {
    const a = this.attrs;
    const o = i * 6;
    if (a[o]! < 0) return valueText(this.decodeKv(i).value);
    if (a[o + 2]! < 0) return '';
    if (this.loneString(a[o + 2]!, a[o + 3]!)) return utf8Read(this.buf, this.plainStart, this.plainEnd);
    const r = this.r;
    r.pos = a[o + 2]!;
    return valueText(decodeAnyValue(r, a[o + 3]!, 1));
  }

  private decodeKv(i: number) {
    const r = this.r;
    const o = i * 6;
    r.pos = this.attrs[o + 4]!;
    return decodeKeyValue(r, this.attrs[o + 5]!, 1);
  }

  attrText(key: string): string {
    // The first attribute with the key, as findAttr gives over the decoded list.
    for (let i = 0; i < this.nAttrs; i++) if (this.key(i) === key) return this.valueText(i);
    return '';
  }
}

/** writeHexPair over id bytes buf[s, s + n). */
function writeHexPairAt(w: ProtoWriter, name: Uint8Array, buf: Uint8Array, s: number, n: number): void {
  const hexLen = n * 2;
  const body = name.length + 2 + hexLen;
  w.ensure(3 + body);
  w.uint32(0x1a);
  w.uint32(body);
  w.raw(name);
  w.uint32(0x12);
  w.uint32(hexLen);
  const out = w.buf;
  let pos = w.pos;
  for (let i = s; i < s + n; i++) {
    const b = buf[i]!;
    out[pos++] = HEX_CODES[b >> 4]!;
    out[pos++] = HEX_CODES[b & 15]!;
  }
  w.pos = pos;
}

/** A structuredMetadata pair whose value is buf[s, e) (valid UTF-8). */
function writePairBytes(w: ProtoWriter, name: Uint8Array, buf: Uint8Array, s: number, e: number): void {
  const n = e - s;
  const valueField = 1 + varintSize(n) + n;
  w.uint32(0x1a);
  w.uint32(name.length + valueField);
  w.raw(name);
  w.uint32(0x12);
  w.uint32(n);
  w.rawRange(buf, s, e);
}

function varintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

/** Last UTF-8 character boundary at or before `max` bytes into buf[s, e). */
function cutUtf8(buf: Uint8Array, s: number, max: number): number {
  let end = s + max;
  while (end > s && (buf[end]! & 0xc0) === 0x80) end--;
  return end;
}

/**
 * convert() for protobuf mode over the encoded request `buf`, which the
 * receiver has validated. Same arguments and result.
 */
export function convertWire(
  buf: Uint8Array,
  o: ConvertOptions,
  batchTenant: string | undefined,
  nowNanos: bigint,
  stats: ConvertStats,
  scratch: ProtoWriter,
): TenantStreams[] {
  const c = new Converter(o, batchTenant, nowNanos, stats, scratch);
  const rec = new WireRecord();
  const r = new ProtoReader(buf);
  const sm = o.structuredMetadata;
  const rawLines = o.lineFormat === 'raw';
  const maxLine = o.maxLineSize;
  const traceHex = (w: ProtoWriter): void => {
    if (rec.traceStart >= 0) writeHexPairAt(w, F_TRACE_ID, buf, rec.traceStart, 16);
    if (rec.spanStart >= 0) writeHexPairAt(w, F_SPAN_ID, buf, rec.spanStart, 8);
  };
  // The decoding route for one record: convert()'s entry writing over a decoded LogRecord.
  let decoded: LogRecord | undefined;
  const decodedHex = (w: ProtoWriter): void => {
    if (decoded!.traceId.length > 0) writeHexPairAt(w, F_TRACE_ID, decoded!.traceId, 0, 16);
    if (decoded!.spanId.length > 0) writeHexPairAt(w, F_SPAN_ID, decoded!.spanId, 0, 8);
  };
  const scopes: number[] = [];

  const end = buf.length;
  while (r.pos < end) {
    const tag = r.tag();
    if (tag !== 10) {
      r.skip(tag, end);
      continue;
    }
    const rlEnd = r.sub(end);
    // First the resource (it may follow its scopes on the wire, and repeated
    // fields merge, as in the decoder), then the scopes in order.
    let resource: Resource | undefined;
    scopes.length = 0;
    while (r.pos < rlEnd) {
      const t = r.tag();
      if (t === 10) {
        const e = r.sub(rlEnd);
        resource = decodeResource(r, e, resource);
        r.pos = e;
      } else if (t === 18) {
        const e = r.sub(rlEnd);
        scopes.push(r.pos, e);
        r.pos = e;
      } else r.skip(t, rlEnd);
    }
    resource ??= emptyResource();
    c.beginResource(resource.attributes);

    for (let si = 0; si < scopes.length; si += 2) {
      const sStart = scopes[si]!;
      const sEnd = scopes[si + 1]!;
      let scope: InstrumentationScope | undefined;
      r.pos = sStart;
      while (r.pos < sEnd) {
        const t = r.tag();
        if (t === 10) {
          const e = r.sub(sEnd);
          scope = decodeScope(r, e, scope);
        } else r.skip(t, sEnd);
      }
      c.beginScope(scope ?? emptyScope());

      r.pos = sStart;
      while (r.pos < sEnd) {
        const t = r.tag();
        if (t !== 18) {
          r.skip(t, sEnd);
          continue;
        }
        const e = r.sub(sEnd);
        const recStart = r.pos;
        r.pos = e;
        if (!rec.load(buf, recStart, e)) {
          const dr = new ProtoReader(buf, recStart, e);
          decoded = decodeLogRecord(dr, e);
          decodedEntry(c, decoded, decodedHex);
          continue;
        }

        // The line: a lone string body (raw format) as its bytes, anything else rendered.
        let lineStart = -1;
        let lineEnd = -1;
        let line: string | undefined;
        if (rec.bodyStart >= 0 && rawLines && rec.loneString(rec.bodyStart, rec.bodyEnd)) {
          lineStart = rec.plainStart;
          lineEnd = rec.plainEnd;
          if (maxLine > 0 && lineEnd - lineStart > maxLine) {
            if (o.dropTooLong) {
              stats.droppedTooLong++;
              continue;
            }
            stats.truncated++;
            lineEnd = cutUtf8(buf, lineStart, maxLine);
          }
        } else {
          let body;
          if (rec.bodyStart >= 0) {
            rec.r.pos = rec.bodyStart;
            body = decodeAnyValue(rec.r, rec.bodyEnd, 1);
          } else body = { type: 'empty' as const };
          line = c.fitLine(renderLine(body, o.lineFormat));
          if (line === undefined) continue;
        }

        const ts = c.tsOf(rec.time, rec.observed);
        const tgt = c.place(rec, ts);
        const start = scratch.pos;
        const ep = c.beginEntry(ts);
        if (line === undefined) {
          if (lineEnd > lineStart) {
            scratch.uint32(0x12);
            scratch.uint32(lineEnd - lineStart);
            scratch.rawRange(buf, lineStart, lineEnd);
          }
        } else if (line !== '') {
          scratch.uint32(0x12);
          scratch.string(line);
        }
        if (sm) {
          if (c.sharedEnc !== null) scratch.raw(c.sharedEnc);
          for (let i = 0; i < rec.nAttrs; i++) {
            const key = rec.key(i);
            if (o.attributeKeys.has(key)) continue;
            if (rec.plainValue(i)) {
              if (rec.plainEnd > rec.plainStart) writePairBytes(scratch, nameField(key), buf, rec.plainStart, rec.plainEnd);
            } else {
              const v = rec.valueText(i);
              if (v !== '') writePair(scratch, nameField(key), v);
            }
          }
        }
        c.endEntry(tgt, ts, start, ep, traceHex, rec.severityText);
      }
    }
    r.pos = rlEnd;
  }
  return c.finish();
}

/** One record the wire reading left to the decoder: written as convert() writes it. */
function decodedEntry(c: Converter, lr: LogRecord, hexIds: (w: ProtoWriter) => void): void {
  const o = c.o;
  const w = c.scratch;
  const line = c.fitLine(renderLine(lr.body, o.lineFormat));
  if (line === undefined) return;
  const ts = c.tsOf(lr.timeUnixNano, lr.observedTimeUnixNano);
  const view: RecordView = {
    severityNumber: lr.severityNumber,
    severityText: lr.severityText,
    attrText(key) {
      for (const kv of lr.attributes) if (kv.key === key) return valueText(kv.value);
      return '';
    },
  };
  const t = c.place(view, ts);
  const start = w.pos;
  const ep = c.beginEntry(ts);
  if (line !== '') {
    w.uint32(0x12);
    w.string(line);
  }
  if (c.sm) {
    if (c.sharedEnc !== null) w.raw(c.sharedEnc);
    for (const kv of lr.attributes) {
      if (o.attributeKeys.has(kv.key)) continue;
      const v = valueText(kv.value);
      if (v !== '') writePair(w, nameField(kv.key), v);
    }
  }
  c.endEntry(t, ts, start, ep, hexIds, lr.severityText);
}
