// `signing: {evidence: {...}}`: public-key signed batch manifests.
import { s, type Infer, type Issues } from '../../../config/schema.js';
import { KEY_ID_RE, KeyError } from '../keys.js';
import { loadPrivateKey } from './keys.js';

const kid = () => s.string(undefined, { nonEmpty: true }).check((v) => (KEY_ID_RE.test(v) ? undefined : `must match ${KEY_ID_RE.source}, got ${JSON.stringify(v)}`));

const keySchema = s.object({
  kid: kid(),
  /** PEM file of the Ed25519 private key (PKCS#8), as `sieve keygen` writes it. */
  private_key_file: s.string().optional(),
  /** The PEM text itself; use `${env:VAR}`. */
  private_key: s.string().optional(),
});

export const evidenceSchema = s.presence(
  keySchema.extend({
    /** Keys signed with before; the one named in the state signs the hand-over to `kid`. */
    previous_keys: s.array(keySchema),
    /** Append-only JSON lines of manifest records, rotated by size. */
    file: s.presence(
      s.object({
        path: s.string(undefined, { nonEmpty: true }),
        max_megabytes: s.number(100, { min: 0 }),
        max_backups: s.int(0, { min: 0 }),
        /** Store each batch's leaf hashes beside its manifest: verify can then name each missing, extra or altered item. */
        include_leaves: s.bool(true),
      }),
    ),
    /** Id of a logs exporter (e.g. `loki`, `otlp/audit`) that also gets one log record per manifest. */
    logs_exporter: s.string().optional(),
    /** RFC 3161 TSA URL: each manifest digest is timestamped, the token stored beside the manifest. Nothing is sent when unset. */
    timestamp_authority: s.url().optional(),
    /** How long to wait for the TSA; a manifest is written without a token after that. */
    timestamp_timeout: s.duration('5s'),
  }),
);
export type EvidenceConfig = NonNullable<Infer<typeof evidenceSchema>>;

export function validateEvidence(cfg: EvidenceConfig | undefined, chain: boolean, path: string[], issues: Issues): void {
  if (!cfg) return;
  const p = [...path, 'evidence'];
  if (!chain) issues.error([...path, 'chain'], 'must be true when evidence is configured: manifests follow the batch chain');
  if (!cfg.file && !cfg.logs_exporter) issues.error(p, 'no manifest sink: set file, logs_exporter or both');
  const check = (k: { kid: string; private_key_file?: string | undefined; private_key?: string | undefined }, at: string[]) => {
    try {
      loadPrivateKey(k, formatLocal(at));
    } catch (e) {
      if (!(e instanceof KeyError)) throw e;
      issues.error([...at, k.private_key ? 'private_key' : 'private_key_file'], e.message);
    }
  };
  check(cfg, p);
  const seen = new Set([cfg.kid]);
  cfg.previous_keys.forEach((k, i) => {
    const at = [...p, 'previous_keys', String(i)];
    if (seen.has(k.kid)) issues.error([...at, 'kid'], `kid "${k.kid}" is configured twice`);
    seen.add(k.kid);
    check(k, at);
  });
}

function formatLocal(path: string[]): string {
  return path.slice(-2).join('.');
}
