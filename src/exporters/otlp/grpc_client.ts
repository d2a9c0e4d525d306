// A unary gRPC client over node:http2, for the OTLP exporter.
//
// The wire protocol is gRPC over HTTP/2 (grpc/grpc PROTOCOL-HTTP2.md): a POST
// with content-type application/grpc and `te: trailers`, the message behind a
// 5-byte prefix (compressed flag, big-endian length), and the status in the
// trailers (or in the headers of a trailers-only response). HTTP statuses
// other than 200 map to gRPC codes as http-grpc-status-mapping.md says.
//
// Why not the client of @grpc/grpc-js:
// it copies every message into a new buffer behind the prefix, and a batch
// joined from several requests had to be copied into one buffer before that.
// Each request-sized allocation counts against V8's old-generation limit as
// external memory, which is what sets how often mark-compacts run at a
// steady rate. Here the prefix and the request's byte ranges are written to
// the stream as they are (HTTP/2 DATA frames reference them, no copy).
// Measured with bench/e2e.ts, passthrough, 20 attributes, 10k spans/s, 15 s
// (`--node-flags=--trace-gc`): grpc-js 32.7–34.2% of a core and 64–67
// mark-compacts; this client 27.7–28.1% and 50–54.
import http2 from 'node:http2';
import net, { isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';

const EMPTY = Buffer.alloc(0);
const gzip = promisify(zlib.gzip);
const gunzip = promisify(zlib.gunzip);

/** gRPC status codes (grpc/grpc doc/statuscodes.md). */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

const STATUS_NAMES: string[] = [];
for (const [name, code] of Object.entries(GrpcStatus)) STATUS_NAMES[code] = name;

export function grpcStatusName(code: number): string {
  return STATUS_NAMES[code] ?? String(code);
}

/** A call that ended with a status other than OK. */
export class GrpcError extends Error {
  constructor(
    readonly code: number,
    readonly details: string,
    /** The grpc-status-details-bin trailer (a google.rpc.Status), when the server sent one. */
    readonly statusDetails?: Buffer,
  ) {
    super(`${grpcStatusName(code)}: ${details}`);
  }
}

/** http-grpc-status-mapping.md: the code for a response whose HTTP status is not 200. */
export function codeForHttpStatus(status: number): number {
  switch (status) {
    case 400:
      return GrpcStatus.INTERNAL;
    case 401:
      return GrpcStatus.UNAUTHENTICATED;
    case 403:
      return GrpcStatus.PERMISSION_DENIED;
    case 404:
      return GrpcStatus.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return GrpcStatus.UNAVAILABLE;
    default:
      return GrpcStatus.UNKNOWN;
  }
}

/** The code for a stream reset with an HTTP/2 error code (as gRPC clients map them). */
function codeForReset(rst: number): number {
  const c = http2.constants;
  if (rst === c.NGHTTP2_REFUSED_STREAM) return GrpcStatus.UNAVAILABLE;
  if (rst === c.NGHTTP2_CANCEL) return GrpcStatus.CANCELLED;
  if (rst === c.NGHTTP2_ENHANCE_YOUR_CALM) return GrpcStatus.RESOURCE_EXHAUSTED;
  if (rst === c.NGHTTP2_INADEQUATE_SECURITY) return GrpcStatus.PERMISSION_DENIED;
  return GrpcStatus.INTERNAL;
}

export interface GrpcClientOptions {
  /** host:port (a name, an IPv4 address or a bracketed IPv6 address), or unix:/path. */
  target: string;
  secure: boolean;
  /** TLS material and checks, for `secure`. */
  tls?: SecureContextOptions & { servername?: string; rejectUnauthorized?: boolean };
  /** The :authority of every call; by default the target. */
  authority?: string;
  /** gzip each message (grpc-encoding: gzip). */
  gzip: boolean;
  /** Resolve every address of the target's name and spread calls over them in turn; else one connection. */
  roundRobin: boolean;
  /** Largest response message accepted. */
  maxResponseBytes: number;
  userAgent: string;
}

interface Endpoint {
  /** host:port to connect to (an address when round-robin resolved the name). */
  connect: string;
  session?: http2.ClientHttp2Session;
}

/** Splits host:port; the host keeps no IPv6 brackets. */
function splitHostPort(target: string): { host: string; port: number } {
  const i = target.lastIndexOf(':');
  const host = target.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(target.slice(i + 1)) };
}

function joinHostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** How long a connection may take to answer a ping after a call on it timed out. */
const PROBE_TIMEOUT_MS = 2000;

/** How long round-robin keeps a resolution before a connection failure may renew it. */
const RESOLVE_MIN_INTERVAL_MS = 5000;

export class GrpcClient {
  private endpoints: Endpoint[] = [];
  private turn = 0;
  private resolving: Promise<void> | undefined;
  private resolvedAt = 0;
  /** Set when a connection failed: the name is resolved again (at most every RESOLVE_MIN_INTERVAL_MS). */
  private stale = false;
  /** Connections with a probe() ping in flight. */
  private readonly probing = new WeakSet<http2.ClientHttp2Session>();
  private closed = false;
  private readonly unixPath: string | undefined;
  private readonly host: string;
  private readonly port: number;
  private readonly authority: string;
  /** Built once, so that unreadable certificates or keys fail at start, not at the first call. */
  private readonly secureContext: SecureContext | undefined;

  constructor(private readonly opts: GrpcClientOptions) {
    if (opts.secure) {
      const { servername: _s, rejectUnauthorized: _r, ...material } = opts.tls ?? {};
      this.secureContext = createSecureContext(material);
    }
    if (opts.target.startsWith('unix:')) {
      this.unixPath = opts.target.slice(5);
      this.host = 'localhost';
      this.port = 0;
      this.authority = opts.authority ?? 'localhost';
    } else {
      const hp = splitHostPort(opts.target);
      this.host = hp.host;
      this.port = hp.port;
      this.authority = opts.authority ?? opts.target;
    }
    if (this.unixPath !== undefined || !opts.roundRobin || isIP(this.host) !== 0) {
      this.endpoints = [{ connect: opts.target }];
      this.resolvedAt = Infinity;
    }
  }

  /**
   * One unary call: the message is the concatenation of `parts`, which are
   * written as they are. Resolves with the response message (empty when the
   * server sent none), rejects with a GrpcError.
   */
  async unary(path: string, parts: readonly Uint8Array[], metadata: Record<string, string>, signal?: AbortSignal): Promise<Buffer> {
    if (this.closed) throw new GrpcError(GrpcStatus.UNAVAILABLE, 'client closed');
    let body = parts;
    let flag = 0;
    if (this.opts.gzip) {
      const whole = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
      body = [await gzip(whole)];
      flag = 1;
    }
    if (signal?.aborted) throw new GrpcError(GrpcStatus.CANCELLED, 'cancelled before the call was sent');
    const ep = await this.pick();
    let len = 0;
    for (const p of body) len += p.byteLength;
    const prefix = Buffer.allocUnsafe(5);
    prefix[0] = flag;
    prefix.writeUInt32BE(len, 1);
    const headers: http2.OutgoingHttpHeaders = {
      ':method': 'POST',
      ':path': path,
      ':authority': this.authority,
      'content-type': 'application/grpc',
      te: 'trailers',
      'user-agent': this.opts.userAgent,
      'grpc-accept-encoding': 'identity,gzip',
    };
    if (flag) headers['grpc-encoding'] = 'gzip';
    for (const k in metadata) headers[k] = metadata[k];
    return this.send(ep, headers, prefix, body, signal);
  }

