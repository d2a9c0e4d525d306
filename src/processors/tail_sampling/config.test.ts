import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { parseConfig, harness, mkSpan, spansReq } from './testutil.js';
import { tickInterval } from './config.js';

// A Collector configuration in the style of the tail_sampling README: every
// policy type, flow-style YAML, the Collector's own keys only.
const COLLECTOR_CONFIG = `
decision_wait: 10s
num_traces: 100
expected_new_traces_per_sec: 10
decision_cache:
  sampled_cache_size: 100_000
  non_sampled_cache_size: 100_000
policies:
  [
    { name: test-policy-1, type: always_sample },
    { name: test-policy-2, type: latency, latency: { threshold_ms: 5000, upper_threshold_ms: 10000 } },
    { name: test-policy-3, type: numeric_attribute, numeric_attribute: { key: key1, min_value: 50, max_value: 100 } },
    { name: test-policy-4, type: probabilistic, probabilistic: { sampling_percentage: 10 } },
    { name: test-policy-5, type: status_code, status_code: { status_codes: [ERROR, UNSET] } },
    { name: test-policy-6, type: string_attribute, string_attribute: { key: key2, values: [value1, value2] } },
    { name: test-policy-7, type: string_attribute, string_attribute: { key: key2, values: [value1, val*], enabled_regex_matching: true, cache_max_size: 10 } },
    { name: test-policy-8, type: rate_limiting, rate_limiting: { spans_per_second: 35 } },
    { name: test-policy-9, type: span_count, span_count: { min_spans: 2, max_spans: 20 } },
    { name: test-policy-10, type: trace_state, trace_state: { key: key3, values: [value1, value2] } },
    { name: test-policy-11, type: boolean_attribute, boolean_attribute: { key: key4, value: true } },
    { name: test-policy-12, type: bytes_limiting, bytes_limiting: { bytes_per_second: 1048576 } },
    {
      name: and-policy-1,
      type: and,
      and: {
        and_sub_policy: [
          { name: test-and-policy-1, type: numeric_attribute, numeric_attribute: { key: key1, min_value: 50, max_value: 100 } },
          { name: test-and-policy-2, type: string_attribute, string_attribute: { key: key2, values: [value1, value2] } },
        ],
      },
    },
    {
      name: drop-policy-1,
      type: drop,
      drop: {
        drop_sub_policy: [
          { name: test-drop-policy-1, type: string_attribute, string_attribute: { key: url.path, values: [\\/health, \\/metrics], enabled_regex_matching: true } },
        ],
      },
    },
    { name: not-policy-1, type: not, not: { not_sub_policy: { name: not-sub, type: boolean_attribute, boolean_attribute: { key: app.skip, value: true } } } },
    {
      name: composite-policy-1,
      type: composite,
      composite:
        {
          max_total_spans_per_second: 1000,
          policy_order: [test-composite-policy-1, test-composite-policy-2, test-composite-policy-3],
          composite_sub_policy:
            [
              { name: test-composite-policy-1, type: numeric_attribute, numeric_attribute: { key: key1, min_value: 50 } },
              { name: test-composite-policy-2, type: string_attribute, string_attribute: { key: key2, values: [value1, value2] } },
              { name: test-composite-policy-3, type: always_sample },
            ],
          rate_allocation: [{ policy: test-composite-policy-1, percent: 50 }, { policy: test-composite-policy-2, percent: 25 }],
        },
    },
  ]
`;

// The README's "practical example" shape: and-policies with invert_match and probabilistic, a drop rule.
const PRACTICAL = `
decision_wait: 10s
num_traces: 100
expected_new_traces_per_sec: 10
sample_on_first_match: false
drop_pending_traces_on_shutdown: false
decision_wait_after_root_received: 2s
policies:
  - name: backwards-compatibility-policy
    type: and
    and:
      and_sub_policy:
        - name: services-using-tail_sampling-policy
          type: string_attribute
          string_attribute: { key: service.name, values: [list, of, services, using, tail_sampling], invert_match: true }
        - { name: sample-all-policy, type: always_sample }
  - name: team_a-probe
    type: and
    and:
      and_sub_policy:
        - { name: service-name-policy, type: string_attribute, string_attribute: { key: service.name, values: [service-1, service-2, service-3] } }
        - { name: route-live-ready-policy, type: string_attribute, string_attribute: { key: http.route, values: [/live, /ready], enabled_regex_matching: true } }
        - { name: probabilistic-policy, type: probabilistic, probabilistic: { sampling_percentage: 0.1 } }
  - name: team_a-status-policy
    type: and
    and:
      and_sub_policy:
        - { name: service-name-policy, type: string_attribute, string_attribute: { key: service.name, values: [list, of, services, using, tail_sampling] } }
        - { name: trace-status-policy, type: status_code, status_code: { status_codes: [ERROR] } }
  - { name: team_a-force-sample, type: boolean_attribute, boolean_attribute: { key: app.force_sample, value: true } }
  - name: do-not-sample
    type: drop
    drop:
      drop_sub_policy:
        - { name: team_a-do-not-sample, type: boolean_attribute, boolean_attribute: { key: app.do_not_sample, value: true } }
`;

