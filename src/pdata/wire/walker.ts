// A reader over an encoded OTLP request that can also edit it: the bounds-
// checked ProtoReader plus a Splicer whose frame stack follows the walk.
//
// A walk enters each length-delimited message it looks into with enter(),
// which records where the message's length prefix is, and leaves it with
// leave(). An edit made in between is filed under every message entered at
// that moment, so the splicer can fix their lengths. Walking allocates
// nothing per field: positions are numbers, and strings are looked at as
// bytes where they lie.
import { ProtoReader } from '../proto/reader.js';
import { Splicer } from './splice.js';

export class WireWalker extends ProtoReader {
  readonly sp = new Splicer();

  constructor() {
    super(new Uint8Array(0));
  }

  /** Starts a walk (and a new edit list) over `buf`. */
  begin(buf: Uint8Array): this {
    this.reset(buf);
    this.sp.reset(this.buf);
    return this;
  }

  /**
   * At the length prefix of a length-delimited field: reads it, enters the
   * field as a message (its edits will fix this prefix) and returns its end.
   */
  enter(end: number): number {
    const p = this.pos;
    const n = this.len32(end);
    this.sp.push(p);
    return this.pos + n;
  }

  /** Leaves the message entered last. */
  leave(): void {
    this.sp.pop();
  }

  /** At the length prefix of a length-delimited field: skips it and returns its end (`start` is then in `valueStart`). */
  lenField(end: number): number {
    const n = this.len32(end);
    this.valueStart = this.pos;
    this.pos += n;
    return this.pos;
  }

  /** Where the payload of the last lenField() starts. */
  valueStart = 0;

  /** The edited request: the very input when nothing was edited. */
  finish(): Uint8Array {
    return this.sp.build();
  }
}
