// Drops spans whose ids a backend would refuse, before they are sent.
//
// Tempo rejects a whole export request (INVALID_ARGUMENT / HTTP 400 "trace ids
// must be 128 bit") when one span has a trace id that is not 16 bytes or a span
// id that is not 8 bytes or is all zero; the OTel spec calls all-zero trace ids
// invalid too. One bad span would otherwise lose its whole batch, and the
// helper would not retry it. The otlp and otlphttp exporters call
// `dropInvalidSpans` (through `createIdValidator`) in their push function.
//
// Batches that still carry their request bytes are checked by walking the wire
// format, without decoding; only a batch that holds an invalid span is decoded
// and re-encoded.
import type { CreateSettings } from '../../component/component.js';
import type { ResourceSpans, ScopeSpans, Span } from '../../pdata/model.js';
import { ProtoReader, WT_LEN } from '../../pdata/proto/reader.js';
import { Telemetry } from '../../pdata/telemetry.js';

/** Why a span's ids are invalid, or undefined when they are fine. */
export function spanIdProblem(traceId: Uint8Array, spanId: Uint8Array): 'trace_id' | 'span_id' | undefined {
  if (traceId.length !== 16 || allZero(traceId, 0, 16)) return 'trace_id';
  if (spanId.length !== 8 || allZero(spanId, 0, 8)) return 'span_id';
  return undefined;
}

function allZero(b: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (b[i] !== 0) return false;
  return true;
}

/**
 * Counts the spans with invalid ids in an ExportTraceServiceRequest without
 * decoding it. Throws DecodeError on malformed input.
 */
export function countInvalidSpansProto(buf: Uint8Array): number {
  const r = new ProtoReader(buf);
  let bad = 0;
  const end = buf.length;
  while (r.pos < end) {
    const tag = r.tag();
    if (tag !== ((1 << 3) | WT_LEN)) {
      r.skip(tag, end);
      continue;
    }
    const rsEnd = r.len32(end) + r.pos;
    while (r.pos < rsEnd) {
      const t2 = r.tag();
      if (t2 !== ((2 << 3) | WT_LEN)) {
        r.skip(t2, rsEnd);
        continue;
      }
      const ssEnd = r.len32(rsEnd) + r.pos;
      while (r.pos < ssEnd) {
        const t3 = r.tag();
        if (t3 !== ((2 << 3) | WT_LEN)) {
          r.skip(t3, ssEnd);
          continue;
        }
        const spEnd = r.len32(ssEnd) + r.pos;
        if (!spanIdsValidProto(r, buf, spEnd)) bad++;
        r.pos = spEnd;
      }
    }
  }
  return bad;
}

/** Reads a Span's fields up to `end`, looking only at trace_id (1) and span_id (2). The last occurrence wins, as in protobuf. */
function spanIdsValidProto(r: ProtoReader, buf: Uint8Array, end: number): boolean {
  let tStart = 0;
  let tLen = 0;
  let sStart = 0;
  let sLen = 0;
  while (r.pos < end) {
    const t = r.tag();
    if (t === ((1 << 3) | WT_LEN)) {
      tLen = r.len32(end);
      tStart = r.pos;
      r.pos += tLen;
    } else if (t === ((2 << 3) | WT_LEN)) {
      sLen = r.len32(end);
      sStart = r.pos;
      r.pos += sLen;
    } else r.skip(t, end);
  }
  if (tLen !== 16 || allZero(buf, tStart, tStart + 16)) return false;
  if (sLen !== 8 || allZero(buf, sStart, sStart + 8)) return false;
  return true;
}

function countInvalidSpansModel(resources: readonly ResourceSpans[]): number {
  let bad = 0;
  for (const rs of resources) for (const ss of rs.scopeSpans) for (const sp of ss.spans) if (spanIdProblem(sp.traceId, sp.spanId)) bad++;
  return bad;
}

export interface IdCheckResult {
  /** The batch to send: `data` itself when every span is valid, else a filtered copy (the input is never changed). */
  data: Telemetry<'traces'>;
  /** Spans dropped for a bad trace id / span id. */
  droppedTraceId: number;
  droppedSpanId: number;
}

/**
 * Returns the batch without the spans that have invalid ids (resources and
 * scopes left empty are left out too). A batch without invalid spans is
 * returned as is, and is not decoded when it has its bytes. Exporters share
 * batches with other readers, so the input is never modified.
 */
export function dropInvalidSpans(data: Telemetry<'traces'>): IdCheckResult {
  let bad = 0;
  if (data.hasProto()) for (const part of data.protoParts()) bad += countInvalidSpansProto(part);
  else bad = countInvalidSpansModel(data.read());
  if (bad === 0) return { data, droppedTraceId: 0, droppedSpanId: 0 };
  let droppedTraceId = 0;
  let droppedSpanId = 0;
  const out: ResourceSpans[] = [];
  for (const rs of data.read()) {
    const scopes: ScopeSpans[] = [];
    for (const ss of rs.scopeSpans) {
      const kept: Span[] = [];
      for (const sp of ss.spans) {
        const why = spanIdProblem(sp.traceId, sp.spanId);
        if (why === 'trace_id') droppedTraceId++;
        else if (why === 'span_id') droppedSpanId++;
        else kept.push(sp);
      }
      if (kept.length > 0) scopes.push(kept.length === ss.spans.length ? ss : { ...ss, spans: kept });
    }
    if (scopes.length > 0) out.push({ ...rs, scopeSpans: scopes });
  }
  return { data: Telemetry.fromModel('traces', out, data.ctx), droppedTraceId, droppedSpanId };
}

/**
 * A checker bound to an exporter's self-telemetry: returns the batch to send
 * (without spans that have invalid ids), or undefined when nothing is left.
 * Dropped spans are counted in `sieve_exporter_invalid_id_spans{exporter,reason}`
 * and logged once per batch. The result is remembered per batch, so a retried
 * batch is checked and counted once.
 *
 *   const checkIds = createIdValidator(settings);
 *   // in push(data): if (signal === 'traces') { const d = checkIds(data); if (!d) return; data = d; }
 */
export function createIdValidator(
  settings: Pick<CreateSettings, 'id' | 'telemetry' | 'logger'>,
): (data: Telemetry<'traces'>) => Telemetry<'traces'> | undefined {
  const dropped = settings.telemetry.counter(
    'sieve_exporter_invalid_id_spans',
    'Spans dropped before sending because their trace id or span id is invalid (wrong length or all zero).',
    ['exporter', 'reason'],
  );
  const lt = { exporter: settings.id, reason: 'trace_id' };
  const ls = { exporter: settings.id, reason: 'span_id' };
  const seen = new WeakMap<Telemetry<'traces'>, Telemetry<'traces'> | null>();
  return (data) => {
    const known = seen.get(data);
    if (known !== undefined) return known ?? undefined;
    const r = dropInvalidSpans(data);
    const n = r.droppedTraceId + r.droppedSpanId;
    if (n === 0) return data;
    if (r.droppedTraceId) dropped.inc(lt, r.droppedTraceId);
    if (r.droppedSpanId) dropped.inc(ls, r.droppedSpanId);
    settings.logger.warn('Dropped spans with invalid ids before sending; the backend would reject the whole request.', {
      dropped_spans: n,
      invalid_trace_id: r.droppedTraceId,
      invalid_span_id: r.droppedSpanId,
    });
    const result = r.data.isEmpty() ? undefined : r.data;
    seen.set(data, result ?? null);
    return result;
  };
}
