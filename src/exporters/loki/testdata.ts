// Builders for log batches in tests and benchmarks.
import type { AnyValue, KeyValue, LogRecord, ResourceLogs } from '../../pdata/model.js';

export function str(value: string): AnyValue {
  return { type: 'string', value };
}

export function attrs(o: Record<string, string | number | boolean | AnyValue>): KeyValue[] {
  return Object.entries(o).map(([key, v]) => ({
    key,
    value:
      typeof v === 'string'
        ? str(v)
        : typeof v === 'boolean'
          ? { type: 'bool', value: v }
          : typeof v === 'number'
            ? Number.isInteger(v)
              ? { type: 'int', value: BigInt(v) }
              : { type: 'double', value: v }
            : v,
  }));
}

export function record(p: Partial<Omit<LogRecord, 'body'>> & { body?: AnyValue | string } = {}): LogRecord {
  return {
    timeUnixNano: p.timeUnixNano ?? 0n,
    observedTimeUnixNano: p.observedTimeUnixNano ?? 0n,
    severityNumber: p.severityNumber ?? 0,
    severityText: p.severityText ?? '',
    body: typeof p.body === 'string' ? str(p.body) : (p.body ?? { type: 'empty' }),
    attributes: p.attributes ?? [],
    droppedAttributesCount: 0,
    flags: p.flags ?? 0,
    traceId: p.traceId ?? new Uint8Array(0),
    spanId: p.spanId ?? new Uint8Array(0),
    eventName: p.eventName ?? '',
  };
}

export function resourceLogs(resource: Record<string, string | number | boolean | AnyValue>, records: LogRecord[], scope = { name: '', version: '' }): ResourceLogs {
  return {
    resource: { attributes: attrs(resource), droppedAttributesCount: 0 },
    scopeLogs: [{ scope: { name: scope.name, version: scope.version, attributes: [], droppedAttributesCount: 0 }, logRecords: records, schemaUrl: '' }],
    schemaUrl: '',
  };
}

/** Nanoseconds for `ms` since the epoch. */
export function ns(ms: number): bigint {
  return BigInt(ms) * 1_000_000n;
}
