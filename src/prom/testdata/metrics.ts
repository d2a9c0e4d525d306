// Small builders of OTLP metric models for tests and benchmarks.
import type { AnyValue, Exemplar, HistogramDataPoint, KeyValue, Metric, NumberDataPoint, ResourceMetrics, SummaryDataPoint } from '../../pdata/model.js';

export type Attrs = Record<string, string | number | boolean | bigint>;

export function anyValue(v: string | number | boolean | bigint): AnyValue {
  if (typeof v === 'string') return { type: 'string', value: v };
  if (typeof v === 'boolean') return { type: 'bool', value: v };
  if (typeof v === 'bigint') return { type: 'int', value: v };
  return Number.isInteger(v) ? { type: 'int', value: BigInt(v) } : { type: 'double', value: v };
}

export function kvs(a: Attrs = {}): KeyValue[] {
  return Object.entries(a).map(([key, v]) => ({ key, value: anyValue(v) }));
}

/** Nanoseconds for a time in ms. */
export function ns(ms: number): bigint {
  return BigInt(ms) * 1_000_000n;
}

export const T0 = 1_700_000_000_000; // ms

export interface PointSpec {
  attrs?: Attrs;
  value: number | bigint;
  /** ms */
  time?: number;
  /** ms */
  start?: number;
  flags?: number;
  exemplars?: Exemplar[];
}

export function numberPoint(p: PointSpec): NumberDataPoint {
  return {
    attributes: kvs(p.attrs),
    startTimeUnixNano: p.start === undefined ? ns(T0 - 60_000) : ns(p.start),
    timeUnixNano: ns(p.time ?? T0),
    value: p.value,
    exemplars: p.exemplars ?? [],
    flags: p.flags ?? 0,
  };
}

export function gauge(name: string, points: PointSpec[], unit = '', description = `${name} help`): Metric {
  return { name, description, unit, metadata: [], data: { type: 'gauge', dataPoints: points.map(numberPoint) } };
}

export function sum(name: string, points: PointSpec[], o: { monotonic?: boolean; delta?: boolean; unit?: string; description?: string } = {}): Metric {
  return {
    name,
    description: o.description ?? `${name} help`,
    unit: o.unit ?? '',
    metadata: [],
    data: { type: 'sum', aggregationTemporality: o.delta ? 1 : 2, isMonotonic: o.monotonic ?? true, dataPoints: points.map(numberPoint) },
  };
}

export interface HistSpec {
  attrs?: Attrs;
  bounds: number[];
  counts: number[];
  sum?: number;
  time?: number;
  start?: number;
  flags?: number;
  exemplars?: Exemplar[];
}

export function histPoint(p: HistSpec): HistogramDataPoint {
  return {
    attributes: kvs(p.attrs),
    startTimeUnixNano: p.start === undefined ? ns(T0 - 60_000) : ns(p.start),
    timeUnixNano: ns(p.time ?? T0),
    count: p.counts.reduce((a, b) => a + b, 0),
    sum: p.sum,
    bucketCounts: p.counts,
    explicitBounds: p.bounds,
    exemplars: p.exemplars ?? [],
    flags: p.flags ?? 0,
    min: undefined,
    max: undefined,
  };
}

export function histogram(name: string, points: HistSpec[], o: { delta?: boolean; unit?: string; description?: string } = {}): Metric {
  return {
    name,
    description: o.description ?? `${name} help`,
    unit: o.unit ?? '',
    metadata: [],
    data: { type: 'histogram', aggregationTemporality: o.delta ? 1 : 2, dataPoints: points.map(histPoint) },
  };
}

export function summary(name: string, points: { attrs?: Attrs; quantiles: [number, number][]; sum: number; count: number; time?: number }[]): Metric {
  return {
    name,
    description: `${name} help`,
    unit: '',
    metadata: [],
    data: {
      type: 'summary',
      dataPoints: points.map(
        (p): SummaryDataPoint => ({
          attributes: kvs(p.attrs),
          startTimeUnixNano: ns(T0 - 60_000),
          timeUnixNano: ns(p.time ?? T0),
          count: p.count,
          sum: p.sum,
          quantileValues: p.quantiles.map(([quantile, value]) => ({ quantile, value })),
          flags: 0,
        }),
      ),
    },
  };
}

export function exemplar(value: number, timeMs: number, seed = 1): Exemplar {
  const traceId = new Uint8Array(16);
  const spanId = new Uint8Array(8);
  for (let i = 0; i < 16; i++) traceId[i] = (seed * 17 + i) & 0xff;
  for (let i = 0; i < 8; i++) spanId[i] = (seed * 29 + i + 1) & 0xff;
  return { filteredAttributes: [], timeUnixNano: ns(timeMs), value, traceId, spanId };
}

export function resourceMetrics(resource: Attrs, metrics: Metric[], scope = { name: 'test-scope', version: '1.0' }): ResourceMetrics {
  return {
    resource: { attributes: kvs(resource), droppedAttributesCount: 0 },
    scopeMetrics: [{ scope: { ...scope, attributes: [], droppedAttributesCount: 0 }, metrics, schemaUrl: '' }],
    schemaUrl: '',
  };
}
