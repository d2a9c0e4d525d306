import { s, type Infer, type Issues } from '../../config/schema.js';

/** The Collector's default histogram buckets. */
export const DEFAULT_BUCKETS_MS = [2, 4, 6, 8, 10, 50, 100, 200, 400, 800, 1000, 1400, 2000, 5000, 10_000, 15_000];

export const DEFAULT_DIMENSIONS = ['service.name', 'span.name', 'span.kind', 'status.code'] as const;

export const spanMetricsSchema = s.object({
  histogram: s.object({
    disable: s.bool(false),
    /** Unit of the duration histogram. */
    unit: s.enum(['ms', 's'] as const, 'ms'),
    explicit: s
      .object({
        /** Bucket bounds as durations ("2ms", "1s"). */
        buckets: s.array(s.duration()).optional(),
      })
      .optional(),
    /** Exponential histograms are not supported. */
    exponential: s.any(),
  }),
  /** Extra dimensions: span attribute, then resource attribute, then `default` (omitted when none). */
  dimensions: s.array(s.object({ name: s.string(undefined, { nonEmpty: true }), default: s.string().optional() })),
  /** Default dimensions to leave out (service.name, span.name, span.kind, status.code). */
  exclude_dimensions: s.array(s.string()),
  /** Deprecated in the Collector in favour of aggregation_cardinality_limit; accepted and ignored. */
  dimensions_cache_size: s.int(1000, { min: 0 }),
  /** Most series per resource; beyond it spans count into one series with otel.metric.overflow="true". 0 = no limit. */
  aggregation_cardinality_limit: s.int(0, { min: 0 }),
  /** Most resources aggregated at once (least recently used are evicted). */
  resource_metrics_cache_size: s.int(1000, { min: 1 }),
  /** Resource attributes that identify a resource's metrics (default: all of them). */
  resource_metrics_key_attributes: s.array(s.string()),
  aggregation_temporality: s.enum(['AGGREGATION_TEMPORALITY_CUMULATIVE', 'AGGREGATION_TEMPORALITY_DELTA'] as const, 'AGGREGATION_TEMPORALITY_CUMULATIVE'),
  metrics_flush_interval: s.duration('15s'),
  /** Series not updated for this long are no longer emitted; 0 = never expire. */
  metrics_expiration: s.duration('0'),
  exemplars: s.object({
    enabled: s.bool(false),
    /** Most exemplars kept per data point between flushes (the latest ones). */
    max_per_data_point: s.int(5, { min: 1 }),
  }),
  /** Prefix of the metric names: "<namespace>.calls", "<namespace>.duration". */
  namespace: s.string('traces.span.metrics'),
});
export type SpanMetricsConfig = Infer<typeof spanMetricsSchema>;

export function validateSpanMetrics(cfg: SpanMetricsConfig, path: string[], issues: Issues): void {
  if (cfg.histogram.exponential !== undefined && cfg.histogram.exponential !== null) {
    issues.error([...path, 'histogram', 'exponential'], 'exponential histograms are not supported; use histogram::explicit');
  }
  const buckets = cfg.histogram.explicit?.buckets;
  if (buckets) {
    for (let i = 1; i < buckets.length; i++) {
      if (buckets[i]! <= buckets[i - 1]!) {
        issues.error([...path, 'histogram', 'explicit', 'buckets', String(i)], 'buckets must be strictly increasing');
        break;
      }
    }
  }
  const seen = new Set<string>();
  cfg.dimensions.forEach((d, i) => {
    if ((DEFAULT_DIMENSIONS as readonly string[]).includes(d.name) && !cfg.exclude_dimensions.includes(d.name)) {
      issues.error([...path, 'dimensions', String(i), 'name'], `"${d.name}" is a default dimension`);
    } else if (seen.has(d.name)) {
      issues.error([...path, 'dimensions', String(i), 'name'], `duplicate dimension "${d.name}"`);
    }
    seen.add(d.name);
  });
  cfg.exclude_dimensions.forEach((d, i) => {
    if (!(DEFAULT_DIMENSIONS as readonly string[]).includes(d)) {
      issues.error([...path, 'exclude_dimensions', String(i)], `must be one of ${DEFAULT_DIMENSIONS.join(', ')}, got ${JSON.stringify(d)}`);
    }
  });
  if (cfg.metrics_flush_interval <= 0) issues.error([...path, 'metrics_flush_interval'], 'must be greater than 0');
  if (cfg.dimensions_cache_size !== 1000) {
    issues.warn([...path, 'dimensions_cache_size'], 'is deprecated and ignored; use aggregation_cardinality_limit');
  }
}
