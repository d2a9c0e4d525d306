// Readers for the inputs `sieve verify` accepts. Each input file becomes a list
// of batches (export requests) with their position, whatever the format:
//
// - OTLP/JSON: one export request (`{"resourceSpans":[...]}` / resourceLogs /
//   resourceMetrics), pretty-printed or not;
// - JSON lines: one export request per line, as the file exporter writes them,
//   with an optional `"sieve.chain"` member (tamper-evident mode);
// - OTLP protobuf: one Export*ServiceRequest, or the file exporter's proto
//   format (each request preceded by its 4-byte big-endian length);
// - a Tempo trace-by-id response: `{"batches":[...]}` (/api/traces/<id>) or
//   `{"trace":{"resourceSpans":[...]}}` (/api/v2/traces/<id>), with base64 ids
//   and enum names as Tempo's jsonpb writes them.
// gzip files are inflated first.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { CODECS } from '../pdata/codec.js';
import { parseJson, resourceLogsFromJson, resourceMetricsFromJson, resourceSpansFromJson, toHex } from '../pdata/json/index.js';
import type { ResourceLogs, ResourceMetrics, ResourceSpans, Signal } from '../pdata/model.js';
import { splitLine } from '../processors/signing/chain.js';

export type InputFormat = 'otlp-json' | 'json-lines' | 'otlp-proto' | 'proto-stream' | 'tempo';

export interface Batch {
  signal: Signal;
  resources: ResourceSpans[] | ResourceLogs[] | ResourceMetrics[];
  /** "file:line" for JSON lines, "file#n" for protobuf streams, "file" otherwise. */
  where: string;
  /** Name of the resources array in the input (resourceSpans, batches, ...), for item paths. */
  root: string;
  /** The tamper-evident line chain of a JSON line: payload bytes and the link as parsed. */
  line?: { payload: string; link: unknown };
}

export interface InputFile {
  path: string;
  format: InputFormat;
  batches: Batch[];
  /** Unreadable parts, each with its position. */
  errors: { where: string; reason: string }[];
  /** JSON lines: lines without a chain link, by position (for insertion checks). */
  unchained: string[];
}

const ROOTS: Record<string, Signal> = { resourceSpans: 'traces', resource_spans: 'traces', resourceLogs: 'logs', resource_logs: 'logs', resourceMetrics: 'metrics', resource_metrics: 'metrics' };

function fromJsonRoot(signal: Signal, list: unknown[]): Batch['resources'] {
  if (signal === 'traces') return list.map(resourceSpansFromJson);
  if (signal === 'logs') return list.map(resourceLogsFromJson);
  return list.map(resourceMetricsFromJson);
}

/** Turns one parsed JSON document into a batch; throws with a readable reason. */
export function batchFromJson(doc: unknown, where: string): { batch: Batch; tempo: boolean } {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error('not a JSON object');
  const o = doc as Record<string, unknown>;
  for (const [key, signal] of Object.entries(ROOTS)) {
    if (key in o) {
      const list = o[key];
      if (!Array.isArray(list)) throw new Error(`${key} is not a list`);
      return { batch: { signal, resources: fromJsonRoot(signal, list), where, root: key }, tempo: false };
    }
  }
  if ('batches' in o) {
    const list = o.batches;
    if (!Array.isArray(list)) throw new Error('batches is not a list');
    return { batch: { signal: 'traces', resources: list.map((r) => resourceSpansFromJson(tempoResourceSpans(r))), where, root: 'batches' }, tempo: true };
  }
  if ('trace' in o) {
    const t = o.trace as Record<string, unknown> | null;
    const list = t?.resourceSpans ?? t?.batches ?? [];
    if (!Array.isArray(list)) throw new Error('trace.resourceSpans is not a list');
    return { batch: { signal: 'traces', resources: list.map((r) => resourceSpansFromJson(tempoResourceSpans(r))), where, root: 'trace.resourceSpans' }, tempo: true };
  }
  if (Object.keys(o).length === 0 || (Object.keys(o).length === 1 && 'sieve.chain' in o)) {
    return { batch: { signal: 'traces', resources: [], where, root: 'resourceSpans' }, tempo: false };
  }
  throw new Error('not an OTLP export request (resourceSpans / resourceLogs / resourceMetrics) nor a Tempo trace response (batches / trace)');
}

