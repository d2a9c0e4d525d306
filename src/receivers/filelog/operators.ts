// The operator chain (the Collector's stanza operators): compiled once from
// the config into an array of steps; each step returns the index of the next
// step, or DROP. Parser failures follow the operator's `on_error`.
import type { Logger } from '../../service/logger.js';
import { goRegex, severityNumberOf, type OperatorConfig, type SeverityConfig, type TimestampConfig, type TraceConfig } from './config.js';
import { deleteField, getField, parseField, setField, type Entry, type Field } from './entry.js';
import { compileExpr, evalBool, type Expr } from './expr.js';
import { compileTimeParser, type TimeParser } from './time.js';

export const DROP = -1;

/** Compiled preset operators may remove the fields they parsed into the record (README: presets). */
export type CompilableOperator = OperatorConfig & { remove_parsed?: boolean };

export interface ChainStats {
  /** A parser or operator failed on a record (the record was sent on or dropped per on_error). */
  malformed(op: string, err: Error, quiet: boolean): void;
  /** A router matched no route and had no default. */
  unrouted(): void;
}

export class OperatorError extends Error {}

interface Step {
  id: string;
  run(e: Entry): number;
}

// ---------------------------------------------------------------- helpers

interface TsStep {
  field: Field;
  parse: TimeParser;
  remove: boolean;
}
function tsStep(t: TimestampConfig, remove: boolean): TsStep {
  return { field: parseField(t.parse_from), parse: compileTimeParser(t.layout_type, t.layout, t.location), remove };
}
function applyTs(s: TsStep, e: Entry): void {
  const v = getField(e, s.field);
  if (v === undefined) throw new OperatorError(`timestamp: ${s.field.text} is missing`);
  const ns = s.parse(v);
  if (ns === undefined) throw new OperatorError(`timestamp: cannot parse ${JSON.stringify(v)} from ${s.field.text}`);
  e.timestamp = ns;
  if (s.remove) deleteField(e, s.field);
}

const DEFAULT_SEVERITY: Record<string, string[]> = {
  trace: ['trace'],
  trace2: ['trace2'],
  trace3: ['trace3'],
  trace4: ['trace4'],
  debug: ['debug', 'dbg', 'd'],
  debug2: ['debug2'],
  debug3: ['debug3'],
  debug4: ['debug4'],
  info: ['info', 'information', 'informational', 'i'],
  info2: ['info2', 'notice'],
  info3: ['info3'],
  info4: ['info4'],
  warn: ['warn', 'warning', 'w'],
  warn2: ['warn2'],
  warn3: ['warn3'],
  warn4: ['warn4'],
  error: ['error', 'err', 'e'],
  error2: ['error2', 'critical', 'crit'],
  error3: ['error3', 'alert'],
  error4: ['error4'],
  fatal: ['fatal', 'emergency', 'emerg', 'panic', 'dpanic', 'f'],
  fatal2: ['fatal2'],
  fatal3: ['fatal3'],
  fatal4: ['fatal4'],
};
const SEVERITY_NAMES = ['', 'TRACE', 'TRACE2', 'TRACE3', 'TRACE4', 'DEBUG', 'DEBUG2', 'DEBUG3', 'DEBUG4', 'INFO', 'INFO2', 'INFO3', 'INFO4', 'WARN', 'WARN2', 'WARN3', 'WARN4', 'ERROR', 'ERROR2', 'ERROR3', 'ERROR4', 'FATAL', 'FATAL2', 'FATAL3', 'FATAL4'];

interface SevStep {
  field: Field;
  byText: Map<string, number>;
  ranges: { min: number; max: number; n: number }[];
  overwrite: boolean;
  remove: boolean;
}
function sevStep(c: SeverityConfig, remove: boolean): SevStep {
  const byText = new Map<string, number>();
  const ranges: SevStep['ranges'] = [];
  if (c.preset === 'default') for (const [name, vals] of Object.entries(DEFAULT_SEVERITY)) for (const v of vals) byText.set(v, severityNumberOf(name)!);
  for (const [name, v] of Object.entries(c.mapping)) {
    const n = severityNumberOf(name)!;
    for (const x of Array.isArray(v) ? v : [v]) {
      if (typeof x === 'string' || typeof x === 'number') byText.set(String(x).toLowerCase(), n);
      else if (x && typeof x === 'object') ranges.push({ min: Number((x as { min: number }).min), max: Number((x as { max: number }).max), n });
    }
  }
  return { field: parseField(c.parse_from), byText, ranges, overwrite: c.overwrite_text, remove };
}
function applySev(s: SevStep, e: Entry): void {
  const v = getField(e, s.field);
  if (v === undefined) throw new OperatorError(`severity: ${s.field.text} is missing`);
  const text = typeof v === 'string' ? v : String(v);
  let n = s.byText.get(text.toLowerCase());
  if (n === undefined && s.ranges.length) {
    const num = Number(v);
    if (Number.isFinite(num)) for (const r of s.ranges) if (num >= r.min && num <= r.max) n = r.n;
  }
  e.severity = n ?? 0;
  e.severityText = s.overwrite && n !== undefined ? SEVERITY_NAMES[n]! : text;
  if (s.remove) deleteField(e, s.field);
}

