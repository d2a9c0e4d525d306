// Fast non-cryptographic hashes for series identity and sharding.
//
// A series is identified by a 53-bit number built from two independent 32-bit
// FNV-1a style hashes of its name and labels. Numbers make cheaper Map keys
// than the joined label string and take a fraction of the memory; with 2^53
// values, the chance that two of a million live series collide is about 1e-4.
import type { Labels } from './labels.js';

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const ALT_OFFSET = 0x9747b28c;
const ALT_PRIME = 0x5bd1e995;

/** A 32-bit hash of a string. */
export function hashString(s: string, h = FNV_OFFSET): number {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME);
  return h >>> 0;
}

/** A 53-bit identity of a series: its name and sorted labels. */
export function hashSeries(name: string, labels: Labels): number {
  let a = FNV_OFFSET;
  let b = ALT_OFFSET;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    a = Math.imul(a ^ c, FNV_PRIME);
    b = Math.imul(b ^ c, ALT_PRIME);
    b ^= b >>> 15;
  }
  for (let j = 0; j < labels.length; j++) {
    const s = labels[j]!;
    // A separator no label contains keeps ("ab","c") apart from ("a","bc").
    a = Math.imul(a ^ 0xff, FNV_PRIME);
    b = Math.imul(b ^ 0xff, ALT_PRIME);
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      a = Math.imul(a ^ c, FNV_PRIME);
      b = Math.imul(b ^ c, ALT_PRIME);
      b ^= b >>> 15;
    }
  }
  return (a >>> 0) * 0x200000 + ((b >>> 0) >>> 11);
}
