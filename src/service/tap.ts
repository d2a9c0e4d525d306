// Live taps for `sieve tap`: a subscriber streams, as JSON lines, the items a
// receiver or processor emits. Tapping never slows the pipeline: the line is
// written only when the client's socket buffer has room, otherwise the sample
// is dropped and counted.
import type { ServerResponse } from 'node:http';
import { itemsOf } from '../configtest/items.js';
import type { Signal } from '../pdata/model.js';
import type { Telemetry } from '../pdata/telemetry.js';
import type { SelfTelemetry } from './telemetry.js';

/** Bytes a tap client may have unread before its samples are dropped. */
const HIGH_WATER = 256 * 1024;

export interface TapSubscriber {
  component: string;
  signal?: Signal;
  rate: number;
  remaining: number;
  res: ServerResponse;
}

export class TapHub {
  private subs = new Map<string, Set<TapSubscriber>>();
  private dropped;
  private sent;

  constructor(telemetry: SelfTelemetry) {
    this.dropped = telemetry.counter('sieve_tap_dropped_items', 'Items a tap client was too slow to take, dropped for it.', ['component']);
    this.sent = telemetry.counter('sieve_tap_sent_items', 'Items sent to tap clients.', ['component']);
  }

  get active(): boolean {
    return this.subs.size > 0;
  }

  add(s: TapSubscriber): () => void {
    let set = this.subs.get(s.component);
    if (!set) this.subs.set(s.component, (set = new Set()));
    set.add(s);
    return () => {
      set!.delete(s);
      if (set!.size === 0 && this.subs.get(s.component) === set) this.subs.delete(s.component);
    };
  }

  /** Ends every tap stream (shutdown). */
  closeAll(): void {
    for (const set of this.subs.values()) for (const s of set) s.res.end();
    this.subs.clear();
  }

  /** Called with what `component` emits; synchronous and never throws. */
  observe(component: string, pipeline: string | undefined, signal: Signal, data: Telemetry): void {
    const set = this.subs.get(component) ?? (pipeline ? this.subs.get(`${component}@${pipeline}`) : undefined);
    if (!set) return;
    try {
      let items: Record<string, unknown>[] | undefined;
      for (const s of set) {
        if (s.signal && s.signal !== signal) continue;
        items ??= itemsOf(data);
        for (const it of items) {
          if (s.remaining <= 0) break;
          if (s.rate < 1 && Math.random() >= s.rate) continue;
          if (s.res.writableLength > HIGH_WATER || s.res.destroyed) {
            this.dropped.inc({ component });
            continue;
          }
          s.remaining--;
          s.res.write(JSON.stringify({ component, pipeline, signal, ...it }) + '\n');
          this.sent.inc({ component });
        }
        if (s.remaining <= 0) s.res.end();
      }
    } catch {
      /* a tap must not fail the pipeline */
    }
  }
}
