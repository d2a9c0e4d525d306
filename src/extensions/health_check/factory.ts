import type { ExtensionFactory } from '../../component/component.js';
import { healthCheckSchema, validateHealthCheck, type HealthCheckConfig } from './config.js';
import { HealthCheck } from './health.js';

export const healthCheckFactory: ExtensionFactory<HealthCheckConfig> = {
  kind: 'extension',
  type: 'health_check',
  schema: healthCheckSchema,
  validate: validateHealthCheck,
  signals: { traces: 'beta', metrics: 'beta', logs: 'beta' },
  create: (settings, cfg) => new HealthCheck(settings, cfg),
};
