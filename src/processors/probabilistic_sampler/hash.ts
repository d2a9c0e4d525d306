// The sampling hashes, shared by probabilistic_sampler (head) and the
// tail_sampling `probabilistic` policy, so a sidecar that head-samples and a
// gateway that tail-samples with the same seed and percentage keep the same
// traces.
//
// Two algorithms, each compatible with the Collector's:
//
// 1. hash_seed mode (probabilistic_sampler `mode: hash_seed`): FNV-1a 32-bit
//    over the seed as 4 little-endian bytes followed by the 16 trace-id bytes;
//    the low 14 bits pick one of 16384 buckets; an item is kept when its bucket
//    is below `uint32(float32(percentage) * float32(16384 / 100))` (32-bit float
//    product, truncated), as the Collector computes it.
//
// 2. The Collector's tail `probabilistic` policy: FNV-1a 64-bit over the salt
//    (default "default-hash-seed") followed by the trace id; kept when the hash
//    is <= floor(MaxUint64 * ratio), the product rounded to 64 significant bits
//    first (Go's big.Float at the receiver's 64-bit precision).

const NUM_HASH_BUCKETS = 0x4000;
const BUCKET_MASK = NUM_HASH_BUCKETS - 1;
const PERCENTAGE_SCALE = Math.fround(NUM_HASH_BUCKETS / 100);

/** FNV-1a 32-bit of the seed (4 bytes little-endian) then `bytes[start..end)`. */
export function fnv1a32Seeded(seed: number, bytes: Uint8Array, start = 0, end = bytes.length): number {
  let h = 0x811c9dc5;
  h = Math.imul(h ^ (seed & 0xff), 0x01000193);
  h = Math.imul(h ^ ((seed >>> 8) & 0xff), 0x01000193);
  h = Math.imul(h ^ ((seed >>> 16) & 0xff), 0x01000193);
  h = Math.imul(h ^ ((seed >>> 24) & 0xff), 0x01000193);
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}

/** The bucket threshold for a percentage in hash_seed mode: items with bucket < threshold are kept. */
export function scaledSamplingRate(percentage: number): number {
  if (!(percentage > 0)) return 0;
  const v = Math.trunc(Math.fround(Math.fround(percentage) * PERCENTAGE_SCALE));
  return v > NUM_HASH_BUCKETS ? NUM_HASH_BUCKETS : v;
}

/** The 14-bit bucket of a trace id (or any byte string) for a seed. */
export function hashSeedBucket(seed: number, bytes: Uint8Array, start = 0, end = bytes.length): number {
  return fnv1a32Seeded(seed, bytes, start, end) & BUCKET_MASK;
}

/** hash_seed mode decision: true when kept. `scaledRate` comes from `scaledSamplingRate`. */
export function hashSeedSampled(seed: number, scaledRate: number, bytes: Uint8Array, start = 0, end = bytes.length): boolean {
  return hashSeedBucket(seed, bytes, start, end) < scaledRate;
}

// ---------------------------------------------------------------- FNV-1a 64

/** A 64-bit value as unsigned 32-bit halves. */
export interface U64 {
  hi: number;
  lo: number;
}

const utf8 = new TextEncoder();

/**
 * The state of FNV-1a 64 after absorbing `prefix`, so that per-trace hashing
 * starts from it and only absorbs the 16 trace-id bytes.
 */
export function fnv1a64Prefix(prefix: Uint8Array | string): U64 {
  const b = typeof prefix === 'string' ? utf8.encode(prefix) : prefix;
  let hi = 0xcbf29ce4;
  let lo = 0x84222325;
  for (let i = 0; i < b.length; i++) {
    lo = (lo ^ b[i]!) >>> 0;
    ({ hi, lo } = mulPrime(hi, lo));
  }
  return { hi, lo };
}

