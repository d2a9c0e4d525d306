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
import { buildGraph, type Graph, type GraphNode } from './graph.js';
import { createLogger, type Logger, type LogLevel } from './logger.js';
import { SelfTelemetry } from './telemetry.js';
import { TapHub } from './tap.js';
import type { Signal } from '../pdata/model.js';
import { registerProcessMetrics } from './process_metrics.js';
import { startExternalReclaim, stopExternalReclaim } from './gc.js';
import { listen, StartError } from './net.js';
import { WorkerLink } from './workers/link.js';

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
  /** The config files the service was built from; reload reads them again. */
  files?: string[];
  /** Runs as one of several worker processes (src/service/workers). */
  worker?: WorkerOptions;
}

export interface WorkerOptions {
  index: number;
  count: number;
  /** This worker's instance id (the daemon's id plus the worker). */
  instanceId: string;
  /** The secret the workers of this daemon present to each other's hop listener. */
  token: string;
  /** Serves the self-telemetry and admin endpoints (worker 0). */
  serveEndpoints: boolean;
  /** The text of /metrics, aggregated over all workers by the supervisor; or one worker's own (`/metrics?worker=N`). */
  metricsText?: (worker?: number) => Promise<string>;
  /** An admin POST handled here, to be run by the other workers too. */
  broadcastAdmin?: (method: string, path: string, body: Buffer) => void;
}

/**
 * A worker's view of the config: its own state directory under data_dir and
 * under each file_storage directory, so workers never share a state file or a
 * storage database.
 */
/**
 * Receivers that fetch rather than listen (files tailed, targets scraped): run
 * in every worker they would read everything once per worker, so only worker 0
 * runs them.
 */
export const WORKER0_RECEIVERS: ReadonlySet<string> = new Set(['filelog', 'prometheus']);

export function workerConfig(cfg: ServiceConfig, index: number): ServiceConfig {
  const sub = `worker-${index}`;
  // Chain and evidence state: one file per stream, and each worker is its own stream.
  const processors = new Map(cfg.processors);
  for (const [id, pc] of cfg.processors) {
    const c = pc.config as { state_directory?: string };
    if (pc.factory.type === 'signing' && c.state_directory) processors.set(id, { ...pc, config: { ...c, state_directory: join(c.state_directory, sub) } });
  }
  // File outputs: one file per worker (output.jsonl -> output-worker-1.jsonl), each with its own line chain.
  const exporters = new Map(cfg.exporters);
  for (const [id, ec] of cfg.exporters) {
    if (ec.factory.type !== 'file') continue;
    const c = ec.config as { path: string; tamper_evident: { state_directory?: string } };
    const dot = c.path.lastIndexOf('.');
    const path = dot > c.path.lastIndexOf('/') + 1 ? `${c.path.slice(0, dot)}-${sub}${c.path.slice(dot)}` : `${c.path}-${sub}`;
    const te = c.tamper_evident.state_directory ? { ...c.tamper_evident, state_directory: join(c.tamper_evident.state_directory, sub) } : c.tamper_evident;
    exporters.set(id, { ...ec, config: { ...c, path, tamper_evident: te } });
  }
  const receivers = new Map(cfg.receivers);
  let pipelines = cfg.pipelines;
  if (index !== 0) {
    const gone = [...cfg.receivers].filter(([, rc]) => WORKER0_RECEIVERS.has(rc.factory.type)).map(([id]) => id);
    for (const id of gone) receivers.delete(id);
    if (gone.length) pipelines = cfg.pipelines.map((p) => ({ ...p, receivers: p.receivers.filter((r) => !gone.includes(r)) }));
  }
  const service = { ...cfg.service, ...(cfg.service.data_dir ? { data_dir: join(cfg.service.data_dir, sub) } : {}) };
  const extensions = new Map(cfg.extensions);
  for (const [id, ec] of cfg.extensions) {
    if (ec.factory.type !== 'file_storage') continue;
    const c = ec.config as { directory: string; create_directory: boolean };
    const directory = join(c.directory, sub);
    try {
      // The parent must exist unless create_directory is set, as for one process.
      mkdirSync(directory, { recursive: c.create_directory, mode: 0o750 });
    } catch {
      /* the extension reports it when it starts */
    }
    extensions.set(id, { ...ec, config: { ...c, directory, create_directory: true } });
  }
  return { ...cfg, service, extensions, processors, exporters, receivers, pipelines };
}

