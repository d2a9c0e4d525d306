// OTLP/JSON for logs: ExportLogsServiceRequest / LogsData.
import type { LogRecord, ResourceLogs, ScopeLogs } from '../model.js';
import {
  type JsonObject,
  anyValueFromJson,
  anyValueToJson,
  asArray,
  asObject,
  enumFromJson,
  field,
  idFromJson,
  keyValuesFromJson,
  parseJson,
  putAttributes,
  putId,
  putNumber,
  putResource,
  putScope,
  putString,
  putU64,
  resourceFromJson,
  scopeFromJson,
  strFromJson,
  uint32FromJson,
  uint64BigFromJson,
} from './common.js';

const SEVERITY_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];
/** SeverityNumber value names, indexed by value. */
export const SEVERITY_NUMBER_NAMES: readonly string[] = [
  'SEVERITY_NUMBER_UNSPECIFIED',
  ...SEVERITY_LEVELS.flatMap((l) => [1, 2, 3, 4].map((i) => `SEVERITY_NUMBER_${l}${i === 1 ? '' : i}`)),
];

// ---------------------------------------------------------------- encode

export function logRecordToJson(l: LogRecord): JsonObject {
  const o: JsonObject = {};
  putU64(o, 'timeUnixNano', l.timeUnixNano);
  putU64(o, 'observedTimeUnixNano', l.observedTimeUnixNano);
  putNumber(o, 'severityNumber', l.severityNumber);
  putString(o, 'severityText', l.severityText);
  if (l.body.type !== 'empty') o.body = anyValueToJson(l.body);
  putAttributes(o, 'attributes', l.attributes);
  putNumber(o, 'droppedAttributesCount', l.droppedAttributesCount);
  putNumber(o, 'flags', l.flags);
  putId(o, 'traceId', l.traceId);
  putId(o, 'spanId', l.spanId);
  putString(o, 'eventName', l.eventName);
  return o;
}

/** One ResourceLogs as an OTLP/JSON value. */
export function resourceLogsToJson(rl: ResourceLogs): JsonObject {
  const o: JsonObject = {};
  putResource(o, rl.resource);
  if (rl.scopeLogs.length !== 0) {
    o.scopeLogs = rl.scopeLogs.map((sl) => {
      const so: JsonObject = {};
      putScope(so, sl.scope);
      if (sl.logRecords.length !== 0) so.logRecords = sl.logRecords.map(logRecordToJson);
      putString(so, 'schemaUrl', sl.schemaUrl);
      return so;
    });
  }
  putString(o, 'schemaUrl', rl.schemaUrl);
  return o;
}

/** An ExportLogsServiceRequest as OTLP/JSON text (one line). */
export function encodeLogsJson(resources: readonly ResourceLogs[]): string {
  if (resources.length === 0) return '{}';
  return JSON.stringify({ resourceLogs: resources.map(resourceLogsToJson) });
}

// ---------------------------------------------------------------- decode

export function logRecordFromJson(v: unknown): LogRecord {
  const o = asObject(v, 'logRecord');
  return {
    timeUnixNano: uint64BigFromJson(field(o, 'timeUnixNano', 'time_unix_nano'), 'timeUnixNano'),
    observedTimeUnixNano: uint64BigFromJson(field(o, 'observedTimeUnixNano', 'observed_time_unix_nano'), 'observedTimeUnixNano'),
    severityNumber: enumFromJson(field(o, 'severityNumber', 'severity_number'), SEVERITY_NUMBER_NAMES, 'severityNumber'),
    severityText: strFromJson(field(o, 'severityText', 'severity_text'), 'severityText'),
    body: anyValueFromJson(field(o, 'body')),
    attributes: keyValuesFromJson(field(o, 'attributes')),
    droppedAttributesCount: uint32FromJson(field(o, 'droppedAttributesCount', 'dropped_attributes_count'), 'droppedAttributesCount'),
    flags: uint32FromJson(field(o, 'flags'), 'flags'),
    traceId: idFromJson(field(o, 'traceId', 'trace_id'), 16, 'traceId'),
    spanId: idFromJson(field(o, 'spanId', 'span_id'), 8, 'spanId'),
    eventName: strFromJson(field(o, 'eventName', 'event_name'), 'eventName'),
  };
}

function scopeLogsFromJson(v: unknown): ScopeLogs {
  const o = asObject(v, 'scopeLogs');
  return {
    scope: scopeFromJson(field(o, 'scope')),
    logRecords: asArray(field(o, 'logRecords', 'log_records'), 'logRecords').map(logRecordFromJson),
    schemaUrl: strFromJson(field(o, 'schemaUrl', 'schema_url'), 'schemaUrl'),
  };
}

/** One ResourceLogs from its OTLP/JSON value. */
export function resourceLogsFromJson(v: unknown): ResourceLogs {
  const o = asObject(v, 'resourceLogs');
  return {
    resource: resourceFromJson(field(o, 'resource')),
    scopeLogs: asArray(field(o, 'scopeLogs', 'scope_logs'), 'scopeLogs').map(scopeLogsFromJson),
    schemaUrl: strFromJson(field(o, 'schemaUrl', 'schema_url'), 'schemaUrl'),
  };
}

/** Decodes an OTLP/JSON ExportLogsServiceRequest. */
export function decodeLogsJson(text: string | Uint8Array): ResourceLogs[] {
  const o = asObject(parseJson(text), 'request');
  return asArray(field(o, 'resourceLogs', 'resource_logs'), 'resourceLogs').map(resourceLogsFromJson);
}
