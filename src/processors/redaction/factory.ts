import type { ProcessorFactory } from '../../component/component.js';
import { redactionSchema, validateRedaction, type RedactionConfig } from './config.js';
import { RedactionProcessor } from './processor.js';

export const redactionFactory: ProcessorFactory<RedactionConfig> = {
  kind: 'processor',
  type: 'redaction',
  schema: redactionSchema,
  mutatesData: true,
  signals: { traces: 'beta', metrics: 'alpha', logs: 'alpha' },
  validate: validateRedaction,
  create: (settings, cfg, signal, next) => new RedactionProcessor(settings, cfg, signal, next),
};
