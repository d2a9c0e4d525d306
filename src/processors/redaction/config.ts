// Config of the redaction processor: the Collector's redaction keys with the
// Collector's meaning, plus Sieve's detectors.
import { s, type Infer, type Issues } from '../../config/schema.js';
import { DEFAULT_DETECTORS, DETECTORS, type DetectorName } from './detectors.js';

export const HASH_FUNCTIONS = ['md5', 'sha1', 'sha3', 'hmac-sha256', 'hmac-sha512'] as const;
export type HashFunction = (typeof HASH_FUNCTIONS)[number];
export const SUMMARY_LEVELS = ['debug', 'info', 'silent'] as const;

const POSIX_CLASSES: Record<string, string> = {
  alnum: 'A-Za-z0-9',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7F',
  blank: ' \\t',
  cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: 'A-Za-z0-9_',
  xdigit: '0-9A-Fa-f',
};

/**
 * Compiles a regular expression written for the Collector (Go RE2 syntax) as a
 * JavaScript RegExp: a leading flag group such as `(?i)` or `(?is)` becomes
 * RegExp flags, `\A` and `\z` become `^` and `$`, and POSIX classes like
 * `[[:alpha:]]` become ranges. Throws on invalid syntax.
 */
export function compileGoRegex(src: string, extraFlags = ''): RegExp {
  let body = src;
  let flags = '';
  const lead = /^\(\?([imsU]+)\)/.exec(body);
  if (lead) {
    for (const f of lead[1]!) {
      if (f === 'U') throw new SyntaxError('the (?U) flag (ungreedy) is not supported');
      if (!flags.includes(f)) flags += f;
    }
    body = body.slice(lead[0].length);
  }
  body = body
    .replace(/\[:(\^?)([a-z]+):\]/g, (m, neg: string, name: string) => {
      const r = POSIX_CLASSES[name];
      if (!r) throw new SyntaxError(`unknown POSIX class ${m}`);
      if (neg) throw new SyntaxError(`negated POSIX class ${m} is not supported`);
      return r;
    })
    .replace(/(^|[^\\])((?:\\\\)*)\\A/g, '$1$2^')
    .replace(/(^|[^\\])((?:\\\\)*)\\z/g, '$1$2$');
  for (const f of extraFlags) if (!flags.includes(f)) flags += f;
  return new RegExp(body, flags);
}

const goRegex = () =>
  s.string().check((v) => {
    try {
      compileGoRegex(v);
      return undefined;
    } catch (e) {
      return `invalid regular expression ${JSON.stringify(v)}: ${(e as Error).message}`;
    }
  });

const sanitizerSchema = s.object({
  enabled: s.bool(false),
  attributes: s.array(s.string()),
});

export const redactionSchema = s.object({
  // ---- the Collector's keys
  /** false (the Collector's default): only allowed_keys survive; every other attribute is removed. */
  allow_all_keys: s.bool(false),
  allowed_keys: s.array(s.string()),
  /** Passed through untouched: no key rule, value rule or detector looks at them. */
  ignored_keys: s.array(s.string()),
  /** Regexes on keys; the whole value of a matching key is masked. */
  blocked_key_patterns: s.array(goRegex()),
  /** Regexes on values; each matching part is masked with "****" (or hashed). */
  blocked_values: s.array(goRegex()),
  /** Regexes on values; a value that matches is left alone. Wins over blocked_values and the detectors. */
  allowed_values: s.array(goRegex()),
  /** Also check non-string values (ints, doubles, bools, bytes) by their string form. */
  redact_all_types: s.bool(false),
  /** debug: keys and counts as redaction.* attributes; info: counts only; silent: nothing. */
  summary: s.string('silent').check((v) => (v === '' || (SUMMARY_LEVELS as readonly string[]).includes(v) ? undefined : `must be one of "debug", "info", "silent", got ${JSON.stringify(v)}`)),
  /** md5, sha1, sha3 (SHA3-256), hmac-sha256, hmac-sha512 (with hmac_key): hash instead of masking. */
  hash_function: s.string('').check((v) =>
    v === '' || (HASH_FUNCTIONS as readonly string[]).includes(v.toLowerCase()) ? undefined : `unknown hash function ${JSON.stringify(v)}; supported: ${HASH_FUNCTIONS.join(', ')}`,
  ),
  /** Key of the hmac-* hash functions; use ${env:VAR} to keep it out of the file. */
  hmac_key: s.string(''),
  /** Accepted for Collector compatibility; not implemented yet (a warning says so when enabled). */
  url_sanitizer: sanitizerSchema,
  db_sanitizer: s.object({
    sql: sanitizerSchema,
    redis: sanitizerSchema,
    memcached: sanitizerSchema,
    mongo: sanitizerSchema,
    opensearch: sanitizerSchema,
    es: sanitizerSchema,
  }),
  // ---- Sieve's keys
  /** Built-in detectors: "default" (the default set), detector names, and "-name" to drop one. [] turns them off. */
  detectors: s.array(s.string()).default(['default']),
  /** Absolute paths outside these roots are masked (turns on the file_path detector). */
  path_roots: s.array(s.string()),
});
export type RedactionConfig = Infer<typeof redactionSchema>;

