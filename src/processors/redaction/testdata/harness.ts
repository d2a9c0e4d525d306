// Helpers shared by the redaction tests: a processor from a raw config, and
// batches with a value planted in every place the processor covers.
import type { Consumer } from '../../../component/component.js';
import { isDeepStrictEqual } from 'node:util';
import { Issues } from '../../../config/schema.js';
import type { AnyValue, KeyValue, LogRecord, Metric, ResourceLogs, ResourceMetrics, ResourceSpans, Signal, Span } from '../../../pdata/model.js';
import { Telemetry } from '../../../pdata/telemetry.js';
import { CODECS } from '../../../pdata/codec.js';
import { REDACTIONS_METRIC } from '../processor.js';
import { createLogger } from '../../../service/logger.js';
import { SelfTelemetry } from '../../../service/telemetry.js';
import { redactionSchema, validateRedaction, type RedactionConfig } from '../config.js';
import { RedactionProcessor } from '../processor.js';

export function parseConfig(raw: Record<string, unknown>): { cfg: RedactionConfig; issues: Issues } {
  const issues = new Issues();
  const cfg = redactionSchema.parse(raw, ['processors', 'redaction'], issues) as RedactionConfig;
  if (!issues.hasErrors()) validateRedaction(cfg, ['processors', 'redaction'], issues);
  return { cfg, issues };
}

export interface Harness {
  /** The processor as the daemon runs it: batches with bytes are redacted on the bytes. */
  proc: RedactionProcessor;
  /** The same config walking the decoded model; every run() checks both agree. */
  ref: RedactionProcessor;
  telemetry: SelfTelemetry;
  logs: string[];
  /** What reached the next consumer. */
  out: Telemetry[];
  run<S extends Signal>(t: Telemetry<S>): Promise<Telemetry<S>>;
}

export async function harness(raw: Record<string, unknown>, signal: Signal = 'traces'): Promise<Harness> {
  const { cfg, issues } = parseConfig(raw);
  if (issues.hasErrors()) throw new Error(issues.errors.map((e) => `${e.path.join('::')}: ${e.message}`).join('\n'));
  const telemetry = new SelfTelemetry();
  const logs: string[] = [];
  const out: Telemetry[] = [];
  const next: Consumer = {
    mutatesData: false,
    async consume(d) {
      out.push(d);
    },
  };
  const logger = createLogger({ level: 'debug', write: (l) => logs.push(l) });
  const proc = new RedactionProcessor({ id: 'redaction', kind: 'processor', logger, telemetry, instanceId: 'test', now: () => 0 }, cfg, signal, next);
  await proc.start({ getExtension: () => undefined, components: () => new Map(), registerAdminRoute: () => undefined, logger, telemetry });
  const refTelemetry = new SelfTelemetry();
  const refOut: Telemetry[] = [];
  const refNext: Consumer = {
    mutatesData: false,
    async consume(d) {
      refOut.push(d);
    },
  };
  const ref = new RedactionProcessor({ id: 'redaction', kind: 'processor', logger: createLogger({ level: 'error', write: () => undefined }), telemetry: refTelemetry, instanceId: 'test', now: () => 0 }, cfg, signal, refNext, { model: true });
  return {
    proc,
    ref,
    telemetry,
    logs,
    out,
    async run(t) {
      // The model walk on a copy of the model, the daemon's path on the encoded request.
      const codec = CODECS[t.signal] as unknown as { encode(r: unknown): Uint8Array; decode(b: Uint8Array): unknown; scan(b: Uint8Array): number };
      const model = t.hasProto() ? codec.decode(t.toProto()) : structuredClone(t.read());
      const refIn = Telemetry.fromModel(t.signal, model as never, { ...t.ctx });
      const bytes = t.toProto();
      const wireIn = Telemetry.fromProto(t.signal, bytes, codec.scan(bytes), t.ctx);
      await ref.consume(refIn);
      await proc.consume(wireIn);
      const got = out[out.length - 1] as typeof t;
      const want = refOut[refOut.length - 1]!;
      const gotModel = codec.decode(got.toProto());
      const wantModel = codec.decode(want.toProto());
      if (!isDeepStrictEqual(gotModel, wantModel)) {
        throw new Error(`byte-level redaction differs from the model walk:\nbytes: ${JSON.stringify(gotModel, jsonSafe)}\nmodel: ${JSON.stringify(wantModel, jsonSafe)}`);
      }
      const [a, b] = [await telemetry.text(), await refTelemetry.text()];
      const lines = (x: string) => x.split('\n').filter((l) => l.startsWith(REDACTIONS_METRIC)).sort().join('\n');
      if (lines(a) !== lines(b)) throw new Error(`redaction counts differ from the model walk:\nbytes:\n${lines(a)}\nmodel:\n${lines(b)}`);
      return got;
    },
  };
}

