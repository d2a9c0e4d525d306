import type { ExporterFactory } from '../../component/component.js';
import { createExporter } from '../exporterhelper/helper.js';
import { lokiSchema, validateLoki, type LokiConfig } from './config.js';
import { createLokiPusher } from './exporter.js';

export const lokiExporterFactory: ExporterFactory<LokiConfig> = {
  kind: 'exporter',
  type: 'loki',
  schema: lokiSchema,
  validate: validateLoki,
  signals: { logs: 'alpha' },
  create(settings, cfg, signal) {
    if (signal !== 'logs') throw new Error(`the loki exporter supports logs only, not ${signal}`);
    const pusher = createLokiPusher(settings, cfg);
    return createExporter({
      settings,
      signal,
      config: cfg,
      push: (data, abort) => pusher.push(data, abort),
      shutdown: async () => pusher.close(),
    });
  },
};
