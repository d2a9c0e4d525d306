// The loadbalancing exporter: routes each item to one backend by a
// consistent hash of its routing key, so all spans of a trace (or all points
// of a series) reach the same backend, from any number of agents.
//
// Each backend is an otlp exporter built by the otlp factory from
// protocol.otlp with the backend as its endpoint, so queue, retry, timeout,
// TLS, compression and auth are the shared exporter helper's. A batch is
// accepted once every part is in its backend's queue; the outcome of each
// part is followed afterwards:
// - a backend that leaves the resolver's list is abandoned: what it still
//   holds (queued, waiting for a retry, failed in flight) comes back and is
//   routed again through the new ring, so nothing accepted is dropped;
// - a backend that is down keeps its share and retries it with its own
//   retry policy (a trace is not split across backends), unless
//   reroute_on_failure sends what it gives up on to the next backend.
import type { CreateSettings, ExporterComponent, Host } from '../../component/component.js';
import { ConsumerError, asConsumerError, unavailableError } from '../../component/errors.js';
import type { Signal } from '../../pdata/model.js';
import { ITEM_NAME } from '../../pdata/model.js';
import { releaseDurable, type Telemetry } from '../../pdata/telemetry.js';
import { HashRing } from '../../routing/ring.js';
import { isHelperExporter, type HelperExporter } from '../exporterhelper/helper.js';
import { otlpExporterFactory, type OtlpExporterConfig } from '../otlp/factory.js';
import { DEFAULT_KEY, KEYS_BY_SIGNAL, type LoadBalancingConfig, type RoutingKey } from './config.js';
import { DnsEndpointResolver, K8sEndpointResolver, StaticResolver, type Endpoints, type Resolver } from './resolver.js';
import { createRouter, type Router } from './split.js';

interface Backend {
  endpoint: string;
  exporter: HelperExporter;
  removed: boolean;
}

/** Latency buckets, ms (the Collector records backend latency in ms). */
const LATENCY_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000];

export function routingKeyFor(cfg: LoadBalancingConfig, signal: Signal): RoutingKey {
  const key = cfg.routing_key ?? DEFAULT_KEY[signal];
  if (!KEYS_BY_SIGNAL[signal].includes(key)) {
    throw new Error(`exporters::loadbalancing: routing_key "${key}" is not supported for ${signal} (supported: ${KEYS_BY_SIGNAL[signal].join(', ')})`);
  }
  return key;
}

export class LoadBalancingExporter implements ExporterComponent {
  readonly mutatesData = false;
  private readonly router: Router;
  private readonly log;
  private resolver: Resolver | undefined;
  private host: Host | undefined;
  private ring = new HashRing([]);
  /** Backends in ring member order. */
  private members: Backend[] = [];
  private readonly backends = new Map<string, Backend>();
  /** Membership updates apply one at a time, in order. */
  private updating: Promise<void> = Promise.resolve();
  /** Outcomes being followed (not waited for by the caller). */
  private readonly pending = new Set<Promise<void>>();
  /** Abandoned backends and the re-routing of what they held. */
  private readonly leaving = new Set<Promise<void>>();
  private firstList: Promise<void>;
  private gotFirstList!: () => void;
  private started = false;
  private shutdownP: Promise<void> | undefined;
  private readonly excludedRings = new Map<string, HashRing>();

  private readonly m;

  constructor(private settings: CreateSettings, private cfg: LoadBalancingConfig, private signal: Signal) {
    this.router = createRouter(signal, routingKeyFor(cfg, signal));
    this.log = settings.logger;
    this.firstList = new Promise((r) => (this.gotFirstList = r));
    const t = settings.telemetry;
    const unit = ITEM_NAME[signal];
    this.m = {
      backends: t.gauge('otelcol_loadbalancer_num_backends', 'Current number of backends in use.', ['exporter', 'resolver']),
      resolutions: t.counter('otelcol_loadbalancer_num_resolutions', 'Number of times the resolver has triggered new resolutions.', ['exporter', 'resolver', 'success']),
      outcome: t.counter('otelcol_loadbalancer_backend_outcome', 'Number of successes and failures for each endpoint.', ['exporter', 'endpoint', 'success']),
      latency: t.histogram('otelcol_loadbalancer_backend_latency', 'Response latency in ms for the backends (queue time included).', ['exporter', 'endpoint'], LATENCY_BUCKETS),
      items: t.counter('sieve_loadbalancer_backend_items', 'Items delivered to (success=true) or given up on by (success=false) each backend.', ['exporter', 'endpoint', 'data_type', 'success']),
      rerouted: t.counter('sieve_loadbalancer_rerouted_items', 'Items routed again: their backend left (reason=membership) or failed them for good with reroute_on_failure (reason=failure).', ['exporter', 'data_type', 'reason']),
      unit,
    };
  }

