// Process metrics under the Collector's names (otelcol_process_*), read when
// the endpoint is scraped, plus Node's event-loop delay under sieve_*.
//
// The Collector exposes uptime and CPU seconds as cumulative sums; here they
// are gauges so that the names stay exactly the Collector's and `promtool
// check metrics` (which wants counters to end in _total) passes. PromQL's
// rate() works on them all the same. Go's cumulative allocation counter
// (otelcol_process_runtime_total_alloc_bytes) has no Node equivalent and is
// not exposed.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import type { SelfTelemetry } from './telemetry.js';

const registered = new WeakSet<SelfTelemetry>();
let loopDelay: IntervalHistogram | undefined;

/** Registers the process metrics on a registry (idempotent). */
export function registerProcessMetrics(t: SelfTelemetry): void {
  if (registered.has(t)) return;
  registered.add(t);
  t.gauge('otelcol_process_uptime', 'Uptime of the process (seconds).', [], function () {
    this.set(process.uptime());
  });
  t.gauge('otelcol_process_cpu_seconds', 'Total CPU user and system time in seconds.', [], function () {
    const u = process.cpuUsage();
    this.set((u.user + u.system) / 1e6);
  });
  t.gauge('otelcol_process_memory_rss', 'Total physical memory (resident set size) in bytes.', [], function () {
    this.set(process.memoryUsage.rss());
  });
  t.gauge('otelcol_process_runtime_heap_alloc_bytes', 'Bytes of allocated heap objects (V8 heap used).', [], function () {
    this.set(process.memoryUsage().heapUsed);
  });
  t.gauge('otelcol_process_runtime_total_sys_memory_bytes', 'Total bytes of memory obtained from the OS (V8 heap reserved plus memory outside the heap).', [], function () {
    const m = process.memoryUsage();
    this.set(getHeapStatistics().total_heap_size + m.external + m.arrayBuffers);
  });
  loopDelay ??= startLoopDelay();
  const h = loopDelay;
  t.gauge('sieve_process_event_loop_delay_seconds', 'Event-loop delay since the previous scrape: median, 99th percentile and worst stall.', ['stat'], function () {
    this.set({ stat: 'p50' }, h.percentile(50) / 1e9);
    this.set({ stat: 'p99' }, h.percentile(99) / 1e9);
    this.set({ stat: 'max' }, h.max / 1e9);
    h.reset();
  });
}

function startLoopDelay(): IntervalHistogram {
  const h = monitorEventLoopDelay({ resolution: 20 });
  h.enable();
  return h;
}
