import type { ReceiverFactory } from '../../component/component.js';
import { prometheusReceiverSchema, validatePrometheusReceiver, type PrometheusReceiverConfig } from './config.js';
import { PrometheusReceiver } from './receiver.js';

export const prometheusReceiverFactory: ReceiverFactory<PrometheusReceiverConfig> = {
  kind: 'receiver',
  type: 'prometheus',
  schema: prometheusReceiverSchema,
  validate: validatePrometheusReceiver,
  signals: { metrics: 'beta' },
  create: (settings, cfg, next) => new PrometheusReceiver(settings, cfg, next.metrics),
};
