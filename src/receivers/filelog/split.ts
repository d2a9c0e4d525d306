// Splits file bytes into records on the bytes themselves: newlines are found
// with Buffer.indexOf (memchr), and a line is decoded once, only when it is
// complete. Each record carries the file offset just past it, so the offset
// that is committed after the pipeline accepted a batch is exact.
//
// Bytes after the last complete record (a partial line, an open multiline
// record) stay in `carry` and are fed again with the next chunk; a quiet file
// flushes them as a record after force_flush_period.

export type Encoding = 'utf-8' | 'ascii' | 'utf-16le' | 'utf-16be' | 'nop';

export function normalizeEncoding(e: string): Encoding {
  switch (e) {
    case 'utf8':
    case 'utf-8':
    case 'utf-8-raw':
      return 'utf-8';
    case 'ascii':
    case 'us-ascii':
      return 'ascii';
    case 'utf-16le':
    case 'utf-16be':
    case 'nop':
      return e;
    default:
      throw new Error(`unsupported encoding ${e}`);
  }
}

export interface Rec {
  /** Decoded text, or the raw bytes for encoding nop. */
  value: string | Uint8Array;
  /** File offset just past this record (and its newline). */
  end: number;
  truncated: boolean;
}

export interface SplitOptions {
  encoding: Encoding;
  maxLogSize: number;
  lineStart?: RegExp;
  lineEnd?: RegExp;
  omitPattern?: boolean;
}

export class Splitter {
  private carry: Buffer = Buffer.alloc(0);
  /** File offset of carry[0]. */
  private carryStart: number;
  /** Inside a line that was cut at max_log_size: drop bytes up to the next newline. */
  private skipping = false;
  private readonly enc: Encoding;
  private readonly nlLen: number;
  private readonly max: number;

  constructor(private opts: SplitOptions, start: number) {
    this.carryStart = start;
    this.enc = opts.encoding;
    this.nlLen = this.enc === 'utf-16le' || this.enc === 'utf-16be' ? 2 : 1;
    this.max = opts.maxLogSize;
  }

  /** True when bytes wait for more data (a partial line or an open multiline record). */
  pending(): boolean {
    return this.carry.length > 0;
  }

  /** File offset up to which everything has been made into records or dropped. */
  position(): number {
    return this.carryStart;
  }

  /** Offset of the next byte expected from the file. */
  readPosition(): number {
    return this.carryStart + this.carry.length;
  }

  /** Finds the next newline at or after `from`: [lineEnd (before \r), next line start], or undefined. */
  private nextLine(d: Buffer, from: number): [number, number] | undefined {
    switch (this.enc) {
      case 'utf-16le': {
        let i = from;
        for (;;) {
          i = d.indexOf(10, i);
          if (i < 0 || i + 1 >= d.length) return undefined;
          if ((i - from) % 2 === 0 && d[i + 1] === 0) {
            const end = i >= from + 2 && d[i - 2] === 13 && d[i - 1] === 0 ? i - 2 : i;
            return [end, i + 2];
          }
          i++;
        }
      }
      case 'utf-16be': {
        let i = from + 1;
        for (;;) {
          i = d.indexOf(10, i);
          if (i < 0) return undefined;
          if ((i - from) % 2 === 1 && d[i - 1] === 0) {
            const end = i - 1 >= from + 2 && d[i - 3] === 0 && d[i - 2] === 13 ? i - 3 : i - 1;
            return [end, i + 1];
          }
          i++;
        }
      }
      default: {
        const i = d.indexOf(10, from);
        if (i < 0) return undefined;
        return [i > from && d[i - 1] === 13 ? i - 1 : i, i + 1];
      }
    }
  }

  decode(d: Buffer, s: number, e: number): string | Uint8Array {
    switch (this.enc) {
      case 'utf-8':
        return d.toString('utf8', s, e);
      case 'ascii':
        return d.toString('latin1', s, e);
      case 'utf-16le':
        return d.toString('utf16le', s, e - ((e - s) % 2));
      case 'utf-16be': {
        const b = Buffer.from(d.subarray(s, e - ((e - s) % 2)));
        b.swap16();
        return b.toString('utf16le');
      }
      case 'nop':
        return new Uint8Array(d.subarray(s, e));
    }
  }

  private text(d: Buffer, s: number, e: number): string {
    const v = this.decode(d, s, e);
    return typeof v === 'string' ? v : Buffer.from(v).toString('latin1');
  }

  /** Cuts [s, e) to max_log_size bytes (on an even byte count for UTF-16). */
  private cut(s: number, e: number): [number, boolean] {
    if (e - s <= this.max) return [e, false];
    let n = this.max;
    if (this.nlLen === 2) n -= n % 2;
    return [s + n, true];
  }

