// Every component type this build of Sieve knows, by kind.
import type { Factory } from './component/component.js';
import { otlpReceiverFactory } from './receivers/otlp/factory.js';
import { filelogReceiverFactory } from './receivers/filelog/factory.js';
import { prometheusReceiverFactory } from './receivers/prometheus/factory.js';
import { batchFactory } from './processors/batch/factory.js';
import { memoryLimiterFactory } from './processors/memory_limiter/factory.js';
import { tenantProcessorFactory } from './processors/tenant/factory.js';
import { tenantLimiterFactory } from './processors/tenant_limiter/factory.js';
import { signingFactory } from './processors/signing/factory.js';
import { tailSamplingFactory } from './processors/tail_sampling/factory.js';
import { probabilisticSamplerFactory } from './processors/probabilistic_sampler/factory.js';
import { otlpExporterFactory } from './exporters/otlp/factory.js';
import { otlpHttpExporterFactory } from './exporters/otlphttp/factory.js';
import { debugExporterFactory } from './exporters/debug/factory.js';
import { fileExporterFactory } from './exporters/file/factory.js';
import { lokiExporterFactory } from './exporters/loki/factory.js';
import { loadBalancingExporterFactory } from './exporters/loadbalancing/factory.js';
import { fileStorageFactory } from './extensions/file_storage/factory.js';
import { healthCheckFactory } from './extensions/health_check/factory.js';
import { sieveDebugFactory } from './extensions/sieve_debug/factory.js';
import { redactionFactory } from './processors/redaction/factory.js';
import { cardinalityLimitFactory } from './processors/cardinality_limit/factory.js';
import { prometheusExporterFactory } from './exporters/prometheus/factory.js';
import { prometheusRemoteWriteExporterFactory } from './exporters/prometheusremotewrite/factory.js';
import { bearerTokenAuthFactory } from './extensions/bearertokenauth/factory.js';
import { basicAuthFactory } from './extensions/basicauth/factory.js';
import { oidcFactory } from './extensions/oidc/factory.js';
import { spanMetricsConnectorFactory } from './connectors/spanmetrics/factory.js';

export const factories: Factory[] = [
  // receivers
  otlpReceiverFactory,
  filelogReceiverFactory,
  prometheusReceiverFactory,
  // processors
  redactionFactory,
  batchFactory,
  memoryLimiterFactory,
  tenantProcessorFactory,
  tenantLimiterFactory,
  signingFactory,
  tailSamplingFactory,
  probabilisticSamplerFactory,
  cardinalityLimitFactory,
  // exporters
  otlpExporterFactory,
  otlpHttpExporterFactory,
  debugExporterFactory,
  fileExporterFactory,
  lokiExporterFactory,
  loadBalancingExporterFactory,
  prometheusExporterFactory,
  prometheusRemoteWriteExporterFactory,
  // connectors
  spanMetricsConnectorFactory,
  // extensions
  fileStorageFactory,
  healthCheckFactory,
  sieveDebugFactory,
  bearerTokenAuthFactory,
  basicAuthFactory,
  oidcFactory,
];

export function findFactory(kind: Factory['kind'], type: string): Factory | undefined {
  return factories.find((f) => f.kind === kind && f.type === type);
}
