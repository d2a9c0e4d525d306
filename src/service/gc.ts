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
const QUIET_MS = 1000;
const TICK_MS = 250;

class Reclaimer {
  private users = 0;
  private timer: NodeJS.Timeout | undefined;
  private observer: PerformanceObserver | undefined;
  /** ArrayBuffer bytes just after the last major GC. */
  private base = 0;
  private lastMajor = 0;
  /** Major GCs the reclaimer asked for. */
  requested = 0;

  acquire(): void {
    if (this.users++ > 0) return;
    this.base = process.memoryUsage().arrayBuffers;
    this.lastMajor = performance.now();
    this.observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        if ((e as unknown as { detail?: { kind?: number } }).detail?.kind !== constants.NODE_PERFORMANCE_GC_MAJOR) continue;
        this.lastMajor = performance.now();
        this.base = process.memoryUsage().arrayBuffers;
      }
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

  private tick(): void {
    const ab = process.memoryUsage().arrayBuffers;
    if (ab < this.base) this.base = ab;
    const now = performance.now();
    if (ab - this.base < RECLAIM_GROWTH || now - this.lastMajor < QUIET_MS) return;
    // Counted as a major GC from now on, so a slow one is not asked for twice.
    this.lastMajor = now;
    this.requested++;
    void gcFunction()({ type: 'major', execution: 'async' });
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

/** Major GCs the reclaimer has asked for (tests). */
export function reclaimRequests(): number {
  return reclaimer.requested;
}
