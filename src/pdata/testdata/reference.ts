// A protobufjs reference codec built from otlp.proto, with converters between
// Sieve's model and protobufjs plain objects. For tests and benchmarks only.
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import type {
  AnyValue,
  Exemplar,
  InstrumentationScope,
  KeyValue,
  LogRecord,
  Metric,
  MetricData,
  Resource,
  ResourceLogs,
  ResourceMetrics,
  ResourceSpans,
  Span,
} from '../model.js';

export const PROTO_PATH = fileURLToPath(new URL('./otlp.proto', import.meta.url));
export const root = protobuf.loadSync(PROTO_PATH);
const type = (name: string): protobuf.Type => root.lookupType(`sieve.otlp.${name}`);

export const TracesRequest = type('ExportTraceServiceRequest');
export const MetricsRequest = type('ExportMetricsServiceRequest');
export const LogsRequest = type('ExportLogsServiceRequest');
export const TracesResponse = type('ExportTraceServiceResponse');
export const MetricsResponse = type('ExportMetricsServiceResponse');
export const LogsResponse = type('ExportLogsServiceResponse');
export const RpcStatus = type('RpcStatus');
export const AnyValueType = type('AnyValue');

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const TO_OBJECT: protobuf.IConversionOptions = { longs: String, enums: Number, defaults: false, arrays: true };

// ---------------------------------------------------------------- model -> protobufjs objects

export function anyToPb(v: AnyValue): Obj {
  switch (v.type) {
    case 'string':
      return { stringValue: v.value };
    case 'bool':
      return { boolValue: v.value };
    case 'int':
      return { intValue: v.value.toString() };
    case 'double':
      return { doubleValue: v.value };
    case 'bytes':
      return { bytesValue: v.value };
    case 'array':
      return { arrayValue: { values: v.value.map(anyToPb) } };
    case 'kvlist':
      return { kvlistValue: { values: kvsToPb(v.value) } };
    default:
      return {};
  }
}
const kvsToPb = (kvs: KeyValue[]): Obj[] => kvs.map((kv) => ({ key: kv.key, value: anyToPb(kv.value) }));
const resourceToPb = (r: Resource): Obj => ({ attributes: kvsToPb(r.attributes), droppedAttributesCount: r.droppedAttributesCount });
const scopeToPb = (s: InstrumentationScope): Obj => ({
  name: s.name,
  version: s.version,
  attributes: kvsToPb(s.attributes),
  droppedAttributesCount: s.droppedAttributesCount,
});

function spanToPb(s: Span): Obj {
  return {
    traceId: s.traceId,
    spanId: s.spanId,
    traceState: s.traceState,
    parentSpanId: s.parentSpanId,
    flags: s.flags,
    name: s.name,
    kind: s.kind,
    startTimeUnixNano: s.startTimeUnixNano.toString(),
    endTimeUnixNano: s.endTimeUnixNano.toString(),
    attributes: kvsToPb(s.attributes),
    droppedAttributesCount: s.droppedAttributesCount,
    events: s.events.map((e) => ({
      timeUnixNano: e.timeUnixNano.toString(),
      name: e.name,
      attributes: kvsToPb(e.attributes),
      droppedAttributesCount: e.droppedAttributesCount,
    })),
    droppedEventsCount: s.droppedEventsCount,
    links: s.links.map((l) => ({
      traceId: l.traceId,
      spanId: l.spanId,
      traceState: l.traceState,
      attributes: kvsToPb(l.attributes),
      droppedAttributesCount: l.droppedAttributesCount,
      flags: l.flags,
    })),
    droppedLinksCount: s.droppedLinksCount,
    status: { message: s.status.message, code: s.status.code },
  };
}

export function tracesToPb(rs: ResourceSpans[]): Obj {
  return {
    resourceSpans: rs.map((r) => ({
      resource: resourceToPb(r.resource),
      scopeSpans: r.scopeSpans.map((ss) => ({ scope: scopeToPb(ss.scope), spans: ss.spans.map(spanToPb), schemaUrl: ss.schemaUrl })),
      schemaUrl: r.schemaUrl,
    })),
  };
}

