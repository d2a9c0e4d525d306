// A unary gRPC server over node:http2, for the OTLP receiver.
//
// The wire protocol is gRPC over HTTP/2 (grpc/grpc PROTOCOL-HTTP2.md): a POST
// whose content-type starts with application/grpc, one message behind a 5-byte
// prefix (compressed flag, big-endian length), the answer as one message and
// the status in the trailers, or a trailers-only response (the status in the
// headers, end of stream) when the call fails.
//
// Why not the server of @grpc/grpc-js: per call it builds a Metadata object,
// an interceptor chain, a stream decoder that copies each message out of the
// DATA chunks, and several closures and promises that live as long as the
// call (for the OTLP receiver, until the pipeline has the data); and it has no
// option for the HTTP/2 flow-control window. Measured with bench/e2e.ts,
// passthrough, 20 attributes, flat out, `--cpu-prof`: grpc-js's own frames
// were 12% of the main thread and garbage collection 20%. At 10k spans/s
// (passthrough, 5 attributes, two alternating pairs) grpc-js took 11.6-11.8%
// of a core and 105-106.5 MiB peak, this server 10.0-10.3% and 101.4-103.1
// MiB; flat out at 20 attributes both ran at 106k-109k spans/s per core.
//
// What the OTLP receiver needs and this server does: the three Export paths
// (anything else is UNIMPLEMENTED), identity, gzip and deflate messages
// (other encodings UNIMPLEMENTED, with grpc-accept-encoding), the largest
// message counted after decompression (RESOURCE_EXHAUSTED, and the rest of
// the request is not read), TLS and client certificates, the Collector's
// keep-alive parameters (server pings, idle and age limits, the client ping
// policy), max_concurrent_streams, and a drain that lets calls in flight
// finish.
import http2 from 'node:http2';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import zlib from 'node:zlib';
import { GRPC } from './status.js';

const { UNIMPLEMENTED, RESOURCE_EXHAUSTED, INTERNAL } = GRPC;

const { NGHTTP2_NO_ERROR, NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_CANCEL } = http2.constants;

/** The most HTTP/2 allows for a window (2^31 - 1). */
const MAX_WINDOW = 2 ** 31 - 1;

/** Request headers that are transport, not call metadata (grpc-js leaves them out of Metadata too). */
const TRANSPORT_HEADERS = new Set(['content-type', 'te', 'grpc-encoding', 'grpc-accept-encoding', 'grpc-timeout', 'content-length']);

export interface GrpcServerOptions {
  /** Largest message accepted, after decompression. */
  maxRecvBytes: number;
  /** Concurrent streams per connection (0: HTTP/2's default, unlimited). */
  maxConcurrentStreams: number;
  /** The Collector's keepalive.server_parameters and enforcement_policy, in milliseconds (0: off). */
  keepalive: {
    time: number;
    timeout: number;
    maxConnectionIdle: number;
    maxConnectionAge: number;
    maxConnectionAgeGrace: number;
    minPingInterval: number;
    permitWithoutStream: boolean;
  };
  /** TLS: PEM material; `clientCa` set asks for and verifies client certificates. */
  tls?: { cert?: Buffer | string; key?: Buffer | string; ca?: Buffer | string; clientCa?: Buffer | string; minVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3' };
}

/** One call: its method path, metadata (lower-case keys; `-bin` values as the base64 text sent) and message. */
export interface GrpcCall {
  readonly path: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly message: Buffer;
  /** The verified client certificate (mTLS), if any. */
  peerCertificate(): PeerCertificate | undefined;
}

/** Answers one call, once; later answers and answers to a call the client cancelled are ignored. */
export interface GrpcReply {
  ok(message: Uint8Array): void;
  /** A status other than OK, with trailers such as grpc-status-details-bin (base64 text). */
  fail(code: number, message: string, trailers?: Record<string, string>): void;
}

export type GrpcHandler = (call: GrpcCall, reply: GrpcReply) => void;

export class GrpcServer {
  /** The listening server (bind it with service/net.ts's listen()). */
  readonly server: http2.Http2Server | http2.Http2SecureServer;
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  private closing = false;

