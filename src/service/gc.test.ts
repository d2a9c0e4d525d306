import { describe, expect, it } from 'vitest';
import { harness } from '../processors/tail_sampling/testutil.js';
import { gcFunction, heapGrowthHolders, holdHeapGrowth, QUIET_MS, Reclaimer, RECLAIM_GROWTH, releaseHeapGrowth } from './gc.js';

const MiB = 1024 * 1024;

describe('garbage collection', () => {
  it('gives V8 gc() without --expose-gc', () => {
    expect((globalThis as { gc?: unknown }).gc).toBeUndefined();
    const gc = gcFunction();
    expect(typeof gc).toBe('function');
    gc();
  });

  it('asks for a major collection once request bytes grew by 16 MiB and V8 ran none for a second', () => {
    let ab = 50 * MiB;
    let now = 0;
    let collected = 0;
    const r = new Reclaimer({ arrayBuffers: () => ab, collect: () => void collected++, now: () => now });
    r.majorSeen();
    ab += RECLAIM_GROWTH - 1;
    now += 5000;
    r.tick();
    expect(collected).toBe(0); // not grown enough
    ab += 1;
    r.tick();
    expect(collected).toBe(1);
    r.tick();
    expect(collected).toBe(1); // asked for: counted as a collection, not asked again within the second
    now += QUIET_MS;
    r.tick();
    expect(collected).toBe(2); // still not freed a second later: asked again
    // V8 collects on its own, often: nothing is asked for, whatever the growth.
    for (let i = 0; i < 10; i++) {
      r.majorSeen();
      ab += 20 * MiB;
      now += QUIET_MS / 2;
      r.tick();
    }
    expect(collected).toBe(2);
    // The bytes after a collection are the new base; less later lowers it.
    r.majorSeen();
    ab -= 100 * MiB;
    now += 2 * QUIET_MS;
    r.tick();
    ab += RECLAIM_GROWTH;
    r.tick();
    expect(collected).toBe(3);
  });

  it('holds the larger old-generation step while a tail_sampling processor runs, once per processor', async () => {
    expect(heapGrowthHolders()).toBe(0);
    const a = await harness({ decision_wait: '1s', policies: [{ name: 'all', type: 'always_sample' }] });
    const b = await harness({ decision_wait: '1s', policies: [{ name: 'all', type: 'always_sample' }] });
    expect(heapGrowthHolders()).toBe(2);
    await a.proc.shutdown();
    await a.proc.shutdown();
    expect(heapGrowthHolders()).toBe(1);
    await b.proc.shutdown();
    expect(heapGrowthHolders()).toBe(0);
    // Not started: nothing to give back.
    const c = await harness({ decision_wait: '1s', policies: [{ name: 'all', type: 'always_sample' }] }, { start: false });
    await c.proc.shutdown();
    expect(heapGrowthHolders()).toBe(0);
    holdHeapGrowth();
    releaseHeapGrowth();
    releaseHeapGrowth();
    expect(heapGrowthHolders()).toBe(0);
  });
});
