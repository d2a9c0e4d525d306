// The redaction processor: walks every place a string can hide in a batch
// and applies the Redactor's rules.
//
// A batch that holds its request bytes is redacted on them (wire.ts): nothing
// is decoded, a clean batch passes on as the bytes it arrived in, and hits are
// spliced in. A batch that exists only as a model (or that the byte walk hands
// back, or with summary attributes on) is read and changed in place;
// `data.mutate()` is called only when something was actually removed or
// masked, so it is re-encoded once. Fan-out gives this processor its own copy
// (mutatesData).
import type { Consumer, ConsumeResult, CreateSettings, Host, ProcessorComponent } from '../../component/component.js';
import type { KeyValue, ResourceLogs, ResourceMetrics, ResourceSpans, Signal } from '../../pdata/model.js';
import type { Telemetry } from '../../pdata/telemetry.js';
import type { RedactionConfig } from './config.js';
import { resolveDetectors } from './config.js';
import { PLACE, Redactor } from './redactor.js';
import { WireRedactor } from './wire.js';

export const REDACTIONS_METRIC = 'sieve_redaction_redactions_total';

export class RedactionProcessor implements ProcessorComponent {
  readonly mutatesData = true;
  readonly redactor: Redactor;
  private readonly counter;
  private readonly labelled = new Map<string, { inc(n: number): void }>();
  private readonly wire: WireRedactor | undefined;

  constructor(
    private readonly settings: CreateSettings,
    private readonly cfg: RedactionConfig,
    private readonly signal: Signal,
    private readonly next: Consumer,
    opts: { cleanMaxLen?: number; /** Always walk the decoded model (tests, benchmarks). */ model?: boolean } = {},
  ) {
    this.redactor = new Redactor(cfg, opts);
    this.wire = this.redactor.summaryEnabled || opts.model ? undefined : new WireRedactor(this.redactor);
    this.counter = settings.telemetry.counter(REDACTIONS_METRIC, 'Values removed or masked by the redaction processor, by detector (or Collector rule), place and signal.', ['detector', 'place', 'signal']);
  }

  async start(_host?: Host): Promise<void> {
    // Names only: never a value.
    this.settings.logger.info('redaction active', {
      detectors: resolveDetectors(this.cfg),
      allow_all_keys: this.cfg.allow_all_keys,
      hash_function: this.cfg.hash_function || 'none',
      signal: this.signal,
    });
  }

  async shutdown(): Promise<void> {}

  async consume(data: Telemetry): Promise<ConsumeResult> {
    try {
      this.redact(data);
    } finally {
      this.flushCounts();
    }
    return this.next.consume(data);
  }

  /** Redacts the batch: on its bytes when it has them, else on the model. */
  redact(data: Telemetry): void {
    if (this.wire !== undefined && data.hasProto()) {
      const out = this.wire.run(data.signal, data.toProto());
      if (out !== undefined) {
        data.replaceProto(out);
        return;
      }
    }
    if (this.process(data)) data.mutate();
  }

  /** Redacts the batch in place; true when anything changed. */
  process(data: Telemetry): boolean {
    switch (data.signal) {
      case 'traces':
        return this.traces((data as Telemetry<'traces'>).read() as ResourceSpans[]);
      case 'metrics':
        return this.metrics((data as Telemetry<'metrics'>).read() as ResourceMetrics[]);
      case 'logs':
        return this.logs((data as Telemetry<'logs'>).read() as ResourceLogs[]);
    }
  }

  private flushCounts(): void {
    this.redactor.drain((rule, place, n) => {
      const key = `${rule}\u0000${place}`;
      let c = this.labelled.get(key);
      if (!c) {
        c = this.counter.labels({ detector: rule, place, signal: this.signal });
        this.labelled.set(key, c);
      }
      c.inc(n);
    });
  }

