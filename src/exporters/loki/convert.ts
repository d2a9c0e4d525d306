// OTLP log records → Loki streams, grouped by tenant.
//
// A stream is one label set. Labels come from the configured resource and
// record attributes and the severity; everything else about a record goes to
// its structured metadata (trace_id and span_id always, when present). Each
// tenant gets its own set of streams, so a push request never mixes tenants.
// Entries are sorted by timestamp within each stream.
//
// For protobuf, each entry is encoded as an EntryAdapter straight into a
// scratch buffer while converting (no per-entry objects or metadata strings);
// a stream keeps the offsets of its entries and their timestamps, and
// `writePushRequest` (encode.ts) assembles the streams from those segments.
// Measured with loki.bench.ts (1000 records, 5 attributes; shared 2-core
// machine): convert + encode + snappy went from 152k records/s with entry
// objects and a second encoding pass to 221k fused, and 337k with snappy into a
// reused buffer (encode.ts); GC was 34% of the daemon's CPU in bench/logs_loki.ts
// before. For JSON, entries are kept as objects.
import type { AnyValue, InstrumentationScope, KeyValue, LogRecord, ResourceLogs } from '../../pdata/model.js';
import { ProtoWriter } from '../../pdata/proto/writer.js';
import { OVERFLOW_LABEL, type LokiConfig } from './config.js';
import { attributeAsTenant, type TenantConfig } from './tenant.js';
import { NameCache, asString, exceedsUtf8, hex, levelOf, renderLine, sanitizeName, truncateUtf8 } from './values.js';

/** A JSON-mode entry. */
export interface Entry {
  /** Unix nanoseconds. */
  ts: bigint;
  line: string;
  /** Metadata shared by the records of one resource and scope: name, value, name, value, ... */
  shared: string[] | null;
  /** The record's own metadata, same layout. */
  own: string[] | null;
}

export interface Stream {
  /** The label set as Loki's selector text: {a="x", b="y"}, names sorted. */
  labels: string;
  /** JSON mode: the entries. */
  entries: Entry[];
  /** Protobuf mode: [start, end) of each encoded EntryAdapter field in the scratch writer. */
  seg: number[];
  /** Protobuf mode: each entry's timestamp. */
  tss: bigint[];
  /** Highest timestamp seen, and whether entries arrived in order. */
  maxTs: bigint;
  sorted: boolean;
}

export interface TenantStreams {
  tenant: string | undefined;
  streams: Stream[];
  records: number;
}

export interface ConvertStats {
  truncated: number;
  droppedTooLong: number;
  /** Records that went to the overflow stream because max_streams was reached. */
  overflow: number;
}

/** A compiled view of the exporter config for the converter. */
export interface ConvertOptions {
  tenant: TenantConfig;
  /** Label slots in label-name order. */
  slots: Slot[];
  /** Indexes (into slots) of the slots that depend on the record (level, record attributes). */
  recordSlots: number[];
  resourceKeys: Set<string>;
  attributeKeys: Set<string>;
  structuredMetadata: boolean;
  lineFormat: 'raw' | 'json' | 'logfmt';
  maxLineSize: number;
  dropTooLong: boolean;
  maxStreams: number;
  protobuf: boolean;
}

interface Slot {
  name: string;
  /** 'r': resource attribute, 'a': record attribute, 'l': level. */
  from: 'r' | 'a' | 'l';
  key: string;
}

export function compileOptions(cfg: LokiConfig): ConvertOptions {
  const slots: Slot[] = [];
  const seen = new Set<string>();
  const add = (name: string, from: Slot['from'], key: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    slots.push({ name, from, key });
  };
  for (const k of cfg.labels.resource) add(sanitizeName(k), 'r', k);
  for (const k of cfg.labels.attributes) add(sanitizeName(k), 'a', k);
  if (cfg.labels.level) add('level', 'l', '');
  slots.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const recordSlots: number[] = [];
  slots.forEach((s, i) => s.from !== 'r' && recordSlots.push(i));
  return {
    tenant: cfg.tenant,
    slots,
    recordSlots,
    resourceKeys: new Set(cfg.labels.resource),
    attributeKeys: new Set(cfg.labels.attributes),
    structuredMetadata: cfg.structured_metadata,
    lineFormat: cfg.line_format,
    maxLineSize: cfg.max_line_size,
    dropTooLong: cfg.line_too_long === 'drop',
    maxStreams: cfg.max_streams,
    protobuf: cfg.encoding === 'protobuf',
  };
}

