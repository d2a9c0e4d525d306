// Durable acknowledgement for one receiver: persists each request before it
// enters the pipelines, and on start replays what earlier runs stored but
// never released, before the receiver opens its ports.
//
// A receiver uses it in three places:
//
//   const durable = new DurableIngest(settings, cfg.durable);
//   start:    await durable.start(host, next)        // replay, before listening
//   request:  const settle = await durable.persist(signal, data);
//             consume(data) → settle(true) | settle(false)
//   shutdown: await durable.shutdown()                // after in-flight requests
import type { Consumer, CreateSettings, Host } from '../component/component.js';
import { asConsumerError } from '../component/errors.js';
import type { Signal } from '../pdata/model.js';
import type { Telemetry } from '../pdata/telemetry.js';
import type { Logger } from '../service/logger.js';
import type { DurableConfig } from './config.js';
import { DurableLog, type DurableRecord } from './log.js';
import { isRecordStore, type RecordInfo, type RecordStore } from './store.js';

/** How many stored requests are replayed concurrently. */
const REPLAY_CONCURRENCY = 8;
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30_000;

interface Retry {
  info: RecordInfo;
  /** The record from a failed attempt, still holding this replayer's reference. */
  record?: DurableRecord;
}

/** Called with the pipeline's answer: true when it accepted the request. */
export type Settle = (accepted: boolean) => void;

export class DurableIngest {
  private log: DurableLog | undefined;
  private next: Partial<Record<Signal, Consumer>> = {};
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelay: number;
  private readonly retryMinMs: number;
  private retrying: Retry[] = [];
  private replayP: Promise<void> | undefined;
  private readonly logger: Logger;
  private readonly replayed;
  private readonly replayedItems;

  constructor(private settings: CreateSettings, readonly cfg: DurableConfig, opts: { retryMinMs?: number } = {}) {
    this.retryMinMs = opts.retryMinMs ?? RETRY_MIN_MS;
    this.retryDelay = this.retryMinMs;
    this.logger = settings.logger;
    const t = settings.telemetry;
    this.replayed = t.counter('sieve_durable_replayed_requests_total', 'Durably stored requests replayed into the pipelines after a restart.', ['receiver']);
    this.replayedItems = t.counter('sieve_durable_replayed_items_total', 'Items of durably stored requests replayed after a restart.', ['receiver']);
  }

  get enabled(): boolean {
    return this.cfg.enabled;
  }

  /** The storage in use (after start). */
  get store(): RecordStore | undefined {
    return this.log?.store;
  }

  /**
   * Finds the storage and replays the requests earlier runs left behind, into
   * `next`, before returning. Requests the pipelines refuse during replay are
   * retried in the background. Throws when the storage is not configured.
   */
  async start(host: Host, next: Partial<Record<Signal, Consumer>>): Promise<void> {
    if (!this.cfg.enabled || this.log) return;
    this.next = next;
    const store = findStore(host, this.cfg.storage);
    this.log = new DurableLog(store, `durable/${this.settings.id}`, this.settings.telemetry, this.settings.id);
    this.log.logger = this.logger;
    let opened = false;
    store.whenOpen(() => {
      opened = true;
      this.replayP = this.replay().catch((e) => this.logger.error('Replay of durably stored requests failed.', { error: e as Error }));
    });
    if (opened) await this.replayP;
    else this.logger.warn('Durable storage is not available yet; requests are refused until it opens, and stored requests are replayed then.', { storage: store.storageId });
  }

  /**
   * Commits the request to storage and attaches its durable reference. The
   * returned function must be called with the pipeline's answer. Rejects with
   * a retryable error when the storage is full or unavailable.
   */
  async persist(_signal: Signal, data: Telemetry): Promise<Settle> {
    const log = this.log;
    if (!log) throw asConsumerError(new Error('durable acknowledgement is not started'));
    const rec = await log.persist(data);
    return (accepted: boolean) => {
      // Refused: the client retries, so the stored copy is dropped whatever part of the pipeline took it.
      if (!accepted) rec.abandon();
    };
  }

