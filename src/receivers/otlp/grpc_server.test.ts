// The OTLP receiver's gRPC server over loopback sockets: framing, encodings,
// limits, metadata, keep-alive policy and drain, against node:http2 and
// @grpc/grpc-js clients.
import http2 from 'node:http2';
import type { Server } from 'node:http';
import { deflateSync, gzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { listen } from '../../service/net.js';
import { waitFor } from '../../../test/helpers/sieve.js';
import { GrpcServer, encodeGrpcMessage, type GrpcCall, type GrpcHandler, type GrpcServerOptions } from './grpc_server.js';

const PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
const KA = { time: 0, timeout: 0, maxConnectionIdle: 0, maxConnectionAge: 0, maxConnectionAgeGrace: 0, minPingInterval: 0, permitWithoutStream: false };

const stops: (() => unknown)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s();
});

async function serve(handler: GrpcHandler, opts: Partial<GrpcServerOptions> = {}): Promise<{ port: number; server: GrpcServer }> {
  const server = new GrpcServer({ maxRecvBytes: 1024 * 1024, maxConcurrentStreams: 100, keepalive: KA, ...opts }, new Map([[PATH, handler]]));
  const port = await listen(server.server as unknown as Server, '127.0.0.1:0', 'test');
  stops.push(() => server.destroy());
  return { port, server };
}

/** Echoes the message back. */
const echo: GrpcHandler = (call, reply) => reply.ok(call.message);

function frame(msg: Uint8Array, compressed = 0): Buffer {
  const b = Buffer.alloc(5 + msg.length);
  b[0] = compressed;
  b.writeUInt32BE(msg.length, 1);
  b.set(msg, 5);
  return b;
}

interface Raw {
  headers: http2.IncomingHttpHeaders;
  trailers?: http2.IncomingHttpHeaders;
  body: Buffer;
}

function session(port: number): http2.ClientHttp2Session {
  const s = http2.connect(`http://127.0.0.1:${port}`);
  s.on('error', () => undefined);
  stops.push(() => s.destroy());
  return s;
}

function raw(s: http2.ClientHttp2Session, body: Buffer | undefined, headers: http2.OutgoingHttpHeaders = {}, path = PATH): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = s.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...headers });
    let h: http2.IncomingHttpHeaders = {};
    let t: http2.IncomingHttpHeaders | undefined;
    const chunks: Buffer[] = [];
    req.on('response', (x) => (h = x));
    req.on('trailers', (x) => (t = x));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('close', () => resolve({ headers: h, trailers: t, body: Buffer.concat(chunks) }));
    req.on('error', reject);
    if (body) req.end(body);
  });
}

const status = (r: Raw) => Number((r.trailers ?? r.headers)['grpc-status']);

function grpcJs(port: number, body: Buffer, md: Record<string, string | Buffer> = {}, compression = 0): Promise<{ err?: grpc.ServiceError; res?: Buffer }> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), compression ? { 'grpc.default_compression_algorithm': compression } : {});
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(md)) metadata.set(k, v);
  const id = (b: Buffer) => b;
  return new Promise((resolve) => {
    client.makeUnaryRequest(PATH, id, id, body, metadata, {}, (err, res) => {
      client.close();
      resolve({ err: err ?? undefined, res: res ?? undefined });
    });
  });
}

