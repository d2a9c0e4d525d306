// The authenticator contract shared by the bearertokenauth, basicauth and oidc
// extensions, and the glue every listener uses: `auth: {authenticator: <id>}`
// on a server resolves to a ServerAuthenticator, on an exporter to a
// ClientAuthenticator. A refused request learns only that it was refused:
// the reason goes to a bounded counter, never to the client or the log.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { Component, Host } from '../../component/component.js';
import { s, type Infer } from '../../config/schema.js';
import { StartError } from '../../service/net.js';
import type { SelfTelemetry } from '../../service/telemetry.js';

/** Who a request is, once authenticated. Travels with the data as `ctx.auth`. */
export interface AuthIdentity {
  method: 'bearer' | 'basic' | 'oidc' | 'mtls';
  /** The authenticator id (or "tls" for a client certificate). */
  authenticator: string;
  /** Basic-auth user, OIDC username claim, certificate subject CN, or a token's label. */
  subject: string;
  /** The tenant a bearer token is mapped to in config. */
  tenant?: string;
  /** OIDC groups claim. */
  groups?: readonly string[];
  /** Verified JWT claims (OIDC) or certificate fields (mTLS). */
  claims?: Readonly<Record<string, unknown>>;
}

/** Request headers with lower-cased names, as Node's IncomingMessage and gRPC metadata give them. */
export type AuthHeaders = Readonly<Record<string, string | readonly string[] | undefined>>;

export interface ServerAuthenticator {
  /** The scheme named in WWW-Authenticate on a refusal, e.g. `Bearer`. */
  readonly challenge: string;
  /** Resolves with the identity, or rejects with an AuthError. */
  authenticate(headers: AuthHeaders): Promise<AuthIdentity>;
}

export interface ClientAuthenticator {
  /** Headers (or gRPC metadata) to add to every outgoing request. */
  clientHeaders(): Record<string, string>;
}

/** Why a request was refused; `reason` is a bounded label for metrics, never sent to the client. */
export class AuthError extends Error {
  constructor(readonly reason: 'missing' | 'malformed' | 'invalid' | 'expired' | 'unavailable') {
    super(`authentication failed: ${reason}`);
    this.name = 'AuthError';
  }
}

export function isServerAuthenticator(c: unknown): c is ServerAuthenticator & Component {
  return !!c && typeof (c as Partial<ServerAuthenticator>).authenticate === 'function';
}
export function isClientAuthenticator(c: unknown): c is ClientAuthenticator & Component {
  return !!c && typeof (c as Partial<ClientAuthenticator>).clientHeaders === 'function';
}

/** `auth: {authenticator: <extension id>}`, the Collector's configauth key. */
export const authRefSchema = s.object({ authenticator: s.string(undefined, { nonEmpty: true }) });
export type AuthRef = Infer<typeof authRefSchema>;
export const authRef = () => authRefSchema.optional();

/** The server authenticator an `auth` key names; a StartError with the key's path otherwise. */
export function resolveServerAuth(host: Host, ref: AuthRef | undefined, path: string): ServerAuthenticator | undefined {
  if (!ref) return undefined;
  const ext = host.getExtension(ref.authenticator);
  if (!ext) throw new StartError(`${path}::auth::authenticator: extension "${ref.authenticator}" is not configured in service::extensions`);
  if (!isServerAuthenticator(ext)) throw new StartError(`${path}::auth::authenticator: extension "${ref.authenticator}" cannot authenticate servers`);
  return ext;
}

export function resolveClientAuth(host: Host, ref: AuthRef | undefined, path: string): ClientAuthenticator | undefined {
  if (!ref) return undefined;
  const ext = host.getExtension(ref.authenticator);
  if (!ext) throw new StartError(`${path}::auth::authenticator: extension "${ref.authenticator}" is not configured in service::extensions`);
  if (!isClientAuthenticator(ext)) throw new StartError(`${path}::auth::authenticator: extension "${ref.authenticator}" has no client credentials`);
  return ext;
}

export function header(headers: AuthHeaders, name: string): string | undefined {
  const v = headers[name];
  return typeof v === 'string' ? v : v?.[0];
}

/**
 * Compares secrets in time that depends only on their digests: both sides are
 * hashed first, so neither the length nor a common prefix shows in the timing.
 */
export function secretEquals(a: string | Buffer, b: string | Buffer): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}

/** Identity from a verified client certificate (mTLS): subject CN, with the SANs and DN as claims. */
export function certIdentity(cert: PeerCertificate | undefined | null): AuthIdentity | undefined {
  if (!cert || !cert.subject) return undefined;
  const subj = cert.subject as unknown as Record<string, string | string[]>;
  const cn = Array.isArray(subj.CN) ? subj.CN[0] : subj.CN;
  const san = (cert.subjectaltname ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  const subject = cn ?? san[0]?.replace(/^[A-Za-z ]+:/, '');
  if (!subject) return undefined;
  return { method: 'mtls', authenticator: 'tls', subject, claims: { san, fingerprint256: cert.fingerprint256 } };
}

/** The verified client certificate of an HTTPS request, if any. */
export function httpPeerIdentity(req: IncomingMessage): AuthIdentity | undefined {
  const sock = req.socket as Partial<TLSSocket>;
  if (!sock.authorized || typeof sock.getPeerCertificate !== 'function') return undefined;
  return certIdentity(sock.getPeerCertificate());
}

/** Counts outcomes per listener and authenticator; the label values are config ids and fixed reasons. */
export function authCounter(t: SelfTelemetry) {
  return t.counter('sieve_auth_requests', 'Requests seen by an authenticator, by listener and outcome (ok, missing, malformed, invalid, expired, unavailable).', ['listener', 'authenticator', 'outcome']);
}

/**
 * Runs a request through the listener's authenticator. On refusal it answers
 * 401 with WWW-Authenticate and a fixed body, and resolves undefined; on
 * success it resolves the identity (or `null` when the listener has no auth).
 */
export async function guardHttp(
  auth: ServerAuthenticator | undefined,
  req: IncomingMessage,
  res: ServerResponse,
  count: { listener: string; authenticator: string; counter: ReturnType<typeof authCounter> } | undefined,
): Promise<AuthIdentity | null | undefined> {
  if (!auth) return null;
  try {
    const id = await auth.authenticate(req.headers);
    count?.counter.inc({ listener: count.listener, authenticator: count.authenticator, outcome: 'ok' });
    return id;
  } catch (e) {
    const reason = e instanceof AuthError ? e.reason : 'invalid';
    count?.counter.inc({ listener: count.listener, authenticator: count.authenticator, outcome: reason });
    refuseHttp(req, res, auth.challenge);
    return undefined;
  }
}

/** 401 with a challenge and nothing about why. The body is not read; the connection is closed after the answer. */
export function refuseHttp(req: IncomingMessage, res: ServerResponse, challenge: string): void {
  req.resume();
  if (res.headersSent) return;
  res.writeHead(401, { 'WWW-Authenticate': `${challenge} realm="sieve"`, 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close' });
  res.end('401 Unauthorized\n');
}
