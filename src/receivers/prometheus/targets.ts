// Target discovery: static_configs and file_sd_configs give target groups;
// each target gets Prometheus's initial labels (__address__, __scheme__,
// __metrics_path__, __param_*, __scrape_interval__, __scrape_timeout__, job,
// the group's labels) and then the job's relabel_configs. Labels starting with
// "__" are dropped afterwards; `instance` defaults to the address.
import { readFile, readdir } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { Job } from './config.js';
import { relabel, type CompiledRule } from './relabel.js';

export interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
  source: string;
}

export interface Target {
  /** Stable identity: job, URL and final labels. */
  key: string;
  url: URL;
  /** Final target labels, sorted by name (job and instance included). */
  labels: [string, string][];
  job: string;
  instance: string;
}

function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** Applies initial labels and relabel_configs to one discovered address; undefined when dropped. */
export function buildTarget(job: Job, rules: readonly CompiledRule[], address: string, groupLabels: Record<string, string>): Target | undefined {
  const sc = job.cfg;
  const l = new Map<string, string>();
  l.set('__address__', address);
  l.set('__scheme__', sc.scheme);
  l.set('__metrics_path__', sc.metrics_path);
  l.set('__scrape_interval__', formatDuration(job.intervalMs));
  l.set('__scrape_timeout__', formatDuration(job.timeoutMs));
  l.set('job', job.name);
  for (const [k, v] of Object.entries(sc.params)) if (v.length > 0) l.set(`__param_${k}`, v[0]!);
  for (const [k, v] of Object.entries(groupLabels)) l.set(k, v);
  if (!relabel(l, rules)) return undefined;
  const addr = l.get('__address__');
  if (!addr) return undefined;
  if (!l.has('instance')) l.set('instance', addr);
  const scheme = l.get('__scheme__') || sc.scheme;
  const path = l.get('__metrics_path__') || sc.metrics_path;
  let url: URL;
  try {
    url = new URL(`${scheme}://${addr}${path.startsWith('/') ? path : `/${path}`}`);
  } catch {
    return undefined;
  }
  // Query parameters: the configured ones, with __param_<name> overriding the first value.
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(sc.params)) {
    const over = l.get(`__param_${k}`);
    v.forEach((x, i) => params.append(k, i === 0 && over !== undefined ? over : x));
  }
  for (const [k, v] of l) {
    if (k.startsWith('__param_')) {
      const name = k.slice(8);
      if (!(name in sc.params)) params.set(name, v);
    }
  }
  const q = params.toString();
  if (q !== '') url.search = q;
  const labels: [string, string][] = [];
  for (const [k, v] of l) if (!k.startsWith('__') && v !== '') labels.push([k, v]);
  labels.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const key = `${job.name}\xff${url.href}\xff${labels.map(([k, v]) => `${k}=${v}`).join('\xff')}`;
  return { key, url, labels, job: l.get('job') ?? job.name, instance: l.get('instance')! };
}

function globToRegex(glob: string): RegExp {
  let re = '';
  for (const ch of glob) {
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Paths a file_sd `files` entry names (a glob in the last path element). */
export async function expandFiles(pattern: string): Promise<string[]> {
  const base = basename(pattern);
  if (!/[*?[]/.test(base)) return [pattern];
  const dir = dirname(pattern);
  const re = globToRegex(base);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  return names.filter((n) => re.test(n)).sort().map((n) => join(dir, n));
}

/** Reads one file_sd file (JSON, or YAML for .yml/.yaml); throws with a clear message on bad content. */
export async function readFileSd(path: string): Promise<TargetGroup[]> {
  const text = await readFile(path, 'utf8');
  const ext = extname(path).toLowerCase();
  let doc: unknown;
  try {
    doc = ext === '.yml' || ext === '.yaml' ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`);
  }
  if (doc === null || doc === undefined) return [];
  if (!Array.isArray(doc)) throw new Error(`${path}: must be a list of target groups`);
  return doc.map((g, i) => {
    if (typeof g !== 'object' || g === null || Array.isArray(g)) throw new Error(`${path}: group ${i} must be a map`);
    const targets = (g as Record<string, unknown>).targets ?? [];
    const labels = (g as Record<string, unknown>).labels ?? {};
    if (!Array.isArray(targets) || targets.some((t) => typeof t !== 'string')) throw new Error(`${path}: group ${i}: targets must be a list of strings`);
    if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) throw new Error(`${path}: group ${i}: labels must be a map`);
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(labels as Record<string, unknown>)) out[k] = String(v);
    out.__meta_filepath = path;
    return { targets: targets as string[], labels: out, source: `${path}:${i}` };
  });
}
