// A sending queue kept in a RecordStore. `offer` resolves once the batch is
// committed, so an exporter may acknowledge its caller as soon as the batch is
// on disk; `take` reads batches back in order; a batch is deleted when it is
// delivered or dropped for good. Batches taken but never marked done (the
// daemon stopped or was killed mid-send) are sent again on the next start.
//
// A batch made of whole durably acknowledged requests, as they were stored and
// never shared with another branch, is not written again: the queue takes the stored
// requests over (one transaction makes it their owner) and sends them as the
// batch. After a restart it finds them among its own records, one per request.
// Measured with `node --import tsx bench/durable.ts --scenario memory|durable`
// (durable receiver, batch, persistent queue), spans/s per core of daemon CPU,
// alternating runs: copying the batch, durable 241k-279k (0.53-0.56 of in
// memory); taking the requests over, 325k-359k (0.61-0.66). Taking them over
// by an UPDATE of records.owner gained little (278k-315k): SQLite writes a
// changed row again whole, its payload's overflow pages included, so the
// hand-over is a row of its own in the `adopted` table.
import { throttleError, unavailableError } from '../../component/errors.js';
import type { BatchQueue, QueueConfig, QueueItem, QueueOptions } from '../../exporters/exporterhelper/helper.js';
import type { Signal } from '../../pdata/model.js';
import { Telemetry } from '../../pdata/telemetry.js';
import type { RecordInfo, RecordStore } from '../../durable/store.js';
import { DurableRecord } from '../../durable/log.js';

/** A queued batch: one record, or the durable requests the queue adopted for it (`members`, in order). */
type Entry = RecordInfo & { members?: readonly RecordInfo[] };

/**
 * Payloads offered in this process are kept in memory up to this many bytes,
 * so that sending them does not read them back from the database (a read per
 * batch was 5% of the daemon's CPU in bench/durable.ts). A backlog beyond it,
 * or loaded after a restart, is read from disk.
 */
const CACHE_BYTES = 32 * 1024 * 1024;

export class PersistentQueue implements BatchQueue {
  readonly persistent = true;
  /** Batches stored and not yet taken, kept as their byte ranges so a taker need not read them back. */
  private cache = new Map<number, { parts: readonly Uint8Array[]; length: number; ctx: Telemetry['ctx'] }>();
  private cached = 0;
  private backlog: Entry[] = [];
  private head = 0;
  /** Used capacity in sizer units, counting batches taken but not yet done. */
  private used = 0;
  private waiters: ((item: QueueItem | undefined) => void)[] = [];
  private spaceWaiters: (() => void)[] = [];
  private closed = false;
  private loaded = false;
  private readonly units: (items: number, size: number) => number;

  constructor(
    private store: RecordStore,
    readonly owner: string,
    private signal: Signal,
    private cfg: QueueConfig,
    _sizeOf: unknown,
    private opts: QueueOptions = {},
    /** Bytes of offered payloads kept in memory (CACHE_BYTES; tests set less). */
    private readonly cacheBytes = CACHE_BYTES,
  ) {
    // Sized from what the store records, so a backlog loaded after a restart is sized like new data.
    this.units = cfg.sizer === 'items' ? (items) => items : cfg.sizer === 'bytes' ? (_i, size) => size : () => 1;
  }

  async start(): Promise<void> {
    let loading: Promise<void> | undefined;
    this.store.whenOpen(() => (loading = this.load()));
    // Loaded before the exporter starts sending when the storage is open; otherwise once it opens.
    if (loading) await loading;
  }

  private async load(): Promise<void> {
    if (this.loaded || this.closed) return;
    this.loaded = true;
    const rows = await this.store.list(this.owner);
    for (const r of rows) {
      if (r.signal !== this.signal) continue;
      this.backlog.push(r);
      this.used += this.units(r.items, r.size);
    }
    if (rows.length > 0) {
      let items = 0;
      for (const r of rows) items += r.items;
      this.opts.logger?.info('Resuming the persistent queue backlog.', { queue: this.owner, batches: rows.length, items });
    }
    while (this.waiters.length && this.head < this.backlog.length) {
      const w = this.waiters.shift()!;
      this.nextItem().then(w, () => w(undefined));
    }
  }

