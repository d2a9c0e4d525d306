import { describe, expect, it } from 'vitest';
import type { Consumer } from '../../component/component.js';
import { ConsumerError, permanentError, throttleError } from '../../component/errors.js';
import { Issues } from '../../config/schema.js';
import { Telemetry } from '../../pdata/telemetry.js';
import { nopLogger } from '../../service/logger.js';
import { SelfTelemetry } from '../../service/telemetry.js';
import { traces } from '../../../test/helpers/model.js';
import { tracesCodec } from '../../pdata/codec.js';
import { batchSchema } from './factory.js';
import { BatchProcessor } from './batch.js';
import { validateYaml } from '../../service/service.js';

function make(cfg: Record<string, unknown>, next: Consumer) {
  const issues = new Issues();
  const c = batchSchema.parse(cfg, [], issues);
  expect(issues.list).toEqual([]);
  const telemetry = new SelfTelemetry();
  return { p: new BatchProcessor({ id: 'batch', kind: 'processor', logger: nopLogger, telemetry, instanceId: 'x', now: Date.now }, c, 'traces', next), telemetry };
}

function recorder() {
  const got: Telemetry[] = [];
  let fail: (() => Error | undefined) | undefined;
  const next: Consumer = {
    mutatesData: false,
    async consume(d) {
      const e = fail?.();
      if (e) throw e;
      got.push(d);
    },
  };
  return { got, next, setFail: (f: typeof fail) => (fail = f) };
}

const batchOf = (n: number, offset = 0, tenant?: string) => Telemetry.fromProto('traces', tracesCodec.encode(traces(n, 2, offset)), n, tenant ? { tenant } : {});
const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('batch processor', () => {
  it('sends once send_batch_size is reached, concatenating request bytes without decoding', async () => {
    const r = recorder();
    const { p } = make({ send_batch_size: 10, timeout: '10s' }, r.next);
    for (let i = 0; i < 3; i++) await p.consume(batchOf(4, i * 4));
    await tick(10);
    expect(r.got.map((d) => d.itemCount())).toEqual([12]);
    expect(r.got[0]!.hasProto()).toBe(true);
    expect(tracesCodec.decode(r.got[0]!.toProto()).length).toBe(3);
    await p.shutdown();
  });

  it('sends on timeout', async () => {
    const r = recorder();
    const { p } = make({ send_batch_size: 1000, timeout: '20ms' }, r.next);
    await p.consume(batchOf(5));
    expect(r.got).toHaveLength(0);
    await tick(60);
    expect(r.got.map((d) => d.itemCount())).toEqual([5]);
    await p.shutdown();
  });

  it('splits batches over send_batch_max_size', async () => {
    const r = recorder();
    const { p } = make({ send_batch_size: 20, send_batch_max_size: 10, timeout: '10s' }, r.next);
    await p.consume(batchOf(25));
    await tick(10);
    expect(r.got.map((d) => d.itemCount())).toEqual([10, 10, 5]);
    await p.shutdown();
  });

  it('never mixes tenants in one batch', async () => {
    const r = recorder();
    const { p } = make({ send_batch_size: 1000, timeout: '10ms' }, r.next);
    await p.consume(batchOf(3, 0, 'a'));
    await p.consume(batchOf(4, 3, 'b'));
    await p.consume(batchOf(5, 7, 'a'));
    await tick(50);
    const byTenant = Object.fromEntries(r.got.map((d) => [d.ctx.tenant, d.itemCount()]));
    expect(byTenant).toEqual({ a: 8, b: 4 });
    await p.shutdown();
  });

  it('keeps a batch refused with a retryable error and sends it again', async () => {
    const r = recorder();
    let calls = 0;
    r.setFail(() => (++calls <= 2 ? throttleError('queue full', 5) : undefined));
    const { p } = make({ send_batch_size: 1, timeout: '10s' }, r.next);
    await p.consume(batchOf(7));
    await tick(500);
    expect(calls).toBe(3);
    expect(r.got.map((d) => d.itemCount())).toEqual([7]);
    expect(p.heldItems()).toBe(0);
    await p.shutdown();
  });

  it('drops and counts a batch refused permanently', async () => {
    const r = recorder();
    r.setFail(() => permanentError('nope'));
    const { p, telemetry } = make({ send_batch_size: 1, timeout: '10s' }, r.next);
    await p.consume(batchOf(6));
    await tick(20);
    expect(await telemetry.value('sieve_processor_batch_dropped_spans')).toBe(6);
    expect(p.heldItems()).toBe(0);
    await p.shutdown();
  });

  it('refuses new data with a retryable error once max_buffered_items are held', async () => {
    const r = recorder();
    r.setFail(() => throttleError('down', 60_000));
    const { p } = make({ send_batch_size: 10, max_buffered_items: 20, timeout: '10s' }, r.next);
    await p.consume(batchOf(10));
    await p.consume(batchOf(10));
    const err = await p.consume(batchOf(1)).catch((e: ConsumerError) => e);
    expect(err).toBeInstanceOf(ConsumerError);
    expect((err as ConsumerError).kind).toBe('exhausted');
    expect((err as ConsumerError).retryAfterMs).toBeGreaterThan(0);
  });

  it('with wait_for_flush, a downstream refusal reaches the caller', async () => {
    const r = recorder();
    r.setFail(() => throttleError('queue full', 1000));
    const { p } = make({ send_batch_size: 1, timeout: '10s', wait_for_flush: true }, r.next);
    await expect(p.consume(batchOf(2))).rejects.toMatchObject({ kind: 'exhausted' });
    await p.shutdown();
  });

  it('flushes everything held on shutdown', async () => {
    const r = recorder();
    const { p } = make({ send_batch_size: 1000, timeout: '1h' }, r.next);
    await p.consume(batchOf(3));
    await p.consume(batchOf(4, 3, 't'));
    await p.shutdown();
    expect(r.got.reduce((n, d) => n + d.itemCount(), 0)).toBe(7);
    await expect(p.consume(batchOf(1))).rejects.toMatchObject({ kind: 'unavailable' });
  });

  it('rejects send_batch_max_size below send_batch_size', () => {
    const r = validateYaml(`
receivers: { otlp: { protocols: { grpc: } } }
processors: { batch: { send_batch_size: 100, send_batch_max_size: 10 } }
exporters: { debug: }
service: { pipelines: { traces: { receivers: [otlp], processors: [batch], exporters: [debug] } } }
`);
    expect(r.errors).toEqual(['processors::batch::send_batch_max_size: must be greater than or equal to send_batch_size (100) (config.yaml:3)']);
  });
});
