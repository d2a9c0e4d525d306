// Signing and checking of spans and log records over the canonical form.
import { timingSafeEqual } from 'node:crypto';
import type { KeyValue, LogRecord, ResourceLogs, ResourceSpans, Span } from '../../pdata/model.js';
import { asLimit, CanonicalEncoder, KID_KEY, LimitError, RECORD_LOG, RECORD_SPAN, RESERVED, SIG_KEY } from './canonical.js';
import { candidateSecrets, type Keyring } from './keys.js';
import { ALG_INFO, HmacKey, algorithmForMacSize, type Algorithm } from './mac.js';

export interface SignStats {
  signed: number;
  /** Items left unsigned because their canonical form broke a cap. */
  unsignedDepth: number;
  unsignedSize: number;
}

/** Removes sieve.sig and sieve.sig.kid from a record's attributes, in place. */
export function removeSigAttributes(attrs: KeyValue[]): void {
  let w = 0;
  for (let r = 0; r < attrs.length; r++) {
    const kv = attrs[r]!;
    if (kv.key === SIG_KEY || kv.key === KID_KEY) continue;
    attrs[w++] = kv;
  }
  attrs.length = w;
}

export class Signer {
  readonly kid: string;
  readonly key: HmacKey;
  private readonly enc = new CanonicalEncoder();
  /** Gets the canonical form of each signed item, in order (evidence leaves). */
  onSigned: ((canonical: Uint8Array) => void) | undefined;
  /** Where the (K ^ ipad) block starts in the encoder's buffer: it ends where the message begins. */
  private readonly off: number;

  constructor(alg: Algorithm, secret: Uint8Array, kid: string) {
    this.kid = kid;
    this.key = new HmacKey(alg, secret);
    this.off = RESERVED - ALG_INFO[alg].block;
    this.key.ipad.copy(this.enc.buf, this.off);
  }

  /**
   * Signs every span in place. When `macs` is given, each MAC (base64) is
   * pushed to it (batch chaining).
   */
  signTraces(resources: readonly ResourceSpans[], macs?: string[]): SignStats {
    const st: SignStats = { signed: 0, unsignedDepth: 0, unsignedSize: 0 };
    const enc = this.enc;
    for (let r = 0; r < resources.length; r++) {
      const rs = resources[r]!;
      let failed: LimitError | undefined;
      try {
        enc.beginResource(RECORD_SPAN, rs.resource.attributes);
      } catch (e) {
        failed = asLimit(e);
      }
      for (let s = 0; s < rs.scopeSpans.length; s++) {
        const ss = rs.scopeSpans[s]!;
        let scopeFailed = failed;
        if (!scopeFailed) {
          try {
            enc.beginScope(ss.scope);
          } catch (e) {
            scopeFailed = asLimit(e);
          }
        }
        const spans = ss.spans;
        for (let i = 0; i < spans.length; i++) {
          const sp = spans[i]!;
          let end = -1;
          let err = scopeFailed;
          if (!err) {
            try {
              end = enc.span(sp);
            } catch (e) {
              err = asLimit(e);
            }
          }
          if (err) {
            this.unsigned(sp.attributes, err, st);
            continue;
          }
          this.attach(sp.attributes, end, macs);
          st.signed++;
        }
      }
    }
    return st;
  }

  /** Signs every log record in place; see signTraces. */
  signLogs(resources: readonly ResourceLogs[], macs?: string[]): SignStats {
    const st: SignStats = { signed: 0, unsignedDepth: 0, unsignedSize: 0 };
    const enc = this.enc;
    for (let r = 0; r < resources.length; r++) {
      const rl = resources[r]!;
      let failed: LimitError | undefined;
      try {
        enc.beginResource(RECORD_LOG, rl.resource.attributes);
      } catch (e) {
        failed = asLimit(e);
      }
      for (let s = 0; s < rl.scopeLogs.length; s++) {
        const sl = rl.scopeLogs[s]!;
        let scopeFailed = failed;
        if (!scopeFailed) {
          try {
            enc.beginScope(sl.scope);
          } catch (e) {
            scopeFailed = asLimit(e);
          }
        }
        const recs = sl.logRecords;
        for (let i = 0; i < recs.length; i++) {
          const lr = recs[i]!;
          let end = -1;
          let err = scopeFailed;
          if (!err) {
            try {
              end = enc.log(lr);
            } catch (e) {
              err = asLimit(e);
            }
          }
          if (err) {
            this.unsigned(lr.attributes, err, st);
            continue;
          }
          this.attach(lr.attributes, end, macs);
          st.signed++;
        }
      }
    }
    return st;
  }

  private attach(attrs: KeyValue[], end: number, macs: string[] | undefined): void {
    const mac = this.key.macOfPrepared(this.enc.buf, this.off, end);
    if (this.enc.sawSigKeys) removeSigAttributes(attrs);
    attrs.push({ key: SIG_KEY, value: { type: 'string', value: mac } }, { key: KID_KEY, value: { type: 'string', value: this.kid } });
    if (macs) macs.push(mac);
    if (this.onSigned) this.onSigned(this.enc.buf.subarray(RESERVED, end));
  }

