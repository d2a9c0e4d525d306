// Signing keys: a keyring of HMAC secrets by id. One key signs; every key in
// the ring verifies, so a rotated-out key still verifies what it signed.
//
// A secret is written as text. `base64:` and `hex:` prefixes decode it;
// anything else is taken as the UTF-8 bytes of the text. Keys come inline
// (`keys: [{id, secret: ${env:VAR}}]`, the config loader expands `${env:...}`)
// or from a keyring file (`key_file`), a YAML or JSON document of the same
// shape: `keys: [{id: k1, secret: "base64:..."}]`.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { s } from '../../config/schema.js';

/** Secrets shorter than this are refused (HMAC keys should be at least as long as the hash output). */
export const MIN_SECRET_BYTES = 16;
/** Secrets shorter than this get a warning. */
export const RECOMMENDED_SECRET_BYTES = 32;

/** Key ids appear in attributes and on the command line: keep them plain. */
export const KEY_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

export const keySchema = s.object({
  id: s.string(undefined, { nonEmpty: true }).check((v) => (KEY_ID_RE.test(v) ? undefined : `must match ${KEY_ID_RE.source}, got ${JSON.stringify(v)}`)),
  secret: s.string(undefined, { nonEmpty: true }),
});

/** Config fields shared by the signing processor and the file exporter's tamper_evident block. */
export const keyFields = {
  /** A keyring file (YAML or JSON): `keys: [{id, secret}]`. */
  key_file: s.string().optional(),
  /** Inline keys; use `${env:VAR}` for the secret. */
  keys: s.array(keySchema),
  /** The id of the key that signs. Defaults to the only key when there is one. */
  signing_key_id: s.string().optional(),
};

export interface KeyConfig {
  key_file?: string | undefined;
  keys: { id: string; secret: string }[];
  signing_key_id?: string | undefined;
}

export class KeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyError';
  }
}

/** Decodes a secret's text form into bytes. Never puts the secret into an error message. */
export function decodeSecret(text: string): Buffer {
  if (text.startsWith('base64:')) {
    const b64 = text.slice(7).trim();
    if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(b64)) throw new KeyError('secret with "base64:" prefix is not valid base64');
    return Buffer.from(b64, b64.includes('-') || b64.includes('_') ? 'base64url' : 'base64');
  }
  if (text.startsWith('hex:')) {
    const hex = text.slice(4).trim();
    if (!/^([0-9a-fA-F]{2})*$/.test(hex)) throw new KeyError('secret with "hex:" prefix is not valid hex');
    return Buffer.from(hex, 'hex');
  }
  return Buffer.from(text, 'utf8');
}

export interface Keyring {
  /** Secrets by key id. */
  readonly keys: ReadonlyMap<string, Buffer>;
  /** Secrets usable for any key id (command-line keys given without an id). */
  readonly anyKeys: readonly Buffer[];
  /** The key that signs, when this ring is used for signing. */
  readonly signingKeyId: string | undefined;
}

/** Reads a keyring file: `keys: [{id, secret}]` (YAML or JSON). */
export function readKeyFile(path: string): { id: string; secret: string }[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new KeyError(`cannot read key file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch {
    throw new KeyError(`key file ${path} is not valid YAML or JSON`);
  }
  const list = (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list)) throw new KeyError(`key file ${path} must hold "keys: [{id, secret}]"`);
  return list.map((k, i) => {
    const id = (k as { id?: unknown })?.id;
    const secret = (k as { secret?: unknown })?.secret;
    if (typeof id !== 'string' || !KEY_ID_RE.test(id)) throw new KeyError(`key file ${path}: keys[${i}].id must match ${KEY_ID_RE.source}`);
    if (typeof secret !== 'string' || secret === '') throw new KeyError(`key file ${path}: keys[${i}].secret must be a non-empty string`);
    return { id, secret };
  });
}

/**
 * Builds a keyring from config. Throws KeyError (message safe to print) on a
 * duplicate id, a short or malformed secret, or an unknown signing key id.
 */
export function loadKeyring(cfg: KeyConfig, opts: { needSigningKey: boolean }): Keyring {
  const entries = [...cfg.keys];
  if (cfg.key_file) entries.push(...readKeyFile(cfg.key_file));
  const keys = new Map<string, Buffer>();
  for (const { id, secret } of entries) {
    if (keys.has(id)) throw new KeyError(`key id "${id}" is configured twice`);
    const bytes = decodeSecret(secret);
    if (bytes.length < MIN_SECRET_BYTES) throw new KeyError(`key "${id}" is ${bytes.length} bytes; at least ${MIN_SECRET_BYTES} are required (${RECOMMENDED_SECRET_BYTES} recommended)`);
    keys.set(id, bytes);
  }
  let signingKeyId = cfg.signing_key_id;
  if (opts.needSigningKey) {
    if (keys.size === 0) throw new KeyError('no keys configured: set key_file or keys');
    if (signingKeyId === undefined) {
      if (keys.size > 1) throw new KeyError(`signing_key_id is required when several keys are configured (${[...keys.keys()].join(', ')})`);
      signingKeyId = keys.keys().next().value as string;
    } else if (!keys.has(signingKeyId)) {
      throw new KeyError(`signing_key_id "${signingKeyId}" is not among the configured keys (${[...keys.keys()].join(', ')})`);
    }
  }
  return { keys, anyKeys: [], signingKeyId };
}

/** The secret for a key id (exact id first, then id-less keys in order). */
export function candidateSecrets(ring: Keyring, kid: string): Buffer[] {
  const exact = ring.keys.get(kid);
  return exact ? [exact, ...ring.anyKeys] : [...ring.anyKeys];
}
