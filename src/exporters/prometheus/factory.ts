import type { ExporterFactory } from '../../component/component.js';
import { prometheusExporterSchema, validatePrometheusExporter, type PrometheusExporterConfig } from './config.js';
import { PrometheusExporter } from './exporter.js';

export const prometheusExporterFactory: ExporterFactory<PrometheusExporterConfig> = {
  kind: 'exporter',
  type: 'prometheus',
  schema: prometheusExporterSchema,
  signals: { metrics: 'beta' },
  validate: validatePrometheusExporter,
  create: (settings, cfg) => new PrometheusExporter(settings, cfg),
};