/**
 * Turns a trace or span id as logs carry it into its W3C bytes: hex of the
 * right length; a UUID (dashes removed, 32 hex) for a trace id; shorter hex
 * (e.g. a 64-bit trace id) left-padded with zeros. Anything else, or all
 * zeros, is not an id (undefined).
 */
export function normalizeId(v: unknown, bytes: 16 | 8): Uint8Array | undefined {
  if (typeof v !== 'string') return undefined;
  let h = v;
  if (bytes === 16 && h.length === 36 && h.charCodeAt(8) === 45 && h.charCodeAt(13) === 45 && h.charCodeAt(18) === 45 && h.charCodeAt(23) === 45) {
    h = h.slice(0, 8) + h.slice(9, 13) + h.slice(14, 18) + h.slice(19, 23) + h.slice(24);
  }
  const len = h.length;
  // Only whole bytes are padded: 16 hex → 32 (64-bit trace ids, as W3C/OTel propagate them).
  if (len === 0 || len > bytes * 2 || len % 2 !== 0) return undefined;
  const out = new Uint8Array(bytes);
  // Buffer.from(hex) stops at the first non-hex pair, so a short result means the text was not hex.
  const raw = Buffer.from(h, 'hex');
  if (raw.length * 2 !== len) return undefined;
  out.set(raw, bytes - raw.length);
  let zero = true;
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] !== 0) {
      zero = false;
      break;
    }
  }
  return zero ? undefined : out;
}

interface TraceStep {
  trace: Field;
  span: Field;
  flags: Field;
  remove: boolean;
}
function traceStep(c: TraceConfig, remove: boolean): TraceStep {
  return { trace: parseField(c.trace_id.parse_from), span: parseField(c.span_id.parse_from), flags: parseField(c.trace_flags.parse_from), remove };
}
function applyTrace(s: TraceStep, e: Entry): void {
  // A value that is no valid id stays where it is (an attribute) and fails nothing.
  const t = getField(e, s.trace);
  if (t !== undefined) {
    const id = normalizeId(t, 16);
    if (id) {
      e.traceId = id;
      if (s.remove) deleteField(e, s.trace);
    }
  }
  const sp = getField(e, s.span);
  if (sp !== undefined) {
    const id = normalizeId(sp, 8);
    if (id) {
      e.spanId = id;
      if (s.remove) deleteField(e, s.span);
    }
  }
  const f = getField(e, s.flags);
  if (f !== undefined) {
    const n = typeof f === 'number' ? f : typeof f === 'string' && /^[0-9a-fA-F]{1,2}$/.test(f) ? parseInt(f, 16) : NaN;
    if (Number.isInteger(n) && n >= 0 && n <= 255) {
      e.traceFlags = n;
      if (s.remove) deleteField(e, s.flags);
    }
  }
}

