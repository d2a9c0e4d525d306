// opentelemetry.proto.logs.v1 and collector.logs.v1.ExportLogsServiceRequest.
import type { AnyValue, KeyValue, LogRecord, ResourceLogs, ScopeLogs } from '../model.js';
import {
  decodeAnyValue,
  encodeAnyValue,
  encodeIdField,
  encodeKeyValues,
  encodeResourceField,
  encodeScopeField,
  encodeStringField,
  readId,
  readKeyValueInto,
  scanAnyValue,
  scanId,
  scanKeyValueField,
} from './common.js';
import { decodeRequest, decodeResourceLevel, scanRequest, type EnvelopeDecoder, type ItemScanner } from './envelope.js';
import { ProtoReader, fieldMask } from './reader.js';
import type { ProtoWriter } from './writer.js';
import { EMPTY_BYTES, releaseWriter, sharedWriter } from './shared.js';

// ---------------------------------------------------------------- encode

/** Writes the fields of a LogRecord message. */
export function encodeLogRecord(w: ProtoWriter, l: LogRecord): void {
  if (l.timeUnixNano !== 0n) {
    w.uint32(9);
    w.fixed64(l.timeUnixNano);
  }
  if (l.severityNumber !== 0) {
    w.uint32(16);
    w.int32(l.severityNumber);
  }
  encodeStringField(w, 26, l.severityText);
  if (l.body.type !== 'empty') {
    w.uint32(42);
    const s = w.fork(2);
    encodeAnyValue(w, l.body, 1);
    w.join(s, 2);
  }
  encodeKeyValues(w, 6, l.attributes);
  if (l.droppedAttributesCount !== 0) {
    w.uint32(56);
    w.uint32(l.droppedAttributesCount >>> 0);
  }
  if (l.flags !== 0) {
    w.uint32(69);
    w.fixed32(l.flags);
  }
  encodeIdField(w, 74, l.traceId);
  encodeIdField(w, 82, l.spanId);
  if (l.observedTimeUnixNano !== 0n) {
    w.uint32(89);
    w.fixed64(l.observedTimeUnixNano);
  }
  encodeStringField(w, 98, l.eventName);
}

/** Writes the fields of a ResourceLogs message. */
export function encodeResourceLogs(w: ProtoWriter, rl: ResourceLogs): void {
  encodeResourceField(w, 10, rl.resource);
  const scopes = rl.scopeLogs;
  for (let i = 0; i < scopes.length; i++) {
    const sl = scopes[i]!;
    w.uint32(18);
    const st = w.fork(3);
    encodeScopeField(w, 10, sl.scope);
    const records = sl.logRecords;
    for (let j = 0; j < records.length; j++) {
      w.uint32(18);
      const s = w.fork(2);
      encodeLogRecord(w, records[j]!);
      w.join(s, 2);
    }
    encodeStringField(w, 26, sl.schemaUrl);
    w.join(st, 3);
  }
  encodeStringField(w, 26, rl.schemaUrl);
}

/** Encodes an ExportLogsServiceRequest (equivalently, a LogsData). */
export function encodeLogsRequest(resources: readonly ResourceLogs[]): Uint8Array {
  const w = sharedWriter();
  try {
    for (let i = 0; i < resources.length; i++) {
      w.uint32(10);
      const st = w.fork(3);
      encodeResourceLogs(w, resources[i]!);
      w.join(st, 3);
    }
    return w.finish();
  } finally {
    releaseWriter(w);
  }
}

// ---------------------------------------------------------------- decode

const LOG_KNOWN = fieldMask(1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12);

/** Decodes a LogRecord message body ending at `end`. */
export function decodeLogRecord(r: ProtoReader, end: number): LogRecord {
  let timeUnixNano = 0n;
  let observedTimeUnixNano = 0n;
  let severityNumber = 0;
  let severityText = '';
  let body: AnyValue | undefined;
  const attributes: KeyValue[] = [];
  let droppedAttributesCount = 0;
  let flags = 0;
  let traceId = EMPTY_BYTES;
  let spanId = EMPTY_BYTES;
  let eventName = '';
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 9:
        timeUnixNano = r.fixed64();
        break;
      case 16:
        severityNumber = r.int32();
        break;
      case 26:
        severityText = r.string(end);
        break;
      case 42: {
        const e = r.sub(end);
        body = decodeAnyValue(r, e, 1, body);
        break;
      }
      case 50:
        readKeyValueInto(r, end, attributes);
        break;
      case 56:
        droppedAttributesCount = r.uint32();
        break;
      case 69:
        flags = r.fixed32();
        break;
      case 74:
        traceId = readId(r, end, 16);
        break;
      case 82:
        spanId = readId(r, end, 8);
        break;
      case 89:
        observedTimeUnixNano = r.fixed64();
        break;
      case 98:
        eventName = r.string(end);
        break;
      default:
        r.unknown(tag, end, LOG_KNOWN);
    }
  }
  r.endMessage(end);
  return {
    timeUnixNano,
    observedTimeUnixNano,
    severityNumber,
    severityText,
    body: body ?? { type: 'empty' },
    attributes,
    droppedAttributesCount,
    flags,
    traceId,
    spanId,
    eventName,
  };
}

const DECODER: EnvelopeDecoder<LogRecord, ScopeLogs, ResourceLogs> = {
  item: decodeLogRecord,
  scope: (scope, logRecords, schemaUrl) => ({ scope, logRecords, schemaUrl }),
  resource: (resource, scopeLogs, schemaUrl) => ({ resource, scopeLogs, schemaUrl }),
};

/** Decodes a ResourceLogs message body ending at `end`. */
export function decodeResourceLogs(r: ProtoReader, end: number): ResourceLogs {
  return decodeResourceLevel(r, end, DECODER);
}

/** Decodes an ExportLogsServiceRequest (or LogsData). */
export function decodeLogsRequest(buf: Uint8Array): ResourceLogs[] {
  return decodeRequest(buf, DECODER);
}




// ---------------------------------------------------------------- scan

function scanLogRecord(r: ProtoReader, end: number): void {
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 9:
      case 89:
        r.fixed64Number();
        break;
      case 16:
      case 56:
        r.varint64();
        break;
      case 26:
      case 98:
        r.skipLen(end);
        break;
      case 42: {
        const e = r.sub(end);
        scanAnyValue(r, e, 1);
        break;
      }
      case 50:
        scanKeyValueField(r, end);
        break;
      case 69:
        r.fixed32();
        break;
      case 74:
        scanId(r, end, 16);
        break;
      case 82:
        scanId(r, end, 8);
        break;
      default:
        r.unknown(tag, end, LOG_KNOWN);
    }
  }
  r.endMessage(end);
}

const scanItem: ItemScanner = (r, end) => {
  scanLogRecord(r, end);
  return 1;
};

/** Validates an ExportLogsServiceRequest without decoding it; returns its logrecord count. */
export function scanLogsRequest(buf: Uint8Array): number {
  return scanRequest(buf, scanItem);
}




/** Number of log records in decoded resources. */
export function countLogRecords(resources: readonly ResourceLogs[]): number {
  let n = 0;
  for (let i = 0; i < resources.length; i++) {
    const scopes = resources[i]!.scopeLogs;
    for (let j = 0; j < scopes.length; j++) n += scopes[j]!.logRecords.length;
  }
  return n;
}