export interface ReloadResult {
  ok: boolean;
  errors: string[];
  /** Node keys started anew (changed or added). */
  started: string[];
  /** Node keys kept running from the previous config. */
  kept: string[];
  /** Node keys shut down (changed or removed). */
  stopped: string[];
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
  /** Holds the process's reclaim of dead request bytes (gc.ts) while running. */
  private reclaiming = false;
  private started = false;
  readonly instanceId: string;
  /** Bound address of the self-telemetry endpoint, once started. */
  metricsPort: number | undefined;
  adminPort: number | undefined;

  private adminToken: Buffer | undefined;
  private reloadChain: Promise<unknown> = Promise.resolve();
  private host: Host | undefined;
  private taps = new TapHub(this.telemetry);
  private tapHook = (c: string, p: string | undefined, sig: Signal, d: Parameters<TapHub['observe']>[3]) => {
    if (this.taps.active) this.taps.observe(c, p, sig, d);
  };

  /** With several workers: the hop to the others. */
  readonly link: WorkerLink | undefined;

  constructor(public config: ServiceConfig, private opts: ServiceOptions = {}) {
    const level = opts.logLevel ?? config.service.telemetry.logs.level;
    const w = opts.worker;
    this.logger = opts.logger ?? createLogger({ level, write: opts.logWrite }, w ? { 'sieve.worker': w.index } : {});
    if (w) {
      this.config = config = workerConfig(config, w.index);
      this.instanceId = w.instanceId;
      if (w.count > 1) this.link = new WorkerLink({ index: w.index, count: w.count }, this.logger, this.telemetry, w.token);
    } else this.instanceId = loadInstanceId(config.service.data_dir);
  }

  static fromYaml(text: string, opts: ServiceOptions = {}): Service {
    const r = validateYaml(text, opts.factories ?? builtinFactories, opts.env);
    if (!r.config) throw new ConfigError(r.errors, r.warnings);
    return new Service(r.config, opts);
  }