/** logfmt-style pairs: `k=v k2="quoted value"`; hand-written because a per-line regex costs ~3x (filelog.bench.ts). */
export function parseKeyValues(text: string, delimiter: string, pairDelimiter: string | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (pairDelimiter !== undefined && pairDelimiter !== ' ') {
    for (const pair of text.split(pairDelimiter)) {
      const p = pair.trim();
      if (p === '') continue;
      const i = p.indexOf(delimiter);
      if (i <= 0) throw new OperatorError(`key_value_parser: ${JSON.stringify(p.slice(0, 40))} has no ${JSON.stringify(delimiter)}`);
      out[unquote(p.slice(0, i).trim())] = unquote(p.slice(i + delimiter.length).trim());
    }
    return out;
  }
  const n = text.length;
  let i = 0;
  let pairs = 0;
  while (i < n) {
    while (i < n && isSpace(text.charCodeAt(i))) i++;
    if (i >= n) break;
    const ks = i;
    while (i < n && !text.startsWith(delimiter, i) && !isSpace(text.charCodeAt(i))) i++;
    const key = text.slice(ks, i);
    if (!text.startsWith(delimiter, i)) {
      // A bare word without a value is kept as a key with an empty value only when pairs came before it.
      if (key === '') break;
      throw new OperatorError(`key_value_parser: ${JSON.stringify(key.slice(0, 40))} has no ${JSON.stringify(delimiter)}`);
    }
    i += delimiter.length;
    let value: string;
    const q = text[i];
    if (q === '"' || q === "'") {
      let j = i + 1;
      let s = '';
      let start = j;
      while (j < n && text[j] !== q) {
        if (text[j] === '\\' && j + 1 < n) {
          s += text.slice(start, j) + text[j + 1];
          j += 2;
          start = j;
        } else j++;
      }
      if (j >= n) throw new OperatorError('key_value_parser: unterminated quote');
      value = s + text.slice(start, j);
      i = j + 1;
    } else {
      const vs = i;
      while (i < n && !isSpace(text.charCodeAt(i))) i++;
      value = text.slice(vs, i);
    }
    out[key] = value;
    pairs++;
  }
  if (pairs === 0) throw new OperatorError('key_value_parser: no key/value pairs');
  return out;
}
const isSpace = (c: number) => c === 32 || c === 9;
function unquote(s: string): string {
  if (s.length >= 2 && (s[0] === '"' || s[0] === "'") && s[s.length - 1] === s[0]) return s.slice(1, -1);
  return s;
}

function mergeInto(e: Entry, to: Field, parsed: Record<string, unknown>): void {
  if (to.keys.length === 0 && to.root === 'attributes') {
    const a = e.attributes;
    for (const k in parsed) a[k] = parsed[k];
  } else if (to.keys.length === 0 && to.root === 'resource') {
    const r = (e.resource ??= {});
    for (const k in parsed) r[k] = parsed[k];
  } else setField(e, to, parsed);
}

// ---------------------------------------------------------------- compile

export interface Chain {
  /** Runs the operators on an entry; false when it was dropped. */
  run(e: Entry): boolean;
  readonly length: number;
}

export function compileChain(ops: CompilableOperator[], stats: ChainStats): Chain {
  const index = new Map<string, number>();
  ops.forEach((o, i) => index.set(o.id ?? o.type, i));
  const resolve = (v: unknown, fallback: number): number => {
    const id = Array.isArray(v) ? v[0] : v;
    if (typeof id !== 'string') return fallback;
    const i = index.get(id);
    if (i === undefined) throw new Error(`output ${JSON.stringify(id)} names no operator`);
    return i;
  };
  const steps: Step[] = ops.map((o, i) => compileOne(o, resolve(o.output, i + 1), resolve, stats));
  const n = steps.length;
  return {
    length: n,
    run(e: Entry): boolean {
      let i = 0;
      let hops = 0;
      while (i < n) {
        i = steps[i]!.run(e);
        if (i === DROP) return false;
        // An output that points back makes a loop; cut it rather than spin.
        if (++hops > 4 * n + 16) return true;
      }
      return true;
    },
  };
}

