// tail_sampling config: the Collector's keys and defaults, plus Sieve's
// bounded-memory, late-span and incident-mode keys.
import { s, Schema, parseDuration, type Issues } from '../../config/schema.js';

/**
 * An integer that also accepts YAML 1.1 digit separators ("100_000"), which
 * the Collector's YAML parser reads as numbers (its README uses them).
 */
class GoInt extends Schema<number> {
  constructor(private inner: Schema<number>) {
    super();
  }
  parse(v: unknown, path: string[], issues: Issues): number {
    if (typeof v === 'string' && /^\s*[+-]?\d+(?:_\d+)+\s*$/.test(v)) v = Number(v.replace(/_/g, ''));
    return this.inner.parse(v, path, issues);
  }
  describe(): string {
    return this.inner.describe();
  }
}
const int = (def?: number, opts?: { min?: number; max?: number }): Schema<number> => new GoInt(s.int(def, opts));

// ---------------------------------------------------------------- policy blocks

export interface LatencyCfg {
  threshold_ms: number;
  upper_threshold_ms: number;
}
export interface NumericAttributeCfg {
  key: string;
  min_value: number | undefined;
  max_value: number | undefined;
  invert_match: boolean;
}
export interface ProbabilisticCfg {
  hash_salt: string;
  sampling_percentage: number;
  /** Sieve: hash like probabilistic_sampler (hash_seed mode) so head and tail decisions agree. */
  hash_seed: number | undefined;
}
export interface StatusCodeCfg {
  status_codes: string[];
}
export interface StringAttributeCfg {
  key: string;
  values: string[];
  enabled_regex_matching: boolean;
  cache_max_size: number;
  invert_match: boolean;
}
export interface RateLimitingCfg {
  spans_per_second: number;
}
export interface BytesLimitingCfg {
  bytes_per_second: number;
  burst_capacity: number;
}
export interface SpanCountCfg {
  min_spans: number;
  max_spans: number;
}
export interface TraceStateCfg {
  key: string;
  values: string[];
}
export interface BooleanAttributeCfg {
  key: string;
  value: boolean;
  invert_match: boolean;
}
export interface OttlConditionCfg {
  error_mode: string;
  span: string[];
  spanevent: string[];
}
export interface RateAllocationCfg {
  policy: string;
  percent: number;
}

/** One policy at any level; only the block named by `type` is used. */
export interface PolicyCfg {
  name: string;
  type: string;
  latency?: LatencyCfg;
  numeric_attribute?: NumericAttributeCfg;
  probabilistic?: ProbabilisticCfg;
  status_code?: StatusCodeCfg;
  string_attribute?: StringAttributeCfg;
  rate_limiting?: RateLimitingCfg;
  bytes_limiting?: BytesLimitingCfg;
  span_count?: SpanCountCfg;
  trace_state?: TraceStateCfg;
  boolean_attribute?: BooleanAttributeCfg;
  ottl_condition?: OttlConditionCfg;
  and?: { and_sub_policy: PolicyCfg[] };
  not?: { not_sub_policy: PolicyCfg | undefined };
  drop?: { drop_sub_policy: PolicyCfg[] };
  composite?: {
    max_total_spans_per_second: number;
    policy_order: string[];
    composite_sub_policy: PolicyCfg[];
    rate_allocation: RateAllocationCfg[];
  };
}

/** Policy types that evaluate a trace directly (usable at every level). */
export const LEAF_TYPES = [
  'always_sample',
  'latency',
  'numeric_attribute',
  'probabilistic',
  'status_code',
  'string_attribute',
  'rate_limiting',
  'bytes_limiting',
  'span_count',
  'trace_state',
  'trace_flags',
  'boolean_attribute',
  'ottl_condition',
] as const;
export const ALL_TYPES = [...LEAF_TYPES, 'and', 'not', 'drop', 'composite'] as const;

