import type { ExtensionFactory } from '../../component/component.js';
import { sieveDebugSchema, validateSieveDebug, type SieveDebugConfig } from './config.js';
import { SieveDebug } from './debug.js';

export const sieveDebugFactory: ExtensionFactory<SieveDebugConfig> = {
  kind: 'extension',
  type: 'sieve_debug',
  schema: sieveDebugSchema,
  validate: validateSieveDebug,
  signals: { traces: 'alpha', metrics: 'alpha', logs: 'alpha' },
  create: (settings, cfg) => new SieveDebug(settings, cfg),
};
