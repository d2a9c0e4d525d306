// Wire schemas for the test doubles, written from the published contracts
// (field numbers and types), independent of Sieve's own codecs so that the
// fakes check what Sieve sends rather than agree with it by construction.
//
// - Loki push API: logproto.PushRequest (grafana/loki pkg/push/push.proto, as
//   described in Loki's HTTP API docs).
// - OTLP: opentelemetry/proto/{common,resource,trace,logs}/v1 and the collector
//   service request/response messages.
// - google.rpc.Status, google.rpc.RetryInfo.
import protobuf from 'protobufjs';

const SCHEMA = `
syntax = "proto3";

package logproto;
message PushRequest { repeated StreamAdapter streams = 1; string format = 2; }
message StreamAdapter { string labels = 1; repeated EntryAdapter entries = 2; uint64 hash = 3; }
message LabelPairAdapter { string name = 1; string value = 2; }
message Timestamp { int64 seconds = 1; int32 nanos = 2; }
message EntryAdapter {
  Timestamp timestamp = 1;
  string line = 2;
  repeated LabelPairAdapter structuredMetadata = 3;
  repeated LabelPairAdapter parsed = 4;
}
`;

const OTLP = `
syntax = "proto3";
package otlp;
message AnyValue {
  oneof value {
    string string_value = 1;
    bool bool_value = 2;
    int64 int_value = 3;
    double double_value = 4;
    ArrayValue array_value = 5;
    KeyValueList kvlist_value = 6;
    bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue { string key = 1; AnyValue value = 2; }
message InstrumentationScope { string name = 1; string version = 2; repeated KeyValue attributes = 3; uint32 dropped_attributes_count = 4; }
message Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }

message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; string schema_url = 3; }
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; string schema_url = 3; }
message Span {
  bytes trace_id = 1;
  bytes span_id = 2;
  string trace_state = 3;
  bytes parent_span_id = 4;
  fixed32 flags = 16;
  string name = 5;
  int32 kind = 6;
  fixed64 start_time_unix_nano = 7;
  fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9;
}
message ExportTracePartialSuccess { int64 rejected_spans = 1; string error_message = 2; }
message ExportTraceServiceResponse { ExportTracePartialSuccess partial_success = 1; }

message ExportLogsServiceRequest { repeated ResourceLogs resource_logs = 1; }
message ResourceLogs { Resource resource = 1; repeated ScopeLogs scope_logs = 2; string schema_url = 3; }
message ScopeLogs { InstrumentationScope scope = 1; repeated LogRecord log_records = 2; string schema_url = 3; }
message LogRecord {
  fixed64 time_unix_nano = 1;
  fixed64 observed_time_unix_nano = 11;
  int32 severity_number = 2;
  string severity_text = 3;
  AnyValue body = 5;
  repeated KeyValue attributes = 6;
  uint32 dropped_attributes_count = 7;
  fixed32 flags = 8;
  bytes trace_id = 9;
  bytes span_id = 10;
  string event_name = 12;
}

message Any { string type_url = 1; bytes value = 2; }
message Duration { int64 seconds = 1; int32 nanos = 2; }
message RpcStatus { int32 code = 1; string message = 2; repeated Any details = 3; }
message RetryInfo { Duration retry_delay = 1; }
`;

const root = new protobuf.Root();
protobuf.parse(SCHEMA, root, { keepCase: true });
protobuf.parse(OTLP, root, { keepCase: true });

export const PushRequest = root.lookupType('logproto.PushRequest');
export const ExportTraceServiceRequest = root.lookupType('otlp.ExportTraceServiceRequest');
export const ExportTraceServiceResponse = root.lookupType('otlp.ExportTraceServiceResponse');
export const ExportLogsServiceRequest = root.lookupType('otlp.ExportLogsServiceRequest');
export const RpcStatus = root.lookupType('otlp.RpcStatus');
export const RetryInfo = root.lookupType('otlp.RetryInfo');

/** google.rpc.Status bytes. */
export function rpcStatus(code: number, message: string, retryDelaySeconds?: number): Buffer {
  const details =
    retryDelaySeconds === undefined
      ? []
      : [{ type_url: 'type.googleapis.com/google.rpc.RetryInfo', value: RetryInfo.encode({ retry_delay: { seconds: retryDelaySeconds } }).finish() }];
  return Buffer.from(RpcStatus.encode({ code, message, details }).finish());
}

/** Decoded messages as plain objects: 64-bit ints as strings, bytes as Buffers. */
export function toPlain(t: protobuf.Type, buf: Uint8Array): Record<string, unknown> {
  return t.toObject(t.decode(buf), { longs: String, bytes: Buffer, defaults: true, oneofs: false }) as Record<string, unknown>;
}

// ---------------------------------------------------------------- OTLP value helpers

export interface PlainAnyValue {
  string_value?: string;
  bool_value?: boolean;
  int_value?: string;
  double_value?: number;
  array_value?: { values: PlainAnyValue[] };
  kvlist_value?: { values: { key: string; value?: PlainAnyValue }[] };
  bytes_value?: Buffer;
}

/** pcommon Value.AsString: strings as is, maps and lists as JSON. */
export function anyAsString(v: PlainAnyValue | undefined): string {
  if (!v) return '';
  if (v.string_value !== undefined) return v.string_value;
  if (v.bool_value !== undefined) return String(v.bool_value);
  if (v.int_value !== undefined) return String(v.int_value);
  if (v.double_value !== undefined) return String(v.double_value);
  if (v.bytes_value !== undefined) return Buffer.from(v.bytes_value).toString('base64');
  return JSON.stringify(anyToJs(v));
}

export function anyToJs(v: PlainAnyValue | undefined): unknown {
  if (!v) return null;
  if (v.string_value !== undefined) return v.string_value;
  if (v.bool_value !== undefined) return v.bool_value;
  if (v.int_value !== undefined) return Number(v.int_value);
  if (v.double_value !== undefined) return v.double_value;
  if (v.bytes_value !== undefined) return Buffer.from(v.bytes_value).toString('base64');
  if (v.array_value) return (v.array_value.values ?? []).map(anyToJs);
  if (v.kvlist_value) return Object.fromEntries((v.kvlist_value.values ?? []).map((kv) => [kv.key, anyToJs(kv.value)]));
  return null;
}

/** OTLP/JSON AnyValue (lowerCamelCase keys) to the plain form above. */
export function jsonAnyValue(v: Record<string, unknown> | undefined): PlainAnyValue | undefined {
  if (!v) return undefined;
  if ('stringValue' in v) return { string_value: String(v.stringValue) };
  if ('boolValue' in v) return { bool_value: Boolean(v.boolValue) };
  if ('intValue' in v) return { int_value: String(v.intValue) };
  if ('doubleValue' in v) return { double_value: Number(v.doubleValue) };
  if ('bytesValue' in v) return { bytes_value: Buffer.from(String(v.bytesValue), 'base64') };
  if ('arrayValue' in v) return { array_value: { values: (((v.arrayValue as { values?: unknown[] }).values ?? []) as Record<string, unknown>[]).map((x) => jsonAnyValue(x)!) } };
  if ('kvlistValue' in v) {
    const vals = ((v.kvlistValue as { values?: unknown[] }).values ?? []) as { key: string; value?: Record<string, unknown> }[];
    return { kvlist_value: { values: vals.map((kv) => ({ key: kv.key, value: jsonAnyValue(kv.value) })) } };
  }
  return undefined;
}