  constructor(
    private readonly opts: GrpcServerOptions,
    private readonly handlers: ReadonlyMap<string, GrpcHandler>,
  ) {
    // HTTP/2 flow-control windows. Node's sessions advertise 64 KiB (per
    // stream and per connection), and a client then sends a large export in
    // 64 KiB steps, each waiting for this process to read and acknowledge the
    // last: agents that batch (8192 spans of 20 attributes is 10 MB) are slowed
    // to what the round trips allow and queue in their own memory meanwhile.
    // Measured (bench/RESULTS.md "Flow control"): passthrough with 20
    // attributes flat out, 34k spans/s per core and 1.1 GiB peak RSS with 64
    // KiB windows against 79k and 267 MiB with 16 MiB. Go's gRPC servers grow
    // theirs to the bandwidth-delay product, up to 16 MiB. The window here is
    // the largest message accepted, so a client may send one whole message
    // without waiting and a connection holds no more unread data than one
    // message, which the receiver must be ready to hold anyway.
    const win = Math.max(65_535, Math.min(Math.floor(opts.maxRecvBytes), MAX_WINDOW));
    const settings: http2.Settings = { initialWindowSize: win };
    if (opts.maxConcurrentStreams > 0) settings.maxConcurrentStreams = opts.maxConcurrentStreams;
    // nghttp2's buffers for a connection (in MB; Node's default is 10, and a
    // session past it refuses new streams): unread data is bounded by the
    // connection window, so room for two windows and the default's margin.
    const maxSessionMemory = 10 + Math.ceil((2 * win) / (1024 * 1024));
    const base = { settings, maxSessionMemory };
    if (opts.tls) {
      const t = opts.tls;
      this.server = http2.createSecureServer({
        ...base,
        cert: t.cert,
        key: t.key,
        ca: t.clientCa ?? t.ca,
        requestCert: t.clientCa !== undefined,
        rejectUnauthorized: t.clientCa !== undefined,
        minVersion: t.minVersion,
        ALPNProtocols: ['h2'],
      });
    } else this.server = http2.createServer(base);
    this.server.on('session', (s) => this.onSession(s, win));
    this.server.on('stream', (st, headers) => this.onStream(st, headers));
    // A client that fails the handshake or speaks something else is dropped; the server goes on.
    this.server.on('sessionError', () => undefined);
    this.server.on('tlsClientError', () => undefined);
    this.server.on('unknownProtocol', (sock) => sock.destroy());
  }

  /** Stops accepting connections and calls; calls in flight finish, then their connections close. */
  drain(): void {
    this.closing = true;
    this.server.close();
    for (const s of this.sessions) if (!s.closed) s.close();
  }

  /** Closes every connection now. */
  destroy(): void {
    this.closing = true;
    this.server.close();
    for (const s of this.sessions) s.destroy();
    this.sessions.clear();
  }

