import type { ExtensionFactory } from '../../component/component.js';
import { fileStorageSchema, validateFileStorage, type FileStorageConfig } from './config.js';
import { FileStorage } from './storage.js';

export const fileStorageFactory: ExtensionFactory<FileStorageConfig> = {
  kind: 'extension',
  type: 'file_storage',
  schema: fileStorageSchema,
  validate: validateFileStorage,
  signals: { traces: 'beta', metrics: 'beta', logs: 'beta' },
  create: (settings, cfg) => new FileStorage(settings, cfg),
};
