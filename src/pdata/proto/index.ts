// Hand-written protobuf codec for the OTLP export requests and responses.
// Decoded ids and bytes values are copies: a decoded model never aliases the
// input buffer.
export {
  DecodeError,
  MAX_DEPTH,
  ProtoReader,
  WT_EGROUP,
  WT_I32,
  WT_I64,
  WT_LEN,
  WT_SGROUP,
  WT_VARINT,
  fieldMask,
  setStringCacheLimit,
  utf8Read,
} from './reader.js';
export { ProtoWriter, utf8Length, varintSize32 } from './writer.js';
export {
  decodeAnyValue,
  decodeKeyValue,
  decodeResource,
  decodeScope,
  encodeAnyValue,
  encodeKeyValue,
  encodeKeyValues,
  encodeResource,
  encodeScope,
  readKeyValueInto,
  scanAnyValue,
  scanKeyValue,
} from './common.js';
export {
  countSpans,
  decodeResourceSpans,
  decodeSpan,
  decodeTracesRequest,
  encodeResourceSpans,
  encodeSpan,
  encodeTracesRequest,
  scanTracesRequest,
} from './traces.js';
export {
  countDataPoints,
  decodeMetric,
  decodeMetricsRequest,
  decodeResourceMetrics,
  encodeMetric,
  encodeMetricsRequest,
  encodeResourceMetrics,
  scanMetricsRequest,
} from './metrics.js';
export {
  countLogRecords,
  decodeLogRecord,
  decodeLogsRequest,
  decodeResourceLogs,
  encodeLogRecord,
  encodeLogsRequest,
  encodeResourceLogs,
  scanLogsRequest,
} from './logs.js';
export { decodeExportResponse, decodeRpcStatus, encodeExportResponse, encodeRpcStatus } from './response.js';
