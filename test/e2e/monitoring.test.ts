// The shipped monitoring: rule files pass promtool's checks and unit tests,
// dashboards are valid JSON whose PromQL parses, and every metric named in
// rules and dashboards is one a running daemon (or its spanmetrics) exports.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify as stringifyYaml } from 'yaml';
import { exportAll, makeSpans, traceExporter } from '../helpers/sdk.js';
import { freePort, ROOT, startSieve, tempDir, waitFor, type RunningSieve } from '../helpers/sieve.js';
import { generateRules } from '../../src/slo/generate.js';

const MON = join(ROOT, 'monitoring');
const ruleFiles = readdirSync(join(MON, 'alerts')).filter((f) => f.endsWith('.yml')).map((f) => join(MON, 'alerts', f));
const dashboards = readdirSync(join(MON, 'dashboards')).filter((f) => f.endsWith('.json')).map((f) => join(MON, 'dashboards', f));

function dashboardExprs(file: string): string[] {
  const d = JSON.parse(readFileSync(file, 'utf8')) as { panels: { targets: { expr: string }[] }[] };
  return d.panels.flatMap((p) => p.targets.map((t) => t.expr));
}
/** Grafana variables replaced by values Prometheus accepts. */
const concrete = (e: string) => e.replace(/\$__rate_interval/g, '5m').replace(/\$(job|service)\b/g, '.*');

