// A small declarative schema for component configs. A schema gives the
// defaults, checks types and ranges, rejects unknown keys, and collects every
// problem with its path instead of stopping at the first one.
//
//   const schema = s.object({
//     endpoint: s.endpoint('127.0.0.1:4317'),
//     timeout: s.duration('5s'),
//     headers: s.map(s.string()),
//   });
//   type Config = Infer<typeof schema>;

export type Severity = 'error' | 'warning';

export interface Issue {
  /** Path from the config root, e.g. ['exporters', 'otlp/tempo', 'endpoint']. */
  path: string[];
  message: string;
  severity: Severity;
}

export class Issues {
  readonly list: Issue[] = [];
  error(path: readonly string[], message: string): void {
    this.list.push({ path: [...path], message, severity: 'error' });
  }
  warn(path: readonly string[], message: string): void {
    this.list.push({ path: [...path], message, severity: 'warning' });
  }
  get errors(): Issue[] {
    return this.list.filter((i) => i.severity === 'error');
  }
  get warnings(): Issue[] {
    return this.list.filter((i) => i.severity === 'warning');
  }
  hasErrors(): boolean {
    return this.list.some((i) => i.severity === 'error');
  }
}

export function formatPath(path: readonly string[]): string {
  return path.join('::');
}

export abstract class Schema<T> {
  /** Parses `v` (undefined when the key is absent). Never throws; reports to `issues`. */
  abstract parse(v: unknown, path: string[], issues: Issues): T;
  /** Human description of the expected type, for error messages. */
  abstract describe(): string;
  /** Extra checks on the parsed value; return an error message or undefined. */
  check(fn: (v: T) => string | undefined): Schema<T> {
    return new Checked(this, fn);
  }
  optional(): Schema<T | undefined> {
    return new Optional(this);
  }
  default(value: T): Schema<T> {
    return new Defaulted(this, value);
  }
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

class Checked<T> extends Schema<T> {
  constructor(private inner: Schema<T>, private fn: (v: T) => string | undefined) {
    super();
  }
  parse(v: unknown, path: string[], issues: Issues): T {
    const before = issues.list.length;
    const out = this.inner.parse(v, path, issues);
    if (issues.list.length === before && out !== undefined) {
      const msg = this.fn(out);
      if (msg) issues.error(path, msg);
    }
    return out;
  }
  describe(): string {
    return this.inner.describe();
  }
}

class Optional<T> extends Schema<T | undefined> {
  constructor(private inner: Schema<T>) {
    super();
  }
  parse(v: unknown, path: string[], issues: Issues): T | undefined {
    if (v === undefined || v === null) return undefined;
    return this.inner.parse(v, path, issues);
  }
  describe(): string {
    return this.inner.describe();
  }
}

class Defaulted<T> extends Schema<T> {
  constructor(private inner: Schema<T>, private value: T) {
    super();
  }
  parse(v: unknown, path: string[], issues: Issues): T {
    if (v === undefined || v === null) return cloneDefault(this.value);
    return this.inner.parse(v, path, issues);
  }
  describe(): string {
    return this.inner.describe();
  }
}

function cloneDefault<T>(v: T): T {
  return typeof v === 'object' && v !== null ? structuredClone(v) : v;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  return `${typeof v} ${JSON.stringify(v)}`;
}

class StringSchema extends Schema<string> {
  constructor(private opts: { enum?: readonly string[]; nonEmpty?: boolean } = {}) {
    super();
  }
  parse(v: unknown, path: string[], issues: Issues): string {
    if (v === undefined || v === null) {
      issues.error(path, 'is required');
      return '';
    }
    // YAML turns unquoted scalars like 10 or true into numbers and booleans; accept them as strings.
    if (typeof v === 'number' || typeof v === 'boolean') v = String(v);
    if (typeof v !== 'string') {
      issues.error(path, `must be ${this.describe()}, got ${typeName(v)}`);
      return '';
    }
    if (this.opts.enum && !this.opts.enum.includes(v)) {
      issues.error(path, `must be one of ${this.opts.enum.map((e) => JSON.stringify(e)).join(', ')}, got ${JSON.stringify(v)}`);
    } else if (this.opts.nonEmpty && v === '') {
      issues.error(path, 'must not be empty');
    }
    return v;
  }
  describe(): string {
    return this.opts.enum ? `one of ${this.opts.enum.join(', ')}` : 'a string';
  }
}

class NumberSchema extends Schema<number> {
  constructor(private opts: { min?: number; max?: number; integer?: boolean } = {}) {
    super();
  }
  parse(v: unknown, path: string[], issues: Issues): number {
    if (v === undefined || v === null) {
      issues.error(path, 'is required');
      return 0;
    }
    let n = v;
    // Numbers with digit separators (100_000), as the Collector's YAML parser accepts them.
    if (typeof n === 'string' && /^[+-]?\d+(_\d+)+$/.test(n.trim())) n = n.replace(/_/g, '');
    if (typeof n === 'string' && n.trim() !== '' && Number.isFinite(Number(n))) n = Number(n);
    if (typeof n !== 'number' || Number.isNaN(n)) {
      issues.error(path, `must be ${this.describe()}, got ${typeName(v)}`);
      return 0;
    }
    if (this.opts.integer && !Number.isInteger(n)) issues.error(path, `must be an integer, got ${n}`);
    else if (this.opts.min !== undefined && n < this.opts.min) issues.error(path, `must be at least ${this.opts.min}, got ${n}`);
    else if (this.opts.max !== undefined && n > this.opts.max) issues.error(path, `must be at most ${this.opts.max}, got ${n}`);
    return n;
  }
  describe(): string {
    return this.opts.integer ? 'an integer' : 'a number';
  }
}

class BoolSchema extends Schema<boolean> {
  parse(v: unknown, path: string[], issues: Issues): boolean {
    if (v === undefined || v === null) {
      issues.error(path, 'is required');
      return false;
    }
    if (v === 'true') return true;
    if (v === 'false') return false;
    if (typeof v !== 'boolean') {
      issues.error(path, `must be true or false, got ${typeName(v)}`);
      return false;
    }
    return v;
  }
  describe(): string {
    return 'true or false';
  }
}

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses a Go-style duration ("1m30s", "200ms", "0") into milliseconds. */
export function parseDuration(text: string): number | undefined {
  const t = text.trim();
  if (t === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(t)) !== null) {
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    matched = re.lastIndex;
  }
  if (matched === 0 || matched !== t.length) return undefined;
  return total;
}

