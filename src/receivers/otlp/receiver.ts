// The OTLP receiver: gRPC (the three Export services) and HTTP (POST
// /v1/traces|metrics|logs, protobuf or JSON by Content-Type, answered in the
// request's type). Protobuf requests are validated by a structural scan and
// passed on as bytes; nothing is decoded that no component needs.
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createGunzip, createInflate } from 'node:zlib';
import type { Transform } from 'node:stream';
import type { Component, ConsumeResult, Consumer, CreateSettings, Host } from '../../component/component.js';
import { ConsumerError, DecodeError, asConsumerError, invalidError, unavailableError } from '../../component/errors.js';
import { loadServerTls, tlsVersion } from '../../config/tls.js';
import { CODECS, encodeExportResponse, encodeExportResponseJson, encodeRpcStatus } from '../../pdata/codec.js';
import { ITEM_NAME, type Signal } from '../../pdata/model.js';
import { Telemetry, type RequestContext } from '../../pdata/telemetry.js';
import { listen, StartError } from '../../service/net.js';
import type { GrpcConfig, HttpConfig, OtlpReceiverConfig } from './config.js';
import { GRPC, mapError, rpcStatusWithRetryInfo } from './status.js';
import { DurableIngest } from '../../durable/ingest.js';
import { GrpcServer, type GrpcCall, type GrpcHandler, type GrpcReply, type GrpcServerOptions } from './grpc_server.js';
import { AuthError, authCounter, certIdentity, guardHttp, httpPeerIdentity, resolveServerAuth, type AuthIdentity, type ServerAuthenticator } from '../../extensions/auth/auth.js';

const GRPC_SERVICES: Record<Signal, string> = {
  traces: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
  metrics: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
  logs: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
};

/**
 * Hook that runs before data enters the pipelines (durable acknowledgement
 * stores the request here and attaches its reference to the context). It may
 * return a function that is told whether the pipelines accepted the request.
 */
export type IngestHook = (signal: Signal, data: Telemetry) => Promise<void | ((accepted: boolean) => void)>;

export class OtlpReceiver implements Component {
  private grpcServer: GrpcServer | undefined;
  private httpServer: Server | undefined;
  private stopping = false;
  private shutdownP: Promise<void> | undefined;
  private inflight = new Set<Promise<unknown>>();
  /** Bound ports, once started (tests use port 0). */
  grpcPort: number | undefined;
  httpPort: number | undefined;
  /** Optional hook run on every accepted request before the pipelines (see IngestHook). */
  ingestHook: IngestHook | undefined;
  /** Durable acknowledgement, when `durable` is enabled (src/durable). */
  private durable: DurableIngest | undefined;

  private grpcAuth: ServerAuthenticator | undefined;
  /** Requests being handled, per transport, for max_in_flight_requests. */
  private busy = { grpc: 0, http: 0 };
  private httpAuth: ServerAuthenticator | undefined;
  private readonly authCount;

  private readonly accepted: Record<Signal, (transport: string, n: number) => void>;
  private readonly refused: Record<Signal, (transport: string, n: number) => void>;

  constructor(private settings: CreateSettings, private cfg: OtlpReceiverConfig, private next: Partial<Record<Signal, Consumer>>) {
    const t = settings.telemetry;
    const mk = (what: 'accepted' | 'refused', signal: Signal) => {
      const unit = ITEM_NAME[signal];
      const c = t.counter(`otelcol_receiver_${what}_${unit}`, `Number of ${unit.replace('_', ' ')} ${what === 'accepted' ? 'successfully pushed into' : 'that could not be pushed into'} the pipeline.`, ['receiver', 'transport']);
      return (transport: string, n: number) => c.inc({ receiver: settings.id, transport }, n);
    };
    this.accepted = { traces: mk('accepted', 'traces'), metrics: mk('accepted', 'metrics'), logs: mk('accepted', 'logs') };
    this.refused = { traces: mk('refused', 'traces'), metrics: mk('refused', 'metrics'), logs: mk('refused', 'logs') };
    this.authCount = authCounter(t);
    // --- durable acknowledgement (src/durable) ---
    if (cfg.durable?.enabled) {
      const d = new DurableIngest(settings, cfg.durable);
      this.durable = d;
      this.ingestHook = (signal, data) => d.persist(signal, data);
    }
  }

