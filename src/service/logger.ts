// The daemon's own logs: one JSON object per line, ECS-style field names.
// Nothing is ever logged once per item; components log per batch or per state change.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /** A logger whose lines carry these fields too (e.g. the component id). */
  child(fields: Record<string, unknown>): Logger;
  enabled(level: LogLevel): boolean;
}

export interface LoggerOptions {
  level?: LogLevel;
  write?: (line: string) => void;
}

export function createLogger(opts: LoggerOptions = {}, base: Record<string, unknown> = {}): Logger {
  const min = ORDER[opts.level ?? 'info'];
  const write = opts.write ?? ((line: string) => process.stderr.write(line));
  const emit = (level: LogLevel, message: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] < min) return;
    const rec: Record<string, unknown> = { '@timestamp': new Date().toISOString(), 'log.level': level, message, ...base };
    if (fields) {
      for (const [k, v] of Object.entries(fields)) {
        if (v instanceof Error) {
          rec['error.message'] = v.message;
          rec['error.type'] = (v as { code?: string }).code ?? v.name;
          if (level === 'debug' && v.stack) rec['error.stack_trace'] = v.stack;
        } else rec[k] = v;
      }
    }
    write(JSON.stringify(rec, bigintSafe) + '\n');
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger(opts, { ...base, ...fields }),
    enabled: (level) => ORDER[level] >= min,
  };
}

function bigintSafe(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}

/** A logger that drops everything (tests, benchmarks). */
export const nopLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return nopLogger;
  },
  enabled() {
    return false;
  },
};
