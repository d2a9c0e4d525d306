// State shared by the message codecs.
import { ProtoWriter } from './writer.js';

/** The decoded value of an absent bytes field. It has no elements, so sharing it is safe. */
export const EMPTY_BYTES: Uint8Array = new Uint8Array(0);

// Request encoders write into one reused buffer and copy the result out, so an
// encode allocates only its output once the buffer has grown to the usual size.
// A buffer grown past RETAIN_LIMIT by an unusually large request is dropped.
const RETAIN_LIMIT = 4 << 20;
let pooled: ProtoWriter | undefined;

/** Takes the reusable writer (or a fresh one if it is in use). */
export function sharedWriter(): ProtoWriter {
  const w = pooled ?? new ProtoWriter(64 * 1024);
  pooled = undefined;
  w.reset();
  return w;
}

/** Returns a writer taken with sharedWriter. */
export function releaseWriter(w: ProtoWriter): void {
  if (w.buf.length <= RETAIN_LIMIT) pooled = w;
}