const leafBlocks = {
  latency: s.object({ threshold_ms: int(0), upper_threshold_ms: int(0, { min: 0 }) }).optional(),
  numeric_attribute: s
    .object({ key: s.string(''), min_value: int().optional(), max_value: int().optional(), invert_match: s.bool(false) })
    .optional(),
  probabilistic: s
    .object({
      hash_salt: s.string(''),
      sampling_percentage: s.number(0, { min: 0 }),
      hash_seed: int(undefined, { min: 0, max: 0xffffffff }).optional(),
    })
    .optional(),
  status_code: s.object({ status_codes: s.array(s.string()) }).optional(),
  string_attribute: s
    .object({
      key: s.string(''),
      values: s.array(s.string()),
      enabled_regex_matching: s.bool(false),
      cache_max_size: int(0, { min: 0 }),
      invert_match: s.bool(false),
    })
    .optional(),
  rate_limiting: s.object({ spans_per_second: int(0, { min: 0 }) }).optional(),
  bytes_limiting: s.object({ bytes_per_second: int(0, { min: 0 }), burst_capacity: int(0, { min: 0 }) }).optional(),
  span_count: s.object({ min_spans: int(0, { min: 0 }), max_spans: int(0, { min: 0 }) }).optional(),
  trace_state: s.object({ key: s.string(''), values: s.array(s.string()) }).optional(),
  boolean_attribute: s.object({ key: s.string(''), value: s.bool(false), invert_match: s.bool(false) }).optional(),
  ottl_condition: s.object({ error_mode: s.string('propagate'), span: s.array(s.string()), spanevent: s.array(s.string()) }).optional(),
};

/** A sub-policy of `and`, `drop` and `not` (the Collector's AndSubPolicyCfg). */
const andSubPolicy = s.object({ name: s.string(''), type: s.string(), ...leafBlocks });

/** A sub-policy of `composite`: leaf policies plus `and`. */
const compositeSubPolicy = s.object({
  name: s.string(''),
  type: s.string(),
  ...leafBlocks,
  and: s.object({ and_sub_policy: s.array(andSubPolicy) }).optional(),
});

const rateAllocation = s.object({ policy: s.string(), percent: int(0, { min: 0, max: 100 }) });

/** A top-level policy. */
export const policySchema = s.object({
  name: s.string(),
  type: s.string(),
  ...leafBlocks,
  and: s.object({ and_sub_policy: s.array(andSubPolicy) }).optional(),
  not: s.object({ not_sub_policy: andSubPolicy.optional() }).optional(),
  drop: s.object({ drop_sub_policy: s.array(andSubPolicy) }).optional(),
  composite: s
    .object({
      max_total_spans_per_second: int(0, { min: 0 }),
      policy_order: s.array(s.string()),
      composite_sub_policy: s.array(compositeSubPolicy),
      rate_allocation: s.array(rateAllocation),
    })
    .optional(),
}) as unknown as Schema<PolicyCfg>;

// ---------------------------------------------------------------- top level

export interface IncidentAutoCfg {
  error_ratio: number;
  window: number;
  min_traces: number;
  duration: number;
}

export interface TailSamplingConfig {
  decision_wait: number;
  decision_wait_after_root_received: number;
  num_traces: number;
  expected_new_traces_per_sec: number;
  decision_cache: {
    sampled_cache_size: number;
    non_sampled_cache_size: number;
    sampled_cache_bytes: number;
    non_sampled_cache_bytes: number;
  };
  sample_on_first_match: boolean;
  drop_pending_traces_on_shutdown: boolean;
  block_on_overflow: boolean;
  maximum_trace_size_bytes: number;
  num_shards: number;
  sampling_strategy: 'trace-complete' | 'span-ingest';
  policies: PolicyCfg[];
  // Sieve
  max_buffered_bytes: number;
  on_overflow: 'decide_early' | 'evict' | 'refuse' | undefined;
  record_policy: boolean;
  record_policy_attribute: string;
  tick_interval: number;
  incident_mode: {
    policies: PolicyCfg[];
    max_duration: number;
    auto: IncidentAutoCfg | undefined;
  };
}

