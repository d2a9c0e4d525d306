// The native addon as the daemon loads it.
import { describe, expect, it } from 'vitest';
import { nativeAddon } from './native.js';

describe('the native addon', () => {
  it('is built by npm install (SIEVE_NATIVE=0 turns it off)', () => {
    if (process.env.SIEVE_NATIVE === '0') expect(nativeAddon).toBeUndefined();
    else expect(Object.keys(nativeAddon ?? {}).sort()).toEqual(['lastMacs', 'signRequest', 'writeSigned']);
  });
});
