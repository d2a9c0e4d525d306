import { s, type Infer, type Issues, type Schema } from '../../config/schema.js';
import { parseField } from './entry.js';
import { compileExpr } from './expr.js';
import { compileTimeParser, LAYOUT_TYPES } from './time.js';

export const PRESET_NAMES = ['ecs_json', 'python_json', 'logfmt'] as const;
export const ON_ERROR = ['send', 'send_quiet', 'drop', 'drop_quiet'] as const;
export const ENCODINGS = ['utf-8', 'utf8', 'utf-8-raw', 'ascii', 'us-ascii', 'utf-16le', 'utf-16be', 'nop'] as const;

const timestampSchema = s.object({
  parse_from: s.string('attributes.time'),
  layout_type: s.enum(LAYOUT_TYPES, 'strptime'),
  layout: s.string().optional(),
  /** Zone for layouts without one: `Local` (the Collector's default) or `UTC`. */
  location: s.enum(['Local', 'UTC'] as const, 'Local'),
});

const severitySchema = s.object({
  parse_from: s.string('attributes.severity'),
  /** `default` starts from the common level names; `none` uses only `mapping`. */
  preset: s.enum(['default', 'none'] as const, 'default'),
  /** Severity name (fatal, error4, warn, info, debug2, trace, ...) → the value, a list of values, or {min, max} ranges. */
  mapping: s.map(s.any()),
  /** Keep the original text in severity_text (default) or set the mapped name. */
  overwrite_text: s.bool(false),
});

const traceIdSchema = (def: string) => s.object({ parse_from: s.string(def) });
const traceSchema = s.object({
  trace_id: traceIdSchema('attributes.trace_id'),
  span_id: traceIdSchema('attributes.span_id'),
  trace_flags: traceIdSchema('attributes.trace_flags'),
});

const base = {
  id: s.string().optional(),
  output: s.any(),
  /** Runs the operator only when this expression is true (see README: expressions). */
  if: s.string().optional(),
};
const parserBase = {
  ...base,
  parse_from: s.string('body'),
  parse_to: s.string('attributes'),
  on_error: s.enum(ON_ERROR, 'send'),
  timestamp: s.presence(timestampSchema),
  severity: s.presence(severitySchema),
  trace: s.presence(traceSchema),
};

const op = <T extends string, F extends Record<string, Schema<any>>>(type: T, fields: F) => s.object({ type: s.enum<T>([type], type), ...fields });

export const OPERATOR_SCHEMAS = {
  json_parser: op('json_parser', parserBase),
  regex_parser: op('regex_parser', { ...parserBase, regex: s.string() }),
  key_value_parser: op('key_value_parser', { ...parserBase, delimiter: s.string('='), pair_delimiter: s.string().optional() }),
  move: op('move', { ...base, from: s.string(), to: s.string(), on_error: s.enum(ON_ERROR, 'send') }),
  copy: op('copy', { ...base, from: s.string(), to: s.string(), on_error: s.enum(ON_ERROR, 'send') }),
  remove: op('remove', { ...base, field: s.string(), on_error: s.enum(ON_ERROR, 'send') }),
  add: op('add', { ...base, field: s.string(), value: s.any(), on_error: s.enum(ON_ERROR, 'send') }),
  trace_parser: op('trace_parser', { ...base, ...traceSchema.fields, on_error: s.enum(ON_ERROR, 'send') }),
  time_parser: op('time_parser', { ...base, ...timestampSchema.fields, on_error: s.enum(ON_ERROR, 'send') }),
  severity_parser: op('severity_parser', { ...base, ...severitySchema.fields, on_error: s.enum(ON_ERROR, 'send') }),
  router: op('router', {
    ...base,
    routes: s.array(s.object({ expr: s.string(), output: s.string(), attributes: s.map(s.any()) })),
    default: s.any(),
  }),
  noop: op('noop', base),
} as const;

export type OperatorConfig = { [K in keyof typeof OPERATOR_SCHEMAS]: Infer<(typeof OPERATOR_SCHEMAS)[K]> }[keyof typeof OPERATOR_SCHEMAS];
export type TimestampConfig = Infer<typeof timestampSchema>;
export type SeverityConfig = Infer<typeof severitySchema>;
export type TraceConfig = Infer<typeof traceSchema>;

const operatorSchema = s.tagged<OperatorConfig>('type', OPERATOR_SCHEMAS);

