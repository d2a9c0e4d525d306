// The prometheus receiver: discovers targets (static_configs, file_sd_configs),
// relabels them, and runs one scrape loop per target. Loops are spread over
// the interval by a hash of the target (no thundering herd at the top of the
// interval); each scrape is parsed, converted and pushed as one metrics batch.
import type { Component, Consumer, CreateSettings, Host } from '../../component/component.js';
import { Telemetry } from '../../pdata/telemetry.js';
import type { ResourceMetrics } from '../../pdata/model.js';
import { hashString } from '../../prom/hash.js';
import { acceptHeader, resolveJobs, type Job, type PrometheusReceiverConfig } from './config.js';
import { LimitError, TargetConverter } from './convert.js';
import { ScrapeClient, ScrapeError, type FailureReason } from './http.js';
import { ParseError, isOpenMetrics, parseExposition } from './parser.js';
import { compileRule, type CompiledRule } from './relabel.js';
import { buildTarget, expandFiles, readFileSd, type Target, type TargetGroup } from './targets.js';

const TRANSPORT = 'http';

interface Counters {
  accepted(n: number): void;
  refused(n: number): void;
  failure(job: string, reason: FailureReason): void;
}

/** The first delay of a loop: its offset in the interval, from the target's hash. */
export function scrapeOffset(key: string, intervalMs: number, nowMs: number): number {
  const offset = hashString(key) % intervalMs;
  return (offset - (nowMs % intervalMs) + intervalMs) % intervalMs;
}

class ScrapeLoop {
  readonly conv: TargetConverter;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private abort: AbortController | undefined;
  private stopped = false;
  private lastReason: string | undefined = 'none';
  scrapes = 0;
  lastUp = -1;

  constructor(readonly target: Target, private job: Job, private rx: PrometheusReceiver, private client: ScrapeClient, metricRules: readonly CompiledRule[], startTimeMetric: RegExp | undefined, extra: boolean) {
    const sc = job.cfg;
    this.conv = new TargetConverter({
      job: target.job,
      instance: target.instance,
      targetLabels: target.labels,
      scheme: target.url.protocol.replace(':', ''),
      honorLabels: sc.honor_labels,
      honorTimestamps: sc.honor_timestamps,
      metricRules,
      sampleLimit: job.sampleLimit,
      labelLimit: job.labelLimit,
      labelNameLengthLimit: sc.label_name_length_limit,
      labelValueLengthLimit: sc.label_value_length_limit,
      externalLabels: job.externalLabels,
      startTimeMetric,
      extraMetrics: extra ? { timeoutSeconds: job.timeoutMs / 1000 } : undefined,
      shareAttributes: () => rx.downstreamReadOnly(),
    });
  }

  start(): void {
    const now = this.rx.now();
    this.schedule(scrapeOffset(this.target.key, this.job.intervalMs, now));
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.run().finally(() => {
        this.running = undefined;
        const now = this.rx.now();
        // Next slot on this target's grid, at least a few ms away.
        let d = scrapeOffset(this.target.key, this.job.intervalMs, now);
        if (d < 5) d += this.job.intervalMs;
        this.schedule(d);
      });
    }, delay);
    this.timer.unref?.();
  }

  async run(): Promise<void> {
    const t0 = this.rx.now();
    const h0 = performance.now();
    const ac = new AbortController();
    this.abort = ac;
    let out: { resources: ResourceMetrics[] };
    let reason: FailureReason | undefined;
    let message = '';
    try {
      const res = await this.client.scrape(this.target.url, this.job.timeoutMs, this.job.bodyLimit, ac.signal);
      if (this.stopped) return;
      const text = res.body.toString('utf8');
      this.conv.begin(t0);
      parseExposition(text, isOpenMetrics(res.contentType), this.conv);
      out = this.conv.finish((performance.now() - h0) / 1000, { bodyBytes: res.body.length });
    } catch (e) {
      if (this.stopped) return;
      if (e instanceof ScrapeError) reason = e.reason;
      else if (e instanceof LimitError) reason = e.reason;
      else if (e instanceof ParseError) reason = 'parse';
      else reason = 'parse';
      message = (e as Error).message;
      out = this.conv.fail(t0, (performance.now() - h0) / 1000);
    } finally {
      this.abort = undefined;
    }
    this.scrapes++;
    this.lastUp = reason === undefined ? 1 : 0;
    this.noteResult(reason, message);
    await this.rx.push(out.resources, this.target);
  }

  /** Logs once per change of state, counts every failure. */
  private noteResult(reason: FailureReason | undefined, message: string): void {
    const log = this.rx.logger;
    if (reason !== undefined) this.rx.counters.failure(this.job.name, reason);
    const key = reason ?? 'ok';
    if (key === this.lastReason) return;
    const first = this.lastReason === 'none';
    this.lastReason = key;
    if (reason !== undefined) log.warn('Scrape failed; the target is reported down (up=0) until it recovers', { job: this.job.name, target: this.target.url.href, reason, error: message });
    else if (!first) log.info('Scrape succeeded again', { job: this.job.name, target: this.target.url.href });
  }

  /** Stops the loop; with `end`, the target's series get stale markers. */
  async stop(end: boolean): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.abort?.abort();
    await this.running?.catch(() => undefined);
    if (end && this.scrapes > 0) await this.rx.push(this.conv.end(this.rx.now()), this.target);
  }
}

