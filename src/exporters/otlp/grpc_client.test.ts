import { afterEach, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import http2 from 'node:http2';
import net from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { GrpcClient, GrpcError, GrpcStatus, codeForHttpStatus, type GrpcClientOptions } from './grpc_client.js';
import { freePort } from '../../../test/helpers/sieve.js';

const PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
const identity = (b: Buffer) => b;

interface Seen {
  body: Buffer;
  md: grpc.Metadata;
}

type Handler = (body: Buffer, md: grpc.Metadata) => { err?: Partial<grpc.StatusObject>; res?: Buffer };

/** A real grpc-js server with one unary method at PATH. */
async function grpcServer(handler: Handler = () => ({ res: Buffer.alloc(0) }), address?: string): Promise<{ port: number; seen: Seen[]; stop(): Promise<void> }> {
  const server = new grpc.Server();
  const seen: Seen[] = [];
  server.addService(
    { Export: { path: PATH, requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity } } as grpc.ServiceDefinition,
    {
      Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        seen.push({ body: call.request, md: call.metadata });
        const out = handler(call.request, call.metadata);
        if (out.err) cb(out.err as grpc.ServiceError, null);
        else cb(null, out.res ?? Buffer.alloc(0));
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) => server.bindAsync(address ?? '127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return { port, seen, stop: () => new Promise<void>((r) => server.tryShutdown(() => r())) };
}

/** A raw HTTP/2 server, for responses a gRPC server would not send. */
async function h2Server(onStream: (st: http2.ServerHttp2Stream, h: http2.IncomingHttpHeaders) => void): Promise<{ port: number; stop(): Promise<void> }> {
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  server.on('stream', (st, h) => {
    st.on('error', () => undefined);
    onStream(st, h);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    stop: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        // Open sessions would keep close() waiting.
        for (const s of sessions) s.destroy();
      }),
  };
}

function client(port: number | string, over: Partial<GrpcClientOptions> = {}): GrpcClient {
  const c = new GrpcClient({ target: typeof port === 'number' ? `127.0.0.1:${port}` : port, secure: false, gzip: false, roundRobin: false, maxResponseBytes: 1 << 20, userAgent: 'test', ...over });
  clients.push(c);
  return c;
}
const clients: GrpcClient[] = [];
const stops: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of stops.splice(0)) await s();
});

async function failure(p: Promise<unknown>): Promise<GrpcError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GrpcError);
  return err as GrpcError;
}

