import { s, type Infer, type Issues } from '../../config/schema.js';
import { tlsServerSchema } from '../../config/tls.js';
import { METRIC_NAME_RE } from '../../prom/naming.js';

export const prometheusExporterSchema = s.object({
  /** host:port to serve /metrics on. */
  endpoint: s.endpoint(),
  /** TLS for the scrape endpoint (off unless set). */
  tls: tlsServerSchema.optional(),
  /** Prefix for every metric name. */
  namespace: s.string(''),
  /** Labels added to every series that does not already have them. */
  const_labels: s.map(s.string()),
  /** Expose each sample's own timestamp. */
  send_timestamps: s.bool(false),
  /** Series not updated for this long are removed (checked on a timer, not on scrape). */
  metric_expiration: s.duration('5m'),
  resource_to_telemetry_conversion: s.object({ enabled: s.bool(false) }),
  /** Serve OpenMetrics 1.0 (with exemplars) to scrapers that ask for it. */
  enable_open_metrics: s.bool(false),
  /** Unit and type suffixes (`_seconds`, `_total`, `_ratio`). */
  add_metric_suffixes: s.bool(true),
  /** Leave out the otel_scope_name / otel_scope_version labels. */
  without_scope_info: s.bool(false),
  /** Most series held at once; new series beyond it are dropped and counted. */
  max_series: s.int(100_000, { min: 1 }),
  /** Scrapers must authenticate: a static bearer token, or an authenticator extension (bearertokenauth, basicauth, oidc). */
  auth: s
    .object({
      bearer_token: s.string().optional(),
      authenticator: s.string().optional(),
    })
    .optional(),
});
export type PrometheusExporterConfig = Infer<typeof prometheusExporterSchema>;

export function validatePrometheusExporter(cfg: PrometheusExporterConfig, path: string[], issues: Issues): void {
  if (cfg.namespace !== '' && !METRIC_NAME_RE.test(cfg.namespace)) {
    issues.error([...path, 'namespace'], `must match [a-zA-Z_:][a-zA-Z0-9_:]*, got ${JSON.stringify(cfg.namespace)}`);
  }
  for (const [k, v] of Object.entries(cfg.const_labels)) {
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(k)) issues.error([...path, 'const_labels', k], 'is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)');
    else if (k.startsWith('__')) issues.error([...path, 'const_labels', k], 'label names starting with "__" are reserved');
    else if (v === '') issues.error([...path, 'const_labels', k], 'must not be empty');
  }
  if (cfg.metric_expiration <= 0) issues.error([...path, 'metric_expiration'], 'must be greater than 0');
  if (cfg.auth && cfg.auth.bearer_token === '') issues.error([...path, 'auth', 'bearer_token'], 'must not be empty');
  if (cfg.auth && (cfg.auth.bearer_token === undefined) === (cfg.auth.authenticator === undefined)) issues.error([...path, 'auth'], 'set exactly one of bearer_token or authenticator');
  if (cfg.tls && !(cfg.tls.cert_file || cfg.tls.cert_pem)) issues.error([...path, 'tls', 'cert_file'], 'is required when tls is set');
  if (cfg.tls && !(cfg.tls.key_file || cfg.tls.key_pem)) issues.error([...path, 'tls', 'key_file'], 'is required when tls is set');
}
