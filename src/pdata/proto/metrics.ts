// opentelemetry.proto.metrics.v1 and collector.metrics.v1.ExportMetricsServiceRequest.
import type {
  Exemplar,
  ExponentialBuckets,
  ExponentialHistogramDataPoint,
  HistogramDataPoint,
  KeyValue,
  Metric,
  MetricData,
  NumberDataPoint,
  ResourceMetrics,
  ScopeMetrics,
  SummaryDataPoint,
  ValueAtQuantile,
} from '../model.js';
import {
  encodeIdField,
  encodeKeyValues,
  encodeResourceField,
  encodeScopeField,
  encodeStringField,
  readId,
  readKeyValueInto,
  scanId,
  scanKeyValueField,
} from './common.js';
import { decodeRequest, decodeResourceLevel, scanRequest, type EnvelopeDecoder, type ItemScanner } from './envelope.js';
import { DecodeError, ProtoReader, fieldMask } from './reader.js';
import type { ProtoWriter } from './writer.js';
import { EMPTY_BYTES, releaseWriter, sharedWriter } from './shared.js';

// ---------------------------------------------------------------- encode

/** proto3 omits a double field only when it is +0 (-0 and NaN are written). */
function isDefaultDouble(v: number): boolean {
  return v === 0 && 1 / v > 0;
}

function encodeExemplar(w: ProtoWriter, e: Exemplar): void {
  if (e.timeUnixNano !== 0n) {
    w.uint32(17);
    w.fixed64(e.timeUnixNano);
  }
  if (typeof e.value === 'number') {
    w.uint32(25);
    w.double(e.value);
  }
  encodeIdField(w, 34, e.spanId);
  encodeIdField(w, 42, e.traceId);
  if (typeof e.value === 'bigint') {
    w.uint32(49);
    w.sfixed64(e.value);
  }
  encodeKeyValues(w, 7, e.filteredAttributes);
}

function encodeExemplars(w: ProtoWriter, tag: number, exemplars: readonly Exemplar[]): void {
  for (let i = 0; i < exemplars.length; i++) {
    w.uint32(tag);
    const s = w.fork();
    encodeExemplar(w, exemplars[i]!);
    w.join(s);
  }
}

function encodeTimes(w: ProtoWriter, start: bigint, time: bigint): void {
  if (start !== 0n) {
    w.uint32(17);
    w.fixed64(start);
  }
  if (time !== 0n) {
    w.uint32(25);
    w.fixed64(time);
  }
}

function encodeNumberDataPoint(w: ProtoWriter, p: NumberDataPoint): void {
  encodeTimes(w, p.startTimeUnixNano, p.timeUnixNano);
  if (typeof p.value === 'number') {
    w.uint32(33);
    w.double(p.value);
  }
  encodeExemplars(w, 42, p.exemplars);
  if (typeof p.value === 'bigint') {
    w.uint32(49);
    w.sfixed64(p.value);
  }
  encodeKeyValues(w, 7, p.attributes);
  if (p.flags !== 0) {
    w.uint32(64);
    w.uint32(p.flags >>> 0);
  }
}

function encodeHistogramDataPoint(w: ProtoWriter, p: HistogramDataPoint): void {
  encodeTimes(w, p.startTimeUnixNano, p.timeUnixNano);
  if (p.count !== 0) {
    w.uint32(33);
    w.fixed64Number(p.count);
  }
  if (p.sum !== undefined) {
    w.uint32(41);
    w.double(p.sum);
  }
  const counts = p.bucketCounts;
  if (counts.length !== 0) {
    w.uint32(50);
    w.uint32(counts.length * 8);
    for (let i = 0; i < counts.length; i++) w.fixed64Number(counts[i]!);
  }
  const bounds = p.explicitBounds;
  if (bounds.length !== 0) {
    w.uint32(58);
    w.uint32(bounds.length * 8);
    for (let i = 0; i < bounds.length; i++) w.double(bounds[i]!);
  }
  encodeExemplars(w, 66, p.exemplars);
  encodeKeyValues(w, 9, p.attributes);
  if (p.flags !== 0) {
    w.uint32(80);
    w.uint32(p.flags >>> 0);
  }
  if (p.min !== undefined) {
    w.uint32(89);
    w.double(p.min);
  }
  if (p.max !== undefined) {
    w.uint32(97);
    w.double(p.max);
  }
}

