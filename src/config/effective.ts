// The effective config: every component's parsed config (defaults filled in,
// env expanded) as plain data, with secrets masked, for `sieve print-config`;
// and a stable fingerprint per component for reload's change detection.
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { ComponentConfig, ServiceConfig } from './config.js';

export const MASK = '[REDACTED]';

/** Key names whose values are secrets. `*_file` keys hold paths and stay visible. */
const SECRET_KEY = /(password|passwd|secret|token|hmac_key|api_?key|private_?key|key_pem|authorization|^keys$)/i;
const PATH_KEY = /_(file|path|dir|directory)$/i;

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key) && !PATH_KEY.test(key);
}

/** Converts parsed config values (Maps, Sets, Buffers, RegExps) to plain data. */
export function toPlainData(v: unknown): unknown {
  if (v === null || v === undefined) return v ?? null;
  if (typeof v === 'bigint') return v.toString();
  if (typeof v !== 'object') return typeof v === 'function' ? undefined : v;
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return `<${v.length} bytes>`;
  if (v instanceof RegExp) return v.source;
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), toPlainData(x)]));
  if (v instanceof Set) return [...v].map(toPlainData);
  if (Array.isArray(v)) return v.map(toPlainData);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    const p = toPlainData(x);
    if (p !== undefined) out[k] = p;
  }
  return out;
}

/** Replaces every non-empty leaf under a secret key with the mask. */
export function maskSecrets(v: unknown, underSecret = false): unknown {
  if (Array.isArray(v)) return v.map((x) => maskSecrets(x, underSecret));
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = maskSecrets(x, underSecret || isSecretKey(k));
    return out;
  }
  if (underSecret && v !== null && v !== '' && typeof v !== 'boolean') return MASK;
  return v;
}

/** The effective config as plain data, secrets masked unless `reveal`. */
export function effectiveConfig(cfg: ServiceConfig, opts: { reveal?: boolean } = {}): Record<string, unknown> {
  const section = (m: Map<string, ComponentConfig>) => Object.fromEntries([...m].map(([id, c]) => [id, toPlainData(c.config)]));
  const out: Record<string, unknown> = {
    receivers: section(cfg.receivers),
    processors: section(cfg.processors),
    exporters: section(cfg.exporters),
    connectors: section(cfg.connectors),
    extensions: section(cfg.extensions),
    service: toPlainData(cfg.service),
  };
  for (const k of ['connectors', 'extensions']) if (Object.keys(out[k] as object).length === 0) delete out[k];
  return opts.reveal ? out : (maskSecrets(out) as Record<string, unknown>);
}

/**
 * A fingerprint of one component's config: its parsed config plus the
 * contents of every file it names (`*_file` keys: certificates, keys, token
 * files), so that a rotated certificate counts as a change on reload.
 */
export function fingerprint(c: ComponentConfig): string {
  const h = createHash('sha256');
  h.update(c.type);
  const plain = toPlainData(c.config);
  h.update(JSON.stringify(plain));
  const files: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        if (typeof x === 'string' && x && /_file$/i.test(k)) files.push(x);
        else walk(x);
      }
    }
  };
  walk(plain);
  for (const f of files.sort()) {
    try {
      if (statSync(f).isFile()) h.update(readFileSync(f));
    } catch {
      h.update(`missing:${f}`);
    }
  }
  return h.digest('hex');
}
