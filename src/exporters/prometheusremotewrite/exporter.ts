// The prometheusremotewrite exporter.
//
// Per-series ordering with parallel senders: the exporter runs one shard per
// queue consumer (sending_queue::num_consumers). Each shard is a
// queue-retry-timeout chain from the shared exporter helper with a single
// consumer, so a shard sends its batches one at a time, in order, retrying a
// failed batch before the next. Every metric of a resource is routed to the
// shard chosen by hashing the resource's identity (job, instance, and the
// resource labels when resource_to_telemetry_conversion is on) with the
// metric's Prometheus name: every sample of a series always goes through the
// same shard, so a series' samples leave in timestamp order while different
// series are sent in parallel. A batch is translated once, on its first send
// attempt; retries resend the same bytes.
//
// Staleness: a sweep (every second) hands each shard the series that have
// disappeared (see ShardTranslator.collectStale) as an OTLP batch of
// NO_RECORDED_VALUE points, which goes through the shard's queue like any
// batch, so a marker is never sent ahead of a sample of its series.
import type { ConsumeResult, CreateSettings, ExporterComponent, HealthReport, Host } from '../../component/component.js';
import { asConsumerError, unavailableError } from '../../component/errors.js';
import type { KeyValue, Metric, Resource, ResourceMetrics, ScopeMetrics } from '../../pdata/model.js';
import { Telemetry, releaseDurable } from '../../pdata/telemetry.js';
import { retainForParts } from '../../durable/refs.js';
import { hashString } from '../../prom/hash.js';
import { LabelBuilder, SERVICE_INSTANCE_ID, SERVICE_NAME, SERVICE_NAMESPACE, type ResourceLabels } from '../../prom/labels.js';
import { MetricNamer } from '../../prom/naming.js';
import { createExporter } from '../exporterhelper/helper.js';
import { helperConfig, resolveQueue, type PrwConfig } from './config.js';
import { RemoteWriteClient } from './http.js';
import { ShardTranslator, TARGET_SCOPE, type TranslateStats } from './translate.js';

const SWEEP_INTERVAL_MS = 1000;

interface Prepared {
  bodies: Uint8Array[];
  /** Bodies already delivered (a retry resumes after them). */
  sent: number;
  /** When the first attempt started (ms), to tell when the helper gives up. */
  firstAttempt: number;
}

interface Shard {
  translator: ShardTranslator;
  exporter: ExporterComponent & { health(): HealthReport };
  /** Serialises sends when the queue is disabled and callers send concurrently. */
  chain: Promise<void>;
}

export class PrometheusRemoteWriteExporter implements ExporterComponent {
  readonly mutatesData = false;
  private readonly shards: Shard[] = [];
  private readonly client: RemoteWriteClient;
  private readonly prepared = new WeakMap<Telemetry, Prepared>();
  private readonly resourceCache = new WeakMap<Resource, ResourceLabels>();
  private readonly namer: MetricNamer;
  private readonly labels: LabelBuilder;
  private sweepTimer: NodeJS.Timeout | undefined;
  private started = false;
  /** Batches queued or being sent (see idle()). */
  private outstanding = 0;
  private readonly finished = new WeakSet<Telemetry>();
  private shutdownP: Promise<void> | undefined;

  constructor(private readonly settings: CreateSettings, private readonly cfg: PrwConfig) {
    const queue = resolveQueue(cfg);
    const n = queue.num_consumers;
    this.namer = new MetricNamer({ namespace: cfg.namespace, addMetricSuffixes: cfg.add_metric_suffixes });
    this.labels = new LabelBuilder({
      resourceToTelemetry: cfg.resource_to_telemetry_conversion.enabled,
      scopeLabels: false,
      extraLabels: cfg.external_labels,
    });
    this.client = new RemoteWriteClient(cfg.endpoint, cfg.tls, cfg.headers, n);
    const t = settings.telemetry;
    const labels = { exporter: settings.id };
    const dropped = t.counter('sieve_prometheusremotewrite_dropped_points_total', 'Data points not sent: out of order or duplicate, delta points of untracked series, unsupported types.', ['exporter', 'reason']);
    const stale = t.counter('sieve_prometheusremotewrite_stale_markers_total', 'Series ended with a staleness marker.', ['exporter']);
    const stats: TranslateStats = {
      dropped: (reason, k) => dropped.inc({ ...labels, reason }, k),
      staleMarkers: (k) => stale.inc(labels, k),
    };
    const shardHelper = helperConfig(cfg);
    // Each shard's queue gets an equal part of the configured capacity, and one consumer.
    const shardQueue = { ...shardHelper.sending_queue, num_consumers: 1, queue_size: Math.max(1, Math.ceil(shardHelper.sending_queue.queue_size / n)) };
    const maxTracked = Math.max(1, Math.ceil(cfg.max_tracked_series / n));
    for (let i = 0; i < n; i++) {
      const translator = new ShardTranslator({
        namer: this.namer,
        labels: this.labels,
        resourceLabels: (r) => this.resourceLabels(r),
        maxTracked,
        maxBodyBytes: cfg.max_batch_size_bytes,
        stats,
      });
      const shard: Shard = { translator, exporter: undefined as never, chain: Promise.resolve() };
      shard.exporter = createExporter({
        settings,
        signal: 'metrics',
        config: { ...shardHelper, sending_queue: shardQueue },
        push: (data, signal) => this.push(shard, data as Telemetry<'metrics'>, signal),
      });
      this.shards.push(shard);
    }
    t.gauge('sieve_prometheusremotewrite_tracked_series', 'Series whose ordering, delta totals and staleness are tracked.', ['exporter']);
  }