export const sv = (value: string): AnyValue => ({ type: 'string', value });
export const kv = (key: string, value: AnyValue | string): KeyValue => ({ key, value: typeof value === 'string' ? sv(value) : value });

export function span(name: string, attributes: KeyValue[] = [], extra: Partial<Span> = {}): Span {
  return {
    traceId: new Uint8Array(16).fill(1),
    spanId: new Uint8Array(8).fill(2),
    traceState: '',
    parentSpanId: new Uint8Array(0),
    flags: 0,
    name,
    kind: 1,
    startTimeUnixNano: 1n,
    endTimeUnixNano: 2n,
    attributes,
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    status: { message: '', code: 0 },
    ...extra,
  };
}

export function traces(spans: Span[], resourceAttrs: KeyValue[] = [], scopeAttrs: KeyValue[] = []): Telemetry<'traces'> {
  return Telemetry.traces([
    {
      resource: { attributes: resourceAttrs, droppedAttributesCount: 0 },
      scopeSpans: [{ scope: { name: 's', version: '1', attributes: scopeAttrs, droppedAttributesCount: 0 }, spans, schemaUrl: '' }],
      schemaUrl: '',
    },
  ]);
}

export function logRecord(body: AnyValue, attributes: KeyValue[] = [], eventName = ''): LogRecord {
  return {
    timeUnixNano: 1n,
    observedTimeUnixNano: 1n,
    severityNumber: 9,
    severityText: 'INFO',
    body,
    attributes,
    droppedAttributesCount: 0,
    flags: 0,
    traceId: new Uint8Array(0),
    spanId: new Uint8Array(0),
    eventName,
  };
}

export function logs(records: LogRecord[], resourceAttrs: KeyValue[] = [], scopeAttrs: KeyValue[] = []): Telemetry<'logs'> {
  return Telemetry.logs([
    {
      resource: { attributes: resourceAttrs, droppedAttributesCount: 0 },
      scopeLogs: [{ scope: { name: 's', version: '1', attributes: scopeAttrs, droppedAttributesCount: 0 }, logRecords: records, schemaUrl: '' }],
      schemaUrl: '',
    },
  ]);
}

export function gauge(name: string, attributes: KeyValue[], exemplarAttrs: KeyValue[] = []): Metric {
  return {
    name,
    description: '',
    unit: '1',
    metadata: [],
    data: {
      type: 'gauge',
      dataPoints: [
        {
          attributes,
          startTimeUnixNano: 0n,
          timeUnixNano: 1n,
          value: 1,
          exemplars: exemplarAttrs.length ? [{ filteredAttributes: exemplarAttrs, timeUnixNano: 1n, value: 1, spanId: new Uint8Array(0), traceId: new Uint8Array(0) }] : [],
          flags: 0,
        },
      ],
    },
  };
}

export function metrics(ms: Metric[], resourceAttrs: KeyValue[] = [], scopeAttrs: KeyValue[] = []): Telemetry<'metrics'> {
  return Telemetry.metrics([
    {
      resource: { attributes: resourceAttrs, droppedAttributesCount: 0 },
      scopeMetrics: [{ scope: { name: 's', version: '1', attributes: scopeAttrs, droppedAttributesCount: 0 }, metrics: ms, schemaUrl: '' }],
      schemaUrl: '',
    },
  ]);
}

/** Plain JSON of a batch (bigints and bytes as strings), to search for leaks. */
export function dump(resources: readonly (ResourceSpans | ResourceLogs | ResourceMetrics)[] | readonly unknown[]): string {
  return JSON.stringify(resources, (_k, x) => (typeof x === 'bigint' ? x.toString() : x instanceof Uint8Array ? Buffer.from(x).toString('hex') : x));
}

/** Attributes as a plain record (strings, ints as numbers). */
export function attrsOf(attrs: readonly KeyValue[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const a of attrs) out[a.key] = plain(a.value);
  return out;
}

export function plain(v: AnyValue): unknown {
  switch (v.type) {
    case 'int':
      return Number(v.value);
    case 'array':
      return v.value.map(plain);
    case 'kvlist':
      return attrsOf(v.value);
    case 'empty':
      return null;
    case 'bytes':
      return Buffer.from(v.value).toString('base64');
    default:
      return v.value;
  }
}

function jsonSafe(_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  return v;
}
