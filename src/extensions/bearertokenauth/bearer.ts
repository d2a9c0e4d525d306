// bearertokenauth: a server checks `<header>: <scheme> <token>` against the
// configured tokens; a client sends its token. Tokens are held as SHA-256
// digests and compared in constant time against every configured token (no
// early exit), and are never logged.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Component, CreateSettings } from '../../component/component.js';
import { AuthError, header, type AuthHeaders, type AuthIdentity, type ClientAuthenticator, type ServerAuthenticator } from '../auth/auth.js';
import { FileWatch } from '../auth/watch.js';
import type { BearerTokenAuthConfig } from './config.js';

interface Known {
  digest: Buffer;
  subject: string;
  tenant?: string;
}

const digest = (t: string) => createHash('sha256').update(t).digest();

export class BearerTokenAuth implements Component, ServerAuthenticator, ClientAuthenticator {
  readonly challenge: string;
  private known: Known[] = [];
  private current = '';
  private watch: FileWatch | undefined;
  private readonly headerName: string;

  constructor(private settings: CreateSettings, private cfg: BearerTokenAuthConfig) {
    this.challenge = cfg.scheme || 'Bearer';
    this.headerName = cfg.header.toLowerCase();
    if (cfg.token !== undefined) this.set([{ token: cfg.token }]);
    else if (cfg.tokens.length) this.set(cfg.tokens);
  }

  private set(items: readonly { token: string; tenant?: string }[]): void {
    this.known = items.map((t) => {
      const d = digest(t.token);
      const tenant = t.tenant ?? this.cfg.tenant;
      // A token's subject is its tenant, or a short digest prefix that names it without revealing it.
      return { digest: d, subject: tenant ?? `token-${d.subarray(0, 4).toString('hex')}`, ...(tenant !== undefined ? { tenant } : {}) };
    });
    this.current = items[0]?.token ?? '';
  }

  async start(): Promise<void> {
    if (this.cfg.filename === undefined || this.watch) return;
    const file = this.cfg.filename;
    this.watch = new FileWatch(
      file,
      (text) => {
        this.set([{ token: text.trim() }]);
        this.settings.logger.info('Bearer token file reloaded.', { file });
      },
      (e) => this.settings.logger.warn('Cannot re-read the bearer token file; keeping the previous token.', { file, error: e }),
    );
    let text: string;
    try {
      text = this.watch.start();
    } catch (e) {
      this.watch = undefined;
      throw new Error(`extensions::${this.settings.id}::filename: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    this.set([{ token: text.trim() }]);
  }

  async shutdown(): Promise<void> {
    this.watch?.stop();
    this.watch = undefined;
  }

  async authenticate(headers: AuthHeaders): Promise<AuthIdentity> {
    const raw = header(headers, this.headerName);
    if (raw === undefined || raw === '') throw new AuthError('missing');
    let token: string;
    if (this.cfg.scheme) {
      const sp = raw.indexOf(' ');
      if (sp < 0 || raw.slice(0, sp).toLowerCase() !== this.cfg.scheme.toLowerCase()) throw new AuthError('malformed');
      token = raw.slice(sp + 1).trim();
    } else token = raw.trim();
    if (token === '') throw new AuthError('malformed');
    const d = digest(token);
    let hit: Known | undefined;
    for (const k of this.known) if (timingSafeEqual(d, k.digest) && !hit) hit = k;
    if (!hit || this.current === '') throw new AuthError('invalid');
    return { method: 'bearer', authenticator: this.settings.id, subject: hit.subject, ...(hit.tenant !== undefined ? { tenant: hit.tenant } : {}) };
  }

  clientHeaders(): Record<string, string> {
    return { [this.cfg.header]: this.cfg.scheme ? `${this.cfg.scheme} ${this.current}` : this.current };
  }
}
