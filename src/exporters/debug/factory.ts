import type { ExporterFactory } from '../../component/component.js';
import { s, type Infer } from '../../config/schema.js';
import { DebugExporter } from './exporter.js';

export const debugSchema = s.object({
  verbosity: s.enum(['basic', 'normal', 'detailed'] as const, 'basic'),
  /** Batches written per second before sampling starts (Collector semantics). */
  sampling_initial: s.int(2, { min: 0 }),
  /** After the initial ones, one in N batches is written each second. */
  sampling_thereafter: s.int(1, { min: 1 }),
  use_internal_logger: s.bool(true),
});
export type DebugConfig = Infer<typeof debugSchema>;

export const debugExporterFactory: ExporterFactory<DebugConfig> = {
  kind: 'exporter',
  type: 'debug',
  schema: debugSchema,
  signals: { traces: 'development', metrics: 'development', logs: 'development' },
  create: (settings, cfg, signal) => new DebugExporter(settings, cfg, signal),
};
