// Turns raw YAML data into a validated service config: each component's
// config parsed by its factory's schema (defaults under the user's keys,
// unknown keys rejected), pipelines checked against what is configured, and
// every problem collected with its path and line.
import type { Factory, Kind } from '../component/component.js';
import { parseId } from '../component/component.js';
import type { Signal } from '../pdata/model.js';
import { formatIssue, sourceOf, type RawConfig } from './loader.js';
import { Issues, s, type Infer } from './schema.js';
import { authRef } from '../extensions/auth/auth.js';

export interface ComponentConfig {
  id: string;
  type: string;
  kind: Kind;
  factory: Factory;
  config: any;
}

export interface PipelineConfig {
  id: string;
  signal: Signal;
  receivers: string[];
  processors: string[];
  exporters: string[];
}

const telemetrySchema = s.object({
  metrics: s.object({
    level: s.enum(['none', 'basic', 'normal', 'detailed'] as const, 'normal'),
    /** Where the self-telemetry Prometheus endpoint listens. */
    address: s.endpoint('127.0.0.1:8888'),
    /** The Collector's newer reader form; a pull/prometheus reader sets the address. */
    readers: s.array(s.any()),
    /** Sieve: authenticates scrapes of /metrics, e.g. {authenticator: basicauth/scrape}. */
    auth: authRef(),
  }),
  logs: s.object({
    level: s.enum(['debug', 'info', 'warn', 'error'] as const, 'info'),
    encoding: s.enum(['json'] as const, 'json'),
  }),
  resource: s.map(s.any()),
});

export const serviceSchema = s.object({
  extensions: s.array(s.string()),
  pipelines: s.map(
    s.object({
      receivers: s.array(s.string()),
      processors: s.array(s.string()),
      exporters: s.array(s.string()),
    }),
  ),
  telemetry: telemetrySchema,
  /** How long shutdown may take to drain in-flight data. */
  shutdown_timeout: s.duration('30s'),
  /** The admin endpoint (incident mode, ...). Off unless an endpoint is set; a bearer token is then required. */
  admin: s.object({
    endpoint: s.endpoint().optional(),
    bearer_token: s.string().optional(),
    /** An authenticator extension instead of (or besides) bearer_token. */
    auth: authRef(),
    /** Allows `sieve tap` on points upstream of a redaction processor. */
    allow_unredacted_tap: s.bool(false),
  }),
  /** Where components keep state (chain state, instance id). */
  data_dir: s.string().optional(),
  /** Worker processes sharing the listeners (docs/workers.md): a number, or `auto` for one per CPU. */
  workers: s.workers(),
});
export type ServiceSection = Infer<typeof serviceSchema>;

export interface ServiceConfig {
  receivers: Map<string, ComponentConfig>;
  processors: Map<string, ComponentConfig>;
  exporters: Map<string, ComponentConfig>;
  connectors: Map<string, ComponentConfig>;
  extensions: Map<string, ComponentConfig>;
  pipelines: PipelineConfig[];
  service: ServiceSection;
  /** The merged raw data, for print-config. */
  raw: Record<string, unknown>;
}

export interface ResolveResult {
  config: ServiceConfig | undefined;
  errors: string[];
  warnings: string[];
}

const SECTIONS = [
  ['receivers', 'receiver'],
  ['processors', 'processor'],
  ['exporters', 'exporter'],
  ['connectors', 'connector'],
  ['extensions', 'extension'],
] as const;