describe('config', () => {
  it('parses a Collector tail_sampling config unchanged, with defaults', () => {
    const { cfg, issues } = parseConfig(parseYaml(COLLECTOR_CONFIG));
    expect(issues.list).toEqual([]);
    expect(cfg.decision_wait).toBe(10_000);
    expect(cfg.num_traces).toBe(100);
    expect(cfg.decision_cache.sampled_cache_size).toBe(100_000);
    expect(cfg.policies.length).toBe(16);
    expect(cfg.max_buffered_bytes).toBe(256 * 1024 * 1024);
    expect(cfg.on_overflow).toBeUndefined();
    expect(cfg.record_policy).toBe(false);
    expect(tickInterval(cfg)).toBe(1000);
  });

  it('runs the Collector config: errors, slow traces and the composite budget decide; health checks are dropped', async () => {
    const h = await harness(parseYaml(COLLECTOR_CONFIG));
    await h.proc.consume(spansReq([mkSpan({ trace: 1, attrs: { 'url.path': '/health' } }), mkSpan({ trace: 2, status: 2 })]));
    await h.advance(10_000);
    expect([...h.keptTraces()]).toEqual([2]);
    await h.proc.shutdown();
  });

  it('runs the README practical example', async () => {
    const h = await harness(parseYaml(PRACTICAL));
    await h.proc.consume(
      spansReq([mkSpan({ trace: 1, attrs: { 'app.force_sample': true } }), mkSpan({ trace: 2, attrs: { 'app.force_sample': true, 'app.do_not_sample': true } })], {
        'service.name': 'tail_sampling',
      }),
    );
    await h.proc.consume(spansReq([mkSpan({ trace: 3 })], { 'service.name': 'legacy' }));
    await h.advance(2000);
    expect([...h.keptTraces()].sort()).toEqual([1, 3]);
    await h.proc.shutdown();
  });

  it('accepts the Sieve keys', () => {
    const { cfg, issues } = parseConfig({
      policies: [{ name: 'p', type: 'always_sample' }],
      max_buffered_bytes: '512MiB',
      on_overflow: 'refuse',
      record_policy: true,
      decision_cache: { sampled_cache_bytes: '1MiB', non_sampled_cache_bytes: '2MiB' },
      incident_mode: { auto: { error_ratio: 0.5 }, policies: [{ name: 'x', type: 'always_sample' }] },
    });
    expect(issues.list).toEqual([]);
    expect(cfg.max_buffered_bytes).toBe(512 * 1024 * 1024);
    expect(cfg.incident_mode.auto).toEqual({ error_ratio: 0.5, window: 60_000, min_traces: 100, duration: 600_000 });
  });

  const P = 'processors::tail_sampling';
  const invalid: [string, Record<string, unknown>, string, string][] = [
    ['no policies', {}, `${P}::policies`, 'must have at least 1 item'],
    ['unknown type', { policies: [{ name: 'a', type: 'always' }] }, `${P}::policies::0::type`, 'unknown policy type "always"'],
    ['ottl', { policies: [{ name: 'a', type: 'ottl_condition', ottl_condition: { span: ['x'] } }] }, `${P}::policies::0::type`, 'is not supported by Sieve'],
    ['span-ingest', { sampling_strategy: 'span-ingest', policies: [{ name: 'a', type: 'always_sample' }] }, `${P}::sampling_strategy`, 'not supported'],
    ['status code', { policies: [{ name: 'a', type: 'status_code', status_code: { status_codes: ['FAIL'] } }] }, `${P}::policies::0::status_code::status_codes::0`, 'unknown status code "FAIL"'],
    ['empty status codes', { policies: [{ name: 'a', type: 'status_code', status_code: { status_codes: [] } }] }, `${P}::policies::0::status_code::status_codes`, 'expected at least one status code'],
    ['bad regex', { policies: [{ name: 'a', type: 'string_attribute', string_attribute: { key: 'k', values: ['('], enabled_regex_matching: true } }] }, `${P}::policies::0::string_attribute::values::0`, 'invalid regular expression'],
    ['numeric without bounds', { policies: [{ name: 'a', type: 'numeric_attribute', numeric_attribute: { key: 'k' } }] }, `${P}::policies::0::numeric_attribute`, 'at least one of min_value and max_value'],
    ['numeric max < min', { policies: [{ name: 'a', type: 'numeric_attribute', numeric_attribute: { key: 'k', min_value: 5, max_value: 1 } }] }, `${P}::policies::0::numeric_attribute::max_value`, 'greater than or equal to min_value'],
    ['latency upper < lower', { policies: [{ name: 'a', type: 'latency', latency: { threshold_ms: 10, upper_threshold_ms: 5 } }] }, `${P}::policies::0::latency::upper_threshold_ms`, 'greater than or equal to threshold_ms'],
    ['rate 0', { policies: [{ name: 'a', type: 'rate_limiting', rate_limiting: { spans_per_second: 0 } }] }, `${P}::policies::0::rate_limiting::spans_per_second`, 'greater than 0'],
    ['duplicate names', { policies: [{ name: 'a', type: 'always_sample' }, { name: 'a', type: 'always_sample' }] }, `${P}::policies::1::name`, 'duplicate policy name "a"'],
    ['and inside and', { policies: [{ name: 'a', type: 'and', and: { and_sub_policy: [{ name: 'b', type: 'and' }] } }] }, `${P}::policies::0::and::and_sub_policy::0::type`, 'not allowed in and_sub_policy'],
    ['empty drop', { policies: [{ name: 'a', type: 'drop', drop: { drop_sub_policy: [] } }] }, `${P}::policies::0::drop::drop_sub_policy`, 'must have at least 1 item'],
    ['not without sub', { policies: [{ name: 'a', type: 'not', not: {} }] }, `${P}::policies::0::not::not_sub_policy`, 'is required'],
    ['composite over 100%', { policies: [{ name: 'c', type: 'composite', composite: { max_total_spans_per_second: 10, composite_sub_policy: [{ name: 'x', type: 'always_sample' }], rate_allocation: [{ policy: 'x', percent: 80 }, { policy: 'x', percent: 30 }] } }] }, `${P}::policies::0::composite::rate_allocation`, 'add up to 110'],
    ['unknown key', { decision_wiat: '1s', policies: [{ name: 'a', type: 'always_sample' }] }, `${P}::decision_wiat`, 'did you mean "decision_wait"'],
    ['on_overflow', { on_overflow: 'block', policies: [{ name: 'a', type: 'always_sample' }] }, `${P}::on_overflow`, 'must be one of "decide_early", "evict", "refuse"'],
    ['conflicting overflow keys', { on_overflow: 'evict', block_on_overflow: true, policies: [{ name: 'a', type: 'always_sample' }] }, `${P}::block_on_overflow`, 'conflicts with on_overflow: evict'],
    ['tiny cap', { max_buffered_bytes: 1000, policies: [{ name: 'a', type: 'always_sample' }] }, `${P}::max_buffered_bytes`, 'at least 64KiB'],
    ['incident ratio', { incident_mode: { auto: { error_ratio: 2 } }, policies: [{ name: 'a', type: 'always_sample' }] }, `${P}::incident_mode::auto::error_ratio`, 'must be at most 1'],
  ];
  for (const [name, raw, path, msg] of invalid) {
    it(`rejects: ${name}`, () => {
      const { issues } = parseConfig(raw);
      const e = issues.errors.find((i) => i.path.join('::') === path);
      expect(e, JSON.stringify(issues.errors)).toBeDefined();
      expect(e!.message).toContain(msg);
    });
  }

  it('warns about blocks for another policy type', () => {
    const { issues } = parseConfig({ policies: [{ name: 'a', type: 'always_sample', latency: { threshold_ms: 5 } }] });
    expect(issues.errors).toEqual([]);
    expect(issues.warnings.map((w) => [w.path.join('::'), w.message])).toEqual([['processors::tail_sampling::policies::0::latency', 'ignored: the policy type is "always_sample"']]);
  });
});
