// The redaction rules applied to attribute maps and string values.
//
// Per attribute, in the Collector's order:
//   1. ignored_keys            -> untouched (no rule or detector looks at it)
//   2. not in allowed_keys     -> removed (unless allow_all_keys)
//   3. allowed_values matches  -> kept as is
//   4. blocked_key_patterns    -> whole value masked "****" (or hashed)
//   5. sensitive key name      -> whole value masked "[REDACTED:sensitive_key]" (Sieve)
//   6. blocked_values          -> each matching part masked "****" (or hashed)
//   7. detectors               -> each hit masked "[REDACTED:<detector>]" (Sieve)
// Key decisions (1, 2, 4, 5) depend only on the key and are cached per key.
// Strings outside attribute maps (span names, event names, status messages,
// string log bodies, log event names) go through 3, 6 and 7.
import { createHash, createHmac } from 'node:crypto';
import type { AnyValue, KeyValue } from '../../pdata/model.js';
import { utf8Read } from '../../pdata/proto/reader.js';
import { equalBytes } from '../../pdata/wire/splice.js';
import { compileGoRegex, hashFunctionOf, resolveDetectors, type RedactionConfig } from './config.js';
import { DETECTORS, DetectorEngine, detectorIndex, isSensitiveKey, type MaskFn } from './detectors.js';

/** Where a value was found: the `place` label of the redaction counter. */
export const PLACES = [
  'resource_attribute',
  'scope_attribute',
  'span_name',
  'span_attribute',
  'span_status_message',
  'span_event_name',
  'span_event_attribute',
  'span_link_attribute',
  'log_body',
  'log_attribute',
  'log_event_name',
  'metric_metadata',
  'datapoint_attribute',
  'exemplar_attribute',
] as const;
export type Place = (typeof PLACES)[number];
export const PLACE: { readonly [K in Place]: number } = Object.fromEntries(PLACES.map((p, i) => [p, i])) as never;

/** What removed or masked a value: the `detector` label of the redaction counter. */
export const RULES = [...DETECTORS, 'allowed_keys', 'blocked_key_patterns', 'blocked_values'] as const;
export type Rule = (typeof RULES)[number];
const R_ALLOWED_KEYS = RULES.indexOf('allowed_keys');
const R_BLOCKED_KEYS = RULES.indexOf('blocked_key_patterns');
const R_BLOCKED_VALUES = RULES.indexOf('blocked_values');
const R_SENSITIVE = detectorIndex('sensitive_key');
const NPLACES = PLACES.length;

export const K_NORMAL = 0;
export const K_IGNORED = 1;
export const K_REMOVED = 2;
export const K_MASK_BLOCKED = 3;
export const K_MASK_SENSITIVE = 4;
/**
 * Key classes by key bytes, for the byte-level walk: a direct-mapped table of
 * KEY_SLOTS slots, each holding up to KEY_STRIDE bytes of the last key seen
 * there and its class. A lookup hashes the length and three sampled bytes and
 * compares the bytes, so a repeated key costs no decode and no Map lookup.
 */
export const KEY_SLOTS = 1024;
const KEY_STRIDE = 48;
/**
 * Values seen clean, by their bytes, for the byte-level walk: the clean-value
 * table above keyed by UTF-8 bytes instead of strings. A slot holds up to
 * VALUE_STRIDE bytes (4096 x 128 = 512 KiB, fixed). A repeated clean value
 * costs one hash of four sampled bytes and one compare, instead of the byte
 * prefilter (and, for values it lets through, a decode and the string scan).
 * A value is copied in the second time in a row it misses its slot, so values
 * seen once do not evict repeated ones.
 */
const VALUE_SLOTS = 4096;
const VALUE_STRIDE = 128;
/**
 * Whole attributes (KeyValue bodies: key and value bytes together) that the
 * rules left as they were, for the byte-level walk: a repeated attribute
 * (`http.request.method: GET`, a pod name) is then one lookup, with no parse
 * of its fields and no key or value lookup of its own. The rules do not depend
 * on where an attribute is, so one table serves every place. 4096 x 160 =
 * 640 KiB, fixed. Measured on redaction.bench.ts's clean data (15 of 20
 * attributes repeat): 3.4-3.6 µs per span without it.
 */
