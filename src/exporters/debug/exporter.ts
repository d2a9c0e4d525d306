// Writes what passes to stderr, for looking at a pipeline by eye.
// basic: one line per batch with counts; normal: one line per item;
// detailed: the whole batch as OTLP/JSON.
import type { CreateSettings, ConsumeResult, ExporterComponent } from '../../component/component.js';
import { CODECS } from '../../pdata/codec.js';
import type { ResourceLogs, ResourceMetrics, ResourceSpans, Signal } from '../../pdata/model.js';
import type { Telemetry } from '../../pdata/telemetry.js';
import type { DebugConfig } from './factory.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

export class DebugExporter implements ExporterComponent {
  readonly mutatesData = false;
  private windowStart = 0;
  private inWindow = 0;

  constructor(private settings: CreateSettings, private cfg: DebugConfig, private signal: Signal, private write: (s: string) => void = (s) => process.stderr.write(s)) {}

  async start(): Promise<void> {}
  async shutdown(): Promise<void> {}

  /** Collector-style sampling: the first `sampling_initial` batches each second, then one in `sampling_thereafter`. */
  private sampled(): boolean {
    const now = this.settings.now();
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.inWindow = 0;
    }
    this.inWindow++;
    if (this.inWindow <= this.cfg.sampling_initial) return true;
    return (this.inWindow - this.cfg.sampling_initial) % this.cfg.sampling_thereafter === 0;
  }

  async consume(data: Telemetry): Promise<ConsumeResult> {
    if (!this.sampled()) return;
    const head = { kind: 'exporter', data_type: this.signal, name: this.settings.id, items: data.itemCount(), resources: data.read().length };
    if (this.cfg.verbosity === 'basic') {
      this.write(JSON.stringify(head) + '\n');
      return;
    }
    if (this.cfg.verbosity === 'detailed') {
      this.write(JSON.stringify(head) + '\n' + CODECS[this.signal].encodeJson(data.read() as never) + '\n');
      return;
    }
    const lines: string[] = [JSON.stringify(head)];
    if (this.signal === 'traces') {
      for (const r of data.read() as readonly ResourceSpans[]) for (const s of r.scopeSpans) for (const sp of s.spans) lines.push(`${sp.name} ${hex(sp.traceId)} ${hex(sp.spanId)}`);
    } else if (this.signal === 'logs') {
      for (const r of data.read() as readonly ResourceLogs[]) {
        for (const s of r.scopeLogs) {
          for (const l of s.logRecords) {
            const body = l.body.type === 'string' ? l.body.value : l.body.type === 'empty' ? '' : JSON.stringify(l.body, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
            lines.push(`${l.severityText || l.severityNumber} ${body}`);
          }
        }
      }
    } else {
      for (const r of data.read() as readonly ResourceMetrics[]) for (const s of r.scopeMetrics) for (const m of s.metrics) lines.push(`${m.name} ${m.data.type} ${m.data.type === 'empty' ? 0 : m.data.dataPoints.length}`);
    }
    this.write(lines.join('\n') + '\n');
  }
}