class DurationSchema extends Schema<number> {
  parse(v: unknown, path: string[], issues: Issues): number {
    if (v === undefined || v === null) {
      issues.error(path, 'is required');
      return 0;
    }
    if (typeof v === 'number' && v >= 0) {
      // A bare number is nanoseconds in the Collector (Go time.Duration); 0 is common.
      return v / 1e6;
    }
    if (typeof v === 'string') {
      const ms = parseDuration(v);
      if (ms !== undefined) return ms;
    }
    issues.error(path, `must be a duration such as "5s", "200ms" or "1m30s", got ${typeName(v)}`);
    return 0;
  }
  describe(): string {
    return 'a duration';
  }
}

const SIZE_UNITS: Record<string, number> = {
  '': 1, b: 1, k: 1e3, kb: 1e3, ki: 1024, kib: 1024, m: 1e6, mb: 1e6, mi: 1024 ** 2, mib: 1024 ** 2, g: 1e9, gb: 1e9, gi: 1024 ** 3, gib: 1024 ** 3,
};

class SizeSchema extends Schema<number> {
  parse(v: unknown, path: string[], issues: Issues): number {
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
    if (typeof v === 'string') {
      const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(v);
      const mult = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
      if (m && mult !== undefined) return Math.round(Number(m[1]) * mult);
    }
    issues.error(path, `must be a size in bytes such as 20971520 or "20MiB", got ${typeName(v)}`);
    return 0;
  }
  describe(): string {
    return 'a size in bytes';
  }
}

/** host:port, [ipv6]:port or :port. */
export function isHostPort(v: string): boolean {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]*):(\d{1,5})$/.exec(v);
  return !!m && Number(m[2]) <= 65535;
}

