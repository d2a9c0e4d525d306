// Redaction on the wire bytes of an OTLP request.
//
// The walk visits every place the model walk in processor.ts covers, in the
// same order, and applies the Redactor's rules to strings where they lie: a
// key's class comes from a byte-keyed cache, and a value whose bytes cannot
// hold a detector hit (the byte prefilter, a superset of the string one) is
// never decoded. A request without a hit comes back as the very bytes it
// arrived in. A hit is spliced: the string field is replaced by its masked
// form, a removed attribute's field is cut out, and the splicer fixes every
// enclosing length. Fields the walk does not look at, unknown ones included,
// are carried over byte for byte.
//
// A few shapes have merge semantics on decode that an edit in place cannot
// reproduce exactly: a KeyValue with two key or two value fields, an AnyValue
// with two members of its oneof, a log record with two bodies, and the rules
// that need a non-string value's string form (redact_all_types, a masked key
// whose value is not a string). Such a request is redone on the decoded model
// (the walk throws BAIL and its counts are discarded), so the result is always
// what the model walk gives. The summary modes also use the model walk: their
// per-item attributes are written from key lists.
import { utf8Read, WT_LEN } from '../../pdata/proto/reader.js';
import type { Signal } from '../../pdata/model.js';
import { putVarint32 } from '../../pdata/wire/splice.js';
import { WireWalker } from '../../pdata/wire/walker.js';
import { K_IGNORED, K_MASK_BLOCKED, K_MASK_SENSITIVE, K_NORMAL, K_REMOVED, KEY_SLOTS, PLACE, PLACES, type Redactor } from './redactor.js';

const BAIL: unique symbol = Symbol('redo on the model');
const textEncoder = new TextEncoder();

const P_RESOURCE = PLACE.resource_attribute;
const P_SCOPE = PLACE.scope_attribute;
const P_SPAN_NAME = PLACE.span_name;
const P_SPAN_ATTR = PLACE.span_attribute;
const P_STATUS = PLACE.span_status_message;
const P_EVENT_NAME = PLACE.span_event_name;
const P_EVENT_ATTR = PLACE.span_event_attribute;
const P_LINK_ATTR = PLACE.span_link_attribute;
const P_LOG_BODY = PLACE.log_body;
const P_LOG_ATTR = PLACE.log_attribute;
const P_LOG_EVENT = PLACE.log_event_name;
const P_METADATA = PLACE.metric_metadata;
const P_DP_ATTR = PLACE.datapoint_attribute;
const P_EXEMPLAR_ATTR = PLACE.exemplar_attribute;

// AnyValue members.
const AV_STRING = 0x0a;
const AV_ARRAY = 0x2a;
const AV_KVLIST = 0x32;

/**
 * Values of one key (or one place outside attribute maps) that have missed
 * the clean-value table this many times in a row go to the prefilter first
 * (an id, a URL with one in it): a miss costs a lookup and a hash of the
 * bytes on top of the prefilter. When its count reaches PROBE_AFTER such a
 * key tries the table again for four values, so a key whose values start to
 * repeat comes back to it. Streams: a key's table slot, then one per place, then
 * one for keys too long for the key table.
 */
const MISS_LIMIT = 16;
const PROBE_AFTER = 255;
const STREAM_PLACE = KEY_SLOTS;
/** The attribute table's window, least share of hits (one in KV_MIN_HITS) and rest (see WireRedactor.kvWindow). */
const KV_WINDOW = 512;
const KV_MIN_HITS = 8;
const KV_REST = 8192;
const STREAM_LONG_KEY = KEY_SLOTS + PLACES.length;

export class WireRedactor {
  private readonly w = new WireWalker();
  private readonly fast: boolean;
  /** Per stream (see MISS_LIMIT): table misses in a row, up to PROBE_AFTER. */
  private readonly misses = new Uint8Array(STREAM_LONG_KEY + 1);
  /** The stream of the value being looked at. */
  private stream = STREAM_LONG_KEY;

  constructor(private readonly r: Redactor) {
    // Without blocked_values a string changes only through a detector hit, so
    // the byte prefilter alone can clear it.
    this.fast = r.detectorsOnly;
  }

