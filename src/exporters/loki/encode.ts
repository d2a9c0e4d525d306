// Loki push request bodies.
//
// Protobuf (logproto.PushRequest, pkg/push/push.proto in Loki):
//   PushRequest      { repeated StreamAdapter streams = 1; }
//   StreamAdapter    { string labels = 1; repeated EntryAdapter entries = 2; }
//   EntryAdapter     { google.protobuf.Timestamp timestamp = 1; string line = 2;
//                      repeated LabelPairAdapter structuredMetadata = 3; }
//   LabelPairAdapter { string name = 1; string value = 2; }
//   Timestamp        { int64 seconds = 1; int32 nanos = 2; }
// sent snappy block-compressed with Content-Type application/x-protobuf. The
// EntryAdapter fields are encoded by `convert` (convert.ts); this assembles them.
//
// JSON (v1): {"streams":[{"stream":{...},"values":[["<ns>","line",{metadata}]]}]}
// with the timestamp as a string of Unix nanoseconds.
import type { ProtoWriter } from '../../pdata/proto/writer.js';
import { SnappyBlock } from '../../prom/snappy.js';
import { entryOrder, labelsAsMetadata, type Stream } from './convert.js';
/**
 * Writes a PushRequest into `w` (which is reset first) from streams whose
 * entries were encoded into `scratch` by `convert`. Entries of a stream that
 * arrived out of order are copied in timestamp order.
 */
export function writePushRequest(w: ProtoWriter, streams: readonly Stream[], scratch: ProtoWriter): void {
  w.reset();
  const src = scratch.buf;
  for (const s of streams) {
    w.uint32((1 << 3) | 2);
    const sp = w.fork(3);
    w.uint32((1 << 3) | 2);
    w.string(s.labels);
    const seg = s.seg;
    let size = 0;
    for (let i = 0; i < seg.length; i += 2) size += seg[i + 1]! - seg[i]!;
    w.ensure(size);
    const order = entryOrder(s);
    if (order === null) {
      // In order: copy each contiguous stretch of the scratch buffer at once.
      let i = 0;
      while (i < seg.length) {
        const start = seg[i]!;
        let end = seg[i + 1]!;
        i += 2;
        while (i < seg.length && seg[i] === end) {
          end = seg[i + 1]!;
          i += 2;
        }
        w.buf.set(src.subarray(start, end), w.pos);
        w.pos += end - start;
      }
    } else {
      for (const k of order) {
        const start = seg[2 * k]!;
        const end = seg[2 * k + 1]!;
        w.buf.set(src.subarray(start, end), w.pos);
        w.pos += end - start;
      }
    }
    w.join(sp, 3);
  }
}

const sharedSnappy = new SnappyBlock();

/** A snappy-compressed protobuf PushRequest. */
export function encodeProtobuf(w: ProtoWriter, streams: readonly Stream[], scratch: ProtoWriter, compressor: SnappyBlock = sharedSnappy): Uint8Array {
  writePushRequest(w, streams, scratch);
  return compressor.compress(w.buf.subarray(0, w.pos));
}

/** A JSON push body (from streams converted in JSON mode). */
export function encodeJson(streams: readonly Stream[]): string {
  let out = '{"streams":[';
  for (let si = 0; si < streams.length; si++) {
    const s = streams[si]!;
    if (si > 0) out += ',';
    const l = labelsAsMetadata(s.labels);
    out += '{"stream":{';
    for (let i = 0; i < l.length; i += 2) {
      if (i > 0) out += ',';
      out += JSON.stringify(l[i]) + ':' + JSON.stringify(l[i + 1]);
    }
    out += '},"values":[';
    for (let ei = 0; ei < s.entries.length; ei++) {
      const e = s.entries[ei]!;
      if (ei > 0) out += ',';
      out += '["' + e.ts.toString() + '",' + JSON.stringify(e.line);
      if (e.shared !== null || e.own !== null) {
        out += ',{';
        let first = true;
        for (const md of [e.shared, e.own]) {
          if (md === null) continue;
          for (let i = 0; i < md.length; i += 2) {
            if (!first) out += ',';
            first = false;
            out += JSON.stringify(md[i]) + ':' + JSON.stringify(md[i + 1]);
          }
        }
        out += '}';
      }
      out += ']';
    }
    out += ']}';
  }
  return out + ']}';
}

