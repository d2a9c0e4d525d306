import { describe, expect, it } from 'vitest';
import { tracesCodec } from './codec.js';
import { Telemetry } from './telemetry.js';
import { traces } from '../../test/helpers/model.js';

function request(n: number, offset: number): Telemetry<'traces'> {
  const bytes = tracesCodec.encode(traces(n, 3, offset));
  return Telemetry.fromProto('traces', bytes, n);
}

function joined(list: readonly Uint8Array[]): Buffer {
  return Buffer.concat(list.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)));
}

describe('Telemetry.concat on request bytes', () => {
  it('keeps the requests as byte ranges, the very buffers, until something asks for one buffer', () => {
    const a = request(2, 0);
    const b = request(3, 10);
    const c = request(1, 20);
    const t = Telemetry.concat('traces', [a, b, c]);
    const parts = t.protoParts();
    expect(parts).toHaveLength(3);
    expect(parts[0]).toBe(a.toProto());
    expect(parts[1]).toBe(b.toProto());
    expect(parts[2]).toBe(c.toProto());
    expect(t.hasProto()).toBe(true);
    expect(t.itemCount()).toBe(6);
    const len = a.toProto().length + b.toProto().length + c.toProto().length;
    expect(t.protoLength()).toBe(len);
    // Joined once on demand; the ranges are then that one buffer.
    const whole = t.toProto();
    expect(Buffer.from(whole).equals(joined(parts))).toBe(true);
    expect(t.protoParts()).toEqual([whole]);
    expect(t.toProto()).toBe(whole);
  });

  it('decodes the joined ranges to the union of the requests', () => {
    const t = Telemetry.concat('traces', [request(2, 0), request(3, 10)]);
    const names = t.read().flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => s.name)));
    expect(names).toEqual([...traces(2, 3, 0), ...traces(3, 3, 10)].flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => s.name))));
  });

  it('flattens batches that are themselves joined, and skips empty requests', () => {
    const a = request(1, 0);
    const b = request(1, 1);
    const c = request(1, 2);
    const ab = Telemetry.concat('traces', [a, b]);
    const empty = Telemetry.fromProto('traces', new Uint8Array(0), 0);
    const all = Telemetry.concat('traces', [ab, empty, c]);
    expect(all.protoParts()).toEqual([a.toProto(), b.toProto(), c.toProto()]);
    expect(all.itemCount()).toBe(3);
    // The inner batch was not joined into one buffer by being joined again.
    expect(ab.protoParts()).toHaveLength(2);
  });

  it('gives one range for one request, and an empty request for none with bytes', () => {
    const a = request(2, 0);
    expect(Telemetry.concat('traces', [a]).protoParts()).toEqual([a.toProto()]);
    const e = Telemetry.concat('traces', [Telemetry.fromProto('traces', new Uint8Array(0), 0), Telemetry.fromProto('traces', new Uint8Array(0), 0)]);
    expect(e.protoParts()).toHaveLength(1);
    expect(e.toProto().length).toBe(0);
  });

  it('clones share the ranges; a mutated clone leaves the original as it was', () => {
    const t = Telemetry.concat('traces', [request(1, 0), request(1, 1)]);
    const before = joined(t.protoParts());
    const copy = t.clone();
    expect(copy.protoParts()).toEqual(t.protoParts());
    copy.mutate()[0]!.scopeSpans[0]!.spans[0]!.name = 'changed';
    expect(joined(t.protoParts()).equals(before)).toBe(true);
    expect(Buffer.from(copy.toProto()).equals(before)).toBe(false);
    expect(copy.read()[0]!.scopeSpans[0]!.spans[0]!.name).toBe('changed');
  });

  it('drops the ranges when the content is replaced', () => {
    const t = Telemetry.concat('traces', [request(1, 0), request(1, 1)]);
    const next = tracesCodec.encode(traces(4, 2, 50));
    t.replaceProto(next);
    expect(t.protoParts()).toEqual([next]);
    t.replace(traces(1, 1, 60));
    expect(t.protoParts()).toHaveLength(1);
    expect(t.itemCount()).toBe(1);
  });

  it('joins the models when one part has no bytes', () => {
    const t = Telemetry.concat('traces', [request(1, 0), Telemetry.traces(traces(2, 1, 5))]);
    expect(t.hasProto()).toBe(false);
    expect(t.itemCount()).toBe(3);
    expect(t.protoParts()).toHaveLength(1);
  });
});