export function isHttpUrl(v: string): boolean {
  try {
    const u = new URL(v);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.host !== '';
  } catch {
    return false;
  }
}

type Fields = Record<string, Schema<any>>;
type ObjectOf<F extends Fields> = { [K in keyof F]: Infer<F[K]> };

export class ObjectSchema<F extends Fields> extends Schema<ObjectOf<F>> {
  constructor(readonly fields: F, private opts: { allowUnknown?: boolean; required?: boolean } = {}) {
    super();
  }
  parse(v: unknown, path: string[], issues: Issues): ObjectOf<F> {
    if (v === undefined || v === null) v = {};
    if (typeof v !== 'object' || Array.isArray(v)) {
      issues.error(path, `must be a map, got ${typeName(v)}`);
      v = {};
    }
    const src = v as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const [k, schema] of Object.entries(this.fields)) {
      out[k] = schema.parse(src[k], [...path, k], issues);
    }
    if (!this.opts.allowUnknown) {
      for (const k of Object.keys(src)) {
        if (!(k in this.fields)) {
          const known = Object.keys(this.fields);
          issues.error([...path, k], `unknown key "${k}"${suggest(k, known)}`);
        }
      }
    }
    return out as ObjectOf<F>;
  }
  describe(): string {
    return 'a map';
  }
  /** A new object schema with more fields. */
  extend<G extends Fields>(more: G): ObjectSchema<F & G> {
    return new ObjectSchema({ ...this.fields, ...more } as F & G, this.opts);
  }
}

function suggest(k: string, known: string[]): string {
  let best: string | undefined;
  let bestD = 3;
  for (const c of known) {
    if (c.length > k.length && c.startsWith(k) && c.length - k.length <= 4) return ` (did you mean "${c}"?)`;
    const d = editDistance(k, c);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best ? ` (did you mean "${best}"?)` : known.length ? `; valid keys: ${known.join(', ')}` : '';
}

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length]!;
}

class ArraySchema<T> extends Schema<T[]> {
  constructor(private item: Schema<T>, private opts: { minItems?: number } = {}) {
    super();
  }
  parse(v: unknown, path: string[], issues: Issues): T[] {
    if (v === undefined || v === null) v = [];
    if (!Array.isArray(v)) {
      issues.error(path, `must be a list, got ${typeName(v)}`);
      return [];
    }
    if (this.opts.minItems !== undefined && v.length < this.opts.minItems) {
      issues.error(path, `must have at least ${this.opts.minItems} item${this.opts.minItems === 1 ? '' : 's'}`);
    }
    return v.map((x, i) => this.item.parse(x, [...path, String(i)], issues));
  }
  describe(): string {
    return 'a list';
  }
}

class MapSchema<T> extends Schema<Record<string, T>> {
  constructor(private value: Schema<T>) {
    super();
  }
  parse(v: unknown, path: string[], issues: Issues): Record<string, T> {
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v)) {
      issues.error(path, `must be a map, got ${typeName(v)}`);
      return {};
    }
    const out: Record<string, T> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = this.value.parse(x, [...path, k], issues);
    return out;
  }
  describe(): string {
    return 'a map';
  }
}

/** A block that is enabled by being present, even with no value (`grpc:`); absent means off. */
class PresenceSchema<T> extends Schema<T | undefined> {
  constructor(private inner: Schema<T>) {
    super();
  }
  parse(v: unknown, path: string[], issues: Issues): T | undefined {
    if (v === undefined) return undefined;
    return this.inner.parse(v === null ? {} : v, path, issues);
  }
  describe(): string {
    return this.inner.describe();
  }
}

class AnySchema extends Schema<unknown> {
  parse(v: unknown): unknown {
    return v;
  }
  describe(): string {
    return 'any value';
  }
}

