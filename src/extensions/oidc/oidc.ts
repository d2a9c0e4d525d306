// oidc: verifies `Authorization: Bearer <JWT>` against the issuer's keys.
// The discovery document is fetched once (again after a failure); the JWKS is
// fetched and cached by jose, which refetches it when a token names a key id
// it does not hold (key rotation), at most once per cooldown.
import type { JWTPayload } from 'jose';
import type { Component, CreateSettings } from '../../component/component.js';
import { AuthError, header, type AuthHeaders, type AuthIdentity, type ServerAuthenticator } from '../auth/auth.js';
import type { OidcConfig } from './config.js';

type Jose = typeof import('jose');
type KeySet = ReturnType<Jose['createRemoteJWKSet']>;

// jose loads with the first oidc extension that starts, not with every
// daemon: imported at start it cost each one 1.2 MiB of heap and 62 modules.
let jose: Jose | undefined;
async function loadJose(): Promise<Jose> {
  return (jose ??= await import('jose'));
}

export class OidcAuth implements Component, ServerAuthenticator {
  readonly challenge = 'Bearer';
  private keys: Promise<KeySet> | undefined;
  private readonly attr: string;

  constructor(private settings: CreateSettings, private cfg: OidcConfig) {
    this.attr = cfg.attribute.toLowerCase();
  }

  async start(): Promise<void> {
    // An issuer that is down at start is retried on the first request, so the daemon still comes up.
    await this.keySet().catch((e) => this.settings.logger.warn('Cannot reach the OIDC issuer yet; retrying on the first request.', { issuer_url: this.cfg.issuer_url, error: e }));
  }

  async shutdown(): Promise<void> {
    this.keys = undefined;
  }

  private keySet(): Promise<KeySet> {
    this.keys ??= (async () => {
      const base = this.cfg.issuer_url.replace(/\/+$/, '');
      const res = await fetch(`${base}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(10_000) });
      if (!res.ok) throw new Error(`discovery answered ${res.status}`);
      const doc = (await res.json()) as { jwks_uri?: unknown };
      if (typeof doc.jwks_uri !== 'string') throw new Error('discovery document has no jwks_uri');
      const { createRemoteJWKSet } = await loadJose();
      return createRemoteJWKSet(new URL(doc.jwks_uri), { cacheMaxAge: this.cfg.jwks_cache_ttl, cooldownDuration: 30_000, timeoutDuration: 10_000 });
    })();
    this.keys.catch(() => (this.keys = undefined));
    return this.keys;
  }

  async authenticate(headers: AuthHeaders): Promise<AuthIdentity> {
    const raw = header(headers, this.attr);
    if (raw === undefined || raw === '') throw new AuthError('missing');
    const m = /^bearer\s+([A-Za-z0-9_\-.]+)\s*$/i.exec(raw);
    if (!m) throw new AuthError('malformed');
    let keys: KeySet;
    try {
      keys = await this.keySet();
    } catch {
      throw new AuthError('unavailable');
    }
    // Key sets come from jose: it is loaded once one exists.
    const { jwtVerify, errors: joseErrors } = jose!;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(m[1]!, keys, {
        issuer: this.cfg.issuer_url,
        audience: this.cfg.audience,
        algorithms: this.cfg.algorithms,
        clockTolerance: Math.round(this.cfg.clock_skew / 1000),
        currentDate: new Date(this.settings.now()),
      }));
    } catch (e) {
      if (e instanceof joseErrors.JWTExpired) throw new AuthError('expired');
      if (e instanceof joseErrors.JWKSTimeout) throw new AuthError('unavailable');
      throw new AuthError('invalid');
    }
    const subject = payload[this.cfg.username_claim];
    if (typeof subject !== 'string' || subject === '') throw new AuthError('invalid');
    const g = this.cfg.groups_claim ? payload[this.cfg.groups_claim] : undefined;
    const groups = Array.isArray(g) ? g.filter((x): x is string => typeof x === 'string') : typeof g === 'string' ? [g] : undefined;
    return { method: 'oidc', authenticator: this.settings.id, subject, ...(groups ? { groups } : {}), claims: payload };
  }
}
