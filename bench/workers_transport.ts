// What it costs to hand a request from one worker process to another: the
// loopback HTTP hop the workers use (src/service/workers/link.ts) against
// Node's IPC channel relayed through the supervisor (workers have no direct
// channel to each other; cluster IPC runs between a worker and its primary).
// Each mode moves the same pre-encoded ExportTraceServiceRequests (100 spans,
// 20 attributes) from a sender process to a receiver process, 8 in flight,
// each acknowledged back, and reports the CPU of every process involved per
// span moved.
//
//   node --import tsx bench/workers_transport.ts [--requests 20000]
import { fork, type ChildProcess } from 'node:child_process';
import { Agent, createServer, request } from 'node:http';
import { createConnection, createServer as createNetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { tracesCodec } from '../src/pdata/codec.js';
import { traces } from '../test/helpers/model.js';
import { cpuSeconds } from './lib.js';

const SPANS = 100;
const IN_FLIGHT = 8;
const self = fileURLToPath(import.meta.url);
const role = process.env.HOP_ROLE;

function bodies(): Buffer[] {
  return Array.from({ length: 16 }, (_, i) => Buffer.from(tracesCodec.encode(traces(SPANS, 20, i * SPANS))));
}

async function pump(n: number, send: (b: Buffer) => Promise<void>): Promise<void> {
  const bs = bodies();
  let i = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (i < n) await send(bs[i++ % bs.length]!);
    }),
  );
}

// Children leave on request, so that a --cpu-prof profile (HOP_PROF=dir) gets written.
if (role) process.on('message', (m: { exit?: boolean }) => m && (m as { exit?: boolean }).exit && process.exit(0));

