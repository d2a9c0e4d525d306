// Durable acknowledgement through tail sampling: every reference a request
// brings is held by the traces it feeds, carried on with kept spans, and
// released for spans that are dropped, so a durable request is deleted only
// once everything derived from it has been delivered or let go.
import { describe, expect, it } from 'vitest';
import type { Consumer } from '../../component/component.js';
import type { DurableRef, Telemetry } from '../../pdata/telemetry.js';
import { releaseDurable } from '../../pdata/telemetry.js';
import { harness, mkSpan, spansReq } from './testutil.js';

function ref(name: string) {
  const r = { name, count: 1, retain: () => void r.count++, release: () => void r.count-- };
  return r;
}

const ERRORS = [{ name: 'errors', type: 'status_code', status_code: { status_codes: ['ERROR'] } }];

describe('tail_sampling and durable references', () => {
  it('holds references while traces wait, carries them with kept spans, releases them for dropped ones', async () => {
    const delivered: Telemetry[] = [];
    const next: Consumer = { mutatesData: false, consume: async (d) => void delivered.push(d) };
    const h = await harness({ decision_wait: '10s', policies: ERRORS, decision_cache: { sampled_cache_size: 100, non_sampled_cache_size: 100 } }, { next });
    const a = ref('a');
    const b = ref('b');
    // Request a: trace 1 (will be kept: an error) and trace 2 (dropped).
    const ra = spansReq([mkSpan({ trace: 1, span: 1, status: 2 }), mkSpan({ trace: 2, span: 1 })]);
    ra.ctx.durable = [a as DurableRef];
    await h.proc.consume(ra);
    // Request b: more spans of trace 1 only.
    const rb = spansReq([mkSpan({ trace: 1, span: 2, parent: 1 })]);
    rb.ctx.durable = [b as DurableRef];
    await h.proc.consume(rb);
    // Buffered: a is held by traces 1 and 2, b by trace 1; the requests' own holds are gone.
    expect([a.count, b.count]).toEqual([2, 1]);
    await h.advance(10_000);
    // Trace 2 was dropped (its hold on a released); trace 1 went on carrying a and b.
    expect(delivered).toHaveLength(1);
    expect([a.count, b.count]).toEqual([1, 1]);
    expect(delivered[0]!.ctx.durable).toEqual(expect.arrayContaining([a, b]));
    releaseDurable(delivered[0]!); // the exporter delivered it
    expect([a.count, b.count]).toEqual([0, 0]);

    // A late span of the kept trace carries its request's reference on; one of the dropped trace releases it.
    const c = ref('c');
    const late = spansReq([mkSpan({ trace: 1, span: 3, parent: 1 }), mkSpan({ trace: 2, span: 2, parent: 1 })]);
    late.ctx.durable = [c as DurableRef];
    await h.proc.consume(late);
    await h.advance(0);
    expect(delivered).toHaveLength(2);
    expect(c.count).toBe(1);
    releaseDurable(delivered[1]!);
    expect(c.count).toBe(0);
    await h.proc.shutdown();
  });

  it('releases the references of evicted traces and of pending traces dropped at shutdown', async () => {
    const h = await harness({ decision_wait: '10s', num_traces: 1, on_overflow: 'evict', drop_pending_traces_on_shutdown: true, policies: ERRORS });
    const a = ref('a');
    const r1 = spansReq([mkSpan({ trace: 1 })]);
    r1.ctx.durable = [a as DurableRef];
    await h.proc.consume(r1);
    const b = ref('b');
    const r2 = spansReq([mkSpan({ trace: 2 })]);
    r2.ctx.durable = [b as DurableRef];
    await h.proc.consume(r2); // evicts trace 1
    expect(a.count).toBe(0);
    expect(b.count).toBe(1);
    await h.proc.shutdown();
    expect(b.count).toBe(0);
  });
});
