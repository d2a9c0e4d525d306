// Config validation of the authenticator extensions: every problem with its path.
import { describe, expect, it } from 'vitest';
import { Issues } from '../../config/schema.js';
import { basicAuthFactory } from '../basicauth/factory.js';
import { bearerTokenAuthFactory } from '../bearertokenauth/factory.js';
import { oidcFactory } from '../oidc/factory.js';
import { Service, validateYaml } from '../../service/service.js';

function errors(f: { schema: { parse(v: unknown, p: string[], i: Issues): unknown }; validate?(c: never, p: string[], i: Issues): void }, raw: unknown): string[] {
  const issues = new Issues();
  const path = ['extensions', 'x'];
  const cfg = f.schema.parse(raw, path, issues);
  if (!issues.hasErrors()) f.validate?.(cfg as never, path, issues);
  return issues.errors.map((i) => `${i.path.join('::')}: ${i.message}`);
}

describe('authenticator configs', () => {
  it.each([
    [bearerTokenAuthFactory, {}, 'extensions::x: set one of token, filename or tokens'],
    [bearerTokenAuthFactory, { token: 'a', filename: '/f' }, 'extensions::x: set only one of token, filename or tokens'],
    [bearerTokenAuthFactory, { tokens: [{ token: 'a', tenant: 'a|b' }] }, `extensions::x::tokens::0::tenant: tenant id "a|b" has characters other than letters, digits and !-_.*'()`],
    [bearerTokenAuthFactory, { tokens: [''] }, 'extensions::x::tokens::0: a token must not be empty'],
    [basicAuthFactory, {}, 'extensions::x: set htpasswd (server) or client_auth (client)'],
    [basicAuthFactory, { htpasswd: { inline: 'alice:$apr1$abc$def' } }, 'extensions::x::htpasswd::inline: line 1 (user "alice"): unsupported hash; use bcrypt (htpasswd -B) or SHA (htpasswd -s)'],
    [basicAuthFactory, { htpasswd: {} }, 'extensions::x::htpasswd: set file or inline'],
    [oidcFactory, { issuer_url: 'idp', audience: 'a' }, 'extensions::x::issuer_url: must be an http(s) URL, got "idp"'],
    [oidcFactory, { issuer_url: 'http://idp', audience: 'a', algorithms: ['HS256'] }, 'extensions::x::algorithms::0: must be one of "RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA", got "HS256"'],
  ])('rejects %#', (f, raw, message) => {
    expect(errors(f as never, raw)).toContain(message);
  });

  it('a receiver naming an unknown key under auth is an error with its path', () => {
    const r = validateYaml(`
receivers:
  otlp: { protocols: { http: { auth: { authenticatr: x } } } }
exporters: { debug: }
service: { pipelines: { traces: { receivers: [otlp], exporters: [debug] } } }
`);
    expect(r.errors.join('\n')).toContain('receivers::otlp::protocols::http::auth::authenticatr');
  });

  it('an authenticator that is not in service::extensions fails the start with the key path', async () => {
    const svc = Service.fromYaml(
      `
extensions:
  bearertokenauth: { token: t }
receivers:
  otlp: { protocols: { http: { endpoint: "127.0.0.1:0", auth: { authenticator: bearertokenauth } } } }
exporters: { debug: }
service: { pipelines: { traces: { receivers: [otlp], exporters: [debug] } } }
`,
      { metricsAddress: null, logWrite: () => undefined },
    );
    await expect(svc.start()).rejects.toThrow('receivers::otlp::protocols::http::auth::authenticator: extension "bearertokenauth" is not configured in service::extensions');
    await svc.shutdown();
  });
});