const KV_SLOTS = 4096;
const KV_STRIDE = 160;
/** Attacker-chosen keys must not grow the cache without bound. */
const KEY_CACHE_MAX = 4096;
/**
 * Values seen clean (no rule or detector changed them) are remembered in a
 * direct-mapped table: a slot chosen from the length and four sampled
 * characters holds the last clean value seen there, and a lookup is one `===`
 * (pointer-equal for the short strings the decoder interns). Repeated values
 * (http.method, db.system, user agents, pod names) then skip the scan; unique
 * values just overwrite slots, so nothing grows and at most CLEAN_SLOTS short
 * strings are held. Measured interleaved in one process (redaction.bench.ts
 * data, 20 string attributes, 5 unique per span, mean µs/span): 4.32/4.18
 * without, 3.24/3.13 with; on the repetitive benchTraces fixture 3.16/3.04
 * without, 0.93/0.88 with. A growing Set cleared when full was slower than
 * no cache on the first mix (5.77/6.63 against 4.59/5.35 in that run): its
 * hashing of whole values and the strings it retained cost more than the
 * scans it saved.
 */
const CLEAN_SLOTS = 4096;
const CLEAN_MAX_LEN = 256;

const SUMMARY_SILENT = 0;
const SUMMARY_INFO = 1;
const SUMMARY_DEBUG = 2;

/** Keys touched while processing one item's attribute map (and what it nests), for `summary`. */
export class Summary {
  redacted: string[] = [];
  masked: string[] = [];
  allowed: string[] = [];
  ignored = 0;
  reset(): void {
    this.redacted.length = 0;
    this.masked.length = 0;
    this.allowed.length = 0;
    this.ignored = 0;
  }
}

const MASK_FIXED = '****';
const str = (value: string): AnyValue => ({ type: 'string', value });

/** A value's string form, as the Collector's AsString: used with redact_all_types. */
export function asString(v: AnyValue): string {
  switch (v.type) {
    case 'string':
      return v.value;
    case 'int':
      return v.value.toString();
    case 'double':
      return String(v.value);
    case 'bool':
      return v.value ? 'true' : 'false';
    case 'bytes':
      return Buffer.from(v.value).toString('base64');
    case 'empty':
      return '';
    default:
      return JSON.stringify(toPlain(v));
  }
}

function toPlain(v: AnyValue): unknown {
  switch (v.type) {
    case 'array':
      return v.value.map(toPlain);
    case 'kvlist':
      return Object.fromEntries(v.value.map((kv) => [kv.key, toPlain(kv.value)]));
    case 'int':
      return Number(v.value);
    case 'bytes':
      return Buffer.from(v.value).toString('base64');
    case 'empty':
      return null;
    default:
      return v.value;
  }
}

/**
 * Go's regexp.ReplaceAllStringFunc: non-overlapping leftmost matches, and an
 * empty match right after a previous match is skipped (so `.*` masks "abc"
 * once, where String.replace would append a second mask).
 */
export function goReplaceAll(re: RegExp, s: string, fn: (match: string) => string): { out: string; n: number } {
  re.lastIndex = 0;
  let out = '';
  let last = 0;
  let prevEnd = -1;
  let n = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    const st = m.index;
    const en = st + m[0].length;
    if (en === st) {
      re.lastIndex = st + 1;
      if (st === prevEnd) continue;
    }
    out += s.slice(last, st) + fn(m[0]);
    last = en;
    prevEnd = en;
    n++;
  }
  if (n === 0) return { out: s, n: 0 };
  return { out: out + s.slice(last), n };
}

export type Hasher = (text: string) => string;

export function makeHasher(cfg: Pick<RedactionConfig, 'hash_function' | 'hmac_key'>): Hasher | undefined {
  const hf = hashFunctionOf(cfg);
  switch (hf) {
    case undefined:
      return undefined;
    case 'md5':
      return (t) => createHash('md5').update(t).digest('hex');
    case 'sha1':
      return (t) => createHash('sha1').update(t).digest('hex');
    case 'sha3':
      return (t) => createHash('sha3-256').update(t).digest('hex');
    case 'hmac-sha256':
    case 'hmac-sha512': {
      const alg = hf === 'hmac-sha256' ? 'sha256' : 'sha512';
      const key = Buffer.from(cfg.hmac_key, 'utf8');
      return (t) => createHmac(alg, key).update(t).digest('hex');
    }
  }
}

