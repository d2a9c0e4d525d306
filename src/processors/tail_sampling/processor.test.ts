import { describe, expect, it } from 'vitest';
import { ConsumerError } from '../../component/errors.js';
import type { Consumer } from '../../component/component.js';
import { harness, mkSpan, request, resource, spansReq } from './testutil.js';

const ALL = [{ name: 'all', type: 'always_sample' }];
const ERRORS = [{ name: 'errors', type: 'status_code', status_code: { status_codes: ['ERROR'] } }];

describe('decision timing', () => {
  it('decides decision_wait after the first span; spans arriving meanwhile join the trace', async () => {
    const h = await harness({ decision_wait: '10s', policies: ALL });
    await h.proc.consume(spansReq([mkSpan({ trace: 1 })]));
    await h.advance(5000);
    await h.proc.consume(spansReq([mkSpan({ trace: 1, parent: 1 }), mkSpan({ trace: 2 })]));
    await h.advance(4999);
    expect(h.out.length).toBe(0);
    await h.advance(1);
    expect([...h.keptTraces()]).toEqual([1]);
    expect(h.spans().length).toBe(2);
    await h.advance(5000);
    expect([...h.keptTraces()].sort()).toEqual([1, 2]);
    expect(await h.metric('otelcol_processor_tail_sampling_sampling_traces_on_memory')).toBe(0);
    await h.proc.shutdown();
  });

  it('decision_wait_after_root_received decides early once the root span is in', async () => {
    const h = await harness({ decision_wait: '30s', decision_wait_after_root_received: '2s', policies: ALL });
    await h.proc.consume(spansReq([mkSpan({ trace: 1, parent: 7 })]));
    await h.proc.consume(spansReq([mkSpan({ trace: 2, parent: 7 })]));
    await h.advance(1000);
    await h.proc.consume(spansReq([mkSpan({ trace: 2 })])); // root of trace 2
    await h.advance(1999);
    expect(h.out.length).toBe(0);
    await h.advance(1);
    expect([...h.keptTraces()]).toEqual([2]);
    await h.advance(27_000);
    expect([...h.keptTraces()].sort()).toEqual([1, 2]);
    await h.proc.shutdown();
  });

  it('decides due traces inline when the ticker has not run (ingest cannot starve decisions)', async () => {
    const h = await harness({ decision_wait: '1s', policies: ALL });
    await h.proc.consume(spansReq([mkSpan({ trace: 1 })]));
    h.clock.now += 5000; // no tick
    await h.proc.consume(spansReq([mkSpan({ trace: 2 })]));
    await new Promise((r) => setImmediate(r));
    expect([...h.keptTraces()]).toEqual([1]);
    await h.proc.shutdown();
  });

  it('forwards kept traces as protobuf bytes without decoding them, grouped by tenant', async () => {
    const h = await harness({ decision_wait: '1s', policies: ALL });
    await h.proc.consume(request([resource([mkSpan({ trace: 1 })])], 'acme'));
    await h.proc.consume(request([resource([mkSpan({ trace: 2 })])], 'globex'));
    await h.proc.consume(request([resource([mkSpan({ trace: 3 })])], 'acme'));
    await h.advance(1000);
    expect(h.out.every((d) => d.hasProto())).toBe(true);
    const byTenant = Object.fromEntries(h.out.map((d) => [d.ctx.tenant, d.itemCount()]));
    expect(byTenant).toEqual({ acme: 2, globex: 1 });
    await h.proc.shutdown();
  });

  it('sends many kept traces decided at once as several requests of at most 256 KiB, every span in one of them', async () => {
    const h = await harness({ decision_wait: '1s', policies: ALL });
    const pad = 'x'.repeat(2000);
    for (let r = 0; r < 10; r++) await h.proc.consume(spansReq(Array.from({ length: 40 }, (_, i) => mkSpan({ trace: r * 40 + i + 1, attrs: { pad } }))));
    await h.advance(1000);
    expect(h.out.length).toBeGreaterThan(3);
    for (const d of h.out) expect(d.protoLength()).toBeLessThanOrEqual(256 * 1024);
    expect(h.out.reduce((n, d) => n + d.itemCount(), 0)).toBe(400);
    expect(new Set(h.keptTraces()).size).toBe(400);
    await h.proc.shutdown();
  });
});

