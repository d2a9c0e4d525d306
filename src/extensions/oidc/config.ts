import { s, isHttpUrl, type Infer, type Issues } from '../../config/schema.js';

export const oidcSchema = s.object({
  /** The issuer; its discovery document (/.well-known/openid-configuration) names the JWKS. Must equal the tokens' `iss`. */
  issuer_url: s.string(),
  /** Must be among the tokens' `aud`. */
  audience: s.string(),
  /** The claim that names the user (the identity's subject). */
  username_claim: s.string('sub'),
  /** The claim that lists the user's groups. */
  groups_claim: s.string().optional(),
  /** Header carrying `Bearer <jwt>`. */
  attribute: s.string('authorization'),
  /** Sieve: algorithms accepted in a token's `alg`. */
  algorithms: s.array(s.enum(['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA'] as const)).default(['RS256', 'ES256', 'EdDSA']),
  /** Sieve: how long fetched keys are kept before the JWKS is fetched again. */
  jwks_cache_ttl: s.duration('10m'),
  /** Sieve: clock skew allowed on exp/nbf. */
  clock_skew: s.duration('30s'),
});
export type OidcConfig = Infer<typeof oidcSchema>;

export function validateOidc(cfg: OidcConfig, path: string[], issues: Issues): void {
  if (cfg.issuer_url !== '' && !isHttpUrl(cfg.issuer_url)) issues.error([...path, 'issuer_url'], `must be an http(s) URL, got ${JSON.stringify(cfg.issuer_url)}`);
  if (cfg.audience === '') issues.error([...path, 'audience'], 'must not be empty');
  if (cfg.algorithms.length === 0) issues.error([...path, 'algorithms'], 'must list at least one algorithm');
}
