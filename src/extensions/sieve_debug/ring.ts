// A ring buffer of recently exported spans, grouped into traces on demand.
// Spans are kept as the exporters saw them (after every processor), once per
// span even when several exporters sent it.
import type { AnyValue, KeyValue, ResourceSpans } from '../../pdata/model.js';

export interface SpanView {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  service: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  durationMs: number;
  status: { code: number; message: string };
  attributes: Record<string, unknown>;
  exporters: string[];
}

export interface TraceView {
  traceId: string;
  spans: SpanView[];
}

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

export function valueToJson(v: AnyValue): unknown {
  switch (v.type) {
    case 'string':
    case 'bool':
    case 'double':
      return v.value;
    case 'int':
      return Number.isSafeInteger(Number(v.value)) ? Number(v.value) : v.value.toString();
    case 'bytes':
      return Buffer.from(v.value).toString('base64');
    case 'array':
      return v.value.map(valueToJson);
    case 'kvlist':
      return attrs(v.value);
    default:
      return null;
  }
}

function attrs(kvs: readonly KeyValue[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of kvs) out[kv.key] = valueToJson(kv.value);
  return out;
}

export class SpanRing {
  private slots: (SpanView | undefined)[];
  private next = 0;
  private byKey = new Map<string, SpanView>();

  constructor(readonly size: number) {
    this.slots = new Array(size);
  }

  add(resources: readonly ResourceSpans[], exporter: string): void {
    for (const rs of resources) {
      let service = '';
      for (const kv of rs.resource.attributes) if (kv.key === 'service.name' && kv.value.type === 'string') service = kv.value.value;
      for (const ss of rs.scopeSpans) {
        for (const sp of ss.spans) {
          const traceId = hex(sp.traceId);
          const spanId = hex(sp.spanId);
          const key = traceId + spanId;
          const seen = this.byKey.get(key);
          if (seen) {
            if (!seen.exporters.includes(exporter)) seen.exporters.push(exporter);
            continue;
          }
          const view: SpanView = {
            traceId,
            spanId,
            parentSpanId: hex(sp.parentSpanId),
            name: sp.name,
            kind: sp.kind,
            service,
            startTimeUnixNano: sp.startTimeUnixNano.toString(),
            endTimeUnixNano: sp.endTimeUnixNano.toString(),
            durationMs: Number(sp.endTimeUnixNano - sp.startTimeUnixNano) / 1e6,
            status: { code: sp.status.code, message: sp.status.message },
            attributes: attrs(sp.attributes),
            exporters: [exporter],
          };
          const old = this.slots[this.next];
          if (old) this.byKey.delete(old.traceId + old.spanId);
          this.slots[this.next] = view;
          this.byKey.set(key, view);
          this.next = (this.next + 1) % this.size;
        }
      }
    }
  }

  /** The `limit` most recent traces, newest first, each with its spans in arrival order. */
  traces(limit: number): TraceView[] {
    const order: string[] = [];
    const byTrace = new Map<string, SpanView[]>();
    for (let i = 1; i <= this.size; i++) {
      const s = this.slots[(this.next - i + this.size) % this.size];
      if (!s) break;
      let list = byTrace.get(s.traceId);
      if (!list) {
        if (order.length >= limit) continue;
        list = [];
        byTrace.set(s.traceId, list);
        order.push(s.traceId);
      }
      list.push(s);
    }
    return order.map((traceId) => ({ traceId, spans: byTrace.get(traceId)!.reverse() }));
  }

  spanCount(): number {
    return this.byKey.size;
  }
}
