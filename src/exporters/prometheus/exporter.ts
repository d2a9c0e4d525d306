// The prometheus (pull) exporter: keeps the latest value of each series and
// serves them on http(s)://endpoint/metrics.
import http from 'node:http';
import https from 'node:https';
import { timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { ConsumeResult, CreateSettings, ExporterComponent, HealthReport, Host } from '../../component/component.js';
import { unavailableError } from '../../component/errors.js';
import { loadServerTls, tlsVersion } from '../../config/tls.js';
import { releaseDurable, type Telemetry } from '../../pdata/telemetry.js';
import { LabelBuilder } from '../../prom/labels.js';
import { MetricNamer } from '../../prom/naming.js';
import type { PrometheusExporterConfig } from './config.js';
import { negotiate, renderOpenMetrics, renderText } from './render.js';
import { MetricStore } from './store.js';
import { authCounter, guardHttp, resolveServerAuth, type ServerAuthenticator } from '../../extensions/auth/auth.js';

const gzipAsync = promisify(gzip);

/** How often expired series are removed: a tenth of metric_expiration, between 1 s and 30 s. */
export function expiryInterval(expirationMs: number): number {
  return Math.min(30_000, Math.max(1000, Math.floor(expirationMs / 10)));
}

export class PrometheusExporter implements ExporterComponent {
  readonly mutatesData = false;
  readonly store: MetricStore;
  private readonly labels: LabelBuilder;
  private server: http.Server | undefined;
  private timer: NodeJS.Timeout | undefined;
  private shutdownP: Promise<void> | undefined;
  private readonly token: Buffer | undefined;
  private readonly sent;
  private readonly expired;
  private readonly seriesGauge;
  /** The port actually bound (useful with port 0). */
  port = 0;

  private authenticator: ServerAuthenticator | undefined;

  constructor(private readonly settings: CreateSettings, private readonly cfg: PrometheusExporterConfig) {
    const t = settings.telemetry;
    const labels = { exporter: settings.id };
    this.labels = new LabelBuilder({
      resourceToTelemetry: cfg.resource_to_telemetry_conversion.enabled,
      scopeLabels: !cfg.without_scope_info,
      extraLabels: cfg.const_labels,
    });
    const dropped = t.counter('sieve_prometheus_exporter_dropped_points_total', 'Data points not exposed: series limit reached, type conflict, unsupported type, out of order.', ['exporter', 'reason']);
    this.store = new MetricStore({
      namer: new MetricNamer({ namespace: cfg.namespace, addMetricSuffixes: cfg.add_metric_suffixes }),
      labels: this.labels,
      scopeLabels: !cfg.without_scope_info,
      maxSeries: cfg.max_series,
      dropped: (reason, n) => dropped.inc({ ...labels, reason }, n),
    });
    this.sent = t.counter('otelcol_exporter_sent_metric_points', 'Number of metric points successfully sent to destination.', ['exporter']);
    this.expired = t.counter('sieve_prometheus_exporter_expired_series_total', 'Series removed after metric_expiration without updates.', ['exporter']);
    this.seriesGauge = t.gauge('sieve_prometheus_exporter_series', 'Series currently exposed.', ['exporter']);
    this.token = cfg.auth?.bearer_token !== undefined ? Buffer.from(`Bearer ${cfg.auth.bearer_token}`) : undefined;
  }

  async start(h: Host): Promise<void> {
    if (this.server || this.shutdownP) return;
    // With several workers the metrics pipelines feeding this exporter are routed to
    // worker 0 (docs/workers.md), so only worker 0 holds the store and serves scrapes.
    const w = this.settings.worker;
    if (w && w.count > 1 && w.index !== 0) return;
    this.authenticator = resolveServerAuth(h, this.cfg.auth?.authenticator ? { authenticator: this.cfg.auth.authenticator } : undefined, `exporters::${this.settings.id}`);
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => void this.handle(req, res);
    let server: http.Server;
    if (this.cfg.tls) {
      const m = loadServerTls(this.cfg.tls);
      server = https.createServer({ cert: m.cert, key: m.key, ca: m.ca, minVersion: tlsVersion(this.cfg.tls.min_version) }, handler);
    } else {
      server = http.createServer(handler);
    }
    const idx = this.cfg.endpoint.lastIndexOf(':');
    const host = this.cfg.endpoint.slice(0, idx).replace(/^\[|\]$/g, '') || '0.0.0.0';
    const port = Number(this.cfg.endpoint.slice(idx + 1));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.port = (server.address() as { port: number }).port;
    this.timer = setInterval(() => this.expire(), expiryInterval(this.cfg.metric_expiration));
    this.timer.unref();
    this.settings.logger.info('Prometheus scrape endpoint listening', { endpoint: `${host}:${this.port}`, path: '/metrics' });
  }

  /** Removes expired series now (the timer calls this; tests call it with an injected clock). */
  expire(): number {
    const n = this.store.expire(this.settings.now(), this.cfg.metric_expiration);
    if (n > 0) this.expired.inc({ exporter: this.settings.id }, n);
    this.seriesGauge.set({ exporter: this.settings.id }, this.store.seriesCount);
    return n;
  }

  async consume(data: Telemetry): Promise<ConsumeResult> {
    if (this.shutdownP) throw unavailableError('exporter is shutting down', 1000, 'SIEVE_ERR_SHUTTING_DOWN');
    const accepted = this.store.add((data as Telemetry<'metrics'>).read(), this.settings.now());
    if (accepted > 0) this.sent.inc({ exporter: this.settings.id }, accepted);
    // The data is exposed from memory now; nothing downstream will acknowledge it.
    releaseDurable(data);
  }

  private authorized(req: http.IncomingMessage): boolean {
    if (this.token === undefined) return true;
    const got = Buffer.from(req.headers.authorization ?? '');
    return got.length === this.token.length && timingSafeEqual(got, this.token);
  }

  /** The exposition body for an Accept header (used by the HTTP handler and tests). */
  render(accept: string | undefined): { body: string; contentType: string } {
    const { format, contentType } = negotiate(accept, this.cfg.enable_open_metrics);
    const body =
      format === 'openmetrics'
        ? renderOpenMetrics(this.store, this.cfg.send_timestamps, this.labels.namer)
        : renderText(this.store, this.cfg.send_timestamps);
    return { body, contentType };
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      const path = (req.url ?? '/').split('?')[0];
      if (path !== '/metrics') {
        res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found; metrics are served on /metrics\n');
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { Allow: 'GET, HEAD' }).end();
        return;
      }
      if (this.authenticator) {
        if (!(await guardHttp(this.authenticator, req, res, { listener: this.settings.id, authenticator: this.cfg.auth!.authenticator!, counter: authCounter(this.settings.telemetry) }))) return;
      } else if (!this.authorized(req)) {
        res.writeHead(401, { 'WWW-Authenticate': 'Bearer realm="sieve"', 'Content-Type': 'text/plain; charset=utf-8' }).end('unauthorized\n');
        return;
      }
      const { body, contentType } = this.render(req.headers.accept);
      const headers: http.OutgoingHttpHeaders = { 'Content-Type': contentType, Vary: 'Accept, Accept-Encoding' };
      let payload: Buffer | string = body;
      if (/\bgzip\b/.test(req.headers['accept-encoding'] ?? '') && body.length > 1024) {
        payload = await gzipAsync(body, { level: 1 });
        headers['Content-Encoding'] = 'gzip';
      }
      headers['Content-Length'] = Buffer.byteLength(payload);
      res.writeHead(200, headers);
      res.end(req.method === 'HEAD' ? undefined : payload);
    } catch (e) {
      this.settings.logger.warn('Serving a scrape failed', { error: e as Error });
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    }
  }

  shutdown(): Promise<void> {
    this.shutdownP ??= (async () => {
      if (this.timer) clearInterval(this.timer);
      const s = this.server;
      if (s) {
        await new Promise<void>((r) => {
          s.close(() => r());
          s.closeAllConnections();
        });
      }
    })();
    return this.shutdownP;
  }

  health(): HealthReport {
    return { status: 'ok' };
  }
}