describe('late spans', () => {
  it('a late span of a kept trace is forwarded (with its policy label); one of a dropped trace is dropped and counted', async () => {
    const h = await harness({ decision_wait: '1s', record_policy: true, policies: ERRORS });
    await h.proc.consume(spansReq([mkSpan({ trace: 1, status: 2 }), mkSpan({ trace: 2 })]));
    await h.advance(1000);
    expect([...h.keptTraces()]).toEqual([1]);
    h.out.length = 0;
    await h.advance(60_000);
    await h.proc.consume(spansReq([mkSpan({ trace: 1, parent: 1 }), mkSpan({ trace: 2, parent: 1, status: 2 })]));
    await new Promise((r) => setImmediate(r));
    expect([...h.keptTraces()]).toEqual([1]);
    expect(h.spans()[0]!.attributes).toContainEqual({ key: 'sampling.policy', value: { type: 'string', value: 'errors' } });
    expect(await h.metric('sieve_tail_sampling_late_spans_dropped')).toBe(1);
    expect(await h.metric('otelcol_processor_tail_sampling_early_releases_from_cache_decision', { sampled: 'true' })).toBe(1);
    // The late error span did not start a new trace: nothing is buffered.
    expect(h.proc.stats().traces).toBe(0);
    await h.proc.shutdown();
  });

  it('without room in the decision cache, a late span starts a new trace (the Collector behaviour)', async () => {
    const h = await harness({ decision_wait: '1s', decision_cache: { sampled_cache_size: 1, non_sampled_cache_size: 1 }, policies: ERRORS });
    await h.proc.consume(spansReq([mkSpan({ trace: 1 }), mkSpan({ trace: 2 }), mkSpan({ trace: 3 })]));
    await h.advance(1000);
    await h.proc.consume(spansReq([mkSpan({ trace: 1, parent: 1, status: 2 })]));
    expect(h.proc.stats().traces).toBe(1);
    await h.advance(1000);
    expect([...h.keptTraces()]).toEqual([1]);
    await h.proc.shutdown();
  });

  it('record_policy labels every kept span with the policy that kept it', async () => {
    const h = await harness({ decision_wait: '1s', record_policy: true, policies: [...ERRORS, ...ALL] });
    await h.proc.consume(spansReq([mkSpan({ trace: 1, status: 2 }), mkSpan({ trace: 1, parent: 1 }), mkSpan({ trace: 2 })]));
    await h.advance(1000);
    const label = (n: number) =>
      h
        .spans()
        .filter((s) => new DataView(s.traceId.buffer, s.traceId.byteOffset).getUint32(12) === n)
        .map((s) => s.attributes.find((a) => a.key === 'sampling.policy')?.value);
    expect(label(1)).toEqual([
      { type: 'string', value: 'errors' },
      { type: 'string', value: 'errors' },
    ]);
    expect(label(2)).toEqual([{ type: 'string', value: 'all' }]);
    await h.proc.shutdown();
  });
});

