// Policy evaluators with the Collector's decisions, including its legacy
// "inverted" decisions for invert_match, and the final decision rule.
import { HashSeedSampler, TailProbabilistic } from '../probabilistic_sampler/hash.js';
import type { PolicyCfg } from './config.js';
import { attrBool, attrInt, attrStr, STATUS_BIT, type AttrVal, type TraceEntry } from './trace.js';

export const enum Decision {
  Unspecified = 0,
  Pending = 1,
  Sampled = 2,
  NotSampled = 3,
  Dropped = 4,
  Error = 5,
  InvertSampled = 6,
  InvertNotSampled = 7,
}

/** What an evaluator sees: the trace's facts, its id bytes and the clock. */
export interface EvalInput {
  trace: TraceEntry;
  traceId: Uint8Array;
  nowMs: number;
  /** Set by a composite that sampled: the name of its sub-policy. */
  compositeSubPolicy?: string;
}

export interface Evaluator {
  evaluate(input: EvalInput): Decision;
}

/** What ingest has to collect for the configured policies. */
export class Needs {
  /** Attribute keys any policy reads, by index. */
  readonly attrKeys: string[] = [];
  readonly attrKeyBytes: Uint8Array[] = [];
  /** Latency windows, by bit index. */
  readonly latency: { lower: number; upper: number }[] = [];
  traceState = false;

  attrIndex(key: string): number {
    let i = this.attrKeys.indexOf(key);
    if (i < 0) {
      i = this.attrKeys.length;
      this.attrKeys.push(key);
      this.attrKeyBytes.push(new TextEncoder().encode(key));
    }
    return i;
  }

  latencyIndex(lower: number, upper: number): number {
    let i = this.latency.findIndex((l) => l.lower === lower && l.upper === upper);
    if (i < 0) {
      if (this.latency.length >= 31) throw new Error('at most 31 distinct latency windows are supported');
      i = this.latency.length;
      this.latency.push({ lower, upper });
    }
    return i;
  }
}

// ---------------------------------------------------------------- leaf policies

const alwaysSample: Evaluator = { evaluate: () => Decision.Sampled };

class LatencyPolicy implements Evaluator {
  constructor(private bit: number) {}
  evaluate({ trace }: EvalInput): Decision {
    return (trace.latencyHits & (1 << this.bit)) !== 0 ? Decision.Sampled : Decision.NotSampled;
  }
}

/** Shared shape of string/numeric/boolean attribute filters over the values seen for one key. */
class AttributePolicy implements Evaluator {
  constructor(private idx: number, private match: (v: AttrVal) => boolean, private invert: boolean) {}
  evaluate({ trace }: EvalInput): Decision {
    const list = trace.attrs?.[this.idx];
    let hit = false;
    if (list !== undefined) {
      for (let i = 0; i < list.length; i++) {
        if (this.match(list[i]!)) {
          hit = true;
          break;
        }
      }
    }
    if (this.invert) return hit ? Decision.InvertNotSampled : Decision.InvertSampled;
    return hit ? Decision.Sampled : Decision.NotSampled;
  }
}

class ProbabilisticPolicy implements Evaluator {
  private readonly test: { sampled(id: Uint8Array): boolean };
  constructor(pct: number, salt: string, seed: number | undefined) {
    this.test = seed === undefined ? new TailProbabilistic(pct, salt) : new HashSeedSampler(pct, seed);
  }
  evaluate({ traceId }: EvalInput): Decision {
    return this.test.sampled(traceId) ? Decision.Sampled : Decision.NotSampled;
  }
}

class StatusCodePolicy implements Evaluator {
  constructor(private mask: number) {}
  evaluate({ trace }: EvalInput): Decision {
    return (trace.statusMask & this.mask) !== 0 ? Decision.Sampled : Decision.NotSampled;
  }
}

/** Spans per wall-clock second; a trace is sampled while the running total stays below the limit. */
class RateLimitingPolicy implements Evaluator {
  private second = -1;
  private spans = 0;
  constructor(private limit: number) {}
  evaluate({ trace, nowMs }: EvalInput): Decision {
    const sec = Math.floor(nowMs / 1000);
    if (sec !== this.second) {
      this.second = sec;
      this.spans = 0;
    }
    const ifSampled = this.spans + trace.spanCount;
    if (ifSampled < this.limit) {
      this.spans = ifSampled;
      return Decision.Sampled;
    }
    return Decision.NotSampled;
  }
}

/** A token bucket over the traces' encoded size. */
class BytesLimitingPolicy implements Evaluator {
  private tokens: number;
  private last = -1;
  constructor(private rate: number, private burst: number) {
    this.tokens = burst;
  }
  evaluate({ trace, nowMs }: EvalInput): Decision {
    if (this.last >= 0 && nowMs > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((nowMs - this.last) / 1000) * this.rate);
    }
    this.last = nowMs;
    const size = trace.len;
    if (size <= this.tokens) {
      this.tokens -= size;
      return Decision.Sampled;
    }
    return Decision.NotSampled;
  }
}

