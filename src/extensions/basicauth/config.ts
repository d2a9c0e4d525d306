import { s, type Infer, type Issues } from '../../config/schema.js';

export const basicAuthSchema = s.object({
  /** Server side: the accepted users, from an htpasswd file (re-read when it changes) and/or inline lines. */
  htpasswd: s.presence(
    s.object({
      file: s.string().optional(),
      inline: s.string().optional(),
    }),
  ),
  /** Client side: the credentials an exporter sends. */
  client_auth: s.presence(
    s.object({
      username: s.string(),
      password: s.string(),
    }),
  ),
  /** Sieve: how long a verified user:password pair is remembered, so bcrypt runs once per pair, not per request. 0 disables. */
  cache_ttl: s.duration('5m'),
});
export type BasicAuthConfig = Infer<typeof basicAuthSchema>;

export function validateBasicAuth(cfg: BasicAuthConfig, path: string[], issues: Issues): void {
  if (!cfg.htpasswd && !cfg.client_auth) issues.error(path, 'set htpasswd (server) or client_auth (client)');
  if (cfg.htpasswd && cfg.htpasswd.file === undefined && cfg.htpasswd.inline === undefined) issues.error([...path, 'htpasswd'], 'set file or inline');
  if (cfg.htpasswd?.inline !== undefined) {
    const { problems } = parseHtpasswd(cfg.htpasswd.inline);
    for (const p of problems) issues.error([...path, 'htpasswd', 'inline'], p);
  }
  if (cfg.client_auth && cfg.client_auth.username.includes(':')) issues.error([...path, 'client_auth', 'username'], 'must not contain ":"');
}

export type HashKind = 'bcrypt' | 'sha';
export interface HtpasswdEntry {
  user: string;
  kind: HashKind;
  hash: string;
}

/** Parses htpasswd lines: `user:$2y$...` (bcrypt: 2a, 2b, 2y) and `user:{SHA}base64`. Other formats are reported by line. */
export function parseHtpasswd(text: string): { entries: Map<string, HtpasswdEntry>; problems: string[] } {
  const entries = new Map<string, HtpasswdEntry>();
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const l = line.trim();
    if (l === '' || l.startsWith('#')) return;
    const c = l.indexOf(':');
    if (c <= 0) return void problems.push(`line ${i + 1}: expected user:hash`);
    const user = l.slice(0, c);
    const hash = l.slice(c + 1);
    let kind: HashKind | undefined;
    if (/^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/.test(hash)) kind = 'bcrypt';
    else if (/^\{SHA\}[A-Za-z0-9+/]{27}=$/.test(hash)) kind = 'sha';
    if (!kind) return void problems.push(`line ${i + 1} (user ${JSON.stringify(user)}): unsupported hash; use bcrypt (htpasswd -B) or SHA (htpasswd -s)`);
    entries.set(user, { user, kind, hash });
  });
  return { entries, problems };
}
