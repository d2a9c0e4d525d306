// Batch manifests: what one exported batch of a chain stream held, signed in a
// DSSE envelope. docs/evidence.md is the specification.
import { sha256 } from './merkle.js';
import { envelopeError, type DsseEnvelope } from './dsse.js';

/** DSSE payloadType of a manifest. */
export const PAYLOAD_TYPE = 'application/vnd.sieve.evidence.manifest.v1+json';
/** The manifest's own `type` member. */
export const MANIFEST_TYPE = 'sieve.evidence/v1';
/** event_name of a manifest sent as a log record. */
export const MANIFEST_EVENT = 'sieve.evidence.manifest';

export interface Manifest {
  type: typeof MANIFEST_TYPE;
  /** Chain stream id (docs/signing.md section 5). */
  stream: string;
  /** Chain sequence number of the batch, 1 for the first. */
  seq: number;
  /** base64 SHA-256 of the previous manifest's payload; "" when this one starts the stream. */
  prev: string;
  /** Key id that signs this manifest. */
  kid: string;
  /** On the first manifest of a new key: the previous key's id, which also signs this manifest. */
  prev_kid?: string;
  /** When the manifest was sealed, Unix nanoseconds as a decimal string. */
  time_unix_nano: string;
  /** Items (leaves) per signal. */
  counts: { spans: number; logs: number };
  /** Number of leaves. */
  tree_size: number;
  /** base64 Merkle tree root over the leaves. */
  root: string;
}

/** One line of the manifest file (and the body of a manifest log record). */
export interface ManifestRecord {
  envelope: DsseEnvelope;
  /** base64 of the concatenated 32-byte leaf hashes, in tree order (file sink only). */
  leaves?: string;
  /** base64 DER RFC 3161 TimeStampToken over SHA-256 of the payload. */
  timestamp?: string;
}

/** The payload bytes: JSON with members in the order of the Manifest interface. */
export function encodeManifest(m: Manifest): Buffer {
  const o: Record<string, unknown> = { type: m.type, stream: m.stream, seq: m.seq, prev: m.prev, kid: m.kid };
  if (m.prev_kid !== undefined) o.prev_kid = m.prev_kid;
  o.time_unix_nano = m.time_unix_nano;
  o.counts = { spans: m.counts.spans, logs: m.counts.logs };
  o.tree_size = m.tree_size;
  o.root = m.root;
  return Buffer.from(JSON.stringify(o), 'utf8');
}

/** Digest of a manifest: SHA-256 of its payload bytes (as carried, never re-serialised). */
export function manifestDigest(payload: Uint8Array): Buffer {
  return sha256(payload);
}

/** Parses and checks a manifest payload; a string is the reason it is not one. */
export function decodeManifest(payload: Uint8Array): Manifest | string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(Buffer.from(payload).toString('utf8')) as Record<string, unknown>;
  } catch {
    return 'manifest payload is not JSON';
  }
  if (typeof o !== 'object' || o === null) return 'manifest payload is not an object';
  if (o.type !== MANIFEST_TYPE) return `manifest type is not ${MANIFEST_TYPE}`;
  const c = o.counts as Record<string, unknown> | undefined;
  if (
    typeof o.stream !== 'string' ||
    !Number.isSafeInteger(o.seq) ||
    (o.seq as number) < 1 ||
    typeof o.prev !== 'string' ||
    typeof o.kid !== 'string' ||
    (o.prev_kid !== undefined && typeof o.prev_kid !== 'string') ||
    typeof o.time_unix_nano !== 'string' ||
    typeof c !== 'object' ||
    c === null ||
    !Number.isSafeInteger(c.spans) ||
    !Number.isSafeInteger(c.logs) ||
    !Number.isSafeInteger(o.tree_size) ||
    typeof o.root !== 'string'
  ) {
    return 'manifest payload lacks a member or has one of the wrong type';
  }
  return o as unknown as Manifest;
}

/** Parses one manifest record (a JSON line); a string is the reason it is not one. */
export function parseRecord(text: string): ManifestRecord | string {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return 'not valid JSON (cut short or corrupted)';
  }
  const r = o as Partial<ManifestRecord> | null;
  if (typeof r !== 'object' || r === null) return 'not a manifest record';
  const err = envelopeError(r.envelope);
  if (err) return err;
  if (r.leaves !== undefined && typeof r.leaves !== 'string') return 'leaves is not a base64 string';
  if (r.timestamp !== undefined && typeof r.timestamp !== 'string') return 'timestamp is not a base64 string';
  return r as ManifestRecord;
}
