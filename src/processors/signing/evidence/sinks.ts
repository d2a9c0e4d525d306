// Where manifests go: an append-only, size-rotated JSON lines file, and/or one
// log record per manifest to a logs exporter.
import { appendFileSync, closeSync, mkdirSync, openSync, readdirSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import type { Consumer, Host } from '../../../component/component.js';
import type { KeyValue } from '../../../pdata/model.js';
import { Telemetry } from '../../../pdata/telemetry.js';
import { MANIFEST_EVENT, type ManifestRecord } from './manifest.js';

export interface ManifestSink {
  write(rec: ManifestRecord): Promise<void> | void;
  close(): Promise<void> | void;
}

export interface FileSinkConfig {
  path: string;
  max_megabytes: number;
  max_backups: number;
}

/**
 * One manifest record per line, appended with a synchronous write so that a
 * manifest is on file before its batch is forwarded. When the file would
 * grow past max_megabytes it is renamed to `<name>-<last seq, 12 digits><ext>`
 * (names sort in stream order) and a new one is started; max_backups > 0
 * removes the oldest beyond that many.
 */
export class FileManifestSink implements ManifestSink {
  private size: number;
  private lastSeq = 0;

  constructor(private readonly cfg: FileSinkConfig) {
    mkdirSync(dirname(cfg.path), { recursive: true });
    closeSync(openSync(cfg.path, 'a', 0o644));
    this.size = statSync(cfg.path).size;
  }

  write(rec: ManifestRecord): void {
    const line = JSON.stringify(rec) + '\n';
    const max = this.cfg.max_megabytes * 1024 * 1024;
    if (max > 0 && this.size > 0 && this.size + line.length > max) this.rotate();
    appendFileSync(this.cfg.path, line);
    this.size += Buffer.byteLength(line);
    this.lastSeq = seqOf(rec);
  }

  private rotate(): void {
    const p = this.cfg.path;
    const ext = extname(p);
    const stem = basename(p, ext);
    const dir = dirname(p);
    let name = join(dir, `${stem}-${String(this.lastSeq).padStart(12, '0')}${ext}`);
    for (let i = 1; exists(name); i++) name = join(dir, `${stem}-${String(this.lastSeq).padStart(12, '0')}.${i}${ext}`);
    renameSync(p, name);
    this.size = 0;
    if (this.cfg.max_backups > 0) {
      const re = new RegExp(`^${escapeRe(stem)}-\\d{12}(\\.\\d+)?${escapeRe(ext)}$`);
      const backups = readdirSync(dir).filter((f) => re.test(f)).sort();
      for (const f of backups.slice(0, Math.max(0, backups.length - this.cfg.max_backups))) unlinkSync(join(dir, f));
    }
  }

  close(): void {}
}

function seqOf(rec: ManifestRecord): number {
  try {
    return (JSON.parse(Buffer.from(rec.envelope.payload, 'base64').toString()) as { seq: number }).seq;
  } catch {
    return 0;
  }
}

function exists(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A log record per manifest to a logs exporter: body = the manifest record
 * as JSON text (without leaves: a whole batch's leaves would exceed backend
 * line limits), event_name `sieve.evidence.manifest`.
 */
export class LogManifestSink implements ManifestSink {
  private exporter: Consumer | undefined;

  constructor(private readonly host: Host, private readonly id: string) {}

  private target(): Consumer {
    if (this.exporter) return this.exporter;
    // An exporter used by several signals has one instance per signal; the logs one is `id[logs]` unless it came first.
    const all = this.host.components();
    const c = all.get(`${this.id}[logs]`) ?? all.get(this.id);
    if (!c || c.kind !== 'exporter') throw new Error(`evidence.logs_exporter: no running exporter "${this.id}" (it must be used by a logs pipeline)`);
    return (this.exporter = c.component as unknown as Consumer);
  }

  async write(rec: ManifestRecord): Promise<void> {
    const body = JSON.stringify({ envelope: rec.envelope, ...(rec.timestamp ? { timestamp: rec.timestamp } : {}) });
    const now = BigInt(Date.now()) * 1_000_000n;
    const attrs: KeyValue[] = [{ key: 'service.name', value: { type: 'string', value: 'sieve' } }];
    const data = Telemetry.logs([
      {
        resource: { attributes: attrs, droppedAttributesCount: 0 },
        schemaUrl: '',
        scopeLogs: [
          {
            scope: { name: 'sieve.evidence', version: '1', attributes: [], droppedAttributesCount: 0 },
            schemaUrl: '',
            logRecords: [
              {
                timeUnixNano: now,
                observedTimeUnixNano: now,
                severityNumber: 9,
                severityText: 'INFO',
                body: { type: 'string', value: body },
                attributes: [],
                droppedAttributesCount: 0,
                flags: 0,
                traceId: new Uint8Array(0),
                spanId: new Uint8Array(0),
                eventName: MANIFEST_EVENT,
              },
            ],
          },
        ],
      },
    ]);
    await this.target().consume(data);
  }

  close(): void {}
}