class SpanCountPolicy implements Evaluator {
  constructor(private min: number, private max: number) {}
  evaluate({ trace }: EvalInput): Decision {
    const n = trace.spanCount;
    if (n >= this.min && (this.max === 0 || n <= this.max)) return Decision.Sampled;
    return Decision.NotSampled;
  }
}

class TraceStatePolicy implements Evaluator {
  private readonly values: Set<string>;
  constructor(private key: string, values: string[]) {
    this.values = new Set(values);
  }
  evaluate({ trace }: EvalInput): Decision {
    const list = trace.traceStates;
    if (list === undefined) return Decision.NotSampled;
    for (const ts of list) {
      const v = traceStateGet(ts, this.key);
      if (v !== undefined && this.values.has(v)) return Decision.Sampled;
    }
    return Decision.NotSampled;
  }
}

/** The value of `key` in a W3C tracestate header, if present. */
export function traceStateGet(ts: string, key: string): string | undefined {
  for (const member of ts.split(',')) {
    const m = member.trim();
    const eq = m.indexOf('=');
    if (eq > 0 && m.slice(0, eq) === key) return m.slice(eq + 1);
  }
  return undefined;
}

const traceFlags: Evaluator = {
  evaluate: ({ trace }) => (trace.flagsSampled ? Decision.Sampled : Decision.NotSampled),
};

// ---------------------------------------------------------------- combinators

class AndPolicy implements Evaluator {
  constructor(private subs: Evaluator[]) {}
  evaluate(input: EvalInput): Decision {
    for (const s of this.subs) {
      const d = s.evaluate(input);
      if (d === Decision.NotSampled || d === Decision.InvertNotSampled) return Decision.NotSampled;
    }
    return Decision.Sampled;
  }
}

class DropPolicy implements Evaluator {
  constructor(private subs: Evaluator[]) {}
  evaluate(input: EvalInput): Decision {
    for (const s of this.subs) {
      const d = s.evaluate(input);
      if (d === Decision.NotSampled || d === Decision.InvertNotSampled) return Decision.NotSampled;
    }
    return Decision.Dropped;
  }
}

class NotPolicy implements Evaluator {
  constructor(private sub: Evaluator) {}
  evaluate(input: EvalInput): Decision {
    const d = this.sub.evaluate(input);
    switch (d) {
      case Decision.Sampled:
      case Decision.InvertSampled:
        return Decision.NotSampled;
      case Decision.NotSampled:
      case Decision.InvertNotSampled:
        return Decision.Sampled;
      default:
        return d;
    }
  }
}

interface CompositeSub {
  name: string;
  evaluator: Evaluator;
  allocated: number;
  sampled: number;
}

/**
 * Per-second span budgets per sub-policy. The first sub-policy (in
 * policy_order) that wants to sample decides: sampled while within its
 * allocation and max_total_spans_per_second, otherwise not sampled.
 */
class CompositePolicy implements Evaluator {
  private second = -1;
  constructor(private maxTotal: number, private subs: CompositeSub[]) {}
  evaluate(input: EvalInput): Decision {
    const sec = Math.floor(input.nowMs / 1000);
    if (sec !== this.second) {
      this.second = sec;
      for (const s of this.subs) s.sampled = 0;
    }
    for (const s of this.subs) {
      const d = s.evaluator.evaluate(input);
      if (d === Decision.Sampled || d === Decision.InvertSampled) {
        const ifSampled = s.sampled + input.trace.spanCount;
        if (ifSampled <= s.allocated && ifSampled <= this.maxTotal) {
          s.sampled = ifSampled;
          input.compositeSubPolicy = s.name;
          return Decision.Sampled;
        }
        return Decision.NotSampled;
      }
    }
    return Decision.NotSampled;
  }
}

// ---------------------------------------------------------------- building

const STATUS_BITS: Record<string, number> = STATUS_BIT;

