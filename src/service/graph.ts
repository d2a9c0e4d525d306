// Builds the component graph from a validated config with the Collector's
// semantics: a receiver is one instance shared by every pipeline that names it,
// processors are per pipeline, exporters are shared per signal and fanned out to,
// connectors are an exporter in one pipeline and a receiver in another.
// Start order is downstream first; shutdown is upstream first.
import type { Component, Consumer, CreateSettings, Kind, ProcessorComponent } from '../component/component.js';
import type { ServiceConfig } from '../config/config.js';
import type { Signal } from '../pdata/model.js';
import type { Telemetry } from '../pdata/telemetry.js';
import { fingerprint } from '../config/effective.js';
import { fanOut } from './fanout.js';
import { SwitchConsumer } from './switch.js';
import type { Logger } from './logger.js';
import type { SelfTelemetry } from './telemetry.js';
import type { WorkerLink } from './workers/link.js';
import type { DurableConfig } from '../durable/config.js';

export interface GraphNode {
  /** Unique key: kind + id (+ signal / pipeline). */
  key: string;
  id: string;
  kind: Kind;
  component: Component;
  /** Keys of nodes this node sends data to. */
  downstream: Set<string>;
  /** Fingerprint of the component's config (and the files it names), for reload. */
  fingerprint: string;
  /** Builds a fresh instance with the same config (receivers: reload retries a bind with it). */
  recreate?: () => Component;
}

export interface Graph {
  nodes: Map<string, GraphNode>;
  /** Upstream first: the shutdown order. Start uses the reverse. */
  order: GraphNode[];
  /** Receivers by id. */
  receivers: Map<string, Component>;
  extensions: Map<string, Component>;
  /** Per receiver and signal, the switch the receiver consumes through. */
  switches: Map<string, Partial<Record<Signal, SwitchConsumer>>>;
  /** Keys of nodes taken over, still running, from the previous graph (reload). */
  reused: Set<string>;
  /** Switches of reused receivers and the pipelines they are to feed once the new nodes run. */
  pendingSwaps: { sw: SwitchConsumer; target: Consumer }[];
  /** With workers: keys of the processors upstream of a router (drained before the workers stop taking hand-offs). */
  beforeRouters: Set<string>;
}

export interface GraphSettings {
  logger: Logger;
  telemetry: SelfTelemetry;
  instanceId: string;
  /** service.data_dir */
  dataDir?: string;
  now: () => number;
  /**
   * The running graph on reload: a node whose config (fingerprint) and
   * downstream are unchanged, and whose downstream nodes are all reused, is
   * taken over running instead of being created again.
   */
  previous?: Graph;
  /** Sees what each receiver and processor emits (`sieve tap`). */
  tap?: (component: string, pipeline: string | undefined, signal: Signal, data: Telemetry) => void;
  /** With several worker processes: routes trace- and state-aware stages to their owning worker. */
  link?: WorkerLink;
}

/**
 * Where a pipeline's input must be routed between workers (docs/workers.md):
 * traces at the first tail_sampling processor, by trace id; metrics at the
 * first cardinality_limit processor, or else at the exporters when one of them
 * is the prometheus exporter, all to worker 0. Returns the processor index (or
 * the processor count for the exporters), or -1 when the pipeline runs whole in
 * every worker.
 */
export function routedStage(cfg: ServiceConfig, pid: string): { at: number; mode: 'traceID' | 'owner' } | undefined {
  const p = cfg.pipelines.find((x) => x.id === pid)!;
  const types = p.processors.map((id) => cfg.processors.get(id)?.factory.type);
  if (p.signal === 'traces') {
    const at = types.indexOf('tail_sampling');
    return at >= 0 ? { at, mode: 'traceID' } : undefined;
  }
  if (p.signal === 'metrics') {
    const at = types.indexOf('cardinality_limit');
    if (at >= 0) return { at, mode: 'owner' };
    if (p.exporters.some((e) => cfg.exporters.get(e)?.factory.type === 'prometheus')) return { at: p.processors.length, mode: 'owner' };
  }
  return undefined;
}

