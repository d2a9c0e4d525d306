// The splicer against a reference: random nested messages are encoded, edited
// in place through the walker (strings replaced by longer or shorter ones,
// fields inserted and removed at every depth), and the result must equal the
// edited tree encoded from scratch. Lengths are picked to cross the 1-, 2- and
// 3-byte varint boundaries of the enclosing prefixes.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WireWalker } from './walker.js';
import { putVarint32, Splicer } from './splice.js';

type Field = { no: number; kind: 'varint'; v: number } | { no: number; kind: 'str'; v: Uint8Array } | { no: number; kind: 'msg'; v: Field[] };

function varint(v: number): number[] {
  const out: number[] = [];
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

function encode(fields: Field[], padded = false): Uint8Array {
  const out: Uint8Array[] = [];
  for (const f of fields) {
    if (f.kind === 'varint') {
      out.push(Uint8Array.from([...varint(f.no << 3), ...varint(f.v)]));
      continue;
    }
    const body = f.kind === 'str' ? f.v : encode(f.v, padded);
    out.push(Uint8Array.from(varint((f.no << 3) | 2)));
    // A padded (non-minimal) prefix, as some encoders write, for messages.
    const n = body.length;
    if (padded && f.kind === 'msg') out.push(Uint8Array.from([(n & 0x7f) | 0x80, ((n >> 7) & 0x7f) | 0x80, ((n >> 14) & 0x7f) | 0x80, (n >> 21) & 0x7f]));
    else out.push(Uint8Array.from(varint(n)));
    out.push(body);
  }
  return new Uint8Array(Buffer.concat(out));
}

const bytesOf = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => 97 + ((i + seed) % 26));

// Sizes around the varint boundaries: 127/128, 16383/16384.
const size = fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 120, max: 136 }), fc.integer({ min: 16370, max: 16400 }));

const field: fc.Memo<Field> = fc.memo((d): fc.Arbitrary<Field> =>
  d <= 1
    ? fc.oneof<fc.Arbitrary<Field>[]>(
        fc.record({ no: fc.integer({ min: 1, max: 20 }), kind: fc.constant('varint' as const), v: fc.nat() }),
        fc.record({ no: fc.integer({ min: 1, max: 20 }), kind: fc.constant('str' as const), v: size.map((n) => bytesOf(n, 1)) }),
      )
    : fc.oneof<fc.Arbitrary<Field>[]>(
        fc.record({ no: fc.integer({ min: 1, max: 20 }), kind: fc.constant('str' as const), v: size.map((n) => bytesOf(n, 2)) }),
        fc.record({ no: fc.integer({ min: 1, max: 20 }), kind: fc.constant('msg' as const), v: fc.array(field(d - 1), { maxLength: 4 }) }),
      ),
);

/** An edit decision per field, in walk order: keep, replace (a string, with a new size), remove, insert before. */
type Decision = { op: 'keep' } | { op: 'replace'; n: number } | { op: 'remove' } | { op: 'insert'; n: number } | { op: 'append'; n: number };
const decision: fc.Arbitrary<Decision> = fc.oneof(
  { weight: 5, arbitrary: fc.constant({ op: 'keep' } as const) },
  { weight: 2, arbitrary: size.map((n) => ({ op: 'replace', n }) as const) },
  { weight: 1, arbitrary: fc.constant({ op: 'remove' } as const) },
  { weight: 1, arbitrary: size.map((n) => ({ op: 'insert', n }) as const) },
  { weight: 1, arbitrary: size.map((n) => ({ op: 'append', n }) as const) },
);

/** Applies the decisions to the tree (the reference) and, through the walker, to the bytes. */
function applyBoth(tree: Field[], decisions: Decision[], padded: boolean): { expected: Uint8Array; actual: Uint8Array; edits: number } {
  let k = 0;
  const next = () => decisions[k++ % decisions.length] ?? { op: 'keep' as const };
  const w = new WireWalker().begin(encode(tree, padded));
  const sp = w.sp;

  const walk = (fields: Field[], end: number): Field[] => {
    const out: Field[] = [];
    let appendN = -1;
    for (const f of fields) {
      const fieldStart = w.pos;
      const tag = w.tag();
      const d = next();
      if (d.op === 'append' && appendN < 0) appendN = d.n;
      if (d.op === 'insert') {
        const ins = bytesOf(d.n, 9);
        sp.insert(fieldStart, encode([{ no: 21, kind: 'str', v: ins }]));
        out.push({ no: 21, kind: 'str', v: ins });
      }
      if (f.kind === 'varint') {
        w.varint64();
        if (d.op === 'remove') sp.remove(fieldStart, w.pos);
        else out.push(f);
        continue;
      }
      if (f.kind === 'str') {
        const prefix = w.pos;
        const e = w.lenField(end);
        if (d.op === 'remove') sp.remove(fieldStart, e);
        else if (d.op === 'replace') {
          const v = bytesOf(d.n, 5);
          const pre = new Uint8Array(5);
          const pl = putVarint32(pre, 0, v.length);
          const a0 = sp.reserve(pl + v.length);
          sp.arena.set(pre.subarray(0, pl), a0);
          sp.arena.set(v, a0 + pl);
          sp.commit(prefix, e, a0, a0 + pl + v.length);
          out.push({ no: f.no, kind: 'str', v });
        } else out.push(f);
        continue;
      }
      if (d.op === 'remove') {
        const e = w.lenField(end);
        sp.remove(fieldStart, e);
        continue;
      }
      const e = w.enter(end);
      const inner = walk(f.v, e);
      w.leave();
      expect(tag & 7).toBe(2);
      out.push({ no: f.no, kind: 'msg', v: inner });
    }
    expect(w.pos).toBe(end);
    if (appendN >= 0) {
      const ins = bytesOf(appendN, 3);
      sp.insert(end, encode([{ no: 22, kind: 'str', v: ins }]));
      out.push({ no: 22, kind: 'str', v: ins });
    }
    return out;
  };
  const edited = walk(tree, w.buf.length);
  return { expected: encode(edited, false), actual: w.finish(), edits: sp.edits };
}