  async start(host: Host): Promise<void> {
    // Requests stored but not delivered by an earlier run are replayed before the ports open.
    if (this.durable) await this.durable.start(host, this.next);
    const { grpc: g, http: h } = this.cfg.protocols;
    this.grpcAuth = resolveServerAuth(host, g?.auth, `receivers::${this.settings.id}::protocols::grpc`);
    this.httpAuth = resolveServerAuth(host, h?.auth, `receivers::${this.settings.id}::protocols::http`);
    if (g) await this.startGrpc(g);
    try {
      if (h) await this.startHttp(h);
    } catch (e) {
      this.grpcServer?.destroy();
      throw e;
    }
  }

  /** Runs one request through the pipeline, counting and tracking it for shutdown. */
  private async ingest(signal: Signal, data: Telemetry, transport: string): Promise<ConsumeResult> {
    const consumer = this.next[signal];
    const n = data.itemCount();
    if (!consumer) throw new ConsumerError('internal', `this receiver has no ${signal} pipeline`, { code: 'SIEVE_ERR_NO_PIPELINE' });
    if (this.stopping) {
      this.refused[signal](transport, n);
      throw unavailableError('the receiver is shutting down', 1000, 'SIEVE_ERR_SHUTTING_DOWN');
    }
    if (n === 0) return undefined;
    const p = (async () => {
      const settle = this.ingestHook ? await this.ingestHook(signal, data) : undefined;
      if (!settle) return consumer.consume(data);
      try {
        const r = await consumer.consume(data);
        settle(true);
        return r;
      } catch (e) {
        settle(false);
        throw e;
      }
    })();
    this.inflight.add(p);
    try {
      const r = await p;
      this.accepted[signal](transport, n - (r ? r.rejected : 0));
      if (r && r.rejected) this.refused[signal](transport, r.rejected);
      return r;
    } catch (e) {
      this.refused[signal](transport, n);
      throw e;
    } finally {
      this.inflight.delete(p);
    }
  }

  private metadataCtx(include: boolean, headers: () => Record<string, string[]>, auth?: AuthIdentity): RequestContext {
    const ctx: RequestContext = include ? { receiver: this.settings.id, metadata: headers() } : { receiver: this.settings.id };
    if (auth) ctx.auth = auth;
    return ctx;
  }

  // ---------------------------------------------------------------- gRPC

  private async startGrpc(g: GrpcConfig): Promise<void> {
    const maxMsg = g.max_recv_msg_size_mib > 0 ? Math.floor(g.max_recv_msg_size_mib * 1024 * 1024) : 4 * 1024 * 1024;
    const ka = g.keepalive.server_parameters;
    const ep = g.keepalive.enforcement_policy;
    let tls: GrpcServerOptions['tls'];
    if (g.tls) {
      const m = loadServerTls(g.tls);
      tls = { cert: m.cert, key: m.key, ca: m.ca, clientCa: m.clientCa, minVersion: tlsVersion(g.tls.min_version) };
    }
    const handlers = new Map<string, GrpcHandler>();
    for (const signal of ['traces', 'metrics', 'logs'] as Signal[]) handlers.set(GRPC_SERVICES[signal], (call, reply) => this.handleGrpc(signal, g, call, reply));
    const server = new GrpcServer(
      {
        maxRecvBytes: maxMsg,
        maxConcurrentStreams: g.max_concurrent_streams,
        keepalive: {
          time: ka.time,
          timeout: ka.timeout,
          maxConnectionIdle: ka.max_connection_idle,
          maxConnectionAge: ka.max_connection_age,
          maxConnectionAgeGrace: ka.max_connection_age_grace,
          minPingInterval: ep.min_time,
          permitWithoutStream: ep.permit_without_stream,
        },
        tls,
      },
      handlers,
    );
    const port = await listen(server.server as unknown as Server, g.endpoint, `receivers::${this.settings.id}::protocols::grpc::endpoint`);
    this.grpcServer = server;
    this.grpcPort = port;
    this.settings.logger.info('Starting GRPC server', { endpoint: g.endpoint, port });
  }