  private onSession(s: http2.ServerHttp2Session, win: number): void {
    if (this.closing) {
      s.destroy();
      return;
    }
    this.sessions.add(s);
    try {
      s.setLocalWindowSize(win);
    } catch {
      /* the session closed before its settings went out */
    }
    s.on('error', () => undefined);
    const ka = this.opts.keepalive;
    const timers: NodeJS.Timeout[] = [];
    const later = (ms: number, fn: () => void) => {
      const t = setTimeout(fn, ms);
      t.unref();
      timers.push(t);
      return t;
    };
    // Server pings: a connection that does not answer one within `timeout` is closed.
    let pingDeadline: NodeJS.Timeout | undefined;
    if (ka.time > 0) {
      const tick = setInterval(() => {
        if (s.closed || s.destroyed || pingDeadline) return;
        if (ka.timeout > 0) {
          pingDeadline = setTimeout(() => s.destroy(), ka.timeout);
          pingDeadline.unref();
        }
        const answered = (err: Error | null) => {
          clearTimeout(pingDeadline);
          pingDeadline = undefined;
          if (err && !s.destroyed) s.destroy();
        };
        try {
          s.ping(answered);
        } catch {
          answered(null);
        }
      }, ka.time);
      tick.unref();
      timers.push(tick as unknown as NodeJS.Timeout);
    }
    // max_connection_age (with gRPC's ±10% jitter), then max_connection_age_grace for calls in flight.
    if (ka.maxConnectionAge > 0) {
      later(Math.round(ka.maxConnectionAge * (0.9 + Math.random() * 0.2)), () => {
        if (s.closed) return;
        s.close();
        if (ka.maxConnectionAgeGrace > 0) later(ka.maxConnectionAgeGrace, () => s.destroy());
      });
    }
    // max_connection_idle: closed after that long without a call.
    let idle: NodeJS.Timeout | undefined;
    let active = 0;
    const armIdle = () => {
      if (ka.maxConnectionIdle <= 0) return;
      clearTimeout(idle);
      idle = setTimeout(() => !s.closed && active === 0 && s.close(), ka.maxConnectionIdle);
      idle.unref();
    };
    armIdle();
    // enforcement_policy, as gRPC servers apply it: a ping sooner than
    // min_time after the last one (or, without calls and without
    // permit_without_stream, sooner than two hours) is a strike, and the third
    // strike closes the connection with GOAWAY ENHANCE_YOUR_CALM. A call
    // clears the strikes (Go's server clears them when it sends headers or
    // data, so the pings clients send to size their windows are not counted).
    let lastPing = 0;
    let strikes = 0;
    s.on('ping', () => {
      if (ka.minPingInterval <= 0) return;
      const now = Date.now();
      const gap = active === 0 && !ka.permitWithoutStream ? 2 * 3600_000 : ka.minPingInterval;
      if (lastPing > 0 && now - lastPing < gap && ++strikes > 2) {
        s.goaway(NGHTTP2_ENHANCE_YOUR_CALM, 0, Buffer.from('too_many_pings'));
        s.destroy();
      }
      lastPing = now;
    });
    s.on('stream', (st) => {
      active++;
      strikes = 0;
      lastPing = 0;
      if (idle) clearTimeout(idle);
      st.once('close', () => {
        if (--active === 0) armIdle();
      });
    });
    s.once('close', () => {
      this.sessions.delete(s);
      for (const t of timers) clearTimeout(t);
      clearTimeout(pingDeadline);
      clearTimeout(idle);
    });
  }

