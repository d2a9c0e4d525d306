import { describe, expect, it } from 'vitest';
import { Telemetry } from '../../pdata/telemetry.js';
import { decodeTracesRequest } from '../../pdata/proto/index.js';
import { Needs } from './policies.js';
import { appendGroup, groupBytes, mergeFacts, Splitter } from './split.js';
import { durationMs, TraceEntry } from './trace.js';
import { mkSpan, resource, request } from './testutil.js';
import { makeLabel, relabel } from './relabel.js';
import { ProtoWriter } from '../../pdata/proto/writer.js';

function entryFor(key: string, size: number): TraceEntry {
  return new TraceEntry(key, 0, 0, size, undefined);
}

describe('Splitter', () => {
  it('splits a request by trace id and keeps every field of every span', () => {
    const rs = [
      resource([mkSpan({ trace: 1, span: 1 }), mkSpan({ trace: 2, span: 2, status: 2 }), mkSpan({ trace: 1, span: 3, parent: 1 })], { 'service.name': 'a' }, 'x'),
      resource([mkSpan({ trace: 2, span: 4, parent: 2, attrs: { 'http.route': '/x', n: 7 } })], { 'service.name': 'b' }, 'y'),
    ];
    const req = request(rs);
    const src = req.toProto();
    const groups = new Splitter(new Needs()).split(src);
    expect(groups.map((g) => g.spanCount)).toEqual([2, 1, 1]);
    const entries = new Map<string, TraceEntry>();
    for (const g of groups) {
      let t = entries.get(g.key);
      if (!t) entries.set(g.key, (t = entryFor(g.key, 0)));
      appendGroup(t, g, src);
      mergeFacts(t, g, new Needs());
    }
    expect(entries.size).toBe(2);
    const byTrace = [...entries.values()].map((t) => decodeTracesRequest(t.bytes()));
    // trace 1: one resource, two spans in order
    expect(byTrace[0]!.length).toBe(1);
    expect(byTrace[0]![0]!.resource).toEqual(rs[0]!.resource);
    expect(byTrace[0]![0]!.scopeSpans[0]!.scope).toEqual(rs[0]!.scopeSpans[0]!.scope);
    expect(byTrace[0]![0]!.scopeSpans[0]!.spans).toEqual([rs[0]!.scopeSpans[0]!.spans[0], rs[0]!.scopeSpans[0]!.spans[2]]);
    // trace 2: two resources
    expect(byTrace[1]!.map((r) => r.resource)).toEqual([rs[0]!.resource, rs[1]!.resource]);
    expect(byTrace[1]!.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans))).toEqual([rs[0]!.scopeSpans[0]!.spans[1], rs[1]!.scopeSpans[0]!.spans[0]]);
    const t2 = [...entries.values()][1]!;
    expect(t2.statusMask & 4).toBe(4);
    expect(t2.spanCount).toBe(2);
  });

  it('extends the last resource and scope in place when later spans share them', () => {
    const t = entryFor('', 0);
    const needs = new Needs();
    const all = [];
    for (let i = 0; i < 40; i++) {
      const sp = mkSpan({ trace: 9, span: i, parent: i === 0 ? undefined : 0, attrs: { i } });
      all.push(sp);
      const req = request([resource([sp])]);
      const src = req.toProto();
      const [g] = new Splitter(needs).split(src);
      appendGroup(t, g!, src);
    }
    const decoded = decodeTracesRequest(t.bytes());
    expect(decoded.length).toBe(1);
    expect(decoded[0]!.scopeSpans.length).toBe(1);
    expect(decoded[0]!.scopeSpans[0]!.spans).toEqual(all);
    // A different scope opens a new ScopeSpans in the same ResourceSpans; a different resource a new one.
    const other = mkSpan({ trace: 9, span: 99, parent: 0 });
    for (const rs of [resource([other], undefined, 'other-scope'), resource([other], { 'service.name': 'x' })]) {
      const src = request([rs]).toProto();
      appendGroup(t, new Splitter(needs).split(src)[0]!, src);
    }
    const d2 = decodeTracesRequest(t.bytes());
    expect(d2.length).toBe(2);
    expect(d2[0]!.scopeSpans.map((s) => s.scope.name)).toEqual(['lib', 'other-scope']);
    expect(d2[1]!.resource.attributes[0]!.value).toEqual({ type: 'string', value: 'x' });
  });

  it('copies runs of adjacent spans of a trace whole, and spans with a padded length prefix one by one', () => {
    // Bodies around 128 bytes, so that length prefixes of one and two bytes sit side by side.
    const sizes = [20, 120, 123, 124, 125, 126, 127, 128, 129, 300];
    const spans = sizes.map((n, i) => mkSpan({ trace: i % 4 < 3 ? 1 : 2, span: i, parent: i === 0 ? undefined : 0, attrs: { pad: 'x'.repeat(n) } }));
    const rs = [resource(spans.slice(0, 6), { 'service.name': 'a' }, 's1'), resource(spans.slice(6), { 'service.name': 'a' }, 's2')];
    const src = request(rs).toProto();
    const byTrace = (buf: Uint8Array): Map<string, unknown[]> => {
      const entries = new Map<string, TraceEntry>();
      for (const g of new Splitter(new Needs()).split(buf)) {
        let t = entries.get(g.key);
        if (!t) entries.set(g.key, (t = entryFor(g.key, 0)));
        appendGroup(t, g, buf);
      }
      return new Map([...entries].map(([k, t]) => [k, decodeTracesRequest(t.bytes()).flatMap((r) => r.scopeSpans.flatMap((ss) => ss.spans))]));
    };
    const want = new Map<string, unknown[]>();
    for (const g of new Splitter(new Needs()).split(src)) want.set(g.key, []);
    const [k1, k2] = [...want.keys()];
    want.set(k1!, spans.filter((_, i) => i % 4 < 3));
    want.set(k2!, spans.filter((_, i) => i % 4 === 3));
    expect(byTrace(src)).toEqual(want);

    // The same spans in one scope, each field's length written in three bytes (valid, not minimal).
    const bodies = new Splitter(new Needs()).split(src).flatMap((g) => {
      const out: [number, Uint8Array][] = [];
      for (let i = 0; i < g.spans.length; i += 3) out.push([g.spans[i + 1]!, src.subarray(g.spans[i + 1]!, g.spans[i + 2]!)]);
      return out;
    });
    bodies.sort((a, b) => a[0] - b[0]);
    const w = new ProtoWriter(4096);
    const scope = new ProtoWriter(4096);
    for (const [, b] of bodies) {
      scope.raw(new Uint8Array([0x12, (b.length & 0x7f) | 0x80, ((b.length >> 7) & 0x7f) | 0x80, b.length >> 14]));
      scope.raw(b);
    }
    const ss = scope.finish();
    const rsb = new ProtoWriter(4096);
    rsb.tag(2, 2);
    rsb.bytes(ss);
    w.tag(1, 2);
    w.bytes(rsb.finish());
    const padded = w.finish();
    const got = byTrace(padded);
    expect(got.get(k1!)).toEqual(want.get(k1!));
    expect(got.get(k2!)).toEqual(want.get(k2!));
  });

  it('reads the facts policies need', () => {
    const needs = new Needs();
    const iRoute = needs.attrIndex('http.route');
    const iCode = needs.attrIndex('code');
    const iSvc = needs.attrIndex('service.name');
    needs.traceState = true;
    needs.latencyIndex(100, 0);
    const src = request([
      resource(
        [
          mkSpan({ trace: 1, span: 1, parent: 5, startMs: 10, durMs: 50, attrs: { 'http.route': '/a', code: 500 }, traceState: 'k=v', flags: 1 }),
          mkSpan({ trace: 1, span: 2, startMs: 0, durMs: 120, status: 1, attrs: { 'http.route': '/a', code: 1.5 } }),
        ],
        { 'service.name': 'svc' },
      ),
    ]).toProto();
    const [g] = new Splitter(needs).split(src);
    const t = entryFor(g!.key, 0);
    mergeFacts(t, g!, needs);
    expect(t.rootSeen).toBe(true);
    expect(t.flagsSampled).toBe(true);
    expect(t.statusMask).toBe(1 | 2);
    expect(t.attrs![iRoute]).toEqual(['/a']);
    expect(t.attrs![iCode]).toEqual([500, null]);
    expect(t.attrs![iSvc]).toEqual(['svc']);
    expect(t.traceStates).toEqual(['k=v']);
    expect(t.latencyHits).toBe(1);
    expect(durationMs(t.minHi, t.minLo, t.maxHi, t.maxLo)).toBe(120);
  });

  it('treats an all-zero parent span id as a root, like pdata', () => {
    const sp = mkSpan({ trace: 1, parent: 1 });
    sp.parentSpanId = new Uint8Array(8);
    const src = request([resource([sp])]).toProto();
    const [g] = new Splitter(new Needs()).split(src);
    expect(g!.rootSeen).toBe(true);
  });

  it('rejects malformed input with a DecodeError', () => {
    const src = request([resource([mkSpan({ trace: 1 })])]).toProto();
    expect(() => new Splitter(new Needs()).split(src.subarray(0, src.length - 3))).toThrow(/truncated|exceeds|overruns/);
  });

  it('builds standalone bytes for pass-through and relabels spans without decoding', () => {
    const sp = mkSpan({ trace: 3, attrs: { 'sampling.policy': 'old', a: 'b' } });
    const src = request([resource([sp])]).toProto();
    const [g] = new Splitter(new Needs()).split(src);
    const bytes = groupBytes(g!, src);
    expect(decodeTracesRequest(bytes)[0]!.scopeSpans[0]!.spans).toEqual([sp]);
    const w = new ProtoWriter(16);
    relabel(bytes, [makeLabel('sampling.policy', 'errors'), makeLabel('sampling.composite_policy', 'sub')], w);
    const out = decodeTracesRequest(w.finish())[0]!.scopeSpans[0]!.spans[0]!;
    expect(out.attributes).toEqual([
      { key: 'a', value: { type: 'string', value: 'b' } },
      { key: 'sampling.policy', value: { type: 'string', value: 'errors' } },
      { key: 'sampling.composite_policy', value: { type: 'string', value: 'sub' } },
    ]);
    expect({ ...out, attributes: [] }).toEqual({ ...sp, attributes: [] });
  });

  it('produces bytes any batch can carry as a Telemetry', () => {
    const src = request([resource([mkSpan({ trace: 1 }), mkSpan({ trace: 1 })])]).toProto();
    const [g] = new Splitter(new Needs()).split(src);
    const t = entryFor(g!.key, 0);
    appendGroup(t, g!, src);
    const tel = Telemetry.fromProto('traces', t.bytes().slice(), 2);
    expect(tel.read()[0]!.scopeSpans[0]!.spans.length).toBe(2);
  });
});