  private handleGrpc(signal: Signal, g: GrpcConfig, call: GrpcCall, reply: GrpcReply): void {
    if (g.max_in_flight_requests > 0 && this.busy.grpc >= g.max_in_flight_requests) {
      return reply.fail(GRPC.UNAVAILABLE, 'too many requests in flight', statusDetails(GRPC.UNAVAILABLE, 'too many requests in flight', 1));
    }
    this.busy.grpc++;
    let done = false;
    const release = () => {
      if (!done) {
        done = true;
        this.busy.grpc--;
      }
    };
    const answer: GrpcReply = {
      ok: (m) => {
        release();
        reply.ok(m);
      },
      fail: (code, msg, trailers) => {
        release();
        reply.fail(code, msg, trailers);
      },
    };
    // A refused call learns only UNAUTHENTICATED; the message is not looked at.
    const auth = this.grpcAuth;
    if (!auth) return this.handleGrpcAuthed(signal, g, call, answer, certIdentity(call.peerCertificate()));
    const headers: Record<string, string | undefined> = {};
    const md = call.metadata;
    for (const k in md) headers[k] = k.endsWith('-bin') ? undefined : md[k];
    const authenticator = g.auth!.authenticator;
    auth.authenticate(headers).then(
      (id) => {
        this.authCount.inc({ listener: `${this.settings.id}/grpc`, authenticator, outcome: 'ok' });
        this.handleGrpcAuthed(signal, g, call, answer, id);
      },
      (e) => {
        this.authCount.inc({ listener: `${this.settings.id}/grpc`, authenticator, outcome: e instanceof AuthError ? e.reason : 'invalid' });
        answer.fail(GRPC.UNAUTHENTICATED, 'unauthenticated', { 'www-authenticate': `${auth.challenge} realm="sieve"` });
      },
    );
  }

  private handleGrpcAuthed(signal: Signal, g: GrpcConfig, call: GrpcCall, reply: GrpcReply, id: AuthIdentity | undefined): void {
    const fail = (err: ConsumerError) => {
      const m = mapError(err);
      reply.fail(m.grpc, err.message, statusDetails(m.grpc, err.message, m.retryAfterSec));
    };
    let data: Telemetry;
    try {
      const buf = call.message;
      const count = CODECS[signal].scan(buf);
      const ctx = this.metadataCtx(g.include_metadata, () => {
        const out: Record<string, string[]> = {};
        const md = call.metadata;
        for (const k in md) out[k] = [md[k]!];
        return out;
      }, id);
      data = Telemetry.fromProto(signal, buf, count, ctx);
    } catch (e) {
      this.refused[signal]('grpc', 0);
      return fail(e instanceof DecodeError ? invalidError(`malformed ${signal} request: ${e.message}`) : asConsumerError(e));
    }
    this.ingest(signal, data, 'grpc').then(
      (r) => reply.ok(encodeExportResponse(r || undefined)),
      (e) => fail(asConsumerError(e)),
    );
  }

  // ---------------------------------------------------------------- HTTP

  private async startHttp(h: HttpConfig): Promise<void> {
    const routes = new Map<string, Signal>([
      [h.traces_url_path, 'traces'],
      [h.metrics_url_path, 'metrics'],
      [h.logs_url_path, 'logs'],
    ]);
    const allowed = h.compression_algorithms.length ? new Set(h.compression_algorithms) : undefined;
    const handler = (req: IncomingMessage, res: ServerResponse) => this.handleHttp(routes, h, allowed, req, res);
    let server: Server;
    if (h.tls) {
      const m = loadServerTls(h.tls);
      server = createHttpsServer(
        { connectionsCheckingInterval: checkInterval(h), cert: m.cert, key: m.key, ca: m.clientCa ?? m.ca, requestCert: !!m.clientCa, rejectUnauthorized: !!m.clientCa, minVersion: tlsVersion(h.tls.min_version) },
        handler,
      ) as unknown as Server;
    } else {
      server = createHttpServer({ connectionsCheckingInterval: checkInterval(h) }, handler);
    }
    // Edge limits: slow or idle clients cannot hold sockets, and the socket count is bounded.
    server.headersTimeout = h.read_header_timeout;
    server.requestTimeout = h.read_timeout > 0 ? Math.max(h.read_timeout, h.read_header_timeout) : 0;
    server.keepAliveTimeout = h.idle_timeout;
    if (h.max_connections > 0) server.maxConnections = h.max_connections;
    if (h.max_requests_per_connection > 0) server.maxRequestsPerSocket = h.max_requests_per_connection;
    this.httpPort = await listen(server, h.endpoint, `receivers::${this.settings.id}::protocols::http::endpoint`);
    this.httpServer = server;
    this.settings.logger.info('Starting HTTP server', { endpoint: h.endpoint, port: this.httpPort });
  }