  private send(ep: Endpoint, headers: http2.OutgoingHttpHeaders, prefix: Buffer, body: readonly Uint8Array[], signal: AbortSignal | undefined): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      const session = this.session(ep);
      let st: http2.ClientHttp2Stream;
      try {
        st = session.request(headers, { endStream: false });
      } catch (err) {
        // Invalid header values, a session that is closing or out of stream ids.
        const e = err as NodeJS.ErrnoException;
        const closing = e.code === 'ERR_HTTP2_GOAWAY_SESSION' || e.code === 'ERR_HTTP2_INVALID_SESSION' || e.code === 'ERR_HTTP2_OUT_OF_STREAMS';
        if (closing) this.drop(ep, session);
        reject(new GrpcError(closing ? GrpcStatus.UNAVAILABLE : GrpcStatus.INTERNAL, e.message));
        return;
      }
      let settled = false;
      let response: http2.IncomingHttpHeaders | undefined;
      let trailers: http2.IncomingHttpHeaders | undefined;
      let failure: Error | undefined;
      const chunks: Buffer[] = [];
      let size = 0;
      const done = (err: GrpcError | undefined, msg?: Buffer) => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(msg!);
      };
      const onAbort = () => {
        if (settled) return;
        // A name that never answers: the next call connects afresh.
        if (session.connecting) this.drop(ep, session, true);
        else this.probe(ep, session);
        st.close(http2.constants.NGHTTP2_CANCEL);
        done(new GrpcError(GrpcStatus.CANCELLED, `cancelled: ${String((signal?.reason as Error | undefined)?.message ?? 'aborted')}`));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      st.on('response', (h) => {
        response = h;
      });
      st.on('trailers', (t) => {
        trailers = t;
      });
      st.on('data', (c: Buffer) => {
        size += c.length;
        if (size > this.opts.maxResponseBytes + 5) {
          st.close(http2.constants.NGHTTP2_CANCEL);
          done(new GrpcError(GrpcStatus.RESOURCE_EXHAUSTED, `response larger than ${this.opts.maxResponseBytes} bytes`));
          return;
        }
        chunks.push(c);
      });
      st.on('error', (err) => {
        failure = err;
      });
      st.on('close', () => {
        if (settled) return;
        this.finish(st, response, trailers, failure, chunks).then(
          (msg) => done(undefined, msg),
          (err: GrpcError) => done(err),
        );
      });
      st.cork();
      st.write(prefix);
      for (const p of body) st.write(p);
      st.end();
      st.uncork();
    });
  }

  /** The outcome of a closed stream. */
  private async finish(st: http2.ClientHttp2Stream, response: http2.IncomingHttpHeaders | undefined, trailers: http2.IncomingHttpHeaders | undefined, failure: Error | undefined, chunks: Buffer[]): Promise<Buffer> {
    if (!response) {
      // No response: the connection failed or the stream was reset.
      const rst = st.rstCode ?? 0;
      if (failure && (rst === 0 || rst === http2.constants.NGHTTP2_INTERNAL_ERROR)) throw new GrpcError(GrpcStatus.UNAVAILABLE, failure.message);
      throw new GrpcError(rst === 0 ? GrpcStatus.UNAVAILABLE : codeForReset(rst), failure?.message ?? `stream closed with HTTP/2 error code ${rst} before a response`);
    }
    const httpStatus = Number(response[':status']);
    // A trailers-only response carries its status in the headers.
    const status = trailers?.['grpc-status'] !== undefined ? trailers : response;
    const raw = status['grpc-status'];
    if (raw === undefined) {
      if (httpStatus !== 200) throw new GrpcError(codeForHttpStatus(httpStatus), `HTTP status ${httpStatus}`);
      const rst = st.rstCode ?? 0;
      if (rst !== 0) throw new GrpcError(codeForReset(rst), `stream reset with HTTP/2 error code ${rst}`);
      throw new GrpcError(GrpcStatus.UNKNOWN, failure?.message ?? 'no grpc-status in the response');
    }
    const code = Number(raw);
    if (code !== GrpcStatus.OK) {
      const details = decodeGrpcMessage(headerString(status['grpc-message']));
      const bin = headerString(status['grpc-status-details-bin']);
      throw new GrpcError(Number.isInteger(code) ? code : GrpcStatus.UNKNOWN, details, bin ? Buffer.from(bin, 'base64') : undefined);
    }
    // The call succeeded: a response message that cannot be read is taken as
    // an empty one (the server accepted the request; failing the call would
    // count accepted data as lost).
    if (chunks.length === 0) return EMPTY;
    const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    if (all.length < 5) return EMPTY;
    const n = all.readUInt32BE(1);
    if (all.length < 5 + n) return EMPTY;
    const msg = all.subarray(5, 5 + n);
    if (all[0] === 0) return msg;
    if (headerString(response['grpc-encoding']) !== 'gzip') return EMPTY;
    return gunzip(msg, { maxOutputLength: this.opts.maxResponseBytes }).catch(() => EMPTY);
  }

  /** The endpoint for the next call (round-robin resolves the name first). */
  private async pick(): Promise<Endpoint> {
    if (this.endpoints.length === 0 || (this.resolving === undefined && this.stale)) await this.resolve();
    if (this.endpoints.length === 0) throw new GrpcError(GrpcStatus.UNAVAILABLE, `no addresses for ${this.host}`);
    const ep = this.endpoints[this.turn % this.endpoints.length]!;
    this.turn = (this.turn + 1) % 0x40000000;
    return ep;
  }

  private resolve(): Promise<void> {
    if (this.resolving) return this.resolving;
    if (Date.now() - this.resolvedAt < RESOLVE_MIN_INTERVAL_MS && this.endpoints.length > 0) {
      this.stale = false;
      return Promise.resolve();
    }
    this.resolving = (async () => {
      try {
        const addrs = await lookup(this.host, { all: true });
        const next = new Map(this.endpoints.map((e) => [e.connect, e]));
        this.endpoints = addrs.map((a) => next.get(joinHostPort(a.address, this.port)) ?? { connect: joinHostPort(a.address, this.port) });
        for (const [k, e] of next) if (!this.endpoints.some((x) => x.connect === k)) e.session?.close();
        this.resolvedAt = Date.now();
        this.stale = false;
      } catch (err) {
        if (this.endpoints.length === 0) throw new GrpcError(GrpcStatus.UNAVAILABLE, `cannot resolve ${this.host}: ${(err as Error).message}`);
      } finally {
        this.resolving = undefined;
      }
    })();
    return this.resolving;
  }

  /** The endpoint's connection, opened when it has none that can take calls. */
  private session(ep: Endpoint): http2.ClientHttp2Session {
    const cur = ep.session;
    if (cur && !cur.closed && !cur.destroyed) return cur;
    const scheme = this.opts.secure ? 'https' : 'http';
    const url = this.unixPath !== undefined ? `${scheme}://localhost` : `${scheme}://${ep.connect}`;
    const o: http2.SecureClientSessionOptions = {
      // Requests of several MiB are in flight at once; Node's default (10 MB) would refuse new streams.
      maxSessionMemory: 512,
      settings: { enablePush: false },
    };
    if (this.opts.secure) {
      o.secureContext = this.secureContext;
      o.rejectUnauthorized = this.opts.tls?.rejectUnauthorized ?? true;
      o.ALPNProtocols = ['h2'];
      // Certificates are checked against the target's name, also when round-robin connects to an address.
      o.servername = this.opts.tls?.servername ?? (isIP(this.host) === 0 ? this.host : undefined);
    }
    if (this.unixPath !== undefined) {
      const path = this.unixPath;
      o.createConnection = () => net.connect(path);
    }
    const s = http2.connect(url, o);
    // Failures reach the calls through their streams; the session only goes away.
    s.on('error', () => this.drop(ep, s, true));
    s.on('goaway', () => this.drop(ep, s));
    s.on('close', () => this.drop(ep, s));
    s.unref();
    ep.session = s;
    return s;
  }

  /**
   * After a call timed out on an open connection: a connection that died
   * without a word (a peer or a middlebox gone, no FIN) would take every
   * later call until TCP gives up, so it is pinged, and dropped when the
   * ping is not answered within PROBE_TIMEOUT_MS.
   */
  private probe(ep: Endpoint, s: http2.ClientHttp2Session): void {
    if (this.probing.has(s) || s.destroyed || s.closed) return;
    this.probing.add(s);
    const timer = setTimeout(() => {
      this.probing.delete(s);
      this.drop(ep, s, true);
    }, PROBE_TIMEOUT_MS);
    timer.unref();
    const sent = s.ping((err) => {
      clearTimeout(timer);
      this.probing.delete(s);
      if (err) this.drop(ep, s, true);
    });
    if (!sent) {
      clearTimeout(timer);
      this.probing.delete(s);
      this.drop(ep, s, true);
    }
  }

  /** Forgets a connection that can take no more calls (`failed`: also renew the resolution). */
  private drop(ep: Endpoint, s: http2.ClientHttp2Session, failed = false): void {
    if (ep.session === s) ep.session = undefined;
    if (failed) {
      this.stale = this.resolvedAt !== Infinity;
      if (!s.destroyed) s.destroy();
    } else if (!s.closed) s.close();
  }

  /** Closes every connection; calls in flight finish first. */
  close(): void {
    this.closed = true;
    for (const ep of this.endpoints) {
      const s = ep.session;
      ep.session = undefined;
      if (s && !s.closed) {
        s.close();
        setTimeout(() => s.destroyed || s.destroy(), 5000).unref();
      }
    }
  }
}

function headerString(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** grpc-message is percent-encoded (PROTOCOL-HTTP2.md). */
function decodeGrpcMessage(v: string | undefined): string {
  if (!v) return '';
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}