  /**
   * Redacts an Export<Signal>ServiceRequest. Returns `buf` itself when nothing
   * changed, new bytes when something was masked or removed, or undefined when
   * the request has to be redacted on the decoded model instead (see above).
   * Hits are counted on the Redactor as the model walk counts them.
   */
  run(signal: Signal, buf: Uint8Array): Uint8Array | undefined {
    const w = this.w.begin(buf);
    try {
      const end = w.len;
      while (w.pos < end) {
        const tag = w.tag();
        if (tag === 0x0a) {
          const e = w.enter(end);
          this.level(signal, e, false);
          w.leave();
        } else w.skip(tag, end);
      }
    } catch (err) {
      if (err === BAIL) {
        this.r.discardCounts();
        return undefined;
      }
      throw err;
    }
    return w.finish();
  }

  /**
   * A ResourceX message (`inScope` false: its Resource, then its ScopeX
   * messages) or a ScopeX message (`inScope` true: its scope, then its items).
   * Both keep the envelope's shape: field 1 the resource or scope, field 2 the
   * next level.
   */
  private level(signal: Signal, end: number, inScope: boolean): void {
    const w = this.w;
    while (w.pos < end) {
      const tag = w.tag();
      if (tag === 0x0a) {
        const e = w.enter(end);
        if (inScope) this.attrsIn(e, 0x1a, P_SCOPE);
        else this.attrsIn(e, 0x0a, P_RESOURCE);
        w.leave();
      } else if (tag === 0x12) {
        const e = w.enter(end);
        if (!inScope) this.level(signal, e, true);
        else if (signal === 'traces') this.span(e);
        else if (signal === 'logs') this.logRecord(e);
        else this.metric(e);
        w.leave();
      } else w.skip(tag, end);
    }
  }

  /** The attribute fields of tag `attrTag` in a message ending at `end` (other fields skipped). */
  private attrsIn(end: number, attrTag: number, place: number): void {
    const w = this.w;
    this.r.at(place);
    while (w.pos < end) {
      const at = w.pos;
      const tag = w.tag();
      if (tag === attrTag) this.kv(at, end);
      else w.skip(tag, end);
    }
  }

  private span(end: number): void {
    const w = this.w;
    while (w.pos < end) {
      const at = w.pos;
      const tag = w.tag();
      switch (tag) {
        case 0x2a:
          this.str(at, tag, end, P_SPAN_NAME);
          break;
        case 0x4a:
          this.r.at(P_SPAN_ATTR);
          this.kv(at, end);
          break;
        case 0x5a: {
          const e = w.enter(end);
          while (w.pos < e) {
            const at2 = w.pos;
            const t = w.tag();
            if (t === 0x12) this.str(at2, t, e, P_EVENT_NAME);
            else if (t === 0x1a) {
              this.r.at(P_EVENT_ATTR);
              this.kv(at2, e);
            } else w.skip(t, e);
          }
          w.leave();
          break;
        }
        case 0x6a: {
          const e = w.enter(end);
          this.attrsIn(e, 0x22, P_LINK_ATTR);
          w.leave();
          break;
        }
        case 0x7a: {
          const e = w.enter(end);
          while (w.pos < e) {
            const at2 = w.pos;
            const t = w.tag();
            if (t === 0x12) this.str(at2, t, e, P_STATUS);
            else w.skip(t, e);
          }
          w.leave();
          break;
        }
        default:
          w.skip(tag, end);
      }
    }
  }

  private logRecord(end: number): void {
    const w = this.w;
    let bodies = 0;
    while (w.pos < end) {
      const at = w.pos;
      const tag = w.tag();
      switch (tag) {
        case 0x32:
          this.r.at(P_LOG_ATTR);
          this.kv(at, end);
          break;
        case 0x2a:
          // Two bodies merge on decode; an edit of each cannot say what the merge gives.
          if (++bodies > 1) throw BAIL;
          this.r.at(P_LOG_BODY);
          this.stream = STREAM_PLACE + P_LOG_BODY;
          this.value(end);
          break;
        case 0x62:
          this.str(at, tag, end, P_LOG_EVENT);
          break;
        default:
          w.skip(tag, end);
      }
    }
  }