describe('bounded memory', () => {
  // 20k unique trace ids of one span each against a 256KiB cap.
  const flood = async (mode: string) => {
    const h = await harness({ decision_wait: '30s', max_buffered_bytes: '256KiB', num_traces: 100_000, on_overflow: mode, policies: ALL });
    let peak = 0;
    let refused = 0;
    let n = 0;
    for (let b = 0; b < 200; b++) {
      const spans = [];
      for (let i = 0; i < 100; i++) spans.push(mkSpan({ trace: ++n, attrs: { 'http.route': `/items/${n}` } }));
      try {
        await h.proc.consume(spansReq(spans));
      } catch (e) {
        expect(e).toBeInstanceOf(ConsumerError);
        const ce = e as ConsumerError;
        expect(ce.kind).toBe('exhausted');
        expect(ce.permanent).toBe(false);
        expect(ce.retryAfterMs).toBeGreaterThanOrEqual(1000);
        refused++;
      }
      const s = h.proc.stats();
      peak = Math.max(peak, s.bufferedBytes);
      expect(s.bufferedBytes).toBeLessThanOrEqual(256 * 1024);
      expect(await h.metric('sieve_tail_sampling_buffered_bytes')).toBe(s.bufferedBytes);
    }
    return { h, peak, refused };
  };

  it('decide_early: decides the oldest traces with what has arrived', async () => {
    const { h, peak } = await flood('decide_early');
    expect(peak).toBeGreaterThan(200 * 1024);
    await new Promise((r) => setImmediate(r));
    const decided = await h.metric('sieve_tail_sampling_decided_early');
    expect(decided).toBeGreaterThan(15_000);
    expect(h.keptTraces().size).toBe(decided);
    expect(await h.metric('otelcol_processor_tail_sampling_sampling_trace_dropped_too_early')).toBe(0);
    await h.proc.shutdown();
    expect(h.keptTraces().size).toBe(20_000);
  });

  it('evict: drops the oldest traces and counts them', async () => {
    const { h } = await flood('evict');
    const evicted = await h.metric('sieve_tail_sampling_evicted');
    expect(evicted).toBeGreaterThan(15_000);
    expect(await h.metric('otelcol_processor_tail_sampling_sampling_trace_dropped_too_early')).toBe(evicted);
    expect(h.out.length).toBe(0);
    await h.proc.shutdown();
    expect(h.keptTraces().size).toBe(20_000 - evicted);
  });

  it('refuse: answers a retryable throttle error and buffers nothing of the refused request', async () => {
    const { h, refused } = await flood('refuse');
    expect(refused).toBeGreaterThan(150);
    expect(await h.metric('sieve_tail_sampling_refused')).toBe(refused * 100);
    // After the decision wait the buffer drains and requests are accepted again.
    await h.advance(30_000);
    expect(h.proc.stats().traces).toBe(0);
    await h.proc.consume(spansReq([mkSpan({ trace: 999_999 })]));
    expect(h.proc.stats().traces).toBe(1);
    await h.proc.shutdown();
    expect(h.keptTraces().size).toBe(20_000 - refused * 100 + 1);
  });

  it('block_on_overflow (Collector key) means refuse', async () => {
    const h = await harness({ decision_wait: '30s', num_traces: 2, block_on_overflow: true, policies: ALL });
    await h.proc.consume(spansReq([mkSpan({ trace: 1 }), mkSpan({ trace: 2 })]));
    await expect(h.proc.consume(spansReq([mkSpan({ trace: 3 })]))).rejects.toMatchObject({ kind: 'exhausted' });
    // Spans of traces already buffered are still accepted.
    await h.proc.consume(spansReq([mkSpan({ trace: 1, parent: 1 })]));
    await h.proc.shutdown();
  });

  it('num_traces caps the trace count under decide_early too', async () => {
    const h = await harness({ decision_wait: '30s', num_traces: 10, policies: ALL });
    for (let i = 0; i < 50; i++) await h.proc.consume(spansReq([mkSpan({ trace: i })]));
    expect(h.proc.stats().traces).toBe(10);
    expect(await h.metric('sieve_tail_sampling_decided_early')).toBe(40);
    await h.proc.shutdown();
  });

  it('maximum_trace_size_bytes drops a trace that grows past it; its later spans are dropped too', async () => {
    const h = await harness({ decision_wait: '1s', maximum_trace_size_bytes: 2000, policies: ALL });
    for (let i = 0; i < 30; i++) await h.proc.consume(spansReq([mkSpan({ trace: 1, parent: 1, attrs: { i } })]));
    await h.advance(1000);
    expect(h.out.length).toBe(0);
    expect(await h.metric('otelcol_processor_tail_sampling_traces_dropped_too_large')).toBe(1);
    await h.proc.shutdown();
  });

  it('a refused request larger than the whole cap is a permanent error', async () => {
    const h = await harness({ decision_wait: '30s', max_buffered_bytes: '64KiB', on_overflow: 'refuse', policies: ALL });
    const spans = [];
    for (let i = 0; i < 400; i++) spans.push(mkSpan({ trace: i, attrs: { blob: 'x'.repeat(200) } }));
    await expect(h.proc.consume(spansReq(spans))).rejects.toMatchObject({ kind: 'too_large', permanent: true });
    await h.proc.shutdown();
  });
});

describe('shutdown', () => {
  it('decides pending traces with what has arrived and flushes them before resolving', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const got: number[] = [];
    const slow: Consumer = {
      mutatesData: false,
      async consume(d) {
        await gate;
        got.push(d.itemCount());
      },
    };
    const h = await harness({ decision_wait: '30s', policies: ERRORS }, { next: slow });
    await h.proc.consume(spansReq([mkSpan({ trace: 1, status: 2 }), mkSpan({ trace: 1, parent: 1 }), mkSpan({ trace: 2 })]));
    let done = false;
    const p = h.proc.shutdown().then(() => (done = true));
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(false);
    release();
    await p;
    expect(got).toEqual([2]);
    await expect(h.proc.consume(spansReq([mkSpan({ trace: 3 })]))).rejects.toMatchObject({ kind: 'unavailable' });
    await h.proc.shutdown(); // idempotent
  });

  it('drop_pending_traces_on_shutdown drops them', async () => {
    const h = await harness({ decision_wait: '30s', drop_pending_traces_on_shutdown: true, policies: ALL });
    await h.proc.consume(spansReq([mkSpan({ trace: 1 })]));
    await h.proc.shutdown();
    expect(h.out.length).toBe(0);
    expect(h.proc.stats()).toEqual({ traces: 0, bufferedBytes: 0 });
  });

  it('shutdown without start is safe', async () => {
    const h = await harness({ policies: ALL }, { start: false });
    await h.proc.shutdown();
  });

  it('rejects malformed requests as invalid', async () => {
    const h = await harness({ policies: ALL });
    const { Telemetry } = await import('../../pdata/telemetry.js');
    await expect(h.proc.consume(Telemetry.fromProto('traces', new Uint8Array([0x0a, 0x05, 0x12]), 1))).rejects.toMatchObject({ kind: 'invalid' });
    await h.proc.shutdown();
  });
});
