import type { ConnectorFactory } from '../../component/component.js';
import { spanMetricsSchema, validateSpanMetrics, type SpanMetricsConfig } from './config.js';
import { SpanMetricsConnector } from './connector.js';

export const spanMetricsConnectorFactory: ConnectorFactory<SpanMetricsConfig> = {
  kind: 'connector',
  type: 'spanmetrics',
  schema: spanMetricsSchema,
  routes: [['traces', 'metrics']],
  signals: { traces: 'alpha', metrics: 'alpha' },
  validate: validateSpanMetrics,
  create: (settings, cfg, _from, _to, next) => new SpanMetricsConnector(settings, cfg, next),
};