  private handleHttp(routes: Map<string, Signal>, h: HttpConfig, allowed: Set<string> | undefined, req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q >= 0 ? url.slice(0, q) : url;
    const signal = routes.get(path);
    for (const [k, v] of Object.entries(h.response_headers)) res.setHeader(k, v);
    if (h.cors && this.applyCors(h, req, res)) return;
    if (!signal) return plain(res, 404, `404 page not found: ${path}\n`);
    if (h.max_in_flight_requests > 0 && this.busy.http >= h.max_in_flight_requests) {
      req.resume();
      res.writeHead(503, { 'Retry-After': '1', 'Content-Type': 'text/plain; charset=utf-8' });
      return void res.end('503 too many requests in flight\n');
    }
    this.busy.http++;
    res.once('close', () => this.busy.http--);
    const peer = httpPeerIdentity(req);
    if (!this.httpAuth) return this.handleHttpAuthed(signal, h, allowed, req, res, peer);
    void guardHttp(this.httpAuth, req, res, { listener: `${this.settings.id}/http`, authenticator: h.auth!.authenticator, counter: this.authCount }).then((id) => {
      if (id) this.handleHttpAuthed(signal, h, allowed, req, res, id);
    });
  }

  private handleHttpAuthed(signal: Signal, h: HttpConfig, allowed: Set<string> | undefined, req: IncomingMessage, res: ServerResponse, id: AuthIdentity | undefined): void {
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      return plain(res, 405, `405 method not allowed, supported: [POST]\n`);
    }
    const ctype = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const isJson = ctype === 'application/json';
    if (!isJson && ctype !== 'application/x-protobuf') {
      req.resume();
      return plain(res, 415, `415 unsupported media type, supported: [application/json, application/x-protobuf]\n`);
    }
    const enc = (req.headers['content-encoding'] ?? '').trim().toLowerCase();
    if ((allowed && !allowed.has(enc) && enc !== '') || !['', 'identity', 'gzip', 'x-gzip', 'deflate'].includes(enc)) {
      req.resume();
      return this.httpError(res, isJson, signal, invalidError(`unsupported Content-Encoding "${enc}"`));
    }
    readBody(req, enc, h.max_request_body_size).then(
      (body) => {
        let data: Telemetry;
        try {
          if (isJson) {
            data = Telemetry.fromModel(signal, CODECS[signal].decodeJson(body) as never);
          } else {
            data = Telemetry.fromProto(signal, body, CODECS[signal].scan(body));
          }
          data.ctx = this.metadataCtx(h.include_metadata, () => {
            const out: Record<string, string[]> = {};
            for (let i = 0; i < req.rawHeaders.length; i += 2) {
              const k = req.rawHeaders[i]!.toLowerCase();
              (out[k] ??= []).push(req.rawHeaders[i + 1]!);
            }
            return out;
          }, id);
        } catch (e) {
          this.refused[signal]('http', 0);
          const err = e instanceof DecodeError || e instanceof SyntaxError ? invalidError(`malformed ${signal} request: ${(e as Error).message}`) : asConsumerError(e);
          return this.httpError(res, isJson, signal, err);
        }
        this.ingest(signal, data, 'http').then(
          (r) => {
            const partial = r || undefined;
            if (isJson) {
              res.writeHead(200, { 'Content-Type': 'application/json' });
              res.end(encodeExportResponseJson(signal, partial));
            } else {
              res.writeHead(200, { 'Content-Type': 'application/x-protobuf' });
              res.end(encodeExportResponse(partial));
            }
          },
          (e) => this.httpError(res, isJson, signal, asConsumerError(e)),
        );
      },
      (e: ConsumerError) => {
        this.refused[signal]('http', 0);
        this.httpError(res, isJson, signal, e);
      },
    );
  }

  private applyCors(h: HttpConfig, req: IncomingMessage, res: ServerResponse): boolean {
    const cors = h.cors!;
    const origin = req.headers.origin;
    if (!origin) return false;
    const ok = cors.allowed_origins.some((o) => o === origin || (o.includes('*') && new RegExp('^' + o.split('*').map(escapeRe).join('.*') + '$').test(origin)));
    if (!ok) return false;
    res.setHeader('Access-Control-Allow-Origin', origin);
    res.setHeader('Access-Control-Allow-Credentials', 'true');
    res.setHeader('Vary', 'Origin');
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
      res.setHeader('Access-Control-Allow-Methods', 'POST');
      const hdrs = ['content-type', 'content-encoding', ...cors.allowed_headers.map((x) => x.toLowerCase())];
      res.setHeader('Access-Control-Allow-Headers', hdrs.join(', '));
      if (cors.max_age) res.setHeader('Access-Control-Max-Age', String(cors.max_age));
      res.writeHead(204).end();
      return true;
    }
    if (cors.exposed_headers.length) res.setHeader('Access-Control-Expose-Headers', cors.exposed_headers.join(', '));
    return false;
  }

  private httpError(res: ServerResponse, isJson: boolean, _signal: Signal, err: ConsumerError): void {
    if (res.headersSent) return;
    const m = mapError(err);
    const headers: Record<string, string> = { 'Content-Type': isJson ? 'application/json' : 'application/x-protobuf' };
    if (m.retryAfterSec !== undefined) headers['Retry-After'] = String(m.retryAfterSec);
    res.writeHead(m.http, headers);
    res.end(isJson ? JSON.stringify({ code: m.grpc, message: err.message }) : encodeRpcStatus(m.grpc, err.message));
  }

  /**
   * Stops accepting requests and closes the listeners. Requests already in the
   * pipeline are not awaited here: they complete as downstream components drain
   * (a batch buffer flushes on its own shutdown, which comes after this one).
   * Their connections are closed once they have been answered.
   */
  shutdown(): Promise<void> {
    this.shutdownP ??= (async () => {
      this.stopping = true;
      const http = this.httpServer;
      const g = this.grpcServer;
      http?.close();
      http?.closeIdleConnections();
      void Promise.allSettled([...this.inflight]).then(() => {
        // Give answered clients a moment to read their responses, then drop what is left.
        setTimeout(() => {
          http?.closeAllConnections();
          g?.destroy();
        }, 100).unref();
      });
      g?.drain();
      await this.durable?.shutdown();
    })();
    return this.shutdownP;
  }
}

