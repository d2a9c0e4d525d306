// `sieve test`: config unit tests. Each test feeds OTLP JSON at a receiver or a
// component of the real graph built from the config, with exporters replaced by
// capture points and a fake clock, advances time so batch and tail-sampling
// timeouts decide without waiting, and checks what reached each capture point.
import { resolveServerAuth, type AuthRef } from '../extensions/auth/auth.js';
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import FakeTimers from '@sinonjs/fake-timers';
import { diffLines } from 'diff';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import type { Component, Consumer, ExporterFactory, Factory, Host } from '../component/component.js';
import type { ServiceConfig } from '../config/config.js';
import { loadFiles } from '../config/loader.js';
import { resolveConfig } from '../config/config.js';
import { s } from '../config/schema.js';
import { factories as builtinFactories } from '../components.js';
import { decodeLogsJson, decodeMetricsJson, decodeTracesJson } from '../pdata/json/index.js';
import type { Signal } from '../pdata/model.js';
import { Telemetry } from '../pdata/telemetry.js';
import { itemsOf } from './items.js';

export { itemsOf };
import { buildGraph, type Graph } from '../service/graph.js';
import { nopLogger } from '../service/logger.js';
import { SelfTelemetry } from '../service/telemetry.js';

export interface InputSpec {
  /** A receiver id, or a processor (id or id@pipeline), connector or exporter id. */
  at: string;
  signal?: Signal;
  /** OTLP JSON: an object or its text. */
  otlp?: unknown;
  /** A file of OTLP JSON, relative to the test file. */
  file?: string;
  /** Client metadata (request headers) carried with the data. */
  headers?: Record<string, string>;
}

type Matcher = string | number | boolean | { matches?: string; absent?: boolean; exists?: boolean };

export interface Condition {
  name?: Matcher;
  body?: Matcher;
  attributes?: Record<string, Matcher>;
  resource?: Record<string, Matcher>;
  tenant?: Matcher;
}

export interface ExpectSpec {
  /** Exporter id (its capture point); all exporters when absent. */
  at?: string;
  signal?: Signal;
  count?: number;
  /** Nothing arrives (a drop, a refusal). */
  none?: boolean;
  /** Each condition is met by at least one item. */
  contains?: Condition[];
  /** Every item meets the condition. */
  all?: Condition;
}

export interface TestSpec {
  name: string;
  input: InputSpec | InputSpec[];
  /** Time to advance after feeding: "30s", "200ms" or milliseconds. */
  advance?: string | number;
  /** The input is refused with an error matching this regex. */
  rejects?: string;
  expect?: ExpectSpec | ExpectSpec[];
}

export interface Suite {
  env?: Record<string, string>;
  tests: TestSpec[];
}

export interface TestResult {
  name: string;
  ok: boolean;
  failures: string[];
}

export interface SuiteResult {
  config: string;
  tests: TestResult[];
  errors: string[];
}

/** `config/x.yaml` → `config/tests/x.yaml` */
export function defaultTestsPath(config: string): string {
  return join(dirname(config), 'tests', config.split('/').pop()!);
}

type Item = Record<string, unknown>;

function matchOne(actual: unknown, m: Matcher): boolean {
  if (m !== null && typeof m === 'object') {
    if (m.absent) return actual === undefined;
    if (m.exists) return actual !== undefined;
    if (m.matches !== undefined) return actual !== undefined && new RegExp(m.matches).test(typeof actual === 'string' ? actual : JSON.stringify(actual));
    return false;
  }
  if (typeof m === 'string') return typeof actual === 'string' ? actual === m : actual !== undefined && JSON.stringify(actual) === m;
  return actual === m;
}