interface Group {
  tenant: string | undefined;
  streams: Map<string, Stream>;
  overflow: Stream | undefined;
  records: number;
}

/** Where a record with given record-slot values goes, cached per resource. */
export interface Target {
  stream: Stream;
  /** The entry's own labels as metadata, when it went to the overflow stream. */
  overflowMeta: string[] | null;
}

const names = new NameCache();

// ---------------------------------------------------------------- protobuf pieces

/** Encoded `name` fields (LabelPairAdapter field 1) by attribute key, sanitised. Bounded. */
const nameFields = new Map<string, Uint8Array>();
export function nameField(key: string): Uint8Array {
  let f = nameFields.get(key);
  if (f === undefined) {
    const w = new ProtoWriter(key.length * 3 + 8);
    w.uint32(0x0a);
    w.string(names.get(key));
    f = w.finish();
    if (nameFields.size >= 4096) nameFields.clear();
    nameFields.set(key, f);
  }
  return f;
}
export const F_TRACE_ID = nameField('trace_id');
export const F_SPAN_ID = nameField('span_id');
const F_SEVERITY_TEXT = nameField('severity_text');

export const HEX_CODES = new Uint8Array(16).map((_, i) => '0123456789abcdef'.charCodeAt(i));

/** A structuredMetadata field (EntryAdapter field 3) with a cached name field and a string value. */
export function writePair(w: ProtoWriter, name: Uint8Array, value: string): void {
  w.uint32(0x1a);
  const p = w.fork(1);
  w.raw(name);
  w.uint32(0x12);
  w.string(value);
  w.join(p, 1);
}

/** A structuredMetadata field whose value is the lower-case hex of `id`. */
function writeHexPair(w: ProtoWriter, name: Uint8Array, id: Uint8Array): void {
  const hexLen = id.length * 2;
  const valueField = 1 + (hexLen < 128 ? 1 : 2) + hexLen;
  const body = name.length + valueField;
  w.ensure(3 + body);
  w.uint32(0x1a);
  w.uint32(body);
  w.raw(name);
  w.uint32(0x12);
  w.uint32(hexLen);
  const buf = w.buf;
  let pos = w.pos;
  for (let i = 0; i < id.length; i++) {
    const b = id[i]!;
    buf[pos++] = HEX_CODES[b >> 4]!;
    buf[pos++] = HEX_CODES[b & 15]!;
  }
  w.pos = pos;
}

const NANOS = 1_000_000_000n;

/** Splits Unix-nanosecond timestamps into seconds and nanos, reusing the last second (records of a batch are close in time). */
class TsSplitter {
  private lo = 1n;
  private hi = 0n;
  private secs = 0;
  secsOf(ts: bigint): number {
    if (ts < this.lo || ts >= this.hi) {
      const s = ts / NANOS;
      this.lo = s * NANOS;
      this.hi = this.lo + NANOS;
      this.secs = Number(s);
    }
    return this.secs;
  }
  nanosOf(ts: bigint): number {
    return Number(ts - this.lo);
  }
}