/**
 * The grpc-status-details-bin trailer: a google.rpc.Status with RetryInfo,
 * base64 without padding (PROTOCOL-HTTP2.md: binary values should be sent
 * unpadded; receivers take both).
 */
function statusDetails(code: number, message: string, retryAfterSec: number | undefined): Record<string, string> {
  return { 'grpc-status-details-bin': rpcStatusWithRetryInfo(code, message, retryAfterSec).toString('base64').replace(/=+$/, '') };
}

/** How often Node checks header/request timeouts: often enough that a timeout is enforced within a quarter of it. */
function checkInterval(h: HttpConfig): number {
  const t = [h.read_header_timeout, h.read_timeout].filter((x) => x > 0);
  return t.length ? Math.max(100, Math.min(30_000, Math.floor(Math.min(...t) / 4))) : 30_000;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(text);
}

/**
 * Reads a request body, inflating gzip/deflate on the fly. The limit applies to
 * the decompressed size, and reading stops as soon as it is passed, so a
 * decompression bomb costs at most `limit` bytes of memory.
 */
export function readBody(req: IncomingMessage, encoding: string, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? -1);
    const tooLarge = () => new ConsumerError('too_large', `request body exceeds max_request_body_size (${limit} bytes)`, { code: 'SIEVE_ERR_TOO_LARGE' });
    if (encoding === '' || encoding === 'identity') {
      if (declared > limit) {
        req.resume();
        return reject(tooLarge());
      }
    }
    let src: NodeJS.ReadableStream = req;
    let inflater: Transform | undefined;
    if (encoding === 'gzip' || encoding === 'x-gzip') inflater = createGunzip();
    else if (encoding === 'deflate') inflater = createInflate();
    if (inflater) src = req.pipe(inflater);
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (err?: ConsumerError) => {
      if (done) return;
      done = true;
      if (err) {
        if (inflater) {
          req.unpipe(inflater);
          inflater.destroy();
        }
        req.resume();
        reject(err);
      } else {
        resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
      }
    };
    src.on('data', (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > limit) return finish(tooLarge());
      chunks.push(c);
    });
    src.on('end', () => finish());
    src.on('error', (e: Error) => finish(invalidError(`cannot decompress request body: ${e.message}`)));
    req.on('error', (e: Error) => finish(unavailableError(`request aborted: ${e.message}`)));
  });
}