function encodeBuckets(w: ProtoWriter, tag: number, b: ExponentialBuckets): void {
  const counts = b.bucketCounts;
  if (b.offset === 0 && counts.length === 0) return;
  w.uint32(tag);
  const s = w.fork(2);
  if (b.offset !== 0) {
    w.uint32(8);
    w.sint32(b.offset);
  }
  if (counts.length !== 0) {
    w.uint32(18);
    const s2 = w.fork(2);
    for (let i = 0; i < counts.length; i++) w.uint64Number(counts[i]!);
    w.join(s2, 2);
  }
  w.join(s, 2);
}

function encodeExponentialHistogramDataPoint(w: ProtoWriter, p: ExponentialHistogramDataPoint): void {
  encodeKeyValues(w, 1, p.attributes);
  encodeTimes(w, p.startTimeUnixNano, p.timeUnixNano);
  if (p.count !== 0) {
    w.uint32(33);
    w.fixed64Number(p.count);
  }
  if (p.sum !== undefined) {
    w.uint32(41);
    w.double(p.sum);
  }
  if (p.scale !== 0) {
    w.uint32(48);
    w.sint32(p.scale);
  }
  if (p.zeroCount !== 0) {
    w.uint32(57);
    w.fixed64Number(p.zeroCount);
  }
  encodeBuckets(w, 66, p.positive);
  encodeBuckets(w, 74, p.negative);
  if (p.flags !== 0) {
    w.uint32(80);
    w.uint32(p.flags >>> 0);
  }
  encodeExemplars(w, 90, p.exemplars);
  if (p.min !== undefined) {
    w.uint32(97);
    w.double(p.min);
  }
  if (p.max !== undefined) {
    w.uint32(105);
    w.double(p.max);
  }
  if (!isDefaultDouble(p.zeroThreshold)) {
    w.uint32(113);
    w.double(p.zeroThreshold);
  }
}

function encodeSummaryDataPoint(w: ProtoWriter, p: SummaryDataPoint): void {
  encodeTimes(w, p.startTimeUnixNano, p.timeUnixNano);
  if (p.count !== 0) {
    w.uint32(33);
    w.fixed64Number(p.count);
  }
  if (!isDefaultDouble(p.sum)) {
    w.uint32(41);
    w.double(p.sum);
  }
  const qs = p.quantileValues;
  for (let i = 0; i < qs.length; i++) {
    const q = qs[i]!;
    w.uint32(50);
    const s = w.fork();
    if (!isDefaultDouble(q.quantile)) {
      w.uint32(9);
      w.double(q.quantile);
    }
    if (!isDefaultDouble(q.value)) {
      w.uint32(17);
      w.double(q.value);
    }
    w.join(s);
  }
  encodeKeyValues(w, 7, p.attributes);
  if (p.flags !== 0) {
    w.uint32(64);
    w.uint32(p.flags >>> 0);
  }
}

function encodeTemporality(w: ProtoWriter, t: number): void {
  if (t !== 0) {
    w.uint32(16);
    w.int32(t);
  }
}