/** Decodes to a tree, treating a LEN field as a message when its body parses fully. */
function canonical(buf: Uint8Array): unknown {
  // Comparing trees rather than bytes: padded prefixes of untouched messages stay padded.
  const fields: unknown[] = [];
  let p = 0;
  const rv = () => {
    let v = 0;
    let m = 1;
    for (;;) {
      const b = buf[p++]!;
      v += (b & 0x7f) * m;
      m *= 128;
      if (b < 0x80) return v;
    }
  };
  while (p < buf.length) {
    const t = rv();
    if ((t & 7) === 0) fields.push([t >> 3, rv()]);
    else {
      const n = rv();
      const body = buf.subarray(p, p + n);
      p += n;
      fields.push([t >> 3, Buffer.from(body).toString('latin1')]);
    }
  }
  return fields;
}

/** The whole tree of a message, LEN bodies parsed as messages where they parse fully: the same for padded and minimal prefixes. */
function wireTree(buf: Uint8Array, depth = 0): unknown[] | undefined {
  const out: unknown[] = [];
  let p = 0;
  const rv = (): number | undefined => {
    let v = 0;
    let m = 1;
    for (let i = 0; i < 5; i++) {
      if (p >= buf.length) return undefined;
      const b = buf[p++]!;
      v += (b & 0x7f) * m;
      m *= 128;
      if (b < 0x80) return v;
    }
    return undefined;
  };
  while (p < buf.length) {
    const t = rv();
    if (t === undefined || t >> 3 === 0) return undefined;
    if ((t & 7) === 0) {
      const v = rv();
      if (v === undefined) return undefined;
      out.push([t >> 3, v]);
    } else if ((t & 7) === 2) {
      const n = rv();
      if (n === undefined || p + n > buf.length) return undefined;
      const body = buf.subarray(p, p + n);
      p += n;
      out.push([t >> 3, (depth < 8 && n > 0 && wireTree(body, depth + 1)) || Buffer.from(body).toString('hex')]);
    } else return undefined;
  }
  return out;
}

describe('splicer', () => {
  it('builds to the very input when nothing is edited', () => {
    const src = encode([{ no: 1, kind: 'str', v: bytesOf(3, 0) }]);
    const sp = new Splicer().reset(src);
    expect(sp.build()).toBe(src);
  });

  it('matches the edited tree encoded from scratch, across varint boundaries and depths', () => {
    fc.assert(
      fc.property(fc.array(field(4), { minLength: 1, maxLength: 5 }), fc.array(decision, { minLength: 1, maxLength: 40 }), (tree, decisions) => {
        const { expected, actual } = applyBoth(tree, decisions, false);
        expect(Buffer.from(actual).equals(Buffer.from(expected))).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it('keeps untouched padded prefixes and rewrites touched ones minimally', () => {
    fc.assert(
      fc.property(fc.array(field(3), { minLength: 1, maxLength: 4 }), fc.array(decision, { minLength: 1, maxLength: 20 }), (tree, decisions) => {
        const { expected, actual, edits } = applyBoth(tree, decisions, true);
        if (edits === 0) expect(Buffer.from(actual).equals(Buffer.from(encode(tree, true)))).toBe(true);
        // Same fields at the top level, whatever the prefixes look like below.
        expect((canonical(actual) as unknown[]).length).toBe((canonical(expected) as unknown[]).length);
        // And the same tree all the way down.
        expect(wireTree(actual)).toEqual(wireTree(expected));
      }),
      { numRuns: 200 },
    );
  });

  it('gives the same bytes whatever order the edits were recorded in', () => {
    // Edits out of source order take the general path (sorted); in order, the merge.
    const src = encode([{ no: 1, kind: 'msg', v: [{ no: 2, kind: 'str', v: bytesOf(3, 0) }, { no: 3, kind: 'str', v: bytesOf(4, 1) }] }]);
    const grown = encode([{ no: 3, kind: 'str', v: bytesOf(200, 2) }]);
    const expected = encode([{ no: 1, kind: 'msg', v: [{ no: 3, kind: 'str', v: bytesOf(200, 2) }] }]);
    const run = (reverse: boolean): Uint8Array => {
      const sp = new Splicer().reset(src);
      sp.push(1);
      const edits: (() => void)[] = [() => sp.remove(2, 7), () => sp.replace(7, 13, grown)];
      if (reverse) edits.reverse();
      for (const e of edits) e();
      sp.pop();
      return sp.build();
    };
    expect(Buffer.from(run(false)).equals(Buffer.from(expected))).toBe(true);
    expect(Buffer.from(run(true)).equals(Buffer.from(expected))).toBe(true);
  });

  it('rejects overlapping edits', () => {
    const src = encode([{ no: 1, kind: 'str', v: bytesOf(10, 0) }]);
    const sp = new Splicer().reset(src);
    sp.remove(0, 6);
    sp.remove(3, 8);
    expect(() => sp.build()).toThrow(/overlapping/);
  });
});
