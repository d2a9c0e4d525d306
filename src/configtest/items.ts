// What `sieve test` matches and `sieve tap` shows: one flat record per span,
// log record or metric data point. Kept apart from the test runner so that
// the daemon (which taps) does not load the runner's fake timers and diff.
import type { AnyValue, KeyValue, ResourceLogs, ResourceMetrics, ResourceSpans } from '../pdata/model.js';
import type { Telemetry } from '../pdata/telemetry.js';

export type Item = Record<string, unknown>;

function flat(v: AnyValue): unknown {
  switch (v.type) {
    case 'int':
      return Number(v.value);
    case 'bytes':
      return Buffer.from(v.value).toString('base64');
    case 'array':
      return v.value.map(flat);
    case 'kvlist':
      return attrs(v.value);
    case 'empty':
      return null;
    default:
      return v.value;
  }
}
const attrs = (kvs: readonly KeyValue[]): Record<string, unknown> => Object.fromEntries(kvs.map((kv) => [kv.key, flat(kv.value)]));

/** One entry per span, log record or metric data point. */
export function itemsOf(d: Telemetry): Item[] {
  const out: Item[] = [];
  const tenant = d.ctx.tenant;
  if (d.signal === 'traces') {
    for (const rs of d.read() as readonly ResourceSpans[])
      for (const ss of rs.scopeSpans) for (const sp of ss.spans) out.push({ name: sp.name, attributes: attrs(sp.attributes), resource: attrs(rs.resource.attributes), tenant });
  } else if (d.signal === 'logs') {
    for (const rl of d.read() as readonly ResourceLogs[])
      for (const sl of rl.scopeLogs) for (const lr of sl.logRecords) out.push({ body: flat(lr.body), attributes: attrs(lr.attributes), resource: attrs(rl.resource.attributes), tenant });
  } else {
    for (const rm of d.read() as readonly ResourceMetrics[])
      for (const sm of rm.scopeMetrics)
        for (const m of sm.metrics)
          for (const dp of ((m.data as { dataPoints?: { attributes: KeyValue[] }[] }).dataPoints ?? [])) out.push({ name: m.name, attributes: attrs(dp.attributes), resource: attrs(rm.resource.attributes), tenant });
  }
  return out;
}

