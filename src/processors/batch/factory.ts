import type { ProcessorFactory } from '../../component/component.js';
import { s, type Infer } from '../../config/schema.js';
import { BatchProcessor } from './batch.js';

export const batchSchema = s.object({
  /** Items that trigger a send (a trigger, not a cap). */
  send_batch_size: s.int(8192, { min: 0 }),
  /** Longest time data waits before being sent; 0 sends immediately. */
  timeout: s.duration('200ms'),
  /** Upper bound on a batch's size; larger batches are split. 0 = no limit. */
  send_batch_max_size: s.int(0, { min: 0 }),
  /** Client metadata keys that partition batches (needs include_metadata on the receiver). */
  metadata_keys: s.array(s.string()),
  metadata_cardinality_limit: s.int(1000, { min: 0 }),
});
export type BatchConfig = Infer<typeof batchSchema>;

export const batchFactory: ProcessorFactory<BatchConfig> = {
  kind: 'processor',
  type: 'batch',
  schema: batchSchema,
  mutatesData: false,
  signals: { traces: 'beta', metrics: 'beta', logs: 'beta' },
  validate(cfg, path, issues) {
    if (cfg.send_batch_max_size > 0 && cfg.send_batch_max_size < cfg.send_batch_size) {
      issues.error([...path, 'send_batch_max_size'], `must be greater than or equal to send_batch_size (${cfg.send_batch_size})`);
    }
  },
  create: (settings, cfg, signal, next) => new BatchProcessor(settings, cfg, signal, next),
};