function compileOne(o: CompilableOperator, next: number, resolve: (v: unknown, fb: number) => number, stats: ChainStats): Step {
  const id = o.id ?? o.type;
  const cond: Expr | undefined = o.if !== undefined ? compileExpr(o.if) : undefined;
  const onError = 'on_error' in o ? o.on_error : 'send';
  const quiet = onError === 'send_quiet' || onError === 'drop_quiet';
  const drops = onError === 'drop' || onError === 'drop_quiet';
  const remove = o.remove_parsed === true;
  const guard = (body: (e: Entry) => void): Step => ({
    id,
    run(e) {
      if (cond && !evalBool(cond, e)) return next;
      try {
        body(e);
      } catch (err) {
        stats.malformed(id, err as Error, quiet);
        return drops ? DROP : next;
      }
      return next;
    },
  });

  switch (o.type) {
    case 'json_parser':
    case 'regex_parser':
    case 'key_value_parser': {
      const from = parseField(o.parse_from);
      const to = parseField(o.parse_to);
      const ts = o.timestamp ? tsStep(o.timestamp, remove) : undefined;
      const sev = o.severity ? sevStep(o.severity, remove) : undefined;
      const tr = o.trace ? traceStep(o.trace, remove) : undefined;
      let parse: (text: string) => Record<string, unknown>;
      if (o.type === 'json_parser') {
        parse = (text) => {
          let v: unknown;
          try {
            v = JSON.parse(text);
          } catch (err) {
            throw new OperatorError(`json_parser: ${(err as Error).message}`);
          }
          if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new OperatorError('json_parser: the value is not a JSON object');
          return v as Record<string, unknown>;
        };
      } else if (o.type === 'regex_parser') {
        const re = new RegExp(goRegex(o.regex));
        parse = (text) => {
          const m = re.exec(text);
          if (!m || !m.groups) throw new OperatorError('regex_parser: the regex does not match');
          const out: Record<string, unknown> = {};
          for (const k in m.groups) if (m.groups[k] !== undefined) out[k] = m.groups[k];
          return out;
        };
      } else {
        const d = o.delimiter;
        const pd = o.pair_delimiter;
        parse = (text) => parseKeyValues(text, d, pd);
      }
      const bodyFrom = from.root === 'body' && from.keys.length === 0;
      return guard((e) => {
        const v = bodyFrom ? e.body : getField(e, from);
        if (typeof v !== 'string') {
          if (v !== null && typeof v === 'object' && !Array.isArray(v) && o.type === 'json_parser') {
            mergeInto(e, to, v as Record<string, unknown>);
          } else throw new OperatorError(`${o.type}: ${from.text} is ${v === undefined ? 'missing' : 'not a string'}`);
        } else mergeInto(e, to, parse(v));
        // The sub-parsers each fail on their own; the first failure is reported.
        let first: Error | undefined;
        if (ts) {
          try {
            applyTs(ts, e);
          } catch (err) {
            first ??= err as Error;
          }
        }
        if (sev) {
          try {
            applySev(sev, e);
          } catch (err) {
            first ??= err as Error;
          }
        }
        if (tr) applyTrace(tr, e);
        if (first) throw first;
      });
    }
    case 'time_parser': {
      const ts = tsStep(o, remove);
      return guard((e) => applyTs(ts, e));
    }
    case 'severity_parser': {
      const sev = sevStep(o, remove);
      return guard((e) => applySev(sev, e));
    }
    case 'trace_parser': {
      const tr = traceStep(o, remove);
      return guard((e) => applyTrace(tr, e));
    }
    case 'move': {
      const from = parseField(o.from);
      const to = parseField(o.to);
      return guard((e) => {
        const v = getField(e, from);
        if (v === undefined) throw new OperatorError(`move: ${from.text} is missing`);
        deleteField(e, from);
        setField(e, to, v);
      });
    }
    case 'copy': {
      const from = parseField(o.from);
      const to = parseField(o.to);
      return guard((e) => {
        const v = getField(e, from);
        if (v === undefined) throw new OperatorError(`copy: ${from.text} is missing`);
        setField(e, to, typeof v === 'object' && v !== null ? structuredClone(v) : v);
      });
    }
    case 'remove': {
      const f = parseField(o.field);
      return guard((e) => {
        deleteField(e, f);
      });
    }
    case 'add': {
      const f = parseField(o.field);
      const raw = o.value;
      const m = typeof raw === 'string' ? /^EXPR\((.*)\)$/s.exec(raw) : null;
      if (m) {
        const x = compileExpr(m[1]!);
        return guard((e) => setField(e, f, x(e)));
      }
      return guard((e) => setField(e, f, typeof raw === 'object' && raw !== null ? structuredClone(raw) : raw));
    }
    case 'router': {
      const routes = o.routes.map((r) => ({ expr: compileExpr(r.expr), out: resolve(r.output, next), attrs: Object.entries(r.attributes) }));
      const def = o.default === undefined || o.default === null ? undefined : resolve(o.default, next);
      return {
        id,
        run(e) {
          if (cond && !evalBool(cond, e)) return next;
          for (const r of routes) {
            if (evalBool(r.expr, e)) {
              for (const [k, v] of r.attrs) e.attributes[k] = v;
              return r.out;
            }
          }
          if (def !== undefined) return def;
          stats.unrouted();
          return DROP;
        },
      };
    }
    case 'noop':
      return { id, run: () => next };
  }
}

/** Logs malformed records without logging per record: the first one, then a summary at most once a minute. */
export function rateLimitedReporter(logger: Logger, what: string, intervalMs = 60_000): (err: Error, op: string) => void {
  let last = -Infinity;
  let suppressed = 0;
  return (err, op) => {
    const now = Date.now();
    if (now - last < intervalMs) {
      suppressed++;
      return;
    }
    last = now;
    logger.warn(what, { operator: op, error: err.message, ...(suppressed ? { suppressed_since_last: suppressed } : {}) });
    suppressed = 0;
  };
}
