// A real OTLP/HTTP traces backend on loopback for the reliability tests: it
// can be down (port closed), answer a status with Retry-After, or be slow,
// and it records which span sequence numbers arrived (fixtures.spanIdOf).
// Plus a plain OTLP/HTTP client that counts what Sieve acknowledged.
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { CODECS } from '../../pdata/codec.js';
import { encodeSpans, seqOf } from './fixtures.js';

export type BackendMode = { status: 200; delayMs?: number } | { status: number; retryAfter?: string; times?: number };

export interface Backend {
  port: number;
  /** Distinct span sequence numbers received. */
  seqs: Set<number>;
  /** Spans received, duplicates included. */
  spans: number;
  /** Requests seen, with their arrival time (performance.now()). */
  requests: { at: number; status: number; spans: number }[];
  setMode(m: BackendMode): void;
  /** Closes the port (connections refused) until up(). */
  down(): Promise<void>;
  up(): Promise<void>;
  stop(): Promise<void>;
}

export async function startBackend(port = 0, mode: BackendMode = { status: 200 }): Promise<Backend> {
  let current: BackendMode = mode;
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  const b: Backend = {
    port,
    seqs: new Set(),
    spans: 0,
    requests: [],
    setMode: (m) => (current = m),
    down: async () => {
      const s = server;
      server = undefined;
      if (!s) return;
      for (const c of sockets) c.destroy();
      await new Promise<void>((r) => s.close(() => r()));
    },
    up: async () => {
      if (server) return;
      const s = createServer((req, res) => void handle(req, res));
      s.on('connection', (c) => {
        sockets.add(c);
        c.on('close', () => sockets.delete(c));
      });
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(b.port, '127.0.0.1', () => resolve());
      });
      b.port = (s.address() as { port: number }).port;
      server = s;
    },
    stop: () => b.down(),
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let body = Buffer.concat(chunks);
    if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
    const m = current;
    if (m.status !== 200) {
      const times = (m as { times?: number }).times;
      if (times === undefined || times > 0) {
        if (times !== undefined) (m as { times?: number }).times = times - 1;
        b.requests.push({ at: performance.now(), status: m.status, spans: 0 });
        const headers: Record<string, string> = { 'Content-Type': 'text/plain' };
        if ((m as { retryAfter?: string }).retryAfter) headers['Retry-After'] = (m as { retryAfter: string }).retryAfter;
        res.writeHead(m.status, headers).end(`status ${m.status}`);
        return;
      }
    }
    if ((m as { delayMs?: number }).delayMs) await new Promise((r) => setTimeout(r, (m as { delayMs: number }).delayMs));
    let n = 0;
    for (const rs of CODECS.traces.decode(body)) {
      for (const ss of rs.scopeSpans) {
        for (const sp of ss.spans) {
          b.seqs.add(seqOf(sp.spanId));
          n++;
        }
      }
    }
    b.spans += n;
    b.requests.push({ at: performance.now(), status: 200, spans: n });
    res.writeHead(200, { 'Content-Type': 'application/x-protobuf' }).end();
  }

  await b.up();
  return b;
}

export interface PostResult {
  status: number;
  retryAfter: string | undefined;
  body: string;
}

/** One OTLP/HTTP export of spans first..first+count-1; status 0 when the connection failed. */
export function postSpans(port: number, first: number, count: number): Promise<PostResult> {
  const body = encodeSpans(first, count);
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/traces', headers: { 'Content-Type': 'application/x-protobuf', 'Content-Length': body.length }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined, body: Buffer.concat(chunks).toString('latin1') }));
      res.on('error', () => resolve({ status: 0, retryAfter: undefined, body: '' }));
    });
    req.on('error', () => resolve({ status: 0, retryAfter: undefined, body: '' }));
    req.end(body);
  });
}

/**
 * A client that sends requests of `perRequest` spans in a loop with
 * `concurrency` in flight, and records the spans Sieve acknowledged (200).
 * Refused requests (429/503) are retried after their Retry-After.
 */
export function loadClient(port: number, opts: { perRequest: number; concurrency: number; startSeq?: number }) {
  const acked = new Set<number>();
  let next = opts.startSeq ?? 0;
  let running = true;
  let refused = 0;
  let failed = 0;
  const loop = async () => {
    while (running) {
      const first = next;
      next += opts.perRequest;
      for (;;) {
        const r = await postSpans(port, first, opts.perRequest);
        if (r.status === 200) {
          for (let i = 0; i < opts.perRequest; i++) acked.add(first + i);
          break;
        }
        if (r.status === 0) {
          failed++;
          break; // the daemon is gone: this request was not acknowledged
        }
        refused++;
        if (!running) break;
        await new Promise((res) => setTimeout(res, Math.min(200, Number(r.retryAfter ?? '0') * 1000 || 50)));
      }
    }
  };
  const loops = Array.from({ length: opts.concurrency }, loop);
  return {
    acked,
    get refused() {
      return refused;
    },
    get failed() {
      return failed;
    },
    async stop(): Promise<void> {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** Scrapes a Prometheus endpoint and sums a metric's samples matching the labels. */
export async function scrape(port: number): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${port}/metrics`);
  return r.text();
}

export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const l = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}
