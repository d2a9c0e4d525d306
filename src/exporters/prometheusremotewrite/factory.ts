import type { ExporterFactory } from '../../component/component.js';
import { prwSchema, validatePrw, type PrwConfig } from './config.js';
import { PrometheusRemoteWriteExporter } from './exporter.js';

export const prometheusRemoteWriteExporterFactory: ExporterFactory<PrwConfig> = {
  kind: 'exporter',
  type: 'prometheusremotewrite',
  schema: prwSchema,
  signals: { metrics: 'beta' },
  validate: validatePrw,
  create: (settings, cfg) => new PrometheusRemoteWriteExporter(settings, cfg),
};
