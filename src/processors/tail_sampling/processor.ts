// tail_sampling: buffers spans by trace id as protobuf bytes, decides each
// trace when its decision wait ends (or earlier: root span received, memory
// cap reached, shutdown), forwards kept traces by concatenating their bytes,
// and answers late spans from decision caches.
import type { Counter, Gauge, Histogram } from 'prom-client';
import type {
  ConsumeResult,
  Consumer,
  CreateSettings,
  HealthReport,
  HealthReporter,
  Host,
  ProcessorComponent,
} from '../../component/component.js';
import { ConsumerError, DecodeError, invalidError, throttleError, unavailableError } from '../../component/errors.js';
import { ProtoWriter } from '../../pdata/proto/writer.js';
import { Telemetry, releaseDurable, type DurableRef } from '../../pdata/telemetry.js';
import { holdHeapGrowth, releaseHeapGrowth } from '../../service/gc.js';
import type { Logger } from '../../service/logger.js';
import { overflowMode, tickInterval, type PolicyCfg, type TailSamplingConfig } from './config.js';
import { TraceIdCache } from './id_cache.js';
import { ErrorWindow, registerIncidentTarget, type IncidentState, type IncidentTarget } from './incident.js';
import { buildEvaluator, decide, Decision, Needs, type EvalInput, type NamedPolicy } from './policies.js';
import { makeLabel, relabel, type Label } from './relabel.js';
import { appendGroup, groupBytes, mergeFacts, Splitter, type SpanGroup } from './split.js';
import { keyBytes, STATUS_BIT, TRACE_OVERHEAD_BYTES, TraceEntry } from './trace.js';

/** Timers, injectable so tests drive the ticker by hand. */
export interface Timers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export const realTimers: Timers = {
  setInterval: (fn, ms) => {
    const h = setInterval(fn, ms);
    h.unref?.();
    return h;
  },
  clearInterval: (h) => clearInterval(h as NodeJS.Timeout),
};

/**
 * Largest output batch before it is split (bytes of protobuf). Kept traces
 * go downstream in requests of at most this size, so that what the next
 * processor walks and writes (signing copies, walks and re-splices each
 * request) stays in the cache and in heap memory the allocator reuses, not
 * fresh pages. Measured, `npm run bench:e2e -- --scenario gateway --attrs 20
 * --duration 15`, three alternating pairs: 4 MiB 26.8-31.5 µs of daemon CPU
 * per span, 531-598 MiB peak; 256 KiB 24.7-28.9 µs, 472-519 MiB. The batch
 * processor joins the requests again without copying them.
 */
const MAX_OUTPUT_BYTES = 256 * 1024;

interface Output {
  parts: Uint8Array[];
  bytes: number;
  spans: number;
  /** Durable references the kept spans carry on (moved from their traces). */
  refs?: DurableRef[];
}

/** Holds one reference per durable request for a trace (or a late output), at most once per request. */
function holdRefs(target: { refs?: DurableRef[] | undefined }, refs: readonly DurableRef[] | undefined): void {
  if (!refs) return;
  for (const r of refs) {
    const list = (target.refs ??= []);
    if (list.includes(r)) continue;
    r.retain();
    list.push(r);
  }
}

/** Releases what a trace holds: its spans left the pipeline without being forwarded. */
function releaseRefs(t: { refs?: DurableRef[] | undefined }): void {
  if (t.refs) for (const r of t.refs) r.release();
  t.refs = undefined;
}

const ACT_APPEND = 0;
const ACT_NEW = 1;
const ACT_LATE_KEEP = 2;
const ACT_LATE_DROP = 3;

interface Metrics {
  onMemory: Gauge<string>;
  bufferedBytes: Gauge<string>;
  countTraces: Counter<string>;
  globalCount: Counter<string>;
  droppedTooEarly: Counter<string>;
  droppedTooLarge: Counter<string>;
  lateSpanAge: Histogram<string>;
  earlyReleases: Counter<string>;
  decidedEarly: Counter<string>;
  evicted: Counter<string>;
  refused: Counter<string>;
  lateSpansDropped: Counter<string>;
  incident: Gauge<string>;
  decisionLatency: Histogram<string>;
  sendFailed: Counter<string>;
}

