// file_storage: one SQLite database (WAL mode) per extension instance, holding
// the records of persistent sending queues and durable acknowledgement.
//
// The database lives in a worker thread (worker_source.ts), so commits, WAL
// checkpoints and fsyncs never stall the event loop. Writes are
// group-committed: appends that arrive while a commit is running wait for it
// and then share the next transaction (and its fsync when `fsync: true`), so
// the busier the daemon, the larger each transaction, with no added delay when
// it is idle. An append's promise resolves only after its transaction has
// committed. Deletions ride along with the next transaction.
//
// A storage that cannot be opened, is full, or fails to write never crashes
// the daemon: writes are refused with retryable errors, the extension reports
// `degraded`, and opening is retried.
import { mkdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Component, CreateSettings, HealthReport, HealthReporter, Host } from '../../component/component.js';
import { throttleError, unavailableError } from '../../component/errors.js';
import type { BatchQueue, QueueConfig, QueueOptions, QueueStorageProvider } from '../../exporters/exporterhelper/helper.js';
import type { Signal } from '../../pdata/model.js';
import type { RequestContext, Telemetry } from '../../pdata/telemetry.js';
import { decodeContext, encodeContext, type RecordInfo, type RecordStore } from '../../durable/store.js';
import type { SelfTelemetry } from '../../service/telemetry.js';
import type { FileStorageConfig } from './config.js';
import { PersistentQueue } from './queue.js';
import { WORKER_SOURCE } from './worker_source.js';

/** Retry-after suggested to clients when the storage is full or unavailable. */
const FULL_RETRY_AFTER_MS = 5000;
/** How long after refusing data for lack of space the storage still reports itself full. */
const FULL_REPORT_MS = 5000;
/** How long a deletion may wait for a commit when no write comes along. */
const DELETE_FLUSH_MS = 50;
/**
 * WAL checkpoint interval, in bytes of the write-ahead log. Records are written
 * and deleted again within seconds, so a longer interval lets a checkpoint copy
 * (and sync) only the pages still live. bench/durable.ts, durable scenario, two
 * runs each (spans/s, daemon CPU s per million spans), 4 KiB pages: 1000 pages
 * (SQLite's default, 4 MB): 97k, 8.0; 10000 (41 MB): 92-99k, 6.9-7.5; 30000
 * (123 MB): 138-156k, 6.5-6.9. The interval is kept under a quarter of
 * max_size_bytes so a small storage keeps a small WAL.
 */
const WAL_CHECKPOINT_MAX_BYTES = 30_000 * 4096;
const WAL_CHECKPOINT_MIN_BYTES = 1000 * 4096;

export function walCheckpointBytes(maxSizeBytes: number): number {
  if (maxSizeBytes <= 0) return WAL_CHECKPOINT_MAX_BYTES;
  return Math.max(WAL_CHECKPOINT_MIN_BYTES, Math.min(WAL_CHECKPOINT_MAX_BYTES, Math.floor(maxSizeBytes / 4)));
}

/**
 * SQLite page size of a new database file. Payloads are request and batch
 * bytes (tens of KiB to MiBs), stored as chains of overflow pages that every
 * insert writes twice (WAL, then checkpoint) and every delete walks to free.
 * bench/durable.ts --scenario durable --duration 10, alternating runs with the
 * same WAL bytes between checkpoints (spans/s per core of daemon CPU):
 * 4 KiB (SQLite's default) 176k-214k; 8 KiB 184k-240k; 16 KiB 219k-279k;
 * 32 KiB 221k-231k. 64 KiB gave 126k-188k (with 30000 pages between
 * checkpoints, not the same bytes). cache_size -8192 against the default
 * -2000 made no difference at 16 KiB.
 */
export const PAGE_SIZE = 16384;

const sqlitePath = createRequire(import.meta.url).resolve('better-sqlite3');

