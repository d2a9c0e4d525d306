// Limits at the edge: a slowloris (many connections sending one header byte
// at a time) is cut off by read_header_timeout, a connection flood beyond
// max_connections is shed, and requests beyond max_in_flight_requests get
// 503 + Retry-After / UNAVAILABLE + RetryInfo; through all of it well-behaved
// clients are served and memory stays bounded.
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Consumer, ExporterFactory } from '../../src/component/component.js';
import { factories } from '../../src/components.js';
import { s } from '../../src/config/schema.js';
import { tracesCodec } from '../../src/pdata/codec.js';
import { retryDelayFromStatus } from '../../src/receivers/otlp/status.js';
import { Service } from '../../src/service/service.js';
import { grpcExport, httpGet } from '../helpers/auth.js';
import { traces } from '../helpers/model.js';
import { freePort, waitFor } from '../helpers/sieve.js';

const body = Buffer.from(tracesCodec.encode(traces(2)));
let gate: Promise<void> = Promise.resolve();
const gated: ExporterFactory = {
  kind: 'exporter',
  type: 'gated',
  schema: s.object({}),
  signals: { traces: 'development' },
  create: () => ({ mutatesData: false, start: async () => {}, shutdown: async () => {}, consume: () => gate }) as Consumer & { start(): Promise<void>; shutdown(): Promise<void> },
};

function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1', () => resolve(sock));
    sock.on('error', reject);
  });
}

describe('edge limits', () => {
  let svc: Service;
  const p: Record<string, number> = {};
  const good = () => httpGet(p.h!, '/v1/traces', { 'Content-Type': 'application/x-protobuf' }, 'POST', body);

  beforeAll(async () => {
    p.h = await freePort();
    p.g = await freePort();
    svc = Service.fromYaml(
      `
receivers:
  otlp:
    protocols:
      grpc: { endpoint: "127.0.0.1:${p.g}", max_in_flight_requests: 2 }
      http: { endpoint: "127.0.0.1:${p.h}", read_header_timeout: 1s, read_timeout: 2s, max_connections: 300, max_in_flight_requests: 2 }
exporters:
  gated:
service:
  pipelines:
    traces: { receivers: [otlp], exporters: [gated] }
`,
      { factories: [...factories, gated], metricsAddress: null, logWrite: () => undefined },
    );
    await svc.start();
  });
  afterAll(() => svc.shutdown());

  it('a slowloris is cut off by read_header_timeout while good clients are served', async () => {
    const rss0 = process.memoryUsage().rss;
    const socks: Socket[] = [];
    const closedAt: number[] = [];
    for (let i = 0; i < 150; i++) {
      const sk = await openSocket(p.h!);
      sk.on('error', () => undefined);
      sk.on('close', () => closedAt.push(Date.now()));
      socks.push(sk);
    }
    const header = 'POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n';
    let i = 0;
    const drip = setInterval(() => {
      for (const sk of socks) if (!sk.destroyed) sk.write(header[i % header.length]!);
      i++;
    }, 100);
    try {
      // Good clients get through while the slow ones hold their sockets.
      for (let k = 0; k < 5; k++) expect((await good()).status).toBe(200);
      await waitFor(() => closedAt.length === socks.length, { what: 'the server to close every slow connection', timeoutMs: 10_000 });
    } finally {
      clearInterval(drip);
      for (const sk of socks) sk.destroy();
    }
    expect((await good()).status).toBe(200);
    expect(process.memoryUsage().rss - rss0).toBeLessThan(100 * 1024 * 1024);
  });

  it('a connection flood beyond max_connections is shed and the daemon keeps serving', async () => {
    const socks: Socket[] = [];
    let shed = 0;
    for (let i = 0; i < 400; i++) {
      const sk = await openSocket(p.h!).catch(() => undefined);
      if (!sk) {
        shed++;
        continue;
      }
      sk.on('error', () => undefined);
      sk.on('close', () => shed++);
      socks.push(sk);
    }
    await waitFor(() => shed >= 100, { what: 'connections over the limit to be closed' });
    for (const sk of socks) sk.destroy();
    await waitFor(async () => (await good().catch(() => ({ status: 0 }))).status === 200, { what: 'service after the flood' });
  });

  it('requests beyond max_in_flight_requests get 503 + Retry-After and UNAVAILABLE + RetryInfo', async () => {
    let open!: () => void;
    gate = new Promise((r) => (open = r));
    const held = [good(), good()];
    await new Promise((r) => setTimeout(r, 300)); // let the held requests reach the gate
    const over = await good();
    expect(over.status).toBe(503);
    expect(over.headers['retry-after']).toBe('1');
    const gHeld = [grpcExport(p.g!, body), grpcExport(p.g!, body)];
    await new Promise((r) => setTimeout(r, 300)); // let the held requests reach the gate
    const gOver = await grpcExport(p.g!, body);
    expect(gOver.code).toBe(14);
    const d = gOver.metadata?.get('grpc-status-details-bin')[0];
    expect(d instanceof Buffer ? retryDelayFromStatus(d) : undefined).toBe(1000);
    open();
    gate = Promise.resolve();
    expect((await Promise.all(held)).map((r) => r.status)).toEqual([200, 200]);
    expect((await Promise.all(gHeld)).map((r) => r.code)).toEqual([0, 0]);
    expect((await good()).status).toBe(200);
  });
});
