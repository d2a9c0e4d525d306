// A fake Kubernetes API server on loopback implementing just
// GET /api/v1/namespaces/{ns}/endpoints/{name} (the core/v1 Endpoints JSON),
// with bearer-token checking, so the loadbalancing k8s resolver runs against
// real HTTP.
import { createServer, type Server } from 'node:http';

export interface FakeK8s {
  url: string;
  /** Sets a Service's ready addresses (ip list), as an Endpoints object with one subset. */
  setEndpoints(namespace: string, name: string, ips: string[], port?: number): void;
  /** Answers every request with this HTTP status while set. */
  failWith(status: number | undefined): void;
  /** Paths requested and their Authorization headers. */
  requests: { path: string; authorization: string | undefined }[];
  stop(): Promise<void>;
}

export async function startFakeK8s(token: string): Promise<FakeK8s> {
  const objects = new Map<string, unknown>();
  let failure: number | undefined;
  const requests: FakeK8s['requests'] = [];
  const server: Server = createServer((req, res) => {
    requests.push({ path: req.url ?? '', authorization: req.headers.authorization });
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.headers.authorization !== `Bearer ${token}`) return send(401, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Unauthorized', code: 401 });
    if (failure) return send(failure, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: failure });
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/endpoints\/([^/?]+)$/.exec(req.url ?? '');
    if (req.method !== 'GET' || !m) return send(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 });
    const obj = objects.get(`${m[1]}/${m[2]}`);
    if (!obj) return send(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', message: `endpoints "${m[2]}" not found`, code: 404 });
    send(200, obj);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    setEndpoints(namespace, name, ips, p = 4317) {
      objects.set(`${namespace}/${name}`, {
        kind: 'Endpoints',
        apiVersion: 'v1',
        metadata: { name, namespace, resourceVersion: String(Date.now()) },
        subsets: ips.length ? [{ addresses: ips.map((ip, i) => ({ ip, hostname: `${name}-${i}`, targetRef: { kind: 'Pod', name: `${name}-${i}`, namespace } })), ports: [{ name: 'otlp-grpc', port: p, protocol: 'TCP' }] }] : [],
      });
    },
    failWith: (s) => void (failure = s),
    requests,
    stop: () => new Promise((r) => server.close(() => r())),
  };
}
