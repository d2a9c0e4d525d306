// The filelog receiver: tails the files matched by `include` (minus `exclude`),
// splits them into records, runs the operator chain and hands batches of log
// records to the pipeline.
//
// A file is known by its fingerprint, its first `fingerprint_size` bytes, not
// by its name: a file renamed by rotation (app.log → app.log.1) or copied
// before a truncation (copytruncate) is recognised under its new name and read
// on from where it was, and the new app.log is a new file read from its start.
//
// Each file has at most one batch in flight. Its offset advances only after
// the pipeline accepted the batch, and with `storage` the offsets are written
// to the storage extension before the next batch of that file is read. After a
// restart or kill -9, reading resumes at the stored offsets: at-least-once, and
// at most one batch per file is sent again.
import { basename } from 'node:path';
import { open, realpath, stat, type FileHandle } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { Readable } from 'node:stream';
import { glob } from 'tinyglobby';
import type { Component, Consumer, CreateSettings, Host } from '../../component/component.js';
import { isPermanent, type ConsumerError } from '../../component/errors.js';
import type { LogRecord, ResourceLogs } from '../../pdata/model.js';
import { Telemetry } from '../../pdata/telemetry.js';
import { isRecordStore, type RecordStore } from '../../durable/store.js';
import type { FilelogConfig } from './config.js';
import { resourceKey, toKeyValues, toLogRecord, type Entry } from './entry.js';
import { compileChain, rateLimitedReporter, type Chain, type CompilableOperator } from './operators.js';
import { expandPreset } from './presets.js';
import { normalizeEncoding, Splitter, type Encoding, type Rec } from './split.js';

/** Bytes read per read call. 256 KiB: fewer, larger reads; beyond it no gain in bench/filelog.ts. */
const READ_CHUNK = 256 * 1024;
/** Polls a file that left the glob is remembered, so a rename back into it is recognised. */
const REMEMBER_POLLS = 3;

interface Checkpoint {
  fp: string;
  offset: number;
  path: string;
}

class TrackedFile {
  fd: FileHandle | undefined;
  path: string;
  fp: Buffer;
  /** Offset up to which records were accepted by the pipeline. */
  offset: number;
  splitter: Splitter | undefined;
  gz: boolean;
  /** For gz files: size and mtime when fully read (nothing more to do until they change). */
  gzDone: string | undefined;
  lastDataAt = 0;
  ino = 0;
  attrs: Record<string, unknown> = {};
  attrsPath: string | undefined;
  ignored: string | undefined;
  /** Polls since this file was last matched by the glob. */
  missed = 0;
  reportedDeleted = false;

  constructor(path: string, fp: Buffer, offset: number, gz: boolean) {
    this.path = path;
    this.fp = fp;
    this.offset = offset;
    this.gz = gz;
  }
}

/** A file's bytes from its start, through the handle (a stream of its own would close the handle when done). */
async function* compressedChunks(fd: FileHandle): AsyncGenerator<Buffer> {
  let pos = 0;
  for (;;) {
    const b = Buffer.allocUnsafe(64 * 1024);
    const { bytesRead } = await fd.read(b, 0, b.length, pos);
    if (bytesRead === 0) return;
    pos += bytesRead;
    yield b.subarray(0, bytesRead);
  }
}

function matchesFingerprint(known: Buffer, candidate: Buffer): boolean {
  return known.length > 0 && candidate.length >= known.length && candidate.compare(known, 0, known.length, 0, known.length) === 0;
}

export class FilelogReceiver implements Component {
  private files: TrackedFile[] = [];
  private firstPoll = true;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private stopping = false;
  private shutdownP: Promise<void> | undefined;
  private started = false;
  private store: RecordStore | undefined;
  private readonly owner: string;
  private lastCheckpoint: { id: number; size: number } | undefined;
  private checkpointing: Promise<void> | undefined;
  private checkpointDirty = false;
  private readonly chain: Chain;
  private readonly encoding: Encoding;
  private readonly lineStart: RegExp | undefined;
  private readonly lineEnd: RegExp | undefined;
  private readonly retryWake = new Set<() => void>();
  private readonly reportMalformed;
  private readonly reportedErrors = new Set<string>();
  private readonly accepted;
  private readonly refused;
  private readonly badRecords;
  private readonly fileErrors;
  private readonly labels;
  /** Read buffers, reused: a file being read holds one, so concurrent reads never share. */
  private bufPool: Buffer[] = [];