/**
 * A two-way set-associative table of byte strings of up to `stride` bytes: a
 * pair of slots is chosen from the length and sampled bytes (five words, see
 * has()), each slot
 * holds the last string put there, and a new string replaces the one of the
 * pair used least recently. A lookup is one hash and at most two compares, and
 * nothing grows. Two ways because sampled bytes collide: on
 * redaction.bench.ts's data "url.full" and "k8s.pod.name" share a pair, and
 * with one slot each of them missed on every span, paying a decode and a key
 * classification each time.
 */
class ByteSlots {
  private readonly len: Int32Array;
  private readonly bytes: Uint8Array;
  /** The slot of the last has() (-1: the string is too long for the table); put() writes there. */
  slot = -1;
  private readonly slotView: DataView;
  /** Per pair of slots, the hash of the bytes that last missed it (putSeen). */
  private readonly seen: Int32Array;
  /** Per pair of slots, the way (0 or 1) hit or filled last. */
  private readonly mru: Uint8Array;
  /** The buffer of the last lookup and a DataView over it. */
  private src: Uint8Array | undefined;
  private srcView: DataView | undefined;

  constructor(
    private readonly slots: number,
    private readonly stride: number,
  ) {
    this.len = new Int32Array(slots).fill(-1);
    this.seen = new Int32Array(slots >> 1);
    this.mru = new Uint8Array(slots >> 1);
    this.bytes = new Uint8Array(slots * stride);
    this.slotView = new DataView(this.bytes.buffer);
  }

  /** True when buf[start, end) is the string in one of its pair's slots (`slot` is then that slot, else the one put() replaces). */
  has(buf: Uint8Array, start: number, end: number): boolean {
    const n = end - start;
    if (n > this.stride) {
      this.slot = -1;
      return false;
    }
    if (buf !== this.src) this.view(buf);
    let h: number;
    if (n >= 8) {
      // Five words: both ends, and at a quarter, half and three quarters. Values
      // that differ in one character (backend-3.svc, worker-12, a pod name's
      // suffix) then rarely share a pair; four sampled bytes put such families
      // in one pair, where they evicted each other on every span.
      const dv = this.srcView!;
      h = Math.imul(n ^ dv.getInt32(start, true), 0x9e3779b1);
      h = Math.imul(h ^ (h >>> 15) ^ dv.getInt32(start + (n >> 2), true), 0x85ebca6b);
      h = Math.imul(h ^ (h >>> 13) ^ dv.getInt32(start + (n >> 1) - 2, true), 0xc2b2ae35);
      h = Math.imul(h ^ (h >>> 16) ^ dv.getInt32(start + ((n * 3) >> 2) - 4, true), 0x27d4eb2f);
      h = Math.imul(h ^ (h >>> 15) ^ dv.getInt32(end - 4, true), 0x165667b1);
      h ^= h >>> 16;
    } else h = n === 0 ? 0 : Math.imul(n, 0x9e3779b1) ^ Math.imul(buf[start]!, 31) ^ Math.imul(buf[start + (n >> 1)]!, 131) ^ Math.imul(buf[end - 1]!, 524287);
    const s0 = h & (this.slots - 2);
    const len = this.len;
    if (len[s0] === n || len[s0 + 1] === n) {
      if (len[s0] === n && equalBytes(this.bytes, this.slotView, s0 * this.stride, buf, this.srcView!, start, n)) {
        this.slot = s0;
        this.mru[s0 >> 1] = 0;
        return true;
      }
      if (len[s0 + 1] === n && equalBytes(this.bytes, this.slotView, (s0 + 1) * this.stride, buf, this.srcView!, start, n)) {
        this.slot = s0 + 1;
        this.mru[s0 >> 1] = 1;
        return true;
      }
    }
    this.slot = len[s0] === -1 ? s0 : len[s0 + 1] === -1 ? s0 + 1 : s0 + 1 - this.mru[s0 >> 1]!;
    return false;
  }

