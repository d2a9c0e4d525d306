// A Tempo distributor double on loopback: OTLP/gRPC (TraceService/Export) and
// OTLP/HTTP (/v1/traces), answering as Tempo's OTLP receiver does (see the
// wire contracts in the project's reference notes):
//
// - multitenancy: X-Scope-OrgID (HTTP header or gRPC metadata) is required;
//   without it the request fails as UNAVAILABLE / 503 ("no org id").
// - a trace id that is not 16 bytes, or a span id that is not 8 bytes or is
//   all zero, rejects the whole request: INVALID_ARGUMENT / 400
//   "trace ids must be 128 bit, received %d bits".
// - throttleNext(): RESOURCE_EXHAUSTED with RetryInfo / HTTP 429 + Retry-After.
// - HTTP: POST only (405), Content-Type application/x-protobuf or
//   application/json (else 415), gzip accepted; success is 200 with an empty
//   ExportTraceServiceResponse in the request's encoding.
import * as grpc from '@grpc/grpc-js';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { ExportTraceServiceRequest, ExportTraceServiceResponse, anyAsString, jsonAnyValue, rpcStatus, toPlain, type PlainAnyValue } from './schemas.js';

export interface TempoSpan {
  traceId: string;
  spanId: string;
  name: string;
  resource: Record<string, string>;
}

export interface TempoRequest {
  transport: 'grpc' | 'http';
  tenant: string | undefined;
  contentType?: string;
  contentEncoding?: string;
  headers: IncomingHttpHeaders | Record<string, string>;
  /** HTTP status, or the gRPC status code name ("OK", "INVALID_ARGUMENT", ...). */
  status: number | string;
  message?: string;
  spans: number;
}

export interface TempoFakeOptions {
  multitenancy?: boolean;
}

