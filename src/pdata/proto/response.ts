// Export<Signal>ServiceResponse { partial_success = 1 } with
// Export<Signal>PartialSuccess { rejected_<items> = 1 (int64), error_message = 2 },
// identical on the wire for the three signals, and google.rpc.Status.
import type { PartialSuccess } from '../model.js';
import { ProtoReader, fieldMask } from './reader.js';
import { ProtoWriter } from './writer.js';

/** Encodes an Export*ServiceResponse; an absent partial success gives an empty message. */
export function encodeExportResponse(partial?: PartialSuccess): Uint8Array {
  const w = new ProtoWriter(64);
  if (partial !== undefined) {
    w.uint32(10);
    const s = w.fork();
    if (partial.rejected !== 0) {
      w.uint32(8);
      w.int64(BigInt(Math.trunc(partial.rejected)));
    }
    if (partial.errorMessage.length !== 0) {
      w.uint32(18);
      w.string(partial.errorMessage);
    }
    w.join(s);
  }
  return w.finish();
}

const RESPONSE_KNOWN = fieldMask(1);
const PARTIAL_KNOWN = fieldMask(1, 2);

/** Decodes an Export*ServiceResponse: its partial_success, or undefined when unset. */
export function decodeExportResponse(buf: Uint8Array): PartialSuccess | undefined {
  const r = new ProtoReader(buf);
  const end = buf.length;
  let partial: PartialSuccess | undefined;
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 10) {
      const e = r.sub(end);
      const p: PartialSuccess = partial ?? { rejected: 0, errorMessage: '' };
      while (r.pos < e) {
        const t = r.tag();
        if (t === 8) p.rejected = Number(r.int64());
        else if (t === 18) p.errorMessage = r.string(e);
        else r.unknown(t, e, PARTIAL_KNOWN);
      }
      r.endMessage(e);
      partial = p;
    } else r.unknown(tag, end, RESPONSE_KNOWN);
  }
  r.endMessage(end);
  return partial;
}

/** google.rpc.Status { code = 1 (int32), message = 2, details = 3 (unset) }. */
export function encodeRpcStatus(code: number, message: string): Uint8Array {
  const w = new ProtoWriter(64 + message.length * 3);
  if (code !== 0) {
    w.uint32(8);
    w.int32(code | 0);
  }
  if (message.length !== 0) {
    w.uint32(18);
    w.string(message);
  }
  return w.finish();
}

const STATUS_KNOWN = fieldMask(1, 2, 3);

/** Decodes a google.rpc.Status (details are skipped). */
export function decodeRpcStatus(buf: Uint8Array): { code: number; message: string } {
  const r = new ProtoReader(buf);
  const end = buf.length;
  let code = 0;
  let message = '';
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 8) code = r.int32();
    else if (tag === 18) message = r.string(end);
    else if (tag === 26) r.skipLen(end);
    else r.unknown(tag, end, STATUS_KNOWN);
  }
  r.endMessage(end);
  return { code, message };
}
