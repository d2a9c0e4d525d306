import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { ConsumerError } from '../../component/errors.js';
import { Issues, formatPath } from '../../config/schema.js';
import { host, memoryLogger, seqsOf, settings, traces } from '../../durable/testdata/fixtures.js';
import { DurableLog } from '../../durable/log.js';
import { Telemetry } from '../../pdata/telemetry.js';
import { queueSchema } from '../../exporters/exporterhelper/helper.js';
import { SelfTelemetry } from '../../service/telemetry.js';
import { fileStorageSchema, validateFileStorage, type FileStorageConfig } from './config.js';
import { PersistentQueue } from './queue.js';
import { FileStorage, PAGE_SIZE, databaseFile, walCheckpointBytes } from './storage.js';

function parse(raw: unknown): { cfg: FileStorageConfig; errors: string[] } {
  const issues = new Issues();
  const path = ['extensions', 'file_storage'];
  const cfg = fileStorageSchema.parse(raw, path, issues);
  if (!issues.hasErrors()) validateFileStorage(cfg, path, issues);
  return { cfg, errors: issues.errors.map((i) => `${formatPath(i.path)}: ${i.message}`) };
}

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'sieve-fs-'));
  dirs.push(d);
  return d;
}

const open: FileStorage[] = [];
let clock = 1_000_000;
async function storage(raw: Record<string, unknown>, id = 'file_storage', t = new SelfTelemetry(), logger = memoryLogger()): Promise<FileStorage> {
  const { cfg, errors } = parse(raw);
  expect(errors).toEqual([]);
  const s = new FileStorage({ ...settings(id, 'extension', t, logger), now: () => clock }, cfg);
  open.push(s);
  await s.start(host());
  return s;
}

afterEach(async () => {
  for (const s of open.splice(0)) await s.shutdown();
});

describe('file_storage config', () => {
  it('has the documented defaults', () => {
    const { cfg, errors } = parse({});
    expect(errors).toEqual([]);
    expect(cfg).toEqual({
      directory: '/var/lib/sieve/file_storage',
      create_directory: false,
      fsync: false,
      max_size_bytes: 1024 ** 3,
      commit_delay: 0,
      timeout: 1000,
      reopen_interval: 5000,
      compaction: { on_start: false },
    });
  });

  it.each([
    [{ directory: '/d', fsync: true, max_size_bytes: '64MiB', commit_delay: '2ms', create_directory: true }, { fsync: true, max_size_bytes: 64 * 1024 * 1024, commit_delay: 2 }],
    [{ directory: '/d', max_size_bytes: 0 }, { max_size_bytes: 0 }],
    [{ directory: '/d', compaction: { on_start: true } }, { compaction: { on_start: true } }],
  ])('accepts %j', (raw, expected) => {
    const { cfg, errors } = parse(raw);
    expect(errors).toEqual([]);
    expect(cfg).toMatchObject(expected);
  });

  it.each([
    [{ directory: '' }, 'extensions::file_storage::directory: must not be empty'],
    [{ fsync: 'always' }, 'extensions::file_storage::fsync: must be true or false, got string "always"'],
    [{ max_size_bytes: 'lots' }, 'extensions::file_storage::max_size_bytes: must be a size in bytes such as 20971520 or "20MiB", got string "lots"'],
    [{ max_size_bytes: 1000 }, 'extensions::file_storage::max_size_bytes: must be at least 64KiB (or 0 for no cap)'],
    [{ commit_delay: '5s' }, 'extensions::file_storage::commit_delay: must be at most 1s: every acknowledgement waits this long'],
    [{ reopen_interval: '10ms' }, 'extensions::file_storage::reopen_interval: must be at least 100ms'],
    [{ fsnyc: true }, 'extensions::file_storage::fsnyc: unknown key "fsnyc" (did you mean "fsync"?)'],
    [{ compaction: { on_stop: true } }, 'extensions::file_storage::compaction::on_stop: unknown key "on_stop"; valid keys: on_start'],
  ])('rejects %j', (raw, message) => {
    expect(parse(raw).errors).toEqual([message]);
  });
});

