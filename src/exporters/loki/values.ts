// Rendering OTLP values as Loki label values, structured-metadata values and
// log lines.
import type { AnyValue, KeyValue } from '../../pdata/model.js';

/** A value as text, like pdata's Value.AsString: maps and lists become JSON. */
export function asString(v: AnyValue): string {
  switch (v.type) {
    case 'string':
      return v.value;
    case 'bool':
      return v.value ? 'true' : 'false';
    case 'int':
      return v.value.toString();
    case 'double':
      return formatDouble(v.value);
    case 'bytes':
      return Buffer.from(v.value.buffer, v.value.byteOffset, v.value.byteLength).toString('base64');
    case 'array':
    case 'kvlist':
      return JSON.stringify(toJs(v));
    default:
      return '';
  }
}

function formatDouble(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

/** A value as a plain JS value for JSON: maps become objects, int64 beyond 2^53 a string, bytes base64. */
export function toJs(v: AnyValue): unknown {
  switch (v.type) {
    case 'string':
    case 'bool':
      return v.value;
    case 'int': {
      const n = Number(v.value);
      return Number.isSafeInteger(n) ? n : v.value.toString();
    }
    case 'double':
      return Number.isFinite(v.value) ? v.value : formatDouble(v.value);
    case 'bytes':
      return Buffer.from(v.value.buffer, v.value.byteOffset, v.value.byteLength).toString('base64');
    case 'array':
      return v.value.map(toJs);
    case 'kvlist':
      return kvToJs(v.value);
    default:
      return null;
  }
}

export function kvToJs(kvs: readonly KeyValue[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const kv of kvs) o[kv.key] = toJs(kv.value);
  return o;
}

/** The line of a log record: `raw` keeps a string body as is, `json` and `logfmt` render it. */
export function renderLine(body: AnyValue, format: 'raw' | 'json' | 'logfmt'): string {
  switch (format) {
    case 'raw':
      return body.type === 'string' ? body.value : asString(body);
    case 'json':
      if (body.type === 'kvlist') return JSON.stringify(kvToJs(body.value));
      return JSON.stringify({ body: toJs(body) });
    case 'logfmt':
      if (body.type === 'kvlist') {
        let out = '';
        for (const kv of body.value) {
          if (out !== '') out += ' ';
          out += logfmtKey(kv.key) + '=' + logfmtValue(asString(kv.value));
        }
        return out;
      }
      return 'body=' + logfmtValue(asString(body));
  }
}

const LOGFMT_BARE = /^[^\s="\\\x00-\x1f\x7f]+$/;

export function logfmtValue(s: string): string {
  return LOGFMT_BARE.test(s) ? s : JSON.stringify(s);
}

function logfmtKey(k: string): string {
  return LOGFMT_BARE.test(k) ? k : k.replace(/[\s="\\\x00-\x1f\x7f]/g, '_') || '_';
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Lower-case hex of an id. */
export function hex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += HEX[b[i]!];
  return s;
}

const NAME_OK = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A label or structured-metadata name as Loki accepts it: `[a-zA-Z_][a-zA-Z0-9_]*`. Empty in, empty out. */
export function sanitizeName(name: string): string {
  if (NAME_OK.test(name)) return name;
  if (name === '') return '';
  const s = name.replace(/[^a-zA-Z0-9_]/g, '_');
  return /^[0-9]/.test(s) ? '_' + s : s;
}

/** A bounded cache in front of sanitizeName (attribute keys repeat across records). */
export class NameCache {
  private map = new Map<string, string>();
  constructor(private max = 4096) {}
  get(name: string): string {
    let v = this.map.get(name);
    if (v === undefined) {
      v = sanitizeName(name);
      if (this.map.size >= this.max) this.map.clear();
      this.map.set(name, v);
    }
    return v;
  }
}

/** Severity number → Loki's level names; severity text when the number is unset. */
export function levelOf(severityNumber: number, severityText: string): string {
  if (severityNumber >= 1 && severityNumber <= 24) return LEVELS[(severityNumber - 1) >> 2]!;
  if (severityText === '') return 'unknown';
  return TEXT_LEVELS[severityText.toLowerCase()] ?? 'unknown';
}
const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
const TEXT_LEVELS: Record<string, string> = {
  trace: 'trace',
  debug: 'debug',
  dbg: 'debug',
  info: 'info',
  information: 'info',
  informational: 'info',
  notice: 'info',
  warn: 'warn',
  warning: 'warn',
  error: 'error',
  err: 'error',
  fatal: 'fatal',
  critical: 'critical',
  crit: 'critical',
  emergency: 'fatal',
  alert: 'fatal',
  panic: 'fatal',
};

/** Cuts a string to at most `max` UTF-8 bytes without splitting a character. */
export function truncateUtf8(s: string, max: number): string {
  const b = Buffer.from(s, 'utf8');
  if (b.length <= max) return s;
  let end = max;
  while (end > 0 && (b[end]! & 0xc0) === 0x80) end--;
  return b.toString('utf8', 0, end);
}

/** UTF-8 length, skipping the count when the UTF-16 length already decides. */
export function exceedsUtf8(s: string, max: number): boolean {
  if (s.length > max) return true;
  if (s.length * 3 <= max) return false;
  return Buffer.byteLength(s, 'utf8') > max;
}