describe('GrpcClient', () => {
  it('sends the concatenation of the parts as one message, with the metadata', async () => {
    const s = await grpcServer(() => ({ res: Buffer.from('ok') }));
    stops.push(s.stop);
    const parts = [Buffer.from('first-'), new Uint8Array([1, 2, 3]), Buffer.alloc(70_000, 7)];
    const res = await client(s.port).unary(PATH, parts, { 'x-team': 'payments', 'x-scope-orgid': 'acme' });
    expect(res.toString()).toBe('ok');
    expect(s.seen).toHaveLength(1);
    expect(s.seen[0]!.body.equals(Buffer.concat(parts))).toBe(true);
    expect(s.seen[0]!.md.get('x-team')).toEqual(['payments']);
    expect(s.seen[0]!.md.get('x-scope-orgid')).toEqual(['acme']);
    expect(s.seen[0]!.md.get('user-agent')[0]).toContain('test');
  });

  it('gzips the message when asked, and the server reads it back', async () => {
    const s = await grpcServer();
    stops.push(s.stop);
    const parts = [Buffer.from('a'.repeat(5000)), Buffer.from('b'.repeat(5000))];
    await client(s.port, { gzip: true }).unary(PATH, parts, {});
    expect(s.seen[0]!.body.toString()).toBe('a'.repeat(5000) + 'b'.repeat(5000));
  });

  it('reads a gzip-compressed response', async () => {
    const srv = await h2Server((st, h) => {
      expect(h['grpc-accept-encoding']).toContain('gzip');
      st.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-encoding': 'gzip' }, { waitForTrailers: true });
      const z = gzipSync(Buffer.from('response body'));
      const prefix = Buffer.from([1, 0, 0, 0, 0]);
      prefix.writeUInt32BE(z.length, 1);
      st.on('wantTrailers', () => st.sendTrailers({ 'grpc-status': '0' }));
      st.end(Buffer.concat([prefix, z]));
      st.resume();
    });
    stops.push(srv.stop);
    const res = await client(srv.port).unary(PATH, [Buffer.from('x')], {});
    expect(res.toString()).toBe('response body');
  });

  it('takes an OK call with a response it cannot read as accepted, with an empty response', async () => {
    const srv = await h2Server((st) => {
      st.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      st.on('wantTrailers', () => st.sendTrailers({ 'grpc-status': '0' }));
      // A prefix that promises 100 bytes, then 3.
      st.end(Buffer.from([0, 0, 0, 0, 100, 1, 2, 3]));
      st.resume();
    });
    stops.push(srv.stop);
    const res = await client(srv.port).unary(PATH, [Buffer.from('x')], {});
    expect(res.length).toBe(0);
  });

  it('carries the status, the percent-decoded message and the status details of a failed call', async () => {
    const details = Buffer.from([0x08, 0x08, 0x12, 0x02, 0x68, 0x69]);
    const md = new grpc.Metadata();
    md.set('grpc-status-details-bin', details);
    const s = await grpcServer(() => ({ err: { code: grpc.status.RESOURCE_EXHAUSTED, details: 'slow down: 100% full', metadata: md } }));
    stops.push(s.stop);
    const err = await failure(client(s.port).unary(PATH, [Buffer.from('x')], {}));
    expect(err.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect(err.details).toBe('slow down: 100% full');
    expect(err.statusDetails?.equals(details)).toBe(true);
  });

  it('takes the status from the headers of a trailers-only response', async () => {
    const srv = await h2Server((st) => {
      st.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '16', 'grpc-message': 'no%20token' }, { endStream: true });
    });
    stops.push(srv.stop);
    const err = await failure(client(srv.port).unary(PATH, [Buffer.from('x')], {}));
    expect(err.code).toBe(GrpcStatus.UNAUTHENTICATED);
    expect(err.details).toBe('no token');
  });

  it.each([
    [503, GrpcStatus.UNAVAILABLE],
    [429, GrpcStatus.UNAVAILABLE],
    [404, GrpcStatus.UNIMPLEMENTED],
    [401, GrpcStatus.UNAUTHENTICATED],
    [500, GrpcStatus.UNKNOWN],
  ])('maps an HTTP %i without a gRPC status to code %i', async (status, code) => {
    expect(codeForHttpStatus(status)).toBe(code);
    const srv = await h2Server((st) => {
      st.respond({ ':status': status, 'content-type': 'text/plain' });
      st.end('proxy says no');
    });
    stops.push(srv.stop);
    const err = await failure(client(srv.port).unary(PATH, [Buffer.from('x')], {}));
    expect(err.code).toBe(code);
  });

  it('maps a stream refused by the server to UNAVAILABLE', async () => {
    const srv = await h2Server((st) => st.close(http2.constants.NGHTTP2_REFUSED_STREAM));
    stops.push(srv.stop);
    const err = await failure(client(srv.port).unary(PATH, [Buffer.from('x')], {}));
    expect(err.code).toBe(GrpcStatus.UNAVAILABLE);
  });

  it('fails with UNAVAILABLE while nothing listens, and connects once a server is there', async () => {
    const port = await freePort();
    const c = client(port);
    const err = await failure(c.unary(PATH, [Buffer.from('x')], {}));
    expect(err.code).toBe(GrpcStatus.UNAVAILABLE);
    const s = await grpcServer(undefined, `127.0.0.1:${port}`);
    stops.push(s.stop);
    await c.unary(PATH, [Buffer.from('y')], {});
    expect(s.seen.map((x) => x.body.toString())).toEqual(['y']);
  });

  it('reconnects after the server went away', async () => {
    const port = await freePort();
    const a = await grpcServer(undefined, `127.0.0.1:${port}`);
    const c = client(port);
    await c.unary(PATH, [Buffer.from('1')], {});
    await new Promise<void>((r) => a.stop().then(r));
    const b = await grpcServer(undefined, `127.0.0.1:${port}`);
    stops.push(b.stop);
    // The first call after the restart may still meet the old connection's end.
    let ok = false;
    for (let i = 0; i < 5 && !ok; i++) ok = await c.unary(PATH, [Buffer.from('2')], {}).then(() => true, () => false);
    expect(ok).toBe(true);
    expect(b.seen.map((x) => x.body.toString())).toContain('2');
  });

  it('cancels a call when its signal aborts', async () => {
    const srv = await h2Server(() => undefined); // never answers
    stops.push(srv.stop);
    const ac = new AbortController();
    const p = client(srv.port).unary(PATH, [Buffer.from('x')], {}, ac.signal);
    setTimeout(() => ac.abort(new Error('export timed out')), 50);
    const err = await failure(p);
    expect(err.code).toBe(GrpcStatus.CANCELLED);
    expect(err.details).toContain('export timed out');
  });

  it('drops a connection that went silent after a call on it timed out, and connects afresh', async () => {
    const s = await grpcServer();
    stops.push(s.stop);
    // A TCP relay whose connections can go silent: no data either way, no FIN (a peer or a middlebox gone).
    const silent = new Set<net.Socket>();
    const relay = net.createServer((inbound) => {
      const out = net.connect(s.port, '127.0.0.1');
      inbound.on('data', (d) => !silent.has(inbound) && out.write(d));
      out.on('data', (d) => !silent.has(inbound) && inbound.write(d));
      inbound.on('error', () => undefined);
      out.on('error', () => undefined);
      inbound.on('close', () => out.destroy());
      conns.push(inbound);
    });
    const conns: net.Socket[] = [];
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', () => r()));
    stops.push(async () => {
      for (const c of conns) c.destroy();
      await new Promise<void>((r) => relay.close(() => r()));
    });
    const c = client((relay.address() as net.AddressInfo).port);
    await c.unary(PATH, [Buffer.from('before')], {});
    for (const k of conns) silent.add(k);
    const ac = new AbortController();
    const timedOut = c.unary(PATH, [Buffer.from('lost')], {}, ac.signal);
    setTimeout(() => ac.abort(new Error('export timed out')), 100);
    expect((await failure(timedOut)).code).toBe(GrpcStatus.CANCELLED);
    // The ping after the timeout goes unanswered: the connection is dropped, the next call opens a new one.
    await new Promise((r) => setTimeout(r, 2300));
    const ac2 = new AbortController();
    const t = setTimeout(() => ac2.abort(new Error('still on the dead connection')), 1500);
    await c.unary(PATH, [Buffer.from('after')], {}, ac2.signal);
    clearTimeout(t);
    expect(s.seen.map((x) => x.body.toString())).toEqual(['before', 'after']);
  });

  it('refuses a response larger than the limit', async () => {
    const s = await grpcServer(() => ({ res: Buffer.alloc(3000, 1) }));
    stops.push(s.stop);
    const err = await failure(client(s.port, { maxResponseBytes: 1000 }).unary(PATH, [Buffer.from('x')], {}));
    expect(err.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
  });

  it('talks over a unix socket', async () => {
    const sock = join(mkdtempSync(join(tmpdir(), 'sieve-grpc-')), 's.sock');
    const s = await grpcServer(undefined, `unix:${sock}`);
    stops.push(s.stop);
    await client(`unix:${sock}`).unary(PATH, [Buffer.from('over unix')], {});
    expect(s.seen[0]!.body.toString()).toBe('over unix');
  });

  it('resolves the name and spreads calls with round-robin', async () => {
    const s = await grpcServer();
    stops.push(s.stop);
    const c = client(`localhost:${s.port}`, { roundRobin: true });
    for (let i = 0; i < 3; i++) await c.unary(PATH, [Buffer.from(String(i))], {}).catch((e: GrpcError) => e);
    // localhost may also resolve to ::1, where nothing listens: calls to 127.0.0.1 arrive.
    expect(s.seen.length).toBeGreaterThan(0);
  });

  it('refuses calls after close()', async () => {
    const c = client(1);
    c.close();
    const err = await failure(c.unary(PATH, [Buffer.from('x')], {}));
    expect(err.code).toBe(GrpcStatus.UNAVAILABLE);
  });

  it('sends gzip that decompresses to the message (wire check)', async () => {
    let body: Buffer | undefined;
    let enc: string | undefined;
    const srv = await h2Server((st, h) => {
      enc = h['grpc-encoding'] as string;
      const chunks: Buffer[] = [];
      st.on('data', (c: Buffer) => chunks.push(c));
      st.on('end', () => {
        body = Buffer.concat(chunks);
        st.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '0' }, { endStream: true });
      });
    });
    stops.push(srv.stop);
    await client(srv.port, { gzip: true }).unary(PATH, [Buffer.from('hello '), Buffer.from('world')], {});
    expect(enc).toBe('gzip');
    expect(body![0]).toBe(1);
    expect(body!.readUInt32BE(1)).toBe(body!.length - 5);
    expect(gunzipSync(body!.subarray(5)).toString()).toBe('hello world');
  });
});