// ---------------------------------------------------------------- Tempo

/** Tempo writes ids as base64 (gogo jsonpb); OTLP/JSON wants hex. Hex input passes through. */
function idToHex(v: unknown, size: number): unknown {
  if (typeof v !== 'string' || v === '') return v;
  if (v.length === size * 2 && /^[0-9a-fA-F]+$/.test(v)) return v;
  const b = Buffer.from(v, 'base64');
  if (b.length !== size) throw new Error(`id ${JSON.stringify(v)} is not ${size} bytes of base64 or hex`);
  return toHex(b);
}

function mapIds(o: Record<string, unknown>, fields: [string, number][]): Record<string, unknown> {
  const out = { ...o };
  for (const [f, size] of fields) if (f in out) out[f] = idToHex(out[f], size);
  return out;
}

/**
 * One Tempo ResourceSpans as OTLP/JSON: base64 ids to hex; older Tempo
 * versions' instrumentationLibrarySpans to scopeSpans. Enum names need no
 * change: the OTLP/JSON decoder accepts them.
 */
export function tempoResourceSpans(v: unknown): unknown {
  if (typeof v !== 'object' || v === null) return v;
  const r = { ...(v as Record<string, unknown>) };
  const scopes = (r.scopeSpans ?? r.instrumentationLibrarySpans ?? []) as unknown[];
  delete r.instrumentationLibrarySpans;
  r.scopeSpans = Array.isArray(scopes)
    ? scopes.map((ss) => {
        const s = { ...(ss as Record<string, unknown>) };
        if (s.instrumentationLibrary && !s.scope) s.scope = s.instrumentationLibrary;
        delete s.instrumentationLibrary;
        const spans = Array.isArray(s.spans) ? s.spans : [];
        s.spans = spans.map((sp: Record<string, unknown>) => {
          const out = mapIds(sp, [['traceId', 16], ['spanId', 8], ['parentSpanId', 8]]);
          if (Array.isArray(out.links)) out.links = out.links.map((l: Record<string, unknown>) => mapIds(l, [['traceId', 16], ['spanId', 8]]));
          return out;
        });
        return s;
      })
    : scopes;
  return r;
}

// ---------------------------------------------------------------- files

function looksLikeJson(buf: Buffer): boolean {
  for (let i = 0; i < buf.length && i < 64; i++) {
    const c = buf[i]!;
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0xef || c === 0xbb || c === 0xbf) continue;
    return c === 0x7b; // '{'
  }
  return false;
}

/** Reads and parses one input file. Never throws for bad content: problems land in `errors`. */
export function readInput(path: string, opts: { signal?: Signal } = {}): InputFile {
  const out: InputFile = { path, format: 'otlp-json', batches: [], errors: [], unchained: [] };
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    out.errors.push({ where: path, reason: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
    return out;
  }
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = gunzipSync(buf);
    } catch (e) {
      out.errors.push({ where: path, reason: `cannot gunzip: ${(e as Error).message}` });
      return out;
    }
  }
  if (looksLikeJson(buf)) readJson(buf.toString('utf8'), out);
  else {
    readProto(buf, out, opts.signal);
    // JSON lines whose first line is damaged: read them as lines after all.
    if (out.batches.length === 0 && buf.includes('\n{')) {
      out.errors = [];
      out.format = 'json-lines';
      readJson(buf.toString('utf8'), out);
    }
  }
  return out;
}

