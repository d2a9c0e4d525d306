// HTTP/2 flow-control windows for the OTLP/gRPC listener.
//
// Node's HTTP/2 sessions advertise a 64 KiB window (per stream and per
// connection), and @grpc/grpc-js has no server option to change it. A client
// then sends a large export in 64 KiB steps, each waiting for this process to
// read and acknowledge the last; agents that batch (8192 spans of 20
// attributes is 10 MB) are slowed to what the round trips allow, and queue in
// their own memory meanwhile. Measured (bench/RESULTS.md "Flow control"):
// passthrough with 20 attributes flat out, gRPC out to a gRPC sink, 34k spans/s
// per core and 1.1 GiB peak RSS with 64 KiB windows against 79k and 267 MiB
// with the sink advertising 16 MiB. Go's gRPC servers (Tempo, the Collector)
// grow their window to the bandwidth-delay product, up to 16 MiB.
//
// The window given here is the largest message the listener accepts
// (max_recv_msg_size_mib), so that a client may send one whole message
// without waiting and a connection can hold no more unread data than one
// message, which the receiver must be ready to hold anyway.
import type * as grpc from '@grpc/grpc-js';
import type { Http2Server, ServerHttp2Session } from 'node:http2';

/** The most Node and HTTP/2 allow for a window (2^31 - 1). */
const MAX_WINDOW = 2 ** 31 - 1;

/**
 * Makes the sessions of a bound grpc-js server advertise `bytes` of window
 * per stream and per connection. Returns false when the server's sessions
 * cannot be reached (a grpc-js without its http2Servers map); the default
 * windows then stay.
 */
export function widenFlowControl(server: grpc.Server, bytes: number): boolean {
  const servers = (server as unknown as { http2Servers?: Map<Http2Server, unknown> }).http2Servers;
  if (!(servers instanceof Map) || servers.size === 0) return false;
  const win = Math.max(65_535, Math.min(Math.floor(bytes), MAX_WINDOW));
  for (const s of servers.keys()) {
    s.on('session', (sess: ServerHttp2Session) => {
      try {
        sess.setLocalWindowSize(win);
        sess.settings({ initialWindowSize: win });
      } catch {
        /* the session closed before its settings went out */
      }
    });
  }
  return true;
}
