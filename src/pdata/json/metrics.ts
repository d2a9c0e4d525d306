// OTLP/JSON for metrics: ExportMetricsServiceRequest / MetricsData.
import type {
  Exemplar,
  ExponentialBuckets,
  ExponentialHistogramDataPoint,
  HistogramDataPoint,
  Metric,
  MetricData,
  NumberDataPoint,
  ResourceMetrics,
  ScopeMetrics,
  SummaryDataPoint,
} from '../model.js';
import {
  type JsonObject,
  type JsonValue,
  DecodeError,
  asArray,
  asObject,
  boolFromJson,
  doubleFromJson,
  doubleToJson,
  enumFromJson,
  field,
  idFromJson,
  int32FromJson,
  int64BigFromJson,
  isDefaultDouble,
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
  uint64NumberFromJson,
} from './common.js';

export const AGGREGATION_TEMPORALITY_NAMES = [
  'AGGREGATION_TEMPORALITY_UNSPECIFIED',
  'AGGREGATION_TEMPORALITY_DELTA',
  'AGGREGATION_TEMPORALITY_CUMULATIVE',
] as const;

// ---------------------------------------------------------------- encode

function putCount(o: JsonObject, key: string, n: number): void {
  if (n !== 0) o[key] = String(n);
}

function putDouble(o: JsonObject, key: string, v: number | undefined): void {
  if (v !== undefined) o[key] = doubleToJson(v);
}

function putValue(o: JsonObject, v: number | bigint): void {
  if (typeof v === 'bigint') o.asInt = v.toString();
  else o.asDouble = doubleToJson(v);
}

function exemplarToJson(e: Exemplar): JsonObject {
  const o: JsonObject = {};
  putAttributes(o, 'filteredAttributes', e.filteredAttributes);
  putU64(o, 'timeUnixNano', e.timeUnixNano);
  putValue(o, e.value);
  putId(o, 'spanId', e.spanId);
  putId(o, 'traceId', e.traceId);
  return o;
}

function putExemplars(o: JsonObject, exemplars: readonly Exemplar[]): void {
  if (exemplars.length !== 0) o.exemplars = exemplars.map(exemplarToJson);
}

function numberDataPointToJson(p: NumberDataPoint): JsonObject {
  const o: JsonObject = {};
  putAttributes(o, 'attributes', p.attributes);
  putU64(o, 'startTimeUnixNano', p.startTimeUnixNano);
  putU64(o, 'timeUnixNano', p.timeUnixNano);
  putValue(o, p.value);
  putExemplars(o, p.exemplars);
  putNumber(o, 'flags', p.flags);
  return o;
}

function histogramDataPointToJson(p: HistogramDataPoint): JsonObject {
  const o: JsonObject = {};
  putAttributes(o, 'attributes', p.attributes);
  putU64(o, 'startTimeUnixNano', p.startTimeUnixNano);
  putU64(o, 'timeUnixNano', p.timeUnixNano);
  putCount(o, 'count', p.count);
  putDouble(o, 'sum', p.sum);
  if (p.bucketCounts.length !== 0) o.bucketCounts = p.bucketCounts.map((n) => String(n));
  if (p.explicitBounds.length !== 0) o.explicitBounds = p.explicitBounds.map(doubleToJson);
  putExemplars(o, p.exemplars);
  putNumber(o, 'flags', p.flags);
  putDouble(o, 'min', p.min);
  putDouble(o, 'max', p.max);
  return o;
}

function bucketsToJson(b: ExponentialBuckets): JsonObject {
  const o: JsonObject = {};
  putNumber(o, 'offset', b.offset);
  if (b.bucketCounts.length !== 0) o.bucketCounts = b.bucketCounts.map((n) => String(n));
  return o;
}

function exponentialHistogramDataPointToJson(p: ExponentialHistogramDataPoint): JsonObject {
  const o: JsonObject = {};
  putAttributes(o, 'attributes', p.attributes);
  putU64(o, 'startTimeUnixNano', p.startTimeUnixNano);
  putU64(o, 'timeUnixNano', p.timeUnixNano);
  putCount(o, 'count', p.count);
  putDouble(o, 'sum', p.sum);
  putNumber(o, 'scale', p.scale);
  putCount(o, 'zeroCount', p.zeroCount);
  if (p.positive.offset !== 0 || p.positive.bucketCounts.length !== 0) o.positive = bucketsToJson(p.positive);
  if (p.negative.offset !== 0 || p.negative.bucketCounts.length !== 0) o.negative = bucketsToJson(p.negative);
  putNumber(o, 'flags', p.flags);
  putExemplars(o, p.exemplars);
  putDouble(o, 'min', p.min);
  putDouble(o, 'max', p.max);
  if (!isDefaultDouble(p.zeroThreshold)) o.zeroThreshold = doubleToJson(p.zeroThreshold);
  return o;
}