function readJson(text: string, out: InputFile): void {
  const lines = text.split('\n');
  const nonEmpty = lines.filter((l) => l.trim() !== '').length;
  // One document (pretty-printed or on one line) when the whole text parses; JSON lines otherwise.
  let doc: unknown;
  let whole = false;
  try {
    doc = parseJson(text);
    whole = true;
  } catch {
    // not a single document
  }
  if (whole) {
    try {
      const { batch, tempo } = batchFromJson(doc, out.path);
      if (tempo) out.format = 'tempo';
      if (nonEmpty === 1) {
        const first = lines.findIndex((l) => l.trim() !== '');
        const sp = splitLine(lines[first]!.replace(/\r$/, ''));
        if (sp) {
          batch.line = sp;
          batch.where = `${out.path}:${first + 1}`;
          out.format = 'json-lines';
        }
      }
      out.batches.push(batch);
    } catch (e) {
      out.errors.push({ where: out.path, reason: `not readable: ${(e as Error).message}` });
    }
    return;
  }
  out.format = 'json-lines';
  const found: InputFile['errors'] = [];
  let parsed = 0;
  let lastNonEmpty = -1;
  for (let i = lines.length - 1; i >= 0; i--) {
    if (lines[i]!.trim() !== '') {
      lastNonEmpty = i;
      break;
    }
  }
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.replace(/\r$/, '');
    if (raw.trim() === '') continue;
    const where = `${out.path}:${i + 1}`;
    let d: unknown;
    try {
      d = parseJson(raw);
    } catch {
      const cut = i === lastNonEmpty && !text.endsWith('\n');
      found.push({ where, reason: cut ? 'not valid JSON: the line is cut short (truncated file or interrupted write)' : 'not valid JSON (corrupted line)' });
      continue;
    }
    parsed++;
    try {
      const { batch } = batchFromJson(d, where);
      const sp = splitLine(raw);
      if (sp) batch.line = sp;
      else out.unchained.push(where);
      out.batches.push(batch);
    } catch (e) {
      found.push({ where, reason: `not readable: ${(e as Error).message}` });
    }
  }
  if (parsed === 0 && nonEmpty > 1) out.errors.push({ where: out.path, reason: 'not valid JSON, neither one document nor JSON lines' });
  else out.errors.push(...found);
}

function decodeProto(buf: Uint8Array, signal?: Signal): { signal: Signal; resources: Batch['resources'] } {
  const order: Signal[] = signal ? [signal] : ['traces', 'logs', 'metrics'];
  let firstErr: unknown;
  for (const s of order) {
    try {
      const resources = CODECS[s].decode(buf) as Batch['resources'];
      return { signal: s, resources };
    } catch (e) {
      firstErr ??= e;
    }
  }
  throw firstErr;
}

function readProto(buf: Buffer, out: InputFile, signal?: Signal): void {
  // A request starts with field 1 (tag 0x0a); the exporter's length-prefixed stream with a 0x00 byte.
  if (buf.length >= 4 && buf[0] === 0x00) {
    out.format = 'proto-stream';
    let off = 0;
    let n = 0;
    while (off < buf.length) {
      n++;
      const where = `${out.path}#${n}`;
      if (off + 4 > buf.length) {
        out.errors.push({ where, reason: 'length prefix cut short (truncated file)' });
        return;
      }
      const len = buf.readUInt32BE(off);
      if (off + 4 + len > buf.length) {
        out.errors.push({ where, reason: `record of ${len} bytes cut short (truncated file)` });
        return;
      }
      try {
        const d = decodeProto(buf.subarray(off + 4, off + 4 + len), signal);
        out.batches.push({ ...d, where, root: rootName(d.signal) });
      } catch (e) {
        out.errors.push({ where, reason: `not a readable OTLP request: ${(e as Error).message}` });
      }
      off += 4 + len;
    }
    return;
  }
  out.format = 'otlp-proto';
  try {
    const d = decodeProto(buf, signal);
    out.batches.push({ ...d, where: out.path, root: rootName(d.signal) });
  } catch (e) {
    out.errors.push({ where: out.path, reason: `not a readable OTLP JSON or protobuf request: ${(e as Error).message}` });
  }
}

export function rootName(signal: Signal): string {
  return signal === 'traces' ? 'resourceSpans' : signal === 'logs' ? 'resourceLogs' : 'resourceMetrics';
}
