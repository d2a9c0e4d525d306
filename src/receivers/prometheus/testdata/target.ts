// A scrape target on loopback whose exposition the test sets.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { gzipSync } from 'node:zlib';

export interface TestTarget {
  address: string;
  /** What the next scrapes get. */
  set(o: { body?: string | Buffer; contentType?: string; status?: number; gzip?: boolean; delayMs?: number; headers?: Record<string, string> }): void;
  requests: { url: string; headers: IncomingHttpHeaders }[];
  close(): Promise<void>;
}

export async function startTarget(body = '', contentType = 'text/plain; version=0.0.4'): Promise<TestTarget> {
  let state: { body: string | Buffer; contentType: string; status: number; gzip: boolean; delayMs: number; headers: Record<string, string> } = { body, contentType, status: 200, gzip: false, delayMs: 0, headers: {} };
  const requests: { url: string; headers: IncomingHttpHeaders }[] = [];
  const server = createServer((req, res) => {
    requests.push({ url: req.url ?? '', headers: req.headers });
    const s = state;
    const send = () => {
      const raw = typeof s.body === 'string' ? Buffer.from(s.body) : s.body;
      const headers: Record<string, string> = { 'content-type': s.contentType, ...s.headers };
      let out = raw;
      if (s.gzip && /gzip/.test(String(req.headers['accept-encoding']))) {
        out = gzipSync(raw);
        headers['content-encoding'] = 'gzip';
      }
      res.writeHead(s.status, headers);
      res.end(out);
    };
    if (s.delayMs > 0) setTimeout(send, s.delayMs);
    else send();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    address: `127.0.0.1:${port}`,
    set: (o) => (state = { ...state, ...o }),
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
