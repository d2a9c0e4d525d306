import type { ProcessorFactory } from '../../component/component.js';
import { signingSchema, validateSigning, type SigningConfig } from './config.js';
import { SigningProcessor } from './processor.js';

export const signingFactory: ProcessorFactory<SigningConfig> = {
  kind: 'processor',
  type: 'signing',
  schema: signingSchema,
  mutatesData: true,
  signals: { traces: 'alpha', logs: 'alpha' },
  validate: validateSigning,
  create: (settings, cfg, signal, next) => new SigningProcessor(settings, cfg, signal, next),
};
