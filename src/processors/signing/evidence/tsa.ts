// RFC 3161 timestamps of manifest digests: the request sent to a TSA, and the
// message imprint read back from a TimeStampToken. DER through @peculiar's
// ASN.1 schemas (asn1-tsp, asn1-cms).
import { randomBytes } from 'node:crypto';
import { ContentInfo, EncapsulatedContent, EncapsulatedContentInfo, SignedData, id_signedData } from '@peculiar/asn1-cms';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { MessageImprint, TSTInfo, TimeStampReq, TimeStampResp, id_ct_tstInfo } from '@peculiar/asn1-tsp';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';

export const OID_SHA256 = '2.16.840.1.101.3.4.2.1';
/** MIME types of RFC 3161 over HTTP. */
export const TSQ_TYPE = 'application/timestamp-query';
export const TSR_TYPE = 'application/timestamp-reply';

/** A DER TimeStampReq for a SHA-256 digest, with a random nonce; certReq true. */
export function timestampRequest(digest: Uint8Array): { der: Buffer; nonce: Buffer } {
  const nonce = randomBytes(8);
  nonce[0]! &= 0x7f; // a positive INTEGER
  const req = new TimeStampReq({
    version: 1,
    messageImprint: new MessageImprint({ hashAlgorithm: new AlgorithmIdentifier({ algorithm: OID_SHA256 }), hashedMessage: new OctetString(digest) }),
    nonce: new Uint8Array(nonce).buffer,
    certReq: true,
  });
  return { der: Buffer.from(AsnConvert.serialize(req)), nonce };
}

export function parseRequest(der: Uint8Array): { digest: Buffer; algorithm: string; nonce?: Buffer } {
  const req = AsnConvert.parse(der, TimeStampReq);
  return {
    digest: Buffer.from(req.messageImprint.hashedMessage.buffer),
    algorithm: req.messageImprint.hashAlgorithm.algorithm,
    ...(req.nonce ? { nonce: Buffer.from(req.nonce) } : {}),
  };
}

export interface TokenInfo {
  algorithm: string;
  digest: Buffer;
  genTime: Date;
  nonce?: Buffer;
}

/** The TSTInfo inside a DER TimeStampToken (a CMS SignedData). Throws on anything else. */
export function readToken(der: Uint8Array): TokenInfo {
  const ci = AsnConvert.parse(der, ContentInfo);
  if (ci.contentType !== id_signedData) throw new Error(`token content type ${ci.contentType} is not signedData`);
  const sd = AsnConvert.parse(ci.content, SignedData);
  if (sd.encapContentInfo.eContentType !== id_ct_tstInfo) throw new Error(`token holds ${sd.encapContentInfo.eContentType}, not a TSTInfo`);
  const e = sd.encapContentInfo.eContent;
  const bytes = e?.single ? e.single.buffer : e?.any;
  if (!bytes) throw new Error('token has no TSTInfo content');
  const tst = AsnConvert.parse(bytes, TSTInfo);
  return {
    algorithm: tst.messageImprint.hashAlgorithm.algorithm,
    digest: Buffer.from(tst.messageImprint.hashedMessage.buffer),
    genTime: tst.genTime,
    ...(tst.nonce ? { nonce: Buffer.from(tst.nonce) } : {}),
  };
}

/** The token of a DER TimeStampResp; throws when the status is not granted (0) or granted with mods (1). */
export function tokenOfResponse(der: Uint8Array): Buffer {
  const resp = AsnConvert.parse(der, TimeStampResp);
  const st = resp.status.status as number;
  if (st !== 0 && st !== 1) throw new Error(`TSA refused the request (PKIStatus ${st}${resp.status.statusString ? `: ${[...resp.status.statusString].join(' ')}` : ''})`);
  if (!resp.timeStampToken) throw new Error('TSA response has no token');
  return Buffer.from(AsnConvert.serialize(resp.timeStampToken));
}

/** Sends a digest to a TSA (HTTP POST, RFC 3161 section 3.4) and returns the DER token, its imprint checked. */
export async function requestTimestamp(url: string, digest: Uint8Array, timeoutMs: number): Promise<Buffer> {
  const { der, nonce } = timestampRequest(digest);
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': TSQ_TYPE }, body: der, signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`TSA answered HTTP ${res.status}`);
  const token = tokenOfResponse(new Uint8Array(await res.arrayBuffer()));
  const info = readToken(token);
  if (!info.digest.equals(Buffer.from(digest))) throw new Error('TSA token is for another digest');
  if (info.nonce && !info.nonce.equals(nonce)) throw new Error('TSA token nonce differs from the request');
  return token;
}
