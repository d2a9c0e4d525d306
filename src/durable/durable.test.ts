import { mkdtempSync } from 'node:fs';
import v8 from 'node:v8';
import vm from 'node:vm';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Consumer } from '../component/component.js';
import { invalidError, throttleError, unavailableError } from '../component/errors.js';
import { Issues, formatPath } from '../config/schema.js';
import { createExporter, helperFields, type HelperConfig } from '../exporters/exporterhelper/helper.js';
import { fileStorageSchema } from '../extensions/file_storage/config.js';
import { FileStorage } from '../extensions/file_storage/storage.js';
import { splitTelemetry } from '../pdata/split.js';
import { Telemetry } from '../pdata/telemetry.js';
import { fanOut } from '../service/fanout.js';
import { SelfTelemetry } from '../service/telemetry.js';
import { s } from '../config/schema.js';
import { durableSchema } from './config.js';
import { DurableIngest } from './ingest.js';
import { DurableLog, DurableRecord } from './log.js';
import { releaseDurable, retainForParts } from './refs.js';
import { host, memoryLogger, seqsOf, settings, traces } from './testdata/fixtures.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function storage(dir = mkdtempSync(join(tmpdir(), 'sieve-durable-')), t = new SelfTelemetry()): Promise<FileStorage> {
  const st = new FileStorage(settings('file_storage', 'extension', t), fileStorageSchema.parse({ directory: dir }, [], new Issues()));
  await st.start(host());
  cleanup.push(() => st.shutdown());
  return st;
}

function hostWith(st: FileStorage, t = new SelfTelemetry()) {
  return host({ file_storage: { kind: 'extension', component: st } }, t);
}

/** A consumer that keeps what it gets (releasing nothing until told). */
function holder(): Consumer & { got: Telemetry[]; releaseAll(): void } {
  const got: Telemetry[] = [];
  return {
    mutatesData: false,
    got,
    async consume(d) {
      got.push(d);
    },
    releaseAll() {
      for (const d of got.splice(0)) releaseDurable(d);
    },
  };
}

async function ingest(st: FileStorage, next: Partial<Record<'traces' | 'metrics' | 'logs', Consumer>>, opts: { retryMinMs?: number; t?: SelfTelemetry; logger?: ReturnType<typeof memoryLogger> } = {}): Promise<DurableIngest> {
  const t = opts.t ?? new SelfTelemetry();
  const d = new DurableIngest(settings('otlp', 'receiver', t, opts.logger), { enabled: true, storage: 'file_storage' }, opts);
  await d.start(hostWith(st, t), next);
  cleanup.push(() => d.shutdown());
  return d;
}

/** What a receiver does per request. */
async function receive(d: DurableIngest, next: Consumer, data: Telemetry): Promise<void> {
  const settle = await d.persist('traces', data);
  try {
    await next.consume(data);
    settle(true);
  } catch (e) {
    settle(false);
    throw e;
  }
}

describe('durable config', () => {
  const parse = (raw: unknown) => {
    const issues = new Issues();
    const cfg = durableSchema.parse(raw, ['receivers', 'otlp', 'durable'], issues);
    return { cfg, errors: issues.errors.map((i) => `${formatPath(i.path)}: ${i.message}`) };
  };
  it.each([
    [undefined, { enabled: false, storage: undefined }],
    [true, { enabled: true, storage: undefined }],
    [false, { enabled: false, storage: undefined }],
    [{ enabled: true, storage: 'file_storage/d' }, { enabled: true, storage: 'file_storage/d' }],
  ])('accepts %j', (raw, expected) => {
    expect(parse(raw)).toEqual({ cfg: expected, errors: [] });
  });
  it.each([
    ['yes', 'receivers::otlp::durable: must be true, false or a map with enabled and storage, got string "yes"'],
    [{ enabled: true, storage: 'File Storage' }, 'receivers::otlp::durable::storage: must be a storage extension id such as file_storage/durable, got "File Storage"'],
    [{ enable: true }, 'receivers::otlp::durable::enable: unknown key "enable" (did you mean "enabled"?)'],
  ])('rejects %j', (raw, message) => {
    expect(parse(raw).errors).toEqual([message]);
  });
});