/** How many of the condition's checks the item meets, and how many there are. */
function score(item: Item, c: Condition): [number, number] {
  let ok = 0;
  let n = 0;
  for (const k of ['name', 'body', 'tenant'] as const) {
    if (c[k] === undefined) continue;
    n++;
    if (matchOne(item[k], c[k]!)) ok++;
  }
  for (const k of ['attributes', 'resource'] as const) {
    for (const [key, m] of Object.entries(c[k] ?? {})) {
      n++;
      if (matchOne((item[k] as Record<string, unknown>)[key], m)) ok++;
    }
  }
  return [ok, n];
}
const meets = (item: Item, c: Condition) => {
  const [ok, n] = score(item, c);
  return ok === n;
};

/** The item as far as the condition looks at it, for a diff. */
function project(item: Item, c: Condition): Item {
  const out: Item = {};
  for (const k of Object.keys(c) as (keyof Condition)[]) {
    if (k === 'attributes' || k === 'resource') out[k] = Object.fromEntries(Object.keys(c[k]!).map((key) => [key, (item[k] as Record<string, unknown>)[key] ?? { absent: true }]));
    else out[k] = item[k] ?? null;
  }
  return out;
}

export function diff(expected: unknown, actual: unknown): string {
  const lines: string[] = ['--- expected', '+++ actual'];
  for (const part of diffLines(stringifyYaml(expected), stringifyYaml(actual))) {
    const mark = part.added ? '+ ' : part.removed ? '- ' : '  ';
    for (const l of part.value.replace(/\n$/, '').split('\n')) lines.push(mark + l);
  }
  return lines.join('\n');
}

