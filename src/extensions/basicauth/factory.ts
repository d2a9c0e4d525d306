import type { ExtensionFactory } from '../../component/component.js';
import { basicAuthSchema, validateBasicAuth, type BasicAuthConfig } from './config.js';
import { BasicAuth } from './basic.js';

export const basicAuthFactory: ExtensionFactory<BasicAuthConfig> = {
  kind: 'extension',
  type: 'basicauth',
  schema: basicAuthSchema,
  validate: validateBasicAuth,
  signals: { traces: 'alpha', metrics: 'alpha', logs: 'alpha' },
  create: (settings, cfg) => new BasicAuth(settings, cfg),
};