  /** An attribute map with its own summary (resource, scope, span, event, link, log record, data point, exemplar). */
  private attrs(attrs: KeyValue[], place: number): boolean {
    const r = this.redactor.at(place);
    if (attrs.length === 0) return false;
    const sum = r.itemSummary();
    let changed = r.processAttributes(attrs, sum);
    if (sum && r.writeSummary(attrs, sum)) changed = true;
    return changed;
  }

  private string(s: string, place: number): string | undefined {
    if (s.length === 0) return undefined;
    return this.redactor.at(place).redactString(s);
  }

  private traces(resources: ResourceSpans[]): boolean {
    let changed = false;
    for (const rs of resources) {
      if (this.attrs(rs.resource.attributes, PLACE.resource_attribute)) changed = true;
      for (const ss of rs.scopeSpans) {
        if (this.attrs(ss.scope.attributes, PLACE.scope_attribute)) changed = true;
        for (const span of ss.spans) {
          const name = this.string(span.name, PLACE.span_name);
          if (name !== undefined) {
            span.name = name;
            changed = true;
          }
          if (this.attrs(span.attributes, PLACE.span_attribute)) changed = true;
          if (span.status.message !== '') {
            const msg = this.string(span.status.message, PLACE.span_status_message);
            if (msg !== undefined) {
              span.status = { ...span.status, message: msg };
              changed = true;
            }
          }
          for (const ev of span.events) {
            const en = this.string(ev.name, PLACE.span_event_name);
            if (en !== undefined) {
              ev.name = en;
              changed = true;
            }
            if (this.attrs(ev.attributes, PLACE.span_event_attribute)) changed = true;
          }
          for (const link of span.links) {
            if (this.attrs(link.attributes, PLACE.span_link_attribute)) changed = true;
          }
        }
      }
    }
    return changed;
  }

  private logs(resources: ResourceLogs[]): boolean {
    let changed = false;
    const r = this.redactor;
    for (const rl of resources) {
      if (this.attrs(rl.resource.attributes, PLACE.resource_attribute)) changed = true;
      for (const sl of rl.scopeLogs) {
        if (this.attrs(sl.scope.attributes, PLACE.scope_attribute)) changed = true;
        for (const rec of sl.logRecords) {
          if (this.attrs(rec.attributes, PLACE.log_attribute)) changed = true;
          const body = rec.body;
          if (body.type !== 'empty') {
            r.at(PLACE.log_body);
            const sum = r.bodySummary();
            const nb = r.processValue(body, sum, body.type === 'kvlist' || body.type === 'array' ? '' : 'body', true);
            if (nb !== undefined) {
              rec.body = nb;
              changed = true;
            }
            if (sum && r.writeSummary(rec.attributes, sum, 'redaction.body.')) changed = true;
          }
          if (rec.eventName !== '') {
            const en = this.string(rec.eventName, PLACE.log_event_name);
            if (en !== undefined) {
              rec.eventName = en;
              changed = true;
            }
          }
        }
      }
    }
    return changed;
  }

  private metrics(resources: ResourceMetrics[]): boolean {
    let changed = false;
    for (const rm of resources) {
      if (this.attrs(rm.resource.attributes, PLACE.resource_attribute)) changed = true;
      for (const sm of rm.scopeMetrics) {
        if (this.attrs(sm.scope.attributes, PLACE.scope_attribute)) changed = true;
        for (const m of sm.metrics) {
          if (m.metadata.length > 0 && this.attrs(m.metadata, PLACE.metric_metadata)) changed = true;
          const d = m.data;
          if (d.type === 'empty') continue;
          for (const dp of d.dataPoints) {
            if (this.attrs(dp.attributes, PLACE.datapoint_attribute)) changed = true;
            if ('exemplars' in dp) {
              for (const ex of dp.exemplars) {
                if (this.attrs(ex.filteredAttributes, PLACE.exemplar_attribute)) changed = true;
              }
            }
          }
        }
      }
    }
    return changed;
  }
}
