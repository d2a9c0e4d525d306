import type { ProcessorFactory } from '../../component/component.js';
import { tenantProcessorSchema, validateTenantProcessor, type TenantProcessorConfig } from './config.js';
import { TenantProcessor } from './processor.js';

export const tenantProcessorFactory: ProcessorFactory<TenantProcessorConfig> = {
  kind: 'processor',
  type: 'tenant',
  schema: tenantProcessorSchema,
  validate: validateTenantProcessor,
  // An instance mutates when it stamps to_attribute (or passes on to a consumer that mutates).
  mutatesData: false,
  signals: { traces: 'alpha', metrics: 'alpha', logs: 'alpha' },
  create: (settings, cfg, signal, next) => new TenantProcessor(settings, cfg, signal, next),
};
