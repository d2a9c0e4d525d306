// A Remote Write receiver on loopback that records every request it gets.
import http from 'node:http';
import { decodeWriteRequest, type DecodedSeries } from '../prompb.js';
import { snappyUncompress } from '../snappy.js';

export interface ReceivedRequest {
  headers: http.IncomingHttpHeaders;
  /** Raw (compressed) body. */
  body: Buffer;
  series: DecodedSeries[];
  /** Response status sent back. */
  status: number;
}

export interface Reply {
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  /** ms to wait before answering. */
  delayMs?: number;
  /** Drop the connection instead of answering. */
  destroy?: boolean;
}

export interface FakeReceiver {
  url: string;
  requests: ReceivedRequest[];
  /** Decides the answer to each request (default: 204). */
  reply: (req: ReceivedRequest, n: number) => Reply;
  /** Most requests in flight at once. */
  maxInFlight: number;
  /** All series of successful (2xx) requests, in arrival order. */
  accepted(): DecodedSeries[];
  close(): Promise<void>;
}

export function labelsOf(s: DecodedSeries): Record<string, string> {
  const o: Record<string, string> = {};
  for (const l of s.labels) o[l.name] = l.value;
  return o;
}

export async function startReceiver(): Promise<FakeReceiver> {
  const f: FakeReceiver = {
    url: '',
    requests: [],
    reply: () => ({ status: 204 }),
    maxInFlight: 0,
    accepted: () => f.requests.filter((r) => r.status >= 200 && r.status < 300).flatMap((r) => r.series),
    close: async () => {
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
    },
  };
  let inFlight = 0;
  const server = http.createServer((req, res) => {
    inFlight++;
    f.maxInFlight = Math.max(f.maxInFlight, inFlight);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      let series: DecodedSeries[] = [];
      let status = 204;
      try {
        series = decodeWriteRequest(snappyUncompress(body));
      } catch {
        status = 400;
      }
      const rec: ReceivedRequest = { headers: req.headers, body, series, status };
      const r = status === 204 ? f.reply(rec, f.requests.length) : { status };
      rec.status = r.status ?? 204;
      f.requests.push(rec);
      if (r.destroy) rec.status = 0;
      const answer = () => {
        inFlight--;
        if (r.destroy) req.socket.destroy();
        else res.writeHead(rec.status, r.headers ?? {}).end(r.body ?? '');
      };
      if (r.delayMs) setTimeout(answer, r.delayMs);
      else answer();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  f.url = `http://127.0.0.1:${(server.address() as { port: number }).port}/api/v1/write`;
  return f;
}