class JobRunner {
  private readonly client: ScrapeClient;
  private readonly targetRules: CompiledRule[];
  private readonly metricRules: CompiledRule[];
  readonly loops = new Map<string, ScrapeLoop>();
  private fileGroups = new Map<string, TargetGroup[]>();
  private fileErrors = new Map<string, string>();
  private timers: NodeJS.Timeout[] = [];
  private sync: Promise<void> = Promise.resolve();

  constructor(readonly job: Job, private rx: PrometheusReceiver) {
    this.client = new ScrapeClient(job.cfg, acceptHeader(job.protocols));
    this.targetRules = job.cfg.relabel_configs.map(compileRule);
    this.metricRules = job.cfg.metric_relabel_configs.map(compileRule);
  }

  async start(): Promise<void> {
    const sds = this.job.cfg.file_sd_configs;
    for (const sd of sds) await this.refreshFiles(sd.files);
    await this.update();
    for (const sd of sds) {
      const t = setInterval(() => {
        this.sync = this.sync.then(async () => {
          await this.refreshFiles(sd.files);
          await this.update();
        });
      }, Math.max(sd.refresh_interval, 100));
      t.unref?.();
      this.timers.push(t);
    }
  }

  private async refreshFiles(patterns: string[]): Promise<void> {
    for (const pattern of patterns) {
      const paths = await expandFiles(pattern);
      const seen = new Set(paths);
      for (const k of [...this.fileGroups.keys()]) if (k.startsWith('\0' + pattern + '\0') && !seen.has(k.split('\0')[2]!)) this.fileGroups.delete(k);
      for (const p of paths) {
        const key = '\0' + pattern + '\0' + p;
        try {
          this.fileGroups.set(key, await readFileSd(p));
          if (this.fileErrors.delete(p)) this.rx.logger.info('file_sd file readable again', { job: this.job.name, file: p });
        } catch (e) {
          const msg = (e as Error).message;
          // A bad file keeps its last good targets.
          if (this.fileErrors.get(p) !== msg) this.rx.logger.warn('Cannot read file_sd file; keeping its previous targets', { job: this.job.name, file: p, error: msg });
          this.fileErrors.set(p, msg);
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') this.fileGroups.delete(key);
        }
      }
    }
  }

  private desired(): Map<string, Target> {
    const groups: TargetGroup[] = this.job.cfg.static_configs.map((g, i) => ({ targets: g.targets, labels: g.labels, source: `static:${i}` }));
    for (const g of this.fileGroups.values()) groups.push(...g);
    const out = new Map<string, Target>();
    for (const g of groups) {
      for (const addr of g.targets) {
        const t = buildTarget(this.job, this.targetRules, addr, g.labels);
        if (t && !out.has(t.key)) out.set(t.key, t);
      }
    }
    return out;
  }

  async update(): Promise<void> {
    if (this.rx.stopping) return;
    const want = this.desired();
    const gone: ScrapeLoop[] = [];
    for (const [k, loop] of this.loops) {
      if (!want.has(k)) {
        this.loops.delete(k);
        gone.push(loop);
      }
    }
    for (const [k, t] of want) {
      if (this.loops.has(k)) continue;
      const loop = new ScrapeLoop(t, this.job, this.rx, this.client, this.metricRules, this.rx.startTimeMetric, this.rx.extraMetrics);
      this.loops.set(k, loop);
      loop.start();
    }
    if (gone.length > 0) this.rx.logger.info('Targets removed; their series end', { job: this.job.name, targets: gone.length });
    await Promise.all(gone.map((l) => l.stop(true)));
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await this.sync.catch(() => undefined);
    await Promise.all([...this.loops.values()].map((l) => l.stop(false)));
    this.loops.clear();
    this.client.close();
  }
}

