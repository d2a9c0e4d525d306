// Realistic metric batches for benchmarks: a mix of counters, gauges and
// histograms with 5 data point attributes, as an instrumented HTTP service
// exports them.
import type { Metric, ResourceMetrics } from '../../pdata/model.js';
import { T0, gauge, histogram, resourceMetrics, sum } from './metrics.js';

const METHODS = ['GET', 'POST', 'PUT', 'DELETE'];
const BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * One batch of about `points` data points spread over `metrics` metric names
 * (a third each counters, gauges and histograms; half counters, half gauges
 * without histograms), series numbered from
 * `seriesOffset`, all at `timeMs`. Metric names cycle so every batch holds
 * the same series at a later time when `seriesOffset` repeats.
 */
export function loadBatch(points: number, timeMs = T0, seriesOffset = 0, metrics = 30, services = 4, histograms = true): ResourceMetrics[] {
  const perMetric = Math.max(1, Math.floor(points / metrics));
  const byService: Metric[][] = Array.from({ length: services }, () => []);
  for (let m = 0; m < metrics; m++) {
    const pts = [];
    for (let i = 0; i < perMetric; i++) {
      const id = seriesOffset + i;
      pts.push({
        attrs: {
          'http.method': METHODS[id % 4]!,
          'http.route': `/api/v1/items/${id % 50}`,
          'http.status_code': 200 + (id % 3) * 100,
          'net.host.name': `host-${id % 7}.example.com`,
          'user.tier': `tier-${Math.floor(id / 200)}`,
        },
        value: id + timeMs / 1000,
        time: timeMs,
        start: T0 - 60_000,
      });
    }
    const name = `app.metric.${m}`;
    const kind = histograms ? m % 3 : m % 2;
    const metric =
      kind === 0
        ? sum(name, pts, { unit: '{request}' })
        : kind === 1
          ? gauge(name, pts, 'By')
          : histogram(
              name,
              pts.map((p) => ({ attrs: p.attrs, bounds: BOUNDS, counts: BOUNDS.map((_, b) => (b + Number(p.value)) % 5).concat([1]), sum: Number(p.value), time: p.time, start: p.start })),
              { unit: 's' },
            );
    byService[m % services]!.push(metric);
  }
  return byService.map((ms, s) => resourceMetrics({ 'service.name': `svc-${s}`, 'service.instance.id': `inst-${s}`, 'host.name': `node-${s}` }, ms));
}
