import { Schema, s, type Infer, type Issues } from '../../config/schema.js';
import { tenantIdProblem } from '../../processors/tenant/tenant_id.js';

export interface TokenItem {
  token: string;
  tenant?: string;
}

/** `tokens`: the Collector's list of strings, or Sieve's `{token, tenant}` items that bind a token to a tenant. */
class TokenListSchema extends Schema<TokenItem[]> {
  private item = s.object({ token: s.string(), tenant: s.string().optional() });
  parse(v: unknown, path: string[], issues: Issues): TokenItem[] {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      issues.error(path, 'must be a list of tokens or of {token, tenant}');
      return [];
    }
    return v.map((x, i) => {
      const p = [...path, String(i)];
      if (typeof x === 'string') return { token: x };
      const e = this.item.parse(x, p, issues);
      return e.tenant === undefined ? { token: e.token } : { token: e.token, tenant: e.tenant };
    });
  }
  describe(): string {
    return 'a list of tokens or of {token, tenant}';
  }
}

export const bearerTokenAuthSchema = s.object({
  /** Header carrying the token (servers read it, clients set it). */
  header: s.string('Authorization'),
  /** Scheme before the token; empty for a bare token. */
  scheme: s.string('Bearer'),
  /** One static token. */
  token: s.string().optional(),
  /** A file holding the token, re-read when it changes. */
  filename: s.string().optional(),
  /** Several accepted tokens (rotation); a client sends the first. */
  tokens: new TokenListSchema(),
  /** Sieve: the tenant for `token`, `filename` and tokens listed without one. */
  tenant: s.string().optional(),
});
export type BearerTokenAuthConfig = Infer<typeof bearerTokenAuthSchema>;

export function validateBearerTokenAuth(cfg: BearerTokenAuthConfig, path: string[], issues: Issues): void {
  const n = (cfg.token !== undefined ? 1 : 0) + (cfg.filename !== undefined ? 1 : 0) + (cfg.tokens.length ? 1 : 0);
  if (n === 0) issues.error(path, 'set one of token, filename or tokens');
  if (n > 1) issues.error(path, 'set only one of token, filename or tokens');
  if (cfg.token === '') issues.error([...path, 'token'], 'must not be empty');
  cfg.tokens.forEach((t, i) => {
    if (t.token === '') issues.error([...path, 'tokens', String(i)], 'a token must not be empty');
    const why = t.tenant === undefined ? undefined : tenantIdProblem(t.tenant);
    if (why) issues.error([...path, 'tokens', String(i), 'tenant'], why);
  });
  if (cfg.tenant !== undefined) {
    const why = tenantIdProblem(cfg.tenant);
    if (why) issues.error([...path, 'tenant'], why);
  }
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(cfg.header)) issues.error([...path, 'header'], `must be a header name, got ${JSON.stringify(cfg.header)}`);
}