  constructor(private settings: CreateSettings, private cfg: FilelogConfig, private next: Consumer | undefined) {
    const t = settings.telemetry;
    this.labels = { receiver: settings.id, transport: 'file' };
    this.accepted = t.counter('otelcol_receiver_accepted_log_records', 'Number of log records successfully pushed into the pipeline.', ['receiver', 'transport']);
    this.refused = t.counter('otelcol_receiver_refused_log_records', 'Number of log records that could not be pushed into the pipeline.', ['receiver', 'transport']);
    this.badRecords = t.counter('sieve_receiver_filelog_bad_records', 'Records cut at max_log_size (reason truncated), failed by an operator (malformed; sent on or dropped per on_error) or matched by no route (unrouted).', ['receiver', 'reason']);
    this.fileErrors = t.counter('sieve_receiver_filelog_file_errors', 'Files skipped or lost: binary content, deleted while being read, open or read errors.', ['receiver', 'reason']);
    this.owner = `filelog/${settings.id}`;
    this.encoding = normalizeEncoding(cfg.encoding);
    this.lineStart = cfg.multiline?.line_start_pattern ? new RegExp(cfg.multiline.line_start_pattern) : undefined;
    this.lineEnd = cfg.multiline?.line_end_pattern ? new RegExp(cfg.multiline.line_end_pattern) : undefined;
    const ops: CompilableOperator[] = [...(cfg.preset ? expandPreset(cfg.preset) : []), ...cfg.operators];
    this.reportMalformed = rateLimitedReporter(settings.logger, 'A log record failed an operator (counted in sieve_receiver_filelog_bad_records_total; further failures are summarised).');
    this.chain = compileChain(ops, {
      malformed: (op, err, quiet) => {
        this.badRecords.inc({ receiver: settings.id, reason: 'malformed' });
        if (!quiet) this.reportMalformed(err, op);
      },
      unrouted: () => this.badRecords.inc({ receiver: settings.id, reason: 'unrouted' }),
    });
  }

  // ------------------------------------------------------------ lifecycle

  async start(host: Host): Promise<void> {
    if (this.started || this.stopping) return;
    this.started = true;
    if (this.cfg.storage) {
      const ext = host.getExtension(this.cfg.storage);
      if (!isRecordStore(ext)) throw new Error(`receivers::${this.settings.id}::storage: extension ${JSON.stringify(this.cfg.storage)} is not configured in service::extensions, or is not a storage extension`);
      this.store = ext;
      // Reading waits for the storage, so that offsets stored by an earlier run are known first.
      ext.whenOpen(() => void this.loadCheckpoint().then(() => this.schedule(0)));
      return;
    }
    this.schedule(0);
  }

  async shutdown(): Promise<void> {
    this.shutdownP ??= (async () => {
      this.stopping = true;
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      for (const w of this.retryWake) w();
      await this.polling;
      await this.checkpointing;
      if (this.checkpointDirty) await this.saveCheckpoint();
      for (const f of this.files) {
        await f.fd?.close().catch(() => undefined);
        f.fd = undefined;
      }
    })();
    return this.shutdownP;
  }

