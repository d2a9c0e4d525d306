import type { ProcessorFactory } from '../../component/component.js';
import { tenantLimiterSchema, validateTenantLimiter, type TenantLimiterConfig } from './config.js';
import { TenantLimiter } from './limiter.js';

export const tenantLimiterFactory: ProcessorFactory<TenantLimiterConfig> = {
  kind: 'processor',
  type: 'tenant_limiter',
  schema: tenantLimiterSchema,
  validate: validateTenantLimiter,
  mutatesData: false,
  signals: { traces: 'alpha', metrics: 'alpha', logs: 'alpha' },
  create: (settings, cfg, signal, next) => new TenantLimiter(settings, cfg, signal, next),
};