function logToPb(l: LogRecord): Obj {
  const o: Obj = {
    timeUnixNano: l.timeUnixNano.toString(),
    observedTimeUnixNano: l.observedTimeUnixNano.toString(),
    severityNumber: l.severityNumber,
    severityText: l.severityText,
    attributes: kvsToPb(l.attributes),
    droppedAttributesCount: l.droppedAttributesCount,
    flags: l.flags,
    traceId: l.traceId,
    spanId: l.spanId,
    eventName: l.eventName,
  };
  if (l.body.type !== 'empty') o.body = anyToPb(l.body);
  return o;
}

export function logsToPb(rl: ResourceLogs[]): Obj {
  return {
    resourceLogs: rl.map((r) => ({
      resource: resourceToPb(r.resource),
      scopeLogs: r.scopeLogs.map((sl) => ({ scope: scopeToPb(sl.scope), logRecords: sl.logRecords.map(logToPb), schemaUrl: sl.schemaUrl })),
      schemaUrl: r.schemaUrl,
    })),
  };
}

const valueToPb = (v: number | bigint): Obj => (typeof v === 'bigint' ? { asInt: v.toString() } : { asDouble: v });
const exemplarToPb = (e: Exemplar): Obj => ({
  filteredAttributes: kvsToPb(e.filteredAttributes),
  timeUnixNano: e.timeUnixNano.toString(),
  ...valueToPb(e.value),
  spanId: e.spanId,
  traceId: e.traceId,
});
const opt = (o: Obj, k: string, v: number | undefined): void => {
  if (v !== undefined) o[k] = v;
};

function dataToPb(d: MetricData): Obj {
  switch (d.type) {
    case 'gauge':
    case 'sum': {
      const body: Obj = {
        dataPoints: d.dataPoints.map((p) => ({
          attributes: kvsToPb(p.attributes),
          startTimeUnixNano: p.startTimeUnixNano.toString(),
          timeUnixNano: p.timeUnixNano.toString(),
          ...valueToPb(p.value),
          exemplars: p.exemplars.map(exemplarToPb),
          flags: p.flags,
        })),
      };
      if (d.type === 'sum') {
        body.aggregationTemporality = d.aggregationTemporality;
        body.isMonotonic = d.isMonotonic;
      }
      return { [d.type]: body };
    }
    case 'histogram':
      return {
        histogram: {
          aggregationTemporality: d.aggregationTemporality,
          dataPoints: d.dataPoints.map((p) => {
            const o: Obj = {
              attributes: kvsToPb(p.attributes),
              startTimeUnixNano: p.startTimeUnixNano.toString(),
              timeUnixNano: p.timeUnixNano.toString(),
              count: String(p.count),
              bucketCounts: p.bucketCounts.map(String),
              explicitBounds: p.explicitBounds,
              exemplars: p.exemplars.map(exemplarToPb),
              flags: p.flags,
            };
            opt(o, 'sum', p.sum);
            opt(o, 'min', p.min);
            opt(o, 'max', p.max);
            return o;
          }),
        },
      };
    case 'exponentialHistogram':
      return {
        exponentialHistogram: {
          aggregationTemporality: d.aggregationTemporality,
          dataPoints: d.dataPoints.map((p) => {
            const o: Obj = {
              attributes: kvsToPb(p.attributes),
              startTimeUnixNano: p.startTimeUnixNano.toString(),
              timeUnixNano: p.timeUnixNano.toString(),
              count: String(p.count),
              scale: p.scale,
              zeroCount: String(p.zeroCount),
              positive: { offset: p.positive.offset, bucketCounts: p.positive.bucketCounts.map(String) },
              negative: { offset: p.negative.offset, bucketCounts: p.negative.bucketCounts.map(String) },
              flags: p.flags,
              exemplars: p.exemplars.map(exemplarToPb),
              zeroThreshold: p.zeroThreshold,
            };
            opt(o, 'sum', p.sum);
            opt(o, 'min', p.min);
            opt(o, 'max', p.max);
            return o;
          }),
        },
      };
    case 'summary':
      return {
        summary: {
          dataPoints: d.dataPoints.map((p) => ({
            attributes: kvsToPb(p.attributes),
            startTimeUnixNano: p.startTimeUnixNano.toString(),
            timeUnixNano: p.timeUnixNano.toString(),
            count: String(p.count),
            sum: p.sum,
            quantileValues: p.quantileValues.map((q) => ({ quantile: q.quantile, value: q.value })),
            flags: p.flags,
          })),
        },
      };
    default:
      return {};
  }
}

