// Wire codecs for the OTLP export requests and responses, protobuf and OTLP/JSON.
// All decoders throw DecodeError on malformed input; none of them may hang or
// allocate more than a small multiple of the input size.
import type { PartialSuccess, ResourceLogs, ResourceMetrics, ResourceSpans, Signal } from './model.js';
import * as pb from './proto/index.js';
import * as json from './json/index.js';

export interface SignalCodec<R> {
  /** Decodes an Export<Signal>ServiceRequest. */
  decode(buf: Uint8Array): R[];
  /** Encodes an Export<Signal>ServiceRequest. */
  encode(resources: readonly R[]): Uint8Array;
  /**
   * Walks the wire structure of an Export<Signal>ServiceRequest without building
   * objects: checks every nested message is well formed and returns the item
   * count (spans, metric data points, log records).
   */
  scan(buf: Uint8Array): number;
  /** Counts items of decoded resources. */
  count(resources: readonly R[]): number;
  decodeJson(text: string | Uint8Array): R[];
  encodeJson(resources: readonly R[]): string;
}

export const tracesCodec: SignalCodec<ResourceSpans> = {
  decode: pb.decodeTracesRequest,
  encode: pb.encodeTracesRequest,
  scan: pb.scanTracesRequest,
  count: pb.countSpans,
  decodeJson: json.decodeTracesJson,
  encodeJson: json.encodeTracesJson,
};

export const metricsCodec: SignalCodec<ResourceMetrics> = {
  decode: pb.decodeMetricsRequest,
  encode: pb.encodeMetricsRequest,
  scan: pb.scanMetricsRequest,
  count: pb.countDataPoints,
  decodeJson: json.decodeMetricsJson,
  encodeJson: json.encodeMetricsJson,
};

export const logsCodec: SignalCodec<ResourceLogs> = {
  decode: pb.decodeLogsRequest,
  encode: pb.encodeLogsRequest,
  scan: pb.scanLogsRequest,
  count: pb.countLogRecords,
  decodeJson: json.decodeLogsJson,
  encodeJson: json.encodeLogsJson,
};

export const CODECS = { traces: tracesCodec, metrics: metricsCodec, logs: logsCodec } as const;

/** Export<Signal>ServiceResponse: an empty message, or one carrying partial_success. */
export function encodeExportResponse(partial?: PartialSuccess): Uint8Array {
  return pb.encodeExportResponse(partial);
}
export function decodeExportResponse(buf: Uint8Array): PartialSuccess | undefined {
  return pb.decodeExportResponse(buf);
}
export function encodeExportResponseJson(signal: Signal, partial?: PartialSuccess): string {
  return json.encodeExportResponseJson(signal, partial);
}
export function decodeExportResponseJson(text: string): PartialSuccess | undefined {
  return json.decodeExportResponseJson(text);
}

/** google.rpc.Status { code = 1, message = 2, details = 3 }, the body of OTLP/HTTP errors. */
export function encodeRpcStatus(code: number, message: string): Uint8Array {
  return pb.encodeRpcStatus(code, message);
}
