import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { HashRing, hashBytes, hashString } from './ring.js';

const ids = Array.from({ length: 20000 }, () => randomBytes(16));

function owners(r: HashRing): (string | undefined)[] {
  return ids.map((id) => r.lookup(hashBytes(id)));
}

describe('HashRing', () => {
  it('is empty-safe', () => {
    const r = new HashRing([]);
    expect(r.lookup(123)).toBeUndefined();
    expect(r.indexOf(123)).toBe(-1);
  });

  it('does not depend on member order or duplicates', () => {
    const a = new HashRing(['b:4317', 'a:4317', 'c:4317']);
    const b = new HashRing(['c:4317', 'a:4317', 'b:4317', 'a:4317']);
    expect(owners(a)).toEqual(owners(b));
    expect(a.size).toBe(3);
  });

  it('spreads keys evenly', () => {
    const r = new HashRing(['10.0.0.1:4317', '10.0.0.2:4317', '10.0.0.3:4317']);
    const counts = new Map<string, number>();
    for (const o of owners(r)) counts.set(o!, (counts.get(o!) ?? 0) + 1);
    expect(counts.size).toBe(3);
    for (const c of counts.values()) expect(Math.abs(c / ids.length - 1 / 3)).toBeLessThan(0.08);
  });

  it('moves about 1/N of the keys when a member joins or leaves', () => {
    const three = new HashRing(['g1', 'g2', 'g3']);
    const four = new HashRing(['g1', 'g2', 'g3', 'g4']);
    const two = new HashRing(['g1', 'g3']);
    const o3 = owners(three);
    const o4 = owners(four);
    const o2 = owners(two);
    let moved = 0;
    for (let i = 0; i < ids.length; i++) {
      if (o3[i] !== o4[i]) {
        moved++;
        expect(o4[i]).toBe('g4'); // a join only takes keys, it never shuffles the others
      }
    }
    expect(moved / ids.length).toBeGreaterThan(0.15);
    expect(moved / ids.length).toBeLessThan(0.35);
    moved = 0;
    for (let i = 0; i < ids.length; i++) {
      if (o3[i] !== o2[i]) {
        moved++;
        expect(o3[i]).toBe('g2'); // a leave only moves the leaver's keys
      }
    }
    expect(moved / ids.length).toBeGreaterThan(0.22);
    expect(moved / ids.length).toBeLessThan(0.45);
  });

  it('hashes bytes in place and strings by content', () => {
    const buf = Buffer.concat([Buffer.from([1, 2, 3]), ids[0]!, Buffer.from([9])]);
    expect(hashBytes(buf, 3, 19)).toBe(hashBytes(ids[0]!));
    expect(hashString('checkout')).toBe(hashString('checkout'));
    expect(hashString('checkout')).not.toBe(hashString('checkouu'));
    expect(hashString('ü€')).not.toBe(hashString('ü'));
  });
});