function encodeMetricData(w: ProtoWriter, d: MetricData): void {
  switch (d.type) {
    case 'gauge': {
      w.uint32(42);
      const s = w.fork(3);
      for (const p of d.dataPoints) {
        w.uint32(10);
        const s2 = w.fork();
        encodeNumberDataPoint(w, p);
        w.join(s2);
      }
      w.join(s, 3);
      return;
    }
    case 'sum': {
      w.uint32(58);
      const s = w.fork(3);
      for (const p of d.dataPoints) {
        w.uint32(10);
        const s2 = w.fork();
        encodeNumberDataPoint(w, p);
        w.join(s2);
      }
      encodeTemporality(w, d.aggregationTemporality);
      if (d.isMonotonic) {
        w.uint32(24);
        w.bool(true);
      }
      w.join(s, 3);
      return;
    }
    case 'histogram': {
      w.uint32(74);
      const s = w.fork(3);
      for (const p of d.dataPoints) {
        w.uint32(10);
        const s2 = w.fork(2);
        encodeHistogramDataPoint(w, p);
        w.join(s2, 2);
      }
      encodeTemporality(w, d.aggregationTemporality);
      w.join(s, 3);
      return;
    }
    case 'exponentialHistogram': {
      w.uint32(82);
      const s = w.fork(3);
      for (const p of d.dataPoints) {
        w.uint32(10);
        const s2 = w.fork(2);
        encodeExponentialHistogramDataPoint(w, p);
        w.join(s2, 2);
      }
      encodeTemporality(w, d.aggregationTemporality);
      w.join(s, 3);
      return;
    }
    case 'summary': {
      w.uint32(90);
      const s = w.fork(3);
      for (const p of d.dataPoints) {
        w.uint32(10);
        const s2 = w.fork(2);
        encodeSummaryDataPoint(w, p);
        w.join(s2, 2);
      }
      w.join(s, 3);
      return;
    }
    default:
      return;
  }
}

/** Writes the fields of a Metric message. */
export function encodeMetric(w: ProtoWriter, m: Metric): void {
  encodeStringField(w, 10, m.name);
  encodeStringField(w, 18, m.description);
  encodeStringField(w, 26, m.unit);
  encodeMetricData(w, m.data);
  encodeKeyValues(w, 12, m.metadata);
}

/** Writes the fields of a ResourceMetrics message. */
export function encodeResourceMetrics(w: ProtoWriter, rm: ResourceMetrics): void {
  encodeResourceField(w, 10, rm.resource);
  const scopes = rm.scopeMetrics;
  for (let i = 0; i < scopes.length; i++) {
    const sm = scopes[i]!;
    w.uint32(18);
    const st = w.fork(3);
    encodeScopeField(w, 10, sm.scope);
    const metrics = sm.metrics;
    for (let j = 0; j < metrics.length; j++) {
      w.uint32(18);
      const s = w.fork(2);
      encodeMetric(w, metrics[j]!);
      w.join(s, 2);
    }
    encodeStringField(w, 26, sm.schemaUrl);
    w.join(st, 3);
  }
  encodeStringField(w, 26, rm.schemaUrl);
}

/** Encodes an ExportMetricsServiceRequest (equivalently, a MetricsData). */
export function encodeMetricsRequest(resources: readonly ResourceMetrics[]): Uint8Array {
  const w = sharedWriter();
  try {
    for (let i = 0; i < resources.length; i++) {
      w.uint32(10);
      const st = w.fork(3);
      encodeResourceMetrics(w, resources[i]!);
      w.join(st, 3);
    }
    return w.finish();
  } finally {
    releaseWriter(w);
  }
}

// ---------------------------------------------------------------- decode

const METRIC_KNOWN = fieldMask(1, 2, 3, 5, 7, 9, 10, 11, 12);
const GAUGE_KNOWN = fieldMask(1);
const SUM_KNOWN = fieldMask(1, 2, 3);
const HISTOGRAM_KNOWN = fieldMask(1, 2);
const NUMBER_DP_KNOWN = fieldMask(2, 3, 4, 5, 6, 7, 8);
const HISTOGRAM_DP_KNOWN = fieldMask(2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12);
const EXP_DP_KNOWN = fieldMask(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14);
const BUCKETS_KNOWN = fieldMask(1, 2);
const SUMMARY_DP_KNOWN = fieldMask(2, 3, 4, 5, 6, 7, 8);
const QUANTILE_KNOWN = fieldMask(1, 2);
const EXEMPLAR_KNOWN = fieldMask(2, 3, 4, 5, 6, 7);

