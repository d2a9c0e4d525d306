// The probabilistic_sampler factory.
import type { ProcessorFactory } from '../../component/component.js';
import { configSchema, validateConfig, type ProbabilisticSamplerConfig } from './config.js';
import { ProbabilisticSampler } from './processor.js';

export const probabilisticSamplerFactory: ProcessorFactory<ProbabilisticSamplerConfig> = {
  kind: 'processor',
  type: 'probabilistic_sampler',
  schema: configSchema,
  validate: validateConfig,
  signals: { traces: 'beta', logs: 'alpha' },
  mutatesData: true,
  create(settings, cfg, signal, next) {
    if (signal === 'metrics') throw new Error('probabilistic_sampler supports traces and logs, not metrics');
    return new ProbabilisticSampler(settings, cfg, signal, next);
  },
};