/** The durable config of the first receiver of a pipeline that acknowledges durably. */
function pipelineDurable(cfg: ServiceConfig, pid: string): DurableConfig | undefined {
  const p = cfg.pipelines.find((x) => x.id === pid)!;
  for (const r of p.receivers) {
    const d = (cfg.receivers.get(r)?.config as { durable?: DurableConfig } | undefined)?.durable;
    if (d?.enabled) return d;
  }
  return undefined;
}

export function buildGraph(cfg: ServiceConfig, gs: GraphSettings): Graph {
  const nodes = new Map<string, GraphNode>();
  const prev = gs.previous;
  const reused = new Set<string>();
  const pendingSwaps: Graph['pendingSwaps'] = [];
  const beforeRouters = new Set<string>();
  /** The previous instance of a node when it can be kept, else a new one. */
  const make = (key: string, fp: string, downstream: readonly string[], create: () => Component): Component => {
    const old = prev?.nodes.get(key);
    if (
      old &&
      old.fingerprint === fp &&
      old.downstream.size === new Set(downstream).size &&
      downstream.every((k) => old.downstream.has(k) && reused.has(k))
    ) {
      reused.add(key);
      return old.component;
    }
    return create();
  };
  const fps = new Map<string, string>();
  const fpOf = (c: { id: string; kind: Kind }): string => {
    const k = `${c.kind}:${c.id}`;
    let v = fps.get(k);
    if (v === undefined) fps.set(k, (v = fingerprint(c as Parameters<typeof fingerprint>[0])));
    return v;
  };
  const settings = (id: string, kind: Kind, pipelineId?: string): CreateSettings => ({
    id,
    kind,
    logger: gs.logger.child({ 'otelcol.component.id': id, 'otelcol.component.kind': kind, ...(pipelineId ? { 'otelcol.pipeline.id': pipelineId } : {}) }),
    telemetry: gs.telemetry,
    instanceId: gs.instanceId,
    dataDir: gs.dataDir,
    pipelineId,
    now: gs.now,
    ...(gs.link ? { worker: gs.link.worker } : {}),
  });
  const addNode = (key: string, id: string, kind: Kind, component: Component, fp = ''): GraphNode => {
    const n: GraphNode = { key, id, kind, component, downstream: new Set(), fingerprint: fp };
    nodes.set(key, n);
    return n;
  };

  // Extensions.
  const extensions = new Map<string, Component>();
  for (const id of cfg.service.extensions) {
    const ec = cfg.extensions.get(id)!;
    if (ec.factory.kind !== 'extension') continue;
    const fp = fpOf(ec);
    const comp = make(`extension:${id}`, fp, [], () => (ec.factory.kind === 'extension' ? ec.factory.create(settings(id, 'extension'), ec.config) : (undefined as never)));
    extensions.set(id, comp);
    addNode(`extension:${id}`, id, 'extension', comp, fp);
  }

  // Exporters: one instance per id and signal.
  const exporterNode = (id: string, signal: Signal): GraphNode => {
    const key = `exporter:${id}:${signal}`;
    const existing = nodes.get(key);
    if (existing) return existing;
    const ec = cfg.exporters.get(id)!;
    if (ec.factory.kind !== 'exporter') throw new Error(`${id} is not an exporter`);
    const f = ec.factory;
    const fp = fpOf(ec);
    return addNode(key, id, 'exporter', make(key, fp, [], () => f.create(settings(id, 'exporter'), ec.config, signal)), fp);
  };

  // Pipeline entries (first processor, or the exporter fan-out), built lazily so connectors can reference them.
  const entries = new Map<string, { consumer: Consumer; firstKey: string[] }>();
  const connectorNodes = new Map<string, GraphNode>();

  const buildPipeline = (pid: string): { consumer: Consumer; firstKey: string[] } => {
    const done = entries.get(pid);
    if (done) return done;
    const p = cfg.pipelines.find((x) => x.id === pid)!;
    // Guard against connector cycles while building.
    entries.set(pid, { consumer: { mutatesData: false, consume: async () => { throw new Error(`pipeline cycle through ${pid}`); } }, firstKey: [] });
    const exporterKeys: string[] = [];
    const exporterConsumers: Consumer[] = [];
    for (const eid of p.exporters) {
      if (cfg.connectors.has(eid)) {
        const node = connectorNode(eid, p.signal);
        for (const n of node) {
          exporterKeys.push(n.key);
          exporterConsumers.push(n.component as unknown as Consumer);
        }
      } else {
        const n = exporterNode(eid, p.signal);
        exporterKeys.push(n.key);
        exporterConsumers.push(n.component as unknown as Consumer);
      }
    }
    let next: Consumer = fanOut(exporterConsumers);
    let nextKeys = exporterKeys;
    const route = gs.link && gs.link.worker.count > 1 ? routedStage(cfg, pid) : undefined;
    const routeAt = (i: number) => {
      if (!route || route.at !== i) return;
      const key = `${pid}#${i}`;
      const d = pipelineDurable(cfg, pid);
      gs.link!.register(key, p.signal, next, d ? { settings: settings('worker_route', 'receiver', pid), cfg: d } : undefined);
      next = gs.link!.router(key, pid, p.signal, route.mode, next);
    };
    routeAt(p.processors.length);
    for (let i = p.processors.length - 1; i >= 0; i--) {
      const prid = p.processors[i]!;
      const pc = cfg.processors.get(prid)!;
      if (pc.factory.kind !== 'processor') continue;
      const f = pc.factory;
      const key = `processor:${prid}:${pid}`;
      const fp = fpOf(pc);
      const after = next;
      const proc = make(key, fp, nextKeys, () => f.create(settings(prid, 'processor', pid), pc.config, p.signal, countOutgoing(tapped(after, gs.tap, prid, pid, p.signal), prid, pid, p.signal, gs.telemetry))) as ProcessorComponent;
      const counted = countProcessor(proc, next, prid, pid, p.signal, gs.telemetry);
      const node = addNode(key, prid, 'processor', proc, fp);
      for (const k of nextKeys) node.downstream.add(k);
      next = counted;
      nextKeys = [key];
      if (route && i < route.at) beforeRouters.add(key);
      routeAt(i);
    }
    const entry = { consumer: next, firstKey: nextKeys };
    entries.set(pid, entry);
    return entry;
  };

  /** Connector instances for one `from` signal: one per `to` signal among the pipelines that receive from it. */
  const connectorNode = (cid: string, from: Signal): GraphNode[] => {
    const cc = cfg.connectors.get(cid)!;
    const out: GraphNode[] = [];
    const targets = cfg.pipelines.filter((x) => x.receivers.includes(cid));
    const bySignal = new Map<Signal, string[]>();
    for (const t of targets) bySignal.set(t.signal, [...(bySignal.get(t.signal) ?? []), t.id]);
    for (const [to, pids] of bySignal) {
      const key = `connector:${cid}:${from}:${to}`;
      let node = connectorNodes.get(key);
      if (!node) {
        const built = pids.map((pid) => buildPipeline(pid));
        const next = fanOut(built.map((b) => b.consumer));
        const f = cc.factory;
        if (f.kind !== 'connector') continue;
        const fp = fpOf(cc);
        const comp = make(key, fp, built.flatMap((b) => b.firstKey), () => f.create(settings(cid, 'connector'), cc.config, from, to, next));
        node = addNode(key, cid, 'connector', comp, fp);
        for (const b of built) for (const k of b.firstKey) node.downstream.add(k);
        connectorNodes.set(key, node);
      }
      out.push(node);
    }
    return out;
  };

  for (const p of cfg.pipelines) buildPipeline(p.id);

  // Receivers: one instance per id, with one consumer per signal.
  const receivers = new Map<string, Component>();
  const switches = new Map<string, Partial<Record<Signal, SwitchConsumer>>>();
  for (const [rid, rc] of cfg.receivers) {
    const bySignal: Partial<Record<Signal, Consumer>> = {};
    const downstream: string[] = [];
    for (const signal of ['traces', 'metrics', 'logs'] as Signal[]) {
      const pids = cfg.pipelines.filter((p) => p.signal === signal && p.receivers.includes(rid)).map((p) => p.id);
      if (pids.length === 0) continue;
      const built = pids.map((pid) => entries.get(pid)!);
      bySignal[signal] = tapped(fanOut(built.map((b) => b.consumer)), gs.tap, rid, undefined, signal);
      for (const b of built) downstream.push(...b.firstKey);
    }
    if (Object.keys(bySignal).length === 0) continue; // configured but unused: not started
    const f = rc.factory;
    if (f.kind !== 'receiver') continue;
    const key = `receiver:${rid}`;
    // The signals served are part of what the running receiver was built with.
    const fp = `${fpOf(rc)}:${Object.keys(bySignal).sort().join(',')}`;
    const old = prev?.nodes.get(key);
    let comp: Component;
    let sw: Partial<Record<Signal, SwitchConsumer>>;
    if (old && old.fingerprint === fp && prev!.switches.has(rid)) {
      // Kept running with its listeners bound; pointed at the new pipelines once they run.
      reused.add(key);
      comp = old.component;
      sw = prev!.switches.get(rid)!;
      for (const [sig, c] of Object.entries(bySignal) as [Signal, Consumer][]) pendingSwaps.push({ sw: sw[sig]!, target: c });
    } else {
      sw = {};
      for (const [sig, c] of Object.entries(bySignal) as [Signal, Consumer][]) sw[sig] = new SwitchConsumer(c);
      comp = f.create(settings(rid, 'receiver'), rc.config, sw);
    }
    switches.set(rid, sw);
    receivers.set(rid, comp);
    const node = addNode(key, rid, 'receiver', comp, fp);
    node.recreate = () => f.create(settings(rid, 'receiver'), rc.config, sw);
    for (const k of downstream) node.downstream.add(k);
  }

  return { nodes, order: topoOrder(nodes), receivers, extensions, switches, reused, pendingSwaps, beforeRouters };
}