const metricToPb = (m: Metric): Obj => ({ name: m.name, description: m.description, unit: m.unit, metadata: kvsToPb(m.metadata), ...dataToPb(m.data) });

export function metricsToPb(rm: ResourceMetrics[]): Obj {
  return {
    resourceMetrics: rm.map((r) => ({
      resource: resourceToPb(r.resource),
      scopeMetrics: r.scopeMetrics.map((sm) => ({ scope: scopeToPb(sm.scope), metrics: sm.metrics.map(metricToPb), schemaUrl: sm.schemaUrl })),
      schemaUrl: r.schemaUrl,
    })),
  };
}

/** Encodes with protobufjs. */
export function pbEncode(t: protobuf.Type, obj: Obj): Uint8Array {
  return t.encode(t.fromObject(obj)).finish();
}

// ---------------------------------------------------------------- protobufjs objects -> model

const bytes = (v: unknown): Uint8Array => (v === undefined ? new Uint8Array(0) : new Uint8Array(v as Uint8Array));
const big = (v: unknown): bigint => (v === undefined ? 0n : BigInt(v as string));
const num = (v: unknown): number => (v === undefined ? 0 : Number(v));
const str = (v: unknown): string => (v === undefined ? '' : (v as string));
const arr = (v: unknown): Obj[] => (v === undefined ? [] : (v as Obj[]));

export function anyFromPb(o: Obj | undefined): AnyValue {
  if (o === undefined) return { type: 'empty' };
  if (o.stringValue !== undefined) return { type: 'string', value: o.stringValue };
  if (o.boolValue !== undefined) return { type: 'bool', value: o.boolValue };
  if (o.intValue !== undefined) return { type: 'int', value: BigInt(o.intValue) };
  if (o.doubleValue !== undefined) return { type: 'double', value: o.doubleValue };
  if (o.bytesValue !== undefined) return { type: 'bytes', value: bytes(o.bytesValue) };
  if (o.arrayValue !== undefined) return { type: 'array', value: arr(o.arrayValue.values).map(anyFromPb) };
  if (o.kvlistValue !== undefined) return { type: 'kvlist', value: kvsFromPb(o.kvlistValue.values) };
  return { type: 'empty' };
}
const kvsFromPb = (v: unknown): KeyValue[] => arr(v).map((kv) => ({ key: str(kv.key), value: anyFromPb(kv.value) }));
const resourceFromPb = (o: Obj | undefined): Resource => ({ attributes: kvsFromPb(o?.attributes), droppedAttributesCount: num(o?.droppedAttributesCount) });
const scopeFromPb = (o: Obj | undefined): InstrumentationScope => ({
  name: str(o?.name),
  version: str(o?.version),
  attributes: kvsFromPb(o?.attributes),
  droppedAttributesCount: num(o?.droppedAttributesCount),
});

function spanFromPb(s: Obj): Span {
  return {
    traceId: bytes(s.traceId),
    spanId: bytes(s.spanId),
    traceState: str(s.traceState),
    parentSpanId: bytes(s.parentSpanId),
    flags: num(s.flags),
    name: str(s.name),
    kind: num(s.kind),
    startTimeUnixNano: big(s.startTimeUnixNano),
    endTimeUnixNano: big(s.endTimeUnixNano),
    attributes: kvsFromPb(s.attributes),
    droppedAttributesCount: num(s.droppedAttributesCount),
    events: arr(s.events).map((e) => ({
      timeUnixNano: big(e.timeUnixNano),
      name: str(e.name),
      attributes: kvsFromPb(e.attributes),
      droppedAttributesCount: num(e.droppedAttributesCount),
    })),
    droppedEventsCount: num(s.droppedEventsCount),
    links: arr(s.links).map((l) => ({
      traceId: bytes(l.traceId),
      spanId: bytes(l.spanId),
      traceState: str(l.traceState),
      attributes: kvsFromPb(l.attributes),
      droppedAttributesCount: num(l.droppedAttributesCount),
      flags: num(l.flags),
    })),
    droppedLinksCount: num(s.droppedLinksCount),
    status: { message: str(s.status?.message), code: num(s.status?.code) },
  };
}

