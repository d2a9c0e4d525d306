import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConsumerError, invalidError, permanentError, throttleError, unavailableError } from '../../component/errors.js';
import { Issues, formatPath, s } from '../../config/schema.js';
import { host, settings, traces, seqsOf } from '../../durable/testdata/fixtures.js';
import { fileStorageSchema } from '../../extensions/file_storage/config.js';
import { FileStorage } from '../../extensions/file_storage/storage.js';
import type { DurableRef, Telemetry } from '../../pdata/telemetry.js';
import { gcFunction } from '../../service/gc.js';
import { SelfTelemetry } from '../../service/telemetry.js';
import {
  backoffDelay,
  createExporter,
  errorFromHttpStatus,
  helperFields,
  MemoryQueue,
  parseRetryAfter,
  validateHelper,
  type HelperConfig,
  type HelperExporter,
  type PushFn,
} from './helper.js';

const schema = s.object(helperFields);

function config(raw: Record<string, unknown> = {}): HelperConfig {
  const issues = new Issues();
  const cfg = schema.parse(raw, ['exporters', 'x'], issues) as HelperConfig;
  validateHelper(cfg, ['exporters', 'x'], issues);
  expect(issues.errors).toEqual([]);
  return cfg;
}

const fast = { initial_interval: '5ms', max_interval: '20ms', max_elapsed_time: '10s' };

/** A durable reference that counts what is done with it. */
function ref(): DurableRef & { retained: number; released: number } {
  return {
    retained: 0,
    released: 0,
    retain() {
      this.retained++;
    },
    release() {
      this.released++;
    },
  };
}

const running: HelperExporter[] = [];
async function exporter(cfg: HelperConfig, push: PushFn, t = new SelfTelemetry(), extensions: Record<string, FileStorage> = {}, id = 'otlphttp/x'): Promise<HelperExporter> {
  const e = createExporter({ settings: settings(id, 'exporter', t), signal: 'traces', config: cfg, push, drainTimeoutMs: 500 });
  const comps = Object.fromEntries(Object.entries(extensions).map(([k, v]) => [k, { kind: 'extension' as const, component: v }]));
  await e.start(host(comps, t));
  running.push(e);
  return e;
}

const storages: FileStorage[] = [];
async function fileStorage(dir: string, t = new SelfTelemetry()): Promise<FileStorage> {
  const cfg = fileStorageSchema.parse({ directory: dir }, [], new Issues());
  const st = new FileStorage(settings('file_storage', 'extension', t), cfg);
  await st.start(host());
  storages.push(st);
  return st;
}

afterEach(async () => {
  for (const e of running.splice(0)) await e.shutdown();
  for (const st of storages.splice(0)) await st.shutdown();
});

describe('helper config', () => {
  it('has the Collector defaults', () => {
    expect(config()).toEqual({
      timeout: 5000,
      retry_on_failure: { enabled: true, initial_interval: 5000, randomization_factor: 0.5, multiplier: 1.5, max_interval: 30000, max_elapsed_time: 300000 },
      sending_queue: { enabled: true, num_consumers: 10, queue_size: 1000, sizer: 'requests', block_on_overflow: false, wait_for_result: false, storage: undefined },
    });
  });

  it.each([
    [{ retry_on_failure: { initial_interval: '10s', max_interval: '1s' } }, 'exporters::x::retry_on_failure::max_interval: must not be less than initial_interval'],
    [{ sending_queue: { sizer: 'spans' } }, 'exporters::x::sending_queue::sizer: must be one of "requests", "items", "bytes", got "spans"'],
    [{ sending_queue: { queue_size: 0 } }, 'exporters::x::sending_queue::queue_size: must be at least 1, got 0'],
    [{ retry_on_failure: { multiplier: 0.5 } }, 'exporters::x::retry_on_failure::multiplier: must be at least 1, got 0.5'],
    [{ timeout: 'soon' }, 'exporters::x::timeout: must be a duration such as "5s", "200ms" or "1m30s", got string "soon"'],
  ])('rejects %j', (raw, message) => {
    const issues = new Issues();
    const cfg = schema.parse(raw, ['exporters', 'x'], issues) as HelperConfig;
    if (!issues.hasErrors()) validateHelper(cfg, ['exporters', 'x'], issues);
    expect(issues.errors.map((i) => `${formatPath(i.path)}: ${i.message}`)).toEqual([message]);
  });
});

