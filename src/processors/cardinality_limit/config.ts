import { s, type Infer, type Issues } from '../../config/schema.js';

export const cardinalityLimitSchema = s.object({
  /** Most series each metric name may have (per group when group_by_attribute is set). */
  max_series_per_metric: s.int(1000, { min: 1 }),
  /**
   * Attribute (resource first, then data point) whose value splits the cap:
   * each tenant gets max_series_per_metric series of every metric.
   */
  group_by_attribute: s.string().optional(),
  /** What happens to points of new series over the cap. */
  action: s.enum(['overflow', 'drop'] as const, 'overflow'),
  /** A series that has not been seen for this long stops counting against the cap. */
  series_expiration: s.duration('5m'),
  /**
   * Bound on the processor's whole state: admitted series, the overflowed
   * series remembered to merge cumulative values exactly, and metric/group
   * pairs. Beyond it, points of new series are dropped and counted.
   */
  max_tracked_series: s.int(1_000_000, { min: 1 }),
});
export type CardinalityLimitConfig = Infer<typeof cardinalityLimitSchema>;

export function validateCardinalityLimit(cfg: CardinalityLimitConfig, path: string[], issues: Issues): void {
  if (cfg.group_by_attribute === '') issues.error([...path, 'group_by_attribute'], 'must not be empty');
  if (cfg.series_expiration <= 0) issues.error([...path, 'series_expiration'], 'must be greater than 0');
  if (cfg.max_tracked_series < cfg.max_series_per_metric) {
    issues.error([...path, 'max_tracked_series'], `must be at least max_series_per_metric (${cfg.max_series_per_metric})`);
  }
}
