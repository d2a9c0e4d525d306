import type { ExporterFactory } from '../../component/component.js';
import { loadBalancingSchema, validateLoadBalancing, type LoadBalancingConfig } from './config.js';
import { LoadBalancingExporter } from './exporter.js';

export const loadBalancingExporterFactory: ExporterFactory<LoadBalancingConfig> = {
  kind: 'exporter',
  type: 'loadbalancing',
  schema: loadBalancingSchema,
  signals: { traces: 'beta', metrics: 'beta', logs: 'beta' },
  validate: validateLoadBalancing,
  create: (settings, cfg, signal) => new LoadBalancingExporter(settings, cfg, signal),
};
