import type { ExtensionFactory } from '../../component/component.js';
import { bearerTokenAuthSchema, validateBearerTokenAuth, type BearerTokenAuthConfig } from './config.js';
import { BearerTokenAuth } from './bearer.js';

export const bearerTokenAuthFactory: ExtensionFactory<BearerTokenAuthConfig> = {
  kind: 'extension',
  type: 'bearertokenauth',
  schema: bearerTokenAuthSchema,
  validate: validateBearerTokenAuth,
  signals: { traces: 'alpha', metrics: 'alpha', logs: 'alpha' },
  create: (settings, cfg) => new BearerTokenAuth(settings, cfg),
};