  async start(host: Host): Promise<void> {
    if (this.started || this.shutdownP) return;
    this.started = true;
    this.host = host;
    const r = this.cfg.resolver;
    const hooks = {
      logger: this.log,
      resolved: (ok: boolean) => this.m.resolutions.inc({ exporter: this.settings.id, resolver: this.resolver!.kind, success: String(ok) }),
    };
    if (r.static) this.resolver = new StaticResolver(r.static.hostnames, hooks);
    else if (r.dns) this.resolver = new DnsEndpointResolver(r.dns, hooks);
    else if (r.k8s) this.resolver = new K8sEndpointResolver(r.k8s, hooks);
    else throw new Error('exporters::loadbalancing: no resolver configured');
    // A first resolution that fails does not stop the daemon: data is refused (retryable) until backends appear.
    await this.resolver.start((list) => this.membership(list));
    await this.updating;
  }

  /** Number of backends in use (tests, health). */
  get backendCount(): number {
    return this.members.length;
  }

  /** The endpoint owning a key hash now (tests). */
  ownerOf(hash: number): string | undefined {
    return this.ring.lookup(hash);
  }

  private membership(list: Endpoints): void {
    this.updating = this.updating.then(() => this.apply(list)).catch((e) => this.log.error('Applying the backend list failed', { error: (e as Error).message }));
  }

  private async apply(list: Endpoints): Promise<void> {
    if (this.shutdownP) return;
    const next = new Set(list);
    const added: Backend[] = [];
    for (const ep of next) {
      if (this.backends.has(ep)) continue;
      const ocfg: OtlpExporterConfig = { ...this.cfg.protocol.otlp, endpoint: ep };
      const exp = otlpExporterFactory.create({ ...this.settings, logger: this.log.child({ endpoint: ep }) }, ocfg, this.signal);
      if (!isHelperExporter(exp)) throw new Error('the otlp exporter is expected to be built on the exporter helper');
      const b: Backend = { endpoint: ep, exporter: exp, removed: false };
      try {
        await exp.start(this.host!);
      } catch (e) {
        this.log.error('Starting the exporter for a backend failed', { endpoint: ep, error: (e as Error).message });
        continue;
      }
      this.backends.set(ep, b);
      added.push(b);
    }
    const removed: Backend[] = [];
    for (const [ep, b] of this.backends) {
      if (next.has(ep)) continue;
      this.backends.delete(ep);
      removed.push(b);
    }
    // The new ring is in place before the leaving backends hand their data back.
    this.ring = new HashRing(this.backends.keys());
    this.members = this.ring.members.map((ep) => this.backends.get(ep)!);
    this.excludedRings.clear();
    for (const b of removed) {
      b.removed = true;
      this.follow(this.leaving, b.exporter.abandon());
    }
    this.m.backends.set({ exporter: this.settings.id, resolver: this.resolver!.kind }, this.members.length);
    if (added.length || removed.length) {
      this.log.info('Backends changed', { backends: this.members.length, added: added.map((b) => b.endpoint), removed: removed.map((b) => b.endpoint) });
    }
    this.gotFirstList();
  }

  private follow(set: Set<Promise<void>>, p: Promise<unknown>): void {
    const q = p.then(
      () => undefined,
      () => undefined,
    );
    set.add(q);
    void q.finally(() => set.delete(q));
  }

  async consume(data: Telemetry): Promise<void> {
    if (data.isEmpty()) {
      releaseDurable(data);
      return;
    }
    if (this.shutdownP) throw unavailableError('exporter is shutting down', 1000, 'SIEVE_ERR_SHUTTING_DOWN');
    const wait = this.cfg.protocol.otlp.sending_queue.wait_for_result || !this.cfg.protocol.otlp.sending_queue.enabled;
    await this.dispatch(data, wait, undefined);
  }

  private ringWithout(exclude: Set<string> | undefined): { ring: HashRing; members: Backend[] } {
    if (!exclude || exclude.size === 0) return { ring: this.ring, members: this.members };
    const key = [...exclude].sort().join(',');
    let ring = this.excludedRings.get(key);
    if (!ring) {
      ring = new HashRing([...this.backends.keys()].filter((e) => !exclude.has(e)));
      this.excludedRings.set(key, ring);
    }
    return { ring, members: ring.members.map((e) => this.backends.get(e)!) };
  }