export const configSchema = s.object({
  decision_wait: s.duration('30s'),
  decision_wait_after_root_received: s.duration('0s'),
  num_traces: int(50000, { min: 1 }),
  expected_new_traces_per_sec: int(0, { min: 0 }),
  decision_cache: s.object({
    sampled_cache_size: int(0, { min: 0 }),
    non_sampled_cache_size: int(0, { min: 0 }),
    sampled_cache_bytes: s.size(4 * 1024 * 1024),
    non_sampled_cache_bytes: s.size(8 * 1024 * 1024),
  }),
  sample_on_first_match: s.bool(false),
  drop_pending_traces_on_shutdown: s.bool(false),
  block_on_overflow: s.bool(false),
  maximum_trace_size_bytes: s.size(0),
  num_shards: int(1, { min: 1, max: 256 }),
  sampling_strategy: s.enum(['trace-complete', 'span-ingest'] as const, 'trace-complete'),
  policies: s.array(policySchema, { minItems: 1 }),
  max_buffered_bytes: s.size(256 * 1024 * 1024),
  on_overflow: s.enum(['decide_early', 'evict', 'refuse'] as const).optional(),
  record_policy: s.bool(false),
  record_policy_attribute: s.string('sampling.policy', { nonEmpty: true }),
  tick_interval: s.duration('0s'),
  incident_mode: s.object({
    policies: s.array(policySchema),
    max_duration: s.duration('24h'),
    auto: s
      .object({
        error_ratio: s.number(0.2, { min: 0, max: 1 }),
        window: s.duration('1m'),
        min_traces: int(100, { min: 1 }),
        duration: s.duration('10m'),
      })
      .optional(),
  }),
}) as unknown as Schema<TailSamplingConfig>;

/** The overflow behaviour in force: `on_overflow`, else `refuse` when the Collector's `block_on_overflow` is set, else `decide_early`. */
export function overflowMode(cfg: TailSamplingConfig): 'decide_early' | 'evict' | 'refuse' {
  return cfg.on_overflow ?? (cfg.block_on_overflow ? 'refuse' : 'decide_early');
}

/** The decision ticker period: `tick_interval`, else decision_wait / 10 clamped to [10ms, 1s]. */
export function tickInterval(cfg: TailSamplingConfig): number {
  if (cfg.tick_interval > 0) return cfg.tick_interval;
  const w = cfg.decision_wait_after_root_received > 0 ? Math.min(cfg.decision_wait, cfg.decision_wait_after_root_received) : cfg.decision_wait;
  return Math.min(1000, Math.max(10, Math.floor(w / 10)));
}

/** Parses a duration given to the admin route ("15m", or a number of seconds). */
export function parseAdminDuration(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v) && v > 0) return v * 1000;
  if (typeof v === 'string') {
    const ms = parseDuration(v);
    if (ms !== undefined && ms > 0) return ms;
  }
  return undefined;
}

// ---------------------------------------------------------------- validation

const STATUS_CODES = ['OK', 'ERROR', 'UNSET'];
const BLOCK_KEYS = [...LEAF_TYPES.filter((t) => t !== 'always_sample' && t !== 'trace_flags'), 'and', 'not', 'drop', 'composite'] as const;

type Level = 'top' | 'and' | 'drop' | 'not' | 'composite';
const LEVEL_FIELD: Record<Exclude<Level, 'top'>, string> = {
  and: 'and_sub_policy',
  drop: 'drop_sub_policy',
  not: 'not_sub_policy',
  composite: 'composite_sub_policy',
};

export function validateConfig(cfg: TailSamplingConfig, path: string[], issues: Issues): void {
  validatePolicies(cfg.policies, [...path, 'policies'], 'top', issues);
  validatePolicies(cfg.incident_mode.policies, [...path, 'incident_mode', 'policies'], 'top', issues);
  if (cfg.sampling_strategy === 'span-ingest') {
    issues.error([...path, 'sampling_strategy'], '"span-ingest" is not supported; use "trace-complete"');
  }
  if (cfg.on_overflow !== undefined && cfg.block_on_overflow && cfg.on_overflow !== 'refuse') {
    issues.error([...path, 'block_on_overflow'], `conflicts with on_overflow: ${cfg.on_overflow}; block_on_overflow means on_overflow: refuse`);
  }
  if (cfg.decision_wait <= 0) issues.error([...path, 'decision_wait'], 'must be greater than 0');
  if (cfg.max_buffered_bytes < 64 * 1024) issues.error([...path, 'max_buffered_bytes'], 'must be at least 64KiB');
  if (cfg.num_shards > 1) {
    issues.warn([...path, 'num_shards'], 'has no effect: decisions run on their own ticker and are not starved by ingest');
  }
}