export class TailSamplingProcessor implements ProcessorComponent, HealthReporter, IncidentTarget {
  readonly mutatesData = false;
  readonly id: string;
  private readonly cfg: TailSamplingConfig;
  private readonly next: Consumer;
  private readonly now: () => number;
  private readonly logger: Logger;
  private readonly timers: Timers;
  private readonly mode: 'decide_early' | 'evict' | 'refuse';
  private readonly interval: number;

  private readonly needs = new Needs();
  private readonly policies: NamedPolicy[];
  private readonly incidentPolicies: NamedPolicy[];
  private readonly splitter: Splitter;

  private readonly traces = new Map<string, TraceEntry>();
  private rootQueue: TraceEntry[] = [];
  private rootHead = 0;
  private buffered = 0;
  readonly sampledCache: TraceIdCache;
  readonly nonSampledCache: TraceIdCache;

  /** Labels for record_policy, by index (stored in the sampled cache for late spans). */
  private readonly labelNames: string[] = [''];
  private readonly labelIndex = new Map<string, number>([['', 0]]);
  private readonly labelBytes = new Map<number, Label[]>();
  private readonly compositeAttr: string;

  private handle: unknown;
  private nextTickAt = 0;
  private started = false;
  private stopped = false;
  private shutdownPromise: Promise<void> | undefined;
  private readonly pending = new Set<Promise<void>>();
  private unregister: (() => void) | undefined;
  private readonly idScratch = new Uint8Array(16);
  private readonly writer = new ProtoWriter(64 * 1024);

  // incident mode
  private incidentUntil = 0;
  private incidentSource: 'manual' | 'auto' | undefined;
  private incidentSet: NamedPolicy[] | undefined; // undefined: keep every trace
  private readonly errorWindow: ErrorWindow | undefined;

  private readonly m: Metrics;
  private readonly labels: Record<string, string>;
  private readonly policyChildren: { t: { inc(n?: number): void }; f: { inc(n?: number): void } }[];
  private readonly incidentChildren: { t: { inc(n?: number): void }; f: { inc(n?: number): void } }[];
  // Decision counts are summed here and added to the counters once per tick or request
  // (prom-client's inc per decision was 2% of CPU in bench/tail_sampling.ts).
  private readonly policyCounts: Float64Array;
  private readonly incidentCounts: Float64Array;
  private readonly globalCounts = new Float64Array(2);