  private metric(end: number): void {
    const w = this.w;
    while (w.pos < end) {
      const at = w.pos;
      const tag = w.tag();
      switch (tag) {
        case 0x62:
          this.r.at(P_METADATA);
          this.kv(at, end);
          break;
        case 0x2a: // gauge
        case 0x3a: // sum
          this.dataPoints(end, 0x3a, 0x2a);
          break;
        case 0x4a: // histogram
          this.dataPoints(end, 0x4a, 0x42);
          break;
        case 0x52: // exponential histogram
          this.dataPoints(end, 0x0a, 0x5a);
          break;
        case 0x5a: // summary
          this.dataPoints(end, 0x3a, 0);
          break;
        default:
          w.skip(tag, end);
      }
    }
  }

  /** A metric's data message: its data points (field 1) with their attribute and exemplar tags. */
  private dataPoints(end: number, attrTag: number, exemplarTag: number): void {
    const w = this.w;
    const e = w.enter(end);
    while (w.pos < e) {
      const tag = w.tag();
      if (tag === 0x0a) {
        const pe = w.enter(e);
        while (w.pos < pe) {
          const at = w.pos;
          const t = w.tag();
          if (t === attrTag) {
            this.r.at(P_DP_ATTR);
            this.kv(at, pe);
          } else if (t === exemplarTag && exemplarTag !== 0) {
            const xe = w.enter(pe);
            this.attrsIn(xe, 0x3a, P_EXEMPLAR_ATTR);
            w.leave();
          } else w.skip(t, pe);
        }
        w.leave();
      } else w.skip(tag, e);
    }
    w.leave();
  }

  /**
   * A string field outside an attribute map (span, event and log event names,
   * status messages): the value rules, and the field replaced when it changes.
   * `at` is the field's tag position; the walk is just past the tag.
   */
  private str(at: number, tag: number, end: number, place: number): void {
    const w = this.w;
    w.lenField(end);
    const s = w.valueStart;
    const e = w.pos;
    if (e === s) return;
    this.r.at(place);
    this.stream = STREAM_PLACE + place;
    this.redactField(at, s, e, tag);
  }

  /**
   * The value rules (redactString) for the string bytes buf[s, e) of a field
   * `tag` at `at`: skipped when clean() clears them, else decoded and scanned;
   * a changed string replaces the field, an unchanged one is remembered clean.
   */
  private redactField(at: number, s: number, e: number, tag: number): void {
    const buf = this.w.buf;
    if (this.clean(buf, s, e)) return;
    const out = this.scan(buf, s, e);
    if (out !== undefined) this.putString(at, e, tag, out);
    else this.r.rememberClean(buf, s, e);
  }

  /**
   * One KeyValue field, walk just past its tag at `at`: the key's class, then
   * the value rules. A removed attribute's whole field is cut.
   */
  private kv(at: number, end: number): void {
    const w = this.w;
    const buf = w.buf;
    const e = w.enter(end);
    const r = this.r;
    const bs = w.pos;
    if (this.kvSkip > 0) {
      this.kvSkip--;
      this.kvFields(at, e, buf);
      return;
    }
    const known = r.knownCleanKv(buf, bs, e);
    if (known) this.kvHits++;
    if (++this.kvLooked === KV_WINDOW) this.kvWindow();
    if (known) {
      w.pos = e;
      w.leave();
      return;
    }
    const edits = w.sp.edits;
    const counted = r.hitCount;
    const cls = this.kvFields(at, e, buf);
    // Unchanged and nothing counted: the same bytes anywhere get the same rules.
    // Not for a key whose values keep missing the value table (ids, URLs with
    // one in them): their attributes would not repeat either, and hashing each
    // one whole for the table's admission test was 10% of a clean request.
    if ((cls === K_NORMAL || cls === K_IGNORED) && w.sp.edits === edits && r.hitCount === counted && this.misses[this.stream]! < MISS_LIMIT) r.rememberCleanKv(buf, bs, e);
  }