export function tracesFromPb(buf: Uint8Array): ResourceSpans[] {
  const o = TracesRequest.toObject(TracesRequest.decode(buf), TO_OBJECT);
  return arr(o.resourceSpans).map((r) => ({
    resource: resourceFromPb(r.resource),
    scopeSpans: arr(r.scopeSpans).map((ss) => ({ scope: scopeFromPb(ss.scope), spans: arr(ss.spans).map(spanFromPb), schemaUrl: str(ss.schemaUrl) })),
    schemaUrl: str(r.schemaUrl),
  }));
}

export function logsFromPb(buf: Uint8Array): ResourceLogs[] {
  const o = LogsRequest.toObject(LogsRequest.decode(buf), TO_OBJECT);
  return arr(o.resourceLogs).map((r) => ({
    resource: resourceFromPb(r.resource),
    scopeLogs: arr(r.scopeLogs).map((sl) => ({
      scope: scopeFromPb(sl.scope),
      logRecords: arr(sl.logRecords).map(
        (l): LogRecord => ({
          timeUnixNano: big(l.timeUnixNano),
          observedTimeUnixNano: big(l.observedTimeUnixNano),
          severityNumber: num(l.severityNumber),
          severityText: str(l.severityText),
          body: anyFromPb(l.body),
          attributes: kvsFromPb(l.attributes),
          droppedAttributesCount: num(l.droppedAttributesCount),
          flags: num(l.flags),
          traceId: bytes(l.traceId),
          spanId: bytes(l.spanId),
          eventName: str(l.eventName),
        }),
      ),
      schemaUrl: str(sl.schemaUrl),
    })),
    schemaUrl: str(r.schemaUrl),
  }));
}

const valueFromPb = (o: Obj): number | bigint => (o.asInt !== undefined ? BigInt(o.asInt) : num(o.asDouble));
const optNum = (v: unknown): number | undefined => (v === undefined ? undefined : Number(v));
const exemplarFromPb = (e: Obj): Exemplar => ({
  filteredAttributes: kvsFromPb(e.filteredAttributes),
  timeUnixNano: big(e.timeUnixNano),
  value: valueFromPb(e),
  spanId: bytes(e.spanId),
  traceId: bytes(e.traceId),
});
const numberPointsFromPb = (v: unknown) =>
  arr(v).map((p) => ({
    attributes: kvsFromPb(p.attributes),
    startTimeUnixNano: big(p.startTimeUnixNano),
    timeUnixNano: big(p.timeUnixNano),
    value: valueFromPb(p),
    exemplars: arr(p.exemplars).map(exemplarFromPb),
    flags: num(p.flags),
  }));

