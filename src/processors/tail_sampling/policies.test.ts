import { describe, expect, it } from 'vitest';
import { harness, mkSpan, spansReq, traceId, type SpanOpts } from './testutil.js';
import { TailProbabilistic } from '../probabilistic_sampler/hash.js';

/** Sends each trace's spans, waits out decision_wait, returns the kept trace numbers. */
async function keptBy(policies: unknown[], traces: SpanOpts[][], extra: Record<string, unknown> = {}, res?: Record<string, string>): Promise<number[]> {
  const h = await harness({ decision_wait: '1s', policies, ...extra });
  for (const spans of traces) await h.proc.consume(spansReq(spans.map(mkSpan), res));
  await h.advance(1000);
  await h.proc.shutdown();
  return [...h.keptTraces()].sort((a, b) => a - b);
}

const P = (type: string, block?: Record<string, unknown>, name = `p-${type}`) => ({ name, type, ...(block ? { [type]: block } : {}) });

describe('leaf policies', () => {
  const cases: { name: string; policy: unknown; traces: SpanOpts[][]; kept: number[] }[] = [
    { name: 'always_sample', policy: P('always_sample'), traces: [[{ trace: 1 }], [{ trace: 2 }]], kept: [1, 2] },
    {
      name: 'latency: first start to last end >= threshold_ms',
      policy: P('latency', { threshold_ms: 100 }),
      traces: [
        [{ trace: 1, startMs: 0, durMs: 10 }, { trace: 1, startMs: 90, durMs: 10, parent: 1 }],
        [{ trace: 2, startMs: 0, durMs: 99 }],
        [{ trace: 3, startMs: 5, durMs: 100 }],
      ],
      kept: [1, 3],
    },
    {
      name: 'latency with upper_threshold_ms: (threshold, upper]',
      policy: P('latency', { threshold_ms: 100, upper_threshold_ms: 200 }),
      traces: [[{ trace: 1, durMs: 100 }], [{ trace: 2, durMs: 150 }], [{ trace: 3, durMs: 200 }], [{ trace: 4, durMs: 201 }]],
      kept: [2, 3],
    },
    {
      name: 'latency with upper: a running window in range samples (the Collector stops at the first matching span)',
      policy: P('latency', { threshold_ms: 100, upper_threshold_ms: 200 }),
      traces: [[{ trace: 1, durMs: 150 }, { trace: 1, startMs: 0, durMs: 500, parent: 1 }]],
      kept: [1],
    },
    {
      name: 'numeric_attribute on span or resource attributes, ints only',
      policy: P('numeric_attribute', { key: 'http.status_code', min_value: 500, max_value: 599 }),
      traces: [[{ trace: 1, attrs: { 'http.status_code': 503 } }], [{ trace: 2, attrs: { 'http.status_code': 200 } }], [{ trace: 3, attrs: { 'http.status_code': 503.5 } }], [{ trace: 4 }]],
      kept: [1],
    },
    {
      name: 'numeric_attribute with only min_value',
      policy: P('numeric_attribute', { key: 'n', min_value: 50 }),
      traces: [[{ trace: 1, attrs: { n: 5000 } }], [{ trace: 2, attrs: { n: 49 } }]],
      kept: [1],
    },
    {
      name: 'numeric_attribute invert_match: sampled when no value matches',
      policy: P('numeric_attribute', { key: 'n', min_value: 0, max_value: 10, invert_match: true }),
      traces: [[{ trace: 1, attrs: { n: 5 } }], [{ trace: 2, attrs: { n: 50 } }], [{ trace: 3 }]],
      kept: [2, 3],
    },
    {
      name: 'string_attribute exact values',
      policy: P('string_attribute', { key: 'http.route', values: ['/a', '/b'] }),
      traces: [[{ trace: 1, attrs: { 'http.route': '/a' } }], [{ trace: 2, attrs: { 'http.route': '/ab' } }], [{ trace: 3, attrs: { 'http.route': 7 } }]],
      kept: [1],
    },
    {
      name: 'string_attribute regex (unanchored, as Go regexp.MatchString)',
      policy: P('string_attribute', { key: 'http.route', values: ['^/v1/name/.+', 'health'], enabled_regex_matching: true, cache_max_size: 10 }),
      traces: [[{ trace: 1, attrs: { 'http.route': '/v1/name/42' } }], [{ trace: 2, attrs: { 'http.route': '/v1/name/' } }], [{ trace: 3, attrs: { 'http.route': '/healthz' } }]],
      kept: [1, 3],
    },
    {
      name: 'string_attribute invert_match',
      policy: P('string_attribute', { key: 'team', values: ['a'], invert_match: true }),
      traces: [[{ trace: 1, attrs: { team: 'a' } }], [{ trace: 2, attrs: { team: 'b' } }], [{ trace: 3, attrs: { team: 'b' } }, { trace: 3, attrs: { team: 'a' }, parent: 1 }]],
      kept: [2],
    },
    {
      name: 'boolean_attribute',
      policy: P('boolean_attribute', { key: 'app.force_sample', value: true }),
      traces: [[{ trace: 1, attrs: { 'app.force_sample': true } }], [{ trace: 2, attrs: { 'app.force_sample': false } }], [{ trace: 3, attrs: { 'app.force_sample': 'true' } }]],
      kept: [1],
    },
    {
      name: 'status_code',
      policy: P('status_code', { status_codes: ['ERROR'] }),
      traces: [[{ trace: 1 }, { trace: 1, status: 2, parent: 1 }], [{ trace: 2, status: 1 }], [{ trace: 3 }]],
      kept: [1],
    },
    {
      name: 'status_code UNSET and OK',
      policy: P('status_code', { status_codes: ['OK', 'UNSET'] }),
      traces: [[{ trace: 1, status: 2 }], [{ trace: 2, status: 1 }], [{ trace: 3 }]],
      kept: [2, 3],
    },
    {
      name: 'span_count (inclusive; max 0 = no upper bound)',
      policy: P('span_count', { min_spans: 2, max_spans: 3 }),
      traces: [[{ trace: 1 }], [{ trace: 2 }, { trace: 2, parent: 1 }], [{ trace: 3 }, { trace: 3, parent: 1 }, { trace: 3, parent: 1 }, { trace: 3, parent: 1 }]],
      kept: [2],
    },
    {
      name: 'trace_state',
      policy: P('trace_state', { key: 'vendor', values: ['keep'] }),
      traces: [[{ trace: 1, traceState: 'a=1,vendor=keep' }], [{ trace: 2, traceState: 'vendor=drop' }], [{ trace: 3 }]],
      kept: [1],
    },
    {
      name: 'trace_flags: the W3C sampled flag on any span',
      policy: P('trace_flags'),
      traces: [[{ trace: 1, flags: 0 }, { trace: 1, flags: 1, parent: 1 }], [{ trace: 2, flags: 0 }]],
      kept: [1],
    },
    {
      name: 'rate_limiting: spans per second, strictly below the limit',
      policy: P('rate_limiting', { spans_per_second: 3 }),
      traces: [[{ trace: 1 }], [{ trace: 2 }], [{ trace: 3 }], [{ trace: 4 }]],
      kept: [1, 2],
    },
    {
      name: 'bytes_limiting: a token bucket over encoded size (burst caps a single trace)',
      policy: P('bytes_limiting', { bytes_per_second: 150, burst_capacity: 150 }),
      traces: [[{ trace: 1 }], [{ trace: 2 }], [{ trace: 3 }, { trace: 3, parent: 1 }]],
      kept: [1],
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      expect(await keptBy([c.policy], c.traces)).toEqual(c.kept);
    });
  }

  it('resource attributes count for attribute policies', async () => {
    expect(await keptBy([P('string_attribute', { key: 'service.name', values: ['checkout'] })], [[{ trace: 1 }]])).toEqual([1]);
  });

  it('probabilistic samples by trace id with the Collector hash (salted FNV-1a 64)', async () => {
    const traces = Array.from({ length: 400 }, (_, i) => [{ trace: i + 1 }]);
    const kept = await keptBy([P('probabilistic', { sampling_percentage: 25, hash_salt: 'salt' })], traces);
    const tp = new TailProbabilistic(25, 'salt');
    const expected = traces.map((t) => t[0]!.trace).filter((n) => tp.sampled(traceId(n)));
    expect(kept).toEqual(expected);
    expect(kept.length).toBeGreaterThan(60);
    expect(kept.length).toBeLessThan(140);
  });
});