  /** A DataView over `buf`, made once per buffer looked up in (a request's bytes). */
  private view(buf: Uint8Array): void {
    this.src = buf;
    this.srcView = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /**
   * put(), but only when the same bytes missed this slot just before: a
   * value seen once (an id, a timestamped URL) is not copied in, and does not
   * evict a repeated one. The test is a hash of every byte, taken only here
   * (after a miss); has() hashes sampled bytes. Four bytes a step, not
   * routing/ring.ts's hashBytes (a byte loop): on redaction.bench.ts's benign
   * data the byte loop's minimum was 3.94-4.38 µs per span against 3.92-4.10.
   */
  putSeen(buf: Uint8Array, start: number, end: number): void {
    const slot = this.slot;
    if (slot < 0) return;
    if (buf !== this.src) this.view(buf);
    const dv = this.srcView!;
    const n = end - start;
    const n4 = n & ~3;
    let h = n | 0;
    let i = 0;
    for (; i < n4; i += 4) h = Math.imul(h ^ dv.getInt32(start + i), 0x9e3779b1) ^ (h >>> 15);
    for (; i < n; i++) h = Math.imul(h ^ buf[start + i]!, 0x85ebca6b) ^ (h >>> 13);
    if (this.seen[slot >> 1] !== h) {
      this.seen[slot >> 1] = h;
      this.slot = -1;
      return;
    }
    this.put(buf, start, end);
  }

  /** Stores buf[start, end) in the slot of the last has() of the same bytes. */
  put(buf: Uint8Array, start: number, end: number): void {
    const slot = this.slot;
    if (slot < 0) return;
    this.slot = -1;
    const n = end - start;
    const b = this.bytes;
    const base = slot * this.stride;
    for (let i = 0; i < n; i++) b[base + i] = buf[start + i]!;
    this.len[slot] = n;
    this.mru[slot >> 1] = slot & 1;
  }
}

export class Redactor {
  private readonly allowAll: boolean;
  private readonly allowed: ReadonlySet<string>;
  private readonly ignored: ReadonlySet<string>;
  private readonly blockedKeys: RegExp[];
  private readonly blockedValues: RegExp[];
  private readonly allowedValues: RegExp[];
  private readonly redactAllTypes: boolean;
  private readonly summaryLevel: number;
  private readonly hash: Hasher | undefined;
  private readonly engine: DetectorEngine;
  private readonly sensitiveKeys: boolean;
  private readonly keyCache = new Map<string, number>();
  private readonly keySlots = new ByteSlots(KEY_SLOTS, KEY_STRIDE);
  private readonly keyCls = new Uint8Array(KEY_SLOTS);
  private readonly cleanSlots = new ByteSlots(VALUE_SLOTS, VALUE_STRIDE);
  private readonly cleanKvs = new ByteSlots(KV_SLOTS, KV_STRIDE);
  private readonly clean: string[];
  private readonly cleanMaxLen: number;
  private readonly masks: string[];
  /** Hits by rule x place since the last drain. */
  private readonly counts = new Float64Array(RULES.length * NPLACES);
  private countsDirty = false;
  private place = 0;
  private readonly maskFn: MaskFn;
  private readonly fixedMask: (m: string) => string;
  /** One summary reused for every item (items are processed one at a time). */
  private readonly sum = new Summary();
  private readonly bodySum = new Summary();

