import { Issues, s, isHttpUrl, type Infer } from '../../config/schema.js';
import { tlsClientSchema } from '../../config/tls.js';
import { queueSchema, validateHelper, type HelperConfig, type QueueConfig } from '../exporterhelper/helper.js';
import { METRIC_NAME_RE } from '../../prom/naming.js';

/** Headers the Remote Write protocol fixes; `headers` cannot override them. */
export const RESERVED_HEADERS = ['content-encoding', 'content-type', 'user-agent', 'x-prometheus-remote-write-version'];

export const prwSchema = s.object({
  /** The receiver's write URL, e.g. http://prometheus:9090/api/v1/write. */
  endpoint: s.string(),
  headers: s.map(s.string()),
  tls: tlsClientSchema,
  /** Prefix for every metric name. */
  namespace: s.string(''),
  /** Labels added to every series that does not already have them. */
  external_labels: s.map(s.string()),
  /** Unit and type suffixes (`_seconds`, `_total`, `_ratio`). */
  add_metric_suffixes: s.bool(true),
  resource_to_telemetry_conversion: s.object({ enabled: s.bool(false) }),
  /** One `target_info` series per resource with its non-identifying attributes. */
  target_info: s.object({ enabled: s.bool(true) }),
  /** Requests larger than this are split (the encoded, uncompressed WriteRequest). */
  max_batch_size_bytes: s.size(3_000_000),
  /**
   * Series remembered for per-series ordering, delta → cumulative conversion and
   * staleness. Beyond it, new series are sent without that state.
   */
  max_tracked_series: s.int(500_000, { min: 1 }),
  /** Staleness markers for series that stop reporting. */
  staleness: s.object({
    enabled: s.bool(true),
    /** A series is stale after this many of its own reporting intervals without a sample. */
    missed_intervals: s.int(3, { min: 1 }),
    /** ... and at the latest after this long (also used while the interval is unknown). */
    max_age: s.duration('5m'),
    /** Floor of a series' reporting interval (the median of its recent gaps). */
    min_interval: s.duration('10s'),
  }),
  /** The Collector's queue block; mapped onto sending_queue. */
  remote_write_queue: s
    .object({
      enabled: s.bool(true),
      queue_size: s.int(10_000, { min: 1 }),
      num_consumers: s.int(5, { min: 1 }),
    })
    .optional(),
  /** The Collector's write-ahead log: not supported (use sending_queue::storage). */
  wal: s.any(),
  timeout: s.duration('5s'),
  // Remote Write receivers expect fast retries: Prometheus's own sender backs off from 30ms to 5s.
  retry_on_failure: s.object({
    enabled: s.bool(true),
    initial_interval: s.duration('50ms'),
    randomization_factor: s.number(0.5, { min: 0, max: 1 }),
    multiplier: s.number(1.5, { min: 1 }),
    max_interval: s.duration('5s'),
    max_elapsed_time: s.duration('5m'),
  }),
  sending_queue: queueSchema.optional(),
});
export type PrwConfig = Infer<typeof prwSchema>;

/** The queue the exporter runs: sending_queue, else remote_write_queue, else the defaults. */
export function resolveQueue(cfg: PrwConfig): QueueConfig {
  if (cfg.sending_queue) return cfg.sending_queue;
  const q = queueSchema.parse({}, [], new Issues());
  q.num_consumers = 5;
  q.queue_size = 10_000;
  if (cfg.remote_write_queue) {
    q.enabled = cfg.remote_write_queue.enabled;
    q.queue_size = cfg.remote_write_queue.queue_size;
    q.num_consumers = cfg.remote_write_queue.num_consumers;
  }
  return q;
}

export function helperConfig(cfg: PrwConfig): HelperConfig {
  return { timeout: cfg.timeout, retry_on_failure: cfg.retry_on_failure, sending_queue: resolveQueue(cfg) };
}

export function validatePrw(cfg: PrwConfig, path: string[], issues: Issues): void {
  if (cfg.endpoint !== '' && !isHttpUrl(cfg.endpoint)) {
    issues.error([...path, 'endpoint'], `must be an http:// or https:// URL, got ${JSON.stringify(cfg.endpoint)}`);
  }
  if (cfg.namespace !== '' && !METRIC_NAME_RE.test(cfg.namespace)) {
    issues.error([...path, 'namespace'], `must match [a-zA-Z_:][a-zA-Z0-9_:]*, got ${JSON.stringify(cfg.namespace)}`);
  }
  for (const [k, v] of Object.entries(cfg.external_labels)) {
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(k)) issues.error([...path, 'external_labels', k], 'is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)');
    else if (k.startsWith('__')) issues.error([...path, 'external_labels', k], 'label names starting with "__" are reserved');
    else if (v === '') issues.error([...path, 'external_labels', k], 'must not be empty');
  }
  for (const k of Object.keys(cfg.headers)) {
    if (RESERVED_HEADERS.includes(k.toLowerCase())) {
      issues.warn([...path, 'headers', k], 'is set by the Remote Write protocol and cannot be overridden; ignored');
    }
  }
  if (cfg.wal !== undefined && cfg.wal !== null) {
    issues.error([...path, 'wal'], 'is not supported; use sending_queue::storage with a file_storage extension for a persistent queue');
  }
  if (cfg.sending_queue && cfg.remote_write_queue) {
    issues.error([...path, 'remote_write_queue'], 'cannot be combined with sending_queue; use one of them');
  }
  if (cfg.max_batch_size_bytes < 1024) {
    issues.error([...path, 'max_batch_size_bytes'], `must be at least 1024, got ${cfg.max_batch_size_bytes}`);
  }
  if (cfg.staleness.max_age <= 0) issues.error([...path, 'staleness', 'max_age'], 'must be greater than 0');
  if (cfg.staleness.min_interval > cfg.staleness.max_age) {
    issues.error([...path, 'staleness', 'min_interval'], 'must not be greater than max_age');
  }
  validateHelper(helperConfig(cfg), path, issues);
}
