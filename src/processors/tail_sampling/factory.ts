// The tail_sampling factory.
import type { ProcessorFactory } from '../../component/component.js';
import { configSchema, validateConfig, type TailSamplingConfig } from './config.js';
import { TailSamplingProcessor } from './processor.js';

export const tailSamplingFactory: ProcessorFactory<TailSamplingConfig> = {
  kind: 'processor',
  type: 'tail_sampling',
  schema: configSchema,
  validate: validateConfig,
  signals: { traces: 'beta' },
  mutatesData: false,
  create(settings, cfg, signal, next) {
    if (signal !== 'traces') throw new Error(`tail_sampling supports traces only, not ${signal}`);
    return new TailSamplingProcessor(settings, cfg, next);
  },
};