describe('errorFromHttpStatus and parseRetryAfter', () => {
  it.each([
    [429, '3', 'exhausted', false, 3000],
    [502, null, 'unavailable', false, undefined],
    [503, '1', 'unavailable', false, 1000],
    [504, null, 'unavailable', false, undefined],
    [400, null, 'invalid', true, undefined],
    [401, null, 'unauthenticated', true, undefined],
    [403, null, 'permission_denied', true, undefined],
    [404, null, 'internal', true, undefined],
    [413, null, 'too_large', true, undefined],
    [500, null, 'internal', true, undefined],
  ] as const)('HTTP %i (Retry-After %s) → %s', (status, ra, kind, permanent, retryAfterMs) => {
    const e = errorFromHttpStatus(status, ra, 'detail');
    expect([e.kind, e.permanent, e.retryAfterMs]).toEqual([kind, permanent, retryAfterMs]);
  });

  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('7')).toBe(7000);
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
    const inFuture = new Date(Date.now() + 60_000).toUTCString();
    expect(parseRetryAfter(inFuture)).toBeGreaterThan(50_000);
  });

  it('backs off with jitter within bounds and never below a retry-after', () => {
    const r = config({ retry_on_failure: { initial_interval: '100ms', max_interval: '1s', randomization_factor: 0.5, multiplier: 2 } }).retry_on_failure;
    for (let i = 0; i < 200; i++) {
      const d0 = backoffDelay(r, 0);
      expect(d0).toBeGreaterThanOrEqual(50);
      expect(d0).toBeLessThanOrEqual(150);
      const d9 = backoffDelay(r, 9);
      expect(d9).toBeGreaterThanOrEqual(500);
      expect(d9).toBeLessThanOrEqual(1500);
      expect(backoffDelay(r, 0, 5000)).toBe(5000);
    }
  });
});