  /** Feeds the next bytes read from the file (they follow readPosition()). */
  feed(chunk: Buffer, out: Rec[]): void {
    const d = this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk;
    const base = this.carryStart;
    const pos = this.opts.lineStart || this.opts.lineEnd ? this.feedMultiline(d, base, out) : this.feedLines(d, base, out);
    this.carryStart = base + pos;
    // Copied: the chunk buffer is reused by the next read.
    this.carry = pos >= d.length ? Buffer.alloc(0) : Buffer.from(d.subarray(pos));
  }

  private feedLines(d: Buffer, base: number, out: Rec[]): number {
    let pos = 0;
    for (;;) {
      const nl = this.nextLine(d, pos);
      if (!nl) break;
      const [end, next] = nl;
      if (this.skipping) {
        this.skipping = false;
      } else {
        const [e, truncated] = this.cut(pos, end);
        out.push({ value: this.decode(d, pos, e), end: base + next, truncated });
      }
      pos = next;
    }
    if (this.skipping) return d.length;
    if (d.length - pos > this.max) {
      // A line longer than max_log_size with no end in sight: emit its start now, drop the rest up to its newline.
      const [e] = this.cut(pos, d.length);
      out.push({ value: this.decode(d, pos, e), end: base + d.length, truncated: true });
      this.skipping = true;
      return d.length;
    }
    return pos;
  }

  private feedMultiline(d: Buffer, base: number, out: Rec[]): number {
    const start = this.opts.lineStart;
    const endRe = this.opts.lineEnd;
    let group = 0; // start of the open record
    let pos = 0;
    let lastLineEnd = 0;
    let lines = 0;
    for (;;) {
      const nl = this.nextLine(d, pos);
      if (!nl) break;
      const [end, next] = nl;
      const t = this.text(d, pos, end);
      if (this.skipping) {
        // The rest of a record cut at max_log_size: dropped until the next record begins (or this one ends).
        if (start && start.test(t)) this.skipping = false;
        else {
          if (endRe && endRe.test(t)) this.skipping = false;
          pos = group = next;
          continue;
        }
      }
      if (start) {
        if (lines > 0 && start.test(t)) {
          this.emitGroup(d, group, lastLineEnd, base + pos, out);
          group = pos;
          lines = 0;
        }
        lines++;
        lastLineEnd = end;
        pos = next;
      } else {
        lines++;
        lastLineEnd = end;
        pos = next;
        if (endRe!.test(t)) {
          this.emitGroup(d, group, lastLineEnd, base + next, out);
          group = next;
          lines = 0;
        }
      }
      if (lines > 0 && lastLineEnd - group > this.max) {
        this.emitGroup(d, group, lastLineEnd, base + pos, out);
        group = pos;
        lines = 0;
        this.skipping = true;
      }
    }
    if (d.length - group > 2 * this.max + 2) {
      // No newline for longer than a record may be: emit what there is, cut, and drop the rest of it.
      this.emitGroup(d, group, d.length, base + d.length, out);
      this.skipping = true;
      return d.length;
    }
    return group;
  }

  private emitGroup(d: Buffer, s: number, e: number, endOffset: number, out: Rec[]): void {
    const [ce, truncated] = this.cut(s, e);
    let v = this.decode(d, s, ce);
    if (this.opts.omitPattern && typeof v === 'string') {
      if (this.opts.lineStart) v = v.replace(this.opts.lineStart, '');
      else if (this.opts.lineEnd) v = omitEnd(v, this.opts.lineEnd);
    }
    out.push({ value: v, end: endOffset, truncated });
  }

  /** Emits what waits in carry as a record (force_flush_period passed with no more data). */
  flush(out: Rec[]): void {
    if (this.carry.length === 0) return;
    const d = this.carry;
    let e = d.length;
    // Strip one trailing newline (an open multiline record ends with its last line's newline).
    if (this.nlLen === 1) {
      if (d[e - 1] === 10) e--;
      if (d[e - 1] === 13) e--;
    } else if (this.enc === 'utf-16le' && e >= 2 && d[e - 2] === 10 && d[e - 1] === 0) e -= 2;
    else if (this.enc === 'utf-16be' && e >= 2 && d[e - 2] === 0 && d[e - 1] === 10) e -= 2;
    if (this.skipping) {
      this.skipping = false;
    } else if (e > 0) {
      if (this.opts.lineStart || this.opts.lineEnd) this.emitGroup(d, 0, e, this.carryStart + d.length, out);
      else {
        const [ce, truncated] = this.cut(0, e);
        out.push({ value: this.decode(d, 0, ce), end: this.carryStart + d.length, truncated });
      }
    }
    this.carryStart += d.length;
    this.carry = Buffer.alloc(0);
  }
}

function omitEnd(v: string, re: RegExp): string {
  const lastNl = v.lastIndexOf('\n');
  const head = lastNl >= 0 ? v.slice(0, lastNl + 1) : '';
  return head + v.slice(lastNl + 1).replace(re, '');
}
