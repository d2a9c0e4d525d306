// probabilistic_sampler config: the Collector's keys (hash_seed mode) plus
// Sieve's severity exemption for logs.
import { s, type Infer, type Issues } from '../../config/schema.js';

/** OpenTelemetry severity numbers of the short names (TRACE=1 … FATAL=21; "ERROR2" = 18). */
const SEVERITY_BASE: Record<string, number> = { TRACE: 1, DEBUG: 5, INFO: 9, WARN: 13, ERROR: 17, FATAL: 21 };

/** A severity name ("ERROR", "warn3", "WARNING") or number (1-24) → severity number, or undefined. */
export function parseSeverity(v: string | number): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 1 && v <= 24 ? v : undefined;
  const t = v.trim().toUpperCase();
  if (/^\d+$/.test(t)) return parseSeverity(Number(t));
  const m = /^(TRACE|DEBUG|INFO|WARN(?:ING)?|ERROR|FATAL)([1-4])?$/.exec(t);
  if (!m) return undefined;
  const base = SEVERITY_BASE[m[1]!.startsWith('WARN') ? 'WARN' : m[1]!]!;
  return base + (m[2] ? Number(m[2]) - 1 : 0);
}

/** The severity number of a record: its number, else its text when that is a known name. */
export function recordSeverity(num: number, text: string): number {
  if (num > 0) return num;
  if (text === '') return 0;
  return parseSeverity(text) ?? 0;
}

export const configSchema = s.object({
  sampling_percentage: s.number(0, { min: 0, max: 100 }),
  hash_seed: s.int(0, { min: 0, max: 0xffffffff }),
  mode: s.enum(['', 'hash_seed', 'proportional', 'equalizing'] as const, ''),
  fail_closed: s.bool(true),
  sampling_precision: s.int(4, { min: 1, max: 14 }),
  attribute_source: s.enum(['traceID', 'record'] as const, 'traceID'),
  from_attribute: s.string(''),
  sampling_priority: s.string(''),
  /** Sieve: log records at or above this severity are always kept (e.g. ERROR). */
  keep_severity_at_least: s.string().optional(),
});

export type ProbabilisticSamplerConfig = Infer<typeof configSchema>;

export function validateConfig(cfg: ProbabilisticSamplerConfig, path: string[], issues: Issues): void {
  if (cfg.mode === 'proportional' || cfg.mode === 'equalizing') {
    issues.error([...path, 'mode'], `"${cfg.mode}" is not supported by Sieve; use mode: hash_seed (the default)`);
  }
  if (cfg.attribute_source === 'record' && cfg.from_attribute === '') {
    issues.error([...path, 'from_attribute'], 'is required when attribute_source is "record"');
  }
  if (cfg.keep_severity_at_least !== undefined && parseSeverity(cfg.keep_severity_at_least) === undefined) {
    issues.error(
      [...path, 'keep_severity_at_least'],
      `must be a severity name (TRACE, DEBUG, INFO, WARN, ERROR, FATAL, optionally followed by 1-4) or number 1-24, got ${JSON.stringify(cfg.keep_severity_at_least)}`,
    );
  }
}