  static fromFiles(paths: string[], opts: ServiceOptions = {}): Service {
    const r = validateFiles(paths, opts.factories ?? builtinFactories, opts.env);
    if (!r.config) throw new ConfigError(r.errors, r.warnings);
    return new Service(r.config, { files: paths, ...opts });
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
      tap: this.tapHook,
      link: this.link,
    });
    this.graph = graph;
    const host: Host = (this.host = {
      getExtension: (id) => graph.extensions.get(id),
      components: () => this.components(),
      registerAdminRoute: (method, path, handler) => {
        this.adminRoutes.set(`${method.toUpperCase()} ${path}`, handler);
      },
      logger: this.logger,
      telemetry: this.telemetry,
      pipelines: () => this.config.pipelines,
    });
    registerProcessMetrics(this.telemetry);
    this.telemetry.gauge('sieve_config_last_reload_successful', 'Whether the last config reload succeeded (1) or was rejected (0).').set(1);
    this.telemetry.counter('sieve_config_reloads', 'Config reloads attempted, by result.', ['result']);
    // Alertmanager webhook receiver: a firing alert (e.g. an SLO burn-rate alert)
    // turns on tail-sampling incident mode for `duration` (default 15m).
    this.adminRoutes.set('POST /alertmanager', async (req) => {
      let msg: { status?: string; alerts?: { status?: string }[] };
      try {
        msg = JSON.parse(req.body.toString('utf8')) as typeof msg;
      } catch {
        return { status: 400, body: { error: 'the body must be an Alertmanager webhook message (JSON)' } };
      }
      const firing = (msg.alerts ?? []).filter((a) => a.status === 'firing').length;
      if (firing === 0) return { status: 200, body: { status: 'ignored', firing: 0 } };
      const incident = this.adminRoutes.get('POST /admin/incident-mode');
      if (!incident) return { status: 404, body: { error: 'no tail_sampling processor with incident mode is running' } };
      const url = new URL(req.url);
      url.pathname = '/admin/incident-mode';
      const r = await incident({ url, headers: req.headers, body: Buffer.from(JSON.stringify({ duration: req.url.searchParams.get('duration') ?? '15m' })) });
      this.logger.warn('Incident mode turned on by an Alertmanager alert', { firing });
      return r;
    });
    this.adminRoutes.set('POST /reload', async () => {
      const r = await this.reload();
      return r.ok ? { status: 200, body: { status: 'reloaded', started: r.started, stopped: r.stopped, kept: r.kept } } : { status: 400, body: { status: 'rejected', errors: r.errors } };
    });
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
      if (this.link) await this.link.start(host);
    } catch (e) {
      for (const n of startedNodes.reverse()) await n.component.shutdown().catch(() => undefined);
      for (const s of this.servers) s.close();
      throw e;
    }
    for (const e of graph.extensions.values()) if (isPipelineWatcher(e)) e.ready();
    startExternalReclaim();
    this.reclaiming = true;
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
    const w = this.opts.worker;
    if (w && !w.serveEndpoints) addr = null;
    const metricsText = w?.metricsText ?? (() => this.telemetry.text());
    const workerOf = (url: string | undefined): number | undefined => {
      const v = w && new URL(url ?? '/', 'http://x').searchParams.get('worker');
      return v && /^[0-9]+$/.test(v) && Number(v) < w.count ? Number(v) : undefined;
    };
    if (addr) {
      const auth = resolveServerAuth(host, tcfg.auth, 'service::telemetry::metrics');
      const count = auth ? { listener: 'service::telemetry::metrics', authenticator: tcfg.auth!.authenticator, counter: authCounter(this.telemetry) } : undefined;
      const srv = createServer(async (req, res) => {
        if (req.method === 'GET' && req.url?.split('?')[0] === '/metrics') {
          if (auth && !(await guardHttp(auth, req, res, count))) return;
          metricsText(workerOf(req.url)).then(
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
    if (admin.endpoint && (!w || w.serveEndpoints)) {
      if (!admin.bearer_token && !admin.auth) throw new StartError('service::admin::bearer_token: is required when the admin endpoint is on (or set service::admin::auth)');
      this.adminToken = admin.bearer_token ? Buffer.from(admin.bearer_token) : undefined;
      const auth = resolveServerAuth(host, admin.auth, 'service::admin');
      const count = auth ? { listener: 'service::admin', authenticator: admin.auth!.authenticator, counter: authCounter(this.telemetry) } : undefined;
      const srv = createServer(async (req, res) => {
        // With both set, either credential is enough.
        if (auth && !(this.adminToken && this.adminTokenOk(req, this.adminToken)) && !(await guardHttp(auth, req, res, count))) return;
        void this.handleAdmin(req, res, auth ? undefined : this.adminToken);
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
    if (req.method === 'GET' && url.pathname === '/tap') return this.serveTap(url, res, send);
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
      const body = Buffer.concat(chunks);
      const r = await handler({ url, body, headers: req.headers });
      // The other workers run the same change (reload, incident mode, ...).
      if (req.method === 'POST' && r.status < 300) this.opts.worker?.broadcastAdmin?.('POST', url.pathname + url.search, body);
      send(r.status, r.body);
    } catch (e) {
      send(500, { error: (e as Error).message });
    }
  }

  /** Runs an admin POST that another worker handled (the supervisor relays it); the answer is logged. */
  async runAdmin(method: string, pathAndQuery: string, body: Buffer): Promise<void> {
    const url = new URL(pathAndQuery, 'http://admin');
    const handler = this.adminRoutes.get(`${method} ${url.pathname}`);
    if (!handler) return;
    const r = await handler({ url, body, headers: {} }).catch((e: Error) => ({ status: 500, body: { error: e.message } }));
    if (r.status >= 300) this.logger.warn('Relayed admin request failed in this worker', { path: url.pathname, status: r.status, answer: r.body });
  }

  /**
   * With workers: stops the receivers and the processors upstream of the
   * routers, and waits until no hand-off to another worker is in flight. The
   * supervisor does this in every worker before any stops taking hand-offs.
   */
  async quiesce(): Promise<void> {
    const graph = this.graph;
    if (!graph) return;
    for (const n of graph.order) {
      if (n.kind !== 'receiver' && !graph.beforeRouters.has(n.key)) continue;
      await n.component.shutdown().catch((e) => this.logger.error('Component failed to shut down', { 'otelcol.component.id': n.id, error: e }));
    }
    await this.link?.idle();
  }

  /**
   * Reads the config again (files given at construction, or `yaml`), validates
   * it, and swaps only what changed: a node whose config, the files it names,
   * and downstream are unchanged keeps running (listeners bound, queues and
   * buffers intact). New nodes start before the receivers are pointed at them;
   * replaced nodes are shut down afterwards, upstream first, so what they hold
   * drains. An invalid config leaves the running one in place. Reloads run one
   * at a time.
   */
  reload(yaml?: string): Promise<ReloadResult> {
    const run = this.reloadChain.then(() => this.reloadNow(yaml));
    this.reloadChain = run.catch(() => undefined);
    return run;
  }

  private async reloadNow(yaml?: string): Promise<ReloadResult> {
    const reloads = this.telemetry.counter('sieve_config_reloads', 'Config reloads attempted, by result.', ['result']);
    const lastOk = this.telemetry.gauge('sieve_config_last_reload_successful', 'Whether the last config reload succeeded (1) or was rejected (0).');
    const fail = (errors: string[]): ReloadResult => {
      reloads.inc({ result: 'failure' });
      lastOk.set(0);
      this.logger.error('Config reload rejected; the running config is kept.', { errors });
      return { ok: false, errors, started: [], kept: [], stopped: [] };
    };
    const old = this.graph;
    if (!old || !this.host || this.shutdownP) return fail(['the service is not running']);
    if (yaml === undefined && !this.opts.files) return fail(['no config files to reload from']);
    const factories = this.opts.factories ?? builtinFactories;
    const r = yaml !== undefined ? validateYaml(yaml, factories, this.opts.env) : validateFiles(this.opts.files!, factories, this.opts.env);
    for (const w of r.warnings) this.logger.warn('Config warning', { warning: w });
    if (!r.config) return fail(r.errors);
    const w = this.opts.worker;
    const cfg = w ? workerConfig(r.config, w.index) : r.config;
    if (w && r.config.service.workers !== this.config.service.workers) this.logger.warn('service::workers takes effect on restart only; the running workers are kept.');
    const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
    if (!same(cfg.service.telemetry, this.config.service.telemetry) || cfg.service.admin.endpoint !== this.config.service.admin.endpoint || cfg.service.data_dir !== this.config.service.data_dir) {
      this.logger.warn('service::telemetry, service::admin::endpoint and service::data_dir take effect on restart only; the running values are kept.');
    }
    let graph: Graph;
    try {
      graph = buildGraph(cfg, { logger: this.logger, telemetry: this.telemetry, instanceId: this.instanceId, dataDir: this.config.service.data_dir, now: this.opts.now ?? Date.now, previous: old, tap: this.tapHook, link: this.link });
    } catch (e) {
      return fail([(e as Error).message]);
    }
    const fresh = (g: Graph) => [...g.order].filter((n) => !graph.reused.has(n.key));
    const newNodes = fresh(graph);
    const gone = old.order.filter((n) => graph.nodes.get(n.key)?.component !== n.component);
    // Start what is new, extensions first, then downstream before upstream; receivers come later.
    const startOrder = [...newNodes].reverse().filter((n) => n.kind !== 'receiver').sort((a, b) => (a.kind === 'extension' ? -1 : 0) - (b.kind === 'extension' ? -1 : 0));
    const started: GraphNode[] = [];
    for (const n of startOrder) {
      try {
        await n.component.start(this.host);
        started.push(n);
      } catch (e) {
        for (const s of started.reverse()) await s.component.shutdown().catch(() => undefined);
        return fail([`${n.kind} "${n.id}" failed to start: ${(e as Error).message}`]);
      }
    }
    // From here the new graph is live: kept receivers feed the new pipelines.
    this.graph = graph;
    this.config = cfg;
    if (cfg.service.admin.bearer_token && this.adminToken) this.adminToken = Buffer.from(cfg.service.admin.bearer_token);
    await Promise.all(graph.pendingSwaps.map(({ sw, target }) => sw.swap(target)));
    // Replaced receivers: stop the old listener (its in-flight calls finish), then bind the new one.
    const goneReceivers = gone.filter((n) => n.kind === 'receiver');
    for (const n of goneReceivers) {
      await n.component.shutdown().catch((e) => this.logger.error('Component failed to shut down', { 'otelcol.component.id': n.id, error: e }));
      const sw = old.switches.get(n.id);
      if (sw) await Promise.all(Object.values(sw).map((x) => x!.drained()));
    }
    const errors: string[] = [];
    for (const n of newNodes.filter((x) => x.kind === 'receiver')) {
      // The old socket may take a moment to be released.
      for (let attempt = 0; ; attempt++) {
        try {
          await n.component.start(this.host);
          break;
        } catch (e) {
          await n.component.shutdown().catch(() => undefined);
          if (attempt >= 20 || !/EADDRINUSE|address already in use/i.test((e as Error).message) || !n.recreate) {
            errors.push(`receiver "${n.id}" failed to start: ${(e as Error).message}`);
            break;
          }
          await new Promise((res) => setTimeout(res, 50));
          n.component = n.recreate();
          graph.receivers.set(n.id, n.component);
        }
      }
    }
    // Drain and stop what was replaced or removed, upstream first; extensions last.
    for (const n of gone) {
      if (n.kind === 'receiver' || n.kind === 'extension') continue;
      await n.component.shutdown().catch((e) => this.logger.error('Component failed to shut down', { 'otelcol.component.id': n.id, error: e }));
    }
    for (const n of gone) if (n.kind === 'extension') await n.component.shutdown().catch(() => undefined);
    for (const n of newNodes) if (n.kind === 'extension' && isPipelineWatcher(n.component)) n.component.ready();
    const result: ReloadResult = {
      ok: errors.length === 0,
      errors,
      started: newNodes.map((n) => n.key),
      kept: [...graph.reused],
      stopped: gone.map((n) => n.key),
    };
    if (errors.length) return { ...fail(errors), started: result.started, kept: result.kept, stopped: result.stopped };
    reloads.inc({ result: 'success' });
    lastOk.set(1);
    this.logger.info('Config reloaded.', { started: result.started.length, kept: result.kept.length, stopped: result.stopped.length });
    return result;
  }

  /**
   * `GET /tap?component=ID[&signal=S][&rate=R][&limit=N]`: streams what the
   * receiver or processor ID emits as JSON lines until the limit or the client
   * leaves. A point upstream of a redaction processor is refused (403) unless
   * service::admin::allow_unredacted_tap is set.
   */
  private serveTap(url: URL, res: ServerResponse, send: (status: number, body: unknown) => void): void {
    const component = url.searchParams.get('component') ?? '';
    const signal = url.searchParams.get('signal') ?? undefined;
    const rate = Number(url.searchParams.get('rate') ?? '1');
    const limit = Number(url.searchParams.get('limit') ?? '100');
    if (signal !== undefined && !['traces', 'metrics', 'logs'].includes(signal)) return send(400, { error: `signal: must be traces, metrics or logs, got ${JSON.stringify(signal)}` });
    if (!(rate > 0 && rate <= 1)) return send(400, { error: `rate: must be in (0, 1], got ${url.searchParams.get('rate')}` });
    if (!(Number.isInteger(limit) && limit > 0)) return send(400, { error: `limit: must be a positive integer, got ${url.searchParams.get('limit')}` });
    const [id, pipeline] = component.split('@');
    const pipelines = this.config.pipelines.filter((p) => (!signal || p.signal === signal) && (!pipeline || p.id === pipeline));
    const atReceiver = !pipeline && this.graph?.receivers.has(id!);
    const where = pipelines.filter((p) => (atReceiver ? p.receivers.includes(id!) : p.processors.includes(id!)));
    if (where.length === 0) return send(404, { error: `component: no receiver or processor "${component}"${signal ? ` in a ${signal} pipeline` : ''}; tap one of ${[...new Set(this.config.pipelines.flatMap((p) => [...p.receivers, ...p.processors]))].join(', ')}` });
    const redactedLater = where.filter((p) => {
      const from = atReceiver ? -1 : p.processors.indexOf(id!);
      return p.processors.slice(from + 1).some((x) => this.config.processors.get(x)?.type === 'redaction');
    });
    if (redactedLater.length && !this.config.service.admin.allow_unredacted_tap) {
      return send(403, { error: `"${component}" is upstream of redaction in ${redactedLater.map((p) => p.id).join(', ')}; tap the redaction processor or a later one, or set service::admin::allow_unredacted_tap` });
    }
    res.writeHead(200, { 'Content-Type': 'application/x-ndjson', 'Cache-Control': 'no-store' });
    res.flushHeaders();
    const remove = this.taps.add({ component, signal: signal as Signal | undefined, rate, remaining: limit, res });
    res.on('close', remove);
    res.on('finish', remove);
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
        if (this.link) {
          // What is upstream of the routers first; then no more hand-offs are taken.
          await this.quiesce();
          await this.link.shutdown();
        }
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
      this.taps.closeAll();
      if (this.reclaiming) stopExternalReclaim();
      this.reclaiming = false;
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