function decodeExemplar(r: ProtoReader, end: number): Exemplar {
  const filteredAttributes: KeyValue[] = [];
  let timeUnixNano = 0n;
  let value: number | bigint = 0;
  let spanId = EMPTY_BYTES;
  let traceId = EMPTY_BYTES;
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 17:
        timeUnixNano = r.fixed64();
        break;
      case 25:
        value = r.double();
        break;
      case 34:
        spanId = readId(r, end, 8);
        break;
      case 42:
        traceId = readId(r, end, 16);
        break;
      case 49:
        value = r.sfixed64();
        break;
      case 58:
        readKeyValueInto(r, end, filteredAttributes);
        break;
      default:
        r.unknown(tag, end, EXEMPLAR_KNOWN);
    }
  }
  r.endMessage(end);
  return { filteredAttributes, timeUnixNano, value, spanId, traceId };
}

function readExemplarInto(r: ProtoReader, end: number, out: Exemplar[]): void {
  const e = r.sub(end);
  out.push(decodeExemplar(r, e));
}

function decodeNumberDataPoint(r: ProtoReader, end: number): NumberDataPoint {
  const attributes: KeyValue[] = [];
  let startTimeUnixNano = 0n;
  let timeUnixNano = 0n;
  let value: number | bigint = 0;
  const exemplars: Exemplar[] = [];
  let flags = 0;
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 17:
        startTimeUnixNano = r.fixed64();
        break;
      case 25:
        timeUnixNano = r.fixed64();
        break;
      case 33:
        value = r.double();
        break;
      case 42:
        readExemplarInto(r, end, exemplars);
        break;
      case 49:
        value = r.sfixed64();
        break;
      case 58:
        readKeyValueInto(r, end, attributes);
        break;
      case 64:
        flags = r.uint32();
        break;
      default:
        r.unknown(tag, end, NUMBER_DP_KNOWN);
    }
  }
  r.endMessage(end);
  return { attributes, startTimeUnixNano, timeUnixNano, value, exemplars, flags };
}

/** Reads a packed repeated fixed64 field as numbers. */
function readPackedFixed64(r: ProtoReader, end: number, out: number[]): void {
  const at = r.pos;
  const n = r.len32(end);
  if ((n & 7) !== 0) throw new DecodeError('packed fixed64 length is not a multiple of 8', at);
  const e = r.pos + n;
  while (r.pos < e) out.push(r.fixed64Number());
}

/** Reads a packed repeated double field. */
function readPackedDouble(r: ProtoReader, end: number, out: number[]): void {
  const at = r.pos;
  const n = r.len32(end);
  if ((n & 7) !== 0) throw new DecodeError('packed double length is not a multiple of 8', at);
  const e = r.pos + n;
  while (r.pos < e) out.push(r.double());
}

/** Reads a packed repeated uint64 varint field as numbers. */
function readPackedVarint(r: ProtoReader, end: number, out: number[]): void {
  const e = r.sub(end);
  while (r.pos < e) out.push(r.uint64Number());
  r.endMessage(e);
}

