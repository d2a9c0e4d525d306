// Fan-out to several consumers with the Collector's clone-on-mutate rule:
// consumers that only read share the batch; each consumer that mutates gets
// its own copy (the last mutating one may take the original when no reader
// shares it).
import type { ConsumeResult, Consumer } from '../component/component.js';
import { ConsumerError, asConsumerError } from '../component/errors.js';
import type { Telemetry } from '../pdata/telemetry.js';

export function fanOut(consumers: Consumer[]): Consumer {
  if (consumers.length === 1) return consumers[0]!;
  const mutating = consumers.filter((c) => c.mutatesData);
  const readers = consumers.filter((c) => !c.mutatesData);
  return {
    mutatesData: mutating.length > 0,
    async consume(data: Telemetry): Promise<ConsumeResult> {
      const durable = data.ctx.durable;
      // Every extra branch holds its own reference on durably stored requests.
      if (durable) for (let i = 1; i < consumers.length; i++) for (const r of durable) r.retain();
      const calls: Promise<ConsumeResult>[] = [];
      for (const r of readers) calls.push(r.consume(data));
      mutating.forEach((m, i) => {
        const last = i === mutating.length - 1 && readers.length === 0;
        calls.push(m.consume(last ? data : data.clone()));
      });
      const results = await Promise.allSettled(calls);
      let rejected = 0;
      const messages: string[] = [];
      let firstErr: ConsumerError | undefined;
      for (const r of results) {
        if (r.status === 'rejected') {
          const e = asConsumerError(r.reason);
          // A retryable error wins: the client retries and nothing is lost (duplicates are possible).
          if (!firstErr || (firstErr.permanent && !e.permanent)) firstErr = e;
        } else if (r.value) {
          rejected = Math.max(rejected, r.value.rejected);
          if (r.value.errorMessage) messages.push(r.value.errorMessage);
        }
      }
      if (firstErr) throw firstErr;
      if (rejected > 0 || messages.length) return { rejected, errorMessage: messages.join('; ') };
      return undefined;
    },
  };
}