describe('file_storage', () => {
  it('opens one SQLite file in WAL mode with the fsync policy as the synchronous level', async () => {
    const dir = tmp();
    const a = await storage({ directory: dir, fsync: true }, 'file_storage/a');
    const b = await storage({ directory: dir, fsync: false }, 'file_storage/b');
    expect(a.file).toBe(join(dir, 'file_storage_a.sqlite'));
    expect(await a.pragma('journal_mode')).toBe('wal');
    expect(await a.pragma('synchronous')).toBe(2); // FULL
    expect(await b.pragma('synchronous')).toBe(1); // NORMAL
    expect(await a.pragma('locking_mode')).toBe('exclusive');
    expect(a.health()).toEqual({ status: 'ok' });
  });

  it('group-commits appends of one event-loop turn into one transaction', async () => {
    const t = new SelfTelemetry();
    const s = await storage({ directory: tmp() }, 'file_storage', t);
    const infos = await Promise.all(Array.from({ length: 20 }, (_, i) => s.append('o', 'traces', traces(i * 10, 10).toProto(), 10, {})));
    expect(new Set(infos.map((i) => i.id)).size).toBe(20);
    expect(await t.value('sieve_storage_commits_total')).toBe(1);
    expect((await s.list('o')).map((r) => r.items)).toEqual(Array(20).fill(10));
  });

  it('keeps records and their context across a restart, without credential headers', async () => {
    const dir = tmp();
    const s = await storage({ directory: dir });
    const data = traces(0, 5, { tenant: 'acme', receiver: 'otlp', metadata: { 'x-team': ['a'], authorization: ['Bearer secret'] } });
    const info = await s.append('o', 'traces', data.toProto(), 5, data.ctx);
    const gone = await s.append('o', 'traces', data.toProto(), 5, {});
    s.remove(gone.id, gone.size);
    await s.shutdown();

    const again = await storage({ directory: dir });
    expect(await again.list('o')).toEqual([info]);
    const rec = (await again.read(info.id))!;
    expect(Buffer.from(rec.data).equals(Buffer.from(data.toProto()))).toBe(true);
    expect(rec.ctx).toEqual({ tenant: 'acme', receiver: 'otlp', metadata: { 'x-team': ['a'] } });
    expect(again.usedBytes()).toBe(info.size);
  });

  it('stores a batch joined from requests from its byte ranges: the queue hands back the same bytes, before and after a restart', async () => {
    const dir = tmp();
    const s = await storage({ directory: dir });
    const q = s.createQueue('otlp', 'traces', queueSchema.parse({ storage: 'file_storage' }, [], new Issues()), (d) => d.protoLength());
    await q.start?.(host());
    const reqs = [traces(0, 3), traces(3, 4), traces(7, 2)];
    const batch = Telemetry.concat('traces', reqs);
    expect(batch.protoParts()).toHaveLength(3);
    const joined = Buffer.concat(reqs.map((r) => r.toProto()));
    await q.offer(batch);
    await q.offer(traces(9, 1));
    // Taken from memory: the very ranges.
    const first = (await q.take())!;
    expect(first.data.protoParts()).toEqual(reqs.map((r) => r.toProto()));
    expect(seqsOf(first.data)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    first.done(true);
    await s.shutdown();
    // Read back after a restart: one payload, the same bytes.
    const again = await storage({ directory: dir });
    const q2 = again.createQueue('otlp', 'traces', queueSchema.parse({ storage: 'file_storage' }, [], new Issues()), (d) => d.protoLength());
    await q2.start?.(host());
    const rest = (await q2.take())!;
    expect(seqsOf(rest.data)).toEqual([9]);
    const rec = await again.read((await again.list('queue/otlp/traces'))[0]!.id);
    expect(Buffer.from(rec!.data).equals(Buffer.from(traces(9, 1).toProto()))).toBe(true);
    // The stored payload of the joined batch was the concatenation (checked through a fresh append and read).
    const info = await again.append('o', 'traces', batch.protoParts(), 9, {});
    expect(Buffer.from((await again.read(info.id))!.data).equals(joined)).toBe(true);
  });

  it('hands records to another owner in one commit: listed there from then on, across a restart, and deleted as usual', async () => {
    const dir = tmp();
    const s = await storage({ directory: dir });
    const a = await s.append('durable/otlp', 'traces', traces(0, 2).toProto(), 2, {});
    const b = await s.append('durable/otlp', 'traces', traces(2, 3).toProto(), 3, { tenant: 't1' });
    const c = await s.append('durable/otlp', 'traces', traces(5, 1).toProto(), 1, {});
    await s.adopt('queue/otlp/traces', [a.id, c.id]);
    expect(await s.list('durable/otlp')).toEqual([b]);
    expect(await s.list('queue/otlp/traces')).toEqual([a, c]);
    expect(s.usedBytes()).toBe(a.size + b.size + c.size);
    await s.shutdown();

    const again = await storage({ directory: dir });
    expect(await again.list('durable/otlp')).toEqual([b]);
    expect(await again.list('queue/otlp/traces')).toEqual([a, c]);
    expect(seqsOf(Telemetry.fromProto('traces', (await again.read(c.id))!.data, 1))).toEqual([5]);
    again.remove(a.id, a.size);
    await again.sync();
    expect(await again.list('queue/otlp/traces')).toEqual([c]);
    expect(again.usedBytes()).toBe(b.size + c.size);
    await again.shutdown();
    await expect(again.adopt('queue/otlp/traces', [b.id])).rejects.toMatchObject({ code: 'SIEVE_ERR_STORAGE_UNAVAILABLE' });
    // A deleted record leaves no hand-over row behind.
    const db = new Database(databaseFile(dir, 'file_storage'), { readonly: true });
    expect(db.prepare('SELECT id, owner FROM adopted').all()).toEqual([{ id: c.id, owner: 'queue/otlp/traces' }]);
    db.close();
  });

  it('takes over whole durable requests for a batch instead of storing their bytes again, and copies a batch it may not take over', async () => {
    const dir = tmp();
    const t = new SelfTelemetry();
    const s = await storage({ directory: dir }, 'file_storage', t);
    const log = new DurableLog(s, 'durable/otlp', t, 'otlp');
    const q = s.createQueue('otlp', 'traces', queueSchema.parse({ storage: 'file_storage' }, [], new Issues()), (d) => d.protoLength());
    await q.start?.(host());
    const reqs = [traces(0, 3), traces(3, 4)];
    const recs = [];
    for (const r of reqs) recs.push(await log.persist(r));
    const batch = Telemetry.concat('traces', reqs);
    await q.offer(batch);
    // No new record: the two requests are the queue's now, and the receiver is done with them.
    expect(await s.list('durable/otlp')).toEqual([]);
    expect((await s.list('queue/otlp/traces')).map((r) => r.id)).toEqual(recs.map((r) => r.info.id));
    expect(recs.map((r) => r.references)).toEqual([0, 0]);
    expect(log.pending()).toBe(0);
    expect(s.usedBytes()).toBe(recs[0]!.info.size + recs[1]!.info.size);

    // Held by another branch too (a second exporter): the queue stores its own copy.
    const shared = traces(7, 2);
    const rec = await log.persist(shared);
    rec.retain();
    await q.offer(Telemetry.concat('traces', [shared]));
    expect((await s.list('durable/otlp')).map((r) => r.id)).toEqual([rec.info.id]);
    expect(await s.list('queue/otlp/traces')).toHaveLength(3);
    // Changed on the way (the bytes are no longer the stored ones): copied as well.
    const changed = traces(9, 1);
    const rec2 = await log.persist(changed);
    await q.offer(traces(9, 1, changed.ctx));
    expect((await s.list('durable/otlp')).map((r) => r.id)).toEqual([rec.info.id, rec2.info.id]);

    const first = (await q.take())!;
    expect(first.data.itemCount()).toBe(7);
    expect(seqsOf(first.data)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    await s.shutdown();

    // Killed before delivery: after a restart the queue finds each taken-over request as a batch of its own.
    const again = await storage({ directory: dir });
    const q2 = again.createQueue('otlp', 'traces', queueSchema.parse({ storage: 'file_storage' }, [], new Issues()), (d) => d.protoLength());
    await q2.start?.(host());
    const seen: number[][] = [];
    for (let i = 0; i < 4; i++) {
      const item = (await q2.take())!;
      seen.push(seqsOf(item.data));
      item.done(true);
    }
    expect(seen).toEqual([[0, 1, 2], [3, 4, 5, 6], [7, 8], [9]]);
    await again.sync();
    expect(await again.list('queue/otlp/traces')).toEqual([]);
    expect((await again.list('durable/otlp')).map((r) => r.id)).toEqual([rec.info.id, rec2.info.id]);
  });

  it('reads a taken-over batch back from storage when it is not kept in memory, and deletes all of its requests when done', async () => {
    const s = await storage({ directory: tmp() });
    const t = new SelfTelemetry();
    const log = new DurableLog(s, 'durable/otlp', t, 'otlp');
    const q = new PersistentQueue(s, 'queue/otlp/traces', 'traces', queueSchema.parse({ storage: 'file_storage' }, [], new Issues()), undefined, {}, 0);
    await q.start();
    const reqs = [traces(0, 2), traces(2, 2), traces(4, 1)];
    for (const r of reqs) await log.persist(r);
    await q.offer(Telemetry.concat('traces', reqs));
    const item = (await q.take())!;
    expect(seqsOf(item.data)).toEqual([0, 1, 2, 3, 4]);
    expect(item.data.itemCount()).toBe(5);
    item.done(true);
    await s.sync();
    expect(await s.list('queue/otlp/traces')).toEqual([]);
    expect(s.usedBytes()).toBe(0);
  });

  it('refuses new data with a retryable throttle error when max_size_bytes is reached, and recovers', async () => {
    const logger = memoryLogger();
    const s = await storage({ directory: tmp(), max_size_bytes: '64KiB' }, 'file_storage', new SelfTelemetry(), logger);
    const payload = new Uint8Array(20_000);
    const kept = [];
    for (let i = 0; i < 3; i++) kept.push(await s.append('o', 'traces', payload, 1, {}));
    const err = (await s.append('o', 'traces', payload, 1, {}).catch((e) => e)) as ConsumerError;
    expect(err).toBeInstanceOf(ConsumerError);
    expect(err.kind).toBe('exhausted');
    expect(err.permanent).toBe(false);
    expect(err.retryAfterMs).toBeGreaterThan(0);
    expect(err.message).toBe('file_storage is full (60000 of 65536 bytes used)');
    expect(s.health()).toEqual({ status: 'degraded', detail: 'storage is full: 60000 of 65536 bytes used' });
    expect(logger.lines.filter((l) => l.message === 'Storage is full; refusing new data until records are delivered.')).toHaveLength(1);
    for (const k of kept) s.remove(k.id, k.size);
    // Reported full for a while after the last refusal, then ok.
    expect(s.health().detail).toBe('storage is full: 0 of 65536 bytes used');
    clock += 5000;
    expect(s.health()).toEqual({ status: 'ok' });
    await s.append('o', 'traces', payload, 1, {});
  });

  it('reports a missing directory clearly, refuses writes as unavailable, and opens once it exists', async () => {
    const parent = tmp();
    const dir = join(parent, 'not-yet');
    const logger = memoryLogger();
    const s = await storage({ directory: dir, reopen_interval: '100ms' }, 'file_storage', new SelfTelemetry(), logger);
    const detail = `storage unavailable: directory ${dir} does not exist (create it, or set create_directory: true)`;
    expect(s.health()).toEqual({ status: 'degraded', detail });
    expect(logger.lines.find((l) => l.level === 'error')).toMatchObject({ message: 'Cannot open storage; data that needs it is refused until it opens.', error: detail.slice('storage unavailable: '.length) });
    const err = (await s.append('o', 'traces', new Uint8Array(10), 1, {}).catch((e) => e)) as ConsumerError;
    expect(err.kind).toBe('unavailable');
    expect(err.retryAfterMs).toBeGreaterThan(0);
    let opened = false;
    s.whenOpen(() => (opened = true));
    mkdirSync(dir);
    await expect.poll(() => opened, { timeout: 5000 }).toBe(true);
    expect(s.health()).toEqual({ status: 'ok' });
  });

  it('creates the directory when create_directory is set', async () => {
    const dir = join(tmp(), 'a', 'b');
    const s = await storage({ directory: dir, create_directory: true });
    expect(s.available()).toBe(true);
    expect(s.file).toBe(databaseFile(dir, 'file_storage'));
  });

  it('reports an unwritable location (a file in the path) without throwing', async () => {
    const parent = tmp();
    writeFileSync(join(parent, 'file'), 'x');
    const s = await storage({ directory: join(parent, 'file', 'sub'), create_directory: true });
    expect(s.health().status).toBe('degraded');
    expect(s.health().detail).toBe(`storage unavailable: cannot create directory ${join(parent, 'file', 'sub')}: a parent is not a directory`);
  });

  it('locks the file against a second daemon on the same directory', async () => {
    const dir = tmp();
    const first = await storage({ directory: dir, timeout: '10ms' });
    await first.append('o', 'traces', new Uint8Array(4), 1, {});
    const second = await storage({ directory: dir, timeout: '10ms' });
    expect(second.health()).toEqual({ status: 'degraded', detail: `storage unavailable: ${first.file} is locked by another process (is another Sieve using directory ${dir}?)` });
  });

  it('survives a full disk: writes are refused as unavailable, health is degraded, then it recovers', async () => {
    const s = await storage({ directory: tmp(), max_size_bytes: 0 });
    await s.append('o', 'traces', new Uint8Array(100), 1, {});
    // SQLite's own cap on pages gives the same SQLITE_FULL as a full file system.
    const pages = Number(await s.pragma('page_count'));
    await s.pragma(`max_page_count = ${pages + 2}`);
    const err = (await s.append('o', 'traces', new Uint8Array(64 * 1024), 1, {}).catch((e) => e)) as ConsumerError;
    expect(err.kind).toBe('unavailable');
    expect(err.message).toBe('file_storage cannot write: the disk is full');
    expect(s.health()).toEqual({ status: 'degraded', detail: 'storage write failed: the disk is full' });
    await s.pragma('max_page_count = 1073741823');
    await s.append('o', 'traces', new Uint8Array(64 * 1024), 1, {});
    expect(s.health()).toEqual({ status: 'ok' });
  });

  it('survives the loss of its database thread: refuses writes, reports degraded, reopens', async () => {
    const logger = memoryLogger();
    const s = await storage({ directory: tmp(), reopen_interval: '100ms' }, 'file_storage', new SelfTelemetry(), logger);
    const kept = await s.append('o', 'traces', new Uint8Array(10), 1, {});
    await (s as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    await expect.poll(() => s.health().status).toBe('degraded');
    expect(s.health().detail).toMatch(/^storage unavailable: storage worker exited/);
    await expect(s.append('o', 'traces', new Uint8Array(10), 1, {})).rejects.toThrow('file_storage is unavailable');
    await expect.poll(() => s.health().status, { timeout: 5000 }).toBe('ok');
    expect(await s.list('o')).toEqual([kept]);
    await s.append('o', 'traces', new Uint8Array(10), 1, {});
  });

  it('keeps the WAL checkpoint interval under a quarter of the cap', () => {
    expect(walCheckpointBytes(0)).toBe(30_000 * 4096);
    expect(walCheckpointBytes(1024 ** 3)).toBe(30_000 * 4096);
    expect(walCheckpointBytes(64 * 1024 ** 2)).toBe(16 * 1024 ** 2);
    expect(walCheckpointBytes(64 * 1024)).toBe(1000 * 4096);
  });

  it('makes new files with 16 KiB pages and sets the checkpoint interval in the file\'s own pages', async () => {
    const dir = tmp();
    const s = await storage({ directory: dir, max_size_bytes: 64 * 1024 ** 2 });
    expect(await s.pragma('page_size')).toBe(PAGE_SIZE);
    expect(await s.pragma('wal_autocheckpoint')).toBe((16 * 1024 ** 2) / PAGE_SIZE);
    expect(await s.pragma('journal_size_limit')).toBe(16 * 1024 ** 2);
    await s.shutdown();

    // A file made with SQLite's default 4 KiB pages keeps them; the interval is counted in them.
    const old = tmp();
    const db = new Database(databaseFile(old, 'file_storage'));
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE t (x)');
    db.close();
    const o = await storage({ directory: old, max_size_bytes: 64 * 1024 ** 2 });
    expect(await o.pragma('page_size')).toBe(4096);
    expect(await o.pragma('wal_autocheckpoint')).toBe((16 * 1024 ** 2) / 4096);
    const info = await o.append('o', 'traces', new Uint8Array(100_000).fill(7), 1, {});
    expect((await o.read(info.id))?.data).toEqual(new Uint8Array(100_000).fill(7));
    await o.shutdown();
  });

  it('batches deletions and commits them at shutdown', async () => {
    const dir = tmp();
    const s = await storage({ directory: dir });
    const infos = await Promise.all([1, 2, 3].map(() => s.append('o', 'logs', new Uint8Array(8), 1, {})));
    for (const i of infos) s.remove(i.id, i.size);
    await s.shutdown();
    const again = await storage({ directory: dir });
    expect(await again.list('o')).toEqual([]);
    expect(again.usedBytes()).toBe(0);
  });
});
