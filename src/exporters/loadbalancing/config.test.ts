import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { formatPath, Issues } from '../../config/schema.js';
import { nopLogger } from '../../service/logger.js';
import { SelfTelemetry } from '../../service/telemetry.js';
import { loadBalancingExporterFactory as f } from './factory.js';
import { withPort } from './config.js';

const here = dirname(fileURLToPath(import.meta.url));

function check(raw: unknown): { cfg: ReturnType<typeof f.schema.parse>; issues: Issues } {
  const issues = new Issues();
  const cfg = f.schema.parse(raw, [], issues);
  f.validate!(cfg, [], issues);
  return { cfg, issues };
}

describe('loadbalancing config', () => {
  const valid = parseYaml(readFileSync(join(here, 'testdata/config.yaml'), 'utf8')) as Record<string, unknown>;
  for (const [name, raw] of Object.entries(valid)) {
    it(`accepts ${name}`, () => {
      expect(check(raw).issues.errors).toEqual([]);
    });
  }

  it('has the Collector defaults', () => {
    const { cfg } = check({ resolver: { dns: { hostname: 'gw' } } });
    expect(cfg.routing_key).toBeUndefined();
    expect(cfg.reroute_on_failure).toBe(false);
    expect(cfg.resolver.dns).toMatchObject({ port: '4317', interval: 5000, timeout: 1000 });
    expect(cfg.protocol.otlp.sending_queue).toMatchObject({ enabled: true, queue_size: 1000, num_consumers: 10 });
    expect(cfg.protocol.otlp.retry_on_failure).toMatchObject({ enabled: true, initial_interval: 5000, max_elapsed_time: 300000 });
    expect(cfg.protocol.otlp.timeout).toBe(5000);
    const k = check({ resolver: { k8s: { service: 'gw.ns' } } }).cfg.resolver.k8s!;
    expect(k).toMatchObject({ timeout: 1000, return_hostnames: false, ports: [] });
  });

  it('warns that protocol::otlp::endpoint is ignored', () => {
    const { issues } = check({ protocol: { otlp: { endpoint: 'x:1' } }, resolver: { static: { hostnames: ['a'] } } });
    expect(issues.errors).toEqual([]);
    expect(issues.warnings.map((i) => formatPath(i.path))).toEqual(['protocol::otlp::endpoint']);
  });

  const invalid = parseYaml(readFileSync(join(here, 'testdata/invalid_configs.yaml'), 'utf8')) as Record<string, { config: unknown; errors: string[] }>;
  for (const [name, c] of Object.entries(invalid)) {
    it(`rejects ${name}`, () => {
      const got = check(c.config).issues.errors.map((i) => `${formatPath(i.path)}: ${i.message}`);
      for (const want of c.errors) expect(got.some((g) => g.startsWith(want) || g.includes(want))).toBe(true);
      expect(got.length).toBe(c.errors.length);
    });
  }

  it('refuses at create a routing key the signal does not support', () => {
    const settings = { id: 'loadbalancing', kind: 'exporter' as const, logger: nopLogger, telemetry: new SelfTelemetry(), instanceId: 't', now: Date.now };
    expect(() => f.create(settings, check({ routing_key: 'metric', resolver: { static: { hostnames: ['a'] } } }).cfg, 'traces')).toThrow(/routing_key "metric" is not supported for traces/);
    expect(() => f.create(settings, check({ routing_key: 'traceID', resolver: { static: { hostnames: ['a'] } } }).cfg, 'metrics')).toThrow(/not supported for metrics/);
    expect(() => f.create(settings, check({ resolver: { static: { hostnames: ['a'] } } }).cfg, 'metrics')).not.toThrow();
  });

  it('adds the default port', () => {
    expect(withPort('gw')).toBe('gw:4317');
    expect(withPort('gw:1234')).toBe('gw:1234');
    expect(withPort('10.0.0.1', 55)).toBe('10.0.0.1:55');
    expect(withPort('fd00::1')).toBe('[fd00::1]:4317');
    expect(withPort('[fd00::1]:99')).toBe('[fd00::1]:99');
  });
});
