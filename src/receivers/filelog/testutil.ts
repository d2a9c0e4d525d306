// Test helpers for the filelog receiver: build one from a config map, collect
// what it emits, and read records back as plain values.
import type { Consumer, CreateSettings, Host } from '../../component/component.js';
import { Issues } from '../../config/schema.js';
import type { AnyValue, LogRecord } from '../../pdata/model.js';
import type { Telemetry } from '../../pdata/telemetry.js';
import { nopLogger, type Logger } from '../../service/logger.js';
import { SelfTelemetry } from '../../service/telemetry.js';
import { filelogReceiverFactory } from './factory.js';
import { FilelogReceiver } from './receiver.js';

export function parseConfig(raw: Record<string, unknown>) {
  const issues = new Issues();
  const cfg = filelogReceiverFactory.schema.parse(raw, ['receivers', 'filelog'], issues);
  if (!issues.hasErrors()) filelogReceiverFactory.validate!(cfg, ['receivers', 'filelog'], issues);
  return { cfg, issues };
}

export interface Collected {
  records: LogRecord[];
  batches: number;
}

export function collector(opts: { fail?: () => Error | undefined } = {}): Consumer & Collected {
  const c = {
    records: [] as LogRecord[],
    batches: 0,
    mutatesData: false,
    async consume(d: Telemetry) {
      const err = opts.fail?.();
      if (err) throw err;
      c.batches++;
      for (const r of (d as Telemetry<'logs'>).read()) for (const s of r.scopeLogs) c.records.push(...s.logRecords);
    },
  };
  return c;
}

export function makeReceiver(raw: Record<string, unknown>, consumer: Consumer, opts: { telemetry?: SelfTelemetry; logger?: Logger; id?: string } = {}): { r: FilelogReceiver; telemetry: SelfTelemetry } {
  const { cfg, issues } = parseConfig(raw);
  if (issues.hasErrors()) throw new Error(issues.errors.map((i) => `${i.path.join('::')}: ${i.message}`).join('\n'));
  const telemetry = opts.telemetry ?? new SelfTelemetry();
  const settings: CreateSettings = { id: opts.id ?? 'filelog', kind: 'receiver', logger: opts.logger ?? nopLogger, telemetry, instanceId: 'test', now: Date.now };
  return { r: filelogReceiverFactory.create(settings, cfg, { logs: consumer }) as FilelogReceiver, telemetry };
}

export function plain(v: AnyValue): unknown {
  switch (v.type) {
    case 'string':
    case 'bool':
    case 'double':
      return v.value;
    case 'int':
      return Number(v.value);
    case 'bytes':
      return Buffer.from(v.value).toString('hex');
    case 'array':
      return v.value.map(plain);
    case 'kvlist':
      return Object.fromEntries(v.value.map((kv) => [kv.key, plain(kv.value)]));
    case 'empty':
      return null;
  }
}

export function attrs(r: LogRecord): Record<string, unknown> {
  return Object.fromEntries(r.attributes.map((kv) => [kv.key, plain(kv.value)]));
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

export function hostWith(ext: Record<string, unknown> = {}): Host {
  return {
    getExtension: (id) => ext[id] as never,
    components: () => new Map(),
    registerAdminRoute: () => undefined,
    logger: nopLogger,
    telemetry: new SelfTelemetry(),
  };
}