  /** `opts.cleanMaxLen`: longest value remembered as clean (0 turns the table off; benchmarks). */
  constructor(cfg: RedactionConfig, opts: { cleanMaxLen?: number } = {}) {
    this.cleanMaxLen = opts.cleanMaxLen ?? CLEAN_MAX_LEN;
    this.clean = new Array<string>(CLEAN_SLOTS).fill('');
    this.allowAll = cfg.allow_all_keys;
    this.allowed = new Set(cfg.allowed_keys);
    this.ignored = new Set(cfg.ignored_keys);
    this.blockedKeys = cfg.blocked_key_patterns.map((r) => compileGoRegex(r));
    this.blockedValues = cfg.blocked_values.map((r) => compileGoRegex(r, 'g'));
    this.allowedValues = cfg.allowed_values.map((r) => compileGoRegex(r));
    this.redactAllTypes = cfg.redact_all_types;
    this.summaryLevel = cfg.summary === 'debug' ? SUMMARY_DEBUG : cfg.summary === 'info' ? SUMMARY_INFO : SUMMARY_SILENT;
    this.hash = makeHasher(cfg);
    const detectors = resolveDetectors(cfg);
    this.sensitiveKeys = detectors.includes('sensitive_key');
    this.engine = new DetectorEngine({ detectors, pathRoots: cfg.path_roots });
    this.masks = DETECTORS.map((d) => `[REDACTED:${d}]`);
    const hash = this.hash;
    this.maskFn = (det, text) => {
      if (this.allowedValues.length > 0 && this.isAllowedValue(text)) return undefined;
      this.count(det);
      return hash ? `[REDACTED:${DETECTORS[det]}:${hash(text)}]` : this.masks[det]!;
    };
    this.fixedMask = hash ? (m) => hash(m) : () => MASK_FIXED;
  }

  get summaryEnabled(): boolean {
    return this.summaryLevel !== SUMMARY_SILENT;
  }

  /** Sets the place that following hits are counted under. */
  at(place: number): this {
    this.place = place;
    return this;
  }

  private count(rule: number): void {
    this.counts[rule * NPLACES + this.place]! += 1;
    this.countsDirty = true;
    this.hitCount++;
  }

  /** Hits counted so far, all rules and places (never reset: a walk compares it before and after a part). */
  hitCount = 0;

  /** Hands out and clears the hit counts. */
  drain(fn: (rule: Rule, place: Place, n: number) => void): void {
    if (!this.countsDirty) return;
    const c = this.counts;
    for (let i = 0; i < c.length; i++) {
      if (c[i]! > 0) {
        fn(RULES[Math.floor(i / NPLACES)]!, PLACES[i % NPLACES]!, c[i]!);
        c[i] = 0;
      }
    }
    this.countsDirty = false;
  }

  private isAllowedValue(v: string): boolean {
    const av = this.allowedValues;
    for (let i = 0; i < av.length; i++) if (av[i]!.test(v)) return true;
    return false;
  }

  /** True when value rules can change a string only through the detectors (no blocked_values). */
  get detectorsOnly(): boolean {
    return this.blockedValues.length === 0;
  }

  get allTypes(): boolean {
    return this.redactAllTypes;
  }

  get hasAllowedValues(): boolean {
    return this.allowedValues.length > 0;
  }

  /** The detector engine's byte prefilter: 0 when a string's UTF-8 bytes cannot hold a detector hit. */
  candidatesBytes(buf: Uint8Array, start: number, end: number): number {
    return this.engine.candidatesBytes(buf, start, end);
  }

  /** Forgets the hits counted since the last drain (a walk that is redone another way). */
  discardCounts(): void {
    this.counts.fill(0);
    this.countsDirty = false;
  }

  /** Counts an attribute removed by allowed_keys. */
  countRemoved(): void {
    this.count(R_ALLOWED_KEYS);
  }

  /**
   * True when the value bytes buf[start, end) were seen clean before (the
   * value rules leave them as they are). On false, the slot is remembered for
   * rememberClean() of the same bytes.
   */
  knownClean(buf: Uint8Array, start: number, end: number): boolean {
    return this.lookUp(this.cleanSlots, buf, start, end);
  }

  /**
   * True when the KeyValue body buf[start, end) was seen before and the rules
   * left it unchanged, nothing counted.
   */
  knownCleanKv(buf: Uint8Array, start: number, end: number): boolean {
    return this.lookUp(this.cleanKvs, buf, start, end);
  }

  /** Records a KeyValue body that knownCleanKv() did not find as one the rules leave as it is. */
  rememberCleanKv(buf: Uint8Array, start: number, end: number): void {
    // Looked up again: the attributes of a kvlist value, in between, used the table too.
    if (!this.lookUp(this.cleanKvs, buf, start, end)) this.cleanKvs.putSeen(buf, start, end);
  }