  private schedule(ms: number): void {
    if (this.stopping) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.polling = this.poll()
        .catch((e) => this.settings.logger.error('filelog poll failed', { error: e }))
        .finally(() => {
          this.polling = undefined;
          this.schedule(this.cfg.poll_interval);
        });
    }, ms);
  }

  // ------------------------------------------------------------ checkpoints

  private async loadCheckpoint(): Promise<void> {
    const store = this.store!;
    try {
      const rows = await store.list(this.owner);
      if (rows.length === 0) return;
      const last = rows[rows.length - 1]!;
      const rec = await store.read(last.id);
      for (const r of rows.slice(0, -1)) store.remove(r.id, r.size);
      this.lastCheckpoint = { id: last.id, size: last.size };
      if (!rec) return;
      const cps = JSON.parse(Buffer.from(rec.data).toString('utf8')) as { files: Checkpoint[] };
      for (const c of cps.files) {
        const f = new TrackedFile(c.path, Buffer.from(c.fp, 'base64'), c.offset, false);
        f.missed = 1; // known, not yet seen by this run
        this.files.push(f);
      }
      // Stored offsets exist: files in them resume there; start_at applies to files never seen.
      this.settings.logger.info('filelog resumes from stored offsets', { files: cps.files.length, storage: this.cfg.storage });
    } catch (e) {
      this.settings.logger.error('Cannot read stored filelog offsets; reading starts per start_at.', { error: e, storage: this.cfg.storage });
    }
  }

  /** Writes the offsets of every known file; one write runs at a time and the latest state wins. */
  private async checkpoint(): Promise<void> {
    if (!this.store) return;
    this.checkpointDirty = true;
    while (this.checkpointing) await this.checkpointing;
    if (!this.checkpointDirty) return;
    this.checkpointing = this.saveCheckpoint().finally(() => (this.checkpointing = undefined));
    await this.checkpointing;
  }

  private async saveCheckpoint(): Promise<void> {
    const store = this.store;
    if (!store) return;
    this.checkpointDirty = false;
    const files: Checkpoint[] = this.files.filter((f) => f.fp.length > 0 && !f.ignored).map((f) => ({ fp: f.fp.toString('base64'), offset: f.offset, path: f.path }));
    const data = Buffer.from(JSON.stringify({ v: 1, files }));
    try {
      const info = await store.append(this.owner, 'logs', data, 0, {});
      if (this.lastCheckpoint) store.remove(this.lastCheckpoint.id, this.lastCheckpoint.size);
      this.lastCheckpoint = { id: info.id, size: info.size };
    } catch (e) {
      this.checkpointDirty = true;
      this.reportOnce('checkpoint', 'Cannot store filelog offsets; after a restart more records may be read again.', { error: (e as Error).message, storage: this.cfg.storage });
    }
  }

  // ------------------------------------------------------------ polling

  private reportOnce(key: string, msg: string, fields: Record<string, unknown>, level: 'warn' | 'error' | 'info' = 'warn'): void {
    if (this.reportedErrors.has(key)) return;
    this.reportedErrors.add(key);
    this.settings.logger[level](msg, fields);
  }

  private fileError(reason: string, path: string, msg: string, err?: unknown): void {
    this.fileErrors.inc({ receiver: this.settings.id, reason });
    this.reportOnce(`${reason}:${path}`, msg, { path, ...(err ? { error: (err as Error).message ?? String(err) } : {}) });
  }

  private isGz(path: string): boolean {
    return this.cfg.compression === 'gzip' || (this.cfg.compression === 'auto' && path.endsWith('.gz'));
  }

  private async fingerprint(fd: FileHandle, path: string, size: number): Promise<Buffer> {
    const n = Math.min(this.cfg.fingerprint_size, size);
    if (!this.isGz(path)) {
      const b = Buffer.alloc(n);
      const { bytesRead } = await fd.read(b, 0, n, 0);
      return b.subarray(0, bytesRead);
    }
    // The fingerprint of a gzip file is that of its content, so a rotated file compressed later is still the same file.
    const out: Buffer[] = [];
    let got = 0;
    const want = this.cfg.fingerprint_size;
    await new Promise<void>((resolve) => {
      const src = Readable.from(compressedChunks(fd));
      const gun = createGunzip();
      const done = () => {
        src.unpipe(gun);
        src.destroy();
        gun.destroy();
        resolve();
      };
      gun.on('data', (c: Buffer) => {
        out.push(c);
        got += c.length;
        if (got >= want) done();
      });
      gun.on('end', done);
      gun.on('error', done);
      src.on('error', done);
      src.pipe(gun);
    });
    return Buffer.concat(out).subarray(0, want);
  }

  private async poll(): Promise<void> {
    const cfg = this.cfg;
    let paths: string[];
    try {
      paths = await glob(cfg.include, { ignore: cfg.exclude, absolute: true, onlyFiles: true, dot: true, followSymbolicLinks: true, expandDirectories: false });
    } catch (e) {
      this.reportOnce('glob', 'Cannot list the files to read.', { error: (e as Error).message });
      return;
    }
    paths.sort();
    const first = this.firstPoll;
    this.firstPoll = false;
    const matched = new Set<TrackedFile>();
    const seenFp: Buffer[] = [];
    const fresh: { f: TrackedFile; fd: FileHandle }[] = [];

    for (let i = 0; i < paths.length; i += cfg.max_concurrent_files) {
      const group = paths.slice(i, i + cfg.max_concurrent_files);
      const opened = await Promise.all(
        group.map(async (path) => {
          let fd: FileHandle | undefined;
          try {
            fd = await open(path, 'r');
            const st = await fd.stat();
            if (st.size === 0) {
              await fd.close().catch(() => undefined);
              return undefined;
            }
            const fp = await this.fingerprint(fd, path, st.size);
            if (fp.length === 0) {
              await fd.close().catch(() => undefined);
              return undefined;
            }
            return { path, fd, fp, ino: st.ino, size: st.size, mtime: st.mtimeMs };
          } catch (e) {
            await fd?.close().catch(() => undefined);
            if ((e as NodeJS.ErrnoException).code !== 'ENOENT') this.fileError('open_error', path, 'Cannot open a log file; it is skipped.', e);
            return undefined;
          }
        }),
      );
      for (const o of opened) {
        if (!o) continue;
        // Two files with one fingerprint in the same poll (a copy made before a truncation): only the first is read now.
        if (seenFp.some((s) => s.equals(o.fp))) {
          await o.fd.close().catch(() => undefined);
          continue;
        }
        seenFp.push(o.fp);
        // A file shorter than the offset read from it was truncated and rewritten: a new file, even if it starts alike.
        const same = (f: TrackedFile) => !matched.has(f) && matchesFingerprint(f.fp, o.fp) && (f.gz || this.isGz(o.path) || o.size >= f.offset);
        let known = this.files.find((f) => f.path === o.path && same(f));
        known ??= this.files.find(same);
        if (known) {
          matched.add(known);
          known.missed = 0;
          if (known.fd && known.ino === o.ino && known.path === o.path) {
            await o.fd.close().catch(() => undefined);
          } else {
            // Renamed, or the known content now lives in a copy: read on from the new handle.
            await known.fd?.close().catch(() => undefined);
            known.fd = o.fd;
            known.ino = o.ino;
            known.path = o.path;
            if (known.splitter && known.splitter.readPosition() > o.size) known.splitter = undefined;
          }
          if (known.fp.length < cfg.fingerprint_size && o.fp.length > known.fp.length) known.fp = o.fp;
          if (known.gz !== this.isGz(o.path)) {
            known.gz = this.isGz(o.path);
            known.splitter = undefined;
          }
          if (known.gz) {
            const sig = `${o.size}:${o.mtime}`;
            if (known.gzDone === sig) continue;
          }
          if (known.attrsPath !== o.path) {
            known.attrs = await this.fileAttrs(o.path);
            known.attrsPath = o.path;
          }
        } else {
          const startAtEnd = first && cfg.start_at === 'end' && !this.isGz(o.path);
          const f = new TrackedFile(o.path, o.fp, startAtEnd ? o.size : 0, this.isGz(o.path));
          f.fd = o.fd;
          f.ino = o.ino;
          f.attrs = await this.fileAttrs(o.path);
          f.attrsPath = o.path;
          matched.add(f);
          fresh.push({ f, fd: o.fd });
        }
      }
    }
    for (const { f } of fresh) this.files.push(f);

    // Files that left the glob (renamed away, deleted): read what is left through the open handle, then let go.
    for (const f of this.files) {
      if (matched.has(f)) continue;
      f.missed++;
      if (f.fd) {
        if (!f.ignored && !f.gz) await this.readFile(f, true);
        const st = await f.fd.stat().catch(() => undefined);
        if (st && st.nlink === 0 && !f.reportedDeleted) {
          f.reportedDeleted = true;
          this.fileError('deleted', f.path, 'A log file was deleted; what it held up to then has been read.');
        }
        await f.fd.close().catch(() => undefined);
        f.fd = undefined;
        f.splitter = undefined;
      }
    }
    const before = this.files.length;
    this.files = this.files.filter((f) => f.missed <= REMEMBER_POLLS);
    if (this.files.length !== before) void this.checkpoint();

    // Read the matched files, max_concurrent_files at a time.
    const active = [...matched].filter((f) => !f.ignored);
    for (let i = 0; i < active.length && !this.stopping; i += cfg.max_concurrent_files) {
      await Promise.all(active.slice(i, i + cfg.max_concurrent_files).map((f) => this.readFile(f, false)));
    }
  }

  private async fileAttrs(path: string): Promise<Record<string, unknown>> {
    const a: Record<string, unknown> = {};
    if (this.cfg.include_file_name) a['log.file.name'] = basename(path);
    if (this.cfg.include_file_path) a['log.file.path'] = path;
    if (this.cfg.include_file_name_resolved || this.cfg.include_file_path_resolved) {
      const r = await realpath(path).catch(() => path);
      if (this.cfg.include_file_name_resolved) a['log.file.name_resolved'] = basename(r);
      if (this.cfg.include_file_path_resolved) a['log.file.path_resolved'] = r;
    }
    return a;
  }

  private newSplitter(at: number): Splitter {
    return new Splitter({ encoding: this.encoding, maxLogSize: this.cfg.max_log_size, lineStart: this.lineStart, lineEnd: this.lineEnd, omitPattern: this.cfg.multiline?.omit_pattern }, at);
  }

  // ------------------------------------------------------------ reading

  /** Reads a file from where it was to its end, sending records in batches. `draining`: the file left the glob. */
  private async readFile(f: TrackedFile, draining: boolean): Promise<void> {
    if (!f.fd) return;
    try {
      if (f.gz) await this.readGz(f);
      else await this.readPlain(f, draining);
    } catch (e) {
      if (this.stopping) return;
      this.fileError('read_error', f.path, 'Cannot read a log file; it is tried again on the next poll.', e);
      f.splitter = undefined;
    }
  }

  private async readPlain(f: TrackedFile, draining: boolean): Promise<void> {
    const fd = f.fd!;
    const st = await fd.stat();
    if (st.size < (f.splitter?.readPosition() ?? f.offset)) {
      // Truncated since this poll matched it (copytruncate): what the file holds now is another file's
      // content. The next poll tells them apart by fingerprint: the copy, if matched, is read on from
      // this offset; the truncated file is read from its start as a new one.
      return;
    }
    f.splitter ??= this.newSplitter(f.offset);
    const sp = f.splitter;
    const recs: Rec[] = [];
    let checkedBinary = sp.readPosition() !== 0 || this.encoding === 'utf-16le' || this.encoding === 'utf-16be' || this.encoding === 'nop';
    if (st.size > sp.readPosition()) {
      const buf = this.bufPool.pop() ?? Buffer.allocUnsafe(READ_CHUNK);
      try {
        for (;;) {
          if (this.stopping) return;
          const { bytesRead } = await fd.read(buf, 0, buf.length, sp.readPosition());
          if (bytesRead === 0) break;
          const chunk = buf.subarray(0, bytesRead);
          if (!checkedBinary) {
            checkedBinary = true;
            if (chunk.indexOf(0) >= 0) {
              f.ignored = 'binary';
              this.fileError('binary', f.path, 'A file in the glob holds binary data (NUL bytes); it is skipped.');
              return;
            }
          }
          f.lastDataAt = Date.now();
          // Records are decoded to strings inside feed, so the buffer can be reused right after.
          sp.feed(chunk, recs);
          while (recs.length >= this.cfg.max_batch_size) {
            if (!(await this.send(f, recs.splice(0, this.cfg.max_batch_size)))) return;
          }
          if (recs.length > 0 && bytesRead < buf.length) {
            if (!(await this.send(f, recs.splice(0)))) return;
          }
        }
      } finally {
        this.bufPool.push(buf);
      }
    }
    // End of the file for now: a record without an end is emitted once the file has been quiet long enough (or is gone).
    if (sp.pending() && (draining || Date.now() - f.lastDataAt >= this.cfg.force_flush_period)) sp.flush(recs);
    if (recs.length > 0) await this.send(f, recs.splice(0));
    else if (!sp.pending() && f.offset < sp.position()) {
      // Bytes dropped after a cut (max_log_size) moved the position without a record.
      f.offset = sp.position();
      void this.checkpoint();
    }
  }

  private async readGz(f: TrackedFile): Promise<void> {
    const fd = f.fd!;
    const st = await fd.stat();
    const sp = this.newSplitter(f.offset);
    const skip = f.offset;
    let seen = 0;
    let complete = false;
    const recs: Rec[] = [];
    const src = Readable.from(compressedChunks(fd));
    const gun = createGunzip();
    src.pipe(gun);
    try {
      for await (const c of gun as AsyncIterable<Buffer>) {
        if (this.stopping) break;
        let chunk = c;
        if (seen < skip) {
          const drop = Math.min(skip - seen, chunk.length);
          seen += drop;
          chunk = chunk.subarray(drop);
          if (chunk.length === 0) continue;
        }
        seen += chunk.length;
        sp.feed(chunk, recs);
        while (recs.length >= this.cfg.max_batch_size) {
          if (!(await this.send(f, recs.splice(0, this.cfg.max_batch_size)))) return;
        }
      }
      complete = !this.stopping;
    } catch {
      // A gzip file still being written ends early; what was complete is sent, the rest waits for the next poll.
    } finally {
      src.unpipe(gun);
      src.destroy();
      gun.destroy();
    }
    if (complete) sp.flush(recs);
    if (recs.length > 0 && !(await this.send(f, recs.splice(0)))) return;
    if (complete) f.gzDone = `${st.size}:${st.mtimeMs}`;
  }

  // ------------------------------------------------------------ to the pipeline

  private toEntries(f: TrackedFile, recs: Rec[]): Entry[] {
    const out: Entry[] = [];
    const observed = BigInt(Date.now()) * 1_000_000n;
    const fileAttrs = f.attrs;
    const extra = this.cfg.attributes;
    const hasExtra = Object.keys(extra).length > 0;
    const res = this.cfg.resource;
    const hasRes = Object.keys(res).length > 0;
    for (const r of recs) {
      if (r.truncated) this.badRecords.inc({ receiver: this.settings.id, reason: 'truncated' });
      const attributes: Record<string, unknown> = {};
      for (const k in fileAttrs) attributes[k] = fileAttrs[k];
      if (hasExtra) for (const k in extra) attributes[k] = extra[k];
      const e: Entry = {
        body: r.value,
        attributes,
        resource: hasRes ? { ...res } : undefined,
        timestamp: 0n,
        observed,
        severity: 0,
        severityText: '',
        traceId: undefined,
        spanId: undefined,
        traceFlags: 0,
      };
      if (this.chain.length === 0 || this.chain.run(e)) out.push(e);
    }
    return out;
  }

  private toTelemetry(entries: Entry[]): Telemetry<'logs'> {
    const groups = new Map<string, { res: Record<string, unknown> | undefined; recs: LogRecord[] }>();
    for (const e of entries) {
      const k = resourceKey(e.resource);
      let g = groups.get(k);
      if (!g) groups.set(k, (g = { res: e.resource, recs: [] }));
      g.recs.push(toLogRecord(e));
    }
    const resources: ResourceLogs[] = [];
    for (const g of groups.values()) {
      resources.push({
        resource: { attributes: g.res ? toKeyValues(g.res) : [], droppedAttributesCount: 0 },
        scopeLogs: [{ scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0 }, logRecords: g.recs, schemaUrl: '' }],
        schemaUrl: '',
      });
    }
    return Telemetry.logs(resources, { receiver: this.settings.id });
  }

  /**
   * Sends one batch of a file and advances its offset once the pipeline
   * accepted it. Returns false when reading this file should stop for now
   * (shutting down while the pipeline refuses).
   */
  private async send(f: TrackedFile, recs: Rec[]): Promise<boolean> {
    if (recs.length === 0) return true;
    const end = recs[recs.length - 1]!.end;
    const entries = this.toEntries(f, recs);
    if (entries.length > 0 && this.next) {
      const data = this.toTelemetry(entries);
      const n = entries.length;
      const r = this.cfg.retry_on_failure;
      let delay = r.initial_interval;
      const t0 = Date.now();
      for (;;) {
        try {
          const res = await this.next.consume(data);
          const rejected = res ? res.rejected : 0;
          this.accepted.inc(this.labels, n - rejected);
          if (rejected) this.refused.inc(this.labels, rejected);
          break;
        } catch (e) {
          const err = e as ConsumerError;
          const giveUp = isPermanent(err) || !r.enabled || (r.max_elapsed_time > 0 && Date.now() - t0 >= r.max_elapsed_time);
          if (giveUp) {
            this.refused.inc(this.labels, n);
            this.reportOnce(`refused:${err.code ?? ''}`, 'The pipeline refused log records from a file; they are dropped.', { error: err.message, path: f.path, records: n });
            break;
          }
          if (this.stopping) {
            // Not accepted and no time left: the offset stays, so the batch is read again after a restart.
            this.refused.inc(this.labels, n);
            return false;
          }
          const wait = Math.min(Math.max(delay, err.retryAfterMs ?? 0), r.max_interval);
          delay = Math.min(delay * 1.5, r.max_interval);
          await new Promise<void>((resolve) => {
            const wake = () => {
              clearTimeout(t);
              this.retryWake.delete(wake);
              resolve();
            };
            const t = setTimeout(wake, wait);
            this.retryWake.add(wake);
          });
        }
      }
    }
    f.offset = end;
    await this.checkpoint();
    return true;
  }

  /** Known files and their accepted offsets (tests, debug). */
  offsets(): { path: string; offset: number }[] {
    return this.files.map((f) => ({ path: f.path, offset: f.offset }));
  }
}
