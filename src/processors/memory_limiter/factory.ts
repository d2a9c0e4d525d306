import type { ProcessorFactory } from '../../component/component.js';
import { s, type Infer } from '../../config/schema.js';
import { MemoryLimiter } from './limiter.js';

export const memoryLimiterSchema = s.object({
  check_interval: s.duration('0s'),
  /** Hard limit in MiB of memory in use (V8 heap plus buffers). */
  limit_mib: s.int(0, { min: 0 }),
  /** Soft limit = limit_mib - spike_limit_mib. Default 20% of limit_mib. */
  spike_limit_mib: s.int(0, { min: 0 }),
  limit_percentage: s.int(0, { min: 0, max: 100 }),
  spike_limit_percentage: s.int(0, { min: 0, max: 100 }),
  min_gc_interval_when_soft_limited: s.duration('10s'),
  min_gc_interval_when_hard_limited: s.duration('0s'),
  max_gc_interval_when_soft_limited: s.duration('30s'),
  max_gc_interval_when_hard_limited: s.duration('30s'),
});
export type MemoryLimiterConfig = Infer<typeof memoryLimiterSchema>;

export const memoryLimiterFactory: ProcessorFactory<MemoryLimiterConfig> = {
  kind: 'processor',
  type: 'memory_limiter',
  schema: memoryLimiterSchema,
  mutatesData: false,
  signals: { traces: 'beta', metrics: 'beta', logs: 'beta' },
  validate(cfg, path, issues) {
    if (cfg.check_interval <= 0) issues.error([...path, 'check_interval'], 'must be greater than zero');
    if (cfg.limit_mib === 0 && cfg.limit_percentage === 0) issues.error([...path, 'limit_mib'], 'either limit_mib or limit_percentage must be set');
    if (cfg.limit_mib > 0 && cfg.spike_limit_mib >= cfg.limit_mib) issues.error([...path, 'spike_limit_mib'], `must be smaller than limit_mib (${cfg.limit_mib})`);
    if (cfg.limit_percentage > 0 && cfg.spike_limit_percentage >= cfg.limit_percentage) {
      issues.error([...path, 'spike_limit_percentage'], `must be smaller than limit_percentage (${cfg.limit_percentage})`);
    }
  },
  create: (settings, cfg, signal, next) => new MemoryLimiter(settings, cfg, signal, next),
};
