import { describe, expect, it } from 'vitest';
import { configIssues, parse } from '../../prom/testdata/host.js';
import { spanMetricsSchema, validateSpanMetrics } from './config.js';

describe('spanmetrics config', () => {
  it('has the Collector defaults', () => {
    const c = parse(spanMetricsSchema, {}, validateSpanMetrics);
    expect(c).toMatchObject({
      histogram: { disable: false, unit: 'ms' },
      dimensions: [],
      exclude_dimensions: [],
      aggregation_cardinality_limit: 0,
      resource_metrics_cache_size: 1000,
      resource_metrics_key_attributes: [],
      aggregation_temporality: 'AGGREGATION_TEMPORALITY_CUMULATIVE',
      metrics_flush_interval: 15_000,
      metrics_expiration: 0,
      exemplars: { enabled: false, max_per_data_point: 5 },
      namespace: 'traces.span.metrics',
    });
  });

  it('parses buckets as durations and dimensions with defaults', () => {
    const c = parse(
      spanMetricsSchema,
      {
        histogram: { unit: 's', explicit: { buckets: ['100us', '1ms', '2s'] } },
        dimensions: [{ name: 'http.method', default: 'GET' }, { name: 'http.status_code' }],
        exclude_dimensions: ['status.code'],
        aggregation_temporality: 'AGGREGATION_TEMPORALITY_DELTA',
        aggregation_cardinality_limit: 100,
        metrics_flush_interval: '5s',
        metrics_expiration: '10m',
        exemplars: { enabled: true },
        namespace: '',
      },
      validateSpanMetrics,
    );
    expect(c.histogram.explicit?.buckets).toEqual([0.1, 1, 2000]);
    expect(c.dimensions).toEqual([{ name: 'http.method', default: 'GET' }, { name: 'http.status_code', default: undefined }]);
  });

  it('warns about the deprecated dimensions_cache_size', () => {
    expect(configIssues(spanMetricsSchema, { dimensions_cache_size: 500 }, validateSpanMetrics)).toEqual([
      'warning: x::dimensions_cache_size: is deprecated and ignored; use aggregation_cardinality_limit',
    ]);
  });

  const invalid: [string, unknown, string][] = [
    ['exponential histogram', { histogram: { exponential: { max_size: 160 } } }, 'x::histogram::exponential: exponential histograms are not supported; use histogram::explicit'],
    ['unsorted buckets', { histogram: { explicit: { buckets: ['10ms', '5ms'] } } }, 'x::histogram::explicit::buckets::1: buckets must be strictly increasing'],
    ['bad bucket', { histogram: { explicit: { buckets: ['fast'] } } }, 'x::histogram::explicit::buckets::0: must be a duration such as "5s", "200ms" or "1m30s", got string "fast"'],
    ['bad unit', { histogram: { unit: 'us' } }, 'x::histogram::unit: must be one of "ms", "s", got "us"'],
    ['default dimension repeated', { dimensions: [{ name: 'span.kind' }] }, 'x::dimensions::0::name: "span.kind" is a default dimension'],
    ['duplicate dimension', { dimensions: [{ name: 'a' }, { name: 'a' }] }, 'x::dimensions::1::name: duplicate dimension "a"'],
    ['empty dimension name', { dimensions: [{ name: '' }] }, 'x::dimensions::0::name: must not be empty'],
    ['bad exclude', { exclude_dimensions: ['http.method'] }, 'x::exclude_dimensions::0: must be one of service.name, span.name, span.kind, status.code, got "http.method"'],
    ['bad temporality', { aggregation_temporality: 'DELTA' }, 'x::aggregation_temporality: must be one of "AGGREGATION_TEMPORALITY_CUMULATIVE", "AGGREGATION_TEMPORALITY_DELTA", got "DELTA"'],
    ['zero flush interval', { metrics_flush_interval: '0s' }, 'x::metrics_flush_interval: must be greater than 0'],
    ['negative limit', { aggregation_cardinality_limit: -1 }, 'x::aggregation_cardinality_limit: must be at least 0, got -1'],
    ['unknown key', { dimension: [] }, 'x::dimension: unknown key "dimension" (did you mean "dimensions"?)'],
  ];
  it.each(invalid)('rejects %s', (_n, raw, message) => {
    expect(configIssues(spanMetricsSchema, raw, validateSpanMetrics)).toContain(message);
  });
});