function summaryDataPointToJson(p: SummaryDataPoint): JsonObject {
  const o: JsonObject = {};
  putAttributes(o, 'attributes', p.attributes);
  putU64(o, 'startTimeUnixNano', p.startTimeUnixNano);
  putU64(o, 'timeUnixNano', p.timeUnixNano);
  putCount(o, 'count', p.count);
  if (!isDefaultDouble(p.sum)) o.sum = doubleToJson(p.sum);
  if (p.quantileValues.length !== 0) {
    o.quantileValues = p.quantileValues.map((q) => {
      const qo: JsonObject = {};
      if (!isDefaultDouble(q.quantile)) qo.quantile = doubleToJson(q.quantile);
      if (!isDefaultDouble(q.value)) qo.value = doubleToJson(q.value);
      return qo;
    });
  }
  putNumber(o, 'flags', p.flags);
  return o;
}

function dataPoints<T>(o: JsonObject, points: readonly T[], fn: (p: T) => JsonObject): JsonObject {
  if (points.length !== 0) o.dataPoints = points.map(fn);
  return o;
}

export function metricToJson(m: Metric): JsonObject {
  const o: JsonObject = {};
  putString(o, 'name', m.name);
  putString(o, 'description', m.description);
  putString(o, 'unit', m.unit);
  const d = m.data;
  switch (d.type) {
    case 'gauge':
      o.gauge = dataPoints({}, d.dataPoints, numberDataPointToJson);
      break;
    case 'sum': {
      const s = dataPoints({}, d.dataPoints, numberDataPointToJson);
      putNumber(s, 'aggregationTemporality', d.aggregationTemporality);
      if (d.isMonotonic) s.isMonotonic = true;
      o.sum = s;
      break;
    }
    case 'histogram': {
      const h = dataPoints({}, d.dataPoints, histogramDataPointToJson);
      putNumber(h, 'aggregationTemporality', d.aggregationTemporality);
      o.histogram = h;
      break;
    }
    case 'exponentialHistogram': {
      const h = dataPoints({}, d.dataPoints, exponentialHistogramDataPointToJson);
      putNumber(h, 'aggregationTemporality', d.aggregationTemporality);
      o.exponentialHistogram = h;
      break;
    }
    case 'summary':
      o.summary = dataPoints({}, d.dataPoints, summaryDataPointToJson);
      break;
    default:
      break;
  }
  putAttributes(o, 'metadata', m.metadata);
  return o;
}

/** One ResourceMetrics as an OTLP/JSON value. */
export function resourceMetricsToJson(rm: ResourceMetrics): JsonObject {
  const o: JsonObject = {};
  putResource(o, rm.resource);
  if (rm.scopeMetrics.length !== 0) {
    o.scopeMetrics = rm.scopeMetrics.map((sm) => {
      const so: JsonObject = {};
      putScope(so, sm.scope);
      if (sm.metrics.length !== 0) so.metrics = sm.metrics.map(metricToJson);
      putString(so, 'schemaUrl', sm.schemaUrl);
      return so;
    });
  }
  putString(o, 'schemaUrl', rm.schemaUrl);
  return o;
}

/** An ExportMetricsServiceRequest as OTLP/JSON text (one line). */
export function encodeMetricsJson(resources: readonly ResourceMetrics[]): string {
  if (resources.length === 0) return '{}';
  return JSON.stringify({ resourceMetrics: resources.map(resourceMetricsToJson) } satisfies JsonValue);
}

// ---------------------------------------------------------------- decode

function valueFromJson(o: Record<string, unknown>): number | bigint {
  const d = field(o, 'asDouble', 'as_double');
  const i = field(o, 'asInt', 'as_int');
  if (d !== undefined && i !== undefined) throw new DecodeError('asDouble and asInt are both set');
  if (i !== undefined) return int64BigFromJson(i, 'asInt');
  return doubleFromJson(d, 'asDouble');
}

function optionalDouble(v: unknown, name: string): number | undefined {
  return v === undefined ? undefined : doubleFromJson(v, name);
}

