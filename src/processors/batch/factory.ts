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
  /**
   * Sieve: most items held (buffered or waiting to be retried) before new data
   * is refused with a retryable error. 0 = 16 × the largest batch size.
   */
  max_buffered_items: s.int(0, { min: 0 }),
  /**
   * Sieve: answer a client only once its data has been handed to the next
   * component, so downstream refusals reach the client. Adds up to `timeout`
   * of latency per request.
   */
  wait_for_flush: s.bool(false),
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
    if (cfg.max_buffered_items > 0 && cfg.max_buffered_items < Math.max(cfg.send_batch_size, cfg.send_batch_max_size)) {
      issues.error([...path, 'max_buffered_items'], 'must be at least send_batch_size and send_batch_max_size');
    }
  },
  create: (settings, cfg, signal, next) => new BatchProcessor(settings, cfg, signal, next),
};
