import { s, type Infer, type Issues } from '../../config/schema.js';
import { tenantIdProblem } from '../tenant/tenant_id.js';

const limitSchema = s.object({
  /** Sustained units per second. */
  rate: s.number(undefined, { min: 0 }),
  /** Units that may arrive at once; defaults to one second of `rate`. */
  burst: s.number(0, { min: 0 }),
});
export type Limit = Infer<typeof limitSchema>;

export const tenantLimiterSchema = s.object({
  /** What is counted: items (spans, log records, metric points) or bytes of the encoded request. */
  unit: s.enum(['items', 'bytes'] as const, 'items'),
  /** The limit of a tenant not listed in `tenants` (and of data without a tenant). Unset: unlisted tenants are not limited. */
  default: limitSchema.optional(),
  /** Limits by tenant id. */
  tenants: s.map(limitSchema),
  /** Buckets kept for unlisted tenants; the least recently used is dropped beyond it (and starts full again). */
  max_tenants: s.int(10_000, { min: 1 }),
  /** Tenants that get their own label value in the metrics; later ones count as "other". */
  max_tenants_in_metrics: s.int(100, { min: 0 }),
});
export type TenantLimiterConfig = Infer<typeof tenantLimiterSchema>;

export function validateTenantLimiter(cfg: TenantLimiterConfig, path: string[], issues: Issues): void {
  if (!cfg.default && Object.keys(cfg.tenants).length === 0) issues.error(path, 'set default or at least one entry in tenants');
  for (const t of Object.keys(cfg.tenants)) {
    const why = tenantIdProblem(t);
    if (why) issues.error([...path, 'tenants', t], why);
  }
}