function decodeHistogramDataPoint(r: ProtoReader, end: number): HistogramDataPoint {
  const attributes: KeyValue[] = [];
  let startTimeUnixNano = 0n;
  let timeUnixNano = 0n;
  let count = 0;
  let sum: number | undefined;
  const bucketCounts: number[] = [];
  const explicitBounds: number[] = [];
  const exemplars: Exemplar[] = [];
  let flags = 0;
  let min: number | undefined;
  let max: number | undefined;
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 17:
        startTimeUnixNano = r.fixed64();
        break;
      case 25:
        timeUnixNano = r.fixed64();
        break;
      case 33:
        count = r.fixed64Number();
        break;
      case 41:
        sum = r.double();
        break;
      case 49:
        bucketCounts.push(r.fixed64Number());
        break;
      case 50:
        readPackedFixed64(r, end, bucketCounts);
        break;
      case 57:
        explicitBounds.push(r.double());
        break;
      case 58:
        readPackedDouble(r, end, explicitBounds);
        break;
      case 66:
        readExemplarInto(r, end, exemplars);
        break;
      case 74:
        readKeyValueInto(r, end, attributes);
        break;
      case 80:
        flags = r.uint32();
        break;
      case 89:
        min = r.double();
        break;
      case 97:
        max = r.double();
        break;
      default:
        r.unknown(tag, end, HISTOGRAM_DP_KNOWN);
    }
  }
  r.endMessage(end);
  return {
    attributes,
    startTimeUnixNano,
    timeUnixNano,
    count,
    sum,
    bucketCounts,
    explicitBounds,
    exemplars,
    flags,
    min,
    max,
  };
}

function decodeBuckets(r: ProtoReader, end: number, into: ExponentialBuckets | undefined): ExponentialBuckets {
  const b: ExponentialBuckets = into ?? { offset: 0, bucketCounts: [] };
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 8) b.offset = r.sint32();
    else if (tag === 18) readPackedVarint(r, end, b.bucketCounts);
    else if (tag === 16) b.bucketCounts.push(r.uint64Number());
    else r.unknown(tag, end, BUCKETS_KNOWN);
  }
  r.endMessage(end);
  return b;
}

function decodeExponentialHistogramDataPoint(r: ProtoReader, end: number): ExponentialHistogramDataPoint {
  const attributes: KeyValue[] = [];
  let startTimeUnixNano = 0n;
  let timeUnixNano = 0n;
  let count = 0;
  let sum: number | undefined;
  let scale = 0;
  let zeroCount = 0;
  let positive: ExponentialBuckets | undefined;
  let negative: ExponentialBuckets | undefined;
  let flags = 0;
  const exemplars: Exemplar[] = [];
  let min: number | undefined;
  let max: number | undefined;
  let zeroThreshold = 0;
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 10:
        readKeyValueInto(r, end, attributes);
        break;
      case 17:
        startTimeUnixNano = r.fixed64();
        break;
      case 25:
        timeUnixNano = r.fixed64();
        break;
      case 33:
        count = r.fixed64Number();
        break;
      case 41:
        sum = r.double();
        break;
      case 48:
        scale = r.sint32();
        break;
      case 57:
        zeroCount = r.fixed64Number();
        break;
      case 66: {
        const e = r.sub(end);
        positive = decodeBuckets(r, e, positive);
        break;
      }
      case 74: {
        const e = r.sub(end);
        negative = decodeBuckets(r, e, negative);
        break;
      }
      case 80:
        flags = r.uint32();
        break;
      case 90:
        readExemplarInto(r, end, exemplars);
        break;
      case 97:
        min = r.double();
        break;
      case 105:
        max = r.double();
        break;
      case 113:
        zeroThreshold = r.double();
        break;
      default:
        r.unknown(tag, end, EXP_DP_KNOWN);
    }
  }
  r.endMessage(end);
  return {
    attributes,
    startTimeUnixNano,
    timeUnixNano,
    count,
    sum,
    scale,
    zeroCount,
    positive: positive ?? { offset: 0, bucketCounts: [] },
    negative: negative ?? { offset: 0, bucketCounts: [] },
    flags,
    exemplars,
    min,
    max,
    zeroThreshold,
  };
}

function decodeValueAtQuantile(r: ProtoReader, end: number): ValueAtQuantile {
  let quantile = 0;
  let value = 0;
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 9) quantile = r.double();
    else if (tag === 17) value = r.double();
    else r.unknown(tag, end, QUANTILE_KNOWN);
  }
  r.endMessage(end);
  return { quantile, value };
}