  // The attribute table's hit rate, per window of KV_WINDOW lookups: traffic
  // whose attributes do not repeat (an id in every value) would pay a lookup
  // and a miss per attribute, so below one hit in KV_MIN_HITS the table rests
  // for KV_REST attributes, then is tried again. Measured on bench/e2e.ts's
  // values (every one unique), redaction alone, four alternating runs: best
  // 3.19-3.48 µs per span resting, 3.35-3.50 looking each one up.
  private kvLooked = 0;
  private kvHits = 0;
  private kvSkip = 0;

  private kvWindow(): void {
    if (this.kvHits * KV_MIN_HITS < KV_WINDOW) this.kvSkip = KV_REST;
    this.kvLooked = 0;
    this.kvHits = 0;
  }

  /**
   * kv() for a KeyValue not in the clean table: its fields (walk at the
   * body's start, the body ending at `e`), left with w.leave(). Returns the
   * key's class.
   */
  private kvFields(at: number, e: number, buf: Uint8Array): number {
    const w = this.w;
    let ks = -1;
    let ke = -1;
    let vp = -1;
    while (w.pos < e) {
      const tag = w.tag();
      if (tag === 0x0a) {
        if (ks >= 0) throw BAIL;
        w.lenField(e);
        ks = w.valueStart;
        ke = w.pos;
      } else if (tag === 0x12) {
        if (vp >= 0) throw BAIL;
        vp = w.pos;
        w.lenField(e);
      } else w.skip(tag, e);
    }
    const r = this.r;
    const cls = ks < 0 ? r.keyClassBytes(buf, 0, 0) : r.keyClassBytes(buf, ks, ke);
    this.stream = r.keySlot < 0 ? STREAM_LONG_KEY : r.keySlot;
    if (cls === K_IGNORED) {
      w.leave();
      return cls;
    }
    if (cls === K_REMOVED) {
      w.leave();
      r.countRemoved();
      w.sp.remove(at, e);
      return cls;
    }
    if (vp < 0) {
      // An empty value: a masked key still gets its mask (the model's rules).
      if (cls === K_MASK_BLOCKED || r.allTypes) throw BAIL;
      w.leave();
      return cls;
    }
    w.pos = vp;
    this.entryValue(cls, e);
    w.pos = e;
    w.leave();
    return cls;
  }

  /** An attribute's AnyValue field (walk at its length prefix) under a key of class `cls`. */
  private entryValue(cls: number, end: number): void {
    const w = this.w;
    const ve = w.enter(end);
    const kind = this.member(ve);
    const ms = this.mStart;
    const me = this.mEnd;
    const mAt = this.mAt;
    if (kind === AV_STRING) {
      if (cls === K_NORMAL) this.redactField(mAt, ms, me, AV_STRING);
      else {
        const out = this.r.entryString(cls, utf8Read(w.buf, ms, me));
        if (out !== undefined) this.putString(mAt, me, AV_STRING, out);
      }
    } else if (kind === 0) {
      // empty: the sensitive-key rule keeps it, a blocked key would mask its string form.
      if (cls === K_MASK_BLOCKED || this.r.allTypes) throw BAIL;
    } else if (cls === K_MASK_BLOCKED || cls === K_MASK_SENSITIVE) {
      throw BAIL;
    } else if (kind === AV_KVLIST) {
      this.kvlist(mAt, ve);
    } else if (kind === AV_ARRAY) {
      this.array(mAt, ve);
    } else if (this.r.allTypes) {
      throw BAIL;
    }
    w.pos = ve;
    w.leave();
  }

  /** A value not under a key of its own (array elements, log bodies); walk at its length prefix. */
  private value(end: number): void {
    const w = this.w;
    const ve = w.enter(end);
    const kind = this.member(ve);
    const ms = this.mStart;
    const me = this.mEnd;
    const mAt = this.mAt;
    if (kind === AV_STRING) {
      this.redactField(mAt, ms, me, AV_STRING);
    } else if (kind === AV_KVLIST) {
      this.kvlist(mAt, ve);
    } else if (kind === AV_ARRAY) {
      this.array(mAt, ve);
    } else if (kind !== 0 && this.r.allTypes) {
      throw BAIL;
    }
    w.pos = ve;
    w.leave();
  }

