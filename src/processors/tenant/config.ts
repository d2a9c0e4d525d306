import { Schema, s, type Infer, type Issues } from '../../config/schema.js';
import { tenantIdProblem } from './tenant_id.js';

export interface TokenEntry {
  token: string;
  tenant: string;
  /** Config path of the entry, for error messages. */
  path: string[];
}

/**
 * `tokens` in either of two forms:
 *
 *   tokens:                      # a map from token to tenant (keys are taken literally)
 *     "s3cr3t-a": team-a
 *   tokens:                      # a list, where ${env:...} expands in the token
 *     - token: ${env:TEAM_B_TOKEN}
 *       tenant: team-b
 */
class TokensSchema extends Schema<TokenEntry[]> {
  private item = s.object({ token: s.string(), tenant: s.string() });
  parse(v: unknown, path: string[], issues: Issues): TokenEntry[] {
    if (v === undefined || v === null) return [];
    const out: TokenEntry[] = [];
    if (Array.isArray(v)) {
      v.forEach((x, i) => {
        const p = [...path, String(i)];
        const e = this.item.parse(x, p, issues);
        out.push({ token: e.token, tenant: e.tenant, path: p });
      });
      return out;
    }
    if (typeof v === 'object') {
      for (const [token, tenant] of Object.entries(v as Record<string, unknown>)) {
        const p = [...path, token.includes('${') ? token : '<token>'];
        const t = s.string().parse(tenant, p, issues);
        out.push({ token, tenant: t, path: p });
      }
      return out;
    }
    issues.error(path, `must be a map of token to tenant or a list of {token, tenant}, got ${typeof v}`);
    return [];
  }
  describe(): string {
    return 'a map of token to tenant, or a list of {token, tenant}';
  }
}

export const tenantProcessorSchema = s.object({
  /** Bearer tokens (the `authorization` client metadata) mapped to tenants. */
  tokens: new TokensSchema(),
  /**
   * The authenticated identity names the tenant (receiver `auth` or mTLS): `tenant` (a bearer token's
   * mapped tenant), `subject` (basic-auth user, OIDC username claim, certificate CN), or an OIDC claim name.
   * When the request has an identity, it decides: headers and resource attributes cannot override it.
   */
  from_auth: s.string().optional(),
  /** With from_auth: what to do when a header or resource attribute names another tenant: override it, or reject the request (403). */
  on_conflict: s.enum(['override', 'reject'] as const, 'override'),
  /** A client metadata header that names the tenant, e.g. x-scope-orgid (needs include_metadata on the receiver). */
  from_header: s.string().optional(),
  /** A resource attribute that names the tenant; a batch with several tenants is split. */
  from_attribute: s.string().optional(),
  /** The tenant when no source names one and `missing` is default. */
  default: s.string().optional(),
  /** What to do with data no source names a tenant for: reject it, or give it `default`. Defaults to default when `default` is set. */
  missing: s.enum(['reject', 'default'] as const).optional(),
  /** Also write the tenant into this resource attribute (overwriting what the client sent). */
  to_attribute: s.string().optional(),
  /** Tenants that get their own label value in self-metrics; later ones are counted as "other". */
  max_tenants_in_metrics: s.int(100, { min: 0 }),
});
export type TenantProcessorConfig = Infer<typeof tenantProcessorSchema>;

export function validateTenantProcessor(cfg: TenantProcessorConfig, path: string[], issues: Issues): void {
  const seen = new Set<string>();
  for (const e of cfg.tokens) {
    if (e.token === '') issues.error(e.path, 'a token must not be empty');
    else if (e.token.includes('${')) {
      issues.error(e.path, 'environment references are not expanded in map keys; use the list form: tokens: [{token: ${env:VAR}, tenant: ...}]');
    } else if (seen.has(e.token)) issues.error(e.path, 'this token is listed twice');
    seen.add(e.token);
    const why = e.tenant === '' ? 'a tenant id must not be empty' : tenantIdProblem(e.tenant);
    if (why) issues.error(e.path, why);
  }
  const hasSource = !!cfg.from_auth || cfg.tokens.length > 0 || !!cfg.from_header || !!cfg.from_attribute;
  if (cfg.default !== undefined) {
    const why = tenantIdProblem(cfg.default);
    if (why) issues.error([...path, 'default'], why);
  }
  if (cfg.missing === 'default' && cfg.default === undefined) issues.error([...path, 'default'], 'is required when missing is "default"');
  if (!hasSource && cfg.default === undefined) issues.error(path, 'set at least one of tokens, from_header, from_attribute or default');
  if (!hasSource && cfg.missing === 'reject') issues.error([...path, 'missing'], 'is "reject" but no source (tokens, from_header, from_attribute) is set: everything would be rejected');
  if (cfg.from_header !== undefined && !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(cfg.from_header)) {
    issues.error([...path, 'from_header'], `must be a header name, got ${JSON.stringify(cfg.from_header)}`);
  }
  if (cfg.from_auth === '') issues.error([...path, 'from_auth'], 'must name an identity attribute: tenant, subject, or a claim');
  if (cfg.from_auth && cfg.tokens.length > 0) issues.error([...path, 'tokens'], 'cannot be combined with from_auth; map tokens to tenants in bearertokenauth instead');
  if (!cfg.from_auth && cfg.on_conflict === 'reject') issues.error([...path, 'on_conflict'], 'applies only with from_auth');
  if (cfg.tokens.length > 0 && (cfg.from_header || cfg.from_attribute)) {
    issues.warn(
      [...path, cfg.from_header ? 'from_header' : 'from_attribute'],
      'clients without a bearer token can choose their tenant through this source; configure only tokens to make the token decide',
    );
  }
}
