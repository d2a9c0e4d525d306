// The native signer (native/signing.cc, in the addon of src/native.ts).
//
// Where the addon was not built or is turned off with SIEVE_NATIVE=0, wire.ts
// walks every request itself, with the same signatures.
import { nativeAddon } from '../../native.js';

export const NATIVE_FALLBACK = -1;

export interface NativeSigning {
  /**
   * Signs every item of the request `src` (type 1 spans, 2 log records), as
   * wire.ts does: returns the signed request's length, with `counts[0]` the
   * number of items signed; 0 when it has no items; NATIVE_FALLBACK when
   * wire.ts must walk it. `kidField` is the sieve.sig.kid KeyValue appended
   * to each item.
   */
  signRequest(src: Uint8Array, type: number, macSize: number, ipad: Uint8Array, opad: Uint8Array, kidField: Uint8Array, counts: Int32Array): number;
  /** Writes the request the last signRequest() signed (`src` the same) to `out`, of the length it returned; false when they do not match. */
  writeSigned(src: Uint8Array, out: Uint8Array): boolean;
  /** Copies the base64 MACs of the last request signed, one after another, when `out` has room; returns their length in bytes. */
  lastMacs(out: Uint8Array): number;
}

/** The native signer, or undefined when it is not available. */
export const nativeSigning: NativeSigning | undefined = nativeAddon;
