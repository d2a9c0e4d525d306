// The running daemon: builds the graph from a config, starts it downstream
// first, serves self-telemetry and the admin endpoint, and shuts down upstream
// first so that in-flight data drains through processors and exporters.
import { randomUUID } from 'node:crypto';
import { authCounter, guardHttp, resolveServerAuth, secretEquals } from '../extensions/auth/auth.js';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { isPipelineWatcher, type AdminHandler, type Component, type Factory, type Host, type Kind } from '../component/component.js';
import { resolveConfig, type ServiceConfig } from '../config/config.js';
import { loadFiles, loadSources, type Env } from '../config/loader.js';
import { factories as builtinFactories } from '../components.js';
import { buildGraph, type Graph } from './graph.js';
import { createLogger, type Logger, type LogLevel } from './logger.js';
import { SelfTelemetry } from './telemetry.js';
import { registerProcessMetrics } from './process_metrics.js';
import { listen, StartError } from './net.js';

export { listen, StartError };

export class ConfigError extends Error {
  constructor(readonly errors: string[], readonly warnings: string[] = []) {
    super(`invalid configuration:\n  ${errors.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

export interface ServiceOptions {
  factories?: readonly Factory[];
  logger?: Logger;
  /** Log level override (otherwise service.telemetry.logs.level). */
  logLevel?: LogLevel;
  /** Where log lines go (default stderr). */
  logWrite?: (line: string) => void;
  /** Overrides service.telemetry.metrics.address; null disables the endpoint. */
  metricsAddress?: string | null;
  env?: Env;
  now?: () => number;
}

export interface LoadResult {
  config?: ServiceConfig;
  errors: string[];
  warnings: string[];
}

export function validateFiles(paths: string[], factories: readonly Factory[] = builtinFactories, env?: Env): LoadResult {
  return resolveConfig(loadFiles(paths, env), factories);
}

export function validateYaml(text: string, factories: readonly Factory[] = builtinFactories, env?: Env, name = 'config.yaml'): LoadResult {
  return resolveConfig(loadSources([{ name, text }], env), factories);
}

export class Service {
  readonly telemetry = new SelfTelemetry();
  readonly logger: Logger;
  private graph: Graph | undefined;
  private servers: Server[] = [];
  private adminRoutes = new Map<string, AdminHandler>();
  private shutdownP: Promise<void> | undefined;
  private started = false;
  readonly instanceId: string;
  /** Bound address of the self-telemetry endpoint, once started. */
  metricsPort: number | undefined;
  adminPort: number | undefined;

  constructor(readonly config: ServiceConfig, private opts: ServiceOptions = {}) {
    const level = opts.logLevel ?? config.service.telemetry.logs.level;
    this.logger = opts.logger ?? createLogger({ level, write: opts.logWrite });
    this.instanceId = loadInstanceId(config.service.data_dir);
  }

  static fromYaml(text: string, opts: ServiceOptions = {}): Service {
    const r = validateYaml(text, opts.factories ?? builtinFactories, opts.env);
    if (!r.config) throw new ConfigError(r.errors, r.warnings);
    return new Service(r.config, opts);
  }

  static fromFiles(paths: string[], opts: ServiceOptions = {}): Service {
    const r = validateFiles(paths, opts.factories ?? builtinFactories, opts.env);
    if (!r.config) throw new ConfigError(r.errors, r.warnings);
    return new Service(r.config, opts);
  }

  /** The running components by id. */
  components(): ReadonlyMap<string, { kind: Kind; component: Component }> {
    const out = new Map<string, { kind: Kind; component: Component }>();
    if (!this.graph) return out;
    for (const n of this.graph.nodes.values()) {
      // Processors are per pipeline (id@pipeline); an exporter or connector used by
      // several signals has one instance per signal (id[signal] after the first).
      let key = n.kind === 'processor' ? n.key.slice('processor:'.length).replace(':', '@') : n.id;
      if (out.has(key) && n.kind !== 'processor') key = `${n.id}[${n.key.split(':').slice(2).join('->')}]`;
      if (!out.has(key)) out.set(key, { kind: n.kind, component: n.component });
    }
    return out;
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const graph = buildGraph(this.config, {
      logger: this.logger,
      telemetry: this.telemetry,
      instanceId: this.instanceId,
      dataDir: this.config.service.data_dir,
      now: this.opts.now ?? Date.now,
    });
    this.graph = graph;
    const host: Host = {
      getExtension: (id) => graph.extensions.get(id),
      components: () => this.components(),
      registerAdminRoute: (method, path, handler) => {
        this.adminRoutes.set(`${method.toUpperCase()} ${path}`, handler);
      },
      logger: this.logger,
      telemetry: this.telemetry,
      pipelines: () => this.config.pipelines,
    };
    registerProcessMetrics(this.telemetry);
    // Extensions first, then downstream before upstream.
    const startOrder = [...graph.order].reverse().sort((a, b) => (a.kind === 'extension' ? -1 : 0) - (b.kind === 'extension' ? -1 : 0));
    const startedNodes: typeof startOrder = [];
    try {
      for (const n of startOrder) {
        try {
          await n.component.start(host);
        } catch (e) {
          throw new StartError(`${n.kind} "${n.id}" failed to start: ${(e as Error).message}`, n.id);
        }
        startedNodes.push(n);
      }
      await this.startServers(host);
    } catch (e) {
      for (const n of startedNodes.reverse()) await n.component.shutdown().catch(() => undefined);
      for (const s of this.servers) s.close();
      throw e;
    }
    for (const e of graph.extensions.values()) if (isPipelineWatcher(e)) e.ready();
    this.logger.info('Everything is ready. Begin running and processing data.', {
      pipelines: this.config.pipelines.map((p) => p.id),
    });
  }

  private async startServers(host: Host): Promise<void> {
    const tcfg = this.config.service.telemetry.metrics;
    let addr: string | null = tcfg.address;
    for (const r of tcfg.readers) {
      const pull = (r as { pull?: { exporter?: { prometheus?: { host?: string; port?: number } } } })?.pull?.exporter?.prometheus;
      if (pull) addr = `${pull.host ?? '127.0.0.1'}:${pull.port ?? 8888}`;
    }
    if (this.opts.metricsAddress !== undefined) addr = this.opts.metricsAddress;
    if (tcfg.level === 'none') addr = null;
    if (addr) {
      const auth = resolveServerAuth(host, tcfg.auth, 'service::telemetry::metrics');
      const count = auth ? { listener: 'service::telemetry::metrics', authenticator: tcfg.auth!.authenticator, counter: authCounter(this.telemetry) } : undefined;
      const srv = createServer(async (req, res) => {
        if (req.method === 'GET' && req.url?.split('?')[0] === '/metrics') {
          if (auth && !(await guardHttp(auth, req, res, count))) return;
          this.telemetry.text().then(
            (body) => {
              res.writeHead(200, { 'Content-Type': this.telemetry.registry.contentType });
              res.end(body);
            },
            (e) => {
              res.writeHead(500).end(String(e));
            },
          );
          return;
        }
        res.writeHead(404).end('not found\n');
      });
      this.metricsPort = await listen(srv, addr, 'service::telemetry::metrics');
      this.servers.push(srv);
    }
    const admin = this.config.service.admin;
    if (admin.endpoint) {
      if (!admin.bearer_token && !admin.auth) throw new StartError('service::admin::bearer_token: is required when the admin endpoint is on (or set service::admin::auth)');
      const token = admin.bearer_token ? Buffer.from(admin.bearer_token) : undefined;
      const auth = resolveServerAuth(host, admin.auth, 'service::admin');
      const count = auth ? { listener: 'service::admin', authenticator: admin.auth!.authenticator, counter: authCounter(this.telemetry) } : undefined;
      const srv = createServer(async (req, res) => {
        // With both set, either credential is enough.
        if (auth && !(token && this.adminTokenOk(req, token)) && !(await guardHttp(auth, req, res, count))) return;
        void this.handleAdmin(req, res, auth ? undefined : token);
      });
      this.adminPort = await listen(srv, admin.endpoint, 'service::admin');
      this.servers.push(srv);
    }
  }

  private adminTokenOk(req: IncomingMessage, token: Buffer): boolean {
    const auth = req.headers.authorization ?? '';
    return auth.startsWith('Bearer ') && secretEquals(auth.slice(7), token);
  }

  /** `token`: the bearer token to check here; undefined when the request was already authenticated. */
  private async handleAdmin(req: IncomingMessage, res: ServerResponse, token: Buffer | undefined): Promise<void> {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (token && !this.adminTokenOk(req, token)) {
      res.setHeader('WWW-Authenticate', 'Bearer');
      return send(401, { error: 'a valid bearer token is required' });
    }
    const url = new URL(req.url ?? '/', 'http://admin');
    const handler = this.adminRoutes.get(`${req.method} ${url.pathname}`);
    if (!handler) return send(404, { error: `no admin route ${req.method} ${url.pathname}` });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > 1 << 20) return send(413, { error: 'body too large' });
      chunks.push(c as Buffer);
    }
    try {
      const r = await handler({ url, body: Buffer.concat(chunks), headers: req.headers });
      send(r.status, r.body);
    } catch (e) {
      send(500, { error: (e as Error).message });
    }
  }

  /** Stops receivers first, drains processors and exporters, within service.shutdown_timeout. Idempotent. */
  shutdown(): Promise<void> {
    this.shutdownP ??= (async () => {
      const graph = this.graph;
      if (!graph) return;
      this.logger.info('Starting shutdown...');
      for (const e of graph.extensions.values()) if (isPipelineWatcher(e)) e.notReady();
      const limit = this.config.service.shutdown_timeout;
      let timedOut = false;
      let timer: NodeJS.Timeout | undefined;
      const drain = (async () => {
        for (const n of graph.order) {
          if (n.kind === 'extension') continue;
          await n.component.shutdown().catch((e) => this.logger.error('Component failed to shut down', { 'otelcol.component.id': n.id, error: e }));
        }
      })();
      await Promise.race([
        drain,
        new Promise<void>((r) => {
          timer = setTimeout(() => {
            timedOut = true;
            r();
          }, limit);
          timer.unref();
        }),
      ]);
      if (timer) clearTimeout(timer);
      if (timedOut) this.logger.warn('Shutdown timed out; some in-flight data may not have been exported.', { shutdown_timeout_ms: limit });
      for (const n of graph.order) {
        if (n.kind === 'extension') await n.component.shutdown().catch(() => undefined);
      }
      await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
      this.logger.info('Shutdown complete.');
    })();
    return this.shutdownP;
  }
}

function loadInstanceId(dir: string | undefined): string {
  if (!dir) return randomUUID();
  const file = join(dir, 'instance-id');
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    const id = randomUUID();
    try {
      mkdirSync(dir, { recursive: true });
      writeFileSync(file, id + '\n');
    } catch {
      /* read-only dir: a fresh id per run */
    }
    return id;
  }
}