  /** has() of a clean table, always a miss (with no slot to put in) when the tables are off. */
  private lookUp(t: ByteSlots, buf: Uint8Array, start: number, end: number): boolean {
    if (this.cleanMaxLen === 0) {
      t.slot = -1;
      return false;
    }
    return t.has(buf, start, end);
  }

  /** Records the bytes last looked up by knownClean() as clean. */
  rememberClean(buf: Uint8Array, start: number, end: number): void {
    this.cleanSlots.putSeen(buf, start, end);
  }

  /** The key table's slot of the key last classed by keyClassBytes() (-1: too long for the table). */
  keySlot = -1;

  /** The class (K_*) of the key whose UTF-8 bytes are buf[start, end). */
  keyClassBytes(buf: Uint8Array, start: number, end: number): number {
    const t = this.keySlots;
    if (t.has(buf, start, end)) {
      this.keySlot = t.slot;
      return this.keyCls[t.slot]!;
    }
    const c = this.keyClass(utf8Read(buf, start, end));
    const slot = t.slot;
    this.keySlot = slot;
    if (slot >= 0) {
      t.put(buf, start, end);
      this.keyCls[slot] = c;
    }
    return c;
  }

  /**
   * The rules for a string attribute value under a key of class `cls`
   * (K_NORMAL, K_MASK_BLOCKED, K_MASK_SENSITIVE), as processAttributes applies
   * them: the new value, or undefined when it stays. Hits are counted.
   */
  entryString(cls: number, s: string): string | undefined {
    if (this.allowedValues.length > 0 && this.isAllowedValue(s)) return undefined;
    if (cls === K_MASK_BLOCKED || (cls === K_MASK_SENSITIVE && s !== '')) return this.keyMask(cls, s);
    if (cls === K_MASK_SENSITIVE) return undefined;
    return this.maskString(s);
  }

  /** The whole-value mask of a blocked (K_MASK_BLOCKED) or sensitive (K_MASK_SENSITIVE) key over `text`; counted. */
  private keyMask(cls: number, text: string): string {
    if (cls === K_MASK_BLOCKED) {
      this.count(R_BLOCKED_KEYS);
      return this.fixedMask(text);
    }
    this.count(R_SENSITIVE);
    return this.hash ? `[REDACTED:sensitive_key:${this.hash(text)}]` : this.masks[R_SENSITIVE]!;
  }

  private keyClass(k: string): number {
    let c = this.keyCache.get(k);
    if (c !== undefined) return c;
    if (this.ignored.has(k)) c = K_IGNORED;
    else if (!this.allowAll && !this.allowed.has(k)) c = K_REMOVED;
    else if (this.blockedKeys.some((re) => re.test(k))) c = K_MASK_BLOCKED;
    else if (this.sensitiveKeys && isSensitiveKey(k)) c = K_MASK_SENSITIVE;
    else c = K_NORMAL;
    if (this.keyCache.size >= KEY_CACHE_MAX) this.keyCache.clear();
    this.keyCache.set(k, c);
    return c;
  }

  /**
   * Value rules for a string: allowed_values, blocked_values, detectors.
   * Returns the new string, or undefined when nothing changed.
   * Hits are counted under the current place.
   */
  redactString(s: string): string | undefined {
    if (this.allowedValues.length > 0 && this.isAllowedValue(s)) return undefined;
    return this.maskString(s);
  }

  /**
   * redactString() for a string whose detector candidates `cand` came from
   * its bytes (candidatesBytes), without blocked_values: the string is not
   * prefiltered a second time.
   */
  redactCandidates(s: string, cand: number): string | undefined {
    if (this.allowedValues.length > 0 && this.isAllowedValue(s)) return undefined;
    if (this.blockedValues.length > 0) return this.maskString(s);
    return this.engine.redactWith(s, cand, this.maskFn);
  }

