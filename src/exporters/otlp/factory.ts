import type { ExporterFactory } from '../../component/component.js';
import { authRef } from '../../extensions/auth/auth.js';
import { s, type Infer } from '../../config/schema.js';
import { tlsClientSchema } from '../../config/tls.js';
import { helperFields, validateHelper } from '../exporterhelper/helper.js';
import { createOtlpGrpcExporter } from './exporter.js';

export const otlpExporterSchema = s.object({
  /** host:port, or a URL whose scheme says whether TLS is used (http:// = plaintext). */
  endpoint: s.string(),
  tls: tlsClientSchema,
  headers: s.map(s.string()),
  /** Per-batch header carrying the batch's tenant (e.g. X-Scope-OrgID), when the batch has one. */
  tenant_header: s.string().optional(),
  compression: s.enum(['gzip', 'none', ''] as const, 'gzip'),
  balancer_name: s.string('pick_first'),
  authority: s.string().optional(),
  keepalive: s.any(),
  read_buffer_size: s.any(),
  write_buffer_size: s.any(),
  wait_for_ready: s.bool(false),
  /** Client credentials from an authenticator extension, e.g. {authenticator: bearertokenauth/out}. */
  auth: authRef(),
  ...helperFields,
});
export type OtlpExporterConfig = Infer<typeof otlpExporterSchema>;

/** host:port from an endpoint that may carry a scheme; `secure` says whether TLS applies. */
export function parseGrpcEndpoint(endpoint: string, insecure: boolean): { target: string; secure: boolean } | undefined {
  const m = /^(?:(https?|dns|unix):\/\/\/?)?(.+)$/.exec(endpoint.trim());
  if (!m) return undefined;
  const scheme = m[1];
  let target = m[2]!.replace(/\/$/, '');
  if (scheme === 'unix') return { target: `unix:${target}`, secure: false };
  if (!/:\d+$/.test(target)) target += scheme === 'http' ? ':80' : ':443';
  if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):\d{1,5}$/.test(target)) return undefined;
  const secure = scheme === 'https' ? true : scheme === 'http' ? false : !insecure;
  return { target, secure };
}

export const otlpExporterFactory: ExporterFactory<OtlpExporterConfig> = {
  kind: 'exporter',
  type: 'otlp',
  schema: otlpExporterSchema,
  signals: { traces: 'stable', metrics: 'stable', logs: 'beta' },
  validate(cfg, path, issues) {
    if (!cfg.endpoint) issues.error([...path, 'endpoint'], 'is required');
    else if (!parseGrpcEndpoint(cfg.endpoint, cfg.tls.insecure)) issues.error([...path, 'endpoint'], `must be host:port, got ${JSON.stringify(cfg.endpoint)}`);
    validateHelper(cfg, path, issues);
  },
  create: (settings, cfg, signal) => createOtlpGrpcExporter(settings, cfg, signal),
};
