// Writes export requests to a file: JSON lines or length-prefixed protobuf,
// rotating by size and keeping `max_backups` old files. One writer serves every
// signal of one exporter id, so all signals share the file as in the Collector.
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import type { CreateSettings, ConsumeResult, ExporterComponent } from '../../component/component.js';
import { unavailableError } from '../../component/errors.js';
import { CODECS } from '../../pdata/codec.js';
import type { Signal } from '../../pdata/model.js';
import type { Telemetry } from '../../pdata/telemetry.js';
import type { FileConfig } from './factory.js';
import { TamperEvidentLog } from '../../processors/signing/tamper.js';

/** Serialises one batch into the bytes appended to the file (with its chain link in tamper-evident mode). */
export function encodeRecord(format: FileConfig['format'], data: Telemetry, chain?: TamperEvidentLog): Buffer {
  if (format === 'proto') {
    const body = data.toProto();
    const out = Buffer.allocUnsafe(4 + body.length);
    out.writeUInt32BE(body.length, 0);
    out.set(body, 4);
    return out;
  }
  const json = CODECS[data.signal].encodeJson(data.read() as never);
  return Buffer.from((chain ? chain.line(json) : json) + '\n');
}

/** The file writer: ordered appends, size-based rotation. */
export class FileWriter {
  private fd: number | undefined;
  private size = 0;
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  refs = 0;
  /** tamper_evident: the line chain, open while the file is. */
  chain: TamperEvidentLog | undefined;

  constructor(readonly cfg: FileConfig) {}

  open(settings?: CreateSettings): void {
    if (this.fd !== undefined) return;
    mkdirSync(dirname(this.cfg.path), { recursive: true });
    if (this.cfg.tamper_evident.enabled && settings) this.chain = TamperEvidentLog.open(settings, this.cfg.tamper_evident, this.cfg.path);
    this.fd = openSync(this.cfg.path, this.cfg.append ? 'a' : 'w');
    this.size = this.cfg.append ? statSync(this.cfg.path).size : 0;
    if (this.cfg.flush_interval > 0) {
      this.timer = setInterval(() => this.flush(), this.cfg.flush_interval);
      this.timer.unref();
    }
  }

  /** Appends a record; rotates first when it would pass max_megabytes. */
  append(rec: Buffer): void {
    if (this.fd === undefined) throw unavailableError('file exporter is not open', 1000);
    const max = this.cfg.rotation ? this.cfg.rotation.max_megabytes * 1024 * 1024 : 0;
    if (max > 0 && this.size > 0 && this.size + this.bufferedBytes + rec.length > max) {
      this.flush();
      this.rotate();
    }
    this.buffered.push(rec);
    this.bufferedBytes += rec.length;
    if (this.cfg.flush_interval === 0 || this.bufferedBytes >= 1 << 20) this.flush();
  }

  flush(): void {
    if (this.fd === undefined || this.buffered.length === 0) return;
    const buf = this.buffered.length === 1 ? this.buffered[0]! : Buffer.concat(this.buffered, this.bufferedBytes);
    this.buffered = [];
    this.bufferedBytes = 0;
    let off = 0;
    while (off < buf.length) off += writeSync(this.fd, buf, off);
    this.size += buf.length;
    this.chain?.committed();
  }

  /** Name of a rotated file: name-2006-01-02T15-04-05.000.ext */
  private backupName(): string {
    const ext = extname(this.cfg.path);
    const base = basename(this.cfg.path, ext);
    const local = this.cfg.rotation?.localtime;
    // Names sort in rotation order: a name already taken moves the stamp on by a millisecond.
    for (let t = Date.now(); ; t++) {
      const d = new Date(local ? t - new Date(t).getTimezoneOffset() * 60000 : t);
      const name = join(dirname(this.cfg.path), `${base}-${d.toISOString().replace(/:/g, '-').replace('Z', '')}${ext}`);
      if (!exists(name)) return name;
    }
  }

  private rotate(): void {
    closeSync(this.fd!);
    renameSync(this.cfg.path, this.backupName());
    this.fd = openSync(this.cfg.path, 'w');
    this.size = 0;
    this.prune();
  }

  /** Removes backups beyond max_backups and older than max_days. */
  private prune(): void {
    const r = this.cfg.rotation;
    if (!r) return;
    const backups = listBackups(this.cfg.path);
    const now = Date.now();
    backups.forEach((f, i) => {
      const tooMany = r.max_backups > 0 && i < backups.length - r.max_backups;
      const tooOld = r.max_days > 0 && now - statSync(f).mtimeMs > r.max_days * 86400_000;
      if (tooMany || tooOld) unlinkSync(f);
    });
  }

  close(): void {
    if (this.fd === undefined) return;
    if (this.timer) clearInterval(this.timer);
    this.flush();
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = undefined;
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

/** Rotated backups of `path`, oldest first. */
export function listBackups(path: string): string[] {
  const ext = extname(path);
  const base = basename(path, ext);
  const dir = dirname(path);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n !== basename(path) && n.startsWith(`${base}-`) && n.endsWith(ext))
    .sort()
    .map((n) => join(dir, n));
}

const writers = new Map<string, FileWriter>();

export class FileExporter implements ExporterComponent {
  readonly mutatesData = false;
  private started = false;
  private stopped = false;

  /** All signals of one exporter id write through one FileWriter. */
  static shared(settings: CreateSettings, cfg: FileConfig, signal: Signal): FileExporter {
    const key = `${settings.instanceId}\u0000${settings.id}\u0000${cfg.path}`;
    let w = writers.get(key);
    if (!w) {
      w = new FileWriter(cfg);
      writers.set(key, w);
    }
    return new FileExporter(settings, w, signal, () => writers.delete(key));
  }

  constructor(private settings: CreateSettings, private writer: FileWriter, private signal: Signal, private onLastClose: () => void) {}

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    if (this.writer.refs++ === 0) this.writer.open(this.settings);
  }

  async consume(data: Telemetry): Promise<ConsumeResult> {
    if (this.stopped) throw unavailableError('file exporter is shut down', 1000);
    const n = data.itemCount();
    try {
      this.writer.append(encodeRecord(this.writer.cfg.format, data, this.writer.chain));
    } catch (e) {
      this.settings.telemetry.counter(`otelcol_exporter_send_failed_${unitOf(this.signal)}`, 'Items that failed to be sent.', ['exporter']).inc({ exporter: this.settings.id }, n);
      throw unavailableError(`cannot write ${this.writer.cfg.path}: ${(e as Error).message}`, 5000, 'SIEVE_ERR_FILE_WRITE', e);
    }
    this.settings.telemetry.counter(`otelcol_exporter_sent_${unitOf(this.signal)}`, 'Items successfully sent.', ['exporter']).inc({ exporter: this.settings.id }, n);
  }

  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (!this.started) return;
    if (--this.writer.refs === 0) {
      this.writer.close();
      await this.writer.chain?.close();
      this.onLastClose();
    } else {
      this.writer.flush();
    }
  }
}

function unitOf(signal: Signal): string {
  return signal === 'traces' ? 'spans' : signal === 'metrics' ? 'metric_points' : 'log_records';
}