  private unsigned(attrs: KeyValue[], err: LimitError, st: SignStats): void {
    // A stale signature from upstream must not survive on data we could not sign.
    removeSigAttributes(attrs);
    if (err.reason === 'depth') st.unsignedDepth++;
    else st.unsignedSize++;
  }
}

// ---------------------------------------------------------------- checking

export type CheckCode = 'unsigned' | 'malformed' | 'unknown_key' | 'mismatch' | 'limit';

export type ItemCheck =
  | { ok: true; kid: string; alg: Algorithm; mac: Buffer }
  | { ok: false; code: CheckCode; reason: string; kid?: string; mac?: Buffer };

/** Finds the single sieve.sig / sieve.sig.kid string attributes of a record. */
export function findSig(attrs: readonly KeyValue[]): { sig?: string; kid?: string; error?: string } {
  let sig: string | undefined;
  let kid: string | undefined;
  for (const kv of attrs) {
    if (kv.key === SIG_KEY) {
      if (sig !== undefined) return { error: 'several sieve.sig attributes' };
      if (kv.value.type !== 'string') return { error: `sieve.sig is a ${kv.value.type} value, not a string` };
      sig = kv.value.value;
    } else if (kv.key === KID_KEY) {
      if (kid !== undefined) return { error: 'several sieve.sig.kid attributes' };
      if (kv.value.type !== 'string') return { error: `sieve.sig.kid is a ${kv.value.type} value, not a string` };
      kid = kv.value.value;
    }
  }
  return { sig, kid };
}

/** Checks record signatures against a keyring. Walk resources and scopes with begin*(), then check each record. */
export class ItemVerifier {
  private readonly enc = new CanonicalEncoder();
  private readonly hmacs = new Map<Buffer, Partial<Record<Algorithm, HmacKey>>>();
  private resourceError: LimitError | undefined;
  private scopeError: LimitError | undefined;

  constructor(private readonly ring: Keyring) {}

  beginResource(type: 'span' | 'log', attributes: readonly KeyValue[]): void {
    this.resourceError = undefined;
    try {
      this.enc.beginResource(type === 'span' ? RECORD_SPAN : RECORD_LOG, attributes);
    } catch (e) {
      this.resourceError = asLimit(e);
    }
  }

  beginScope(scope: { name: string; version: string }): void {
    this.scopeError = this.resourceError;
    if (this.scopeError) return;
    try {
      this.enc.beginScope({ name: scope.name, version: scope.version, attributes: [], droppedAttributesCount: 0 });
    } catch (e) {
      this.scopeError = asLimit(e);
    }
  }

  checkSpan(sp: Span): ItemCheck {
    return this.check(sp.attributes, () => this.enc.span(sp));
  }

  checkLog(lr: LogRecord): ItemCheck {
    return this.check(lr.attributes, () => this.enc.log(lr));
  }

  private check(attrs: readonly KeyValue[], encode: () => number): ItemCheck {
    const found = findSig(attrs);
    if (found.error) return { ok: false, code: 'malformed', reason: found.error };
    if (found.sig === undefined) return { ok: false, code: 'unsigned', reason: 'not signed (no sieve.sig attribute)' };
    const kid = found.kid ?? '';
    const mac = Buffer.from(found.sig, 'base64');
    const alg = algorithmForMacSize(mac.length);
    if (!alg || !/^[A-Za-z0-9+/]*={0,2}$/.test(found.sig)) {
      return { ok: false, code: 'malformed', reason: `sieve.sig is not a base64 HMAC-SHA256 or HMAC-SHA512 value`, kid };
    }
    const secrets = candidateSecrets(this.ring, kid);
    if (secrets.length === 0) return { ok: false, code: 'unknown_key', reason: `no key for key id "${kid}"`, kid, mac };
    let end: number;
    const err = this.scopeError;
    if (err) return { ok: false, code: 'limit', reason: `cannot be checked: ${err.message}`, kid, mac };
    try {
      end = encode();
    } catch (e) {
      return { ok: false, code: 'limit', reason: `cannot be checked: ${asLimit(e).message}`, kid, mac };
    }
    const off = RESERVED - ALG_INFO[alg].block;
    for (const secret of secrets) {
      const key = this.hmacFor(secret, alg);
      key.ipad.copy(this.enc.buf, off);
      const got = Buffer.from(key.macOfPrepared(this.enc.buf, off, end), 'base64');
      if (timingSafeEqual(got, mac)) return { ok: true, kid, alg, mac };
    }
    return { ok: false, code: 'mismatch', reason: `signature mismatch: content differs from what key "${kid}" signed (altered after signing, or another secret)`, kid, mac };
  }

  private hmacFor(secret: Buffer, alg: Algorithm): HmacKey {
    let m = this.hmacs.get(secret);
    if (!m) this.hmacs.set(secret, (m = {}));
    return (m[alg] ??= new HmacKey(alg, secret));
  }
}