export class PrometheusReceiver implements Component {
  private jobs: JobRunner[] = [];
  stopping = false;
  private started = false;
  private shutdownP: Promise<void> | undefined;
  private inflight = new Set<Promise<unknown>>();
  readonly counters: Counters;
  readonly logger;
  readonly startTimeMetric: RegExp | undefined;
  readonly extraMetrics: boolean;

  constructor(private settings: CreateSettings, private cfg: PrometheusReceiverConfig, private next: Consumer | undefined) {
    const t = settings.telemetry;
    this.logger = settings.logger;
    const acc = t.counter('otelcol_receiver_accepted_metric_points', 'Number of metric points successfully pushed into the pipeline.', ['receiver', 'transport']);
    const ref = t.counter('otelcol_receiver_refused_metric_points', 'Number of metric points that could not be pushed into the pipeline.', ['receiver', 'transport']);
    const fail = t.counter('sieve_receiver_prometheus_scrape_failures', 'Scrapes that failed, by job and reason (the target is reported with up=0).', ['receiver', 'job', 'reason']);
    const labels = { receiver: settings.id, transport: TRANSPORT };
    this.counters = {
      accepted: (n) => acc.inc(labels, n),
      refused: (n) => ref.inc(labels, n),
      failure: (job, reason) => fail.inc({ receiver: settings.id, job, reason }),
    };
    this.startTimeMetric = cfg.use_start_time_metric ? new RegExp(cfg.start_time_metric_regex) : undefined;
    this.extraMetrics = cfg.report_extra_scrape_metrics;
  }

  now(): number {
    return this.settings.now();
  }

  /** True when nothing downstream changes data: series attributes are then shared across scrapes. */
  downstreamReadOnly(): boolean {
    return this.next !== undefined && !this.next.mutatesData;
  }

  /** Active targets per job (tests and health). */
  targets(): Record<string, Target[]> {
    const out: Record<string, Target[]> = {};
    for (const j of this.jobs) out[j.job.name] = [...j.loops.values()].map((l) => l.target);
    return out;
  }

  /** Last scrape result per target URL: 1 up, 0 down, -1 not scraped yet. */
  upByTarget(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const j of this.jobs) for (const l of j.loops.values()) out[l.target.url.href] = l.lastUp;
    return out;
  }

  async start(_host: Host): Promise<void> {
    if (this.started || this.stopping) return;
    this.started = true;
    const gauge = this.settings.telemetry.gauge('sieve_receiver_prometheus_targets', 'Active scrape targets, by job.', ['receiver', 'job']);
    for (const job of resolveJobs(this.cfg)) {
      const r = new JobRunner(job, this);
      this.jobs.push(r);
      await r.start();
      gauge.set({ receiver: this.settings.id, job: job.name }, r.loops.size);
    }
    this.logger.info('Prometheus receiver started', { jobs: this.jobs.length, targets: this.jobs.reduce((n, j) => n + j.loops.size, 0) });
  }

  /** Hands one scrape's resources to the pipeline, counting points. */
  async push(resources: ResourceMetrics[], target: Target): Promise<void> {
    if (resources.length === 0 || !this.next) return;
    const data = Telemetry.metrics(resources, { receiver: this.settings.id });
    const n = data.itemCount();
    const p = this.next.consume(data);
    this.inflight.add(p);
    try {
      const r = await p;
      const rejected = r ? r.rejected : 0;
      this.counters.accepted(n - rejected);
      if (rejected) this.counters.refused(rejected);
    } catch (e) {
      this.counters.refused(n);
      this.logger.debug('Pipeline refused a scrape', { target: target.url.href, error: (e as Error).message });
    } finally {
      this.inflight.delete(p);
    }
  }

  shutdown(): Promise<void> {
    this.shutdownP ??= (async () => {
      this.stopping = true;
      await Promise.all(this.jobs.map((j) => j.stop()));
      await Promise.allSettled([...this.inflight]);
    })();
    return this.shutdownP;
  }
}