const EXPORT_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
const TENANT_RE = /^[A-Za-z0-9!\-_.*'()]+$/;

type PlainSpan = { trace_id: Buffer; span_id: Buffer; name: string };
type PlainResource = { resource?: { attributes: { key: string; value?: PlainAnyValue }[] }; scope_spans: { spans: PlainSpan[] }[] };

class Rejection {
  constructor(readonly grpcCode: grpc.status, readonly httpStatus: number, readonly message: string, readonly retryAfterSeconds?: number) {}
}

export class TempoFake {
  readonly requests: TempoRequest[] = [];
  private store = new Map<string, TempoSpan[]>();
  private throttles: number[] = [];
  private http!: Server;
  private grpc!: grpc.Server;
  httpUrl = '';
  grpcEndpoint = '';
  private multitenancy: boolean;

  constructor(opts: TempoFakeOptions = {}) {
    this.multitenancy = opts.multitenancy ?? true;
  }

  async start(): Promise<this> {
    this.http = createServer((req, res) => void this.handleHttp(req, res));
    await new Promise<void>((r) => this.http.listen(0, '127.0.0.1', r));
    this.httpUrl = `http://127.0.0.1:${(this.http.address() as { port: number }).port}`;

    this.grpc = new grpc.Server();
    const id = (b: Buffer) => b;
    this.grpc.addService(
      { Export: { path: EXPORT_PATH, requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } },
      { Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => this.handleGrpc(call, cb) },
    );
    const port = await new Promise<number>((resolve, reject) =>
      this.grpc.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    this.grpcEndpoint = `127.0.0.1:${port}`;
    return this;
  }

  async close(): Promise<void> {
    this.http.closeAllConnections();
    await new Promise<void>((r) => this.http.close(() => r()));
    this.grpc.forceShutdown();
  }

  /** The next `n` requests are rate limited, with this retry delay. */
  throttleNext(n: number, retryAfterSeconds = 5): void {
    for (let i = 0; i < n; i++) this.throttles.push(retryAfterSeconds);
  }

  tenants(): string[] {
    return [...this.store.keys()];
  }

  spans(tenant: string): TempoSpan[] {
    return this.store.get(tenant) ?? [];
  }

  reset(): void {
    this.requests.length = 0;
    this.store.clear();
    this.throttles.length = 0;
  }

  /** Runs Tempo's checks and stores the spans; returns a rejection or the span count. */
  private ingest(tenant: string | undefined, resources: PlainResource[]): Rejection | number {
    if (this.multitenancy && !tenant) return new Rejection(grpc.status.UNAVAILABLE, 503, 'no org id');
    if (tenant && (tenant.length > 150 || !TENANT_RE.test(tenant))) return new Rejection(grpc.status.UNAVAILABLE, 503, `invalid tenant id ${tenant}`);
    const t = tenant ?? 'single-tenant';
    // The rate limit is checked before the ids, as in Tempo's distributor.
    const throttle = this.throttles.shift();
    if (throttle !== undefined) {
      return new Rejection(
        grpc.status.RESOURCE_EXHAUSTED,
        429,
        `RATE_LIMITED: ingestion rate limit (local: 15000000 bytes, burst size: 20000000 bytes) exceeded while adding ${resources.length * 64} bytes for user ${t}`,
        throttle,
      );
    }
    const spans: TempoSpan[] = [];
    for (const r of resources) {
      const resource: Record<string, string> = {};
      for (const kv of r.resource?.attributes ?? []) resource[kv.key] = anyAsString(kv.value);
      for (const ss of r.scope_spans ?? []) {
        for (const s of ss.spans ?? []) {
          const tid = Buffer.from(s.trace_id ?? []);
          const sid = Buffer.from(s.span_id ?? []);
          if (tid.length !== 16) return new Rejection(grpc.status.INVALID_ARGUMENT, 400, `trace ids must be 128 bit, received ${tid.length * 8} bits`);
          if (sid.length !== 8 || sid.every((b) => b === 0)) return new Rejection(grpc.status.INVALID_ARGUMENT, 400, `span ids must be 64 bit and not all zero, received ${sid.length * 8} bits`);
          spans.push({ traceId: tid.toString('hex'), spanId: sid.toString('hex'), name: s.name, resource });
        }
      }
    }
    const list = this.store.get(t) ?? [];
    list.push(...spans);
    this.store.set(t, list);
    return spans.length;
  }

  private handleGrpc(call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>): void {
    const md = call.metadata.getMap();
    const org = call.metadata.get('x-scope-orgid')[0];
    const tenant = org === undefined ? undefined : String(org);
    const rec: TempoRequest = { transport: 'grpc', tenant, headers: Object.fromEntries(Object.entries(md).map(([k, v]) => [k, String(v)])), status: 'OK', spans: 0 };
    this.requests.push(rec);
    let resources: PlainResource[];
    try {
      resources = (toPlain(ExportTraceServiceRequest, call.request) as { resource_spans: PlainResource[] }).resource_spans;
    } catch (e) {
      rec.status = 'INVALID_ARGUMENT';
      return cb({ code: grpc.status.INVALID_ARGUMENT, details: (e as Error).message });
    }
    const r = this.ingest(tenant, resources);
    if (r instanceof Rejection) {
      rec.status = grpc.status[r.grpcCode];
      rec.message = r.message;
      const metadata = new grpc.Metadata();
      if (r.retryAfterSeconds !== undefined) metadata.set('grpc-status-details-bin', rpcStatus(r.grpcCode, r.message, r.retryAfterSeconds));
      return cb({ code: r.grpcCode, details: r.message, metadata });
    }
    rec.spans = r;
    cb(null, Buffer.from(ExportTraceServiceResponse.encode({}).finish()));
  }

  private async handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const org = req.headers['x-scope-orgid'];
    const tenant = Array.isArray(org) ? org[0] : org;
    const ctype = req.headers['content-type'] ?? '';
    const rec: TempoRequest = {
      transport: 'http',
      tenant,
      contentType: ctype,
      contentEncoding: req.headers['content-encoding'],
      headers: req.headers,
      status: 0,
      spans: 0,
    };
    this.requests.push(rec);
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/v1/traces') {
      rec.status = 404;
      res.writeHead(404).end('404 page not found\n');
      return;
    }
    if (req.method !== 'POST') {
      rec.status = 405;
      res.writeHead(405).end('405 method not allowed, supported: [POST]\n');
      return;
    }
    const media = ctype.split(';')[0]!.trim().toLowerCase();
    const json = media === 'application/json';
    if (!json && media !== 'application/x-protobuf') {
      rec.status = 415;
      res.writeHead(415).end(`415 unsupported media type, supported: [application/json, application/x-protobuf]\n`);
      return;
    }
    const fail = (status: number, code: number, message: string, retryAfter?: number) => {
      rec.status = status;
      rec.message = message;
      const headers: Record<string, string> = { 'Content-Type': json ? 'application/json' : 'application/x-protobuf' };
      if (retryAfter !== undefined) headers['Retry-After'] = String(retryAfter);
      res.writeHead(status, headers);
      res.end(json ? JSON.stringify({ code, message }) : rpcStatus(code, message));
    };
    let body = Buffer.concat(chunks);
    let resources: PlainResource[];
    try {
      if ((req.headers['content-encoding'] ?? '') === 'gzip') body = gunzipSync(body);
      resources = json ? decodeTracesJson(body.toString('utf8')) : (toPlain(ExportTraceServiceRequest, body) as { resource_spans: PlainResource[] }).resource_spans;
    } catch (e) {
      return fail(400, grpc.status.INVALID_ARGUMENT, (e as Error).message);
    }
    const r = this.ingest(tenant, resources);
    if (r instanceof Rejection) return fail(r.httpStatus, r.grpcCode, r.message, r.retryAfterSeconds);
    rec.status = 200;
    rec.spans = r;
    res.writeHead(200, { 'Content-Type': json ? 'application/json' : 'application/x-protobuf' });
    res.end(json ? '{}' : Buffer.from(ExportTraceServiceResponse.encode({}).finish()));
  }
}

function decodeTracesJson(text: string): PlainResource[] {
  const doc = JSON.parse(text) as { resourceSpans?: any[] };
  return (doc.resourceSpans ?? []).map((r) => ({
    resource: { attributes: (r.resource?.attributes ?? []).map((kv: any) => ({ key: kv.key, value: jsonAnyValue(kv.value) })) },
    scope_spans: (r.scopeSpans ?? []).map((ss: any) => ({
      spans: (ss.spans ?? []).map((s: any) => ({ trace_id: Buffer.from(s.traceId ?? '', 'hex'), span_id: Buffer.from(s.spanId ?? '', 'hex'), name: s.name ?? '' })),
    })),
  }));
}

export async function startTempoFake(opts: TempoFakeOptions = {}): Promise<TempoFake> {
  return new TempoFake(opts).start();
}
