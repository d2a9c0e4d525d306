import { describe, expect, it } from 'vitest';
import type { ResourceSpans, Span } from '../../pdata/model.js';
import { Telemetry } from '../../pdata/telemetry.js';
import { nopLogger } from '../../service/logger.js';
import { SelfTelemetry } from '../../service/telemetry.js';
import { countInvalidSpansProto, createIdValidator, dropInvalidSpans, spanIdProblem } from './validate_ids.js';

const T = (b: number, n = 16) => new Uint8Array(n).fill(b);

function span(name: string, traceId: Uint8Array, spanId: Uint8Array): Span {
  return {
    traceId, spanId, traceState: '', parentSpanId: new Uint8Array(0), flags: 0, name, kind: 1, startTimeUnixNano: 1n, endTimeUnixNano: 2n,
    attributes: [], droppedAttributesCount: 0, events: [], droppedEventsCount: 0, links: [], droppedLinksCount: 0, status: { code: 0, message: '' },
  };
}

function traces(...groups: Span[][]): ResourceSpans[] {
  return groups.map((spans, i) => ({
    resource: { attributes: [{ key: 'r', value: { type: 'int', value: BigInt(i) } }], droppedAttributesCount: 0 },
    scopeSpans: [{ scope: { name: 's', version: '', attributes: [], droppedAttributesCount: 0 }, spans, schemaUrl: '' }],
    schemaUrl: '',
  }));
}

const good = (n: string) => span(n, T(1), T(2, 8));

describe('span id validation', () => {
  it.each([
    ['valid', T(1), T(2, 8), undefined],
    ['short trace id', T(1, 8), T(2, 8), 'trace_id'],
    ['empty trace id', new Uint8Array(0), T(2, 8), 'trace_id'],
    ['zero trace id', T(0), T(2, 8), 'trace_id'],
    ['long span id', T(1), T(2, 16), 'span_id'],
    ['zero span id', T(1), T(0, 8), 'span_id'],
  ] as const)('%s', (_n, t, s, want) => expect(spanIdProblem(t, s)).toBe(want));

  it('counts invalid spans on the wire without decoding', () => {
    const d = Telemetry.traces(traces([good('a'), span('b', T(0), T(2, 8))], [span('c', T(1), T(0, 8)), good('d')]));
    expect(countInvalidSpansProto(d.toProto())).toBe(2);
    expect(countInvalidSpansProto(Telemetry.traces(traces([good('a')])).toProto())).toBe(0);
    expect(countInvalidSpansProto(new Uint8Array(0))).toBe(0);
  });

  it('keeps a valid batch as it is, bytes and all', () => {
    const bytes = Telemetry.traces(traces([good('a'), good('b')])).toProto();
    const wire = Telemetry.fromProto('traces', bytes, 2);
    const r = dropInvalidSpans(wire);
    expect(r.data).toBe(wire);
    expect(r.data.toProto()).toBe(bytes);
    expect([r.droppedTraceId, r.droppedSpanId]).toEqual([0, 0]);
  });

  it('returns a filtered copy, dropping emptied scopes and resources, and leaves the input alone', () => {
    const bytes = Telemetry.traces(traces([good('a'), span('b', T(0), T(2, 8))], [span('c', T(1), T(0, 8))], [good('d')])).toProto();
    const wire = Telemetry.fromProto('traces', bytes, 4, { tenant: 't' });
    const r = dropInvalidSpans(wire);
    expect([r.droppedTraceId, r.droppedSpanId]).toEqual([1, 1]);
    expect(r.data.ctx).toEqual({ tenant: 't' });
    expect(r.data.read().map((rs) => rs.scopeSpans.flatMap((s) => s.spans.map((x) => x.name)))).toEqual([['a'], ['d']]);
    expect(wire.toProto()).toBe(bytes);
    expect(wire.itemCount()).toBe(4);
  });

  it('counts once per batch however often the batch is retried', async () => {
    const telemetry = new SelfTelemetry();
    const check = createIdValidator({ id: 'otlp/tempo', telemetry, logger: nopLogger });
    const d = Telemetry.traces(traces([good('a'), span('b', T(1, 15), T(2, 8))]));
    const first = check(d)!;
    expect(first.itemCount()).toBe(1);
    expect(check(d)).toBe(first);
    expect(await telemetry.value('sieve_exporter_invalid_id_spans', { exporter: 'otlp/tempo', reason: 'trace_id' })).toBe(1);
    expect(check(Telemetry.traces(traces([span('x', T(0), T(0, 8))])))).toBeUndefined();
    expect(await telemetry.value('sieve_exporter_invalid_id_spans', { exporter: 'otlp/tempo' })).toBe(2);
  });
});