  /** Splits a batch by owner and hands each part to its backend; resolves when all are accepted (or delivered, with `wait`). */
  private async dispatch(data: Telemetry, wait: boolean, exclude: Set<string> | undefined): Promise<void> {
    let { ring, members } = this.ringWithout(exclude);
    if (ring.size === 0 && !exclude && this.started && !this.shutdownP) {
      // The first resolution may still be under way.
      await Promise.race([this.firstList, new Promise((r) => setTimeout(r, 1000).unref())]);
      ({ ring, members } = this.ringWithout(exclude));
    }
    if (ring.size === 0) throw unavailableError('no backends available', 1000, 'SIEVE_ERR_NO_BACKENDS');
    let parts;
    try {
      parts = this.router.split(data, ring);
    } catch (e) {
      throw new ConsumerError('invalid', `cannot route the batch: ${(e as Error).message}`, { code: 'SIEVE_ERR_ROUTING', cause: e });
    }
    if (parts.size === 0) {
      releaseDurable(data);
      return;
    }
    // Each part releases the batch's durable references when done: one more hold per extra part.
    const refs = data.ctx.durable;
    if (refs && parts.size > 1) for (let i = 1; i < parts.size; i++) for (const r of refs) r.retain();
    const sends: Promise<void>[] = [];
    for (const [idx, part] of parts) sends.push(this.sendPart(members[idx]!, part, wait, exclude));
    const out = await Promise.allSettled(sends);
    const failed = out.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed.length === 0) return;
    // The caller keeps one hold on a refusal; the extra holds of the other failed parts go.
    if (refs) for (let i = 1; i < failed.length; i++) for (const r of refs) r.release();
    throw asConsumerError(failed[0]!.reason);
  }

  private async sendPart(b: Backend, part: Telemetry, wait: boolean, exclude: Set<string> | undefined): Promise<void> {
    if (b.removed) return this.reroute(part, wait, 'membership');
    const t0 = performance.now();
    let handle;
    try {
      handle = await b.exporter.track(part);
    } catch (e) {
      // Refused while leaving (its queue closed under us): the new owner takes it.
      if (b.removed) return this.reroute(part, wait, 'membership');
      this.outcome(b, false, t0, 0);
      if (this.cfg.reroute_on_failure) return this.failover(b, part, wait, exclude, e);
      throw e;
    }
    const settled = handle.result.then(
      () => this.outcome(b, true, t0, part.itemCount()),
      (e) => this.afterFailure(b, part, e, t0, exclude),
    );
    if (wait) return settled;
    this.follow(this.pending, settled);
  }

  private async afterFailure(b: Backend, part: Telemetry, e: unknown, t0: number, exclude: Set<string> | undefined): Promise<void> {
    if (b.removed) {
      const p = this.reroute(part, true, 'membership');
      this.follow(this.leaving, p);
      return p;
    }
    this.outcome(b, false, t0, part.itemCount());
    if (this.cfg.reroute_on_failure) return this.failover(b, part, true, exclude, e);
    // The helper counted and logged the drop; the durable holds went back to us.
    releaseDurable(part);
    throw e;
  }

  private failover(b: Backend, part: Telemetry, wait: boolean, exclude: Set<string> | undefined, err: unknown): Promise<void> {
    const ex = new Set(exclude);
    ex.add(b.endpoint);
    if (this.ringWithout(ex).ring.size === 0) {
      if (wait) releaseDurable(part);
      return Promise.reject(err);
    }
    this.m.rerouted.inc({ exporter: this.settings.id, data_type: this.signal, reason: 'failure' }, part.itemCount());
    return this.dispatch(part, wait, ex);
  }

  /**
   * Routes a part whose backend left through the current ring. Retries while
   * the new owners refuse (queue full, not started yet), for as long as the
   * backends' own retry budget, so accepted data is not dropped.
   */
  private async reroute(part: Telemetry, wait: boolean, reason: 'membership'): Promise<void> {
    this.m.rerouted.inc({ exporter: this.settings.id, data_type: this.signal, reason }, part.itemCount());
    const r = this.cfg.protocol.otlp.retry_on_failure;
    const deadline = Date.now() + (r.max_elapsed_time > 0 ? r.max_elapsed_time : Number.MAX_SAFE_INTEGER);
    for (let delay = 100; ; delay = Math.min(delay * 2, 5000)) {
      try {
        return await this.dispatch(part, wait, undefined);
      } catch (e) {
        const err = asConsumerError(e);
        if (err.permanent || Date.now() + delay > deadline || this.closing) {
          this.log.warn('Re-routing data of a backend that left failed. Dropping data.', { error: err.message, dropped_items: part.itemCount() });
          throw err;
        }
        await new Promise((res) => setTimeout(res, Math.max(delay, err.retryAfterMs ?? 0)));
      }
    }
  }

  private closing = false;

  private outcome(b: Backend, ok: boolean, t0: number, items: number): void {
    const labels = { exporter: this.settings.id, endpoint: b.endpoint };
    this.m.outcome.inc({ ...labels, success: String(ok) });
    this.m.latency.observe(labels, performance.now() - t0);
    if (items > 0) this.m.items.inc({ ...labels, data_type: this.signal, success: String(ok) }, items);
  }

  shutdown(): Promise<void> {
    this.shutdownP ??= (async () => {
      await this.resolver?.shutdown();
      await this.updating;
      // Backends that left hand back what they held while the others still accept it.
      while (this.leaving.size) await Promise.all([...this.leaving]);
      this.closing = true;
      await Promise.all([...this.backends.values()].map((b) => b.exporter.shutdown()));
      while (this.pending.size) await Promise.all([...this.pending]);
      while (this.leaving.size) await Promise.all([...this.leaving]);
    })();
    return this.shutdownP;
  }
}
