import type { ExtensionFactory } from '../../component/component.js';
import { oidcSchema, validateOidc, type OidcConfig } from './config.js';
import { OidcAuth } from './oidc.js';

export const oidcFactory: ExtensionFactory<OidcConfig> = {
  kind: 'extension',
  type: 'oidc',
  schema: oidcSchema,
  validate: validateOidc,
  signals: { traces: 'alpha', metrics: 'alpha', logs: 'alpha' },
  create: (settings, cfg) => new OidcAuth(settings, cfg),
};
