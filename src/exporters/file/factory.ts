import type { ExporterFactory } from '../../component/component.js';
import { s, type Infer } from '../../config/schema.js';
import { FileExporter } from './exporter.js';
import { tamperEvidentSchema, validateTamperEvident } from '../../processors/signing/tamper.js';

export const fileSchema = s.object({
  path: s.string(),
  /** json: one OTLP/JSON export request per line; proto: 4-byte big-endian length, then the protobuf request. */
  format: s.enum(['json', 'proto'] as const, 'json'),
  rotation: s.presence(
    s.object({
      max_megabytes: s.number(100, { min: 0 }),
      max_days: s.int(0, { min: 0 }),
      max_backups: s.int(100, { min: 0 }),
      localtime: s.bool(false),
    }),
  ),
  /** How often buffered writes are flushed to the file; 0 writes every batch straight away. */
  flush_interval: s.duration('1s'),
  append: s.bool(false),
  compression: s.string(''),
  group_by: s.any(),
  /** Chained, MAC'd lines (docs/signing.md section 6); implemented in src/processors/signing/tamper.ts. */
  tamper_evident: tamperEvidentSchema,
});
export type FileConfig = Infer<typeof fileSchema>;

export const fileExporterFactory: ExporterFactory<FileConfig> = {
  kind: 'exporter',
  type: 'file',
  schema: fileSchema,
  signals: { traces: 'alpha', metrics: 'alpha', logs: 'alpha' },
  validate(cfg, path, issues) {
    if (cfg.compression && cfg.compression !== 'none') issues.error([...path, 'compression'], `"${cfg.compression}" is not supported; leave it empty`);
    if (cfg.group_by && (cfg.group_by as { enabled?: boolean }).enabled) issues.error([...path, 'group_by'], 'is not supported');
    validateTamperEvident(cfg, path, issues);
  },
  create: (settings, cfg, signal) => FileExporter.shared(settings, cfg, signal),
};
