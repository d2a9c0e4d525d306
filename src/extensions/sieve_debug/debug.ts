// sieve_debug: /debug/pipelines (the configured graph with per-component
// counts and health) and /debug/traces?limit=N (recently exported traces).
// Off unless configured; it serves telemetry data, so it listens on loopback.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Component, CreateSettings, HealthReport, Host } from '../../component/component.js';
import { isHelperExporter } from '../../exporters/exporterhelper/helper.js';
import type { ResourceSpans } from '../../pdata/model.js';
import { listen } from '../../service/net.js';
import type { SieveDebugConfig } from './config.js';
import { SpanRing } from './ring.js';
import { authCounter, guardHttp, resolveServerAuth, type ServerAuthenticator } from '../auth/auth.js';

type Sample = { labels: Record<string, string | number>; value: number };
type Metrics = Map<string, Sample[]>;

export class SieveDebug implements Component {
  private server: Server | undefined;
  private host: Host | undefined;
  private unsubscribe: (() => void)[] = [];
  readonly ring: SpanRing;
  port: number | undefined;
  private auth: ServerAuthenticator | undefined;

  constructor(private settings: CreateSettings, private cfg: SieveDebugConfig) {
    this.ring = new SpanRing(cfg.recent_spans);
  }

  async start(host: Host): Promise<void> {
    if (this.server) return;
    this.host = host;
    this.auth = resolveServerAuth(host, this.cfg.auth, `extensions::${this.settings.id}`);
    const server = createServer((req, res) => void this.handle(req, res));
    this.port = await listen(server, this.cfg.endpoint, `extensions::${this.settings.id}::endpoint`);
    this.server = server;
    this.settings.logger.info('Debug endpoints are up; they serve telemetry data.', { endpoint: this.cfg.endpoint, port: this.port });
  }

  /** Subscribes to the trace exporters once they exist (extensions start before pipelines, so on first use). */
  private subscribe(): void {
    if (this.unsubscribe.length || !this.host) return;
    const wanted = new Set(this.cfg.exporters);
    for (const [id, { kind, component }] of this.host.components()) {
      if (kind !== 'exporter' || !isHelperExporter(component)) continue;
      if (wanted.size && !wanted.has(id)) continue;
      this.unsubscribe.push(
        component.observe((data) => {
          if (data.signal === 'traces') this.ring.add(data.read() as readonly ResourceSpans[], id);
        }),
      );
    }
  }

  /** Called by the service's pipeline watcher hook: start recording once exporters run. */
  ready(): void {
    this.subscribe();
  }
  notReady(): void {}

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.auth && !(await guardHttp(this.auth, req, res, { listener: this.settings.id, authenticator: this.cfg.auth!.authenticator, counter: authCounter(this.settings.telemetry) }))) return;
    const url = new URL(req.url ?? '/', 'http://debug');
    if (req.method !== 'GET') return send(res, 405, { error: 'method not allowed' });
    try {
      if (url.pathname === '/debug/pipelines') return send(res, 200, await this.pipelines());
      if (url.pathname === '/debug/traces') {
        const raw = url.searchParams.get('limit');
        const limit = raw === null ? 20 : Number(raw);
        if (!Number.isInteger(limit) || limit < 1) return send(res, 400, { error: `limit must be a positive integer, got ${JSON.stringify(raw)}` });
        return send(res, 200, { traces: this.ring.traces(limit) });
      }
      return send(res, 404, { error: `no debug page ${url.pathname}; try /debug/pipelines or /debug/traces?limit=N` });
    } catch (e) {
      return send(res, 500, { error: (e as Error).message });
    }
  }

  async pipelines(): Promise<unknown> {
    const host = this.host!;
    const metrics = await snapshot(host);
    const comps = host.components();
    const health = (id: string): HealthReport | undefined => {
      const c = comps.get(id)?.component as Partial<{ health(): HealthReport }> | undefined;
      return typeof c?.health === 'function' ? c.health() : undefined;
    };
    const sum = (name: string, match: Record<string, string>) => {
      let n = 0;
      // Counters are exposed with the _total suffix.
      for (const s of metrics.get(name) ?? metrics.get(`${name}_total`) ?? []) if (Object.entries(match).every(([k, v]) => String(s.labels[k]) === v)) n += s.value;
      return n;
    };
    const unit = (signal: string) => (signal === 'traces' ? 'spans' : signal === 'metrics' ? 'metric_points' : 'log_records');
    const pipelines = (host.pipelines?.() ?? []).map((p) => {
      const u = unit(p.signal);
      return {
        id: p.id,
        signal: p.signal,
        receivers: p.receivers.map((id) => ({ id, accepted: sum(`otelcol_receiver_accepted_${u}`, { receiver: id }), refused: sum(`otelcol_receiver_refused_${u}`, { receiver: id }), health: health(id) })),
        processors: p.processors.map((id) => ({
          id,
          incoming: sum('otelcol_processor_incoming_items', { processor: id, pipeline: p.id }),
          outgoing: sum('otelcol_processor_outgoing_items', { processor: id, pipeline: p.id }),
          health: health(`${id}@${p.id}`) ?? health(id),
        })),
        exporters: p.exporters.map((id) => ({
          id,
          sent: sum(`otelcol_exporter_sent_${u}`, { exporter: id }),
          send_failed: sum(`otelcol_exporter_send_failed_${u}`, { exporter: id }),
          enqueue_failed: sum(`otelcol_exporter_enqueue_failed_${u}`, { exporter: id }),
          queue_size: sum('otelcol_exporter_queue_size', { exporter: id, data_type: p.signal }),
          queue_capacity: sum('otelcol_exporter_queue_capacity', { exporter: id, data_type: p.signal }),
          health: health(id),
        })),
      };
    });
    const extensions = [...comps].filter(([, c]) => c.kind === 'extension').map(([id]) => ({ id, health: health(id) }));
    return { pipelines, extensions, recent_spans: this.ring.spanCount() };
  }

  async shutdown(): Promise<void> {
    for (const u of this.unsubscribe.splice(0)) u();
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    await new Promise<void>((r) => {
      s.close(() => r());
      s.closeAllConnections();
    });
  }
}

async function snapshot(host: Host): Promise<Metrics> {
  const out: Metrics = new Map();
  for (const m of await host.telemetry.registry.getMetricsAsJSON()) {
    if (m.name.startsWith('otelcol_receiver_') || m.name.startsWith('otelcol_processor_') || m.name.startsWith('otelcol_exporter_')) {
      out.set(m.name, (m.values ?? []) as Sample[]);
    }
  }
  return out;
}

function send(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
  res.writeHead(code, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
  res.end(text);
}
