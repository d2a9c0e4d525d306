// Sieve's native addon (native/*.cc, built by `npm install` through node-gyp
// into build/Release/sieve_native.node).
//
// It is an accelerator, never a requirement: where it was not built (no
// compiler on the machine) or is turned off with SIEVE_NATIVE=0, what it does
// is done in JavaScript.
import { createRequire } from 'node:module';
import type { NativeSigning } from './processors/signing/native.js';

function load(): NativeSigning | undefined {
  if (process.env.SIEVE_NATIVE === '0') return undefined;
  try {
    // src/ and dist/ sit at the same depth below the package root.
    return createRequire(import.meta.url)('../build/Release/sieve_native.node') as NativeSigning;
  } catch {
    return undefined;
  }
}

/** The addon, or undefined when it is not available. */
export const nativeAddon: NativeSigning | undefined = load();

