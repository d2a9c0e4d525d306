// Durable acknowledgement: a request is written to storage before the client
// is acknowledged, and deleted once every exporter is done with what derives
// from it. Between the two, a DurableRecord counts the holders of the request:
//
//   - it starts with one reference, handed to the pipeline with the batch;
//   - whoever makes extra copies of a batch (fan-out, splitting, per-tenant
//     parts) retains once per extra copy;
//   - whoever is done with a batch it accepted (exporter delivered it or
//     committed it to a persistent queue, a processor dropped it by policy)
//     releases once;
//   - when a consumer rejects a batch, the references stay with the caller.
//     The receiver then abandons the record: the client was told to retry, so
//     the stored copy is not needed (and stray references cannot pin it).
//
// The record is deleted when the count reaches zero. A record that is never
// released survives in storage and is replayed on the next start: the failure
// mode of any mistake in the counting is a duplicate, never a loss, as long as
// nobody releases more than they hold.
//
// One safety net: a record that becomes unreachable while still referenced (a
// component dropped a batch's context without releasing it) can never be
// released, and would hold its storage until the next restart. When the
// garbage collector finds one, the record is deleted, counted in
// sieve_durable_leaked_requests_total and logged: the daemon keeps running
// with bounded storage, and what that component held is no longer covered.
import type { DurableRef, RequestContext } from '../pdata/telemetry.js';
import { Telemetry } from '../pdata/telemetry.js';
import type { Signal } from '../pdata/model.js';
import type { Logger } from '../service/logger.js';
import type { SelfTelemetry } from '../service/telemetry.js';
import type { RecordInfo, RecordStore } from './store.js';

export class DurableRecord implements DurableRef {
  private refs = 1;
  /**
   * @param payload the bytes stored, as the batch that carries this record
   *   holds them (undefined for a replayed record)
   */
  constructor(private log: DurableLog, readonly info: RecordInfo, private payload?: Uint8Array) {
    leaks.register(this, { log, info }, this);
  }

  /**
   * True when a persistent queue of `store` may take this record over for
   * `bytes` instead of storing them again: the bytes are the record's own
   * payload and the batch offering them holds the one reference left.
   */
  adoptableBy(store: RecordStore, bytes: Uint8Array): boolean {
    return this.refs === 1 && this.payload === bytes && this.log.store === store;
  }

  /**
   * The record now belongs to another owner in storage (a persistent queue
   * adopted it): done here without deleting it. False when it was abandoned
   * meanwhile (its deletion is already queued).
   */
  handOver(): boolean {
    if (this.refs <= 0) return false;
    this.refs = 0;
    this.payload = undefined;
    leaks.unregister(this);
    this.log.handedOver();
    return true;
  }

  retain(): void {
    if (this.refs > 0) this.refs++;
    // Shared now, so never taken over: the bytes are not kept alive by the record (tail sampling
    // holds a record per buffered trace for decision_wait, long after the request's bytes are copied).
    this.payload = undefined;
  }

  release(): void {
    if (this.refs <= 0) return;
    if (--this.refs === 0) this.finish();
  }

  /** Deletes the stored request now, whoever still holds references (their releases become no-ops). */
  abandon(): void {
    if (this.refs <= 0) return;
    this.refs = 0;
    this.finish();
  }

  private finish(): void {
    this.payload = undefined;
    leaks.unregister(this);
    this.log.free(this.info);
  }

  /** Outstanding references (tests). */
  get references(): number {
    return this.refs;
  }
}

/** The durably stored requests of one owner (a receiver) in a RecordStore. */
export class DurableLog {
  private live = 0;
  private readonly persisted;
  private readonly released;
  private readonly leakedCounter;
  private leakLogged = false;
  private readonly labels: { receiver: string };