export function buildEvaluator(p: PolicyCfg, needs: Needs): Evaluator {
  switch (p.type) {
    case 'always_sample':
      return alwaysSample;
    case 'latency': {
      const c = p.latency ?? { threshold_ms: 0, upper_threshold_ms: 0 };
      return new LatencyPolicy(needs.latencyIndex(c.threshold_ms, c.upper_threshold_ms));
    }
    case 'numeric_attribute': {
      const c = p.numeric_attribute!;
      const min = c.min_value ?? Number.NEGATIVE_INFINITY;
      const max = c.max_value ?? Number.POSITIVE_INFINITY;
      return new AttributePolicy(needs.attrIndex(c.key), (v) => {
        const n = attrInt(v);
        return n >= min && n <= max;
      }, c.invert_match);
    }
    case 'string_attribute': {
      const c = p.string_attribute!;
      let match: (v: AttrVal) => boolean;
      if (c.enabled_regex_matching) {
        const res = c.values.map((x) => new RegExp(x));
        match = (v) => {
          const str = attrStr(v);
          for (const re of res) if (re.test(str)) return true;
          return false;
        };
      } else {
        const set = new Set(c.values);
        match = (v) => set.has(attrStr(v));
      }
      return new AttributePolicy(needs.attrIndex(c.key), match, c.invert_match);
    }
    case 'boolean_attribute': {
      const c = p.boolean_attribute!;
      return new AttributePolicy(needs.attrIndex(c.key), (v) => attrBool(v) === c.value, c.invert_match);
    }
    case 'probabilistic': {
      const c = p.probabilistic ?? { sampling_percentage: 0, hash_salt: '', hash_seed: undefined };
      return new ProbabilisticPolicy(c.sampling_percentage, c.hash_salt, c.hash_seed);
    }
    case 'status_code': {
      let mask = 0;
      for (const code of p.status_code?.status_codes ?? []) mask |= STATUS_BITS[code] ?? 0;
      return new StatusCodePolicy(mask);
    }
    case 'rate_limiting':
      return new RateLimitingPolicy(p.rate_limiting!.spans_per_second);
    case 'bytes_limiting': {
      const c = p.bytes_limiting!;
      return new BytesLimitingPolicy(c.bytes_per_second, c.burst_capacity > 0 ? c.burst_capacity : 2 * c.bytes_per_second);
    }
    case 'span_count': {
      const c = p.span_count ?? { min_spans: 0, max_spans: 0 };
      return new SpanCountPolicy(c.min_spans, c.max_spans);
    }
    case 'trace_state': {
      const c = p.trace_state!;
      needs.traceState = true;
      return new TraceStatePolicy(c.key, c.values);
    }
    case 'trace_flags':
      return traceFlags;
    case 'and':
      return new AndPolicy((p.and?.and_sub_policy ?? []).map((x) => buildEvaluator(x, needs)));
    case 'drop':
      return new DropPolicy((p.drop?.drop_sub_policy ?? []).map((x) => buildEvaluator(x, needs)));
    case 'not':
      return new NotPolicy(buildEvaluator(p.not!.not_sub_policy!, needs));
    case 'composite': {
      const c = p.composite!;
      const n = c.composite_sub_policy.length;
      // As the Collector: a listed percent > 0 gets that share; a listed 0 gets an equal share;
      // a sub-policy not listed in rate_allocation gets no budget.
      const alloc = new Map<string, number>();
      for (const r of c.rate_allocation) {
        alloc.set(r.policy, r.percent > 0 ? (r.percent / 100) * c.max_total_spans_per_second : c.max_total_spans_per_second / n);
      }
      const byName = new Map(c.composite_sub_policy.map((x) => [x.name, x] as const));
      const ordered: PolicyCfg[] = [];
      for (const name of c.policy_order) {
        const x = byName.get(name);
        if (x && !ordered.includes(x)) ordered.push(x);
      }
      for (const x of c.composite_sub_policy) if (!ordered.includes(x)) ordered.push(x);
      const subs = ordered.map((x) => ({
        name: x.name,
        evaluator: buildEvaluator(x, needs),
        allocated: Math.trunc(alloc.get(x.name) ?? 0),
        sampled: 0,
      }));
      return new CompositePolicy(c.max_total_spans_per_second, subs);
    }
    default:
      throw new Error(`policy type "${p.type}" is not supported`);
  }
}

export interface NamedPolicy {
  name: string;
  evaluator: Evaluator;
}

export interface FinalDecision {
  sampled: boolean;
  /** The policy that sampled (first Sampled, else first InvertSampled), when sampled. */
  policy: NamedPolicy | undefined;
  /** Each evaluated policy's decision, for count_traces_sampled. */
  perPolicy: Decision[];
}

/**
 * The Collector's rule: evaluate in order (stop at a Dropped, and at the first
 * Sampled with sample_on_first_match); any Dropped → not sampled; else any
 * InvertNotSampled → not sampled; else any Sampled → sampled; else
 * InvertSampled without any NotSampled → sampled; else not sampled.
 */
export function decide(policies: readonly NamedPolicy[], input: EvalInput, sampleOnFirstMatch: boolean): FinalDecision {
  let dropped = false;
  let invertNot = false;
  let notSampled = false;
  let sampledBy: NamedPolicy | undefined;
  let invertSampledBy: NamedPolicy | undefined;
  let sampledSub: string | undefined;
  const perPolicy: Decision[] = [];
  for (const p of policies) {
    input.compositeSubPolicy = undefined;
    const d = p.evaluator.evaluate(input);
    perPolicy.push(d);
    if (d === Decision.Dropped) {
      dropped = true;
      break;
    }
    if (d === Decision.Sampled) {
      if (sampledBy === undefined) {
        sampledBy = p;
        sampledSub = input.compositeSubPolicy;
      }
      if (sampleOnFirstMatch) break;
    } else if (d === Decision.InvertSampled) {
      invertSampledBy ??= p;
    } else if (d === Decision.InvertNotSampled) invertNot = true;
    else if (d === Decision.NotSampled) notSampled = true;
  }
  input.compositeSubPolicy = sampledSub;
  if (dropped || invertNot) return { sampled: false, policy: undefined, perPolicy };
  if (sampledBy) return { sampled: true, policy: sampledBy, perPolicy };
  if (invertSampledBy && !notSampled) return { sampled: true, policy: invertSampledBy, perPolicy };
  return { sampled: false, policy: undefined, perPolicy };
}