describe('gRPC server', () => {
  it('answers a unary call with one framed message and grpc-status 0 in the trailers', async () => {
    const { port } = await serve(echo);
    const r = await raw(session(port), frame(Buffer.from('hello')));
    expect(r.headers[':status']).toBe(200);
    expect(r.headers['content-type']).toBe('application/grpc');
    expect(r.trailers?.['grpc-status']).toBe('0');
    expect(r.body).toEqual(frame(Buffer.from('hello')));
    // And through a gRPC library's client, messages empty and not.
    expect((await grpcJs(port, Buffer.from('abc'))).res).toEqual(Buffer.from('abc'));
    expect((await grpcJs(port, Buffer.alloc(0))).res).toEqual(Buffer.alloc(0));
  });

  it('takes gzip and deflate messages, from raw frames and from grpc-js compression', async () => {
    const { port } = await serve(echo);
    const s = session(port);
    const msg = Buffer.from('x'.repeat(5000));
    expect((await raw(s, frame(gzipSync(msg), 1), { 'grpc-encoding': 'gzip' })).body).toEqual(frame(msg));
    expect((await raw(s, frame(deflateSync(msg), 1), { 'grpc-encoding': 'deflate' })).body).toEqual(frame(msg));
    expect((await grpcJs(port, msg, {}, 1)).res).toEqual(msg); // deflate
    expect((await grpcJs(port, msg, {}, 2)).res).toEqual(msg); // gzip
  });

  it('refuses what it cannot take with the status a gRPC client understands, and goes on serving', async () => {
    const { port } = await serve(echo);
    const s = session(port);
    const unknown = await raw(s, frame(Buffer.from('x')), {}, '/some.Service/Method');
    expect(status(unknown)).toBe(grpc.status.UNIMPLEMENTED);
    const br = await raw(s, frame(Buffer.from('x'), 1), { 'grpc-encoding': 'br' });
    expect(status(br)).toBe(grpc.status.UNIMPLEMENTED);
    expect(br.headers['grpc-accept-encoding']).toBe('identity,deflate,gzip');
    expect(status(await raw(s, Buffer.concat([frame(Buffer.from('a')), frame(Buffer.from('b'))])))).toBe(grpc.status.INTERNAL);
    expect(status(await raw(s, frame(Buffer.from('abc')).subarray(0, 6)))).toBe(grpc.status.INTERNAL);
    expect(status(await raw(s, frame(Buffer.from('not gzip'), 1), { 'grpc-encoding': 'gzip' }))).toBe(grpc.status.INTERNAL);
    expect((await raw(s, frame(Buffer.from('x')), { 'content-type': 'text/plain' })).headers[':status']).toBe(415);
    expect(status(await raw(s, frame(Buffer.from('ok'))))).toBe(0);
  });

  it('refuses a message over the limit on its prefix, without waiting for the rest of it', async () => {
    let called = 0;
    const { port } = await serve((call, reply) => {
      called++;
      reply.ok(call.message);
    });
    const s = session(port);
    const req = s.request({ ':method': 'POST', ':path': PATH, 'content-type': 'application/grpc', te: 'trailers' });
    const headers = new Promise<http2.IncomingHttpHeaders>((resolve) => req.on('response', resolve));
    req.on('error', () => undefined);
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(64 * 1024 * 1024, 1);
    req.write(prefix); // the 64 MiB it announces never follow
    const h = await headers;
    expect(Number(h['grpc-status'])).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(called).toBe(0);
    expect(status(await raw(s, frame(Buffer.from('ok'))))).toBe(0);
  });

  it('counts the limit after decompression', async () => {
    const { port } = await serve(echo, { maxRecvBytes: 64 * 1024 });
    const s = session(port);
    const big = await raw(s, frame(gzipSync(Buffer.alloc(1024 * 1024)), 1), { 'grpc-encoding': 'gzip' });
    expect(status(big)).toBe(grpc.status.RESOURCE_EXHAUSTED);
    const fits = await raw(s, frame(gzipSync(Buffer.alloc(60 * 1024)), 1), { 'grpc-encoding': 'gzip' });
    expect(status(fits)).toBe(0);
  });

  it('gives the handler the call metadata without pseudo or transport headers; -bin values stay base64 text', async () => {
    let md: Record<string, string> = {};
    const { port } = await serve((call: GrpcCall, reply) => {
      md = { ...call.metadata };
      reply.ok(new Uint8Array(0));
    });
    await grpcJs(port, Buffer.from('x'), { 'x-tenant': 'acme', 'trace-bin': Buffer.from([1, 2, 3]) }, 2);
    expect(md['x-tenant']).toBe('acme');
    expect(Buffer.from(md['trace-bin']!, 'base64')).toEqual(Buffer.from([1, 2, 3]));
    for (const k of Object.keys(md)) expect(k.startsWith(':') || ['content-type', 'te', 'grpc-encoding', 'grpc-accept-encoding', 'grpc-timeout'].includes(k)).toBe(false);
  });

  it('sends failures trailers-only, the message percent-encoded, extra trailers as given', async () => {
    const { port } = await serve((_call, reply) => reply.fail(grpc.status.UNAVAILABLE, 'backend down: 100% – retry', { 'grpc-status-details-bin': Buffer.from([8, 14]).toString('base64') }));
    const r = await grpcJs(port, Buffer.from('x'));
    expect(r.err?.code).toBe(grpc.status.UNAVAILABLE);
    expect(r.err?.details).toBe('backend down: 100% – retry');
    expect(r.err?.metadata.get('grpc-status-details-bin')[0]).toEqual(Buffer.from([8, 14]));
    expect(encodeGrpcMessage('plain text')).toBe('plain text');
    expect(encodeGrpcMessage('a%b\n')).toBe('a%25b%0A');
  });

  it('enforcement_policy: a client that pings more often than min_time is sent GOAWAY ENHANCE_YOUR_CALM', async () => {
    const { port } = await serve(echo, { keepalive: { ...KA, minPingInterval: 60_000 } });
    const s = session(port);
    const goaway = new Promise<number>((resolve) => s.on('goaway', (code) => resolve(code)));
    await new Promise<void>((resolve) => s.on('connect', () => resolve()));
    for (let i = 0; i < 5; i++) s.ping(() => undefined);
    expect(await goaway).toBe(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
  });

  it('a call clears the ping strikes', async () => {
    const { port } = await serve(echo, { keepalive: { ...KA, minPingInterval: 60_000, permitWithoutStream: true } });
    const s = session(port);
    let goaway = false;
    s.on('goaway', () => (goaway = true));
    for (let i = 0; i < 6; i++) {
      await new Promise<void>((resolve) => s.ping(() => resolve()));
      if (i % 2 === 1) expect(status(await raw(s, frame(Buffer.from('x'))))).toBe(0);
    }
    expect(goaway).toBe(false);
  });

  it('keepalive time: the server pings its clients, and a connection stays up while they answer', async () => {
    const { port } = await serve(echo, { keepalive: { ...KA, time: 100, timeout: 1000 } });
    const s = session(port);
    let pings = 0;
    s.on('ping', () => pings++);
    await waitFor(() => pings >= 3, { what: 'three server pings' });
    expect(s.destroyed).toBe(false);
    expect(status(await raw(s, frame(Buffer.from('x'))))).toBe(0);
  });

  it('max_connection_age closes a connection with GOAWAY; max_connection_idle closes one without calls', async () => {
    const aged = await serve(echo, { keepalive: { ...KA, maxConnectionAge: 200, maxConnectionAgeGrace: 100 } });
    const s1 = session(aged.port);
    const g1 = new Promise<number>((resolve) => s1.on('goaway', (c) => resolve(c)));
    expect(status(await raw(s1, frame(Buffer.from('x'))))).toBe(0);
    expect(await g1).toBe(http2.constants.NGHTTP2_NO_ERROR);

    const idle = await serve(echo, { keepalive: { ...KA, maxConnectionIdle: 200 } });
    const s2 = session(idle.port);
    expect(status(await raw(s2, frame(Buffer.from('x'))))).toBe(0);
    await waitFor(() => s2.closed || s2.destroyed, { what: 'the idle connection to close' });
  });

  it('drain lets a call in flight finish and takes no new connections', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const { port, server } = await serve((call, reply) => void held.then(() => reply.ok(call.message)));
    const s = session(port);
    const inflight = raw(s, frame(Buffer.from('late')));
    await new Promise((r) => setTimeout(r, 50));
    server.drain();
    release();
    const r = await inflight;
    expect(r.trailers?.['grpc-status']).toBe('0');
    expect(r.body).toEqual(frame(Buffer.from('late')));
    const refused = await new Promise<boolean>((resolve) => {
      const c = http2.connect(`http://127.0.0.1:${port}`);
      c.on('error', () => resolve(true));
      c.on('connect', () => {
        c.destroy();
        resolve(false);
      });
    });
    expect(refused).toBe(true);
  });
});
