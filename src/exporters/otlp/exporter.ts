// OTLP/gRPC exporter. Sends the batch's protobuf bytes as they are (encoded
// once, reused when the batch was not changed) over @grpc/grpc-js with
// identity serializers.
import * as grpc from '@grpc/grpc-js';
import type { CreateSettings, ExporterComponent } from '../../component/component.js';
import { ConsumerError, throttleError, unavailableError } from '../../component/errors.js';
import { loadClientTls } from '../../config/tls.js';
import { decodeExportResponse } from '../../pdata/codec.js';
import type { Signal } from '../../pdata/model.js';
import { retryDelayFromStatus } from '../../receivers/otlp/status.js';
import { createIdValidator } from '../otlp_common/validate_ids.js';
import type { Telemetry } from '../../pdata/telemetry.js';
import { createExporter } from '../exporterhelper/helper.js';
import { resolveClientAuth, type ClientAuthenticator } from '../../extensions/auth/auth.js';
import { parseGrpcEndpoint, type OtlpExporterConfig } from './factory.js';

const PATHS: Record<Signal, string> = {
  traces: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
  metrics: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
  logs: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
};

const RETRYABLE = new Set([grpc.status.CANCELLED, grpc.status.DEADLINE_EXCEEDED, grpc.status.ABORTED, grpc.status.OUT_OF_RANGE, grpc.status.UNAVAILABLE, grpc.status.DATA_LOSS]);

const identity = (b: Buffer) => b;

/** Maps a gRPC failure to a ConsumerError per the OTLP rules. */
export function errorFromGrpc(err: grpc.ServiceError): ConsumerError {
  const details = err.metadata?.get('grpc-status-details-bin')[0];
  const delay = details instanceof Buffer ? retryDelayFromStatus(details) : undefined;
  const msg = `gRPC ${grpc.status[err.code] ?? err.code}: ${err.details || err.message}`;
  if (err.code === grpc.status.RESOURCE_EXHAUSTED) {
    // Retryable only when the server sent RetryInfo.
    if (delay !== undefined) return throttleError(msg, delay, 'SIEVE_ERR_BACKEND_THROTTLED');
    return new ConsumerError('too_large', msg, { code: 'SIEVE_ERR_BACKEND_REJECTED' });
  }
  if (RETRYABLE.has(err.code)) return unavailableError(msg, delay, 'SIEVE_ERR_BACKEND_UNAVAILABLE');
  if (err.code === grpc.status.INVALID_ARGUMENT) return new ConsumerError('invalid', msg, { code: 'SIEVE_ERR_BACKEND_REJECTED' });
  if (err.code === grpc.status.UNAUTHENTICATED) return new ConsumerError('unauthenticated', msg, { code: 'SIEVE_ERR_BACKEND_REJECTED' });
  if (err.code === grpc.status.PERMISSION_DENIED) return new ConsumerError('permission_denied', msg, { code: 'SIEVE_ERR_BACKEND_REJECTED' });
  return new ConsumerError('internal', msg, { code: 'SIEVE_ERR_BACKEND_REJECTED' });
}

export function createOtlpGrpcExporter(settings: CreateSettings, cfg: OtlpExporterConfig, signal: Signal): ExporterComponent {
  let client: grpc.Client | undefined;
  let auth: ClientAuthenticator | undefined;
  const ep = parseGrpcEndpoint(cfg.endpoint, cfg.tls.insecure)!;
  const path = PATHS[signal];
  const log = settings.logger;
  const checkIds = signal === 'traces' ? createIdValidator(settings) : undefined;
  return createExporter({
    settings,
    signal,
    config: cfg,
    async start(host) {
      auth = resolveClientAuth(host, cfg.auth, `exporters::${settings.id}`);
      let creds: grpc.ChannelCredentials;
      if (ep.secure) {
        const m = loadClientTls(cfg.tls);
        creds = grpc.credentials.createSsl(m.ca ?? null, m.key ?? null, m.cert ?? null, cfg.tls.insecure_skip_verify ? { checkServerIdentity: () => undefined } : undefined);
      } else {
        creds = grpc.credentials.createInsecure();
      }
      const opts: grpc.ChannelOptions = {
        'grpc.max_send_message_length': -1,
        'grpc.max_receive_message_length': 16 * 1024 * 1024,
      };
      if (cfg.compression === 'gzip') opts['grpc.default_compression_algorithm'] = 2;
      if (cfg.authority) opts['grpc.default_authority'] = cfg.authority;
      if (cfg.tls.server_name_override) opts['grpc.ssl_target_name_override'] = cfg.tls.server_name_override;
      if (cfg.balancer_name === 'round_robin') opts['grpc.service_config'] = JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] });
      client = new grpc.Client(ep.target, creds, opts);
    },
    async shutdown() {
      client?.close();
    },
    push(data, abort) {
      if (checkIds) {
        // Backends such as Tempo refuse a whole request for one span with a bad id: drop and count those spans first.
        const d = checkIds(data as Telemetry<'traces'>);
        if (!d) return Promise.resolve(undefined);
        data = d;
      }
      const md = new grpc.Metadata();
      for (const [k, v] of Object.entries(cfg.headers)) md.set(k.toLowerCase(), v);
      if (auth) for (const [k, v] of Object.entries(auth.clientHeaders())) md.set(k.toLowerCase(), v);
      if (cfg.tenant_header && data.ctx.tenant) md.set(cfg.tenant_header.toLowerCase(), data.ctx.tenant);
      const body = data.toProto();
      const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
      return new Promise((resolve, reject) => {
        const call = client!.makeUnaryRequest<Buffer, Buffer>(path, identity, identity, buf, md, {}, (err, res) => {
          if (err) return reject(errorFromGrpc(err));
          try {
            const partial = res ? decodeExportResponse(res) : undefined;
            if (partial && (partial.rejected > 0 || partial.errorMessage)) {
              log.warn('Partial success response', { rejected_items: partial.rejected, 'error.message': partial.errorMessage });
            }
            resolve(undefined);
          } catch {
            resolve(undefined);
          }
        });
        abort.addEventListener('abort', () => call.cancel(), { once: true });
      });
    },
  });
}