function metricNames(texts: string[]): { names: Set<string>; regexes: RegExp[] } {
  const names = new Set<string>();
  const regexes: RegExp[] = [];
  for (const t of texts) {
    for (const m of t.replace(/__name__=~"[^"]+"/g, '').matchAll(/\b((?:otelcol|sieve|traces_span_metrics)_[a-z0-9_]+)\b/g)) names.add(m[1]!);
    for (const m of t.matchAll(/__name__=~"([^"]+)"/g)) regexes.push(new RegExp(`^(?:${m[1]})$`));
  }
  return { names, regexes };
}

describe('monitoring rules', () => {
  it('promtool check rules passes on every rule file', () => {
    expect(ruleFiles.length).toBeGreaterThanOrEqual(2);
    for (const f of ruleFiles) expect(execFileSync('promtool', ['check', 'rules', f], { encoding: 'utf8' })).toContain('SUCCESS');
  });

  it('promtool test rules passes: Sieve alerts and each SLO alert firing on a burn, silent on a normal series', () => {
    const dir = join(MON, 'alerts', 'tests');
    const tests = readdirSync(dir).filter((f) => f.endsWith('.yml'));
    expect(tests.sort()).toEqual(['sieve.test.yml', 'slo.test.yml']);
    for (const t of tests) expect(execFileSync('promtool', ['test', 'rules', t], { cwd: dir, encoding: 'utf8' })).toContain('SUCCESS');
  });

  it('the shipped SLO rules are what sieve slo generate makes from monitoring/slo/slo.yaml', () => {
    expect(readFileSync(join(MON, 'alerts', 'slo.rules.yml'), 'utf8')).toBe(generateRules(readFileSync(join(MON, 'slo', 'slo.yaml'), 'utf8')));
    expect(() => generateRules('slos: [{ name: x, service: y, availability: 120 }]')).toThrow('slos::0::availability: must be a percentage between 0 and 100');
  });

  it('every dashboard is JSON whose PromQL parses', () => {
    expect(dashboards.length).toBe(2);
    const rules = dashboards.flatMap((f) => dashboardExprs(f)).map((e, i) => ({ record: `dashboard:expr_${i}`, expr: concrete(e) }));
    expect(rules.length).toBeGreaterThan(10);
    const file = join(tempDir(), 'dashboards.rules.yml');
    writeFileSync(file, stringifyYaml({ groups: [{ name: 'dashboards', rules }] }));
    expect(execFileSync('promtool', ['check', 'rules', file], { encoding: 'utf8' })).toContain(`SUCCESS: ${rules.length} rules found`);
  });
});

describe('metric names in rules and dashboards', () => {
  let d: RunningSieve;
  const exposed = new Set<string>();
  beforeAll(async () => {
    const p = { metrics: await freePort(), prom: await freePort(), http: await freePort(), grpc: await freePort() };
    const dir = tempDir();
    // A config using every component the rules and dashboards look at.
    d = await startSieve(
      `
extensions:
  file_storage: { directory: ${JSON.stringify(dir)}, create_directory: true }
receivers:
  otlp:
    protocols:
      grpc: { endpoint: "127.0.0.1:${p.grpc}" }
      http: { endpoint: "127.0.0.1:${p.http}" }
connectors:
  spanmetrics: { metrics_flush_interval: 100ms }
processors:
  memory_limiter: { check_interval: 1s, limit_mib: 4096 }
  tenant: { default: team-a }
  redaction: { allow_all_keys: true }
  tail_sampling: { decision_wait: 100ms, policies: [{ name: all, type: always_sample }] }
  signing: { chain: true, keys: [{ id: k1, secret: "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=" }] }
  batch: { timeout: 50ms }
exporters:
  otlphttp: { endpoint: "http://127.0.0.1:1", sending_queue: { storage: file_storage }, retry_on_failure: { enabled: false } }
  otlphttp/down: { endpoint: "http://127.0.0.1:1", sending_queue: { enabled: false }, retry_on_failure: { enabled: false } }
  loki: { endpoint: "http://127.0.0.1:1/loki/api/v1/push" }
  prometheus: { endpoint: "127.0.0.1:${p.prom}" }
service:
  extensions: [file_storage]
  data_dir: ${JSON.stringify(join(dir, "state"))}
  telemetry: { metrics: { address: "127.0.0.1:${p.metrics}" } }
  pipelines:
    traces: { receivers: [otlp], processors: [memory_limiter, tenant, redaction, tail_sampling, batch], exporters: [otlphttp, spanmetrics] }
    # Signed links the unreachable exporter refuses are voided.
    traces/signed: { receivers: [otlp], processors: [signing], exporters: [otlphttp/down] }
    metrics: { receivers: [spanmetrics], exporters: [prometheus] }
    logs: { receivers: [otlp], processors: [redaction], exporters: [loki] }
`,
      { metricsAddress: `127.0.0.1:${p.metrics}` },
    );
    // Refused: the signed pipeline's exporter is unreachable; the attempt still counts everywhere.
    await exportAll(traceExporter('grpc', p), makeSpans(4)).catch(() => undefined);
    const scrape = async (port: number) => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const sieve = await scrape(p.metrics);
    const spans = await waitFor(async () => {
      const t = await scrape(p.prom);
      return t.includes('traces_span_metrics_calls_total') ? t : undefined;
    }, { what: 'spanmetrics on the prometheus exporter' });
    for (const text of [sieve, spans]) {
      for (const m of text.matchAll(/^# TYPE (\S+) (\S+)/gm)) {
        exposed.add(m[1]!);
        if (m[2] === 'histogram') for (const sfx of ['_bucket', '_sum', '_count']) exposed.add(m[1]! + sfx);
      }
      for (const m of text.matchAll(/^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/gm)) exposed.add(m[1]!);
    }
  });
  afterAll(() => d?.stop());

  it('every metric a rule or dashboard names is exported', () => {
    const texts = [...ruleFiles.map((f) => readFileSync(f, 'utf8')), ...dashboards.flatMap((f) => dashboardExprs(f))];
    const { names, regexes } = metricNames(texts);
    expect(names.size).toBeGreaterThan(20);
    expect([...names].filter((n) => !exposed.has(n))).toEqual([]);
    // Name regexes must each match a real metric.
    expect(regexes.filter((r) => ![...exposed].some((n) => r.test(n))).map(String)).toEqual([]);
  });
});