/** A union discriminated by one key (e.g. a tail-sampling policy's `type`). */
class TaggedSchema<T> extends Schema<T> {
  constructor(private tag: string, private variants: Record<string, Schema<any>>) {
    super();
  }
  parse(v: unknown, path: string[], issues: Issues): T {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      issues.error(path, `must be a map, got ${typeName(v)}`);
      return {} as T;
    }
    const t = (v as Record<string, unknown>)[this.tag];
    if (typeof t !== 'string' || !(t in this.variants)) {
      issues.error([...path, this.tag], `must be one of ${Object.keys(this.variants).join(', ')}, got ${typeName(t)}`);
      return v as T;
    }
    return this.variants[t]!.parse(v, path, issues) as T;
  }
  describe(): string {
    return 'a map';
  }
}

class RegexSchema extends Schema<string> {
  parse(v: unknown, path: string[], issues: Issues): string {
    const str = new StringSchema().parse(v, path, issues);
    try {
      new RegExp(str);
    } catch (e) {
      issues.error(path, `invalid regular expression ${JSON.stringify(str)}: ${(e as Error).message}`);
    }
    return str;
  }
  describe(): string {
    return 'a regular expression';
  }
}

/** `N` (1..64) or `auto` (one per available CPU). */
class WorkersSchema extends Schema<number | 'auto'> {
  parse(v: unknown, path: string[], issues: Issues): number | 'auto' {
    if (v === undefined || v === null) return 1;
    if (v === 'auto') return 'auto';
    if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 64) return v;
    if (typeof v === 'string' && /^[0-9]+$/.test(v) && Number(v) >= 1 && Number(v) <= 64) return Number(v);
    issues.error(path, `must be a whole number from 1 to 64, or "auto", got ${JSON.stringify(v)}`);
    return 1;
  }
  describe(): string {
    return 'a number of workers or "auto"';
  }
}

export const s = {
  workers: () => new WorkersSchema(),
  string: (def?: string, opts?: { enum?: readonly string[]; nonEmpty?: boolean }) =>
    def === undefined ? new StringSchema(opts) : new StringSchema(opts).default(def),
  enum: <E extends string>(values: readonly E[], def?: E) =>
    (def === undefined ? new StringSchema({ enum: values }) : new StringSchema({ enum: values }).default(def)) as unknown as Schema<E>,
  number: (def?: number, opts?: { min?: number; max?: number }) =>
    def === undefined ? new NumberSchema(opts) : new NumberSchema(opts).default(def),
  int: (def?: number, opts?: { min?: number; max?: number }) =>
    def === undefined ? new NumberSchema({ ...opts, integer: true }) : new NumberSchema({ ...opts, integer: true }).default(def),
  bool: (def?: boolean) => (def === undefined ? new BoolSchema() : new BoolSchema().default(def)),
  /** A duration, parsed to milliseconds. */
  duration: (def?: string) => {
    const d = new DurationSchema();
    return def === undefined ? d : d.default(parseDuration(def)!);
  },
  /** A byte size, parsed to bytes. */
  size: (def?: number) => (def === undefined ? new SizeSchema() : new SizeSchema().default(def)),
  /** host:port */
  endpoint: (def?: string) => {
    const e = new StringSchema().check((v) => (isHostPort(v) ? undefined : `must be host:port, got ${JSON.stringify(v)}`));
    return def === undefined ? e : e.default(def);
  },
  /** http(s)://host[:port][/path] */
  url: (def?: string) => {
    const e = new StringSchema().check((v) => (isHttpUrl(v) ? undefined : `must be an http:// or https:// URL, got ${JSON.stringify(v)}`));
    return def === undefined ? e : e.default(def);
  },
  regex: () => new RegexSchema(),
  object: <F extends Fields>(fields: F, opts?: { allowUnknown?: boolean }) => new ObjectSchema(fields, opts),
  array: <T>(item: Schema<T>, opts?: { minItems?: number }) => new ArraySchema(item, opts),
  map: <T>(value: Schema<T>) => new MapSchema(value),
  any: () => new AnySchema(),
  /** Present (even empty) means on with defaults; absent means off. */
  presence: <T>(inner: Schema<T>) => new PresenceSchema(inner),
  tagged: <T>(tag: string, variants: Record<string, Schema<any>>) => new TaggedSchema<T>(tag, variants),
};