  private resourceLabels(r: Resource): ResourceLabels {
    let rl = this.resourceCache.get(r);
    if (rl === undefined) {
      rl = this.labels.resource(r);
      this.resourceCache.set(r, rl);
    }
    return rl;
  }

  async start(host: Host): Promise<void> {
    if (this.started) return;
    this.started = true;
    for (const s of this.shards) await s.exporter.start(host);
    if (this.cfg.staleness.enabled) {
      this.sweepTimer = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
      this.sweepTimer.unref();
    }
    const tracked = this.settings.telemetry.gauge('sieve_prometheusremotewrite_tracked_series', '', ['exporter']);
    const refresh = setInterval(() => tracked.set({ exporter: this.settings.id }, this.trackedSeries()), 5000);
    refresh.unref();
    this.stopRefresh = () => clearInterval(refresh);
  }

  private stopRefresh: () => void = () => {};

  trackedSeries(): number {
    let n = 0;
    for (const s of this.shards) n += s.translator.entries.size;
    return n;
  }

  /** Queues staleness markers for series that have disappeared (exposed for tests with an injected clock). */
  sweep(): void {
    const now = this.settings.now();
    const o = {
      missedIntervals: this.cfg.staleness.missed_intervals,
      maxAgeMs: this.cfg.staleness.max_age,
      minIntervalMs: this.cfg.staleness.min_interval,
    };
    for (const s of this.shards) {
      const due = s.translator.collectStale(now, o);
      if (due === undefined) continue;
      this.offer(s, due.data).catch(() => s.translator.requeue(due.entries));
    }
  }

  private async push(shard: Shard, data: Telemetry<'metrics'>, signal: AbortSignal): Promise<ConsumeResult> {
    const prev = shard.chain;
    let release!: () => void;
    shard.chain = new Promise<void>((r) => (release = r));
    await prev;
    let p = this.prepared.get(data);
    try {
      if (p === undefined) {
        p = { bodies: shard.translator.translate(data.read(), this.settings.now()), sent: 0, firstAttempt: Date.now() };
        this.prepared.set(data, p);
      }
      while (p.sent < p.bodies.length) {
        await this.client.send(p.bodies[p.sent]!, signal);
        p.sent++;
      }
      this.finish(data);
    } catch (e) {
      // Mirror the helper's decision to give up, for idle().
      const err = asConsumerError(e);
      const r = this.cfg.retry_on_failure;
      const elapsed = Date.now() - (p?.firstAttempt ?? Date.now());
      if (err.permanent || !r.enabled || (r.max_elapsed_time > 0 && elapsed >= r.max_elapsed_time) || this.shutdownP) this.finish(data);
      throw e;
    } finally {
      release();
    }
  }

  private finish(data: Telemetry): void {
    if (this.finished.has(data)) return;
    this.finished.add(data);
    this.outstanding--;
  }

  /** True when no batch is queued or being sent (tests, benchmarks). */
  idle(): boolean {
    return this.outstanding <= 0;
  }

  private async offer(shard: Shard, t: Telemetry): Promise<ConsumeResult> {
    this.outstanding++;
    try {
      return await shard.exporter.consume(t);
    } catch (e) {
      this.finish(t);
      throw e;
    }
  }