function validatePolicies(list: PolicyCfg[], path: string[], level: Level, issues: Issues): void {
  const names = new Map<string, number>();
  list.forEach((p, i) => {
    const pp = [...path, String(i)];
    validatePolicy(p, pp, level, issues);
    if (p.name !== '' && (level === 'top' || level === 'composite')) {
      const prev = names.get(p.name);
      if (prev !== undefined) issues.error([...pp, 'name'], `duplicate policy name "${p.name}" (also policy ${prev})`);
      else names.set(p.name, i);
    }
  });
}

function validatePolicy(p: PolicyCfg, path: string[], level: Level, issues: Issues): void {
  if (p.type === '' && p.name === undefined) return;
  const allowed: readonly string[] =
    level === 'top' ? ALL_TYPES : level === 'composite' ? [...LEAF_TYPES, 'and'] : LEAF_TYPES;
  if (!(ALL_TYPES as readonly string[]).includes(p.type)) {
    issues.error([...path, 'type'], `unknown policy type ${JSON.stringify(p.type)}; valid types: ${ALL_TYPES.join(', ')}`);
    return;
  }
  if (!allowed.includes(p.type)) {
    issues.error([...path, 'type'], `policy type "${p.type}" is not allowed in ${LEVEL_FIELD[level as Exclude<Level, 'top'>]}`);
    return;
  }
  for (const k of BLOCK_KEYS) {
    if (k !== p.type && (p as unknown as Record<string, unknown>)[k] !== undefined) {
      issues.warn([...path, k], `ignored: the policy type is "${p.type}"`);
    }
  }
  switch (p.type) {
    case 'ottl_condition':
      issues.error([...path, 'type'], 'policy type "ottl_condition" is not supported by Sieve (OTTL is not implemented); use string_attribute, numeric_attribute, boolean_attribute, status_code or and/not/drop combinations');
      break;
    case 'latency': {
      const c = p.latency;
      if (c && c.upper_threshold_ms !== 0 && c.upper_threshold_ms < c.threshold_ms) {
        issues.error([...path, 'latency', 'upper_threshold_ms'], 'must be greater than or equal to threshold_ms');
      }
      break;
    }
    case 'numeric_attribute': {
      const c = p.numeric_attribute;
      if (!c || c.key === '') issues.error([...path, 'numeric_attribute', 'key'], 'is required');
      else if (c.min_value === undefined && c.max_value === undefined) {
        issues.error([...path, 'numeric_attribute'], 'at least one of min_value and max_value is required');
      } else if (c.min_value !== undefined && c.max_value !== undefined && c.max_value < c.min_value) {
        issues.error([...path, 'numeric_attribute', 'max_value'], 'must be greater than or equal to min_value');
      }
      break;
    }
    case 'status_code': {
      const c = p.status_code;
      if (!c || c.status_codes.length === 0) {
        issues.error([...path, 'status_code', 'status_codes'], 'expected at least one status code to filter on');
      } else {
        c.status_codes.forEach((code, i) => {
          if (!STATUS_CODES.includes(code)) {
            issues.error([...path, 'status_code', 'status_codes', String(i)], `unknown status code ${JSON.stringify(code)}; supported: OK, ERROR, UNSET`);
          }
        });
      }
      break;
    }
    case 'string_attribute': {
      const c = p.string_attribute;
      if (!c || c.key === '') issues.error([...path, 'string_attribute', 'key'], 'is required');
      else if (c.enabled_regex_matching) {
        c.values.forEach((v, i) => {
          try {
            new RegExp(v);
          } catch (e) {
            issues.error([...path, 'string_attribute', 'values', String(i)], `invalid regular expression ${JSON.stringify(v)}: ${(e as Error).message}`);
          }
        });
      }
      break;
    }
    case 'boolean_attribute':
      if (!p.boolean_attribute || p.boolean_attribute.key === '') issues.error([...path, 'boolean_attribute', 'key'], 'is required');
      break;
    case 'trace_state': {
      const c = p.trace_state;
      if (!c || c.key === '') issues.error([...path, 'trace_state', 'key'], 'is required');
      else if (c.values.length === 0) issues.error([...path, 'trace_state', 'values'], 'must have at least 1 item');
      else {
        c.values.forEach((v, i) => {
          if (v.length + c.key.length > 256) issues.error([...path, 'trace_state', 'values', String(i)], 'key=value must be at most 256 characters');
        });
      }
      break;
    }
    case 'span_count': {
      const c = p.span_count;
      if (c && c.max_spans !== 0 && c.max_spans < c.min_spans) {
        issues.error([...path, 'span_count', 'max_spans'], 'must be greater than or equal to min_spans');
      }
      break;
    }
    case 'rate_limiting':
      if (!p.rate_limiting || p.rate_limiting.spans_per_second <= 0) {
        issues.error([...path, 'rate_limiting', 'spans_per_second'], 'must be greater than 0');
      }
      break;
    case 'bytes_limiting': {
      const c = p.bytes_limiting;
      if (!c || c.bytes_per_second <= 0) issues.error([...path, 'bytes_limiting', 'bytes_per_second'], 'must be greater than 0');
      else if (c.burst_capacity !== 0 && c.burst_capacity < c.bytes_per_second) {
        issues.error([...path, 'bytes_limiting', 'burst_capacity'], 'must be at least bytes_per_second');
      }
      break;
    }
    case 'and': {
      const subs = p.and?.and_sub_policy ?? [];
      if (subs.length === 0) issues.error([...path, 'and', 'and_sub_policy'], 'must have at least 1 item');
      validatePolicies(subs, [...path, 'and', 'and_sub_policy'], 'and', issues);
      break;
    }
    case 'drop': {
      const subs = p.drop?.drop_sub_policy ?? [];
      if (subs.length === 0) issues.error([...path, 'drop', 'drop_sub_policy'], 'must have at least 1 item');
      validatePolicies(subs, [...path, 'drop', 'drop_sub_policy'], 'drop', issues);
      break;
    }
    case 'not': {
      const sub = p.not?.not_sub_policy;
      if (!sub) issues.error([...path, 'not', 'not_sub_policy'], 'is required');
      else validatePolicy(sub, [...path, 'not', 'not_sub_policy'], 'not', issues);
      break;
    }
    case 'composite': {
      const c = p.composite;
      const cp = [...path, 'composite'];
      if (!c || c.composite_sub_policy.length === 0) {
        issues.error([...cp, 'composite_sub_policy'], 'must have at least 1 item');
        break;
      }
      if (c.max_total_spans_per_second <= 0) issues.error([...cp, 'max_total_spans_per_second'], 'must be greater than 0');
      validatePolicies(c.composite_sub_policy, [...cp, 'composite_sub_policy'], 'composite', issues);
      const subNames = new Set(c.composite_sub_policy.map((x) => x.name));
      c.policy_order.forEach((n, i) => {
        if (!subNames.has(n)) issues.warn([...cp, 'policy_order', String(i)], `no composite_sub_policy is named "${n}"`);
      });
      let total = 0;
      c.rate_allocation.forEach((r, i) => {
        total += r.percent;
        if (!subNames.has(r.policy)) issues.warn([...cp, 'rate_allocation', String(i), 'policy'], `no composite_sub_policy is named "${r.policy}"`);
      });
      if (total > 100) issues.error([...cp, 'rate_allocation'], `percentages add up to ${total}, more than 100`);
      break;
    }
  }
}
