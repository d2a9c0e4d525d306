// The tenant of an outgoing batch, sent in `X-Scope-OrgID`:
//
//   tenant:
//     source: context      # context | static | attribute
//     value: team-a        # static: the tenant; context / attribute: the fallback
//                          # when the batch (resource) names none
//     attribute: tenant.id # attribute: the resource attribute that names the tenant
//     header: X-Scope-OrgID
//
// `context` takes the tenant the `tenant` processor stamped on the batch.
// `attribute` reads a resource attribute per resource; the exporter then sends
// one request per tenant, so a request never mixes tenants.
import { s, type Infer, type Issues } from '../../config/schema.js';
import type { Telemetry } from '../../pdata/telemetry.js';
import { tenantIdProblem } from '../../processors/tenant/tenant_id.js';

export { attributeAsTenant } from '../../processors/tenant/tenant_id.js';

export const TENANT_SOURCES = ['context', 'static', 'attribute'] as const;
export type TenantSource = (typeof TENANT_SOURCES)[number];

export const tenantSchema = s.object({
  source: s.enum(TENANT_SOURCES, 'context'),
  value: s.string().optional(),
  attribute: s.string('tenant.id'),
  header: s.string('X-Scope-OrgID', { nonEmpty: true }),
});
export type TenantConfig = Infer<typeof tenantSchema>;

/** Cross-field checks for a `tenant` block at `path`. */
export function validateTenantConfig(cfg: TenantConfig, path: readonly string[], issues: Issues): void {
  if (cfg.source === 'static') {
    if (!cfg.value) issues.error([...path, 'value'], 'is required when source is "static"');
  }
  if (cfg.source === 'attribute' && cfg.attribute === '') issues.error([...path, 'attribute'], 'must not be empty when source is "attribute"');
  if (cfg.value !== undefined && cfg.value !== '') {
    const why = tenantIdProblem(cfg.value);
    if (why) issues.error([...path, 'value'], why);
  }
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(cfg.header)) issues.error([...path, 'header'], `must be an HTTP header name, got ${JSON.stringify(cfg.header)}`);
}

/**
 * The tenant of a whole batch: the static value; the tenant stamped on the
 * batch (falling back to `value`); for the attribute source, the fallback for
 * resources that lack the attribute (the stamped tenant, then `value`).
 */
export function batchTenant(cfg: TenantConfig, data: Telemetry): string | undefined {
  if (cfg.source === 'static') return cfg.value;
  return data.ctx.tenant ?? (cfg.value || undefined);
}