  private onStream(st: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    st.on('error', () => undefined);
    if (headers[':method'] !== 'POST') return httpError(st, 405);
    const ct = headers['content-type'];
    if (typeof ct !== 'string' || !ct.startsWith('application/grpc')) return httpError(st, 415);
    const path = headers[':path'] ?? '';
    const handler = this.handlers.get(path);
    if (!handler) return trailersOnly(st, UNIMPLEMENTED, `unknown method ${path}`);
    const enc = headers['grpc-encoding'];
    const encoding = typeof enc === 'string' ? enc : 'identity';
    if (encoding !== 'identity' && encoding !== 'gzip' && encoding !== 'deflate') {
      return trailersOnly(st, UNIMPLEMENTED, `grpc-encoding ${encoding} is not supported`, { 'grpc-accept-encoding': 'identity,deflate,gzip' });
    }
    const max = this.opts.maxRecvBytes;
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    st.on('data', (c: Buffer) => {
      if (refused) return;
      // An uncompressed message longer than the limit is refused on its prefix, before it is read.
      if (size === 0 && c.length >= 5 && c[0] === 0 && c.readUInt32BE(1) > max) {
        refused = true;
        refuse(st, RESOURCE_EXHAUSTED, `received message larger than max (${c.readUInt32BE(1)} vs. ${max})`);
        return;
      }
      size += c.length;
      // The prefix plus a message: more than that cannot be one acceptable
      // message. Compressed, a message that decompresses within the limit is
      // at most a little longer than it (incompressible data).
      if (size > max + 5 + (encoding === 'identity' ? 0 : 65_536 + (max >>> 3))) {
        refused = true;
        chunks.length = 0;
        refuse(st, RESOURCE_EXHAUSTED, `received message larger than max (${max} bytes)`);
        return;
      }
      chunks.push(c);
    });
    st.on('end', () => {
      if (refused || st.destroyed) return;
      const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
      chunks.length = 0;
      if (all.length < 5) return trailersOnly(st, INTERNAL, all.length === 0 ? 'the request has no message' : 'the request ends inside a message prefix');
      const flag = all[0]!;
      const n = all.readUInt32BE(1);
      if (all.length !== 5 + n) return trailersOnly(st, INTERNAL, all.length < 5 + n ? 'the request ends inside its message' : 'a unary call carries one message');
      const body = all.subarray(5);
      if (flag === 0) return this.call(handler, path, headers, st, body);
      if (flag !== 1 || encoding === 'identity') return trailersOnly(st, INTERNAL, 'a compressed message without a grpc-encoding');
      const inflate = encoding === 'gzip' ? zlib.gunzip : zlib.inflate;
      inflate(body, { maxOutputLength: max }, (err, out) => {
        if (st.destroyed || st.closed) return;
        if (err) {
          const big = (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError;
          return trailersOnly(st, big ? RESOURCE_EXHAUSTED : INTERNAL, big ? `received message larger than max (${max} bytes) after decompression` : `cannot decompress the message: ${err.message}`);
        }
        this.call(handler, path, headers, st, out);
      });
    });
  }

  private call(handler: GrpcHandler, path: string, headers: http2.IncomingHttpHeaders, st: http2.ServerHttp2Stream, message: Buffer): void {
    let metadata: Record<string, string> | undefined;
    const call: GrpcCall = {
      path,
      message,
      get metadata() {
        return (metadata ??= metadataOf(headers));
      },
      peerCertificate: () => {
        const sock = st.session?.socket as TLSSocket | undefined;
        if (!sock || !sock.authorized || typeof sock.getPeerCertificate !== 'function') return undefined;
        return sock.getPeerCertificate();
      },
    };
    let answered = false;
    const reply: GrpcReply = {
      ok(msg) {
        if (answered || st.destroyed || st.closed) return;
        answered = true;
        const framed = Buffer.allocUnsafe(5 + msg.length);
        framed[0] = 0;
        framed.writeUInt32BE(msg.length, 1);
        framed.set(msg, 5);
        try {
          st.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-encoding': 'identity', 'grpc-accept-encoding': 'identity,deflate,gzip' }, { waitForTrailers: true });
          st.once('wantTrailers', () => st.sendTrailers({ 'grpc-status': '0' }));
          st.end(framed);
        } catch {
          /* the client went away */
        }
      },
      fail(code, msg, trailers) {
        if (answered) return;
        answered = true;
        trailersOnly(st, code, msg, trailers);
      },
    };
    try {
      handler(call, reply);
    } catch (e) {
      reply.fail(INTERNAL, e instanceof Error ? e.message : String(e));
    }
  }
}

/** Call metadata from request headers: lower-case keys, no pseudo or transport headers, repeated values joined as HTTP/2 gives them. */
function metadataOf(headers: http2.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k in headers) {
    if (k.charCodeAt(0) === 58 || TRANSPORT_HEADERS.has(k)) continue;
    const v = headers[k];
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? v[0]! : v;
  }
  return out;
}

/** grpc-message: percent-encoded UTF-8 (PROTOCOL-HTTP2.md), printable ASCII left as it is. */
export function encodeGrpcMessage(s: string): string {
  let simple = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x25) {
      simple = false;
      break;
    }
  }
  if (simple) return s;
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) out += b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

function trailersOnly(st: http2.ServerHttp2Stream, code: number, message: string, extra?: Record<string, string>): void {
  if (st.destroyed || st.closed || st.headersSent) return;
  try {
    st.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(code), 'grpc-message': encodeGrpcMessage(message), ...extra }, { endStream: true });
  } catch {
    /* the client went away */
  }
}

/** Answers before the request has been read, then asks the client to stop sending it (RST_STREAM NO_ERROR, RFC 9113 8.1). */
function refuse(st: http2.ServerHttp2Stream, code: number, message: string): void {
  trailersOnly(st, code, message);
  if (!st.destroyed) st.close(NGHTTP2_NO_ERROR);
}

function httpError(st: http2.ServerHttp2Stream, status: number): void {
  try {
    st.respond({ ':status': status }, { endStream: true });
  } catch {
    st.close(NGHTTP2_CANCEL);
  }
}