describe('createExporter', () => {
  it('retries retryable failures and counts what was sent', async () => {
    const t = new SelfTelemetry();
    let calls = 0;
    const e = await exporter(config({ retry_on_failure: fast, sending_queue: { enabled: false } }), async () => {
      if (++calls < 3) throw unavailableError('down');
    }, t);
    await e.consume(traces(0, 4));
    expect(calls).toBe(3);
    expect(await t.value('otelcol_exporter_sent_spans', { exporter: 'otlphttp/x' })).toBe(4);
    expect(await t.value('otelcol_exporter_send_failed_spans')).toBe(0);
  });

  it('waits at least the retry-after a backend asks for', async () => {
    const at: number[] = [];
    const e = await exporter(config({ retry_on_failure: fast, sending_queue: { enabled: false } }), async () => {
      at.push(performance.now());
      if (at.length === 1) throw throttleError('slow down', 300);
    });
    await e.consume(traces(0, 1));
    expect(at).toHaveLength(2);
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(295);
  });

  it('never retries a permanent error; counts it and releases durable references', async () => {
    const t = new SelfTelemetry();
    let calls = 0;
    const e = await exporter(config({ retry_on_failure: fast }), async () => {
      calls++;
      throw invalidError('bad data');
    }, t);
    const r = ref();
    await e.consume(traces(0, 3, { durable: [r] }));
    await expect.poll(() => r.released).toBe(1);
    expect(calls).toBe(1);
    expect(await t.value('otelcol_exporter_send_failed_spans')).toBe(3);
    expect(await t.value('sieve_exporter_durable_dropped_items_total')).toBe(3);
  });

  it('gives up after max_elapsed_time', async () => {
    const t = new SelfTelemetry();
    const e = await exporter(config({ retry_on_failure: { ...fast, max_elapsed_time: '50ms' }, sending_queue: { enabled: false } }), async () => {
      throw unavailableError('down');
    }, t);
    const err = await e.consume(traces(0, 2)).catch((x) => x);
    expect(err).toBeInstanceOf(ConsumerError);
    expect(await t.value('otelcol_exporter_send_failed_spans')).toBe(2);
  });

  it('releases durable references only after delivery when the queue is in memory', async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const e = await exporter(config({ retry_on_failure: fast }), async () => gate);
    const r = ref();
    await e.consume(traces(0, 1, { durable: [r] }));
    expect(r.released).toBe(0);
    open();
    await expect.poll(() => r.released).toBe(1);
  });

  it('refuses with a throttle error and a retry-after when the queue is full, keeping references with the caller', async () => {
    const t = new SelfTelemetry();
    const e = await exporter(config({ timeout: '50ms', retry_on_failure: fast, sending_queue: { queue_size: 2, num_consumers: 1 } }), () => new Promise(() => undefined), t);
    await e.consume(traces(0, 1)); // taken by the consumer, still counted until done
    await e.consume(traces(1, 1));
    const r = ref();
    const err = (await e.consume(traces(3, 5, { durable: [r] })).catch((x) => x)) as ConsumerError;
    expect(err.kind).toBe('exhausted');
    expect(err.code).toBe('SIEVE_ERR_QUEUE_FULL');
    expect(err.retryAfterMs).toBeGreaterThanOrEqual(1000);
    expect(r.released).toBe(0);
    expect(await t.value('otelcol_exporter_enqueue_failed_spans')).toBe(5);
    expect(e.health()).toEqual({ status: 'degraded', detail: 'sending queue is full' });
    const text = await t.text();
    expect(text).toContain('otelcol_exporter_queue_size{exporter="otlphttp/x",data_type="traces"} 2');
    expect(text).toContain('otelcol_exporter_queue_capacity{exporter="otlphttp/x",data_type="traces"} 2');
  });

  it('reports degraded while exports fail and ok once they succeed', async () => {
    let fail = true;
    const e = await exporter(config({ retry_on_failure: fast }), async () => {
      if (fail) throw unavailableError('backend down');
    });
    await e.consume(traces(0, 1));
    await expect.poll(() => e.health().status).toBe('degraded');
    expect(e.health().detail).toBe('export failing: backend down');
    fail = false;
    await expect.poll(() => e.health().status, { timeout: 5000 }).toBe('ok');
  });

  it('with wait_for_result, settles only once the queued batch is sent or dropped, leaving references with the caller on failure', async () => {
    let fail = false;
    const e = await exporter(config({ retry_on_failure: fast, sending_queue: { wait_for_result: true } }), async () => {
      if (fail) throw invalidError('bad');
    });
    const r1 = ref();
    await e.consume(traces(0, 1, { durable: [r1] }));
    expect(r1.released).toBe(1);
    fail = true;
    const r2 = ref();
    await expect(e.consume(traces(1, 1, { durable: [r2] }))).rejects.toThrow('bad');
    expect(r2.released).toBe(0);
  });

  it('lets observers see accepted batches', async () => {
    const e = await exporter(config({ sending_queue: { enabled: false } }), async () => undefined);
    const seen: number[] = [];
    const stop = e.observe((d) => seen.push(...seqsOf(d)));
    await e.consume(traces(0, 2));
    stop();
    await e.consume(traces(2, 2));
    expect(seen).toEqual([0, 1]);
  });

  it('keeps no delivered batch alive while its consumer waits for the next', async () => {
    let sent = 0;
    const e = await exporter(config({ sending_queue: { num_consumers: 1 } }), async () => {
      sent++;
    });
    // The batches are made and dropped in a function of their own, so that only the exporter could still hold them.
    const refs = await (async () => {
      const out: WeakRef<Telemetry>[] = [];
      for (let i = 0; i < 3; i++) {
        const d = traces(i, 2);
        out.push(new WeakRef(d));
        await e.consume(d);
      }
      return out;
    })();
    await vi.waitFor(() => expect(sent).toBe(3));
    // Let the consumer settle into its wait on the empty queue, then collect.
    await new Promise((r) => setTimeout(r, 20));
    gcFunction()();
    expect(refs.map((r) => r.deref() === undefined)).toEqual([true, true, true]);
  });

  it('drains an in-memory queue at shutdown', async () => {
    const got: number[] = [];
    const e = await exporter(config({ sending_queue: { num_consumers: 2 } }), async (d) => {
      await new Promise((r) => setTimeout(r, 5));
      got.push(...seqsOf(d));
    });
    for (let i = 0; i < 10; i++) await e.consume(traces(i, 1));
    await e.shutdown();
    expect(got.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('uses a persistent queue: releases durable references once committed, keeps the backlog over a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sieve-helper-'));
    const st = await fileStorage(dir);
    let down = true;
    const got: number[] = [];
    const push: PushFn = async (d) => {
      if (down) throw unavailableError('backend down');
      got.push(...seqsOf(d));
    };
    const cfg = config({ retry_on_failure: fast, sending_queue: { storage: 'file_storage', num_consumers: 2 } });
    const e1 = await exporter(cfg, push, new SelfTelemetry(), { file_storage: st });
    const r = ref();
    for (let i = 0; i < 5; i++) await e1.consume(traces(i * 2, 2, i === 0 ? { durable: [r] } : {}));
    expect(r.released).toBe(1);
    await e1.shutdown();
    await st.shutdown();

    // The next run resends everything, including the batches that were in flight.
    const st2 = await fileStorage(dir);
    down = false;
    const e2 = await exporter(cfg, push, new SelfTelemetry(), { file_storage: st2 });
    await expect.poll(() => got.length).toBe(10);
    expect([...new Set(got)].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await expect.poll(async () => {
      await st2.sync();
      return (await st2.list('queue/otlphttp/x/traces')).length;
    }).toBe(0);
    await e2.shutdown();
  });

  it('fails to start with a clear error when the storage extension is missing', async () => {
    const e = createExporter({ settings: settings('otlp/x', 'exporter'), signal: 'traces', config: config({ sending_queue: { storage: 'file_storage/q' } }), push: async () => undefined });
    await expect(e.start(host())).rejects.toThrow('sending_queue::storage: extension "file_storage/q" is not configured (add it under extensions and service::extensions)');
  });
});