  private kvlist(at: number, end: number): void {
    const w = this.w;
    w.pos = at;
    w.tag();
    const e = w.enter(end);
    while (w.pos < e) {
      const at2 = w.pos;
      const t = w.tag();
      if (t === 0x0a) this.kv(at2, e);
      else w.skip(t, e);
    }
    w.leave();
  }

  private array(at: number, end: number): void {
    const w = this.w;
    w.pos = at;
    w.tag();
    const e = w.enter(end);
    while (w.pos < e) {
      const t = w.tag();
      if (t === 0x0a) this.value(e);
      else w.skip(t, e);
    }
    w.leave();
  }

  // The member of the last AnyValue looked at: its tag position and, for a string, its bytes.
  private mAt = 0;
  private mStart = 0;
  private mEnd = 0;

  /**
   * Finds the oneof member of an AnyValue body ending at `end`: its tag
   * (AV_STRING, AV_ARRAY, AV_KVLIST, another member's tag, or 0 for none).
   * Two members merge on decode (the last one wins): redone on the model.
   */
  private member(end: number): number {
    const w = this.w;
    let kind = 0;
    while (w.pos < end) {
      const at = w.pos;
      const tag = w.tag();
      const field = tag >>> 3;
      if (field >= 1 && field <= 7) {
        if (kind !== 0) throw BAIL;
        kind = tag;
        this.mAt = at;
        if ((tag & 7) === WT_LEN) {
          w.lenField(end);
          this.mStart = w.valueStart;
          this.mEnd = w.pos;
          continue;
        }
      }
      w.skip(tag, end);
    }
    return kind;
  }

  /**
   * True when the value rules cannot change the string bytes buf[s, e): seen
   * clean before, or (without blocked_values) no detector can match them.
   * Otherwise the caller decodes and scans them, and remembers a clean result.
   */
  private clean(buf: Uint8Array, s: number, e: number): boolean {
    const r = this.r;
    if (!this.fast) return r.knownClean(buf, s, e);
    const k = this.stream;
    const miss = this.misses[k]!;
    if (miss >= MISS_LIMIT) {
      // The prefilter first; the table only for values it lets through.
      this.misses[k] = miss === PROBE_AFTER ? MISS_LIMIT - 4 : miss + 1;
      const cand = r.candidatesBytes(buf, s, e);
      if (cand === 0) return true;
      this.cand = cand;
      return r.knownClean(buf, s, e);
    }
    // The clean-value table first: a repeated value (a user agent, a pod
    // name) costs one compare, four bytes a step, instead of the prefilter's
    // table load per byte. A value the prefilter clears is remembered once it
    // is seen a second time (rememberClean), so unique ones do not churn it.
    // Measured on redaction.bench.ts's data (15 repeated values of 20 per
    // span), whole request: 5.2-5.3 µs per span prefilter first, 4.0-4.2 table
    // first (the same with short values left to the prefilter alone).
    if (r.knownClean(buf, s, e)) {
      this.misses[k] = 0;
      return true;
    }
    this.misses[k] = miss + 1;
    const cand = r.candidatesBytes(buf, s, e);
    if (cand === 0) {
      r.rememberClean(buf, s, e);
      return true;
    }
    this.cand = cand;
    return false;
  }

  /** The detector candidates of the string clean() last passed on (with `fast`). */
  private cand = 0;

  /** The value rules (redactString) for a string clean() passed on. */
  private scan(buf: Uint8Array, s: number, e: number): string | undefined {
    const str = utf8Read(buf, s, e);
    return this.fast ? this.r.redactCandidates(str, this.cand) : this.r.redactString(str);
  }

  /** Replaces source [from, to) by a string field `tag` holding `s`. */
  private putString(from: number, to: number, tag: number, s: string): void {
    const sp = this.w.sp;
    const n = Buffer.byteLength(s, 'utf8');
    const a0 = sp.reserve(n + 10);
    const arena = sp.arena;
    let o = putVarint32(arena, a0, tag);
    o = putVarint32(arena, o, n);
    o += textEncoder.encodeInto(s, arena.subarray(o, o + n)).written;
    sp.commit(from, to, a0, o);
  }
}