function exemplarFromJson(v: unknown): Exemplar {
  const o = asObject(v, 'exemplar');
  return {
    filteredAttributes: keyValuesFromJson(field(o, 'filteredAttributes', 'filtered_attributes'), 'filteredAttributes'),
    timeUnixNano: uint64BigFromJson(field(o, 'timeUnixNano', 'time_unix_nano'), 'timeUnixNano'),
    value: valueFromJson(o),
    spanId: idFromJson(field(o, 'spanId', 'span_id'), 8, 'exemplar.spanId'),
    traceId: idFromJson(field(o, 'traceId', 'trace_id'), 16, 'exemplar.traceId'),
  };
}

function exemplarsFromJson(o: Record<string, unknown>): Exemplar[] {
  return asArray(field(o, 'exemplars'), 'exemplars').map(exemplarFromJson);
}

function times(o: Record<string, unknown>): { startTimeUnixNano: bigint; timeUnixNano: bigint } {
  return {
    startTimeUnixNano: uint64BigFromJson(field(o, 'startTimeUnixNano', 'start_time_unix_nano'), 'startTimeUnixNano'),
    timeUnixNano: uint64BigFromJson(field(o, 'timeUnixNano', 'time_unix_nano'), 'timeUnixNano'),
  };
}

function numberDataPointFromJson(v: unknown): NumberDataPoint {
  const o = asObject(v, 'dataPoint');
  const t = times(o);
  return {
    attributes: keyValuesFromJson(field(o, 'attributes')),
    startTimeUnixNano: t.startTimeUnixNano,
    timeUnixNano: t.timeUnixNano,
    value: valueFromJson(o),
    exemplars: exemplarsFromJson(o),
    flags: uint32FromJson(field(o, 'flags'), 'flags'),
  };
}

function countsFromJson(v: unknown, name: string): number[] {
  return asArray(v, name).map((x) => uint64NumberFromJson(x === null ? undefined : x, name));
}

function histogramDataPointFromJson(v: unknown): HistogramDataPoint {
  const o = asObject(v, 'dataPoint');
  const t = times(o);
  return {
    attributes: keyValuesFromJson(field(o, 'attributes')),
    startTimeUnixNano: t.startTimeUnixNano,
    timeUnixNano: t.timeUnixNano,
    count: uint64NumberFromJson(field(o, 'count'), 'count'),
    sum: optionalDouble(field(o, 'sum'), 'sum'),
    bucketCounts: countsFromJson(field(o, 'bucketCounts', 'bucket_counts'), 'bucketCounts'),
    explicitBounds: asArray(field(o, 'explicitBounds', 'explicit_bounds'), 'explicitBounds').map((x) =>
      doubleFromJson(x === null ? undefined : x, 'explicitBounds'),
    ),
    exemplars: exemplarsFromJson(o),
    flags: uint32FromJson(field(o, 'flags'), 'flags'),
    min: optionalDouble(field(o, 'min'), 'min'),
    max: optionalDouble(field(o, 'max'), 'max'),
  };
}

function bucketsFromJson(v: unknown, name: string): ExponentialBuckets {
  if (v === undefined) return { offset: 0, bucketCounts: [] };
  const o = asObject(v, name);
  return {
    offset: int32FromJson(field(o, 'offset'), `${name}.offset`),
    bucketCounts: countsFromJson(field(o, 'bucketCounts', 'bucket_counts'), `${name}.bucketCounts`),
  };
}

function exponentialHistogramDataPointFromJson(v: unknown): ExponentialHistogramDataPoint {
  const o = asObject(v, 'dataPoint');
  const t = times(o);
  return {
    attributes: keyValuesFromJson(field(o, 'attributes')),
    startTimeUnixNano: t.startTimeUnixNano,
    timeUnixNano: t.timeUnixNano,
    count: uint64NumberFromJson(field(o, 'count'), 'count'),
    sum: optionalDouble(field(o, 'sum'), 'sum'),
    scale: int32FromJson(field(o, 'scale'), 'scale'),
    zeroCount: uint64NumberFromJson(field(o, 'zeroCount', 'zero_count'), 'zeroCount'),
    positive: bucketsFromJson(field(o, 'positive'), 'positive'),
    negative: bucketsFromJson(field(o, 'negative'), 'negative'),
    flags: uint32FromJson(field(o, 'flags'), 'flags'),
    exemplars: exemplarsFromJson(o),
    min: optionalDouble(field(o, 'min'), 'min'),
    max: optionalDouble(field(o, 'max'), 'max'),
    zeroThreshold: doubleFromJson(field(o, 'zeroThreshold', 'zero_threshold'), 'zeroThreshold'),
  };
}

