// Settings and a host for driving components directly in tests and benchmarks.
import type { CreateSettings, Host, Kind } from '../../component/component.js';
import { Issues, type Schema } from '../../config/schema.js';
import { nopLogger } from '../../service/logger.js';
import { SelfTelemetry } from '../../service/telemetry.js';

export interface Clock {
  now: number;
}

export function settings(id: string, kind: Kind, clock?: Clock, telemetry = new SelfTelemetry()): CreateSettings {
  return { id, kind, logger: nopLogger, telemetry, instanceId: 'test', now: clock ? () => clock.now : Date.now };
}

export function host(telemetry = new SelfTelemetry()): Host {
  return { getExtension: () => undefined, components: () => new Map(), registerAdminRoute: () => undefined, logger: nopLogger, telemetry };
}

/** Parses a config and fails on any error. */
export function parse<C>(schema: Schema<C>, raw: unknown, validate?: (cfg: C, path: string[], issues: Issues) => void): C {
  const issues = new Issues();
  const cfg = schema.parse(raw, [], issues);
  validate?.(cfg, [], issues);
  if (issues.hasErrors()) throw new Error(issues.errors.map((i) => `${i.path.join('::')}: ${i.message}`).join('\n'));
  return cfg;
}

/** Config issues as "path: message" lines. */
export function configIssues<C>(schema: Schema<C>, raw: unknown, validate?: (cfg: C, path: string[], issues: Issues) => void): string[] {
  const issues = new Issues();
  const cfg = schema.parse(raw, ['x'], issues);
  if (!issues.hasErrors()) validate?.(cfg, ['x'], issues);
  return issues.list.map((i) => `${i.severity === 'warning' ? 'warning: ' : ''}${i.path.join('::')}: ${i.message}`);
}
