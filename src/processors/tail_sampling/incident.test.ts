import { describe, expect, it } from 'vitest';
import { harness, mkSpan, spansReq } from './testutil.js';

const ERRORS = [{ name: 'errors', type: 'status_code', status_code: { status_codes: ['ERROR'] } }];

describe('incident mode', () => {
  it('POST /admin/incident-mode keeps every trace until it expires; GET reads it; state shows in a metric and health', async () => {
    const h = await harness({ decision_wait: '1s', record_policy: true, policies: ERRORS });
    expect(h.proc.health()).toEqual({ status: 'ok' });
    const r = await h.host.call('POST', '/admin/incident-mode', { duration: '15m' });
    expect(r.status).toBe(200);
    const until = new Date(h.clock.now + 15 * 60_000).toISOString();
    expect(r.body).toEqual({ processors: [{ id: 'tail_sampling', active: true, until, source: 'manual' }] });
    expect((await h.host.call('GET', '/admin/incident-mode')).body).toEqual(r.body);
    expect(await h.metric('sieve_tail_sampling_incident_mode')).toBe(1);
    expect(h.proc.health()).toEqual({ status: 'ok', detail: `incident mode until ${until} (manual)` });

    await h.proc.consume(spansReq([mkSpan({ trace: 1 }), mkSpan({ trace: 2, status: 2 })]));
    await h.advance(1000);
    expect([...h.keptTraces()].sort()).toEqual([1, 2]);
    expect(h.spans()[0]!.attributes).toContainEqual({ key: 'sampling.policy', value: { type: 'string', value: 'incident_mode' } });

    await h.advance(15 * 60_000);
    expect(await h.metric('sieve_tail_sampling_incident_mode')).toBe(0);
    expect((await h.host.call('GET', '/admin/incident-mode')).body).toEqual({ processors: [{ id: 'tail_sampling', active: false }] });
    h.out.length = 0;
    await h.proc.consume(spansReq([mkSpan({ trace: 3 })]));
    await h.advance(1000);
    expect(h.out.length).toBe(0);
    await h.proc.shutdown();
  });

  it('DELETE ends it early', async () => {
    const h = await harness({ decision_wait: '1s', policies: ERRORS });
    await h.host.call('POST', '/admin/incident-mode', { duration: 600 });
    const r = await h.host.call('DELETE', '/admin/incident-mode');
    expect(r).toEqual({ status: 200, body: { processors: [{ id: 'tail_sampling', active: false }] } });
    await h.proc.consume(spansReq([mkSpan({ trace: 1 })]));
    await h.advance(1000);
    expect(h.out.length).toBe(0);
    await h.proc.shutdown();
  });

  it('uses the configured incident policy set, optionally narrowed by name', async () => {
    const h = await harness({
      decision_wait: '1s',
      policies: ERRORS,
      incident_mode: {
        policies: [
          { name: 'checkout', type: 'string_attribute', string_attribute: { key: 'service.name', values: ['checkout'] } },
          { name: 'slow', type: 'latency', latency: { threshold_ms: 500 } },
        ],
      },
    });
    await h.host.call('POST', '/admin/incident-mode', { duration: '1h', policies: ['slow'] });
    await h.proc.consume(spansReq([mkSpan({ trace: 1 }), mkSpan({ trace: 2, durMs: 900 })]));
    await h.advance(1000);
    expect([...h.keptTraces()]).toEqual([2]);
    expect((await h.host.call('GET', '/admin/incident-mode')).body).toMatchObject({ processors: [{ policies: ['slow'] }] });
    await h.proc.shutdown();
  });

  it('rejects bad requests with a clear message', async () => {
    const h = await harness({ decision_wait: '1s', policies: ERRORS, incident_mode: { max_duration: '1h' } });
    const cases: [unknown, RegExp][] = [
      ['{', /must be JSON/],
      [{}, /duration is required/],
      [{ duration: 'soon' }, /duration is required/],
      [{ duration: '2h' }, /at most incident_mode.max_duration \(3600s\)/],
      [{ duration: '5m', policies: ['nope'] }, /no incident_mode.policies are configured/],
      [{ duration: '5m', extra: 1 }, /unknown key "extra"/],
    ];
    for (const [body, msg] of cases) {
      const r = await h.host.call('POST', '/admin/incident-mode', body);
      expect(r.status).toBe(400);
      expect((r.body as { error: string }).error).toMatch(msg);
    }
    expect((await h.host.call('GET', '/admin/incident-mode?processor=other')).status).toBe(404);
    await h.proc.shutdown();
  });

  it('turns on automatically when the error ratio over the window crosses the threshold', async () => {
    const h = await harness({
      decision_wait: '1s',
      policies: ERRORS,
      incident_mode: { auto: { error_ratio: 0.2, window: '1m', min_traces: 50, duration: '10m' } },
    });
    // 100 traces, 10% errors: below the threshold.
    let n = 0;
    const batch = async (count: number, errEvery: number) => {
      const spans = [];
      for (let i = 0; i < count; i++) spans.push(mkSpan({ trace: ++n, status: i % errEvery === 0 ? 2 : 0 }));
      await h.proc.consume(spansReq(spans));
      await h.advance(1000);
    };
    await batch(100, 10);
    expect(h.proc.incidentState().active).toBe(false);
    // 100 more at 50% errors: 60/200 = 30% over the window.
    await batch(100, 2);
    await h.advance(10);
    expect(h.proc.incidentState()).toMatchObject({ active: true, source: 'auto' });
    expect(h.proc.health().detail).toMatch(/^incident mode until .* \(auto\)$/);
    // Every trace is kept now.
    h.out.length = 0;
    await batch(10, 1000);
    expect(h.keptTraces().size).toBe(10);
    await h.proc.shutdown();
  });
});