  async consume(data: Telemetry): Promise<ConsumeResult> {
    if (this.shutdownP) throw unavailableError('exporter is shutting down', 1000, 'SIEVE_ERR_SHUTTING_DOWN');
    const split = this.split(data as Telemetry<'metrics'>);
    const parts: { t: Telemetry; points: number; shard: Shard }[] = [];
    for (let i = 0; i < split.length; i++) {
      const p = split[i];
      if (p !== undefined) parts.push({ t: Telemetry.metrics(p.resources, data.ctx), points: p.points, shard: this.shards[i]! });
    }
    if (parts.length === 0) {
      releaseDurable(data);
      return;
    }
    // Each part carries the batch's durable references; every extra part holds its own.
    retainForParts(data, parts.length);
    if (parts.length === 1) return this.offer(parts[0]!.shard, parts[0]!.t);
    const results = await Promise.allSettled(parts.map((p) => this.offer(p.shard, p.t)));
    let rejected = 0;
    const failedParts: Telemetry[] = [];
    let firstError: unknown;
    for (let i = 0; i < results.length; i++) {
      const r = results[i]!;
      if (r.status === 'rejected') {
        failedParts.push(parts[i]!.t);
        rejected += parts[i]!.points;
        firstError ??= r.reason;
      } else if (r.value) {
        rejected += r.value.rejected;
      }
    }
    if (failedParts.length === parts.length) {
      // Refused as a whole: the caller keeps one reference, the extra ones are returned.
      for (let i = 1; i < failedParts.length; i++) releaseDurable(failedParts[i]!);
      throw asConsumerError(firstError);
    }
    // Accepted in part: what could not be queued is dropped here.
    for (const t of failedParts) releaseDurable(t);
    if (rejected > 0) return { rejected, errorMessage: firstError ? asConsumerError(firstError).message : 'some data points were rejected' };
  }

  /**
   * Routes every metric to its shard, reusing the batch's objects; adds a
   * target_info point per resource to the resource's home shard.
   */
  private split(data: Telemetry<'metrics'>): ({ resources: ResourceMetrics[]; points: number } | undefined)[] {
    const n = this.shards.length;
    const parts: ({ resources: ResourceMetrics[]; points: number } | undefined)[] = new Array(n);
    const conversion = this.cfg.resource_to_telemetry_conversion.enabled;
    for (const rm of data.read()) {
      const rl = this.resourceLabels(rm.resource);
      let identity = `${rl.job}\xff${rl.instance}`;
      if (conversion) identity += '\xff' + rl.fallback.join('\xff');
      const resHash = hashString(identity);
      const shells: (ResourceMetrics | undefined)[] = new Array(n);
      let maxTime = 0n;
      for (const sm of rm.scopeMetrics) {
        const scopeShells: (ScopeMetrics | undefined)[] = new Array(n);
        for (const m of sm.metrics) {
          const i = n === 1 ? 0 : hashString(this.namer.name(m), resHash) % n;
          let ss = scopeShells[i];
          if (ss === undefined) {
            ss = scopeShells[i] = { scope: sm.scope, metrics: [], schemaUrl: sm.schemaUrl };
            let rs = shells[i];
            if (rs === undefined) rs = shells[i] = { resource: rm.resource, scopeMetrics: [], schemaUrl: rm.schemaUrl };
            rs.scopeMetrics.push(ss);
          }
          ss.metrics.push(m);
          const pts = pointsOf(m);
          const part = (parts[i] ??= { resources: [], points: 0 });
          part.points += pts.length;
          for (let k = 0; k < pts.length; k++) {
            const t = pts[k]!.timeUnixNano;
            if (t > maxTime) maxTime = t;
          }
        }
      }
      if (this.cfg.target_info.enabled && rl.targetInfo !== undefined && maxTime > 0n) {
        const home = resHash % n;
        let rs = shells[home];
        if (rs === undefined) rs = shells[home] = { resource: rm.resource, scopeMetrics: [], schemaUrl: rm.schemaUrl };
        rs.scopeMetrics.push({ scope: TARGET_SCOPE, metrics: [targetInfoMetric(rm.resource.attributes, maxTime)], schemaUrl: '' });
        parts[home] ??= { resources: [], points: 0 };
      }
      for (let i = 0; i < n; i++) {
        const rs = shells[i];
        if (rs !== undefined) parts[i]!.resources.push(rs);
      }
    }
    return parts;
  }

  shutdown(): Promise<void> {
    this.shutdownP ??= (async () => {
      if (this.sweepTimer) clearInterval(this.sweepTimer);
      this.stopRefresh();
      await Promise.all(this.shards.map((s) => s.exporter.shutdown()));
      this.client.close();
    })();
    return this.shutdownP;
  }

  health(): HealthReport {
    for (const s of this.shards) {
      const h = s.exporter.health();
      if (h.status !== 'ok') return h;
    }
    return { status: 'ok' };
  }
}

function pointsOf(m: Metric): readonly { timeUnixNano: bigint }[] {
  const d = m.data;
  return d.type === 'empty' ? [] : d.dataPoints;
}

function isIdentifying(key: string): boolean {
  return key === SERVICE_NAME || key === SERVICE_NAMESPACE || key === SERVICE_INSTANCE_ID;
}

/** The resource's target_info as an OTLP gauge point: value 1, its non-identifying attributes. */
function targetInfoMetric(attrs: readonly KeyValue[], time: bigint): Metric {
  return {
    name: 'target_info',
    description: 'Target metadata',
    unit: '',
    metadata: [],
    data: {
      type: 'gauge',
      dataPoints: [{ attributes: attrs.filter((a) => !isIdentifying(a.key)), startTimeUnixNano: 0n, timeUnixNano: time, value: 1, exemplars: [], flags: 0 }],
    },
  };
}