if (role === 'http-receiver') {
  const srv = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      tracesCodec.scan(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  srv.listen({ host: '127.0.0.1', port: 0 }, () => process.send!({ port: (srv.address() as { port: number }).port }));
} else if (role === 'http-sender') {
  process.once('message', async (m: { port: number; n: number }) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 32 });
    await pump(m.n, (body) =>
      new Promise<void>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: m.port, method: 'POST', path: '/route/x', agent, headers: { 'content-type': 'application/x-protobuf', 'content-length': body.length } }, (res) => {
          res.resume();
          res.on('end', () => resolve());
        });
        req.on('error', reject);
        req.end(body);
      }),
    );
    process.send!({ done: true });
  });
} else if (role === 'framed-receiver') {
  // Frames: u32 length, u32 id, body; acknowledged with the u32 id.
  const srv = createNetServer((sock: Socket) => {
    let buf: Buffer = Buffer.alloc(0);
    sock.on('data', (c: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, c]) : c;
      while (buf.length >= 8) {
        const len = buf.readUInt32LE(0);
        if (buf.length < 8 + len) break;
        tracesCodec.scan(buf.subarray(8, 8 + len));
        const ack = Buffer.allocUnsafe(4);
        ack.writeUInt32LE(buf.readUInt32LE(4));
        sock.write(ack);
        buf = buf.subarray(8 + len);
      }
    });
  });
  const path = process.env.HOP_PATH;
  const done = () => process.send!({ port: path ? 0 : (srv.address() as { port: number }).port });
  if (path) srv.listen(path, done);
  else srv.listen({ host: '127.0.0.1', port: 0 }, done);
} else if (role === 'framed-sender') {
  process.once('message', async (m: { port: number; n: number }) => {
    const path = process.env.HOP_PATH;
    const sock = path ? createConnection(path) : createConnection({ host: '127.0.0.1', port: m.port });
    sock.setNoDelay(true);
    await new Promise((r) => sock.once('connect', r));
    const waiting = new Map<number, () => void>();
    let acks: Buffer = Buffer.alloc(0);
    sock.on('data', (c: Buffer) => {
      acks = acks.length ? Buffer.concat([acks, c]) : c;
      while (acks.length >= 4) {
        const id = acks.readUInt32LE(0);
        acks = acks.subarray(4);
        waiting.get(id)?.();
        waiting.delete(id);
      }
    });
    let id = 0;
    await pump(m.n, (body) => new Promise<void>((resolve) => {
      const k = ++id;
      waiting.set(k, resolve);
      const h = Buffer.allocUnsafe(8);
      h.writeUInt32LE(body.length, 0);
      h.writeUInt32LE(k, 4);
      sock.cork();
      sock.write(h);
      sock.write(body);
      sock.uncork();
    }));
    process.send!({ done: true });
  });
} else if (role === 'ipc-receiver') {
  process.on('message', (m: { id: number; body: Uint8Array }) => {
    tracesCodec.scan(m.body);
    process.send!({ id: m.id });
  });
  process.send!({ ready: true });
} else if (role === 'ipc-sender') {
  const waiting = new Map<number, () => void>();
  let id = 0;
  process.on('message', async (m: { n?: number; ack?: number }) => {
    if (m.ack !== undefined) {
      waiting.get(m.ack)?.();
      waiting.delete(m.ack);
      return;
    }
    await pump(m.n!, (body) => new Promise<void>((resolve) => {
      const k = ++id;
      waiting.set(k, resolve);
      process.send!({ id: k, body });
    }));
    process.send!({ done: true });
  });
  process.send!({ ready: true });
} else {
  const { values } = parseArgs({ options: { requests: { type: 'string', default: '20000' } } });
  const n = Number(values.requests);
  const child = (r: string): ChildProcess => fork(self, [], { env: { ...process.env, HOP_ROLE: r }, execArgv: ['--import', 'tsx', '--max-semi-space-size=1', ...(process.env.HOP_PROF ? ['--cpu-prof', '--cpu-prof-dir=' + process.env.HOP_PROF] : [])], serialization: 'advanced' });
  const once = <T>(c: ChildProcess, pred: (m: T) => boolean) => new Promise<T>((r) => c.on('message', (m: T) => pred(m) && r(m)));
  const result: Record<string, unknown> = { requests: n, spans_per_request: SPANS, request_bytes: bodies()[0]!.length, in_flight: IN_FLIGHT };

  {
    const recv = child('http-receiver');
    const { port } = await once<{ port: number }>(recv, (m) => 'port' in m);
    const send = child('http-sender');
    const c0 = cpuSeconds(recv.pid!) + cpuSeconds(send.pid!);
    const t0 = performance.now();
    send.send({ port, n });
    await once(send, (m: { done?: boolean }) => !!m.done);
    const wall = (performance.now() - t0) / 1000;
    const cpu = cpuSeconds(recv.pid!) + cpuSeconds(send.pid!) - c0;
    result.loopback_http = { cpu_us_per_span: Number(((cpu / (n * SPANS)) * 1e6).toFixed(3)), spans_per_s: Math.round((n * SPANS) / wall), cpu_s: cpu };
    recv.send({ exit: true });
    send.send({ exit: true });
  }
  for (const [name, path] of [['framed_tcp', undefined], ['framed_unix_socket', join(tmpdir(), `sieve-hop-${process.pid}.sock`)]] as const) {
    const env = { ...process.env, ...(path ? { HOP_PATH: path } : {}) };
    const mk = (r: string) => fork(self, [], { env: { ...env, HOP_ROLE: r }, execArgv: ['--import', 'tsx', '--max-semi-space-size=1'] });
    const recv = mk('framed-receiver');
    const { port } = await once<{ port: number }>(recv, (m) => 'port' in m);
    const send = mk('framed-sender');
    const c0 = cpuSeconds(recv.pid!) + cpuSeconds(send.pid!);
    const t0 = performance.now();
    send.send({ port, n });
    await once(send, (m: { done?: boolean }) => !!m.done);
    const wall = (performance.now() - t0) / 1000;
    const cpu = cpuSeconds(recv.pid!) + cpuSeconds(send.pid!) - c0;
    result[name] = { cpu_us_per_span: Number(((cpu / (n * SPANS)) * 1e6).toFixed(3)), spans_per_s: Math.round((n * SPANS) / wall), cpu_s: cpu };
    recv.send({ exit: true });
    send.send({ exit: true });
  }
  {
    const recv = child('ipc-receiver');
    const send = child('ipc-sender');
    await Promise.all([once(recv, (m: { ready?: boolean }) => !!m.ready), once(send, (m: { ready?: boolean }) => !!m.ready)]);
    // The supervisor relays each message both ways, as it would between two workers.
    send.on('message', (m: { id?: number; body?: Uint8Array }) => m.body && recv.send({ id: m.id, body: m.body }));
    recv.on('message', (m: { id?: number }) => m.id !== undefined && send.send({ ack: m.id }));
    const own = () => process.cpuUsage();
    const p0 = own();
    const c0 = cpuSeconds(recv.pid!) + cpuSeconds(send.pid!);
    const t0 = performance.now();
    send.send({ n });
    await once(send, (m: { done?: boolean }) => !!m.done);
    const wall = (performance.now() - t0) / 1000;
    const p = own();
    const relay = (p.user - p0.user + p.system - p0.system) / 1e6;
    const cpu = cpuSeconds(recv.pid!) + cpuSeconds(send.pid!) - c0 + relay;
    result.ipc_via_supervisor = { cpu_us_per_span: Number(((cpu / (n * SPANS)) * 1e6).toFixed(3)), spans_per_s: Math.round((n * SPANS) / wall), cpu_s: Number(cpu.toFixed(2)), supervisor_cpu_s: Number(relay.toFixed(2)) };
    recv.send({ exit: true });
    send.send({ exit: true });
  }
  console.log(JSON.stringify(result, null, 2));
  process.exit(0);
}