export const filelogSchema = s.object({
  include: s.array(s.string()),
  exclude: s.array(s.string()),
  start_at: s.enum(['beginning', 'end'] as const, 'end'),
  poll_interval: s.duration('200ms'),
  /** A line (or multiline record) longer than this is cut to it; the cut is counted. */
  max_log_size: s.size(1024 * 1024),
  max_concurrent_files: s.int(1024, { min: 1 }),
  encoding: s.enum(ENCODINGS, 'utf-8'),
  include_file_name: s.bool(true),
  include_file_path: s.bool(false),
  include_file_name_resolved: s.bool(false),
  include_file_path_resolved: s.bool(false),
  /** Bytes at the start of a file that identify it across renames and restarts. */
  fingerprint_size: s.size(1000),
  /** `gzip`: every matched file is gzip; `auto`: files whose name ends in .gz are. */
  compression: s.enum(['', 'gzip', 'auto'] as const, ''),
  /** Emit a record that has no end yet (no newline, or an open multiline record) after this much quiet. */
  force_flush_period: s.duration('500ms'),
  multiline: s.presence(
    s.object({
      line_start_pattern: s.regex().optional(),
      line_end_pattern: s.regex().optional(),
      omit_pattern: s.bool(false),
    }),
  ),
  /** The id of a storage extension (file_storage[/name]) that keeps read offsets across restarts. */
  storage: s.string().optional(),
  /** Sieve: an operator list for a common log format (README: presets); operators run after it. */
  preset: s.enum(PRESET_NAMES).optional(),
  operators: s.array(operatorSchema),
  attributes: s.map(s.any()),
  resource: s.map(s.any()),
  /** Back-pressure from the pipeline: retryable refusals are retried (reading the file pauses), permanent ones drop the batch. */
  retry_on_failure: s.object({
    enabled: s.bool(true),
    initial_interval: s.duration('1s'),
    max_interval: s.duration('30s'),
    /** 0: retry without end (reading pauses while the pipeline refuses). */
    max_elapsed_time: s.duration('0s'),
  }),
  /** Sieve: records per batch handed to the pipeline, at most. */
  max_batch_size: s.int(1024, { min: 1 }),
});
export type FilelogConfig = Infer<typeof filelogSchema>;

const ROOTS_FOR_PARSE_TO = /^(body|attributes|resource)/;

export function validateFilelog(cfg: FilelogConfig, path: string[], issues: Issues): void {
  if (cfg.include.length === 0) issues.error([...path, 'include'], 'must list at least one file glob');
  cfg.include.forEach((g, i) => {
    if (g.trim() === '') issues.error([...path, 'include', String(i)], 'must not be empty');
  });
  if (cfg.fingerprint_size < 16) issues.error([...path, 'fingerprint_size'], 'must be at least 16 bytes');
  if (cfg.max_log_size < 1) issues.error([...path, 'max_log_size'], 'must be at least 1 byte');
  if (cfg.poll_interval <= 0) issues.error([...path, 'poll_interval'], 'must be more than 0');
  if (cfg.multiline) {
    const m = cfg.multiline;
    if (!m.line_start_pattern === !m.line_end_pattern) issues.error([...path, 'multiline'], 'needs exactly one of line_start_pattern and line_end_pattern');
  }
  if (cfg.storage !== undefined && !/^[a-z][a-z0-9_]*(\/.+)?$/.test(cfg.storage)) issues.error([...path, 'storage'], `must be an extension id such as file_storage or file_storage/name, got ${JSON.stringify(cfg.storage)}`);
  validateOperators(cfg.operators, [...path, 'operators'], issues);
}

function checkField(text: unknown, path: string[], issues: Issues): void {
  if (typeof text !== 'string') return;
  try {
    parseField(text);
  } catch (e) {
    issues.error(path, (e as Error).message);
  }
}

