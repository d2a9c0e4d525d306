// basicauth: a server checks `Authorization: Basic base64(user:password)`
// against htpasswd entries (bcrypt or SHA); a client sends client_auth.
//
// bcrypt costs tens of milliseconds per check in JavaScript by design, far
// more than a request should pay. A verified pair is therefore remembered for
// cache_ttl as an HMAC under a key made at start (never the password itself),
// in a bounded map; reloading the htpasswd file clears it.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcryptjs';
import type { Component, CreateSettings } from '../../component/component.js';
import { AuthError, header, type AuthHeaders, type AuthIdentity, type ClientAuthenticator, type ServerAuthenticator } from '../auth/auth.js';
import { FileWatch } from '../auth/watch.js';
import { parseHtpasswd, type BasicAuthConfig, type HtpasswdEntry } from './config.js';

const MAX_CACHED = 4096;

export class BasicAuth implements Component, ServerAuthenticator, ClientAuthenticator {
  readonly challenge = 'Basic';
  private inline = new Map<string, HtpasswdEntry>();
  private fromFile = new Map<string, HtpasswdEntry>();
  private watch: FileWatch | undefined;
  private readonly key = randomBytes(32);
  private verified = new Map<string, number>();

  constructor(private settings: CreateSettings, private cfg: BasicAuthConfig) {
    if (cfg.htpasswd?.inline) this.inline = parseHtpasswd(cfg.htpasswd.inline).entries;
  }

  async start(): Promise<void> {
    const file = this.cfg.htpasswd?.file;
    if (file === undefined || this.watch) return;
    const load = (text: string) => {
      const { entries, problems } = parseHtpasswd(text);
      if (problems.length) this.settings.logger.warn('htpasswd file has entries that are ignored.', { file, problems: problems.length });
      this.fromFile = entries;
      this.verified.clear();
    };
    this.watch = new FileWatch(
      file,
      (t) => {
        load(t);
        this.settings.logger.info('htpasswd file reloaded.', { file });
      },
      (e) => this.settings.logger.warn('Cannot re-read the htpasswd file; keeping the previous users.', { file, error: e }),
    );
    try {
      load(this.watch.start());
    } catch (e) {
      this.watch = undefined;
      throw new Error(`extensions::${this.settings.id}::htpasswd::file: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }

  async shutdown(): Promise<void> {
    this.watch?.stop();
    this.watch = undefined;
    this.verified.clear();
  }

  async authenticate(headers: AuthHeaders): Promise<AuthIdentity> {
    const raw = header(headers, 'authorization');
    if (raw === undefined || raw === '') throw new AuthError('missing');
    const m = /^basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(raw);
    if (!m) throw new AuthError('malformed');
    const pair = Buffer.from(m[1]!, 'base64').toString('utf8');
    const c = pair.indexOf(':');
    if (c < 0) throw new AuthError('malformed');
    const user = pair.slice(0, c);
    const password = pair.slice(c + 1);
    const entry = this.fromFile.get(user) ?? this.inline.get(user);
    if (!entry) {
      // No dummy bcrypt for unknown users: it would hand every anonymous request tens of ms of CPU.
      // The price is that an unknown user is answered faster than a known bcrypt user with a wrong password.
      throw new AuthError('invalid');
    }
    const mac = createHmac('sha256', this.key).update(entry.hash).update('\0').update(pair).digest('base64');
    const now = this.settings.now();
    const until = this.verified.get(mac);
    if (until !== undefined && until > now) return { method: 'basic', authenticator: this.settings.id, subject: user };
    let ok: boolean;
    if (entry.kind === 'sha') {
      const want = Buffer.from(entry.hash.slice(5), 'base64');
      ok = timingSafeEqual(createHash('sha1').update(password).digest(), want);
    } else {
      ok = await bcrypt.compare(password, entry.hash);
    }
    if (!ok) throw new AuthError('invalid');
    if (this.cfg.cache_ttl > 0) {
      if (this.verified.size >= MAX_CACHED) this.verified.delete(this.verified.keys().next().value!);
      this.verified.set(mac, now + this.cfg.cache_ttl);
    }
    return { method: 'basic', authenticator: this.settings.id, subject: user };
  }

  clientHeaders(): Record<string, string> {
    const c = this.cfg.client_auth;
    if (!c) return {};
    return { Authorization: `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}` };
  }
}