function decodeSummaryDataPoint(r: ProtoReader, end: number): SummaryDataPoint {
  const attributes: KeyValue[] = [];
  let startTimeUnixNano = 0n;
  let timeUnixNano = 0n;
  let count = 0;
  let sum = 0;
  const quantileValues: ValueAtQuantile[] = [];
  let flags = 0;
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 17:
        startTimeUnixNano = r.fixed64();
        break;
      case 25:
        timeUnixNano = r.fixed64();
        break;
      case 33:
        count = r.fixed64Number();
        break;
      case 41:
        sum = r.double();
        break;
      case 50: {
        const e = r.sub(end);
        quantileValues.push(decodeValueAtQuantile(r, e));
        break;
      }
      case 58:
        readKeyValueInto(r, end, attributes);
        break;
      case 64:
        flags = r.uint32();
        break;
      default:
        r.unknown(tag, end, SUMMARY_DP_KNOWN);
    }
  }
  r.endMessage(end);
  return { attributes, startTimeUnixNano, timeUnixNano, count, sum, quantileValues, flags };
}

// Data point decoders by metric kind, indexed like DP_KIND below.
type DpDecoder = (r: ProtoReader, end: number) => unknown;

/**
 * Decodes Gauge / Sum / Histogram / ExponentialHistogram / Summary bodies:
 * data_points = 1, aggregation_temporality = 2 (not in Gauge and Summary),
 * is_monotonic = 3 (Sum only).
 */
function decodeMetricData(r: ProtoReader, end: number, tag: number): MetricData {
  let decodeDp: DpDecoder;
  let known: number;
  switch (tag) {
    case 42:
      decodeDp = decodeNumberDataPoint;
      known = GAUGE_KNOWN;
      break;
    case 58:
      decodeDp = decodeNumberDataPoint;
      known = SUM_KNOWN;
      break;
    case 74:
      decodeDp = decodeHistogramDataPoint;
      known = HISTOGRAM_KNOWN;
      break;
    case 82:
      decodeDp = decodeExponentialHistogramDataPoint;
      known = HISTOGRAM_KNOWN;
      break;
    default:
      decodeDp = decodeSummaryDataPoint;
      known = GAUGE_KNOWN;
  }
  const dataPoints: unknown[] = [];
  let temporality = 0;
  let monotonic = false;
  while (r.pos < end) {
    const t = r.tag();
    if (t === 10) {
      const e = r.sub(end);
      dataPoints.push(decodeDp(r, e));
    } else if (t === 16 && (known & 4) !== 0) temporality = r.int32();
    else if (t === 24 && (known & 8) !== 0) monotonic = r.bool();
    else r.unknown(t, end, known);
  }
  r.endMessage(end);
  switch (tag) {
    case 42:
      return { type: 'gauge', dataPoints: dataPoints as NumberDataPoint[] };
    case 58:
      return {
        type: 'sum',
        dataPoints: dataPoints as NumberDataPoint[],
        aggregationTemporality: temporality,
        isMonotonic: monotonic,
      };
    case 74:
      return { type: 'histogram', dataPoints: dataPoints as HistogramDataPoint[], aggregationTemporality: temporality };
    case 82:
      return {
        type: 'exponentialHistogram',
        dataPoints: dataPoints as ExponentialHistogramDataPoint[],
        aggregationTemporality: temporality,
      };
    default:
      return { type: 'summary', dataPoints: dataPoints as SummaryDataPoint[] };
  }
}