export function resolveConfig(raw: RawConfig, factories: readonly Factory[]): ResolveResult {
  const issues = new Issues();
  if (raw.issues.some((i) => i.severity === 'error' && i.message.startsWith('YAML:') || i.message.startsWith('cannot read'))) {
    // The document could not be read: further checks would only report its absence.
    const errors = raw.issues.map((iss, i) => formatIssue(iss, raw.issueSources.get(i) ?? sourceOf(raw.lines, iss.path)));
    return { config: undefined, errors, warnings: [] };
  }
  const data = raw.data;
  const known = new Set(['receivers', 'processors', 'exporters', 'connectors', 'extensions', 'service']);
  for (const k of Object.keys(data)) {
    if (!known.has(k)) issues.error([k], `unknown top-level key "${k}"; expected receivers, processors, exporters, connectors, extensions, service`);
  }

  const sections = {} as Record<(typeof SECTIONS)[number][0], Map<string, ComponentConfig>>;
  for (const [section, kind] of SECTIONS) {
    const map = new Map<string, ComponentConfig>();
    sections[section] = map;
    const entries = data[section];
    if (entries === undefined || entries === null) continue;
    if (typeof entries !== 'object' || Array.isArray(entries)) {
      issues.error([section], 'must be a map of component ids to their configs');
      continue;
    }
    for (const [id, cfg] of Object.entries(entries as Record<string, unknown>)) {
      const parsed = parseId(id);
      if (!parsed) {
        issues.error([section, id], `invalid component id "${id}": must be type[/name] with a lower_snake_case type`);
        continue;
      }
      const factory = factories.find((f) => f.kind === kind && f.type === parsed.type);
      if (!factory) {
        const types = factories.filter((f) => f.kind === kind).map((f) => f.type).sort();
        issues.error([section, id], `unknown ${kind} type "${parsed.type}"; known types: ${types.join(', ') || '(none)'}`);
        continue;
      }
      const path = [section, id];
      const before = issues.list.length;
      const config = factory.schema.parse(cfg ?? undefined, path, issues);
      if (issues.list.length === before && factory.validate) factory.validate(config, path, issues);
      map.set(id, { id, type: parsed.type, kind, factory, config });
    }
  }

  const service = serviceSchema.parse(data.service, ['service'], issues);
  const pipelines: PipelineConfig[] = [];
  if (Object.keys(service.pipelines).length === 0) issues.error(['service', 'pipelines'], 'at least one pipeline is required');

  const usedConnectorAsExporter = new Map<string, Signal[]>();
  const usedConnectorAsReceiver = new Map<string, Signal[]>();
  for (const [pid, p] of Object.entries(service.pipelines)) {
    const path = ['service', 'pipelines', pid];
    const m = /^(traces|metrics|logs)(?:\/(.+))?$/.exec(pid);
    if (!m) {
      issues.error(path, `invalid pipeline id "${pid}": must be traces, metrics or logs, optionally followed by /name`);
      continue;
    }
    const signal = m[1] as Signal;
    if (p.receivers.length === 0) issues.error([...path, 'receivers'], 'must have at least one receiver');
    if (p.exporters.length === 0) issues.error([...path, 'exporters'], 'must have at least one exporter');
    p.receivers.forEach((r, i) => {
      const conn = sections.connectors.get(r);
      if (conn) {
        const list = usedConnectorAsReceiver.get(r) ?? [];
        list.push(signal);
        usedConnectorAsReceiver.set(r, list);
        return;
      }
      const rc = sections.receivers.get(r);
      if (!rc) issues.error([...path, 'receivers', String(i)], `references receiver "${r}" which is not configured`);
      else if (!rc.factory.signals[signal]) issues.error([...path, 'receivers', String(i)], `receiver "${r}" does not support ${signal}`);
    });
    const seen = new Set<string>();
    p.processors.forEach((pr, i) => {
      const pc = sections.processors.get(pr);
      if (seen.has(pr)) issues.error([...path, 'processors', String(i)], `processor "${pr}" is listed twice`);
      seen.add(pr);
      if (!pc) issues.error([...path, 'processors', String(i)], `references processor "${pr}" which is not configured`);
      else if (!pc.factory.signals[signal]) issues.error([...path, 'processors', String(i)], `processor "${pr}" does not support ${signal}`);
    });
    p.exporters.forEach((e, i) => {
      const conn = sections.connectors.get(e);
      if (conn) {
        const list = usedConnectorAsExporter.get(e) ?? [];
        list.push(signal);
        usedConnectorAsExporter.set(e, list);
        return;
      }
      const ec = sections.exporters.get(e);
      if (!ec) issues.error([...path, 'exporters', String(i)], `references exporter "${e}" which is not configured`);
      else if (!ec.factory.signals[signal]) issues.error([...path, 'exporters', String(i)], `exporter "${e}" does not support ${signal}`);
    });
    checkProcessorOrder(p.processors, sections.processors, path, issues);
    pipelines.push({ id: pid, signal, receivers: p.receivers, processors: p.processors, exporters: p.exporters });
  }

  for (const [id, conn] of sections.connectors) {
    const asExp = usedConnectorAsExporter.get(id) ?? [];
    const asRecv = usedConnectorAsReceiver.get(id) ?? [];
    if (asExp.length === 0 && asRecv.length === 0) {
      issues.error(['connectors', id], 'is configured but not used in any pipeline');
      continue;
    }
    if (asExp.length === 0) issues.error(['connectors', id], 'is used as a receiver but not as an exporter in any pipeline');
    if (asRecv.length === 0) issues.error(['connectors', id], 'is used as an exporter but not as a receiver in any pipeline');
    const routes = conn.factory.kind === 'connector' ? conn.factory.routes : [];
    for (const from of new Set(asExp)) {
      for (const to of new Set(asRecv)) {
        if (!routes.some(([a, b]) => a === from && b === to)) {
          issues.error(['connectors', id], `cannot connect ${from} to ${to}; supported: ${routes.map(([a, b]) => `${a} -> ${b}`).join(', ')}`);
        }
      }
    }
  }

  service.extensions.forEach((e, i) => {
    if (!sections.extensions.has(e)) issues.error(['service', 'extensions', String(i)], `references extension "${e}" which is not configured`);
  });

  const errors: string[] = [];
  const warnings: string[] = [];
  raw.issues.forEach((iss, i) => {
    const src = raw.issueSources.get(i) ?? sourceOf(raw.lines, iss.path);
    (iss.severity === 'error' ? errors : warnings).push(formatIssue(iss, src));
  });
  for (const iss of issues.list) {
    const msg = formatIssue(iss, sourceOf(raw.lines, iss.path));
    (iss.severity === 'error' ? errors : warnings).push(msg);
  }
  if (errors.length > 0) return { config: undefined, errors, warnings };
  return {
    config: { ...sections, pipelines, service, raw: data },
    errors,
    warnings,
  };
}

/** Processor order rules: what is signed must be what is exported. */
function checkProcessorOrder(order: string[], processors: Map<string, ComponentConfig>, path: string[], issues: Issues): void {
  const typeAt = order.map((id) => processors.get(id)?.type);
  const signing = typeAt.indexOf('signing');
  if (signing < 0) return;
  typeAt.forEach((t, i) => {
    if (i > signing && (t === 'redaction' || t === 'transform' || t === 'attributes')) {
      issues.warn([...path, 'processors', String(i)], `processor "${order[i]}" changes data after "${order[signing]}" signed it; signatures will not verify. Place signing after it.`);
    }
  });
}

