// DSSE envelopes (Dead Simple Signing Envelope, v1) signed with Ed25519.
//
//   PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body
//   LEN(s)          = ASCII decimal byte length, no leading zeros
//   envelope        = {"payload": b64(body), "payloadType": type, "signatures": [{"keyid", "sig": b64}]}
import { sign as edSign, verify as edVerify, type KeyObject } from 'node:crypto';

export interface DsseSignature {
  keyid: string;
  sig: string;
}

export interface DsseEnvelope {
  payload: string;
  payloadType: string;
  signatures: DsseSignature[];
}

/** The bytes a DSSE signature covers. */
export function pae(payloadType: string, body: Uint8Array): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${body.length} `), body]);
}

/** Signs `body` with each key (Ed25519), in order. */
export function signEnvelope(payloadType: string, body: Uint8Array, signers: readonly { kid: string; key: KeyObject }[]): DsseEnvelope {
  const msg = pae(payloadType, body);
  return {
    payload: Buffer.from(body).toString('base64'),
    payloadType,
    signatures: signers.map((s) => ({ keyid: s.kid, sig: edSign(null, msg, s.key).toString('base64') })),
  };
}

/** Whether `sig` is a valid Ed25519 signature of the envelope's PAE under `key`. */
export function verifySignature(env: DsseEnvelope, sig: DsseSignature, key: KeyObject): boolean {
  try {
    return edVerify(null, pae(env.payloadType, Buffer.from(env.payload, 'base64')), key, Buffer.from(sig.sig, 'base64'));
  } catch {
    return false;
  }
}

/** Checks the shape of a parsed envelope; returns a reason when it is not one. */
export function envelopeError(v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null) return 'not a DSSE envelope (an object)';
  const e = v as Partial<DsseEnvelope>;
  if (typeof e.payload !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(e.payload)) return 'DSSE payload is not base64';
  if (typeof e.payloadType !== 'string') return 'DSSE payloadType missing';
  if (!Array.isArray(e.signatures) || e.signatures.length === 0) return 'DSSE envelope has no signatures';
  for (const s of e.signatures) {
    if (typeof s?.keyid !== 'string' || typeof s?.sig !== 'string') return 'DSSE signature without keyid or sig';
  }
  return undefined;
}
