// OTLP/JSON codecs (proto3 JSON mapping with the OTLP exceptions, see common.ts).
import type { PartialSuccess, ResourceLogs, ResourceMetrics, ResourceSpans, Signal } from '../model.js';
import { type JsonObject, DecodeError, asObject, field, parseJson, strFromJson } from './common.js';
import { resourceLogsFromJson, resourceLogsToJson } from './logs.js';
import { resourceMetricsFromJson, resourceMetricsToJson } from './metrics.js';
import { resourceSpansFromJson, resourceSpansToJson } from './traces.js';

export {
  type JsonObject,
  type JsonValue,
  anyValueFromJson,
  anyValueToJson,
  keyValuesFromJson,
  keyValuesToJson,
  parseJson,
  resourceFromJson,
  resourceToJson,
  scopeFromJson,
  scopeToJson,
  toHex,
  idFromJson,
} from './common.js';
export { decodeTracesJson, encodeTracesJson, resourceSpansFromJson, resourceSpansToJson, spanFromJson, spanToJson, SPAN_KIND_NAMES, STATUS_CODE_NAMES } from './traces.js';
export { decodeLogsJson, encodeLogsJson, logRecordFromJson, logRecordToJson, resourceLogsFromJson, resourceLogsToJson, SEVERITY_NUMBER_NAMES } from './logs.js';
export {
  AGGREGATION_TEMPORALITY_NAMES,
  decodeMetricsJson,
  encodeMetricsJson,
  metricFromJson,
  metricToJson,
  resourceMetricsFromJson,
  resourceMetricsToJson,
} from './metrics.js';

type ResourceOf<S extends Signal> = S extends 'traces' ? ResourceSpans : S extends 'metrics' ? ResourceMetrics : ResourceLogs;

/** The top-level key of each signal's request: resourceSpans / resourceMetrics / resourceLogs. */
export const RESOURCES_KEY = { traces: 'resourceSpans', metrics: 'resourceMetrics', logs: 'resourceLogs' } as const;

/** One Resource{Spans,Metrics,Logs} as an OTLP/JSON value. */
export function toJsonValue<S extends Signal>(signal: S, resource: ResourceOf<S>): JsonObject {
  switch (signal) {
    case 'traces':
      return resourceSpansToJson(resource as ResourceSpans);
    case 'metrics':
      return resourceMetricsToJson(resource as ResourceMetrics);
    default:
      return resourceLogsToJson(resource as ResourceLogs);
  }
}

/** One Resource{Spans,Metrics,Logs} from its OTLP/JSON value (as parsed by JSON.parse). */
export function fromJsonValue<S extends Signal>(signal: S, value: unknown): ResourceOf<S> {
  switch (signal) {
    case 'traces':
      return resourceSpansFromJson(value) as ResourceOf<S>;
    case 'metrics':
      return resourceMetricsFromJson(value) as ResourceOf<S>;
    default:
      return resourceLogsFromJson(value) as ResourceOf<S>;
  }
}

const REJECTED_KEY = { traces: 'rejectedSpans', metrics: 'rejectedDataPoints', logs: 'rejectedLogRecords' } as const;
const REJECTED_KEYS = [
  ['rejectedSpans', 'rejected_spans'],
  ['rejectedDataPoints', 'rejected_data_points'],
  ['rejectedLogRecords', 'rejected_log_records'],
] as const;

/** Export<Signal>ServiceResponse as OTLP/JSON: `{}` or `{"partialSuccess":{...}}`. */
export function encodeExportResponseJson(signal: Signal, partial?: PartialSuccess): string {
  if (partial === undefined) return '{}';
  const p: JsonObject = {};
  if (partial.rejected !== 0) p[REJECTED_KEY[signal]] = String(Math.trunc(partial.rejected));
  if (partial.errorMessage.length !== 0) p.errorMessage = partial.errorMessage;
  return JSON.stringify({ partialSuccess: p });
}

/** Decodes an Export<Signal>ServiceResponse of any signal: its partial success, or undefined when unset. */
export function decodeExportResponseJson(text: string | Uint8Array): PartialSuccess | undefined {
  const o = asObject(parseJson(text), 'response');
  const pv = field(o, 'partialSuccess', 'partial_success');
  if (pv === undefined) return undefined;
  const p = asObject(pv, 'partialSuccess');
  let rejected = 0;
  for (const [camel, snake] of REJECTED_KEYS) {
    const v = field(p, camel, snake);
    if (v === undefined) continue;
    if (typeof v === 'number' && Number.isInteger(v)) rejected = v;
    else if (typeof v === 'string' && /^-?\d+$/.test(v)) rejected = Number(v);
    else throw new DecodeError(`${camel}: expected an integer`);
  }
  return { rejected, errorMessage: strFromJson(field(p, 'errorMessage', 'error_message'), 'errorMessage') };
}
