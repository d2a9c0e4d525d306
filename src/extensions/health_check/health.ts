// health_check: liveness (/healthz), readiness (/readyz) aggregated from the
// components that report their health, and the Collector's status path.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Component, CreateSettings, HealthReport, HealthStatus, Host, PipelineWatcher } from '../../component/component.js';
import { listen } from '../../service/net.js';
import type { HealthCheckConfig } from './config.js';
import { authCounter, guardHttp, resolveServerAuth, type ServerAuthenticator } from '../auth/auth.js';

export interface Readiness {
  status: HealthStatus;
  /** Why the daemon as a whole is not ready (starting, shutting down). */
  detail?: string;
  components: Record<string, HealthReport>;
}

const RANK: Record<HealthStatus, number> = { ok: 0, degraded: 1, error: 2 };

/** Health of every component that reports one, and the worst of them. */
export function aggregate(host: Host): Readiness {
  const components: Record<string, HealthReport> = {};
  let status: HealthStatus = 'ok';
  for (const [id, { component }] of host.components()) {
    const fn = (component as Partial<{ health(): HealthReport }>).health;
    if (typeof fn !== 'function') continue;
    let r: HealthReport;
    try {
      r = fn.call(component);
    } catch (e) {
      r = { status: 'error', detail: `health check failed: ${(e as Error).message}` };
    }
    components[id] = r.detail === undefined ? { status: r.status } : { status: r.status, detail: r.detail };
    if (RANK[r.status] > RANK[status]) status = r.status;
  }
  return { status, components };
}

type State = 'starting' | 'ready' | 'draining';

export class HealthCheck implements Component, PipelineWatcher {
  private server: Server | undefined;
  private host: Host | undefined;
  private state: State = 'starting';
  private readonly startedAt = new Date();
  /** Bound port, once started. */
  port: number | undefined;
  private auth: ServerAuthenticator | undefined;

  constructor(private settings: CreateSettings, private cfg: HealthCheckConfig) {}

  async start(host: Host): Promise<void> {
    if (this.server) return;
    this.host = host;
    this.auth = resolveServerAuth(host, this.cfg.auth, `extensions::${this.settings.id}`);
    const server = createServer((req, res) => void this.handle(req, res));
    this.port = await listen(server, this.cfg.endpoint, `extensions::${this.settings.id}::endpoint`);
    this.server = server;
    this.settings.logger.info('Health check endpoints are up.', { endpoint: this.cfg.endpoint, port: this.port });
  }

  ready(): void {
    if (this.state === 'starting') this.state = 'ready';
  }

  notReady(): void {
    this.state = 'draining';
  }

  /** The readiness answer: HTTP status and body. */
  readiness(): { code: number; body: Readiness } {
    const body = this.host ? aggregate(this.host) : { status: 'error' as HealthStatus, components: {} };
    if (this.state !== 'ready') {
      return { code: 503, body: { status: 'error', detail: this.state === 'starting' ? 'starting' : 'shutting down', components: body.components } };
    }
    const unready = body.status === 'error' || (body.status === 'degraded' && this.cfg.unready_when_degraded);
    return { code: unready ? 503 : 200, body };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    if (path === '/healthz') return json(res, req, 200, { status: 'ok' });
    if (this.auth && (path === '/readyz' || path === this.cfg.path)) {
      const id = await guardHttp(this.auth, req, res, { listener: this.settings.id, authenticator: this.cfg.auth!.authenticator, counter: authCounter(this.settings.telemetry) });
      if (!id) return;
    }
    if (path === '/readyz') {
      const r = this.readiness();
      return json(res, req, r.code, r.body);
    }
    if (path === this.cfg.path) {
      const up = this.state === 'ready';
      const uptime = `${((Date.now() - this.startedAt.getTime()) / 1000).toFixed(3)}s`;
      return json(res, req, up ? 200 : 503, { status: up ? 'Server available' : 'Server not available', upSince: this.startedAt.toISOString(), uptime });
    }
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n');
  }

  async shutdown(): Promise<void> {
    this.state = 'draining';
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    await new Promise<void>((r) => {
      s.close(() => r());
      s.closeAllConnections();
    });
  }
}

function json(res: ServerResponse, req: IncomingMessage, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(text) });
  res.end(req.method === 'HEAD' ? undefined : text);
}
