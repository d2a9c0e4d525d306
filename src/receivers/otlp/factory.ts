import type { ReceiverFactory } from '../../component/component.js';
import { otlpReceiverSchema, validateOtlpReceiver, type OtlpReceiverConfig } from './config.js';
import { OtlpReceiver } from './receiver.js';

export const otlpReceiverFactory: ReceiverFactory<OtlpReceiverConfig> = {
  kind: 'receiver',
  type: 'otlp',
  schema: otlpReceiverSchema,
  validate: validateOtlpReceiver,
  signals: { traces: 'beta', metrics: 'beta', logs: 'beta' },
  create: (settings, cfg, next) => new OtlpReceiver(settings, cfg, next),
};