  async offer(data: Telemetry): Promise<void> {
    if (this.closed) throw unavailableError('exporter is shutting down', 1000, 'SIEVE_ERR_SHUTTING_DOWN');
    // A batch joined from requests is stored from its ranges, not joined into one buffer first.
    const parts = data.protoParts();
    const length = data.protoLength();
    const items = data.itemCount();
    // The size charged is payload plus context; the context is small, so the payload is a close estimate here.
    const units = this.units(items, length);
    while (this.used + units > this.cfg.queue_size && this.used > 0) {
      if (!this.cfg.block_on_overflow) throw throttleError('sending queue is full', this.opts.retryAfterMs?.() ?? 1000, 'SIEVE_ERR_QUEUE_FULL');
      await new Promise<void>((r) => this.spaceWaiters.push(r));
      if (this.closed) throw unavailableError('exporter is shutting down', 1000, 'SIEVE_ERR_SHUTTING_DOWN');
    }
    this.used += units;
    let info: Entry;
    const adopt = this.adoptable(data, parts);
    try {
      if (adopt) {
        await this.store.adopt!(this.owner, adopt.map((r) => r.info.id));
        const members = adopt.map((r) => r.info);
        let n = 0;
        let size = 0;
        for (const m of members) {
          n += m.items;
          size += m.size;
        }
        // Abandoned meanwhile (refused by another branch): the requests are deleted, the client sends them again.
        for (const r of adopt) r.handOver();
        info = { id: members[0]!.id, signal: this.signal, items: n, size, members };
      } else info = await this.store.append(this.owner, this.signal, parts, items, data.ctx);
    } catch (e) {
      this.used -= units;
      this.spaceWaiters.shift()?.();
      throw e;
    }
    // Charged as recorded from now on (done() gives back the same amount).
    this.used += this.units(info.items, info.size) - units;
    if (this.closed) return; // committed: sent after the next start
    if (this.cached + length <= this.cacheBytes) {
      const ctx = { ...data.ctx };
      delete ctx.durable; // released once committed; the queued copy holds none
      this.cache.set(info.id, { parts, length, ctx });
      this.cached += length;
    }
    this.backlog.push(info);
    const w = this.waiters.shift();
    if (w) this.nextItem().then(w, () => w(undefined));
  }

  /** The durable records `parts` are, one each and in order, when this queue may take them over (see the header). */
  private adoptable(data: Telemetry, parts: readonly Uint8Array[]): DurableRecord[] | undefined {
    const refs = data.ctx.durable;
    if (!this.store.adopt || !refs || refs.length !== parts.length) return undefined;
    for (let i = 0; i < refs.length; i++) {
      const r = refs[i];
      if (!(r instanceof DurableRecord) || !r.adoptableBy(this.store, parts[i]!)) return undefined;
    }
    return refs as DurableRecord[];
  }

  take(): Promise<QueueItem | undefined> {
    if (this.closed) return Promise.resolve(undefined);
    if (this.head < this.backlog.length) return this.nextItem();
    return new Promise((r) => this.waiters.push(r));
  }

  private async nextItem(): Promise<QueueItem | undefined> {
    for (;;) {
      if (this.closed) return undefined;
      if (this.head >= this.backlog.length) return new Promise((r) => this.waiters.push(r));
      // Claimed before any await, so concurrent takers never get the same batch.
      const info = this.backlog[this.head]!;
      this.backlog[this.head++] = undefined as never;
      const hit = this.cache.get(info.id);
      if (hit) {
        this.cache.delete(info.id);
        this.cached -= hit.length;
      }
      const rec = hit ? { parts: hit.parts, ctx: hit.ctx, items: info.items } : await this.readBack(info);
      if (!rec && !this.store.available() && !this.closed) {
        // The database is being reopened: wait for it rather than skipping the batch.
        await new Promise<void>((r) => this.store.whenOpen(r));
        this.backlog.splice(this.head, 0, info);
        continue;
      }
      if (this.head > 1024 && this.head * 2 > this.backlog.length) {
        this.backlog = this.backlog.slice(this.head);
        this.head = 0;
      }
      const units = this.units(info.items, info.size);
      if (!rec) {
        this.used -= units;
        continue;
      }
      let finished = false;
      return {
        data: Telemetry.fromParts(this.signal, rec.parts, rec.items, rec.ctx),
        done: () => {
          if (finished) return;
          finished = true;
          this.used -= units;
          if (info.members) for (const m of info.members) this.store.remove(m.id, m.size);
          else this.store.remove(info.id, info.size);
          this.spaceWaiters.shift()?.();
        },
      };
    }
  }

  /** A batch not kept in memory, read from storage (an adopted one as the join of its requests, with the first one's context). */
  private async readBack(info: Entry): Promise<{ parts: readonly Uint8Array[]; ctx: Telemetry['ctx']; items: number } | undefined> {
    const members = info.members;
    if (!members) return this.store.read(info.id).then((r) => r && { parts: [r.data], ctx: r.ctx, items: info.items });
    const rows = await Promise.all(members.map((m) => this.store.read(m.id)));
    const parts: Uint8Array[] = [];
    let ctx: Telemetry['ctx'] | undefined;
    let items = 0;
    rows.forEach((r, i) => {
      if (!r) return;
      parts.push(r.data);
      ctx ??= r.ctx;
      items += members[i]!.items;
    });
    return ctx ? { parts, ctx, items } : undefined;
  }

  size(): number {
    return this.used;
  }
  capacity(): number {
    return this.cfg.queue_size;
  }
  /** Stops handing out batches; what is stored stays for the next start. */
  close(): void {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w(undefined);
    for (const w of this.spaceWaiters.splice(0)) w();
  }
}
