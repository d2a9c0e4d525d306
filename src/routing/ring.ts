// A consistent-hash ring: keys (trace ids, service names, stream ids) map to
// members (backend endpoints, worker indexes) so that adding or removing one
// of N members moves only about 1/N of the keys. The loadbalancing exporter
// and the worker router share it, so a trace lands on the same owner at
// either tier.
//
// Each member owns VNODES points on a 32-bit circle; a key belongs to the
// first point at or after its hash. Points come from SHA-1 of
// "member#i" (built once per membership change, so its cost does not
// matter); keys are hashed with FNV-1a plus a murmur3 finaliser, which is
// cheap on the hot path and spreads the near-identical inputs that short
// strings give.
import { createHash } from 'node:crypto';

/** Points per member: with 160, the largest share of 3 members stays within a few % of 1/3. */
export const VNODES = 160;

export class HashRing {
  readonly members: readonly string[];
  private readonly points: Uint32Array;
  private readonly owner: Uint16Array;

  constructor(members: Iterable<string>, vnodes = VNODES) {
    const uniq = [...new Set(members)].sort();
    if (uniq.length > 0xffff) throw new RangeError('too many ring members');
    this.members = uniq;
    const pts: { p: number; m: number }[] = [];
    uniq.forEach((m, mi) => {
      for (let i = 0; i < vnodes; i++) {
        const d = createHash('sha1').update(`${m}#${i}`).digest();
        pts.push({ p: d.readUInt32BE(0), m: mi });
      }
    });
    // Ties (astronomically rare) resolve by member name so every instance builds the same ring.
    pts.sort((a, b) => a.p - b.p || a.m - b.m);
    this.points = Uint32Array.from(pts, (x) => x.p);
    this.owner = Uint16Array.from(pts, (x) => x.m);
  }

  get size(): number {
    return this.members.length;
  }

  /** The index into `members` owning a 32-bit key hash; -1 on an empty ring. */
  indexOf(hash: number): number {
    const pts = this.points;
    const n = pts.length;
    if (n === 0) return -1;
    const h = hash >>> 0;
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (pts[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    return this.owner[lo === n ? 0 : lo]!;
  }

  /** The member owning a 32-bit key hash; undefined on an empty ring. */
  lookup(hash: number): string | undefined {
    const i = this.indexOf(hash);
    return i < 0 ? undefined : this.members[i];
  }
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hash of bytes `buf[from, to)` (a trace id where it lies in a request, say). */
export function hashBytes(buf: Uint8Array, from = 0, to = buf.length): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
  return fmix32(h);
}

/** Hash of a string's UTF-16 code units (service names, metric names, stream ids). */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h = Math.imul(h ^ (c & 0xff), 0x01000193);
    if (c > 0xff) h = Math.imul(h ^ (c >>> 8), 0x01000193);
  }
  return fmix32(h);
}