  /** blocked_values then detectors (allowed_values already checked). */
  private maskString(s: string): string | undefined {
    const n = s.length;
    if (n > this.cleanMaxLen || n === 0) return this.maskUncached(s);
    const slot = (Math.imul(n, 0x9e3779b1) ^ Math.imul(s.charCodeAt(0), 31) ^ Math.imul(s.charCodeAt(n >> 1), 131) ^ Math.imul(s.charCodeAt((n * 3) >> 2), 8191) ^ Math.imul(s.charCodeAt(n - 1), 524287)) & (CLEAN_SLOTS - 1);
    if (this.clean[slot] === s) return undefined;
    const r = this.maskUncached(s);
    if (r === undefined) this.clean[slot] = s;
    return r;
  }

  private maskUncached(s: string): string | undefined {
    let cur = s;
    let changed = false;
    const bv = this.blockedValues;
    for (let i = 0; i < bv.length; i++) {
      const r = goReplaceAll(bv[i]!, cur, this.fixedMask);
      if (r.n > 0) {
        cur = r.out;
        changed = true;
        for (let k = 0; k < r.n; k++) this.count(R_BLOCKED_VALUES);
      }
    }
    const d = this.engine.redact(cur, this.maskFn);
    if (d !== undefined) return d;
    return changed ? cur : undefined;
  }

  /**
   * Applies the key and value rules to an attribute map in place. With
   * `leaves`, summary entries name every nested leaf (log bodies, as the
   * Collector does); otherwise they name the attribute. Returns true when
   * anything changed.
   */
  processAttributes(attrs: KeyValue[], sum: Summary | undefined, prefix = '', leaves = false): boolean {
    let changed = false;
    let w = 0;
    const n = attrs.length;
    for (let i = 0; i < n; i++) {
      const kv = attrs[i]!;
      const cls = this.keyClass(kv.key);
      if (cls === K_REMOVED) {
        this.count(R_ALLOWED_KEYS);
        if (sum) sum.redacted.push(prefix + kv.key);
        changed = true;
        continue; // dropped
      }
      attrs[w++] = kv;
      if (cls === K_IGNORED) {
        if (sum) sum.ignored++;
        continue;
      }
      if (this.processEntry(kv, cls, sum, prefix, leaves)) changed = true;
    }
    if (w !== n) attrs.length = w;
    return changed;
  }

  private processEntry(kv: KeyValue, cls: number, sum: Summary | undefined, prefix: string, leaves: boolean): boolean {
    const v = kv.value;
    const scalarString = v.type === 'string' ? v.value : this.redactAllTypes && v.type !== 'array' && v.type !== 'kvlist' ? asString(v) : undefined;
    if (scalarString !== undefined) {
      const r = this.entryString(cls, scalarString);
      if (r !== undefined) kv.value = str(r);
      if (sum) (r !== undefined ? sum.masked : sum.allowed).push(prefix + kv.key);
      return r !== undefined;
    }
    if (cls === K_MASK_BLOCKED || (cls === K_MASK_SENSITIVE && v.type !== 'empty')) {
      if (sum) sum.masked.push(prefix + kv.key);
      kv.value = str(this.keyMask(cls, asString(v)));
      return true;
    }
    if (cls === K_MASK_SENSITIVE) {
      if (sum) sum.allowed.push(prefix + kv.key);
      return false;
    }
    if (v.type === 'kvlist') {
      const before = sum ? sum.masked.length + sum.redacted.length : 0;
      const ch = this.processAttributes(v.value, sum, `${prefix}${kv.key}.`, leaves);
      if (sum && !leaves && sum.masked.length + sum.redacted.length === before) sum.allowed.push(prefix + kv.key);
      return ch;
    }
    if (v.type === 'array') {
      if (leaves) return this.processArray(v.value, sum, `${prefix}${kv.key}`, true);
      const ch = this.processArray(v.value, undefined, '', false);
      if (sum) (ch ? sum.masked : sum.allowed).push(prefix + kv.key);
      return ch;
    }
    // A non-string scalar without redact_all_types: not checked.
    if (sum) sum.allowed.push(prefix + kv.key);
    return false;
  }

  private processArray(arr: AnyValue[], sum: Summary | undefined, path: string, leaves: boolean): boolean {
    let changed = false;
    for (let i = 0; i < arr.length; i++) {
      const r = this.processValue(arr[i]!, sum, `${path}.[${i}]`, leaves);
      if (r !== undefined) {
        arr[i] = r;
        changed = true;
      }
    }
    return changed;
  }