  constructor(readonly store: RecordStore, readonly owner: string, telemetry: SelfTelemetry, component: string) {
    this.labels = { receiver: component };
    this.persisted = telemetry.counter('sieve_durable_persisted_requests_total', 'Requests committed to storage before they were acknowledged.', ['receiver']);
    this.released = telemetry.counter('sieve_durable_released_requests_total', 'Durably stored requests this receiver is done with: deleted because every exporter was done with them, or taken over by a persistent sending queue.', ['receiver']);
    this.leakedCounter = telemetry.counter('sieve_durable_leaked_requests_total', 'Durably stored requests deleted because a component dropped them without releasing them (they were no longer covered).', ['receiver']);
    registerPendingGauge(telemetry, this);
  }

  /**
   * Commits the request and attaches its record to `data.ctx.durable`.
   * Rejects with the storage's retryable error when it is full or unavailable.
   */
  async persist(data: Telemetry): Promise<DurableRecord> {
    const bytes = data.toProto();
    const info = await this.store.append(this.owner, data.signal, bytes, data.itemCount(), data.ctx);
    const rec = this.track(info, bytes);
    this.persisted.inc(this.labels);
    attach(data, rec);
    return rec;
  }

  /** Records stored by earlier runs, oldest first. */
  backlog(): Promise<RecordInfo[]> {
    return this.store.list(this.owner);
  }

  /**
   * A stored request as a batch carrying a record with one reference: a fresh
   * one, or `record` (whose reference the caller still holds) for a retry.
   * Undefined when the request is gone.
   */
  async load(info: RecordInfo, record?: DurableRecord): Promise<{ data: Telemetry; record: DurableRecord } | undefined> {
    const rec = await this.store.read(info.id);
    if (!rec) return undefined;
    record ??= this.track(info);
    const data = Telemetry.fromProto(info.signal as Signal, rec.data, info.items, rec.ctx);
    attach(data, record);
    return { data, record };
  }

  private track(info: RecordInfo, payload?: Uint8Array): DurableRecord {
    this.live++;
    return new DurableRecord(this, info, payload);
  }

  /** Called by a record that another owner took over in storage. */
  handedOver(): void {
    this.live--;
    this.released.inc(this.labels);
  }

  /** Called by a record whose last reference is gone. */
  free(info: RecordInfo): void {
    this.live--;
    this.released.inc(this.labels);
    this.store.remove(info.id, info.size);
  }

  /** Called when the garbage collector finds a record nobody can release any more. */
  leaked(info: RecordInfo): void {
    this.live--;
    this.leakedCounter.inc(this.labels);
    if (!this.leakLogged) {
      this.leakLogged = true;
      this.logger?.warn('A component dropped durably stored requests without releasing them; they are deleted and no longer covered (see sieve_durable_leaked_requests_total).', { receiver: this.labels.receiver });
    }
    this.store.remove(info.id, info.size);
  }

  /** Where leaks are reported (set by the owner). */
  logger: Logger | undefined;

  /** Records of this process not yet released. */
  pending(): number {
    return this.live;
  }

  get receiver(): string {
    return this.labels.receiver;
  }
}

function attach(data: Telemetry, rec: DurableRecord): void {
  const ctx: RequestContext = { ...data.ctx, durable: data.ctx.durable ? [...data.ctx.durable, rec] : [rec] };
  data.ctx = ctx;
}

/** Records that become unreachable while referenced (see the header). */
const leaks = new FinalizationRegistry<{ log: DurableLog; info: RecordInfo }>((h) => h.log.leaked(h.info));

const pendingLogs = new WeakMap<SelfTelemetry, Set<DurableLog>>();

function registerPendingGauge(t: SelfTelemetry, log: DurableLog): void {
  let set = pendingLogs.get(t);
  if (!set) {
    const s = new Set<DurableLog>();
    set = s;
    pendingLogs.set(t, s);
    t.gauge('sieve_durable_pending_requests', 'Durably stored requests that some exporter has not finished with yet.', ['receiver'], function () {
      this.reset();
      for (const l of s) this.set({ receiver: l.receiver }, l.pending());
    });
  }
  set.add(log);
}