function varintSize(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Writes EntryAdapter.timestamp (field 1, google.protobuf.Timestamp). */
function writeTimestamp(w: ProtoWriter, secs: number, nanos: number): void {
  const len = (secs !== 0 ? 1 + varintSize(secs) : 0) + (nanos !== 0 ? 1 + varintSize(nanos) : 0);
  w.uint32(0x0a);
  w.uint32(len);
  if (secs !== 0) {
    w.uint32(0x08);
    w.uint64Number(secs);
  }
  if (nanos !== 0) {
    w.uint32(0x10);
    w.uint32(nanos);
  }
}

/** The encoded shared metadata of one resource and scope, or null. */
function encodeShared(pairs: string[] | null): Uint8Array | null {
  if (pairs === null || pairs.length === 0) return null;
  const w = new ProtoWriter(256);
  for (let i = 0; i < pairs.length; i += 2) writePair(w, nameFieldSanitised(pairs[i]!), pairs[i + 1]!);
  return w.finish();
}

/** Like nameField, for a name that is already sanitised. */
function nameFieldSanitised(name: string): Uint8Array {
  const w = new ProtoWriter(name.length * 3 + 8);
  w.uint32(0x0a);
  w.string(name);
  return w.finish();
}

// ---------------------------------------------------------------- conversion

function findAttr(attrs: readonly KeyValue[], key: string): KeyValue | undefined {
  for (let i = 0; i < attrs.length; i++) if (attrs[i]!.key === key) return attrs[i];
  return undefined;
}

/** `name="value"` with the value quoted as Loki's selector parser reads it. */
function pair(name: string, value: string): string {
  return name + '=' + JSON.stringify(value);
}

export function valueText(v: AnyValue): string {
  return v.type === 'string' ? v.value : asString(v);
}

/** What the converter reads of a record to place it in a stream: from the decoded model or from the wire (wire.ts). */
export interface RecordView {
  severityNumber: number;
  severityText: string;
  /** The text of record attribute `key`; '' when absent. */
  attrText(key: string): string;
}

/** A RecordView over a decoded LogRecord (one instance per conversion, pointed at each record in turn). */
class ModelRecord implements RecordView {
  lr!: LogRecord;
  severityNumber = 0;
  severityText = '';
  set(lr: LogRecord): this {
    this.lr = lr;
    this.severityNumber = lr.severityNumber;
    this.severityText = lr.severityText;
    return this;
  }
  attrText(key: string): string {
    const kv = findAttr(this.lr.attributes, key);
    return kv ? valueText(kv.value) : '';
  }
}

/**
 * The stream bookkeeping of one conversion, shared by the model path
 * (convert) and the wire path (convertWire in wire.ts): tenants, label sets,
 * the stream cap, shared metadata and entry order. The two paths differ only
 * in how they read a record and write its entry.
 */
export class Converter {
  readonly pb: boolean;
  readonly sm: boolean;
  readonly ts2 = new TsSplitter();
  private readonly groups = new Map<string | undefined, Group>();
  private readonly resVals: (string | undefined)[];
  private readonly parts: string[] = [];
  private readonly levelOnly: boolean;
  private group!: Group;
  private targets = new Map<string, Target>();
  private resMeta: string[] | null = null;
  /** Metadata of the current resource and scope (names sanitised), and its encoding in protobuf mode. */
  shared: string[] | null = null;
  sharedEnc: Uint8Array | null = null;

  constructor(
    readonly o: ConvertOptions,
    private readonly batchTenant: string | undefined,
    readonly nowNanos: bigint,
    readonly stats: ConvertStats,
    readonly scratch: ProtoWriter,
  ) {
    this.pb = o.protobuf;
    this.sm = o.structuredMetadata;
    this.resVals = new Array(o.slots.length);
    this.levelOnly = o.recordSlots.length === 1 && o.slots[o.recordSlots[0]!]!.from === 'l';
  }

  /** Starts a resource: its tenant, its label pairs and its metadata. */
  beginResource(rattrs: readonly KeyValue[]): void {
    const o = this.o;
    const tenant = o.tenant.source === 'attribute' ? (attributeAsTenant(rattrs, o.tenant.attribute) ?? this.batchTenant) : this.batchTenant;
    let g = this.groups.get(tenant);
    if (!g) this.groups.set(tenant, (g = { tenant, streams: new Map(), overflow: undefined, records: 0 }));
    this.group = g;
    const slots = o.slots;
    for (let si = 0; si < slots.length; si++) {
      const sl = slots[si]!;
      if (sl.from === 'r') {
        const kv = findAttr(rattrs, sl.key);
        const v = kv ? valueText(kv.value) : '';
        this.resVals[si] = v === '' ? undefined : pair(sl.name, v);
      } else this.resVals[si] = undefined;
    }
    // Resource metadata: attributes that are not labels.
    let resMeta: string[] | null = null;
    if (this.sm) {
      for (const kv of rattrs) {
        if (o.resourceKeys.has(kv.key)) continue;
        const v = valueText(kv.value);
        if (v === '') continue;
        (resMeta ??= []).push(names.get(kv.key), v);
      }
    }
    this.resMeta = resMeta;
    // Streams of this resource by the values of the record-dependent slots.
    this.targets = new Map();
  }

  /** Starts a scope of the current resource. */
  beginScope(scope: InstrumentationScope): void {
    let shared = this.resMeta;
    if (this.sm && (scope.name !== '' || scope.version !== '')) {
      shared = shared ? shared.slice() : [];
      if (scope.name !== '') shared.push('scope_name', scope.name);
      if (scope.version !== '') shared.push('scope_version', scope.version);
    }
    this.shared = shared;
    this.sharedEnc = this.pb ? encodeShared(shared) : null;
  }

  /**
   * Where a record goes, given its timestamp: the stream (counted, order
   * tracked). The key of the record-dependent label values (level, record
   * attributes) finds it; with the level alone the key is the level name
   * itself, without building a string.
   */
  place(v: RecordView, ts: bigint): Target {
    const o = this.o;
    let key = '';
    if (this.levelOnly) key = levelOf(v.severityNumber, v.severityText);
    else {
      const rs = o.recordSlots;
      for (let i = 0; i < rs.length; i++) {
        const s = o.slots[rs[i]!]!;
        key += s.from === 'l' ? levelOf(v.severityNumber, v.severityText) : v.attrText(s.key);
        key += '\u0001';
      }
    }
    let t = this.targets.get(key);
    if (t === undefined) {
      t = this.newTarget(v);
      this.targets.set(key, t);
    }
    if (t.overflowMeta !== null) this.stats.overflow++;
    const stream = t.stream;
    if (ts < stream.maxTs) stream.sorted = false;
    else stream.maxTs = ts;
    this.group.records++;
    return t;
  }

  private newTarget(v: RecordView): Target {
    const parts = this.parts;
    const slots = this.o.slots;
    parts.length = 0;
    for (let si = 0; si < slots.length; si++) {
      const s = slots[si]!;
      if (s.from === 'r') {
        const p = this.resVals[si];
        if (p !== undefined) parts.push(p);
      } else if (s.from === 'l') parts.push(pair('level', levelOf(v.severityNumber, v.severityText)));
      else {
        const val = v.attrText(s.key);
        if (val !== '') parts.push(pair(s.name, val));
      }
    }
    const labels = '{' + parts.join(', ') + '}';
    const group = this.group;
    let stream = group.streams.get(labels);
    let overflowMeta: string[] | null = null;
    if (stream === undefined) {
      if (group.streams.size >= this.o.maxStreams) {
        // Over the cap: entries go to the overflow stream and keep their labels as metadata.
        stream = group.overflow ??= newStream(`{${OVERFLOW_LABEL}="true"}`);
        overflowMeta = labelsAsMetadata(labels);
      } else {
        stream = newStream(labels);
        group.streams.set(labels, stream);
      }
    }
    return { stream, overflowMeta };
  }

  /** A record's timestamp: its time, else its observed time, else now. */
  tsOf(time: bigint, observed: bigint): bigint {
    return time !== 0n ? time : observed !== 0n ? observed : this.nowNanos;
  }

  /** Protobuf mode: opens an EntryAdapter (stream field 2) with timestamp; returns the fork for endEntry. */
  beginEntry(ts: bigint): number {
    const w = this.scratch;
    w.uint32(0x12);
    const ep = w.fork(2);
    writeTimestamp(w, this.ts2.secsOf(ts), this.ts2.nanosOf(ts));
    return ep;
  }

  /** Protobuf mode: the metadata that follows a record's own attributes, then closes the entry. */
  endEntry(t: Target, ts: bigint, start: number, ep: number, traceHex: (w: ProtoWriter) => void, severityText: string): void {
    const w = this.scratch;
    if (this.sm) {
      traceHex(w);
      if (severityText !== '') writePair(w, F_SEVERITY_TEXT, severityText);
      const om = t.overflowMeta;
      if (om !== null) for (let i = 0; i < om.length; i += 2) writePair(w, nameFieldSanitised(om[i]!), om[i + 1]!);
    }
    w.join(ep, 2);
    t.stream.seg.push(start, w.pos);
    t.stream.tss.push(ts);
  }

  /** The line after max_line_size: the line, or undefined when the record is dropped. */
  fitLine(line: string): string | undefined {
    const o = this.o;
    if (o.maxLineSize > 0 && exceedsUtf8(line, o.maxLineSize)) {
      if (o.dropTooLong) {
        this.stats.droppedTooLong++;
        return undefined;
      }
      this.stats.truncated++;
      return truncateUtf8(line, o.maxLineSize);
    }
    return line;
  }

  finish(): TenantStreams[] {
    const out: TenantStreams[] = [];
    for (const g of this.groups.values()) {
      if (g.records === 0) continue;
      const streams = [...g.streams.values()];
      if (g.overflow) streams.push(g.overflow);
      if (!this.pb) for (const s of streams) if (!s.sorted) sortEntries(s);
      out.push({ tenant: g.tenant, streams, records: g.records });
    }
    return out;
  }
}

/**
 * Converts resources to streams per tenant. `batchTenant` is the tenant of the
 * whole batch (context / static sources); with the attribute source it is the
 * fallback for resources without the attribute. In protobuf mode the entries
 * are written to `scratch`, which must not be reset until the streams are
 * encoded.
 */
export function convert(
  resources: readonly ResourceLogs[],
  o: ConvertOptions,
  batchTenant: string | undefined,
  nowNanos: bigint,
  stats: ConvertStats,
  scratch: ProtoWriter = new ProtoWriter(64 * 1024),
): TenantStreams[] {
  const c = new Converter(o, batchTenant, nowNanos, stats, scratch);
  const view = new ModelRecord();
  const pb = o.protobuf;
  const sm = o.structuredMetadata;
  let rec!: LogRecord;
  const traceHex = (w: ProtoWriter): void => {
    if (rec.traceId.length > 0) writeHexPair(w, F_TRACE_ID, rec.traceId);
    if (rec.spanId.length > 0) writeHexPair(w, F_SPAN_ID, rec.spanId);
  };

  for (let ri = 0; ri < resources.length; ri++) {
    const rl = resources[ri]!;
    c.beginResource(rl.resource.attributes);
    for (const sl of rl.scopeLogs) {
      c.beginScope(sl.scope);
      for (const lr of sl.logRecords) {
        const line = c.fitLine(renderLine(lr.body, o.lineFormat));
        if (line === undefined) continue;
        const ts = c.tsOf(lr.timeUnixNano, lr.observedTimeUnixNano);
        const t = c.place(view.set(lr), ts);

        if (pb) {
          const start = scratch.pos;
          const ep = c.beginEntry(ts);
          if (line !== '') {
            scratch.uint32(0x12);
            scratch.string(line);
          }
          if (sm) {
            if (c.sharedEnc !== null) scratch.raw(c.sharedEnc);
            const attrs = lr.attributes;
            for (let i = 0; i < attrs.length; i++) {
              const kv = attrs[i]!;
              if (o.attributeKeys.has(kv.key)) continue;
              const v = valueText(kv.value);
              if (v !== '') writePair(scratch, nameField(kv.key), v);
            }
          }
          rec = lr;
          c.endEntry(t, ts, start, ep, traceHex, lr.severityText);
          continue;
        }

        let own: string[] | null = null;
        if (sm) {
          const attrs = lr.attributes;
          for (let i = 0; i < attrs.length; i++) {
            const kv = attrs[i]!;
            if (o.attributeKeys.has(kv.key)) continue;
            const v = valueText(kv.value);
            if (v !== '') (own ??= []).push(names.get(kv.key), v);
          }
          if (lr.traceId.length > 0) (own ??= []).push('trace_id', hex(lr.traceId));
          if (lr.spanId.length > 0) (own ??= []).push('span_id', hex(lr.spanId));
          if (lr.severityText !== '') (own ??= []).push('severity_text', lr.severityText);
          if (t.overflowMeta !== null) own = (own ?? []).concat(t.overflowMeta);
        }
        t.stream.entries.push({ ts, line, shared: c.shared, own });
      }
    }
  }
  return c.finish();
}

function newStream(labels: string): Stream {
  return { labels, entries: [], seg: [], tss: [], maxTs: 0n, sorted: true };
}

/** Stable sort of JSON-mode entries by timestamp. */
function sortEntries(s: Stream): void {
  s.entries.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));
  s.sorted = true;
}

/** Protobuf mode: the entry indexes of a stream in timestamp order (stable). */
export function entryOrder(s: Stream): number[] | null {
  if (s.sorted) return null;
  const tss = s.tss;
  const idx = Array.from({ length: tss.length }, (_, i) => i);
  idx.sort((a, b) => (tss[a]! < tss[b]! ? -1 : tss[a]! > tss[b]! ? 1 : a - b));
  return idx;
}

/** {a="x", b="y"} → ['a', 'x', 'b', 'y'] (only for selectors this module wrote). */
export function labelsAsMetadata(labels: string): string[] {
  const out: string[] = [];
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)=("(?:[^"\\]|\\.)*")/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(labels)) !== null) out.push(m[1]!, JSON.parse(m[2]!) as string);
  return out;
}