/** The detectors a config turns on, in DETECTORS order. Assumes a validated config. */
export function resolveDetectors(cfg: Pick<RedactionConfig, 'detectors' | 'path_roots'>): DetectorName[] {
  const on = new Set<DetectorName>();
  let fileDropped = false;
  for (const entry of cfg.detectors) {
    if (entry === 'default') for (const d of DEFAULT_DETECTORS) on.add(d);
    else if (entry.startsWith('-')) {
      on.delete(entry.slice(1) as DetectorName);
      if (entry === '-file_path') fileDropped = true;
    } else on.add(entry as DetectorName);
  }
  if (cfg.path_roots.length > 0 && !fileDropped) on.add('file_path');
  return DETECTORS.filter((d) => on.has(d));
}

export function hashFunctionOf(cfg: Pick<RedactionConfig, 'hash_function'>): HashFunction | undefined {
  return cfg.hash_function === '' ? undefined : (cfg.hash_function.toLowerCase() as HashFunction);
}

function suggestDetector(name: string): string {
  const all = ['default', ...DETECTORS];
  let best: string | undefined;
  let bestD = 3;
  for (const c of all) {
    const d = distance(name, c);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best ? ` (did you mean "${best}"?)` : `; known: ${all.join(', ')}`;
}

function distance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const t = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = t;
    }
  }
  return dp[b.length]!;
}

function isAbsolute(p: string): boolean {
  return p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p) || p.startsWith('\\\\');
}

export function validateRedaction(cfg: RedactionConfig, path: string[], issues: Issues): void {
  const hf = hashFunctionOf(cfg);
  if (hf === 'hmac-sha256' || hf === 'hmac-sha512') {
    if (cfg.hmac_key === '') issues.error([...path, 'hmac_key'], `is required when hash_function is ${hf}`);
    else if (Buffer.byteLength(cfg.hmac_key) < 16) issues.warn([...path, 'hmac_key'], 'is shorter than 16 bytes; use a long random key');
  } else if (cfg.hmac_key !== '') {
    issues.warn([...path, 'hmac_key'], `is ignored: hash_function is ${hf ?? 'not set'}; only hmac-sha256 and hmac-sha512 use a key`);
  }
  if (hf === 'md5' || hf === 'sha1' || hf === 'sha3') {
    issues.warn([...path, 'hash_function'], `${hf} is an unkeyed hash: anyone can hash guesses of a low-entropy value (a card number, an email, a short password) and compare; prefer hmac-sha256 with hmac_key`);
  }

  const known = new Set<string>(DETECTORS);
  cfg.detectors.forEach((entry, i) => {
    const p = [...path, 'detectors', String(i)];
    if (entry === 'default') return;
    const name = entry.startsWith('-') ? entry.slice(1) : entry;
    if (!known.has(name)) {
      issues.error(p, `unknown detector "${name}"${suggestDetector(name)}`);
      return;
    }
    if (entry === 'file_path' && cfg.path_roots.length === 0) {
      issues.error(p, 'file_path needs path_roots: the directories whose paths may pass (e.g. ["/app"])');
    }
  });
  cfg.path_roots.forEach((r, i) => {
    if (!isAbsolute(r)) issues.error([...path, 'path_roots', String(i)], `must be an absolute path, got ${JSON.stringify(r)}`);
  });

  if (!cfg.allow_all_keys && cfg.allowed_keys.length === 0) {
    issues.warn(
      [...path, 'allowed_keys'],
      'is empty and allow_all_keys is false: every attribute is removed (the Collector\'s fail-closed meaning); set allow_all_keys: true to keep attributes and rely on the detectors',
    );
  }
  if (cfg.url_sanitizer.enabled) issues.warn([...path, 'url_sanitizer'], 'is not supported yet; URLs pass unchanged apart from the detectors (credentials and secret parameters are still masked)');
  for (const [db, c] of Object.entries(cfg.db_sanitizer)) {
    if (c.enabled) issues.warn([...path, 'db_sanitizer', db], 'is not supported yet; statements pass unchanged apart from the detectors');
  }
}
