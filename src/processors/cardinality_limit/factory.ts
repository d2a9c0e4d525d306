import type { ProcessorFactory } from '../../component/component.js';
import { cardinalityLimitSchema, validateCardinalityLimit, type CardinalityLimitConfig } from './config.js';
import { CardinalityLimitProcessor } from './processor.js';

export const cardinalityLimitFactory: ProcessorFactory<CardinalityLimitConfig> = {
  kind: 'processor',
  type: 'cardinality_limit',
  schema: cardinalityLimitSchema,
  mutatesData: true,
  signals: { metrics: 'alpha' },
  validate: validateCardinalityLimit,
  create: (settings, cfg, _signal, next) => new CardinalityLimitProcessor(settings, cfg, next),
};