function dataFromPb(m: Obj): MetricData {
  if (m.gauge) return { type: 'gauge', dataPoints: numberPointsFromPb(m.gauge.dataPoints) };
  if (m.sum)
    return {
      type: 'sum',
      dataPoints: numberPointsFromPb(m.sum.dataPoints),
      aggregationTemporality: num(m.sum.aggregationTemporality),
      isMonotonic: m.sum.isMonotonic === true,
    };
  if (m.histogram)
    return {
      type: 'histogram',
      aggregationTemporality: num(m.histogram.aggregationTemporality),
      dataPoints: arr(m.histogram.dataPoints).map((p) => ({
        attributes: kvsFromPb(p.attributes),
        startTimeUnixNano: big(p.startTimeUnixNano),
        timeUnixNano: big(p.timeUnixNano),
        count: num(p.count),
        sum: optNum(p.sum),
        bucketCounts: arr(p.bucketCounts).map(Number),
        explicitBounds: arr(p.explicitBounds).map(Number),
        exemplars: arr(p.exemplars).map(exemplarFromPb),
        flags: num(p.flags),
        min: optNum(p.min),
        max: optNum(p.max),
      })),
    };
  if (m.exponentialHistogram)
    return {
      type: 'exponentialHistogram',
      aggregationTemporality: num(m.exponentialHistogram.aggregationTemporality),
      dataPoints: arr(m.exponentialHistogram.dataPoints).map((p) => ({
        attributes: kvsFromPb(p.attributes),
        startTimeUnixNano: big(p.startTimeUnixNano),
        timeUnixNano: big(p.timeUnixNano),
        count: num(p.count),
        sum: optNum(p.sum),
        scale: num(p.scale),
        zeroCount: num(p.zeroCount),
        positive: { offset: num(p.positive?.offset), bucketCounts: arr(p.positive?.bucketCounts).map(Number) },
        negative: { offset: num(p.negative?.offset), bucketCounts: arr(p.negative?.bucketCounts).map(Number) },
        flags: num(p.flags),
        exemplars: arr(p.exemplars).map(exemplarFromPb),
        min: optNum(p.min),
        max: optNum(p.max),
        zeroThreshold: num(p.zeroThreshold),
      })),
    };
  if (m.summary)
    return {
      type: 'summary',
      dataPoints: arr(m.summary.dataPoints).map((p) => ({
        attributes: kvsFromPb(p.attributes),
        startTimeUnixNano: big(p.startTimeUnixNano),
        timeUnixNano: big(p.timeUnixNano),
        count: num(p.count),
        sum: num(p.sum),
        quantileValues: arr(p.quantileValues).map((q) => ({ quantile: num(q.quantile), value: num(q.value) })),
        flags: num(p.flags),
      })),
    };
  return { type: 'empty' };
}

export function metricsFromPb(buf: Uint8Array): ResourceMetrics[] {
  const o = MetricsRequest.toObject(MetricsRequest.decode(buf), TO_OBJECT);
  return arr(o.resourceMetrics).map((r) => ({
    resource: resourceFromPb(r.resource),
    scopeMetrics: arr(r.scopeMetrics).map((sm) => ({
      scope: scopeFromPb(sm.scope),
      metrics: arr(sm.metrics).map(
        (m): Metric => ({ name: str(m.name), description: str(m.description), unit: str(m.unit), metadata: kvsFromPb(m.metadata), data: dataFromPb(m) }),
      ),
      schemaUrl: str(sm.schemaUrl),
    })),
    schemaUrl: str(r.schemaUrl),
  }));
}

// Oneof members and proto3 optional fields: written even when they hold a default.
const PRESENCE = new Set(['stringValue', 'boolValue', 'intValue', 'doubleValue', 'bytesValue', 'arrayValue', 'kvlistValue', 'asDouble', 'asInt', 'min', 'max', 'gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary']);

function isDefault(v: unknown): boolean {
  if (v === '' || v === '0' || v === false) return true;
  if (typeof v === 'number') return v === 0 && 1 / v > 0;
  if (v instanceof Uint8Array) return v.length === 0;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object' && v !== null) return Object.keys(v).length === 0;
  return false;
}

/**
 * Drops proto3 default values from a protobufjs plain object (protobufjs writes
 * every field that is set), so its encoding has the fields a proto3 encoder
 * writes. `sum` is optional in histograms and a plain double in summaries.
 */
export function stripDefaults(o: unknown): unknown {
  if (Array.isArray(o)) return o.map((x) => stripDefaults(x));
  if (typeof o !== 'object' || o === null || o instanceof Uint8Array) return o;
  const src = o as Obj;
  const out: Obj = {};
  const summaryPoint = 'quantileValues' in src;
  for (const [k, v0] of Object.entries(src)) {
    const v = stripDefaults(v0);
    const keep = PRESENCE.has(k) && !(k === 'sum' && summaryPoint);
    if (!keep && isDefault(v)) continue;
    out[k] = v;
  }
  return out;
}