  constructor(settings: CreateSettings, cfg: TailSamplingConfig, next: Consumer, timers: Timers = realTimers) {
    this.id = settings.id;
    this.cfg = cfg;
    this.next = next;
    this.now = settings.now;
    this.logger = settings.logger;
    this.timers = timers;
    this.mode = overflowMode(cfg);
    this.interval = tickInterval(cfg);
    this.policies = cfg.policies.map((p, i) => named(p, i, this.needs));
    this.incidentPolicies = cfg.incident_mode.policies.map((p, i) => named(p, i, this.needs));
    this.splitter = new Splitter(this.needs);
    const dc = cfg.decision_cache;
    this.sampledCache = dc.sampled_cache_size > 0 ? new TraceIdCache(dc.sampled_cache_size) : TraceIdCache.ofBytes(dc.sampled_cache_bytes);
    this.nonSampledCache =
      dc.non_sampled_cache_size > 0 ? new TraceIdCache(dc.non_sampled_cache_size) : TraceIdCache.ofBytes(dc.non_sampled_cache_bytes);
    this.errorWindow = cfg.incident_mode.auto ? new ErrorWindow(cfg.incident_mode.auto) : undefined;
    const attr = cfg.record_policy_attribute;
    this.compositeAttr = attr.endsWith('.policy') ? attr.slice(0, -'.policy'.length) + '.composite_policy' : attr + '.composite';

    const t = settings.telemetry;
    const P = 'otelcol_processor_tail_sampling_';
    const L = ['processor'];
    this.m = {
      onMemory: t.gauge(P + 'sampling_traces_on_memory', 'Traces held in memory awaiting a decision', L),
      bufferedBytes: t.gauge('sieve_tail_sampling_buffered_bytes', 'Bytes of buffered traces charged against max_buffered_bytes', L),
      countTraces: t.counter(P + 'count_traces_sampled', 'Traces evaluated, by policy and its decision', ['processor', 'policy', 'sampled']),
      globalCount: t.counter(P + 'global_count_traces_sampled', 'Traces decided, by final decision', ['processor', 'sampled']),
      droppedTooEarly: t.counter(P + 'sampling_trace_dropped_too_early', 'Traces dropped before their decision (on_overflow: evict)', L),
      droppedTooLarge: t.counter(P + 'traces_dropped_too_large', 'Traces dropped for exceeding maximum_trace_size_bytes', L),
      lateSpanAge: t.histogram(P + 'sampling_late_span_age', 'Seconds between a decision and a late span of its trace', L, [1, 2, 5, 10, 30, 60, 300, 900, 3600]),
      earlyReleases: t.counter(P + 'early_releases_from_cache_decision', 'Late spans answered from a decision cache', ['processor', 'sampled']),
      decidedEarly: t.counter('sieve_tail_sampling_decided_early', 'Traces decided before their decision wait because a memory cap was reached', L),
      evicted: t.counter('sieve_tail_sampling_evicted', 'Undecided traces evicted because a memory cap was reached', L),
      refused: t.counter('sieve_tail_sampling_refused', 'Spans refused with a retryable error because a memory cap was reached', L),
      lateSpansDropped: t.counter('sieve_tail_sampling_late_spans_dropped', 'Late spans dropped because their trace was not sampled', L),
      incident: t.gauge('sieve_tail_sampling_incident_mode', '1 while incident mode keeps every trace (or the incident policy set)', L),
      decisionLatency: t.histogram(P + 'sampling_decision_timer_latency', 'Milliseconds one decision tick took', L, [1, 5, 10, 50, 100, 500, 1000, 5000]),
      sendFailed: t.counter('sieve_tail_sampling_send_failed_spans', 'Spans of kept traces the next consumer refused', L),
    };
    this.labels = { processor: this.id };
    const child = (policy: string) => ({
      t: this.m.countTraces.labels({ processor: this.id, policy, sampled: 'true' }),
      f: this.m.countTraces.labels({ processor: this.id, policy, sampled: 'false' }),
    });
    this.policyChildren = this.policies.map((p) => child(p.name));
    this.incidentChildren = this.incidentPolicies.map((p) => child(p.name));
    this.policyCounts = new Float64Array(2 * this.policies.length);
    this.incidentCounts = new Float64Array(2 * this.incidentPolicies.length);
    this.m.incident.set(this.labels, 0);
    this.updateGauges();
  }

  async start(host: Host): Promise<void> {
    if (this.started || this.stopped) return;
    this.started = true;
    // Buffered traces live for decision_wait: a larger old-generation step (src/service/gc.ts).
    holdHeapGrowth();
    this.nextTickAt = this.now() + this.interval;
    this.handle = this.timers.setInterval(() => this.tick(), this.interval);
    try {
      this.unregister = registerIncidentTarget(host, this);
    } catch (e) {
      this.logger.warn('tail_sampling: the incident-mode admin routes could not be registered', { error: e as Error });
    }
  }

  // ---------------------------------------------------------------- ingest

