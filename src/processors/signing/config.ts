// The signing processor's configuration.
import { s, type Infer, type Issues } from '../../config/schema.js';
import { KeyError, RECOMMENDED_SECRET_BYTES, decodeSecret, keyFields, loadKeyring } from './keys.js';
import { ALGORITHMS } from './mac.js';
import { evidenceSchema, validateEvidence } from './evidence/config.js';

export const signingSchema = s.object({
  /** hmac-sha256 (default) or hmac-sha512. */
  algorithm: s.enum(ALGORITHMS, 'hmac-sha256'),
  ...keyFields,
  /** Chain whole batches: sequence number, previous and own digest on every resource. */
  chain: s.bool(false),
  /** Where the chain state is kept (default: <service.data_dir>/signing). */
  state_directory: s.string().optional(),
  /** fsync every chain state write: survives a power loss, at one disk flush per batch. */
  state_fsync: s.bool(false),
  /** Public-key evidence: an Ed25519-signed manifest with a Merkle root per batch (docs/evidence.md). */
  evidence: evidenceSchema,
});
export type SigningConfig = Infer<typeof signingSchema>;

/** Cross-field checks: the keyring must load and name its signing key. */
export function validateSigning(cfg: SigningConfig, path: string[], issues: Issues): void {
  validateKeys(cfg, path, issues);
  validateEvidence(cfg.evidence, cfg.chain, path, issues);
}

/** Shared by the signing processor and the file exporter's tamper_evident block. */
export function validateKeys(cfg: { key_file?: string | undefined; keys: { id: string; secret: string }[]; signing_key_id?: string | undefined }, path: string[], issues: Issues): void {
  if (!cfg.key_file && cfg.keys.length === 0) {
    issues.error([...path, 'keys'], 'no keys configured: set key_file or keys');
    return;
  }
  const before = issues.errors.length;
  const seen = new Set<string>();
  cfg.keys.forEach((k, i) => {
    if (seen.has(k.id)) issues.error([...path, 'keys', String(i), 'id'], `key id "${k.id}" is configured twice`);
    seen.add(k.id);
    try {
      const n = decodeSecret(k.secret).length;
      if (n < RECOMMENDED_SECRET_BYTES) issues.warn([...path, 'keys', String(i), 'secret'], `is ${n} bytes; ${RECOMMENDED_SECRET_BYTES} or more are recommended`);
    } catch (e) {
      issues.error([...path, 'keys', String(i), 'secret'], (e as Error).message);
    }
  });
  if (issues.errors.length > before) return;
  try {
    loadKeyring(cfg, { needSigningKey: true });
  } catch (e) {
    if (!(e instanceof KeyError)) throw e;
    const m = e.message;
    const key = /signing_key_id/.test(m) ? 'signing_key_id' : /key file/.test(m) ? 'key_file' : 'keys';
    issues.error([...path, key], m);
  }
}
