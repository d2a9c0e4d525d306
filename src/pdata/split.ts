// Splits a batch into parts of at most `max` items (spans, data points, log
// records), keeping resource and scope envelopes on each part.
import type { ResourceLogs, ResourceMetrics, ResourceSpans, Metric, MetricData } from './model.js';
import { Telemetry } from './telemetry.js';

export function splitTelemetry(data: Telemetry, max: number): Telemetry[] {
  if (max <= 0 || data.itemCount() <= max) return [data];
  let parts: Telemetry[];
  switch (data.signal) {
    case 'traces':
      parts = chunkTraces(data.read() as ResourceSpans[], max).map((r) => Telemetry.fromModel('traces', r, data.ctx));
      break;
    case 'logs':
      parts = chunkLogs(data.read() as ResourceLogs[], max).map((r) => Telemetry.fromModel('logs', r, data.ctx));
      break;
    default:
      parts = chunkMetrics(data.read() as ResourceMetrics[], max).map((r) => Telemetry.fromModel('metrics', r, data.ctx));
  }
  // Every extra part holds its own reference on durably stored requests (each is released once downstream).
  const refs = data.ctx.durable;
  if (refs) for (let i = 1; i < parts.length; i++) for (const r of refs) r.retain();
  return parts;
}

/** Generic chunker over resource → scope → items. */
function chunk<R, S, I>(
  resources: readonly R[],
  max: number,
  scopesOf: (r: R) => readonly S[],
  itemsOf: (s: S) => readonly I[],
  withScopes: (r: R, scopes: S[]) => R,
  withItems: (s: S, items: I[]) => S,
): R[][] {
  const out: R[][] = [];
  let cur: R[] = [];
  let n = 0;
  const flush = () => {
    if (cur.length) out.push(cur);
    cur = [];
    n = 0;
  };
  for (const r of resources) {
    let scopes: S[] = [];
    for (const s of scopesOf(r)) {
      let items: I[] = [];
      for (const it of itemsOf(s)) {
        items.push(it);
        n++;
        if (n >= max) {
          scopes.push(withItems(s, items));
          cur.push(withScopes(r, scopes));
          flush();
          scopes = [];
          items = [];
        }
      }
      if (items.length) scopes.push(withItems(s, items));
    }
    if (scopes.length) cur.push(withScopes(r, scopes));
  }
  flush();
  return out;
}

function chunkTraces(rs: readonly ResourceSpans[], max: number): ResourceSpans[][] {
  return chunk(rs, max, (r) => r.scopeSpans, (s) => s.spans, (r, scopeSpans) => ({ ...r, scopeSpans }), (s, spans) => ({ ...s, spans }));
}

function chunkLogs(rs: readonly ResourceLogs[], max: number): ResourceLogs[][] {
  return chunk(rs, max, (r) => r.scopeLogs, (s) => s.logRecords, (r, scopeLogs) => ({ ...r, scopeLogs }), (s, logRecords) => ({ ...s, logRecords }));
}

/** Metrics split at data-point granularity: one metric may be split across parts. */
function chunkMetrics(rs: readonly ResourceMetrics[], max: number): ResourceMetrics[][] {
  type Pt = { metric: Metric; dp: unknown };
  const withPoints = (m: Metric, pts: unknown[]): Metric => {
    const d = m.data;
    if (d.type === 'empty') return m;
    return { ...m, data: { ...d, dataPoints: pts } as MetricData };
  };
  return chunk(
    rs,
    max,
    (r) => r.scopeMetrics,
    (s) => s.metrics.flatMap((metric): Pt[] => (metric.data.type === 'empty' ? [] : (metric.data.dataPoints as unknown[]).map((dp) => ({ metric, dp })))),
    (r, scopeMetrics) => ({ ...r, scopeMetrics }),
    (s, pts: Pt[]) => {
      const metrics: Metric[] = [];
      let last: Metric | undefined;
      let acc: unknown[] = [];
      for (const p of pts) {
        if (p.metric !== last) {
          if (last) metrics.push(withPoints(last, acc));
          last = p.metric;
          acc = [];
        }
        acc.push(p.dp);
      }
      if (last) metrics.push(withPoints(last, acc));
      return { ...s, metrics };
    },
  );
}