export function validateOperators(ops: OperatorConfig[], path: string[], issues: Issues): void {
  const ids = new Set<string>();
  ops.forEach((o, i) => {
    const id = o.id ?? o.type;
    if (ids.has(id)) issues.error([...path, String(i), 'id'], `duplicate operator id ${JSON.stringify(id)}; give each operator of the same type its own id`);
    ids.add(id);
  });
  ops.forEach((o, i) => {
    const p = [...path, String(i)];
    const outputs = (v: unknown, at: string[]) => {
      const list = v === undefined || v === null ? [] : Array.isArray(v) ? v : [v];
      for (const x of list) {
        if (typeof x !== 'string') issues.error(at, `must be an operator id or a list of them, got ${JSON.stringify(x)}`);
        else if (!ids.has(x)) issues.error(at, `names operator ${JSON.stringify(x)}, which is not in the list`);
      }
      if (list.length > 1) issues.error(at, 'more than one output is not supported; use a router');
    };
    outputs(o.output, [...p, 'output']);
    if (o.if !== undefined) {
      try {
        compileExpr(o.if);
      } catch (e) {
        issues.error([...p, 'if'], `invalid expression: ${(e as Error).message}`);
      }
    }
    const oc = o as Record<string, unknown>;
    for (const k of ['parse_from', 'from', 'to', 'field']) if (k in oc) checkField(oc[k], [...p, k], issues);
    if ('parse_to' in oc && typeof oc.parse_to === 'string') {
      checkField(oc.parse_to, [...p, 'parse_to'], issues);
      if (!ROOTS_FOR_PARSE_TO.test(oc.parse_to)) issues.error([...p, 'parse_to'], 'must be body, attributes or resource (or a field under them)');
    }
    const ts = (t: TimestampConfig | undefined, at: string[]) => {
      if (!t) return;
      checkField(t.parse_from, [...at, 'parse_from'], issues);
      if (t.layout_type !== 'iso8601' && !t.layout) issues.error([...at, 'layout'], `is required for layout_type ${t.layout_type}`);
      else {
        try {
          compileTimeParser(t.layout_type, t.layout, t.location);
        } catch (e) {
          issues.error([...at, 'layout'], (e as Error).message);
        }
      }
    };
    const sev = (sv: SeverityConfig | undefined, at: string[]) => {
      if (!sv) return;
      checkField(sv.parse_from, [...at, 'parse_from'], issues);
      for (const [name, v] of Object.entries(sv.mapping)) {
        if (severityNumberOf(name) === undefined) issues.error([...at, 'mapping', name], `unknown severity ${JSON.stringify(name)}; use trace, debug, info, warn, error or fatal, optionally with 2, 3 or 4`);
        const vals = Array.isArray(v) ? v : [v];
        vals.forEach((x, j) => {
          const ok = typeof x === 'string' || typeof x === 'number' || (typeof x === 'object' && x !== null && typeof (x as { min?: unknown }).min === 'number' && typeof (x as { max?: unknown }).max === 'number');
          if (!ok) issues.error([...at, 'mapping', name, ...(Array.isArray(v) ? [String(j)] : [])], 'must be a string, a number or {min, max}');
        });
      }
    };
    const tr = (t: TraceConfig | undefined, at: string[]) => {
      if (!t) return;
      for (const k of ['trace_id', 'span_id', 'trace_flags'] as const) checkField(t[k].parse_from, [...at, k, 'parse_from'], issues);
    };
    switch (o.type) {
      case 'json_parser':
      case 'regex_parser':
      case 'key_value_parser':
        ts(o.timestamp, [...p, 'timestamp']);
        sev(o.severity, [...p, 'severity']);
        tr(o.trace, [...p, 'trace']);
        if (o.type === 'regex_parser') {
          try {
            const re = new RegExp(goRegex(o.regex));
            if (!/\(\?<[A-Za-z_]/.test(re.source)) issues.error([...p, 'regex'], 'must have at least one named group, e.g. (?P<level>\\w+)');
          } catch (e) {
            issues.error([...p, 'regex'], `invalid regular expression: ${(e as Error).message}`);
          }
        }
        if (o.type === 'key_value_parser' && o.delimiter === '') issues.error([...p, 'delimiter'], 'must not be empty');
        break;
      case 'time_parser':
        ts(o, p);
        break;
      case 'severity_parser':
        sev(o, p);
        break;
      case 'trace_parser':
        tr(o, p);
        break;
      case 'add':
        if (o.value === undefined || o.value === null) issues.error([...p, 'value'], 'is required');
        break;
      case 'router':
        if (o.routes.length === 0) issues.error([...p, 'routes'], 'must have at least one route');
        o.routes.forEach((r, j) => {
          try {
            compileExpr(r.expr);
          } catch (e) {
            issues.error([...p, 'routes', String(j), 'expr'], `invalid expression: ${(e as Error).message}`);
          }
          if (r.output && !ids.has(r.output)) issues.error([...p, 'routes', String(j), 'output'], `names operator ${JSON.stringify(r.output)}, which is not in the list`);
        });
        outputs(o.default, [...p, 'default']);
        break;
    }
  });
}

/** Go's named groups (?P<name>…) in JavaScript syntax. */
export function goRegex(re: string): string {
  return re.replace(/\(\?P</g, '(?<');
}

const SEVERITY_BASE: Record<string, number> = { trace: 1, debug: 5, info: 9, warn: 13, error: 17, fatal: 21 };

export function severityNumberOf(name: string): number | undefined {
  const m = /^(trace|debug|info|warn|error|fatal)([234])?$/.exec(name.toLowerCase());
  if (!m) return undefined;
  return SEVERITY_BASE[m[1]!]! + (m[2] ? Number(m[2]) - 1 : 0);
}