/** Hands what passes to the tap hook (which decides cheaply whether anyone listens). */
function tapped(next: Consumer, tap: GraphSettings['tap'], id: string, pipeline: string | undefined, signal: Signal): Consumer {
  if (!tap) return next;
  return {
    get mutatesData() {
      return next.mutatesData;
    },
    consume(data: Telemetry) {
      tap(id, pipeline, signal, data);
      return next.consume(data);
    },
  };
}

/** Counts items in and out of a processor under the Collector's names. */
function countProcessor(proc: ProcessorComponent, next: Consumer, id: string, pipeline: string, signal: Signal, t: SelfTelemetry): Consumer {
  const incoming = t.counter('otelcol_processor_incoming_items', 'Number of items passed to the processor.', ['processor', 'otel_signal', 'pipeline']);
  const labels = { processor: id, otel_signal: signal, pipeline };
  return {
    // A processor that passes its input on unchanged still hands it to processors that may change it.
    mutatesData: proc.mutatesData || next.mutatesData,
    consume(data: Telemetry) {
      incoming.inc(labels, data.itemCount());
      return proc.consume(data);
    },
  };
}

/** Wraps a consumer so items leaving a processor are counted. */
export function countOutgoing(next: Consumer, id: string, pipeline: string | undefined, signal: Signal, t: SelfTelemetry): Consumer {
  const outgoing = t.counter('otelcol_processor_outgoing_items', 'Number of items emitted from the processor.', ['processor', 'otel_signal', 'pipeline']);
  const labels = { processor: id, otel_signal: signal, pipeline: pipeline ?? '' };
  return {
    mutatesData: next.mutatesData,
    consume(data: Telemetry) {
      outgoing.inc(labels, data.itemCount());
      return next.consume(data);
    },
  };
}

/** Upstream-first order: every node comes before the nodes it sends to. Extensions last. */
function topoOrder(nodes: Map<string, GraphNode>): GraphNode[] {
  const indeg = new Map<string, number>();
  for (const n of nodes.values()) indeg.set(n.key, indeg.get(n.key) ?? 0);
  for (const n of nodes.values()) for (const d of n.downstream) indeg.set(d, (indeg.get(d) ?? 0) + 1);
  const ready = [...nodes.values()].filter((n) => n.kind !== 'extension' && indeg.get(n.key) === 0);
  const out: GraphNode[] = [];
  while (ready.length) {
    const n = ready.shift()!;
    out.push(n);
    for (const d of n.downstream) {
      const v = indeg.get(d)! - 1;
      indeg.set(d, v);
      if (v === 0) ready.push(nodes.get(d)!);
    }
  }
  for (const n of nodes.values()) if (n.kind !== 'extension' && !out.includes(n)) out.push(n);
  for (const n of nodes.values()) if (n.kind === 'extension') out.push(n);
  return out;
}