describe('DurableRecord', () => {
  it('frees the stored request once, when the last reference goes', async () => {
    const st = await storage();
    const log = new DurableLog(st, 'durable/x', new SelfTelemetry(), 'x');
    const data = traces(0, 3);
    const rec = await log.persist(data);
    expect(data.ctx.durable).toEqual([rec]);
    rec.retain();
    rec.release();
    expect(await st.list('durable/x')).toHaveLength(1);
    expect(log.pending()).toBe(1);
    rec.release();
    rec.release(); // a stray extra release changes nothing
    expect(log.pending()).toBe(0);
    await st.sync();
    expect(await st.list('durable/x')).toHaveLength(0);
  });

  it('abandon deletes at once and makes later releases no-ops', async () => {
    const st = await storage();
    const log = new DurableLog(st, 'durable/x', new SelfTelemetry(), 'x');
    const rec = await log.persist(traces(0, 1));
    rec.retain();
    rec.abandon();
    rec.release();
    expect(rec.references).toBe(0);
    expect(log.pending()).toBe(0);
    await st.sync();
    expect(await st.list('durable/x')).toEqual([]);
  });

  it('deletes a record that a component dropped without releasing, once it is garbage', async () => {
    v8.setFlagsFromString('--expose_gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const st = await storage();
    const t = new SelfTelemetry();
    const log = new DurableLog(st, 'durable/x', t, 'x');
    const logger = memoryLogger();
    log.logger = logger;
    await (async () => {
      await log.persist(traces(0, 2)); // the batch and its record go out of scope unreleased
    })();
    await expect.poll(async () => {
      gc();
      await new Promise((r) => setTimeout(r, 10));
      return log.pending();
    }, { timeout: 10_000 }).toBe(0);
    expect(await t.value('sieve_durable_leaked_requests_total')).toBe(1);
    await st.sync();
    expect(await st.list('durable/x')).toEqual([]);
    expect(logger.lines.map((l) => l.message)).toEqual(['A component dropped durably stored requests without releasing them; they are deleted and no longer covered (see sieve_durable_leaked_requests_total).']);
  });

  it('split and fan-out retain one reference per extra copy', async () => {
    const st = await storage();
    const log = new DurableLog(st, 'durable/x', new SelfTelemetry(), 'x');
    const data = Telemetry.traces(traces(0, 10).read() as never);
    const rec = (await log.persist(data)) as DurableRecord;
    const parts = splitTelemetry(data, 4);
    expect(parts).toHaveLength(3);
    expect(rec.references).toBe(3);
    retainForParts(parts[0]!, 2);
    expect(rec.references).toBe(4);
  });
});

describe('DurableIngest', () => {
  it('commits a request before the pipeline sees it and deletes it once the pipeline is done', async () => {
    const st = await storage();
    let storedWhenConsumed = -1;
    const next = holder();
    const d = await ingest(st, { traces: next });
    const spy: Consumer = {
      mutatesData: false,
      async consume(data) {
        storedWhenConsumed = (await st.list('durable/otlp')).length;
        return next.consume(data);
      },
    };
    await receive(d, spy, traces(0, 5));
    expect(storedWhenConsumed).toBe(1);
    next.releaseAll();
    await st.sync();
    expect(await st.list('durable/otlp')).toEqual([]);
  });

  it('abandons the stored copy when the pipeline refuses the request (the client retries)', async () => {
    const st = await storage();
    const refusing: Consumer = { mutatesData: false, consume: async () => Promise.reject(throttleError('queue full', 1000)) };
    const d = await ingest(st, { traces: refusing });
    await expect(receive(d, refusing, traces(0, 2))).rejects.toThrow('queue full');
    await st.sync();
    expect(await st.list('durable/otlp')).toEqual([]);
  });

  it('refuses with the storage error when the storage is full', async () => {
    const st = await storage();
    const d = await ingest(st, { traces: holder() });
    const full = new FileStorage(settings('file_storage/full'), fileStorageSchema.parse({ directory: mkdtempSync(join(tmpdir(), 'sieve-full-')), max_size_bytes: '64KiB' }, [], new Issues()));
    await full.start(host());
    cleanup.push(() => full.shutdown());
    const d2 = new DurableIngest(settings('otlp/2', 'receiver'), { enabled: true, storage: 'file_storage/full' });
    await d2.start(host({ 'file_storage/full': { kind: 'extension', component: full } }), { traces: holder() });
    const big = traces(0, 2000);
    const err = await d2.persist('traces', big).catch((e) => e);
    expect(err.kind).toBe('exhausted');
    expect(err.retryAfterMs).toBeGreaterThan(0);
    expect(d.enabled).toBe(true);
  });

  it('replays what an earlier run left behind before start returns, then deletes it when done', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sieve-durable-'));
    const st1 = new FileStorage(settings('file_storage'), fileStorageSchema.parse({ directory: dir }, [], new Issues()));
    await st1.start(host());
    const held = holder();
    const d1 = new DurableIngest(settings('otlp', 'receiver'), { enabled: true, storage: undefined });
    await d1.start(hostWith(st1), { traces: held });
    for (let i = 0; i < 4; i++) await receive(d1, held, traces(i * 3, 3, { tenant: 't1' }));
    held.got[0]!.ctx.durable![0]!.release(); // one was delivered before the "crash"
    await st1.shutdown(); // the process dies with three requests unreleased

    const st2 = await storage(dir);
    const replayed = holder();
    const logger = memoryLogger();
    const t = new SelfTelemetry();
    await ingest(st2, { traces: replayed }, { t, logger });
    expect(replayed.got.flatMap(seqsOf).sort((a, b) => a - b)).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(replayed.got.map((g) => g.ctx.tenant)).toEqual(['t1', 't1', 't1']);
    expect(logger.lines.find((l) => String(l.message).startsWith('Replaying'))).toMatchObject({ requests: 3, items: 9 });
    expect(await t.value('sieve_durable_replayed_items_total')).toBe(9);
    replayed.releaseAll();
    await st2.sync();
    expect(await st2.list('durable/otlp')).toEqual([]);
  });

  it('retries refused replays in the background without losing them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sieve-durable-'));
    const st1 = new FileStorage(settings('file_storage'), fileStorageSchema.parse({ directory: dir }, [], new Issues()));
    await st1.start(host());
    const d1 = new DurableIngest(settings('otlp', 'receiver'), { enabled: true, storage: undefined });
    const held = holder();
    await d1.start(hostWith(st1), { traces: held });
    await receive(d1, held, traces(0, 2));
    await st1.shutdown();

    const st2 = await storage(dir);
    let refuse = 2;
    const got: number[] = [];
    const flaky: Consumer = {
      mutatesData: false,
      async consume(data) {
        if (refuse-- > 0) throw unavailableError('exporter queue full');
        got.push(...seqsOf(data));
        releaseDurable(data);
      },
    };
    const d2 = await ingest(st2, { traces: flaky }, { retryMinMs: 10 });
    expect(d2.pendingReplays()).toBe(1);
    await expect.poll(() => got).toEqual([0, 1]);
    await st2.sync();
    expect(await st2.list('durable/otlp')).toEqual([]);
  });

  it('keeps the request until every exporter of a fan-out has delivered it', async () => {
    const st = await storage();
    const cfg = s.object(helperFields).parse({ retry_on_failure: { initial_interval: '5ms', max_interval: '10ms' } }, [], new Issues()) as HelperConfig;
    let bDown = true;
    const a = createExporter({ settings: settings('otlp/a', 'exporter'), signal: 'traces', config: cfg, push: async () => undefined });
    const b = createExporter({
      settings: settings('otlp/b', 'exporter'),
      signal: 'traces',
      config: cfg,
      push: async () => {
        if (bDown) throw unavailableError('b is down');
      },
    });
    for (const e of [a, b]) {
      await e.start(host());
      cleanup.push(() => e.shutdown());
    }
    const pipeline = fanOut([a, b]);
    const d = await ingest(st, { traces: pipeline });
    await receive(d, pipeline, traces(0, 3));
    await new Promise((r) => setTimeout(r, 50));
    await st.sync();
    expect(await st.list('durable/otlp')).toHaveLength(1);
    bDown = false;
    await expect.poll(async () => {
      await st.sync();
      return (await st.list('durable/otlp')).length;
    }).toBe(0);
  });

  it('releases on a permanent failure too (the drop is counted by the exporter)', async () => {
    const st = await storage();
    const cfg = s.object(helperFields).parse({}, [], new Issues()) as HelperConfig;
    const e = createExporter({ settings: settings('otlp/a', 'exporter'), signal: 'traces', config: cfg, push: async () => Promise.reject(invalidError('400')) });
    await e.start(host());
    cleanup.push(() => e.shutdown());
    const d = await ingest(st, { traces: e });
    await receive(d, e, traces(0, 1));
    await expect.poll(async () => {
      await st.sync();
      return (await st.list('durable/otlp')).length;
    }).toBe(0);
  });

  it('fails to start with a clear error when no storage is configured', async () => {
    const d = new DurableIngest(settings('otlp', 'receiver'), { enabled: true, storage: undefined });
    await expect(d.start(host(), {})).rejects.toThrow('durable: needs a file_storage extension in service::extensions (or set durable::storage)');
    const d2 = new DurableIngest(settings('otlp', 'receiver'), { enabled: true, storage: 'file_storage/x' });
    await expect(d2.start(host(), {})).rejects.toThrow('durable::storage: extension "file_storage/x" is not configured');
  });
});
