// OTLP/JSON for traces: ExportTraceServiceRequest / TracesData.
import type { ResourceSpans, ScopeSpans, Span, SpanEvent, SpanLink } from '../model.js';
import {
  type JsonObject,
  DecodeError,
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

export const SPAN_KIND_NAMES = [
  'SPAN_KIND_UNSPECIFIED',
  'SPAN_KIND_INTERNAL',
  'SPAN_KIND_SERVER',
  'SPAN_KIND_CLIENT',
  'SPAN_KIND_PRODUCER',
  'SPAN_KIND_CONSUMER',
] as const;
export const STATUS_CODE_NAMES = ['STATUS_CODE_UNSET', 'STATUS_CODE_OK', 'STATUS_CODE_ERROR'] as const;

// ---------------------------------------------------------------- encode

function eventToJson(e: SpanEvent): JsonObject {
  const o: JsonObject = {};
  putU64(o, 'timeUnixNano', e.timeUnixNano);
  putString(o, 'name', e.name);
  putAttributes(o, 'attributes', e.attributes);
  putNumber(o, 'droppedAttributesCount', e.droppedAttributesCount);
  return o;
}

function linkToJson(l: SpanLink): JsonObject {
  const o: JsonObject = {};
  putId(o, 'traceId', l.traceId);
  putId(o, 'spanId', l.spanId);
  putString(o, 'traceState', l.traceState);
  putAttributes(o, 'attributes', l.attributes);
  putNumber(o, 'droppedAttributesCount', l.droppedAttributesCount);
  putNumber(o, 'flags', l.flags);
  return o;
}

export function spanToJson(s: Span): JsonObject {
  const o: JsonObject = {};
  putId(o, 'traceId', s.traceId);
  putId(o, 'spanId', s.spanId);
  putString(o, 'traceState', s.traceState);
  putId(o, 'parentSpanId', s.parentSpanId);
  putNumber(o, 'flags', s.flags);
  putString(o, 'name', s.name);
  putNumber(o, 'kind', s.kind);
  putU64(o, 'startTimeUnixNano', s.startTimeUnixNano);
  putU64(o, 'endTimeUnixNano', s.endTimeUnixNano);
  putAttributes(o, 'attributes', s.attributes);
  putNumber(o, 'droppedAttributesCount', s.droppedAttributesCount);
  if (s.events.length !== 0) o.events = s.events.map(eventToJson);
  putNumber(o, 'droppedEventsCount', s.droppedEventsCount);
  if (s.links.length !== 0) o.links = s.links.map(linkToJson);
  putNumber(o, 'droppedLinksCount', s.droppedLinksCount);
  if (s.status.message.length !== 0 || s.status.code !== 0) {
    const st: JsonObject = {};
    putString(st, 'message', s.status.message);
    putNumber(st, 'code', s.status.code);
    o.status = st;
  }
  return o;
}

/** One ResourceSpans as an OTLP/JSON value. */
export function resourceSpansToJson(rs: ResourceSpans): JsonObject {
  const o: JsonObject = {};
  putResource(o, rs.resource);
  if (rs.scopeSpans.length !== 0) {
    o.scopeSpans = rs.scopeSpans.map((ss) => {
      const so: JsonObject = {};
      putScope(so, ss.scope);
      if (ss.spans.length !== 0) so.spans = ss.spans.map(spanToJson);
      putString(so, 'schemaUrl', ss.schemaUrl);
      return so;
    });
  }
  putString(o, 'schemaUrl', rs.schemaUrl);
  return o;
}

/** An ExportTraceServiceRequest as OTLP/JSON text (one line). */
export function encodeTracesJson(resources: readonly ResourceSpans[]): string {
  if (resources.length === 0) return '{}';
  return JSON.stringify({ resourceSpans: resources.map(resourceSpansToJson) });
}

// ---------------------------------------------------------------- decode

function eventFromJson(v: unknown): SpanEvent {
  const o = asObject(v, 'event');
  return {
    timeUnixNano: uint64BigFromJson(field(o, 'timeUnixNano', 'time_unix_nano'), 'event.timeUnixNano'),
    name: strFromJson(field(o, 'name'), 'event.name'),
    attributes: keyValuesFromJson(field(o, 'attributes')),
    droppedAttributesCount: uint32FromJson(field(o, 'droppedAttributesCount', 'dropped_attributes_count'), 'droppedAttributesCount'),
  };
}

function linkFromJson(v: unknown): SpanLink {
  const o = asObject(v, 'link');
  return {
    traceId: idFromJson(field(o, 'traceId', 'trace_id'), 16, 'link.traceId'),
    spanId: idFromJson(field(o, 'spanId', 'span_id'), 8, 'link.spanId'),
    traceState: strFromJson(field(o, 'traceState', 'trace_state'), 'link.traceState'),
    attributes: keyValuesFromJson(field(o, 'attributes')),
    droppedAttributesCount: uint32FromJson(field(o, 'droppedAttributesCount', 'dropped_attributes_count'), 'droppedAttributesCount'),
    flags: uint32FromJson(field(o, 'flags'), 'link.flags'),
  };
}

export function spanFromJson(v: unknown): Span {
  const o = asObject(v, 'span');
  const st = field(o, 'status');
  const so = st === undefined ? undefined : asObject(st, 'status');
  return {
    traceId: idFromJson(field(o, 'traceId', 'trace_id'), 16, 'traceId'),
    spanId: idFromJson(field(o, 'spanId', 'span_id'), 8, 'spanId'),
    traceState: strFromJson(field(o, 'traceState', 'trace_state'), 'traceState'),
    parentSpanId: idFromJson(field(o, 'parentSpanId', 'parent_span_id'), 8, 'parentSpanId'),
    flags: uint32FromJson(field(o, 'flags'), 'flags'),
    name: strFromJson(field(o, 'name'), 'name'),
    kind: enumFromJson(field(o, 'kind'), SPAN_KIND_NAMES, 'kind'),
    startTimeUnixNano: uint64BigFromJson(field(o, 'startTimeUnixNano', 'start_time_unix_nano'), 'startTimeUnixNano'),
    endTimeUnixNano: uint64BigFromJson(field(o, 'endTimeUnixNano', 'end_time_unix_nano'), 'endTimeUnixNano'),
    attributes: keyValuesFromJson(field(o, 'attributes')),
    droppedAttributesCount: uint32FromJson(field(o, 'droppedAttributesCount', 'dropped_attributes_count'), 'droppedAttributesCount'),
    events: asArray(field(o, 'events'), 'events').map(eventFromJson),
    droppedEventsCount: uint32FromJson(field(o, 'droppedEventsCount', 'dropped_events_count'), 'droppedEventsCount'),
    links: asArray(field(o, 'links'), 'links').map(linkFromJson),
    droppedLinksCount: uint32FromJson(field(o, 'droppedLinksCount', 'dropped_links_count'), 'droppedLinksCount'),
    status: {
      message: so === undefined ? '' : strFromJson(field(so, 'message'), 'status.message'),
      code: so === undefined ? 0 : enumFromJson(field(so, 'code'), STATUS_CODE_NAMES, 'status.code'),
    },
  };
}

function scopeSpansFromJson(v: unknown): ScopeSpans {
  const o = asObject(v, 'scopeSpans');
  return {
    scope: scopeFromJson(field(o, 'scope')),
    spans: asArray(field(o, 'spans'), 'spans').map(spanFromJson),
    schemaUrl: strFromJson(field(o, 'schemaUrl', 'schema_url'), 'schemaUrl'),
  };
}

/** One ResourceSpans from its OTLP/JSON value. */
export function resourceSpansFromJson(v: unknown): ResourceSpans {
  const o = asObject(v, 'resourceSpans');
  return {
    resource: resourceFromJson(field(o, 'resource')),
    scopeSpans: asArray(field(o, 'scopeSpans', 'scope_spans'), 'scopeSpans').map(scopeSpansFromJson),
    schemaUrl: strFromJson(field(o, 'schemaUrl', 'schema_url'), 'schemaUrl'),
  };
}

/** Decodes an OTLP/JSON ExportTraceServiceRequest. */
export function decodeTracesJson(text: string | Uint8Array): ResourceSpans[] {
  const o = asObject(parseJson(text), 'request');
  return asArray(field(o, 'resourceSpans', 'resource_spans'), 'resourceSpans').map(resourceSpansFromJson);
}

export { DecodeError };
