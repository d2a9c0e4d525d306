import type { ReceiverFactory } from '../../component/component.js';
import { filelogSchema, validateFilelog, type FilelogConfig } from './config.js';
import { FilelogReceiver } from './receiver.js';

export const filelogReceiverFactory: ReceiverFactory<FilelogConfig> = {
  kind: 'receiver',
  type: 'filelog',
  schema: filelogSchema,
  validate: validateFilelog,
  signals: { logs: 'alpha' },
  create: (settings, cfg, next) => new FilelogReceiver(settings, cfg, next.logs),
};
