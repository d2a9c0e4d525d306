// A set of trace ids with a small value each, sized by memory: a FIFO ring of
// 16-byte ids (oldest overwritten first) indexed by an open-addressing hash
// table with linear probing and backward-shift deletion. Nothing is allocated
// per entry, so an entry costs a fixed ENTRY_BYTES.

const ID = 16;
/** Bytes per ring entry: id 16 + value 2 + time 4 + stored hash 4 (plus 8-16 bytes of index slots). */
const RING_BYTES = 26;
/** Typical bytes per entry including the index. */
export const ENTRY_BYTES = 34;

export class TraceIdCache {
  readonly capacity: number;
  private readonly ids: Uint8Array;
  private readonly values: Uint16Array;
  private readonly times: Uint32Array;
  private readonly hashes: Int32Array;
  private readonly index: Int32Array;
  private readonly mask: number;
  private readonly seed: number;
  private head = 0;
  private count = 0;
  /** Ring slot of the last successful `get`. */
  private hit = -1;

  constructor(capacity: number) {
    this.capacity = Math.max(0, Math.floor(capacity));
    const n = Math.max(1, this.capacity);
    this.ids = new Uint8Array(n * ID);
    this.values = new Uint16Array(n);
    this.times = new Uint32Array(n);
    this.hashes = new Int32Array(n);
    let size = 2;
    while (size < 2 * n) size *= 2;
    this.index = new Int32Array(size).fill(-1);
    this.mask = size - 1;
    this.seed = (Math.random() * 0x100000000) >>> 0;
  }

  /** A cache holding as many entries as `bytes` allows. */
  static ofBytes(bytes: number): TraceIdCache {
    const n0 = Math.floor(bytes / ENTRY_BYTES);
    let size = 2;
    while (size < 2 * n0) size *= 2;
    // The index is a power of two: fit the ring into what it leaves.
    return new TraceIdCache(Math.max(0, Math.min(n0, Math.floor((bytes - 4 * size) / RING_BYTES))));
  }

  get size(): number {
    return this.count;
  }

  /** Bytes held by the cache's arrays. */
  get byteSize(): number {
    return this.ids.byteLength + this.values.byteLength + this.times.byteLength + this.hashes.byteLength + this.index.byteLength;
  }

  private hash(key: string): number {
    let h = this.seed ^ 0x811c9dc5;
    const n = key.length < ID ? key.length : ID;
    for (let i = 0; i < n; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    return h ^ (h >>> 13);
  }

  private equals(slot: number, key: string): boolean {
    const ids = this.ids;
    const base = slot * ID;
    const n = key.length < ID ? key.length : ID;
    for (let i = 0; i < n; i++) if (ids[base + i] !== key.charCodeAt(i)) return false;
    for (let i = n; i < ID; i++) if (ids[base + i] !== 0) return false;
    return true;
  }

  /** The value stored for `key`, or -1. */
  get(key: string): number {
    if (this.capacity === 0) return -1;
    const index = this.index;
    const mask = this.mask;
    const h = this.hash(key);
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const slot = index[i]!;
      if (slot < 0) return -1;
      if (this.hashes[slot] === h && this.equals(slot, key)) {
        this.hit = slot;
        return this.values[slot]!;
      }
    }
  }

  has(key: string): boolean {
    return this.get(key) >= 0;
  }

  /** The time stored with the entry found by the last successful `get` (seconds). */
  lastHitTime(): number {
    return this.hit >= 0 ? this.times[this.hit]! : 0;
  }

  /** Adds or updates `key`; when full, the oldest entry is forgotten. */
  set(key: string, value: number, timeSec: number): void {
    if (this.capacity === 0) return;
    const h = this.hash(key);
    const index = this.index;
    const mask = this.mask;
    let i = h & mask;
    for (; ; i = (i + 1) & mask) {
      const slot = index[i]!;
      if (slot < 0) break;
      if (this.hashes[slot] === h && this.equals(slot, key)) {
        this.values[slot] = value;
        this.times[slot] = timeSec >>> 0;
        return;
      }
    }
    const slot = this.head;
    if (this.count === this.capacity) {
      this.removeIndexOf(slot);
      // The removal may have shifted entries: find the empty position again.
      i = h & mask;
      while (index[i]! >= 0) i = (i + 1) & mask;
    } else this.count++;
    const ids = this.ids;
    const base = slot * ID;
    const n = key.length < ID ? key.length : ID;
    for (let k = 0; k < n; k++) ids[base + k] = key.charCodeAt(k);
    for (let k = n; k < ID; k++) ids[base + k] = 0;
    this.values[slot] = value;
    this.times[slot] = timeSec >>> 0;
    this.hashes[slot] = h;
    index[i] = slot;
    this.head = slot + 1 === this.capacity ? 0 : slot + 1;
  }

  /** Removes the index entry pointing at ring slot `slot` (backward-shift deletion). */
  private removeIndexOf(slot: number): void {
    const index = this.index;
    const mask = this.mask;
    let i = this.hashes[slot]! & mask;
    while (index[i] !== slot) i = (i + 1) & mask;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const s = index[j]!;
      if (s < 0) break;
      const home = this.hashes[s]! & mask;
      // Move s back to i when its home is not cyclically within (i, j].
      const inRange = i <= j ? home > i && home <= j : home > i || home <= j;
      if (!inRange) {
        index[i] = s;
        i = j;
      }
    }
    index[i] = -1;
  }
}
