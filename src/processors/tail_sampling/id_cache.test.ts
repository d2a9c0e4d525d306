import { describe, expect, it } from 'vitest';
import { ENTRY_BYTES, TraceIdCache } from './id_cache.js';
import { idKey } from './trace.js';
import { traceId } from './testutil.js';

const key = (n: number) => idKey(traceId(n), 0, 16);

describe('TraceIdCache', () => {
  it('behaves like a FIFO-bounded map under random sets and gets (checked against a reference)', () => {
    const cap = 1000;
    const c = new TraceIdCache(cap);
    const ref = new Map<string, number>();
    const order: string[] = [];
    let x = 7;
    for (let step = 0; step < 50_000; step++) {
      x = (x * 1103515245 + 12345) >>> 0;
      const k = key(x % 3000);
      if (x & 0x10000) {
        const v = x % 60000;
        if (!ref.has(k)) {
          if (ref.size === cap) ref.delete(order.shift()!);
          order.push(k);
        }
        ref.set(k, v);
        c.set(k, v, step);
      } else {
        expect(c.get(k)).toBe(ref.get(k) ?? -1);
      }
    }
    expect(c.size).toBe(ref.size);
    for (const [k, v] of ref) expect(c.get(k)).toBe(v);
  });

  it('is sized by memory and remembers decision times', () => {
    const c = TraceIdCache.ofBytes(1024 * 1024);
    expect(c.byteSize).toBeLessThanOrEqual(1024 * 1024);
    expect(c.capacity).toBeGreaterThan((1024 * 1024) / (ENTRY_BYTES + 16));
    c.set(key(1), 3, 42);
    expect(c.get(key(1))).toBe(3);
    expect(c.lastHitTime()).toBe(42);
    expect(c.get(key(2))).toBe(-1);
  });

  it('handles ids that are not 16 bytes, and a zero capacity', () => {
    const c = new TraceIdCache(4);
    c.set('', 1, 0);
    c.set('abc', 2, 0);
    expect(c.get('')).toBe(1);
    expect(c.get('abc')).toBe(2);
    const z = new TraceIdCache(0);
    z.set(key(1), 1, 0);
    expect(z.get(key(1))).toBe(-1);
  });
});
