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
import type { AnyValue, KeyValue, LogRecord, ResourceLogs } from '../../pdata/model.js';
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
interface Target {
  stream: Stream;
  /** The entry's own labels as metadata, when it went to the overflow stream. */
  overflowMeta: string[] | null;
}

const names = new NameCache();

// ---------------------------------------------------------------- protobuf pieces

/** Encoded `name` fields (LabelPairAdapter field 1) by attribute key, sanitised. Bounded. */
const nameFields = new Map<string, Uint8Array>();
function nameField(key: string): Uint8Array {
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
const F_TRACE_ID = nameField('trace_id');
const F_SPAN_ID = nameField('span_id');
const F_SEVERITY_TEXT = nameField('severity_text');

const HEX_CODES = new Uint8Array(16).map((_, i) => '0123456789abcdef'.charCodeAt(i));

/** A structuredMetadata field (EntryAdapter field 3) with a cached name field and a string value. */
function writePair(w: ProtoWriter, name: Uint8Array, value: string): void {
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

function valueText(v: AnyValue): string {
  return v.type === 'string' ? v.value : asString(v);
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
  const groups = new Map<string | undefined, Group>();
  const byAttr = o.tenant.source === 'attribute';
  const slots = o.slots;
  const nSlots = slots.length;
  const recordSlots = o.recordSlots;
  const levelOnly = recordSlots.length === 1 && slots[recordSlots[0]!]!.from === 'l';
  const resVals: (string | undefined)[] = new Array(nSlots);
  const parts: string[] = [];
  const ts2 = new TsSplitter();
  const pb = o.protobuf;
  const sm = o.structuredMetadata;

  for (let ri = 0; ri < resources.length; ri++) {
    const rl = resources[ri]!;
    const rattrs = rl.resource.attributes;
    const tenant = byAttr ? (attributeAsTenant(rattrs, o.tenant.attribute) ?? batchTenant) : batchTenant;
    let g = groups.get(tenant);
    if (!g) groups.set(tenant, (g = { tenant, streams: new Map(), overflow: undefined, records: 0 }));
    const group = g;

    // Resource label pairs, computed once per resource.
    for (let si = 0; si < nSlots; si++) {
      const sl = slots[si]!;
      if (sl.from === 'r') {
        const kv = findAttr(rattrs, sl.key);
        const v = kv ? valueText(kv.value) : '';
        resVals[si] = v === '' ? undefined : pair(sl.name, v);
      } else resVals[si] = undefined;
    }
    // Resource metadata: attributes that are not labels.
    let resMeta: string[] | null = null;
    if (sm) {
      for (const kv of rattrs) {
        if (o.resourceKeys.has(kv.key)) continue;
        const v = valueText(kv.value);
        if (v === '') continue;
        (resMeta ??= []).push(names.get(kv.key), v);
      }
    }

    // Streams of this resource by the values of the record-dependent slots.
    const targets = new Map<string, Target>();
    const target = (key: string, lr: LogRecord): Target => {
      let t = targets.get(key);
      if (t !== undefined) return t;
      parts.length = 0;
      for (let si = 0; si < nSlots; si++) {
        const s = slots[si]!;
        if (s.from === 'r') {
          const p = resVals[si];
          if (p !== undefined) parts.push(p);
        } else if (s.from === 'l') parts.push(pair('level', levelOf(lr.severityNumber, lr.severityText)));
        else {
          const kv = findAttr(lr.attributes, s.key);
          const v = kv ? valueText(kv.value) : '';
          if (v !== '') parts.push(pair(s.name, v));
        }
      }
      const labels = '{' + parts.join(', ') + '}';
      let stream = group.streams.get(labels);
      let overflowMeta: string[] | null = null;
      if (stream === undefined) {
        if (group.streams.size >= o.maxStreams) {
          // Over the cap: entries go to the overflow stream and keep their labels as metadata.
          stream = group.overflow ??= newStream(`{${OVERFLOW_LABEL}="true"}`);
          overflowMeta = labelsAsMetadata(labels);
        } else {
          stream = newStream(labels);
          group.streams.set(labels, stream);
        }
      }
      t = { stream, overflowMeta };
      targets.set(key, t);
      return t;
    };

    for (const sl of rl.scopeLogs) {
      let shared = resMeta;
      if (sm && (sl.scope.name !== '' || sl.scope.version !== '')) {
        shared = resMeta ? resMeta.slice() : [];
        if (sl.scope.name !== '') shared.push('scope_name', sl.scope.name);
        if (sl.scope.version !== '') shared.push('scope_version', sl.scope.version);
      }
      const sharedEnc = pb ? encodeShared(shared) : null;
      for (const lr of sl.logRecords) {
        let line = renderLine(lr.body, o.lineFormat);
        if (o.maxLineSize > 0 && exceedsUtf8(line, o.maxLineSize)) {
          if (o.dropTooLong) {
            stats.droppedTooLong++;
            continue;
          }
          line = truncateUtf8(line, o.maxLineSize);
          stats.truncated++;
        }

        // The key of the record-dependent label values (level, record attributes);
        // with the level alone it is the level name itself, without building a string.
        let key = '';
        if (levelOnly) key = levelOf(lr.severityNumber, lr.severityText);
        else {
          for (let i = 0; i < recordSlots.length; i++) {
            const s = slots[recordSlots[i]!]!;
            if (s.from === 'l') key += levelOf(lr.severityNumber, lr.severityText);
            else {
              const kv = findAttr(lr.attributes, s.key);
              key += kv ? valueText(kv.value) : '';
            }
            key += '\u0001';
          }
        }
        const t = target(key, lr);
        if (t.overflowMeta !== null) stats.overflow++;
        const stream = t.stream;

        const ts = lr.timeUnixNano !== 0n ? lr.timeUnixNano : lr.observedTimeUnixNano !== 0n ? lr.observedTimeUnixNano : nowNanos;
        if (ts < stream.maxTs) stream.sorted = false;
        else stream.maxTs = ts;
        group.records++;

        if (pb) {
          const start = scratch.pos;
          scratch.uint32(0x12);
          const ep = scratch.fork(2);
          writeTimestamp(scratch, ts2.secsOf(ts), ts2.nanosOf(ts));
          if (line !== '') {
            scratch.uint32(0x12);
            scratch.string(line);
          }
          if (sm) {
            if (sharedEnc !== null) scratch.raw(sharedEnc);
            const attrs = lr.attributes;
            for (let i = 0; i < attrs.length; i++) {
              const kv = attrs[i]!;
              if (o.attributeKeys.has(kv.key)) continue;
              const v = valueText(kv.value);
              if (v !== '') writePair(scratch, nameField(kv.key), v);
            }
            if (lr.traceId.length > 0) writeHexPair(scratch, F_TRACE_ID, lr.traceId);
            if (lr.spanId.length > 0) writeHexPair(scratch, F_SPAN_ID, lr.spanId);
            if (lr.severityText !== '') writePair(scratch, F_SEVERITY_TEXT, lr.severityText);
            const om = t.overflowMeta;
            if (om !== null) for (let i = 0; i < om.length; i += 2) writePair(scratch, nameFieldSanitised(om[i]!), om[i + 1]!);
          }
          scratch.join(ep, 2);
          stream.seg.push(start, scratch.pos);
          stream.tss.push(ts);
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
        stream.entries.push({ ts, line, shared, own });
      }
    }
  }

  const out: TenantStreams[] = [];
  for (const g of groups.values()) {
    if (g.records === 0) continue;
    const streams = [...g.streams.values()];
    if (g.overflow) streams.push(g.overflow);
    if (!pb) for (const s of streams) if (!s.sorted) sortEntries(s);
    out.push({ tenant: g.tenant, streams, records: g.records });
  }
  return out;
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
