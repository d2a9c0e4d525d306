import { s, type Infer, type Issues } from '../../config/schema.js';
import { tlsClientSchema } from '../../config/tls.js';
import { helperFields, validateHelper } from '../exporterhelper/helper.js';
import { tenantSchema, validateTenantConfig } from './tenant.js';
import { sanitizeName } from './values.js';

/** Loki accepts at most 15 labels per stream (`max_label_names_per_series`). */
export const MAX_LABELS = 15;

export const DEFAULT_RESOURCE_LABELS = ['service.name', 'service.namespace', 'deployment.environment'];

/** The label of the stream that takes entries beyond `max_streams`. */
export const OVERFLOW_LABEL = 'sieve_overflow';

export const lokiSchema = s.object({
  /** The full push URL, e.g. http://loki:3100/loki/api/v1/push. */
  endpoint: s.url(),
  headers: s.map(s.string()),
  tls: tlsClientSchema,
  /** protobuf: snappy-compressed PushRequest (what Loki's clients send); json: the v1 JSON body. */
  encoding: s.enum(['protobuf', 'json'] as const, 'protobuf'),
  /** Where X-Scope-OrgID comes from. */
  tenant: tenantSchema,
  labels: s.object({
    /** Resource attributes that become labels (dots become underscores). */
    resource: s.array(s.string('', { nonEmpty: true })).default([...DEFAULT_RESOURCE_LABELS]),
    /** Log record attributes that become labels. */
    attributes: s.array(s.string('', { nonEmpty: true })),
    /** A `level` label from the severity (trace, debug, info, warn, error, fatal, unknown). */
    level: s.bool(true),
  }),
  /** Everything that is not a label goes to structured metadata (Loki 3+); off sends lines and labels only. */
  structured_metadata: s.bool(true),
  /** raw: the body as is; json / logfmt: the body rendered as an object / key=value pairs. */
  line_format: s.enum(['raw', 'json', 'logfmt'] as const, 'raw'),
  /** Longest line sent, in bytes (Loki's default max_line_size is 256KB); 0 means no limit. */
  max_line_size: s.size(256 * 1024),
  line_too_long: s.enum(['truncate', 'drop'] as const, 'truncate'),
  /** Distinct label sets per push request; entries of further label sets go to one overflow stream. */
  max_streams: s.int(1000, { min: 1 }),
  ...helperFields,
});
export type LokiConfig = Infer<typeof lokiSchema>;

const RESERVED_HEADERS = ['content-type', 'content-encoding', 'content-length'];

export function validateLoki(cfg: LokiConfig, path: string[], issues: Issues): void {
  validateHelper(cfg, path, issues);
  validateTenantConfig(cfg.tenant, [...path, 'tenant'], issues);

  const names = new Map<string, string>();
  const addName = (attr: string, at: string[]) => {
    const n = sanitizeName(attr);
    const prev = names.get(n);
    if (prev !== undefined) issues.error(at, `label ${JSON.stringify(n)} is already made from ${JSON.stringify(prev)}`);
    else names.set(n, attr);
  };
  if (cfg.labels.level) names.set('level', 'the severity (labels::level)');
  cfg.labels.resource.forEach((a, i) => addName(a, [...path, 'labels', 'resource', String(i)]));
  cfg.labels.attributes.forEach((a, i) => addName(a, [...path, 'labels', 'attributes', String(i)]));
  if (names.has(OVERFLOW_LABEL)) issues.error([...path, 'labels'], `the label name ${OVERFLOW_LABEL} is reserved for the overflow stream`);
  if (names.size > MAX_LABELS) issues.error([...path, 'labels'], `at most ${MAX_LABELS} labels are allowed (Loki rejects streams with more), got ${names.size}`);
  if (names.size === 0) issues.error([...path, 'labels'], 'at least one label is required (Loki rejects streams without labels)');

  for (const h of Object.keys(cfg.headers)) {
    const lower = h.toLowerCase();
    if (RESERVED_HEADERS.includes(lower)) issues.error([...path, 'headers', h], `is set by the exporter and cannot be configured`);
    else if (lower === cfg.tenant.header.toLowerCase() && cfg.tenant.source !== 'context') {
      issues.error([...path, 'headers', h], `conflicts with tenant::source "${cfg.tenant.source}"; set the tenant with tenant::value instead`);
    }
  }
  try {
    const u = new URL(cfg.endpoint);
    if (u.pathname.replace(/\/+$/, '').endsWith('/otlp') || u.pathname.includes('/otlp/')) {
      issues.error([...path, 'endpoint'], "is Loki's OTLP endpoint; use the otlphttp exporter for it (this exporter speaks the push API, /loki/api/v1/push)");
    } else if (!u.pathname.endsWith('/loki/api/v1/push')) {
      issues.warn([...path, 'endpoint'], "does not end in /loki/api/v1/push; this key is the full push URL");
    }
  } catch {
    /* the schema reported it */
  }
}