describe('combinators and the decision rule', () => {
  const err = { name: 'errors', type: 'status_code', status_code: { status_codes: ['ERROR'] } };
  const health = { name: 'health', type: 'string_attribute', string_attribute: { key: 'url.path', values: ['/health'] } };

  it('and: every sub-policy must sample', async () => {
    const and = { name: 'and', type: 'and', and: { and_sub_policy: [err, { name: 'svc', type: 'string_attribute', string_attribute: { key: 'tier', values: ['gold'] } }] } };
    const kept = await keptBy([and], [[{ trace: 1, status: 2, attrs: { tier: 'gold' } }], [{ trace: 2, status: 2 }], [{ trace: 3, attrs: { tier: 'gold' } }]]);
    expect(kept).toEqual([1]);
  });

  it('and: an inverted match counts as sampled inside and', async () => {
    const and = {
      name: 'not-team-a',
      type: 'and',
      and: { and_sub_policy: [{ name: 'inv', type: 'string_attribute', string_attribute: { key: 'team', values: ['a'], invert_match: true } }, { name: 'all', type: 'always_sample' }] },
    };
    expect(await keptBy([and], [[{ trace: 1, attrs: { team: 'a' } }], [{ trace: 2, attrs: { team: 'b' } }]])).toEqual([2]);
  });

  it('not: inverts its sub-policy', async () => {
    expect(await keptBy([{ name: 'not-health', type: 'not', not: { not_sub_policy: health } }], [[{ trace: 1, attrs: { 'url.path': '/health' } }], [{ trace: 2 }]])).toEqual([2]);
  });

  it('drop: a match drops the trace whatever other policies say', async () => {
    const drop = { name: 'drop-health', type: 'drop', drop: { drop_sub_policy: [health] } };
    const kept = await keptBy([{ name: 'all', type: 'always_sample' }, drop], [[{ trace: 1, attrs: { 'url.path': '/health' } }], [{ trace: 2 }]]);
    expect(kept).toEqual([2]);
  });

  it('an inverted not-sample vetoes, an inverted sample needs no plain not-sample', async () => {
    const inv = { name: 'inv', type: 'string_attribute', string_attribute: { key: 'team', values: ['a'], invert_match: true } };
    // team a → InvertNotSampled: not sampled even though always_sample samples.
    expect(await keptBy([{ name: 'all', type: 'always_sample' }, inv], [[{ trace: 1, attrs: { team: 'a' } }]])).toEqual([]);
    // team b → InvertSampled, but errors said NotSampled → not sampled; with an error → sampled.
    expect(await keptBy([inv, err], [[{ trace: 1, attrs: { team: 'b' } }], [{ trace: 2, attrs: { team: 'b' }, status: 2 }]])).toEqual([2]);
    expect(await keptBy([inv], [[{ trace: 1, attrs: { team: 'b' } }]])).toEqual([1]);
  });

  it('sample_on_first_match stops at the first sampling policy (a later drop is not evaluated)', async () => {
    const drop = { name: 'drop-health', type: 'drop', drop: { drop_sub_policy: [health] } };
    const traces = [[{ trace: 1, attrs: { 'url.path': '/health' } }]];
    expect(await keptBy([{ name: 'all', type: 'always_sample' }, drop], traces, { sample_on_first_match: true })).toEqual([1]);
    expect(await keptBy([{ name: 'all', type: 'always_sample' }, drop], traces, { sample_on_first_match: false })).toEqual([]);
  });

  it('composite: per-second budgets by rate_allocation, in policy_order', async () => {
    const composite = {
      name: 'composite',
      type: 'composite',
      composite: {
        max_total_spans_per_second: 10,
        policy_order: ['errors', 'rest'],
        composite_sub_policy: [
          { name: 'rest', type: 'always_sample' },
          { name: 'errors', type: 'status_code', status_code: { status_codes: ['ERROR'] } },
        ],
        rate_allocation: [
          { policy: 'errors', percent: 50 },
          { policy: 'rest', percent: 30 },
        ],
      },
    };
    // 2-span traces. errors: budget 5 spans/s → 2 traces; rest: budget 3 → 1 trace.
    const two = (trace: number, status: 0 | 2): SpanOpts[] => [{ trace, status }, { trace, parent: 1 }];
    const traces = [two(1, 2), two(2, 2), two(3, 2), two(4, 0), two(5, 0)];
    const h = await harness({ decision_wait: '1s', record_policy: true, policies: [composite] });
    for (const t of traces) await h.proc.consume(spansReq(t.map(mkSpan)));
    await h.advance(1000);
    // trace 3 is an error over the errors budget: the first sub-policy that wants it decides (not sampled).
    expect([...h.keptTraces()].sort()).toEqual([1, 2, 4]);
    const sub = h.spans().map((s) => s.attributes.find((a) => a.key === 'sampling.composite_policy')?.value);
    expect(sub.filter((v) => v?.type === 'string' && v.value === 'errors').length).toBe(4);
    expect(sub.filter((v) => v?.type === 'string' && v.value === 'rest').length).toBe(2);
    // The next second has a fresh budget.
    for (const t of [two(6, 2), two(7, 0)]) await h.proc.consume(spansReq(t.map(mkSpan)));
    await h.advance(1000);
    expect(h.keptTraces().has(6) && h.keptTraces().has(7)).toBe(true);
    await h.proc.shutdown();
  });

  it('composite: a sub-policy missing from rate_allocation has no budget; percent 0 gets an equal share', async () => {
    const mk = (alloc: unknown[]) => ({
      name: 'c',
      type: 'composite',
      composite: { max_total_spans_per_second: 100, policy_order: [], composite_sub_policy: [{ name: 'all', type: 'always_sample' }, { name: 'x', type: 'always_sample' }], rate_allocation: alloc },
    });
    expect(await keptBy([mk([])], [[{ trace: 1 }]])).toEqual([]);
    expect(await keptBy([mk([{ policy: 'all', percent: 0 }])], [[{ trace: 1 }]])).toEqual([1]);
  });

  it('count_traces_sampled counts each policy decision with upstream labels', async () => {
    const h = await harness({ decision_wait: '1s', policies: [err, { name: 'all', type: 'always_sample' }] });
    await h.proc.consume(spansReq([mkSpan({ trace: 1, status: 2 }), mkSpan({ trace: 2 })]));
    await h.advance(1000);
    const m = 'otelcol_processor_tail_sampling_count_traces_sampled';
    expect(await h.metric(m, { policy: 'errors', sampled: 'true' })).toBe(1);
    expect(await h.metric(m, { policy: 'errors', sampled: 'false' })).toBe(1);
    expect(await h.metric(m, { policy: 'all', sampled: 'true' })).toBe(2);
    expect(await h.metric('otelcol_processor_tail_sampling_global_count_traces_sampled', { sampled: 'true' })).toBe(2);
    await h.proc.shutdown();
  });
});