  /**
   * Any value not under a key of its own (array elements, a log body): strings
   * and (with redact_all_types) scalars through the value rules, maps through
   * the attribute rules. Returns the replacement value (the same object for a
   * changed map or array), or undefined when unchanged.
   */
  processValue(v: AnyValue, sum: Summary | undefined, path: string, leaves: boolean): AnyValue | undefined {
    switch (v.type) {
      case 'kvlist':
        return this.processAttributes(v.value, sum, path === '' ? '' : `${path}.`, leaves) ? v : undefined;
      case 'array':
        return this.processArray(v.value, sum, path, leaves) ? v : undefined;
      case 'string': {
        const r = this.redactString(v.value);
        if (sum && leaves) (r !== undefined ? sum.masked : sum.allowed).push(path);
        return r === undefined ? undefined : str(r);
      }
      case 'empty':
        return undefined;
      default: {
        if (!this.redactAllTypes) {
          if (sum && leaves) sum.allowed.push(path);
          return undefined;
        }
        const r = this.redactString(asString(v));
        if (sum && leaves) (r !== undefined ? sum.masked : sum.allowed).push(path);
        return r === undefined ? undefined : str(r);
      }
    }
  }

  /** The reusable summary for an item's attributes, or undefined when summary is silent. */
  itemSummary(): Summary | undefined {
    if (this.summaryLevel === SUMMARY_SILENT) return undefined;
    this.sum.reset();
    return this.sum;
  }

  bodySummary(): Summary | undefined {
    if (this.summaryLevel === SUMMARY_SILENT) return undefined;
    this.bodySum.reset();
    return this.bodySum;
  }

  /**
   * Writes the summary attributes (`redaction.redacted.keys`, ...; with
   * `prefix` "redaction.body." for log bodies) as the Collector does: keys
   * sorted and merged with any existing list at debug, counts added to any
   * existing count at info and debug, nothing for empty lists. Returns true
   * when attributes were written.
   */
  writeSummary(attrs: KeyValue[], sum: Summary, prefix = 'redaction.'): boolean {
    if (this.summaryLevel === SUMMARY_SILENT) return false;
    let w = this.meta(attrs, sum.redacted, `${prefix}redacted.keys`, `${prefix}redacted.count`);
    w = this.meta(attrs, sum.masked, `${prefix}masked.keys`, `${prefix}masked.count`) || w;
    w = this.meta(attrs, sum.allowed, `${prefix}allowed.keys`, `${prefix}allowed.count`) || w;
    if (sum.ignored > 0) {
      putInt(attrs, `${prefix}ignored.count`, BigInt(sum.ignored) + existingInt(attrs, `${prefix}ignored.count`));
      w = true;
    }
    return w;
  }

  private meta(attrs: KeyValue[], keys: string[], keysAttr: string, countAttr: string): boolean {
    if (keys.length === 0) return false;
    if (this.summaryLevel === SUMMARY_DEBUG) {
      const all = [...keys];
      const existing = find(attrs, keysAttr);
      if (existing && existing.value.type === 'string' && existing.value.value !== '') all.push(...existing.value.value.split(','));
      all.sort();
      putString(attrs, keysAttr, all.join(','));
    }
    putInt(attrs, countAttr, BigInt(keys.length) + existingInt(attrs, countAttr));
    return true;
  }
}

function find(attrs: KeyValue[], key: string): KeyValue | undefined {
  for (const kv of attrs) if (kv.key === key) return kv;
  return undefined;
}

function existingInt(attrs: KeyValue[], key: string): bigint {
  const kv = find(attrs, key);
  return kv && kv.value.type === 'int' ? kv.value.value : 0n;
}

function putString(attrs: KeyValue[], key: string, value: string): void {
  const kv = find(attrs, key);
  if (kv) kv.value = str(value);
  else attrs.push({ key, value: str(value) });
}

function putInt(attrs: KeyValue[], key: string, value: bigint): void {
  const kv = find(attrs, key);
  if (kv) kv.value = { type: 'int', value };
  else attrs.push({ key, value: { type: 'int', value } });
}
