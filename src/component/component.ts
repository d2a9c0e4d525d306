// The component model: factories with a config schema, one lifecycle
// (start/shutdown) and one consumer contract for every component.
import type { Schema, Issues } from '../config/schema.js';
import type { Signal, PartialSuccess } from '../pdata/model.js';
import type { Telemetry } from '../pdata/telemetry.js';
import type { Logger } from '../service/logger.js';
import type { SelfTelemetry } from '../service/telemetry.js';

export type Kind = 'receiver' | 'processor' | 'exporter' | 'connector' | 'extension';
export type Stability = 'development' | 'alpha' | 'beta' | 'stable';

/**
 * Every component has this lifecycle. `start` is called once, downstream first.
 * `shutdown` drains what the component holds, may be called without `start`,
 * and is idempotent.
 */
export interface Component {
  start(host: Host): Promise<void>;
  shutdown(): Promise<void>;
}

/** What a consumer's promise resolves to: nothing (all accepted) or a partial success. */
export type ConsumeResult = void | PartialSuccess;

/**
 * Accepts one batch. Resolving means the data is accepted: the caller no longer
 * touches it. Rejecting with a ConsumerError (src/component/errors.ts) carries a
 * permanent or retryable failure back towards the client.
 */
export interface Consumer {
  consume(data: Telemetry): Promise<ConsumeResult>;
  /** True when the consumer changes the data it is given; fan-out then hands it its own copy. */
  readonly mutatesData: boolean;
}

export interface ProcessorComponent extends Component, Consumer {}
export interface ExporterComponent extends Component, Consumer {}
export interface ConnectorComponent extends Component, Consumer {}

/** Health reported by a component to the health_check extension. */
export type HealthStatus = 'ok' | 'degraded' | 'error';
export interface HealthReport {
  status: HealthStatus;
  detail?: string;
}
/** Components that can tell their health implement this. */
export interface HealthReporter {
  health(): HealthReport;
}

/**
 * Extensions that follow the pipelines' state implement this (health_check),
 * like the Collector's PipelineWatcher: the service calls `ready()` once every
 * pipeline has started and `notReady()` when shutdown begins, before the
 * receivers stop.
 */
export interface PipelineWatcher {
  ready(): void;
  notReady(): void;
}
export function isPipelineWatcher(c: unknown): c is PipelineWatcher {
  return !!c && typeof (c as Partial<PipelineWatcher>).ready === 'function' && typeof (c as Partial<PipelineWatcher>).notReady === 'function';
}

/** A pipeline as configured (debug endpoints). */
export interface PipelineInfo {
  id: string;
  signal: Signal;
  receivers: readonly string[];
  processors: readonly string[];
  exporters: readonly string[];
}

/** What a running component can reach of the daemon. */
export interface Host {
  /** A configured extension by id (e.g. "file_storage/queue"), if present in service.extensions. */
  getExtension(id: string): Component | undefined;
  /** All running components by id, with their kind (health, debug endpoints). */
  components(): ReadonlyMap<string, { kind: Kind; component: Component }>;
  /**
   * Registers a route on the daemon's admin endpoint (`service.admin`, off by
   * default, bearer token required). Used by e.g. incident mode.
   */
  registerAdminRoute(method: string, path: string, handler: AdminHandler): void;
  readonly logger: Logger;
  readonly telemetry: SelfTelemetry;
  /** The configured pipelines (debug endpoints); optional for hosts in tests. */
  pipelines?(): readonly PipelineInfo[];
}

/** An admin route: gets the parsed URL and the request body, returns a JSON-able answer. */
export type AdminHandler = (req: { url: URL; body: Buffer; headers: Record<string, string | string[] | undefined> }) => Promise<{ status: number; body: unknown }>;

/** Handed to a factory's create function. */
export interface CreateSettings {
  /** Component id, `type[/name]`. */
  id: string;
  kind: Kind;
  logger: Logger;
  telemetry: SelfTelemetry;
  /** Unique id of this daemon instance (stable across restarts when a data dir is configured). */
  instanceId: string;
  /** Pipeline id (e.g. "traces/default") for processors; undefined for shared components. */
  pipelineId?: string;
  /** service.data_dir: where components keep state across restarts (e.g. signing chain state); undefined when not configured. */
  dataDir?: string;
  /** Injected clock in ms (tests); Date.now by default. */
  now: () => number;
  /** Set when the daemon runs several worker processes (service::workers, docs/workers.md). */
  worker?: { index: number; count: number };
}

interface FactoryBase<C> {
  readonly type: string;
  /** Config schema: defaults, types, unknown-key rejection. */
  readonly schema: Schema<C>;
  /** Cross-field checks after the schema has parsed the config. */
  validate?(cfg: C, path: string[], issues: Issues): void;
  /** Signals this component supports, with their stability. */
  readonly signals: Partial<Record<Signal, Stability>>;
}

export interface ReceiverFactory<C = any> extends FactoryBase<C> {
  readonly kind: 'receiver';
  /**
   * One receiver instance per id, shared by every pipeline that names it.
   * `next` holds one consumer per signal that the pipelines route from it.
   */
  create(settings: CreateSettings, cfg: C, next: Partial<Record<Signal, Consumer>>): Component;
}

export interface ProcessorFactory<C = any> extends FactoryBase<C> {
  readonly kind: 'processor';
  /** True when the processor changes data it consumes (fan-out clones for it). */
  readonly mutatesData: boolean;
  /** One instance per pipeline. */
  create(settings: CreateSettings, cfg: C, signal: Signal, next: Consumer): ProcessorComponent;
}

export interface ExporterFactory<C = any> extends FactoryBase<C> {
  readonly kind: 'exporter';
  /** One instance per id and signal, shared by the pipelines of that signal. */
  create(settings: CreateSettings, cfg: C, signal: Signal): ExporterComponent;
}

export interface ConnectorFactory<C = any> extends FactoryBase<C> {
  readonly kind: 'connector';
  /** Signal pairs [from, to] this connector supports. */
  readonly routes: ReadonlyArray<readonly [Signal, Signal]>;
  /** One instance per id and (from, to) pair; `next` is the fan-out into the pipelines that list it as receiver. */
  create(settings: CreateSettings, cfg: C, from: Signal, to: Signal, next: Consumer): ConnectorComponent;
}

export interface ExtensionFactory<C = any> extends FactoryBase<C> {
  readonly kind: 'extension';
  create(settings: CreateSettings, cfg: C): Component;
}

export type Factory = ReceiverFactory | ProcessorFactory | ExporterFactory | ConnectorFactory | ExtensionFactory;

/** Splits `type[/name]`. */
export function parseId(id: string): { type: string; name: string | undefined } | undefined {
  const m = /^([a-z][a-z0-9_]*)(?:\/(.+))?$/.exec(id);
  if (!m) return undefined;
  return { type: m[1]!, name: m[2] };
}

/** A consumer that does nothing (end of a pipeline in tests). */
export const nopConsumer: Consumer = { consume: async () => undefined, mutatesData: false };
