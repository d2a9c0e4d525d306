// Loads the YAML config: several files merge (maps merge, lists are replaced),
// `${env:VAR}` and `${env:VAR:-default}` expand in values, `$$` is a literal `$`,
// and every key remembers the file and line it came from so that errors can
// point at it.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node } from 'yaml';
import { formatPath, type Issue } from './schema.js';

export interface Source {
  file: string;
  line: number;
}

export interface RawConfig {
  /** The merged, env-expanded config as plain data. */
  data: Record<string, unknown>;
  /** Where each path (joined by "::") was set. */
  lines: Map<string, Source>;
  /** Problems found while reading: unreadable files, YAML syntax, bad env references. */
  issues: Issue[];
  /** Where parse-level issues came from, keyed by index into `issues`. */
  issueSources: Map<number, Source>;
}

export type Env = Readonly<Record<string, string | undefined>>;

const ENV_REF = /\$\$|\$\{([^}]*)\}/g;

/** Expands `${env:VAR}`, `${env:VAR:-default}`, `${VAR}` and `$$` in one scalar. */
export function expandEnv(text: string, env: Env, onError: (msg: string) => void): string {
  if (!text.includes('$')) return text;
  return text.replace(ENV_REF, (whole, inner: string | undefined) => {
    if (whole === '$$') return '$';
    let ref = inner!.trim();
    if (ref.startsWith('env:')) ref = ref.slice(4);
    else if (/^[a-z]+:/.test(ref)) {
      onError(`unsupported config provider in ${whole}; only env is supported`);
      return whole;
    }
    let def: string | undefined;
    const d = ref.indexOf(':-');
    if (d >= 0) {
      def = ref.slice(d + 2);
      ref = ref.slice(0, d);
    }
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(ref)) {
      onError(`invalid environment variable name in ${whole}`);
      return whole;
    }
    const v = env[ref];
    if (v === undefined || (v === '' && def !== undefined)) return def ?? '';
    return v;
  });
}

function toPlain(node: Node | null | undefined, path: string[], file: string, lc: LineCounter, lines: Map<string, Source>, env: Env, issues: Issue[], issueSources: Map<number, Source>): unknown {
  if (!node) return null;
  const lineOf = (n: Node | null | undefined): number => (n?.range ? lc.linePos(n.range[0]).line : 0);
  if (isMap(node)) {
    const out: Record<string, unknown> = {};
    for (const pair of node.items) {
      const keyNode = pair.key as Node | null;
      const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
      const p = [...path, key];
      lines.set(formatPath(p), { file, line: lineOf(keyNode) });
      out[key] = toPlain(pair.value as Node | null, p, file, lc, lines, env, issues, issueSources);
    }
    return out;
  }
  if (isSeq(node)) {
    return node.items.map((item, i) => {
      const p = [...path, String(i)];
      lines.set(formatPath(p), { file, line: lineOf(item as Node) });
      return toPlain(item as Node, p, file, lc, lines, env, issues, issueSources);
    });
  }
  if (isScalar(node)) {
    const v = node.value;
    if (typeof v === 'string') {
      return expandEnv(v, env, (msg) => {
        issueSources.set(issues.length, { file, line: lineOf(node) });
        issues.push({ path, message: msg, severity: 'error' });
      });
    }
    return v;
  }
  return null;
}

function deepMerge(a: unknown, b: unknown): unknown {
  if (isPlainObject(a) && isPlainObject(b)) {
    const out: Record<string, unknown> = { ...a };
    for (const [k, v] of Object.entries(b)) out[k] = k in out ? deepMerge(out[k], v) : v;
    return out;
  }
  return b;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export interface ConfigSource {
  /** Display name used in error locations (the file's base name). */
  name: string;
  text: string;
}

/** Parses and merges YAML sources in order. */
export function loadSources(sources: ConfigSource[], env: Env = process.env): RawConfig {
  const lines = new Map<string, Source>();
  const issues: Issue[] = [];
  const issueSources = new Map<number, Source>();
  let data: Record<string, unknown> = {};
  for (const src of sources) {
    const lc = new LineCounter();
    const doc = parseDocument(src.text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false });
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        // For a duplicate key the error range ends where the repeated key starts.
        const at = e.code === 'DUPLICATE_KEY' ? e.pos[1] : e.pos[0];
        const line = lc.linePos(at).line;
        issueSources.set(issues.length, { file: src.name, line });
        issues.push({ path: [], message: `YAML: ${e.message.split('\n')[0]}`, severity: 'error' });
      }
      continue;
    }
    const fileLines = new Map<string, Source>();
    const plain = toPlain(doc.contents as Node, [], src.name, lc, fileLines, env, issues, issueSources);
    if (plain === null || plain === undefined) continue;
    if (!isPlainObject(plain)) {
      issueSources.set(issues.length, { file: src.name, line: 1 });
      issues.push({ path: [], message: 'the config must be a map at the top level', severity: 'error' });
      continue;
    }
    data = deepMerge(data, plain) as Record<string, unknown>;
    for (const [k, v] of fileLines) lines.set(k, v);
  }
  return { data, lines, issues, issueSources };
}

/** Reads config files; unreadable files become issues. */
export function loadFiles(paths: string[], env: Env = process.env): RawConfig {
  const sources: ConfigSource[] = [];
  const early: Issue[] = [];
  for (const p of paths) {
    try {
      sources.push({ name: basename(p), text: readFileSync(p, 'utf8') });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      early.push({ path: [], message: `cannot read config file ${p}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`, severity: 'error' });
    }
  }
  const raw = loadSources(sources, env);
  raw.issues.unshift(...early);
  // Shift recorded issue sources by the number of early issues.
  if (early.length) {
    const shifted = new Map<number, Source>();
    for (const [i, s] of raw.issueSources) shifted.set(i + early.length, s);
    raw.issueSources = shifted;
  }
  return raw;
}

/** Finds the source line of a path, or of its nearest configured ancestor. */
export function sourceOf(lines: Map<string, Source>, path: readonly string[]): Source | undefined {
  for (let n = path.length; n > 0; n--) {
    const s = lines.get(formatPath(path.slice(0, n)));
    if (s) return s;
  }
  return undefined;
}

/** `exporters::loki::endpoint: must be ... (sieve.yaml:14)` */
export function formatIssue(issue: Issue, src: Source | undefined): string {
  const where = src ? ` (${src.file}:${src.line})` : '';
  const p = issue.path.length ? `${formatPath(issue.path)}: ` : '';
  return `${p}${issue.message}${where}`;
}