  private async replay(): Promise<void> {
    const log = this.log!;
    const rows = await log.backlog();
    if (rows.length === 0) return;
    let items = 0;
    for (const r of rows) items += r.items;
    this.logger.info('Replaying durably stored requests that were not delivered before the last stop.', { requests: rows.length, items });
    const failed = await this.replayBatch(rows.map((info) => ({ info })));
    if (failed.length) this.scheduleRetry(failed);
  }

  /** Replays records; returns those the pipelines refused. */
  private async replayBatch(rows: Retry[]): Promise<Retry[]> {
    const failed: Retry[] = [];
    let i = 0;
    const work = async () => {
      while (i < rows.length && !this.stopped) {
        const r = rows[i++]!;
        const again = await this.replayOne(r.info, r.record);
        if (again) failed.push(again);
      }
    };
    await Promise.all(Array.from({ length: Math.min(REPLAY_CONCURRENCY, rows.length) }, work));
    return failed;
  }

  /** Replays one record; returns what to try again, if refused. */
  private async replayOne(info: RecordInfo, record?: DurableRecord): Promise<Retry | undefined> {
    const log = this.log!;
    const consumer = this.next[info.signal];
    if (!consumer) {
      this.logger.warn('Dropping a durably stored request: this receiver no longer has a pipeline for its signal.', { signal: info.signal, items: info.items });
      log.store.remove(info.id, info.size);
      return undefined;
    }
    const loaded = await log.load(info, record);
    if (!loaded) return undefined;
    try {
      await consumer.consume(loaded.data);
      this.replayed.inc({ receiver: this.settings.id });
      this.replayedItems.inc({ receiver: this.settings.id }, info.items);
      return undefined;
    } catch (e) {
      this.logger.debug('Replay of a stored request was refused; will retry.', { error: asConsumerError(e) });
      return this.requeue(loaded.data, loaded.record, info);
    }
  }

  /**
   * A refused replay behaves like a refused client: the data is stored again
   * as a new record and the old one abandoned, so references some branch of
   * the pipeline may still hold cannot keep or free the new copy.
   */
  private async requeue(data: Telemetry, record: DurableRecord, info: RecordInfo): Promise<Retry> {
    const ctx = { ...data.ctx };
    delete ctx.durable;
    try {
      const copy = await this.log!.store.append(this.log!.owner, info.signal, data.toProto(), info.items, ctx);
      record.abandon();
      return { info: copy };
    } catch {
      // Storage full or unavailable: try again with the old record and the reference still held on it
      // (a duplicate is possible, a loss is not).
      return { info, record };
    }
  }

  private scheduleRetry(rows: Retry[]): void {
    if (this.stopped) return;
    this.retrying.push(...rows);
    if (this.retryTimer) return;
    this.logger.warn('Some durably stored requests could not be replayed yet; retrying in the background.', { requests: this.retrying.length, retry_in_ms: this.retryDelay });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      const batch = this.retrying.splice(0);
      void this.replayBatch(batch).then((failed) => {
        if (failed.length) {
          this.retryDelay = Math.min(RETRY_MAX_MS, this.retryDelay * 2);
          this.scheduleRetry(failed);
        } else {
          this.retryDelay = this.retryMinMs;
          this.logger.info('Durably stored requests replayed.');
        }
      });
    }, this.retryDelay);
    this.retryTimer.unref();
  }

  /** Requests waiting for a replay retry (health, tests). */
  pendingReplays(): number {
    return this.retrying.length;
  }

  async shutdown(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    // Records are left in storage; the storage extension commits pending deletions when it stops.
  }
}

function findStore(host: Host, id: string | undefined): RecordStore {
  if (id) {
    const ext = host.getExtension(id);
    if (!ext) throw new Error(`durable::storage: extension "${id}" is not configured (add it under extensions and service::extensions)`);
    if (!isRecordStore(ext)) throw new Error(`durable::storage: extension "${id}" is not a storage extension`);
    return ext;
  }
  const stores: (RecordStore & { storageId: string })[] = [];
  for (const [, c] of host.components()) if (c.kind === 'extension' && isRecordStore(c.component)) stores.push(c.component);
  if (stores.length === 1) return stores[0]!;
  if (stores.length === 0) throw new Error('durable: needs a file_storage extension in service::extensions (or set durable::storage)');
  throw new Error(`durable::storage: several storage extensions are configured (${stores.map((s) => s.storageId).join(', ')}); name one`);
}
