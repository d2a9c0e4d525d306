// Garbage collection on request, and the daemon's reclaim of dead request bytes.
//
// Request bytes live in ArrayBuffers outside the V8 heap. A request stays
// alive for the batch timeout and the export, long enough to be promoted to
// the old generation, so its buffer is freed only by a major GC. V8 starts a
// major GC on the heap's own growth, or once external memory has grown by
// 64 MiB. At a steady moderate rate the heap hardly grows, and the dead
// buffers pile up in malloc's arena until that 64 MiB step.
//
// The reclaimer asks for a major GC (incremental, as V8 runs its own) when
// ArrayBuffer memory has grown by RECLAIM_GROWTH since the last major GC and
// V8 has run none for QUIET_MS. Under heavy load V8 runs majors several times
// a second on its own and the reclaimer does nothing: forcing more there only
// lowers V8's next old-generation limit, and it then collects far more often.
// Measured with bench/e2e.ts on the 2-core machine:
//   passthrough at 10k spans/s, gRPC, as the bin runs it:
//     without                          101.5-101.8 MiB peak RSS, 7.8-8.5% of a core
//     a major GC on 16 MiB of growth     90.0-90.7 MiB,          7.7-8.2%
//     the same, only when V8 ran none
//     for a second (this file)           90.3-91.3 MiB,          8.7-9.0%
//   full pipeline flat out, 20 attributes:
//     without                          41k-44k spans/s per core, 460-497 MiB
//     a major GC on 16 MiB of growth,
//     whatever V8 ran                  25k-30k, 324-367 MiB (V8 then ran 150 majors
//                                      in 17 s instead of 60)
//     this file                        36k-41k, 432-479 MiB (none asked for)
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export type GcFunction = (opts?: { type?: 'major' | 'minor'; execution?: 'sync' | 'async' }) => void | Promise<void>;

let gcFn: GcFunction | undefined;

/**
 * V8's gc(): the global one under --expose-gc, else taken from a new context
 * after exposing it there (the flag applies to contexts made after it is set).
 */
export function gcFunction(): GcFunction {
  if (gcFn) return gcFn;
  const g = (globalThis as { gc?: GcFunction }).gc;
  if (typeof g === 'function') return (gcFn = g);
  setFlagsFromString('--expose-gc');
  gcFn = runInNewContext('gc') as GcFunction;
  return gcFn;
}

const MiB = 1024 * 1024;
/** ArrayBuffer growth since the last major GC that asks for one. */
export const RECLAIM_GROWTH = 16 * MiB;
/** How long V8 must have run no major GC of its own. */
export const QUIET_MS = 1000;
const TICK_MS = 250;

interface ReclaimerDeps {
  /** ArrayBuffer bytes now. */
  arrayBuffers: () => number;
  /** Asks for a major GC. */
  collect: () => void;
  /** Milliseconds, monotonic. */
  now: () => number;
}

const realDeps: ReclaimerDeps = {
  arrayBuffers: () => process.memoryUsage().arrayBuffers,
  collect: () => void gcFunction()({ type: 'major', execution: 'async' }),
  now: () => performance.now(),
};

export class Reclaimer {
  private users = 0;
  private timer: NodeJS.Timeout | undefined;
  private observer: PerformanceObserver | undefined;
  /** ArrayBuffer bytes just after the last major GC. */
  private base = 0;
  private lastMajor = 0;

  constructor(private readonly deps: ReclaimerDeps = realDeps) {}

  acquire(): void {
    if (this.users++ > 0) return;
    this.majorSeen();
    this.observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) if ((e as unknown as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) this.majorSeen();
    });
    this.observer.observe({ entryTypes: ['gc'] });
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  release(): void {
    if (this.users === 0 || --this.users > 0) return;
    clearInterval(this.timer);
    this.observer?.disconnect();
    this.timer = undefined;
    this.observer = undefined;
  }

  /** A major GC has run (reported by V8's GC observer). */
  majorSeen(): void {
    this.lastMajor = this.deps.now();
    this.base = this.deps.arrayBuffers();
  }

  /** One check: asks for a major GC when the rule in the header holds. */
  tick(): void {
    const ab = this.deps.arrayBuffers();
    if (ab < this.base) this.base = ab;
    const now = this.deps.now();
    if (ab - this.base < RECLAIM_GROWTH || now - this.lastMajor < QUIET_MS) return;
    // Counted as a major GC from now on, so a slow one is not asked for twice.
    this.lastMajor = now;
    this.deps.collect();
  }
}

const reclaimer = new Reclaimer();

/** Starts the reclaim of dead request bytes for the process; each call wants one stopExternalReclaim(). */
export function startExternalReclaim(): void {
  reclaimer.acquire();
}

export function stopExternalReclaim(): void {
  reclaimer.release();
}

/**
 * Old-generation growth while a component keeps a large population of live
 * objects for seconds (tail sampling's buffered traces). V8 sizes the next
 * major GC's limit from the live heap times a factor that, for a small heap
 * that collects fast, is close to 1: the full pipeline at a fixed 10k spans/s
 * ran 70-78 major GCs in 22 s, each freeing about 1 MB of a 13 MB heap.
 * Measured with `npm run bench:e2e -- --scenario full --attrs 20 --rate 10000
 * --concurrency 4 --duration 20`, the flag set at run time:
 *   V8's own factor                  32.5-32.7% of a core, 146-151 MiB, 70-78 majors
 *   --heap-growing-percent=100       29.3%, 154 MiB, 37 majors
 *   --heap-growing-percent=200       23.4%, 163 MiB, 20 majors
 * Flat out it made no difference (46.6k against 47.9k spans/s per core, 466
 * against 475 MiB). It is not set for every pipeline: passthrough at 10k
 * spans/s peaked at 107 MiB with it instead of 90.
 */
export const BUFFERING_HEAP_GROWTH_PERCENT = 200;
let growthHolders = 0;

/** Asks for the larger old-generation growth step; each call wants one releaseHeapGrowth(). */
export function holdHeapGrowth(): void {
  if (growthHolders++ === 0) setFlagsFromString(`--heap-growing-percent=${BUFFERING_HEAP_GROWTH_PERCENT}`);
}

export function releaseHeapGrowth(): void {
  if (growthHolders === 0 || --growthHolders > 0) return;
  // 0 is V8's default: its own heuristics.
  setFlagsFromString('--heap-growing-percent=0');
}

/** Components holding the larger growth step (tests). */
export function heapGrowthHolders(): number {
  return growthHolders;
}