describe('MemoryQueue', () => {
  it('blocks on overflow instead of refusing when asked to', async () => {
    const q = new MemoryQueue(1, () => 1, true);
    await q.offer(traces(0, 1));
    let second = false;
    const p = q.offer(traces(1, 1)).then(() => (second = true));
    await new Promise((r) => setImmediate(r));
    expect(second).toBe(false);
    const item = await q.take();
    item!.done(true);
    await p;
    expect(second).toBe(true);
  });

  it('refuses after close with a retryable error', async () => {
    const q = new MemoryQueue(10, () => 1, false);
    q.close();
    const err = (await q.offer(traces(0, 1)).catch((x) => x)) as ConsumerError;
    expect(err.permanent).toBe(false);
    expect(await q.take()).toBeUndefined();
  });

  it('sizes by items', async () => {
    const q = new MemoryQueue(5, (d: Telemetry) => d.itemCount(), false);
    await q.offer(traces(0, 3));
    await expect(q.offer(traces(3, 3))).rejects.toThrow('sending queue is full');
    expect(q.size()).toBe(3);
  });

  it('permanentError is permanent', () => {
    expect(permanentError('x').permanent).toBe(true);
  });
});

describe('track and abandon (routing exporters)', () => {
  it('track resolves once queued and reports the send outcome afterwards', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const sent: number[] = [];
    const e = await exporter(config({ retry_on_failure: fast, sending_queue: { num_consumers: 1 } }), async (d) => {
      await gate;
      sent.push(d.itemCount());
    });
    const h = await e.track(traces(0, 3));
    let settled = false;
    void h.result.then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(settled).toBe(false);
    release();
    await h.result;
    expect(sent).toEqual([3]);
  });

  it('abandon hands back what is queued or retrying without sending it', async () => {
    let attempts = 0;
    const e = await exporter(config({ retry_on_failure: { initial_interval: '1s', max_interval: '1s' }, sending_queue: { num_consumers: 1 } }), async () => {
      attempts++;
      throw unavailableError('backend down');
    });
    const a = await e.track(traces(0, 2));
    const b = await e.track(traces(0, 4));
    await new Promise((r) => setTimeout(r, 20));
    const t0 = Date.now();
    await e.abandon();
    expect(Date.now() - t0).toBeLessThan(900);
    await expect(a.result).rejects.toBeInstanceOf(ConsumerError);
    await expect(b.result).rejects.toMatchObject({ code: 'SIEVE_ERR_SHUTTING_DOWN' });
    expect(attempts).toBe(1);
  });
});
