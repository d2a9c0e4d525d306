// Test fixtures shared by the reliability tests: spans with sequence-numbered
// ids (so a receiver can count distinct spans), settings and a host.
import type { Component, CreateSettings, Host, Kind } from '../../component/component.js';
import { CODECS } from '../../pdata/codec.js';
import type { ResourceSpans, Span } from '../../pdata/model.js';
import { Telemetry, type RequestContext } from '../../pdata/telemetry.js';
import { nopLogger, type Logger } from '../../service/logger.js';
import { SelfTelemetry } from '../../service/telemetry.js';

/** An 8-byte span id holding `seq` (big-endian). */
export function spanIdOf(seq: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(seq) + 1n);
  return b;
}

/** The sequence number encoded by spanIdOf. */
export function seqOf(spanId: Uint8Array): number {
  return Number(new DataView(spanId.buffer, spanId.byteOffset, 8).getBigUint64(0) - 1n);
}

export function makeSpans(first: number, count: number, service = 'test-service'): ResourceSpans[] {
  const spans: Span[] = [];
  for (let i = 0; i < count; i++) {
    const seq = first + i;
    const traceId = new Uint8Array(16);
    new DataView(traceId.buffer).setUint32(12, seq + 1);
    spans.push({
      traceId,
      spanId: spanIdOf(seq),
      traceState: '',
      parentSpanId: new Uint8Array(0),
      flags: 0,
      name: `op-${seq % 7}`,
      kind: 2,
      startTimeUnixNano: 1_700_000_000_000_000_000n + BigInt(seq),
      endTimeUnixNano: 1_700_000_000_000_500_000n + BigInt(seq),
      attributes: [
        { key: 'http.method', value: { type: 'string', value: 'GET' } },
        { key: 'http.route', value: { type: 'string', value: `/api/items/${seq % 13}` } },
        { key: 'http.status_code', value: { type: 'int', value: 200n } },
      ],
      droppedAttributesCount: 0,
      events: [],
      droppedEventsCount: 0,
      links: [],
      droppedLinksCount: 0,
      status: { code: 0, message: '' },
    });
  }
  return [
    {
      resource: { attributes: [{ key: 'service.name', value: { type: 'string', value: service } }], droppedAttributesCount: 0 },
      scopeSpans: [{ scope: { name: 'fixture', version: '1', attributes: [], droppedAttributesCount: 0 }, spans, schemaUrl: '' }],
      schemaUrl: '',
    },
  ];
}

/** An ExportTraceServiceRequest with spans first..first+count-1. */
export function encodeSpans(first: number, count: number, service?: string): Uint8Array {
  return CODECS.traces.encode(makeSpans(first, count, service));
}

/** A batch as a receiver makes it: bytes plus item count. */
export function traces(first: number, count: number, ctx: RequestContext = {}): Telemetry<'traces'> {
  const bytes = encodeSpans(first, count);
  return Telemetry.fromProto('traces', bytes, count, ctx);
}

/** Sequence numbers of the spans in a batch. */
export function seqsOf(data: Telemetry): number[] {
  const out: number[] = [];
  for (const rs of data.read() as ResourceSpans[]) for (const ss of rs.scopeSpans) for (const sp of ss.spans) out.push(seqOf(sp.spanId));
  return out;
}

export function settings(id: string, kind: Kind = 'extension', telemetry = new SelfTelemetry(), logger: Logger = nopLogger): CreateSettings {
  return { id, kind, logger, telemetry, instanceId: 'test', now: Date.now };
}

/** A host that knows the given components (extensions by id). */
export function host(components: Record<string, { kind: Kind; component: Component }> = {}, telemetry = new SelfTelemetry()): Host {
  const map = new Map(Object.entries(components));
  return {
    getExtension: (id) => (map.get(id)?.kind === 'extension' ? map.get(id)!.component : undefined),
    components: () => map,
    registerAdminRoute: () => undefined,
    logger: nopLogger,
    telemetry,
  };
}

/** A logger that keeps its lines (assert on clear error messages). */
export function memoryLogger(): Logger & { lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const mk = (base: Record<string, unknown>): Logger => {
    const emit = (level: string) => (message: string, fields?: Record<string, unknown>) => {
      const rec: Record<string, unknown> = { level, message, ...base };
      for (const [k, v] of Object.entries(fields ?? {})) rec[k] = v instanceof Error ? v.message : v;
      lines.push(rec);
    };
    return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error'), child: (f) => mk({ ...base, ...f }), enabled: () => true };
  };
  return Object.assign(mk({}), { lines });
}