/** Decodes a Metric message body ending at `end`. */
export function decodeMetric(r: ProtoReader, end: number): Metric {
  let name = '';
  let description = '';
  let unit = '';
  const metadata: KeyValue[] = [];
  let data: MetricData | undefined;
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 10:
        name = r.string(end);
        break;
      case 18:
        description = r.string(end);
        break;
      case 26:
        unit = r.string(end);
        break;
      case 42:
      case 58:
      case 74:
      case 82:
      case 90: {
        // A oneof member replaces any earlier one.
        const e = r.sub(end);
        data = decodeMetricData(r, e, tag);
        break;
      }
      case 98:
        readKeyValueInto(r, end, metadata);
        break;
      default:
        r.unknown(tag, end, METRIC_KNOWN);
    }
  }
  r.endMessage(end);
  return { name, description, unit, metadata, data: data ?? { type: 'empty' } };
}

const DECODER: EnvelopeDecoder<Metric, ScopeMetrics, ResourceMetrics> = {
  item: decodeMetric,
  scope: (scope, metrics, schemaUrl) => ({ scope, metrics, schemaUrl }),
  resource: (resource, scopeMetrics, schemaUrl) => ({ resource, scopeMetrics, schemaUrl }),
};

/** Decodes a ResourceMetrics message body ending at `end`. */
export function decodeResourceMetrics(r: ProtoReader, end: number): ResourceMetrics {
  return decodeResourceLevel(r, end, DECODER);
}

/** Decodes an ExportMetricsServiceRequest (or MetricsData). */
export function decodeMetricsRequest(buf: Uint8Array): ResourceMetrics[] {
  return decodeRequest(buf, DECODER);
}




// ---------------------------------------------------------------- scan

function scanExemplar(r: ProtoReader, end: number): void {
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 17:
      case 25:
      case 49:
        r.fixed64Number();
        break;
      case 34:
        scanId(r, end, 8);
        break;
      case 42:
        scanId(r, end, 16);
        break;
      case 58:
        scanKeyValueField(r, end);
        break;
      default:
        r.unknown(tag, end, EXEMPLAR_KNOWN);
    }
  }
  r.endMessage(end);
}

function scanExemplarField(r: ProtoReader, end: number): void {
  const e = r.sub(end);
  scanExemplar(r, e);
}

function scanNumberDataPoint(r: ProtoReader, end: number): void {
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 17:
      case 25:
      case 33:
      case 49:
        r.fixed64Number();
        break;
      case 42:
        scanExemplarField(r, end);
        break;
      case 58:
        scanKeyValueField(r, end);
        break;
      case 64:
        r.varint64();
        break;
      default:
        r.unknown(tag, end, NUMBER_DP_KNOWN);
    }
  }
  r.endMessage(end);
}

function skipPacked8(r: ProtoReader, end: number): void {
  const at = r.pos;
  const n = r.len32(end);
  if ((n & 7) !== 0) throw new DecodeError('packed fixed64 length is not a multiple of 8', at);
  r.pos += n;
}

function skipPackedVarint(r: ProtoReader, end: number): void {
  const e = r.sub(end);
  while (r.pos < e) r.varint64();
  r.endMessage(e);
}

function scanHistogramDataPoint(r: ProtoReader, end: number): void {
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 17:
      case 25:
      case 33:
      case 41:
      case 49:
      case 57:
      case 89:
      case 97:
        r.fixed64Number();
        break;
      case 50:
      case 58:
        skipPacked8(r, end);
        break;
      case 66:
        scanExemplarField(r, end);
        break;
      case 74:
        scanKeyValueField(r, end);
        break;
      case 80:
        r.varint64();
        break;
      default:
        r.unknown(tag, end, HISTOGRAM_DP_KNOWN);
    }
  }
  r.endMessage(end);
}

function scanBuckets(r: ProtoReader, end: number): void {
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 8 || tag === 16) r.varint64();
    else if (tag === 18) skipPackedVarint(r, end);
    else r.unknown(tag, end, BUCKETS_KNOWN);
  }
  r.endMessage(end);
}