// (hi,lo) * 0x100000001b3 mod 2^64: x * 2^40 moves lo << 8 into the high word;
// x * 0x1b3 is exact in doubles for the low word (< 2^41).
function mulPrime(hi: number, lo: number): U64 {
  const t = lo * 0x1b3;
  const carry = Math.floor(t / 4294967296);
  return { hi: (Math.imul(hi, 0x1b3) + (lo << 8) + carry) >>> 0, lo: t >>> 0 };
}

/** FNV-1a 64 continuing from `state` over `bytes[start..end)`; writes the result into `out`. */
export function fnv1a64Continue(state: U64, bytes: Uint8Array, start: number, end: number, out: U64): U64 {
  let hi = state.hi;
  let lo = state.lo;
  for (let i = start; i < end; i++) {
    lo = (lo ^ bytes[i]!) >>> 0;
    const t = lo * 0x1b3;
    const carry = Math.floor(t / 4294967296);
    hi = (Math.imul(hi, 0x1b3) + (lo << 8) + carry) >>> 0;
    lo = t >>> 0;
  }
  out.hi = hi;
  out.lo = lo;
  return out;
}

const MAX_U64 = (1n << 64n) - 1n;

/**
 * floor(MaxUint64 * ratio) with the product first rounded to 64 significant
 * bits (half to even), clamped to [0, MaxUint64].
 */
export function tailThreshold(ratio: number): U64 {
  let v: bigint;
  if (!(ratio > 0)) v = 0n;
  else if (ratio >= 1) v = MAX_U64;
  else {
    // ratio = m * 2^e exactly, m a 53-bit integer.
    const { mant, exp } = decompose(ratio);
    let num = MAX_U64 * mant;
    let e = exp;
    const bits = num.toString(2).length;
    if (bits > 64) {
      const shift = BigInt(bits - 64);
      const q = num >> shift;
      const rem = num - (q << shift);
      const half = 1n << (shift - 1n);
      let r = q;
      if (rem > half || (rem === half && (q & 1n) === 1n)) r = q + 1n;
      num = r;
      e += bits - 64;
    }
    v = e >= 0 ? num << BigInt(e) : num >> BigInt(-e);
    if (v > MAX_U64) v = MAX_U64;
  }
  return { hi: Number(v >> 32n), lo: Number(v & 0xffffffffn) };
}

function decompose(x: number): { mant: bigint; exp: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const biased = (hi >>> 20) & 0x7ff;
  const fracHi = hi & 0xfffff;
  let mant = (BigInt(fracHi) << 32n) | BigInt(lo);
  let exp: number;
  if (biased === 0) exp = -1074;
  else {
    mant |= 1n << 52n;
    exp = biased - 1075;
  }
  return { mant, exp };
}

/** a <= b for 64-bit values. */
export function u64LessOrEqual(a: U64, b: U64): boolean {
  return a.hi < b.hi || (a.hi === b.hi && a.lo <= b.lo);
}

export const DEFAULT_HASH_SALT = 'default-hash-seed';

/** The Collector's tail `probabilistic` policy as a reusable predicate over trace ids. */
export class TailProbabilistic {
  private readonly prefix: U64;
  private readonly threshold: U64;
  private readonly scratch: U64 = { hi: 0, lo: 0 };
  constructor(samplingPercentage: number, hashSalt: string) {
    this.prefix = fnv1a64Prefix(hashSalt === '' ? DEFAULT_HASH_SALT : hashSalt);
    this.threshold = tailThreshold(samplingPercentage / 100);
  }
  sampled(traceId: Uint8Array, start = 0, end = traceId.length): boolean {
    return u64LessOrEqual(fnv1a64Continue(this.prefix, traceId, start, end, this.scratch), this.threshold);
  }
}

/** The head sampler's hash_seed decision as a reusable predicate over trace ids. */
export class HashSeedSampler {
  readonly scaledRate: number;
  constructor(samplingPercentage: number, readonly seed: number) {
    this.scaledRate = scaledSamplingRate(samplingPercentage);
  }
  sampled(bytes: Uint8Array, start = 0, end = bytes.length): boolean {
    return this.scaledRate > 0 && hashSeedSampled(this.seed, this.scaledRate, bytes, start, end);
  }
}
