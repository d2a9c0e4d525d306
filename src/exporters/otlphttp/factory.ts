import type { ExporterFactory } from '../../component/component.js';
import { authRef } from '../../extensions/auth/auth.js';
import { s, isHttpUrl, type Infer } from '../../config/schema.js';
import { tlsClientSchema } from '../../config/tls.js';
import { helperFields, validateHelper } from '../exporterhelper/helper.js';
import { createOtlpHttpExporter } from './exporter.js';

export const otlpHttpExporterSchema = s.object({
  /** Base URL; /v1/traces, /v1/metrics or /v1/logs is appended. */
  endpoint: s.string().optional(),
  traces_endpoint: s.string().optional(),
  metrics_endpoint: s.string().optional(),
  logs_endpoint: s.string().optional(),
  encoding: s.enum(['proto', 'json'] as const, 'proto'),
  compression: s.enum(['gzip', 'none', ''] as const, 'gzip'),
  headers: s.map(s.string()),
  /** Per-batch header carrying the batch's tenant (e.g. X-Scope-OrgID), when the batch has one. */
  tenant_header: s.string().optional(),
  tls: tlsClientSchema,
  // confighttp keys accepted for compatibility; connection pooling is managed by Node's agent.
  read_buffer_size: s.any(),
  write_buffer_size: s.any(),
  max_idle_conns: s.any(),
  max_idle_conns_per_host: s.any(),
  max_conns_per_host: s.any(),
  idle_conn_timeout: s.any(),
  disable_keep_alives: s.bool(false),
  http2_read_idle_timeout: s.any(),
  http2_ping_timeout: s.any(),
  proxy_url: s.any(),
  /** Client credentials from an authenticator extension, e.g. {authenticator: bearertokenauth/out}. */
  auth: authRef(),
  ...helperFields,
  timeout: s.duration('30s'),
});
export type OtlpHttpExporterConfig = Infer<typeof otlpHttpExporterSchema>;

export const otlpHttpExporterFactory: ExporterFactory<OtlpHttpExporterConfig> = {
  kind: 'exporter',
  type: 'otlphttp',
  schema: otlpHttpExporterSchema,
  signals: { traces: 'stable', metrics: 'stable', logs: 'beta' },
  validate(cfg, path, issues) {
    const signals = ['traces', 'metrics', 'logs'] as const;
    if (!cfg.endpoint && !signals.some((sg) => cfg[`${sg}_endpoint`])) {
      issues.error([...path, 'endpoint'], 'is required (or traces_endpoint / metrics_endpoint / logs_endpoint)');
    }
    for (const k of ['endpoint', 'traces_endpoint', 'metrics_endpoint', 'logs_endpoint'] as const) {
      const v = cfg[k];
      if (v && !isHttpUrl(v)) issues.error([...path, k], `must be an http:// or https:// URL, got ${JSON.stringify(v)}`);
    }
    validateHelper(cfg, path, issues);
  },
  create: (settings, cfg, signal) => createOtlpHttpExporter(settings, cfg, signal),
};