function scanExponentialHistogramDataPoint(r: ProtoReader, end: number): void {
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 10:
        scanKeyValueField(r, end);
        break;
      case 17:
      case 25:
      case 33:
      case 41:
      case 57:
      case 97:
      case 105:
      case 113:
        r.fixed64Number();
        break;
      case 48:
      case 80:
        r.varint64();
        break;
      case 66:
      case 74: {
        const e = r.sub(end);
        scanBuckets(r, e);
        break;
      }
      case 90:
        scanExemplarField(r, end);
        break;
      default:
        r.unknown(tag, end, EXP_DP_KNOWN);
    }
  }
  r.endMessage(end);
}

function scanValueAtQuantile(r: ProtoReader, end: number): void {
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 9 || tag === 17) r.fixed64Number();
    else r.unknown(tag, end, QUANTILE_KNOWN);
  }
  r.endMessage(end);
}

function scanSummaryDataPoint(r: ProtoReader, end: number): void {
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 17:
      case 25:
      case 33:
      case 41:
        r.fixed64Number();
        break;
      case 50: {
        const e = r.sub(end);
        scanValueAtQuantile(r, e);
        break;
      }
      case 58:
        scanKeyValueField(r, end);
        break;
      case 64:
        r.varint64();
        break;
      default:
        r.unknown(tag, end, SUMMARY_DP_KNOWN);
    }
  }
  r.endMessage(end);
}

/** Validates a Gauge / Sum / Histogram / ExponentialHistogram / Summary body; returns its data point count. */
function scanMetricData(r: ProtoReader, end: number, tag: number): number {
  let scanDp: (r: ProtoReader, end: number) => void;
  let known: number;
  switch (tag) {
    case 42:
      scanDp = scanNumberDataPoint;
      known = GAUGE_KNOWN;
      break;
    case 58:
      scanDp = scanNumberDataPoint;
      known = SUM_KNOWN;
      break;
    case 74:
      scanDp = scanHistogramDataPoint;
      known = HISTOGRAM_KNOWN;
      break;
    case 82:
      scanDp = scanExponentialHistogramDataPoint;
      known = HISTOGRAM_KNOWN;
      break;
    default:
      scanDp = scanSummaryDataPoint;
      known = GAUGE_KNOWN;
  }
  let n = 0;
  while (r.pos < end) {
    const t = r.tag();
    if (t === 10) {
      const e = r.sub(end);
      scanDp(r, e);
      n++;
    } else if (t === 16 && (known & 4) !== 0) r.varint64();
    else if (t === 24 && (known & 8) !== 0) r.varint64();
    else r.unknown(t, end, known);
  }
  r.endMessage(end);
  return n;
}

function scanMetric(r: ProtoReader, end: number): number {
  // Only the last data oneof member counts, as in decodeMetric.
  let n = 0;
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 10:
      case 18:
      case 26:
        r.skipLen(end);
        break;
      case 42:
      case 58:
      case 74:
      case 82:
      case 90: {
        const e = r.sub(end);
        n = scanMetricData(r, e, tag);
        break;
      }
      case 98:
        scanKeyValueField(r, end);
        break;
      default:
        r.unknown(tag, end, METRIC_KNOWN);
    }
  }
  r.endMessage(end);
  return n;
}

const scanItem: ItemScanner = scanMetric;

/** Validates an ExportMetricsServiceRequest without decoding it; returns its data point count. */
export function scanMetricsRequest(buf: Uint8Array): number {
  return scanRequest(buf, scanItem);
}




/** Number of data points (of every metric type) in decoded resources. */
export function countDataPoints(resources: readonly ResourceMetrics[]): number {
  let n = 0;
  for (let i = 0; i < resources.length; i++) {
    const scopes = resources[i]!.scopeMetrics;
    for (let j = 0; j < scopes.length; j++) {
      const metrics = scopes[j]!.metrics;
      for (let k = 0; k < metrics.length; k++) {
        const d = metrics[k]!.data;
        if (d.type !== 'empty') n += d.dataPoints.length;
      }
    }
  }
  return n;
}
