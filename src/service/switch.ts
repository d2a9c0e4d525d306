// A consumer whose target can be replaced while data flows: reload points a
// running receiver at a rebuilt pipeline, then waits until the calls still in
// the old one have returned before shutting that one down. Every call is
// counted against the target it started on, so nothing acknowledged is lost.
import type { ConsumeResult, Consumer } from '../component/component.js';
import type { Telemetry } from '../pdata/telemetry.js';

interface Generation {
  target: Consumer;
  inflight: number;
  waiters: (() => void)[];
}

export class SwitchConsumer implements Consumer {
  private cur: Generation;

  constructor(target: Consumer) {
    this.cur = { target, inflight: 0, waiters: [] };
  }

  get mutatesData(): boolean {
    return this.cur.target.mutatesData;
  }

  async consume(data: Telemetry): Promise<ConsumeResult> {
    const g = this.cur;
    g.inflight++;
    try {
      return await g.target.consume(data);
    } finally {
      if (--g.inflight === 0) for (const w of g.waiters.splice(0)) w();
    }
  }

  /** Sends new calls to `target`; resolves once the calls made on the previous target have returned. */
  swap(target: Consumer): Promise<void> {
    const old = this.cur;
    this.cur = { target, inflight: 0, waiters: [] };
    return drained(old);
  }

  /** Resolves once no call is in flight on the current target. */
  drained(): Promise<void> {
    return drained(this.cur);
  }
}

function drained(g: Generation): Promise<void> {
  if (g.inflight === 0) return Promise.resolve();
  return new Promise((r) => g.waiters.push(r));
}
