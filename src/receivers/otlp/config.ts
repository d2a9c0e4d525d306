import { s, type Infer, type Issues } from '../../config/schema.js';
import { tlsServerSchema } from '../../config/tls.js';
import { authRef } from '../../extensions/auth/auth.js';
import { durableSchema } from '../../durable/config.js';

const grpcSchema = s.object({
  endpoint: s.endpoint('127.0.0.1:4317'),
  transport: s.enum(['tcp'] as const, 'tcp'),
  tls: s.presence(tlsServerSchema),
  /** Largest message accepted, after decompression. */
  max_recv_msg_size_mib: s.number(4, { min: 0 }),
  /** Concurrent streams per HTTP/2 connection (0: unlimited). */
  max_concurrent_streams: s.int(100, { min: 0 }),
  /** Sieve: requests being processed at once on this listener; beyond it new ones get UNAVAILABLE with RetryInfo (0: unlimited). */
  max_in_flight_requests: s.int(1000, { min: 0 }),
  read_buffer_size: s.size(524288),
  write_buffer_size: s.size(0),
  include_metadata: s.bool(false),
  /** The Collector's gRPC keep-alive settings; connection age and idle limits close long-held connections. */
  keepalive: s.object({
    server_parameters: s.object({
      max_connection_idle: s.duration('0s'),
      max_connection_age: s.duration('0s'),
      max_connection_age_grace: s.duration('0s'),
      time: s.duration('2h'),
      timeout: s.duration('20s'),
    }),
    enforcement_policy: s.object({
      min_time: s.duration('5m'),
      permit_without_stream: s.bool(false),
    }),
  }),
  /** The extension that authenticates requests, e.g. {authenticator: bearertokenauth}. */
  auth: authRef(),
});

const corsSchema = s.object({
  allowed_origins: s.array(s.string()),
  allowed_headers: s.array(s.string()),
  exposed_headers: s.array(s.string()),
  max_age: s.int(0, { min: 0 }),
});

const httpSchema = s.object({
  endpoint: s.endpoint('127.0.0.1:4318'),
  tls: s.presence(tlsServerSchema),
  /** Largest body accepted, measured after decompression. */
  max_request_body_size: s.size(20 * 1024 * 1024),
  include_metadata: s.bool(false),
  cors: s.presence(corsSchema),
  traces_url_path: s.string('/v1/traces'),
  metrics_url_path: s.string('/v1/metrics'),
  logs_url_path: s.string('/v1/logs'),
  compression_algorithms: s.array(s.string()),
  /** Time to receive a request's headers; a slow client (slowloris) is cut off after it. */
  read_header_timeout: s.duration('10s'),
  /** Time to receive a whole request, body included. */
  read_timeout: s.duration('30s'),
  write_timeout: s.duration('0s'),
  /** How long an idle keep-alive connection is kept open. */
  idle_timeout: s.duration('60s'),
  /** Sieve: open connections at most; further ones are closed at once (0: unlimited). */
  max_connections: s.int(4096, { min: 0 }),
  /** Sieve: requests served on one keep-alive connection before it is closed (0: unlimited). */
  max_requests_per_connection: s.int(0, { min: 0 }),
  /** Sieve: requests being processed at once; beyond it new ones get 503 + Retry-After (0: unlimited). */
  max_in_flight_requests: s.int(1000, { min: 0 }),
  response_headers: s.map(s.string()),
  /** The extension that authenticates requests, e.g. {authenticator: bearertokenauth}. */
  auth: authRef(),
});

export const otlpReceiverSchema = s.object({
  protocols: s.object({
    grpc: s.presence(grpcSchema),
    http: s.presence(httpSchema),
  }),
  /** Durable acknowledgement (src/durable): a request is answered only once it is committed to storage. */
  durable: durableSchema,
});
export type OtlpReceiverConfig = Infer<typeof otlpReceiverSchema>;
export type GrpcConfig = NonNullable<OtlpReceiverConfig['protocols']['grpc']>;
export type HttpConfig = NonNullable<OtlpReceiverConfig['protocols']['http']>;

export const SUPPORTED_HTTP_ENCODINGS = ['', 'identity', 'gzip', 'x-gzip', 'deflate'];

export function validateOtlpReceiver(cfg: OtlpReceiverConfig, path: string[], issues: Issues): void {
  const { grpc, http } = cfg.protocols;
  if (!grpc && !http) issues.error([...path, 'protocols'], 'must enable at least one protocol (grpc or http)');
  if (grpc && http && grpc.endpoint === http.endpoint) issues.error([...path, 'protocols', 'http', 'endpoint'], `must differ from the grpc endpoint ${grpc.endpoint}`);
  for (const [name, p] of [['grpc', grpc], ['http', http]] as const) {
    if (p?.tls) {
      const t = p.tls;
      if (!(t.cert_file || t.cert_pem) || !(t.key_file || t.key_pem)) {
        issues.error([...path, 'protocols', name, 'tls'], 'needs a certificate and a key (cert_file/cert_pem and key_file/key_pem)');
      }
    }
  }
  if (http) {
    for (const k of ['traces_url_path', 'metrics_url_path', 'logs_url_path'] as const) {
      if (!http[k].startsWith('/')) issues.error([...path, 'protocols', 'http', k], 'must start with "/"');
    }
    http.compression_algorithms.forEach((a, i) => {
      if (!SUPPORTED_HTTP_ENCODINGS.includes(a)) {
        issues.error([...path, 'protocols', 'http', 'compression_algorithms', String(i)], `unsupported compression "${a}"; supported: none, gzip, deflate`);
      }
    });
  }
}
