// probabilistic_sampler (head sampling), hash_seed mode: keeps a span or log
// record when the hash of its trace id (or of a record attribute) with the
// seed falls below the percentage's bucket threshold. The same hash backs the
// tail_sampling `probabilistic` policy's `hash_seed` option.
import type { Counter } from 'prom-client';
import type { ConsumeResult, Consumer, CreateSettings, ProcessorComponent } from '../../component/component.js';
import type { AnyValue, KeyValue, LogRecord, ResourceLogs, ResourceSpans, Signal, Span } from '../../pdata/model.js';
import type { Telemetry } from '../../pdata/telemetry.js';
import { releaseDurable } from '../../pdata/telemetry.js';
import { parseSeverity, recordSeverity, type ProbabilisticSamplerConfig } from './config.js';
import { hashSeedSampled, scaledSamplingRate } from './hash.js';

const enc = new TextEncoder();

/** The `sampling.priority` span attribute: > 0 keeps, 0 drops. */
const SPAN_PRIORITY = 'sampling.priority';

function numeric(v: AnyValue): number | undefined {
  if (v.type === 'int') return Number(v.value);
  if (v.type === 'double') return v.value;
  if (v.type === 'string' && v.value.trim() !== '' && Number.isFinite(Number(v.value))) return Number(v.value);
  return undefined;
}

function find(attrs: readonly KeyValue[], key: string): AnyValue | undefined {
  for (let i = 0; i < attrs.length; i++) if (attrs[i]!.key === key) return attrs[i]!.value;
  return undefined;
}

function isEmptyId(id: Uint8Array): boolean {
  for (let i = 0; i < id.length; i++) if (id[i] !== 0) return false;
  return true;
}

/** The bytes the Collector hashes for a record attribute: its string form. */
function attributeBytes(v: AnyValue): Uint8Array | undefined {
  switch (v.type) {
    case 'string':
      return enc.encode(v.value);
    case 'bytes':
      return v.value;
    case 'int':
    case 'double':
    case 'bool':
      return enc.encode(String(v.value));
    default:
      return undefined;
  }
}

export class ProbabilisticSampler implements ProcessorComponent {
  readonly mutatesData = true;
  private readonly scaled: number;
  private readonly seed: number;
  private readonly keepSeverity: number;
  private readonly kept: { inc(n?: number): void };
  private readonly dropped: { inc(n?: number): void };

  constructor(settings: CreateSettings, private cfg: ProbabilisticSamplerConfig, signal: Signal, private next: Consumer) {
    this.scaled = scaledSamplingRate(cfg.sampling_percentage);
    this.seed = cfg.hash_seed >>> 0;
    this.keepSeverity = cfg.keep_severity_at_least === undefined ? 0 : parseSeverity(cfg.keep_severity_at_least) ?? 0;
    const name =
      signal === 'logs' ? 'otelcol_processor_probabilistic_sampler_count_logs_sampled' : 'otelcol_processor_probabilistic_sampler_count_traces_sampled';
    const c: Counter<string> = settings.telemetry.counter(name, 'Items sampled (sampled="true") or dropped by the probabilistic sampler', ['processor', 'sampled']);
    this.kept = c.labels({ processor: settings.id, sampled: 'true' });
    this.dropped = c.labels({ processor: settings.id, sampled: 'false' });
  }

  async start(): Promise<void> {}
  async shutdown(): Promise<void> {}

  /** The hash_seed decision for a trace id (or any randomness bytes). */
  keepId(bytes: Uint8Array, scaled = this.scaled): boolean {
    return scaled > 0 && hashSeedSampled(this.seed, scaled, bytes);
  }

  async consume(data: Telemetry): Promise<ConsumeResult> {
    const total = data.itemCount();
    if (total === 0) return this.next.consume(data);
    const kept = data.signal === 'logs' ? this.filterLogs(data as Telemetry<'logs'>) : this.filterTraces(data as Telemetry<'traces'>);
    this.kept.inc(kept);
    this.dropped.inc(total - kept);
    if (kept === 0) {
      // Nothing of this batch goes on: its durable requests are done with.
      releaseDurable(data);
      return;
    }
    return this.next.consume(data);
  }

  private spanKept(sp: Span): boolean {
    const pr = find(sp.attributes, SPAN_PRIORITY);
    if (pr !== undefined) {
      const n = numeric(pr);
      if (n !== undefined) return n > 0;
    }
    if (sp.traceId.length === 0 || isEmptyId(sp.traceId)) return !this.cfg.fail_closed;
    return this.keepId(sp.traceId);
  }

  private filterTraces(data: Telemetry<'traces'>): number {
    const model = data.read();
    let kept = 0;
    let total = 0;
    for (const rs of model) for (const ss of rs.scopeSpans) for (const sp of ss.spans) {
      total++;
      if (this.spanKept(sp)) kept++;
    }
    if (kept === total || kept === 0) return kept;
    const out: ResourceSpans[] = [];
    for (const rs of data.mutate()) {
      const scopes = [];
      for (const ss of rs.scopeSpans) {
        const spans = ss.spans.filter((sp) => this.spanKept(sp));
        if (spans.length > 0) scopes.push({ ...ss, spans });
      }
      if (scopes.length > 0) out.push({ ...rs, scopeSpans: scopes });
    }
    data.replace(out);
    return kept;
  }

  private recordKept(r: LogRecord): boolean {
    if (this.keepSeverity > 0 && recordSeverity(r.severityNumber, r.severityText) >= this.keepSeverity) return true;
    let scaled = this.scaled;
    if (this.cfg.sampling_priority !== '') {
      const pr = find(r.attributes, this.cfg.sampling_priority);
      const n = pr === undefined ? undefined : numeric(pr);
      if (n !== undefined) {
        if (n <= 0) return false;
        scaled = scaledSamplingRate(Math.min(100, n));
      }
    }
    let bytes: Uint8Array | undefined;
    if (this.cfg.attribute_source === 'record') {
      const v = find(r.attributes, this.cfg.from_attribute);
      bytes = v === undefined ? undefined : attributeBytes(v);
    } else if (r.traceId.length > 0 && !isEmptyId(r.traceId)) bytes = r.traceId;
    if (bytes === undefined || bytes.length === 0) return !this.cfg.fail_closed;
    return this.keepId(bytes, scaled);
  }

  private filterLogs(data: Telemetry<'logs'>): number {
    const model = data.read();
    let kept = 0;
    let total = 0;
    for (const rl of model) for (const sl of rl.scopeLogs) for (const r of sl.logRecords) {
      total++;
      if (this.recordKept(r)) kept++;
    }
    if (kept === total || kept === 0) return kept;
    const out: ResourceLogs[] = [];
    for (const rl of data.mutate()) {
      const scopes = [];
      for (const sl of rl.scopeLogs) {
        const logRecords = sl.logRecords.filter((r) => this.recordKept(r));
        if (logRecords.length > 0) scopes.push({ ...sl, logRecords });
      }
      if (scopes.length > 0) out.push({ ...rl, scopeLogs: scopes });
    }
    data.replace(out);
    return kept;
  }
}
