// OTLP/gRPC exporter. Sends the batch's protobuf bytes as they are (encoded
// once, reused when the batch was not changed, and written as the byte ranges
// of the requests a batch joined) over the unary gRPC client of grpc_client.ts.
import type { CreateSettings, ExporterComponent } from '../../component/component.js';
import { ConsumerError, throttleError, unavailableError } from '../../component/errors.js';
import { loadClientTls, tlsVersion } from '../../config/tls.js';
import { decodeExportResponse } from '../../pdata/codec.js';
import type { Signal } from '../../pdata/model.js';
import { retryDelayFromStatus } from '../../receivers/otlp/status.js';
import { createIdValidator } from '../otlp_common/validate_ids.js';
import type { Telemetry } from '../../pdata/telemetry.js';
import { createExporter } from '../exporterhelper/helper.js';
import { resolveClientAuth, type ClientAuthenticator } from '../../extensions/auth/auth.js';
import { GrpcClient, GrpcError, GrpcStatus, grpcStatusName } from './grpc_client.js';
import { parseGrpcEndpoint, type OtlpExporterConfig } from './factory.js';

const PATHS: Record<Signal, string> = {
  traces: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
  metrics: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
  logs: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
};

const RETRYABLE = new Set<number>([GrpcStatus.CANCELLED, GrpcStatus.DEADLINE_EXCEEDED, GrpcStatus.ABORTED, GrpcStatus.OUT_OF_RANGE, GrpcStatus.UNAVAILABLE, GrpcStatus.DATA_LOSS]);

/** Largest response accepted (an ExportResponse is a few bytes; its error message may be longer). */
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

const USER_AGENT = 'sieve-otlp-exporter/0.1';

/** Maps a gRPC failure to a ConsumerError per the OTLP rules. */
export function errorFromGrpc(err: GrpcError): ConsumerError {
  const delay = err.statusDetails ? retryDelayFromStatus(err.statusDetails) : undefined;
  const msg = `gRPC ${grpcStatusName(err.code)}: ${err.details}`;
  if (err.code === GrpcStatus.RESOURCE_EXHAUSTED) {
    // Retryable only when the server sent RetryInfo.
    if (delay !== undefined) return throttleError(msg, delay, 'SIEVE_ERR_BACKEND_THROTTLED');
    return new ConsumerError('too_large', msg, { code: 'SIEVE_ERR_BACKEND_REJECTED' });
  }
  if (RETRYABLE.has(err.code)) return unavailableError(msg, delay, 'SIEVE_ERR_BACKEND_UNAVAILABLE');
  if (err.code === GrpcStatus.INVALID_ARGUMENT) return new ConsumerError('invalid', msg, { code: 'SIEVE_ERR_BACKEND_REJECTED' });
  if (err.code === GrpcStatus.UNAUTHENTICATED) return new ConsumerError('unauthenticated', msg, { code: 'SIEVE_ERR_BACKEND_REJECTED' });
  if (err.code === GrpcStatus.PERMISSION_DENIED) return new ConsumerError('permission_denied', msg, { code: 'SIEVE_ERR_BACKEND_REJECTED' });
  return new ConsumerError('internal', msg, { code: 'SIEVE_ERR_BACKEND_REJECTED' });
}

export function createOtlpGrpcExporter(settings: CreateSettings, cfg: OtlpExporterConfig, signal: Signal): ExporterComponent {
  let client: GrpcClient | undefined;
  let auth: ClientAuthenticator | undefined;
  const ep = parseGrpcEndpoint(cfg.endpoint, cfg.tls.insecure)!;
  const path = PATHS[signal];
  const log = settings.logger;
  const checkIds = signal === 'traces' ? createIdValidator(settings) : undefined;
  const fixedHeaders: Record<string, string> = {};
  for (const [k, v] of Object.entries(cfg.headers)) fixedHeaders[k.toLowerCase()] = v;
  return createExporter({
    settings,
    signal,
    config: cfg,
    async start(host) {
      auth = resolveClientAuth(host, cfg.auth, `exporters::${settings.id}`);
      let tls: ConstructorParameters<typeof GrpcClient>[0]['tls'];
      if (ep.secure) {
        const m = loadClientTls(cfg.tls);
        tls = { ca: m.ca, cert: m.cert, key: m.key, minVersion: tlsVersion(cfg.tls.min_version), rejectUnauthorized: !cfg.tls.insecure_skip_verify };
        if (cfg.tls.server_name_override) tls.servername = cfg.tls.server_name_override;
      }
      client = new GrpcClient({
        target: ep.target,
        secure: ep.secure,
        tls,
        authority: cfg.authority,
        gzip: cfg.compression === 'gzip',
        roundRobin: cfg.balancer_name === 'round_robin',
        maxResponseBytes: MAX_RESPONSE_BYTES,
        userAgent: USER_AGENT,
      });
    },
    async shutdown() {
      client?.close();
    },
    async push(data, abort) {
      if (checkIds) {
        // Backends such as Tempo refuse a whole request for one span with a bad id: drop and count those spans first.
        const d = checkIds(data as Telemetry<'traces'>);
        if (!d) return undefined;
        data = d;
      }
      let md = fixedHeaders;
      const extra = auth?.clientHeaders();
      const tenant = cfg.tenant_header && data.ctx.tenant ? data.ctx.tenant : undefined;
      if (extra || tenant) {
        md = { ...fixedHeaders };
        if (extra) for (const [k, v] of Object.entries(extra)) md[k.toLowerCase()] = v;
        if (tenant) md[cfg.tenant_header!.toLowerCase()] = tenant;
      }
      let res: Buffer;
      try {
        res = await client!.unary(path, data.protoParts(), md, abort);
      } catch (err) {
        if (err instanceof GrpcError) throw errorFromGrpc(err);
        throw err;
      }
      try {
        const partial = res.length > 0 ? decodeExportResponse(res) : undefined;
        if (partial && (partial.rejected > 0 || partial.errorMessage)) {
          log.warn('Partial success response', { rejected_items: partial.rejected, 'error.message': partial.errorMessage });
        }
      } catch {
        // An unreadable response to an accepted call: the data was accepted.
      }
      return undefined;
    },
  });
}
