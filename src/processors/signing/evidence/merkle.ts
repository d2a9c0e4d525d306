// The Merkle tree of a batch manifest: RFC 6962 (RFC 9162 section 2.1) over
// SHA-256, with domain-separated leaves and nodes.
//
//   leaf hash   = SHA-256(0x00 || entry)       entry: an item's canonical form (docs/signing.md section 3)
//   node hash   = SHA-256(0x01 || left || right)
//   MTH({})     = SHA-256("")
//   MTH(D[n])   = MTH(D[0:k]) node MTH(D[k:n]), k the largest power of two < n
//
// The root is computed bottom-up: pairs are hashed level by level and an odd
// last node moves up unchanged, which gives the same root as the recursive
// definition. Hashes are one-shot crypto.hash calls with latin1 output:
// ~0.33 µs per 65-byte node on the dev machine, against ~1.7 µs with
// 'buffer' output and ~2.5 µs for createHash().update().digest() (measured).
import crypto from 'node:crypto';

export const LEAF_PREFIX = 0x00;
export const NODE_PREFIX = 0x01;
export const HASH_SIZE = 32;

type HashFn = (alg: string, data: Uint8Array, enc: 'latin1') => string;
const oneShot: HashFn =
  typeof (crypto as { hash?: unknown }).hash === 'function'
    ? (crypto as unknown as { hash: HashFn }).hash
    : (alg, data, enc) => crypto.createHash(alg).update(data).digest(enc as crypto.BinaryToTextEncoding);

/** SHA-256 of bytes. */
export function sha256(data: Uint8Array): Buffer {
  return Buffer.from(oneShot('sha256', data, 'latin1'), 'latin1');
}

/** Accumulates leaf hashes into one growing buffer (32 bytes per leaf). */
export class LeafBuffer {
  private buf = Buffer.allocUnsafe(HASH_SIZE * 1024);
  private scratch = Buffer.allocUnsafe(4096);
  size = 0;

  /** Adds the leaf of an entry: SHA-256(0x00 || entry). */
  addEntry(entry: Uint8Array): void {
    const need = entry.length + 1;
    if (need > this.scratch.length) this.scratch = Buffer.allocUnsafe(Math.max(need, this.scratch.length * 2));
    this.scratch[0] = LEAF_PREFIX;
    this.scratch.set(entry, 1);
    this.addLeafText(oneShot('sha256', this.scratch.subarray(0, need), 'latin1'));
  }

  /** Adds a leaf hash computed elsewhere (32 bytes). */
  addLeaf(leaf: Uint8Array): void {
    if (leaf.length !== HASH_SIZE) throw new Error(`a leaf hash is ${HASH_SIZE} bytes, got ${leaf.length}`);
    this.grow();
    this.buf.set(leaf, this.size * HASH_SIZE);
    this.size++;
  }

  private addLeafText(latin1: string): void {
    this.grow();
    this.buf.write(latin1, this.size * HASH_SIZE, HASH_SIZE, 'latin1');
    this.size++;
  }

  private grow(): void {
    if ((this.size + 1) * HASH_SIZE <= this.buf.length) return;
    const next = Buffer.allocUnsafe(this.buf.length * 2);
    this.buf.copy(next, 0, 0, this.size * HASH_SIZE);
    this.buf = next;
  }

  /** The leaves so far, concatenated (a copy). */
  bytes(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.size * HASH_SIZE));
  }

  reset(): void {
    this.size = 0;
  }
}

/** Leaf hash of one entry. */
export function leafHash(entry: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(entry.length + 1);
  b[0] = LEAF_PREFIX;
  b.set(entry, 1);
  return sha256(b);
}

/** Node hash of two children. */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(1 + 2 * HASH_SIZE);
  b[0] = NODE_PREFIX;
  b.set(left, 1);
  b.set(right, 1 + HASH_SIZE);
  return sha256(b);
}

/** Splits concatenated leaf hashes. */
export function splitLeaves(concat: Uint8Array): Buffer[] {
  if (concat.length % HASH_SIZE !== 0) throw new Error(`leaf list is ${concat.length} bytes, not a multiple of ${HASH_SIZE}`);
  const out: Buffer[] = [];
  for (let i = 0; i < concat.length; i += HASH_SIZE) out.push(Buffer.from(concat.subarray(i, i + HASH_SIZE)));
  return out;
}

/**
 * Root over concatenated leaf hashes (`n` leaves). Works in place on a copy:
 * level by level, node hashes overwrite the left half.
 */
export function rootOfConcat(concat: Uint8Array, n: number): Buffer {
  if (n === 0) return sha256(new Uint8Array(0));
  const work = Buffer.from(concat.subarray(0, n * HASH_SIZE));
  const node = Buffer.allocUnsafe(1 + 2 * HASH_SIZE);
  node[0] = NODE_PREFIX;
  let width = n;
  while (width > 1) {
    const pairs = width >> 1;
    for (let i = 0; i < pairs; i++) {
      work.copy(node, 1, 2 * i * HASH_SIZE, (2 * i + 2) * HASH_SIZE);
      work.write(oneShot('sha256', node, 'latin1'), i * HASH_SIZE, HASH_SIZE, 'latin1');
    }
    if (width & 1) work.copy(work, pairs * HASH_SIZE, (width - 1) * HASH_SIZE, width * HASH_SIZE);
    width = pairs + (width & 1);
  }
  return Buffer.from(work.subarray(0, HASH_SIZE));
}

/** Root over a list of leaf hashes. */
export function merkleRoot(leaves: readonly Uint8Array[]): Buffer {
  return rootOfConcat(Buffer.concat(leaves), leaves.length);
}

/** RFC 6962 PATH(m, D[n]): the audit path of leaf `index`, bottom-up. */
export function inclusionProof(leaves: readonly Uint8Array[], index: number): Buffer[] {
  if (!Number.isInteger(index) || index < 0 || index >= leaves.length) throw new RangeError(`leaf index ${index} out of range 0..${leaves.length - 1}`);
  const path: Buffer[] = [];
  const walk = (lo: number, hi: number, m: number): void => {
    const n = hi - lo;
    if (n <= 1) return;
    let k = 1;
    while (k * 2 < n) k *= 2;
    if (m < k) {
      walk(lo, lo + k, m);
      path.push(merkleRoot(leaves.slice(lo + k, hi)));
    } else {
      walk(lo + k, hi, m - k);
      path.push(merkleRoot(leaves.slice(lo, lo + k)));
    }
  };
  walk(0, leaves.length, index);
  return path;
}

/** RFC 9162 section 2.1.3.2: does `path` lead from `leaf` at `index` to `root` in a tree of `size` leaves? */
export function verifyInclusion(leaf: Uint8Array, index: number, size: number, path: readonly Uint8Array[], root: Uint8Array): boolean {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r: Uint8Array = leaf;
  for (const p of path) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && Buffer.compare(Buffer.from(r), Buffer.from(root)) === 0;
}