function ms(v: string | number | undefined): number {
  if (v === undefined) return 0;
  if (typeof v === 'number') return v;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(v.trim());
  if (!m) throw new Error(`advance: invalid duration ${JSON.stringify(v)}; use e.g. 200ms, 30s, 5m`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms']!;
}

function decode(signal: Signal | undefined, json: unknown): { signal: Signal; data: Telemetry } {
  const text = typeof json === 'string' ? json : JSON.stringify(json);
  const o = JSON.parse(text) as Record<string, unknown>;
  const sig: Signal = signal ?? (o.resourceSpans || o.resource_spans ? 'traces' : o.resourceLogs || o.resource_logs ? 'logs' : 'metrics');
  const data = sig === 'traces' ? Telemetry.traces(decodeTracesJson(text)) : sig === 'logs' ? Telemetry.fromModel('logs', decodeLogsJson(text)) : Telemetry.fromModel('metrics', decodeMetricsJson(text));
  return { signal: sig, data: data as Telemetry };
}

/** Capture exporters in place of the configured ones, keeping their ids. */
function withCaptures(cfg: ServiceConfig, captured: Map<string, Item[]>): ServiceConfig {
  const exporters = new Map(cfg.exporters);
  for (const [id, ec] of cfg.exporters) {
    const factory: ExporterFactory = {
      kind: 'exporter',
      type: ec.type,
      schema: s.any(),
      signals: { traces: 'stable', metrics: 'stable', logs: 'stable' },
      create: (_set, _c, signal) =>
        ({
          mutatesData: false,
          start: async () => {},
          shutdown: async () => {},
          consume: async (d: Telemetry) => {
            const key = `${id}:${signal}`;
            captured.set(key, [...(captured.get(key) ?? []), ...itemsOf(d)]);
          },
        }) as unknown as Component & Consumer,
    };
    exporters.set(id, { ...ec, factory });
  }
  return { ...cfg, exporters };
}

function target(graph: Graph, cfg: ServiceConfig, at: string, signal: Signal): Consumer | undefined {
  const sw = graph.switches.get(at)?.[signal];
  if (sw) return sw;
  const [id, pipeline] = at.split('@');
  const pids = pipeline ? [pipeline] : cfg.pipelines.filter((p) => p.signal === signal && (p.processors.includes(id!) || p.exporters.includes(id!))).map((p) => p.id);
  for (const pid of pids) {
    const n = graph.nodes.get(`processor:${id}:${pid}`);
    if (n) return n.component as unknown as Consumer;
  }
  const e = graph.nodes.get(`exporter:${id}:${signal}`);
  if (e) return e.component as unknown as Consumer;
  for (const n of graph.nodes.values()) if (n.kind === 'connector' && n.id === id && n.key.startsWith(`connector:${id}:${signal}:`)) return n.component as unknown as Consumer;
  return undefined;
}

async function runOne(cfg: ServiceConfig, t: TestSpec, baseDir: string): Promise<TestResult> {
  const failures: string[] = [];
  const clock = FakeTimers.withGlobal(globalThis).install({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'], now: Date.now() });
  const captured = new Map<string, Item[]>();
  const c2 = withCaptures(cfg, captured);
  const telemetry = new SelfTelemetry();
  const graph = buildGraph(c2, { logger: nopLogger, telemetry, instanceId: 'sieve-test', dataDir: undefined, now: () => Date.now() });
  const host: Host = { getExtension: (id) => graph.extensions.get(id), components: () => new Map(), registerAdminRoute: () => undefined, logger: nopLogger, telemetry, pipelines: () => c2.pipelines };
  const running = [...graph.order].reverse().filter((n) => n.kind !== 'receiver').sort((a, b) => (a.kind === 'extension' ? -1 : 0) - (b.kind === 'extension' ? -1 : 0));
  const started: typeof running = [];
  try {
    for (const n of running) {
      await n.component.start(host);
      started.push(n);
    }
    const feeds: { state: 'pending' | 'ok' | 'error'; error?: string }[] = [];
    const inputs = Array.isArray(t.input) ? t.input : [t.input];
    for (const inp of inputs) {
      const json = inp.file ? readFileSync(isAbsolute(inp.file) ? inp.file : join(baseDir, inp.file), 'utf8') : inp.otlp;
      if (json === undefined) throw new Error(`input at ${inp.at}: give otlp or file`);
      const { signal, data } = decode(inp.signal, json);
      if (inp.headers) data.ctx.metadata = Object.fromEntries(Object.entries(inp.headers).map(([k, v]) => [k.toLowerCase(), [v]]));
      if (graph.receivers.has(inp.at)) {
        data.ctx.receiver = inp.at;
        // The receiver's authenticator, as its listeners run it: a refusal is a refused input.
        const protocols = (c2.receivers.get(inp.at)?.config as { protocols?: Record<string, { auth?: AuthRef } | undefined> } | undefined)?.protocols;
        const ref = protocols?.http?.auth ?? protocols?.grpc?.auth;
        const auth = resolveServerAuth(host, ref, `receivers::${inp.at}::protocols`);
        if (auth) {
          try {
            data.ctx.auth = await auth.authenticate(data.ctx.metadata ?? {});
          } catch (e) {
            feeds.push({ state: 'error', error: (e as Error).message });
            continue;
          }
        }
      }
      const c = target(graph, c2, inp.at, signal);
      if (!c) throw new Error(`input at "${inp.at}": no receiver or component with that id takes ${signal}`);
      const f: (typeof feeds)[number] = { state: 'pending' };
      feeds.push(f);
      c.consume(data).then(
        () => (f.state = 'ok'),
        (e: Error) => ((f.state = 'error'), (f.error = e.message)),
      );
    }
    await clock.tickAsync(ms(t.advance));
    await clock.tickAsync(0);
    const errs = feeds.filter((f) => f.state === 'error').map((f) => f.error!);
    if (t.rejects !== undefined) {
      if (!errs.some((e) => new RegExp(t.rejects!).test(e))) failures.push(`expected the input to be refused with /${t.rejects}/; ${errs.length ? `refused with: ${errs.join('; ')}` : 'it was accepted'}`);
    } else if (errs.length) failures.push(`the input was refused: ${errs.join('; ')}`);
    if (feeds.some((f) => f.state === 'pending')) failures.push(`the input was still being processed after advancing ${t.advance ?? '0ms'}; advance time further`);
    for (const e of t.expect === undefined ? [] : Array.isArray(t.expect) ? t.expect : [t.expect]) checkExpect(e, c2, captured, failures);
  } catch (e) {
    failures.push((e as Error).message);
  } finally {
    clock.uninstall();
    for (const n of started.reverse()) await Promise.race([n.component.shutdown().catch(() => undefined), new Promise((r) => setTimeout(r, 2000).unref())]);
  }
  return { name: t.name, ok: failures.length === 0, failures };
}

function checkExpect(e: ExpectSpec, cfg: ServiceConfig, captured: Map<string, Item[]>, failures: string[]): void {
  const ids = e.at ? [e.at] : [...cfg.exporters.keys()];
  if (e.at && !cfg.exporters.has(e.at)) {
    failures.push(`expect at "${e.at}": not an exporter of this config (${[...cfg.exporters.keys()].join(', ')})`);
    return;
  }
  const where = e.at ?? 'all exporters';
  const items: Item[] = [];
  for (const id of ids) for (const sig of e.signal ? [e.signal] : (['traces', 'metrics', 'logs'] as const)) items.push(...(captured.get(`${id}:${sig}`) ?? []));
  if (e.none && items.length > 0) failures.push(`at ${where}: expected no output, got ${items.length} item(s):\n${stringifyYaml(items.slice(0, 3))}`);
  if (e.count !== undefined && items.length !== e.count) failures.push(`at ${where}: expected ${e.count} item(s), got ${items.length}`);
  for (const c of e.contains ?? []) {
    if (items.some((it) => meets(it, c))) continue;
    if (items.length === 0) {
      failures.push(`at ${where}: expected an item matching the condition, got no output\n${diff(c, {})}`);
      continue;
    }
    const best = items.reduce((a, b) => (score(b, c)[0] > score(a, c)[0] ? b : a));
    failures.push(`at ${where}: no item matches; the closest of ${items.length}:\n${diff(c, project(best, c))}`);
  }
  if (e.all) {
    const bad = items.filter((it) => !meets(it, e.all!));
    if (bad.length) failures.push(`at ${where}: ${bad.length} of ${items.length} item(s) do not match; the first:\n${diff(e.all, project(bad[0]!, e.all))}`);
  }
}

/** Loads the config (with the suite's env) and runs every test in order. */
export async function runSuite(configPath: string, testsPath: string, factories: readonly Factory[] = builtinFactories): Promise<SuiteResult> {
  let suite: Suite;
  try {
    suite = parseYaml(readFileSync(testsPath, 'utf8')) as Suite;
  } catch (e) {
    return { config: configPath, tests: [], errors: [`cannot read tests ${testsPath}: ${(e as Error).message}`] };
  }
  if (!suite || !Array.isArray(suite.tests)) return { config: configPath, tests: [], errors: [`${testsPath}: expected a "tests" list`] };
  const r = resolveConfig(loadFiles([configPath], { ...process.env, ...suite.env }), factories);
  if (!r.config) return { config: configPath, tests: [], errors: r.errors };
  const tests: TestResult[] = [];
  for (const t of suite.tests) tests.push(await runOne(r.config, t, dirname(resolve(testsPath))));
  return { config: configPath, tests, errors: [] };
}

/** Test-runner output: a mark per test, the failures with their diffs, a summary. */
export function report(r: SuiteResult): string {
  const out: string[] = [`${r.config}`];
  for (const e of r.errors) out.push(`  error: ${e}`);
  for (const t of r.tests) {
    out.push(`  ${t.ok ? '✓' : '✗'} ${t.name}`);
    for (const f of t.failures) out.push(...f.split('\n').map((l) => `      ${l}`));
  }
  const failed = r.tests.filter((t) => !t.ok).length;
  out.push(`${r.tests.length - failed} passed, ${failed} failed`);
  return out.join('\n') + '\n';
}