function summaryDataPointFromJson(v: unknown): SummaryDataPoint {
  const o = asObject(v, 'dataPoint');
  const t = times(o);
  return {
    attributes: keyValuesFromJson(field(o, 'attributes')),
    startTimeUnixNano: t.startTimeUnixNano,
    timeUnixNano: t.timeUnixNano,
    count: uint64NumberFromJson(field(o, 'count'), 'count'),
    sum: doubleFromJson(field(o, 'sum'), 'sum'),
    quantileValues: asArray(field(o, 'quantileValues', 'quantile_values'), 'quantileValues').map((x) => {
      const q = asObject(x, 'quantileValue');
      return {
        quantile: doubleFromJson(field(q, 'quantile'), 'quantile'),
        value: doubleFromJson(field(q, 'value'), 'value'),
      };
    }),
    flags: uint32FromJson(field(o, 'flags'), 'flags'),
  };
}

const DATA_KEYS: readonly (readonly [string, string])[] = [
  ['gauge', 'gauge'],
  ['sum', 'sum'],
  ['histogram', 'histogram'],
  ['exponentialHistogram', 'exponential_histogram'],
  ['summary', 'summary'],
];

function temporality(o: Record<string, unknown>): number {
  return enumFromJson(
    field(o, 'aggregationTemporality', 'aggregation_temporality'),
    AGGREGATION_TEMPORALITY_NAMES,
    'aggregationTemporality',
  );
}

function metricDataFromJson(o: Record<string, unknown>): MetricData {
  let found = -1;
  let value: unknown;
  for (let i = 0; i < DATA_KEYS.length; i++) {
    const x = field(o, DATA_KEYS[i]![0], DATA_KEYS[i]![1]);
    if (x === undefined) continue;
    if (found >= 0) throw new DecodeError('metric: more than one data type set');
    found = i;
    value = x;
  }
  if (found < 0) return { type: 'empty' };
  const d = asObject(value, DATA_KEYS[found]![0]);
  const points = asArray(field(d, 'dataPoints', 'data_points'), 'dataPoints');
  switch (found) {
    case 0:
      return { type: 'gauge', dataPoints: points.map(numberDataPointFromJson) };
    case 1:
      return {
        type: 'sum',
        dataPoints: points.map(numberDataPointFromJson),
        aggregationTemporality: temporality(d),
        isMonotonic: boolFromJson(field(d, 'isMonotonic', 'is_monotonic'), 'isMonotonic'),
      };
    case 2:
      return { type: 'histogram', dataPoints: points.map(histogramDataPointFromJson), aggregationTemporality: temporality(d) };
    case 3:
      return {
        type: 'exponentialHistogram',
        dataPoints: points.map(exponentialHistogramDataPointFromJson),
        aggregationTemporality: temporality(d),
      };
    default:
      return { type: 'summary', dataPoints: points.map(summaryDataPointFromJson) };
  }
}

export function metricFromJson(v: unknown): Metric {
  const o = asObject(v, 'metric');
  return {
    name: strFromJson(field(o, 'name'), 'name'),
    description: strFromJson(field(o, 'description'), 'description'),
    unit: strFromJson(field(o, 'unit'), 'unit'),
    metadata: keyValuesFromJson(field(o, 'metadata'), 'metadata'),
    data: metricDataFromJson(o),
  };
}

function scopeMetricsFromJson(v: unknown): ScopeMetrics {
  const o = asObject(v, 'scopeMetrics');
  return {
    scope: scopeFromJson(field(o, 'scope')),
    metrics: asArray(field(o, 'metrics'), 'metrics').map(metricFromJson),
    schemaUrl: strFromJson(field(o, 'schemaUrl', 'schema_url'), 'schemaUrl'),
  };
}

/** One ResourceMetrics from its OTLP/JSON value. */
export function resourceMetricsFromJson(v: unknown): ResourceMetrics {
  const o = asObject(v, 'resourceMetrics');
  return {
    resource: resourceFromJson(field(o, 'resource')),
    scopeMetrics: asArray(field(o, 'scopeMetrics', 'scope_metrics'), 'scopeMetrics').map(scopeMetricsFromJson),
    schemaUrl: strFromJson(field(o, 'schemaUrl', 'schema_url'), 'schemaUrl'),
  };
}

/** Decodes an OTLP/JSON ExportMetricsServiceRequest. */
export function decodeMetricsJson(text: string | Uint8Array): ResourceMetrics[] {
  const o = asObject(parseJson(text), 'request');
  return asArray(field(o, 'resourceMetrics', 'resource_metrics'), 'resourceMetrics').map(resourceMetricsFromJson);
}