  async consume(data: Telemetry): Promise<ConsumeResult> {
    if (this.stopped) throw unavailableError('tail_sampling is shutting down', 1000);
    if (data.signal !== 'traces') throw invalidError(`tail_sampling accepts traces, got ${data.signal}`);
    const src = data.toProto();
    let groups: SpanGroup[];
    try {
      groups = this.splitter.split(src);
    } catch (e) {
      if (e instanceof DecodeError) throw invalidError(`malformed trace data: ${e.message}`);
      throw e;
    }
    if (groups.length === 0) {
      releaseDurable(data);
      return;
    }
    let now = this.now();
    if (now >= this.nextTickAt) this.tick(now);

    // Classify every group before changing anything, so a refusal leaves no trace.
    const acts = new Uint8Array(groups.length);
    let needBytes = 0;
    let newTraces = 0;
    let seenNew: Set<string> | undefined;
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i]!;
      if (this.traces.has(g.key)) {
        acts[i] = ACT_APPEND;
        needBytes += g.size;
      } else if (seenNew?.has(g.key)) {
        acts[i] = ACT_NEW;
        needBytes += g.size;
      } else if (this.sampledCache.get(g.key) >= 0) acts[i] = ACT_LATE_KEEP;
      else if (this.nonSampledCache.get(g.key) >= 0) acts[i] = ACT_LATE_DROP;
      else {
        acts[i] = ACT_NEW;
        needBytes += g.size + TRACE_OVERHEAD_BYTES;
        newTraces++;
        (seenNew ??= new Set()).add(g.key);
      }
    }
    if (this.mode === 'refuse' && needBytes > 0) this.admitOrRefuse(needBytes, newTraces, data.itemCount());

    const tenant = data.ctx.tenant;
    let late: Output | undefined;
    const nowSec = Math.floor(now / 1000);
    const waitRoot = this.cfg.decision_wait_after_root_received;
    const maxTrace = this.cfg.maximum_trace_size_bytes;
    let tooLarge: Set<string> | undefined;
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i]!;
      const act = acts[i]!;
      if (act === ACT_LATE_KEEP || act === ACT_LATE_DROP) {
        const keep = act === ACT_LATE_KEEP;
        const cache = keep ? this.sampledCache : this.nonSampledCache;
        const label = cache.get(g.key);
        this.m.lateSpanAge.observe(this.labels, Math.max(0, nowSec - cache.lastHitTime()));
        (keep ? this.m.earlyReleases.labels(this.id, 'true') : this.m.earlyReleases.labels(this.id, 'false')).inc(g.spanCount);
        if (!keep) {
          this.m.lateSpansDropped.inc(this.labels, g.spanCount);
          continue;
        }
        let bytes = groupBytes(g, src);
        if (this.cfg.record_policy && label > 0) bytes = this.relabeled(bytes, label);
        late ??= { parts: [], bytes: 0, spans: 0 };
        holdRefs(late, data.ctx.durable);
        late.parts.push(bytes);
        late.bytes += bytes.length;
        late.spans += g.spanCount;
        continue;
      }
      let t = this.traces.get(g.key);
      if (t === undefined) {
        if (tooLarge?.has(g.key)) continue;
        t = new TraceEntry(g.key, now, now + this.cfg.decision_wait, g.size, tenant);
        t.accounted = TRACE_OVERHEAD_BYTES + g.size;
        this.buffered += t.accounted;
        this.traces.set(g.key, t);
      }
      holdRefs(t, data.ctx.durable);
      const grown = appendGroup(t, g, src);
      const facts = mergeFacts(t, g, this.needs);
      t.accounted += grown + facts;
      this.buffered += grown + facts;
      if (waitRoot > 0 && t.rootSeen && !t.rootQueued) {
        t.rootQueued = true;
        const d = now + waitRoot;
        if (d < t.deadline) {
          t.deadline = d;
          this.rootQueue.push(t);
        }
      }
      if (maxTrace > 0 && t.len > maxTrace) {
        this.remove(t);
        releaseRefs(t);
        this.nonSampledCache.set(t.key, 0, nowSec);
        this.m.droppedTooLarge.inc(this.labels);
        (tooLarge ??= new Set()).add(t.key);
      }
    }
    if (late) this.emit([late], tenant);
    // Each buffered trace now holds its own references; the request's own hold ends here.
    releaseDurable(data);
    this.enforceCaps(now);
    this.updateGauges();
    now = this.now();
    if (now >= this.nextTickAt) this.tick(now);
  }

  /** refuse mode: frees what is due, then refuses the request if it still does not fit. */
  private admitOrRefuse(needBytes: number, newTraces: number, spans: number): void {
    const cfg = this.cfg;
    if (needBytes > cfg.max_buffered_bytes) {
      this.m.refused.inc(this.labels, spans);
      throw new ConsumerError('too_large', `the request needs ${needBytes} bytes of tail-sampling buffer, more than max_buffered_bytes (${cfg.max_buffered_bytes})`, {
        code: 'SIEVE_ERR_TAIL_SAMPLING_TOO_LARGE',
      });
    }
    const fits = () => this.buffered + needBytes <= cfg.max_buffered_bytes && this.traces.size + newTraces <= cfg.num_traces;
    if (fits()) return;
    this.tick(this.now());
    if (fits()) return;
    this.m.refused.inc(this.labels, spans);
    const oldest = this.traces.values().next().value as TraceEntry | undefined;
    const wait = oldest ? oldest.deadline - this.now() : 1000;
    const retryAfterMs = Math.min(Math.max(1000, Math.ceil(wait / 1000) * 1000), Math.max(1000, cfg.decision_wait));
    throw throttleError(
      `tail_sampling buffer is full (${this.traces.size} traces, ${this.buffered} bytes; caps num_traces ${cfg.num_traces}, max_buffered_bytes ${cfg.max_buffered_bytes})`,
      retryAfterMs,
      'SIEVE_ERR_TAIL_SAMPLING_FULL',
    );
  }

  /** decide_early / evict: while over a cap, acts on the oldest trace. */
  private enforceCaps(now: number): void {
    const cfg = this.cfg;
    if (this.buffered <= cfg.max_buffered_bytes && this.traces.size <= cfg.num_traces) return;
    const out = new Map<string | undefined, Output[]>();
    while ((this.buffered > cfg.max_buffered_bytes || this.traces.size > cfg.num_traces) && this.traces.size > 0) {
      const oldest = this.traces.values().next().value as TraceEntry;
      if (this.mode === 'evict') {
        this.remove(oldest);
        releaseRefs(oldest);
        this.nonSampledCache.set(oldest.key, 0, Math.floor(now / 1000));
        this.m.evicted.inc(this.labels);
        this.m.droppedTooEarly.inc(this.labels);
      } else {
        this.m.decidedEarly.inc(this.labels);
        this.decideTrace(oldest, now, out);
      }
    }
    this.flush(out);
  }

  // ---------------------------------------------------------------- decisions

  /** Decides every trace whose wait is over. Called by the ticker and inline by consume. */
  tick(now: number = this.now()): void {
    this.nextTickAt = now + this.interval;
    const started = performance.now();
    const out = new Map<string | undefined, Output[]>();
    let n = 0;
    // Traces whose root arrived may be due before older ones.
    const q = this.rootQueue;
    while (this.rootHead < q.length) {
      const t = q[this.rootHead]!;
      if (this.traces.get(t.key) === t && t.deadline > now) break;
      this.rootHead++;
      if (this.traces.get(t.key) === t) {
        this.decideTrace(t, now, out);
        n++;
      }
    }
    if (this.rootHead > 1024 && this.rootHead * 2 > q.length) {
      this.rootQueue = q.slice(this.rootHead);
      this.rootHead = 0;
    }
    // Map order is arrival order, so deadlines (first span + decision_wait) only grow.
    for (const t of this.traces.values()) {
      if (t.deadline > now) break;
      this.decideTrace(t, now, out);
      n++;
    }
    this.flush(out);
    this.checkIncident(now);
    this.updateGauges();
    if (n > 0) this.m.decisionLatency.observe(this.labels, performance.now() - started);
  }

  private decideTrace(t: TraceEntry, now: number, out: Map<string | undefined, Output[]>): void {
    this.remove(t);
    const input: EvalInput = { trace: t, traceId: keyBytes(t.key, this.idScratch), nowMs: now };
    let sampled: boolean;
    let labelName = '';
    const incident = this.incidentUntil > now;
    if (incident && this.incidentSet === undefined) {
      sampled = true;
      labelName = 'incident_mode';
    } else {
      const set = incident ? this.incidentSet! : this.policies;
      const fd = decide(set, input, this.cfg.sample_on_first_match);
      const counts = incident ? this.incidentCounts : this.policyCounts;
      for (let i = 0; i < fd.perPolicy.length; i++) {
        const d = fd.perPolicy[i]!;
        const idx = incident ? this.incidentPolicies.indexOf(set[i]!) : i;
        counts[2 * idx + (d === Decision.Sampled || d === Decision.InvertSampled ? 0 : 1)]!++;
      }
      sampled = fd.sampled;
      if (sampled && fd.policy) {
        labelName = fd.policy.name;
        if (input.compositeSubPolicy !== undefined) labelName += '\u0000' + input.compositeSubPolicy;
      }
    }
    this.globalCounts[sampled ? 0 : 1]!++;
    this.errorWindow?.record(now, (t.statusMask & STATUS_BIT.ERROR) !== 0);
    const sec = Math.floor(now / 1000);
    if (!sampled) {
      this.nonSampledCache.set(t.key, 0, sec);
      releaseRefs(t);
      return;
    }
    const label = this.cfg.record_policy ? this.labelFor(labelName) : 0;
    this.sampledCache.set(t.key, label, sec);
    let bytes = t.bytes();
    if (label > 0) bytes = this.relabeled(bytes, label);
    let list = out.get(t.tenant);
    if (list === undefined) out.set(t.tenant, (list = [{ parts: [], bytes: 0, spans: 0 }]));
    let o = list[list.length - 1]!;
    if (o.bytes + bytes.length > MAX_OUTPUT_BYTES && o.parts.length > 0) list.push((o = { parts: [], bytes: 0, spans: 0 }));
    o.parts.push(bytes);
    o.bytes += bytes.length;
    o.spans += t.spanCount;
    if (t.refs) {
      // The kept spans carry the trace's references on.
      (o.refs ??= []).push(...t.refs);
      t.refs = undefined;
    }
  }

  private remove(t: TraceEntry): void {
    this.traces.delete(t.key);
    this.buffered -= t.accounted;
  }

  private labelFor(name: string): number {
    let i = this.labelIndex.get(name);
    if (i === undefined) {
      if (this.labelNames.length >= 0xffff) return 0;
      i = this.labelNames.length;
      this.labelNames.push(name);
      this.labelIndex.set(name, i);
    }
    return i;
  }

  private relabeled(bytes: Uint8Array, label: number): Uint8Array {
    let labels = this.labelBytes.get(label);
    if (labels === undefined) {
      const [policy, sub] = this.labelNames[label]!.split('\u0000');
      labels = [makeLabel(this.cfg.record_policy_attribute, policy!)];
      if (sub !== undefined) labels.push(makeLabel(this.compositeAttr, sub));
      this.labelBytes.set(label, labels);
    }
    const w = this.writer;
    w.reset();
    relabel(bytes, labels, w);
    return w.finish();
  }

  private flush(out: Map<string | undefined, Output[]>): void {
    for (const [tenant, list] of out) this.emit(list, tenant);
  }

  /** Sends kept spans downstream without blocking ingest; shutdown waits for them. */
  private emit(list: Output[], tenant: string | undefined): void {
    for (const o of list) {
      if (o.spans === 0) continue;
      const ctx: { tenant?: string; durable?: DurableRef[] } = tenant === undefined ? {} : { tenant };
      if (o.refs) ctx.durable = o.refs;
      // The kept traces' buffers go on as the request's byte ranges (each a
      // ResourceSpans field), not copied into one buffer: a decided trace's
      // buffer is never written again.
      const data = Telemetry.fromParts('traces', o.parts, o.spans, ctx);
      const spans = o.spans;
      const p: Promise<void> = this.next
        .consume(data)
        .then(
          () => undefined,
          (err: unknown) => {
            this.m.sendFailed.inc(this.labels, spans);
            releaseDurable(data);
            this.logger.warn('tail_sampling: the next consumer refused kept spans', { spans, error: err instanceof Error ? err : new Error(String(err)) });
          },
        )
        .finally(() => this.pending.delete(p));
      this.pending.add(p);
    }
  }

  /** Sets the gauges and adds the decision counts gathered since the last call. */
  private updateGauges(): void {
    this.m.onMemory.set(this.labels, this.traces.size);
    this.m.bufferedBytes.set(this.labels, this.buffered);
    const flushCounts = (counts: Float64Array, children: { t: { inc(n?: number): void }; f: { inc(n?: number): void } }[]) => {
      for (let i = 0; i < children.length; i++) {
        if (counts[2 * i]! > 0) children[i]!.t.inc(counts[2 * i]!);
        if (counts[2 * i + 1]! > 0) children[i]!.f.inc(counts[2 * i + 1]!);
      }
      counts.fill(0);
    };
    flushCounts(this.policyCounts, this.policyChildren);
    flushCounts(this.incidentCounts, this.incidentChildren);
    const g = this.globalCounts;
    if (g[0]! > 0) this.m.globalCount.labels(this.id, 'true').inc(g[0]!);
    if (g[1]! > 0) this.m.globalCount.labels(this.id, 'false').inc(g[1]!);
    g.fill(0);
  }

  // ---------------------------------------------------------------- incident mode

  private checkIncident(now: number): void {
    if (this.incidentUntil !== 0 && this.incidentUntil <= now) this.clearIncident('expired');
    if (this.errorWindow && this.incidentUntil <= now && this.errorWindow.triggered(now)) {
      const auto = this.cfg.incident_mode.auto!;
      this.startIncident(auto.duration, 'auto');
      const c = this.errorWindow.counts(now);
      this.logger.warn('tail_sampling: incident mode on: error ratio crossed the threshold', {
        'processor.id': this.id,
        error_traces: c.errors,
        traces: c.total,
        until: new Date(this.incidentUntil).toISOString(),
      });
    }
  }

  checkIncidentRequest(durationMs: number, policies: string[] | undefined): string | undefined {
    if (durationMs > this.cfg.incident_mode.max_duration) {
      return `duration must be at most incident_mode.max_duration (${this.cfg.incident_mode.max_duration / 1000}s)`;
    }
    if (policies !== undefined) {
      const known = this.incidentPolicies.map((p) => p.name);
      for (const n of policies) {
        if (!known.includes(n)) {
          return known.length === 0
            ? `no incident_mode.policies are configured, so "${n}" is unknown`
            : `unknown incident policy "${n}"; configured: ${known.join(', ')}`;
        }
      }
    }
    return undefined;
  }

  startIncident(durationMs: number, source: 'manual' | 'auto', policies?: string[]): IncidentState {
    const now = this.now();
    this.incidentUntil = now + durationMs;
    this.incidentSource = source;
    if (policies !== undefined) this.incidentSet = this.incidentPolicies.filter((p) => policies.includes(p.name));
    else this.incidentSet = this.incidentPolicies.length > 0 ? this.incidentPolicies : undefined;
    this.m.incident.set(this.labels, 1);
    if (source === 'manual') {
      this.logger.info('tail_sampling: incident mode on', { 'processor.id': this.id, until: new Date(this.incidentUntil).toISOString() });
    }
    return this.incidentState();
  }

  endIncident(): IncidentState {
    if (this.incidentUntil !== 0) this.clearIncident('ended');
    return this.incidentState();
  }

  private clearIncident(why: string): void {
    this.incidentUntil = 0;
    this.incidentSource = undefined;
    this.incidentSet = undefined;
    this.m.incident.set(this.labels, 0);
    this.logger.info(`tail_sampling: incident mode ${why}`, { 'processor.id': this.id });
  }

  incidentState(): IncidentState {
    const now = this.now();
    if (this.incidentUntil <= now) return { active: false };
    const s: IncidentState = { active: true, until: new Date(this.incidentUntil).toISOString(), source: this.incidentSource! };
    if (this.incidentSet !== undefined) s.policies = this.incidentSet.map((p) => p.name);
    return s;
  }

  health(): HealthReport {
    const s = this.incidentState();
    if (!s.active) return { status: 'ok' };
    return { status: 'ok', detail: `incident mode until ${s.until} (${s.source})` };
  }

  // ---------------------------------------------------------------- introspection and shutdown

  /** Traces buffered, bytes charged against max_buffered_bytes. */
  stats(): { traces: number; bufferedBytes: number } {
    return { traces: this.traces.size, bufferedBytes: this.buffered };
  }

  shutdown(): Promise<void> {
    this.shutdownPromise ??= this.doShutdown();
    return this.shutdownPromise;
  }

  private async doShutdown(): Promise<void> {
    this.stopped = true;
    if (this.started) releaseHeapGrowth();
    if (this.handle !== undefined) this.timers.clearInterval(this.handle);
    this.unregister?.();
    const now = this.now();
    if (this.cfg.drop_pending_traces_on_shutdown) {
      if (this.traces.size > 0) this.logger.info('tail_sampling: dropping pending traces on shutdown', { traces: this.traces.size });
      for (const tr of this.traces.values()) releaseRefs(tr);
      this.traces.clear();
      this.buffered = 0;
    } else {
      const out = new Map<string | undefined, Output[]>();
      for (const t of this.traces.values()) this.decideTrace(t, now, out);
      this.flush(out);
    }
    this.updateGauges();
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }
}

function named(p: PolicyCfg, i: number, needs: Needs): NamedPolicy {
  return { name: p.name !== '' ? p.name : `${p.type}/${i}`, evaluator: buildEvaluator(p, needs) };
}
