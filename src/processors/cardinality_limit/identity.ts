// Series identity without building strings: a series is its resource
// attributes, its scope (name, version) and its data point attributes. Each
// attribute list hashes to two independent 32-bit values that do not depend
// on attribute order (per-attribute hashes are added up), and the three parts
// are mixed in a fixed order into a 53-bit number. Two distinct live series
// collide with probability about n²/2^54 (1e-4 for a million series).
import type { AnyValue, InstrumentationScope, KeyValue } from '../../pdata/model.js';

const P1 = 0x01000193;
const P2 = 0x5bd1e995;

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

/** Two running 32-bit hashes. */
class H {
  a = 0x811c9dc5;
  b = 0x9747b28c;
  byte(c: number): void {
    this.a = Math.imul(this.a ^ c, P1);
    this.b = Math.imul(this.b ^ c, P2);
    this.b ^= this.b >>> 15;
  }
  str(s: string): void {
    for (let i = 0; i < s.length; i++) this.byte(s.charCodeAt(i));
    this.byte(0xffff);
  }
  num(n: number): void {
    f64[0] = n;
    this.byte(u32[0]! & 0xffff);
    this.byte(u32[0]! >>> 16);
    this.byte(u32[1]! & 0xffff);
    this.byte(u32[1]! >>> 16);
  }
  value(v: AnyValue): void {
    switch (v.type) {
      case 'string':
        this.byte(1);
        this.str(v.value);
        return;
      case 'int':
        this.byte(2);
        if (v.value >= -9007199254740991n && v.value <= 9007199254740991n) this.num(Number(v.value));
        else this.str(v.value.toString());
        return;
      case 'double':
        this.byte(3);
        this.num(v.value);
        return;
      case 'bool':
        this.byte(v.value ? 4 : 5);
        return;
      case 'bytes':
        this.byte(6);
        for (let i = 0; i < v.value.length; i++) this.byte(v.value[i]!);
        this.byte(0xffff);
        return;
      case 'array':
        this.byte(7);
        for (const x of v.value) this.value(x);
        this.byte(0xfffe);
        return;
      case 'kvlist':
        this.byte(8);
        for (const kv of v.value) {
          this.str(kv.key);
          this.value(kv.value);
        }
        this.byte(0xfffe);
        return;
      default:
        this.byte(9);
    }
  }
}

const h = new H();

/** Order-independent hash pair of an attribute list, packed as [a, b] into the given array. */
export function hashAttributes(attrs: readonly KeyValue[], out: Uint32Array, at: number): void {
  let sa = 0;
  let sb = 0;
  for (let i = 0; i < attrs.length; i++) {
    const kv = attrs[i]!;
    h.a = 0x811c9dc5;
    h.b = 0x9747b28c;
    h.str(kv.key);
    h.value(kv.value);
    sa = (sa + h.a) | 0;
    sb = (sb + h.b) | 0;
  }
  out[at] = sa;
  out[at + 1] = sb;
}

export function hashScope(scope: InstrumentationScope, out: Uint32Array, at: number): void {
  h.a = 0x811c9dc5;
  h.b = 0x9747b28c;
  h.str(scope.name);
  h.str(scope.version);
  out[at] = h.a;
  out[at + 1] = h.b;
}

function fmix(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** Mixes the resource, scope and point hash pairs (in this order) into a 53-bit identity. */
export function seriesId(parts: Uint32Array): number {
  let a = 0x2545f491;
  let b = 0x6c8e9cf5;
  for (let i = 0; i < parts.length; i += 2) {
    a = fmix((a ^ parts[i]!) + i);
    b = fmix((b ^ parts[i + 1]!) + Math.imul(i, 0x9e3779b1));
  }
  return a * 0x200000 + (b >>> 11);
}
