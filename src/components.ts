// Every component type this build of Sieve knows, by kind.
import type { Factory } from './component/component.js';
import { otlpReceiverFactory } from './receivers/otlp/factory.js';
import { batchFactory } from './processors/batch/factory.js';
import { memoryLimiterFactory } from './processors/memory_limiter/factory.js';
import { otlpExporterFactory } from './exporters/otlp/factory.js';
import { otlpHttpExporterFactory } from './exporters/otlphttp/factory.js';
import { debugExporterFactory } from './exporters/debug/factory.js';
import { fileExporterFactory } from './exporters/file/factory.js';

export const factories: Factory[] = [
  // receivers
  otlpReceiverFactory,
  // processors
  batchFactory,
  memoryLimiterFactory,
  // exporters
  otlpExporterFactory,
  otlpHttpExporterFactory,
  debugExporterFactory,
  fileExporterFactory,
  // connectors
  // extensions
];

export function findFactory(kind: Factory['kind'], type: string): Factory | undefined {
  return factories.find((f) => f.kind === kind && f.type === type);
}