interface PendingAppend {
  owner: string;
  signal: Signal;
  /** Byte ranges that join into the payload. */
  parts: readonly Uint8Array[];
  /** The payload's length. */
  length: number;
  items: number;
  meta: string;
  size: number;
  resolve: (r: RecordInfo) => void;
  reject: (e: Error) => void;
}

/** Records handed to another owner (adopt()), committed with the next transaction. */
interface PendingAdopt {
  owner: string;
  ids: readonly number[];
  resolve: () => void;
  reject: (e: Error) => void;
}

interface Reply {
  re: number;
  ok: boolean;
  code?: string;
  message?: string;
  fatal?: boolean;
  [k: string]: unknown;
}

class WorkerError extends Error {
  constructor(message: string, readonly code: string, readonly fatal: boolean) {
    super(message);
  }
}

/** The database file of a file_storage instance: `<directory>/<type>_<name>.sqlite`. */
export function databaseFile(directory: string, id: string): string {
  return join(directory, `${id.replace(/[^A-Za-z0-9_.-]/g, '_')}.sqlite`);
}

export class FileStorage implements Component, HealthReporter, RecordStore, QueueStorageProvider {
  readonly storageId: string;
  readonly file: string;
  private worker: Worker | undefined;
  private calls = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private nextRe = 1;
  private isOpen = false;
  private opening = false;
  private committing = false;
  /** Payloads of the running commit, shared with the worker. */
  private shared: SharedArrayBuffer | undefined;
  private pending: PendingAppend[] = [];
  private pendingDeletes: number[] = [];
  private pendingAdopts: PendingAdopt[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private flushImmediate: NodeJS.Immediate | undefined;
  private reopenTimer: NodeJS.Timeout | undefined;
  private openWaiters: (() => void)[] = [];
  private idleWaiters: (() => void)[] = [];
  private used = 0;
  private openError: string | undefined;
  private writeError: string | undefined;
  private refusedFull = false;
  private lastFullAt = -Infinity;
  private closed = false;
  private started = false;
  private readonly log;
  private readonly labels: { storage: string };
  private readonly refused;
  private readonly commits;
  private readonly writeErrors;
  private readonly live: Set<FileStorage>;

  constructor(private settings: CreateSettings, private cfg: FileStorageConfig) {
    this.storageId = settings.id;
    this.file = databaseFile(cfg.directory, settings.id);
    this.log = settings.logger;
    this.labels = { storage: settings.id };
    const t = settings.telemetry;
    this.refused = t.counter('sieve_storage_refused_writes_total', 'Records refused by a storage extension, by reason (full, unavailable).', ['storage', 'reason']);
    this.commits = t.counter('sieve_storage_commits_total', 'Transactions committed by a storage extension.', ['storage']);
    this.writeErrors = t.counter('sieve_storage_write_errors_total', 'Failed storage transactions.', ['storage']);
    let live = liveStorages.get(t);
    if (!live) {
      const set = new Set<FileStorage>();
      live = set;
      liveStorages.set(t, set);
      t.gauge('sieve_storage_used_bytes', 'Bytes of records held by a storage extension (payloads plus context).', ['storage'], function () {
        this.reset();
        for (const s of set) this.set(s.labels, s.used);
      });
      t.gauge('sieve_storage_capacity_bytes', 'Cap on the bytes a storage extension holds (0 = no cap).', ['storage'], function () {
        this.reset();
        for (const s of set) this.set(s.labels, s.cfg.max_size_bytes);
      });
    }
    this.live = live;
  }

  // ------------------------------------------------------------ lifecycle

  async start(_host: Host): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.live.add(this);
    await this.tryOpen();
  }

  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.live.delete(this);
    if (this.reopenTimer) clearTimeout(this.reopenTimer);
    // Commit what is pending (deletions included), then close the database.
    if (this.isOpen) {
      this.flushNow();
      await this.idle();
      await this.call({ op: 'close' }).catch(() => undefined);
    }
    this.isOpen = false;
    for (const p of this.pending.splice(0)) p.reject(unavailableError(`${this.storageId} is shut down`, 1000, 'SIEVE_ERR_SHUTTING_DOWN'));
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }

  private spawn(): Worker {
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { sqlite: sqlitePath }, name: `sieve ${this.storageId}` });
    w.on('message', (r: Reply) => {
      const c = this.calls.get(r.re);
      if (!c) return;
      this.calls.delete(r.re);
      if (this.calls.size === 0) w.unref();
      c.resolve(r);
    });
    w.on('error', (e) => {
      this.log.error('Storage worker failed; refusing data until the database is reopened.', { error: e });
      this.lost(e.message);
    });
    w.on('exit', (code) => {
      if (this.worker === w && !this.closed) this.lost(`storage worker exited with code ${code}`);
    });
    // Referenced only while a call waits on it: an idle storage never keeps the process alive.
    w.unref();
    return w;
  }

  /** The worker died: fail what waits on it and reopen later. */
  private lost(why: string): void {
    this.worker = undefined;
    this.isOpen = false;
    this.committing = false;
    this.openError = why;
    for (const [, c] of this.calls) c.reject(new WorkerError(why, 'SIEVE_WORKER', true));
    this.calls.clear();
    this.scheduleReopen();
  }

  private call(msg: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<Reply> {
    const w = this.worker;
    if (!w) return Promise.reject(new WorkerError(this.openError ?? 'storage is not open', 'SIEVE_CLOSED', false));
    const re = this.nextRe++;
    return new Promise<Reply>((resolve, reject) => {
      if (this.calls.size === 0) w.ref();
      this.calls.set(re, { resolve, reject });
      w.postMessage({ ...msg, re }, transfer);
    }).then((r) => {
      if (!r.ok) throw new WorkerError(r.message ?? 'storage error', r.code ?? '', r.fatal === true);
      return r;
    });
  }

  private async tryOpen(): Promise<void> {
    if (this.closed || this.isOpen || this.opening) return;
    this.opening = true;
    try {
      const dir = this.cfg.directory;
      if (this.cfg.create_directory) mkdirSync(dir, { recursive: true, mode: 0o750 });
      let st;
      try {
        st = statSync(dir);
      } catch {
        throw new OpenError(`directory ${dir} does not exist (create it, or set create_directory: true)`);
      }
      if (!st.isDirectory()) throw new OpenError(`${dir} is not a directory`);
      this.worker ??= this.spawn();
      const r = await this.call({
        op: 'open',
        file: this.file,
        fsync: this.cfg.fsync,
        timeout: this.cfg.timeout,
        vacuum: this.cfg.compaction.on_start,
        pageSize: PAGE_SIZE,
        walCheckpointBytes: walCheckpointBytes(this.cfg.max_size_bytes),
      });
      if (this.closed) return;
      this.used = Number(r.used);
      this.isOpen = true;
      if (this.openError) this.log.info('Storage is open again.', { file: this.file });
      this.openError = undefined;
      for (const w of this.openWaiters.splice(0)) w();
      this.flushNow();
    } catch (e) {
      const msg = describeOpenError(e, this.cfg, this.file);
      if (msg !== this.openError) this.log.error('Cannot open storage; data that needs it is refused until it opens.', { error: new Error(msg), file: this.file, retry_interval_ms: this.cfg.reopen_interval });
      this.openError = msg;
      this.scheduleReopen();
    } finally {
      this.opening = false;
    }
  }

  private scheduleReopen(): void {
    if (this.closed || this.reopenTimer) return;
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = undefined;
      void this.tryOpen();
    }, this.cfg.reopen_interval);
    this.reopenTimer.unref();
  }

  // ------------------------------------------------------------ RecordStore

  available(): boolean {
    return this.isOpen && this.writeError === undefined;
  }

  whenOpen(fn: () => void): void {
    if (this.isOpen) fn();
    else if (!this.closed) this.openWaiters.push(fn);
  }

  /**
   * Stores one record: `data` is its payload, or byte ranges that join into
   * it (copied one after another into the commit's buffer, never joined first).
   */
  append(owner: string, signal: Signal, data: Uint8Array | readonly Uint8Array[], items: number, ctx: RequestContext): Promise<RecordInfo> {
    if (!this.isOpen) {
      this.refused.inc({ ...this.labels, reason: 'unavailable' });
      return Promise.reject(this.notOpenError());
    }
    const meta = encodeContext(ctx);
    const parts = data instanceof Uint8Array ? [data] : data;
    let length = 0;
    for (const d of parts) length += d.byteLength;
    const size = length + meta.length;
    const max = this.cfg.max_size_bytes;
    if (max > 0 && this.used + size > max) {
      this.refused.inc({ ...this.labels, reason: 'full' });
      if (!this.refusedFull) this.log.warn('Storage is full; refusing new data until records are delivered.', { used_bytes: this.used, max_size_bytes: max });
      this.refusedFull = true;
      this.lastFullAt = this.settings.now();
      return Promise.reject(throttleError(`${this.storageId} is full (${this.used} of ${max} bytes used)`, FULL_RETRY_AFTER_MS, 'SIEVE_ERR_STORAGE_FULL'));
    }
    this.used += size;
    return new Promise((resolve, reject) => {
      this.pending.push({ owner, signal, parts, length, items, meta, size, resolve, reject });
      this.scheduleFlush(false);
    });
  }

  /**
   * Makes `owner` the owner of stored records, in the next transaction: what
   * lists them from then on is that owner, and after a crash they are seen
   * there and nowhere else. Rejects like append() when the storage is not open
   * or the write fails.
   */
  adopt(owner: string, ids: readonly number[]): Promise<void> {
    if (!this.isOpen) {
      return Promise.reject(this.notOpenError());
    }
    return new Promise((resolve, reject) => {
      this.pendingAdopts.push({ owner, ids, resolve, reject });
      this.scheduleFlush(false);
    });
  }

  remove(id: number, size: number): void {
    this.used -= size;
    if (this.used < 0) this.used = 0;
    if (this.refusedFull && this.used < this.cfg.max_size_bytes * 0.9) this.refusedFull = false;
    if (this.closed) return; // the record stays; it is seen again on the next start
    this.pendingDeletes.push(id);
    this.scheduleFlush(true);
  }

  async list(owner: string): Promise<RecordInfo[]> {
    if (!this.isOpen) return [];
    const r = await this.call({ op: 'list', owner });
    return r.rows as RecordInfo[];
  }

  async read(id: number): Promise<{ data: Uint8Array; ctx: RequestContext } | undefined> {
    if (!this.isOpen) return undefined;
    let r: Reply;
    try {
      r = await this.call({ op: 'read', id });
    } catch {
      return undefined;
    }
    if (r.missing) return undefined;
    return { data: r.data as Uint8Array, ctx: decodeContext(r.meta as string | null) };
  }

  // ------------------------------------------------------------ QueueStorageProvider

  createQueue(owner: string, signal: Signal, cfg: QueueConfig, sizeOf: (d: Telemetry) => number, opts?: QueueOptions): BatchQueue {
    return new PersistentQueue(this, `queue/${owner}/${signal}`, signal, cfg, sizeOf, opts);
  }

  // ------------------------------------------------------------ commits

  private scheduleFlush(deleteOnly: boolean): void {
    if (this.committing || this.flushImmediate) return; // the running commit flushes again when it ends
    if (!deleteOnly) {
      if (this.cfg.commit_delay > 0) {
        if (this.flushTimer) return;
        this.flushTimer = setTimeout(() => this.flushNow(), this.cfg.commit_delay);
        return;
      }
      if (this.flushTimer) clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
      this.flushImmediate = setImmediate(() => this.flushNow());
      return;
    }
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => this.flushNow(), DELETE_FLUSH_MS);
    this.flushTimer.unref();
  }

  /** Sends what is pending to the database as one transaction (unless one is running: it follows). */
  flushNow(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    if (this.flushImmediate) clearImmediate(this.flushImmediate);
    this.flushTimer = undefined;
    this.flushImmediate = undefined;
    if (this.committing) return;
    if (this.pending.length === 0 && this.pendingDeletes.length === 0 && this.pendingAdopts.length === 0) {
      for (const w of this.idleWaiters.splice(0)) w();
      return;
    }
    if (!this.isOpen) {
      // Deletions wait for the database to open again; appends and hand-overs are refused now.
      const why = new Error(this.openError ?? 'storage is not open');
      this.failAppends(this.pending.splice(0), why);
      this.failAdopts(this.pendingAdopts.splice(0), why);
      for (const w of this.idleWaiters.splice(0)) w();
      return;
    }
    const appends = this.pending;
    const dels = this.pendingDeletes;
    const adoptions = this.pendingAdopts;
    this.pending = [];
    this.pendingDeletes = [];
    this.pendingAdopts = [];
    // [owner, count, id...] per hand-over.
    const adopts: (string | number)[] = [];
    for (const a of adoptions) adopts.push(a.owner, a.ids.length, ...a.ids);
    // One message per transaction: the payloads copied once into a shared buffer the worker reads
    // in place (reused while one commit runs at a time), the rest as one JSON string. A fresh
    // buffer per commit (allocation, zero fill, GC of external memory) cost ~10% of the daemon's
    // CPU in bench/durable.ts.
    let total = 0;
    for (const a of appends) total += a.length;
    if (!this.shared || this.shared.byteLength < total) this.shared = new SharedArrayBuffer(Math.max(1 << 20, 2 ** Math.ceil(Math.log2(total))));
    const buf = new Uint8Array(this.shared, 0, total);
    const head: (string | number)[] = [];
    let off = 0;
    for (const a of appends) {
      for (const d of a.parts) {
        buf.set(d, off);
        off += d.byteLength;
      }
      head.push(a.owner, a.signal, a.items, a.size, a.meta, a.length);
    }
    this.committing = true;
    this.call({ op: 'commit', head: JSON.stringify(head), buf, dels, adopts }).then(
      (r) => {
        this.committing = false;
        this.commits.inc(this.labels);
        if (this.writeError) {
          this.log.info('Storage writes succeed again.', { file: this.file });
          this.writeError = undefined;
        }
        const ids = r.ids as number[];
        for (let i = 0; i < appends.length; i++) {
          const a = appends[i]!;
          a.resolve({ id: ids[i]!, signal: a.signal, items: a.items, size: a.size });
        }
        for (const a of adoptions) a.resolve();
        this.flushNow();
      },
      (e: WorkerError) => {
        this.committing = false;
        this.writeErrors.inc(this.labels);
        // Deletions are tried again with the next commit; appends are refused (the sender retries).
        this.pendingDeletes = dels.concat(this.pendingDeletes);
        const msg = describeWriteError(e);
        if (msg !== this.writeError) this.log.error('Storage write failed; refusing data until a write succeeds.', { error: new Error(msg), file: this.file });
        this.writeError = msg;
        this.failAppends(appends, e);
        this.failAdopts(adoptions, e);
        if (e.fatal && this.isOpen) {
          this.isOpen = false;
          this.openError = msg;
          this.scheduleReopen();
        }
        this.flushNow();
      },
    );
  }

  /** Resolves once nothing is pending or being committed. */
  private idle(): Promise<void> {
    if (!this.committing && this.pending.length === 0 && this.pendingDeletes.length === 0 && this.pendingAdopts.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Commits everything pending and waits for it (tests, shutdown). */
  async sync(): Promise<void> {
    this.flushNow();
    await this.idle();
  }

  private failAppends(appends: PendingAppend[], cause: unknown): void {
    for (const a of appends) {
      this.used -= a.size;
      this.refused.inc({ ...this.labels, reason: 'unavailable' });
      a.reject(this.writeFailedError(cause));
    }
    if (this.used < 0) this.used = 0;
  }

  /** What an append or hand-over is refused with while the database is not open. */
  private notOpenError(): Error {
    const why = this.closed ? 'is shut down' : `is unavailable: ${this.openError ?? 'not started'}`;
    return unavailableError(`${this.storageId} ${why}`, FULL_RETRY_AFTER_MS, 'SIEVE_ERR_STORAGE_UNAVAILABLE');
  }

  /** What an append or hand-over is refused with when its transaction failed. */
  private writeFailedError(cause: unknown): Error {
    return unavailableError(`${this.storageId} cannot write: ${describeWriteError(cause)}`, FULL_RETRY_AFTER_MS, 'SIEVE_ERR_STORAGE_WRITE', cause);
  }

  private failAdopts(adopts: PendingAdopt[], cause: unknown): void {
    for (const a of adopts) a.reject(this.writeFailedError(cause));
  }

  // ------------------------------------------------------------ health

  health(): HealthReport {
    if (!this.isOpen) return { status: 'degraded', detail: `storage unavailable: ${this.openError ?? 'not started'}` };
    if (this.writeError) return { status: 'degraded', detail: `storage write failed: ${this.writeError}` };
    const max = this.cfg.max_size_bytes;
    // Full: data was refused for lack of space lately (usage alone can dip below the cap between refusals).
    const full = this.refusedFull || this.settings.now() - this.lastFullAt < FULL_REPORT_MS;
    if (max > 0 && (full || this.used >= max * 0.9)) {
      return { status: 'degraded', detail: `storage is ${full ? 'full' : 'nearly full'}: ${this.used} of ${max} bytes used` };
    }
    return { status: 'ok' };
  }

  /** Bytes charged against the cap (tests, debug). */
  usedBytes(): number {
    return this.used;
  }

  /** Runs a PRAGMA on the open database (tests). */
  async pragma(sql: string): Promise<unknown> {
    return (await this.call({ op: 'pragma', sql })).value;
  }
}

/** Storages per self-telemetry registry, for the gauges read at scrape time. */
const liveStorages = new WeakMap<SelfTelemetry, Set<FileStorage>>();

class OpenError extends Error {}

function describeOpenError(e: unknown, cfg: FileStorageConfig, file: string): string {
  if (e instanceof OpenError) return e.message;
  const err = e as { code?: string; message?: string };
  switch (err.code) {
    case 'SQLITE_BUSY':
      return `${file} is locked by another process (is another Sieve using directory ${cfg.directory}?)`;
    case 'SQLITE_CANTOPEN':
      return `cannot open ${file}: check that ${cfg.directory} exists and is writable`;
    case 'SQLITE_READONLY':
      return `${file} is read-only`;
    case 'SQLITE_NOTADB':
    case 'SQLITE_CORRUPT':
      return `${file} is not a valid database (${err.message}); move it away to start empty`;
    case 'SIEVE_NO_WAL':
    case 'SIEVE_SCHEMA':
      return err.message ?? String(e);
    case 'EACCES':
    case 'EPERM':
      return `cannot create directory ${cfg.directory}: permission denied`;
    case 'ENOTDIR':
      return `cannot create directory ${cfg.directory}: a parent is not a directory`;
    default:
      return `cannot open ${file}: ${err.message ?? String(e)}`;
  }
}

function describeWriteError(e: unknown): string {
  const err = e as { code?: string; message?: string };
  if (err.code === 'SQLITE_FULL') return 'the disk is full';
  if (err.code === 'SQLITE_READONLY') return 'the database file is read-only';
  return err.message ?? String(e);
}
