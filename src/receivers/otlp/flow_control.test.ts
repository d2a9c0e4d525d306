// The gRPC listener advertises a flow-control window of its largest message,
// per stream and per connection, so a large export is not sent in 64 KiB steps.
import { connect } from 'node:http2';
import { afterEach, describe, expect, it } from 'vitest';
import { Issues } from '../../config/schema.js';
import { tracesCodec } from '../../pdata/codec.js';
import { nopLogger } from '../../service/logger.js';
import { SelfTelemetry } from '../../service/telemetry.js';
import { testHost, waitFor } from '../../../test/helpers/sieve.js';
import { traces } from '../../../test/helpers/model.js';
import { otlpReceiverSchema } from './config.js';
import { OtlpReceiver } from './receiver.js';
import type { Telemetry } from '../../pdata/telemetry.js';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});

async function receiver(mib: number, got: Telemetry[]): Promise<OtlpReceiver> {
  const issues = new Issues();
  const cfg = otlpReceiverSchema.parse({ protocols: { grpc: { endpoint: '127.0.0.1:0', max_recv_msg_size_mib: mib } } }, [], issues);
  const r = new OtlpReceiver({ id: 'otlp', kind: 'receiver', logger: nopLogger, telemetry: new SelfTelemetry(), instanceId: 't', now: Date.now }, cfg, {
    traces: { mutatesData: false, consume: async (d) => void got.push(d) },
  });
  await r.start(testHost());
  stops.push(() => r.shutdown());
  return r;
}

describe('otlp receiver gRPC flow control', () => {
  it('advertises its largest message as the window, and takes a 10 MB export in one go', async () => {
    const got: Telemetry[] = [];
    const r = await receiver(16, got);
    const session = connect(`http://127.0.0.1:${r.grpcPort}`);
    stops.push(() => new Promise((res) => session.close(() => res())));
    await waitFor(() => session.remoteSettings?.initialWindowSize === 16 * 1024 * 1024, { what: 'the stream window setting' });
    // The connection window too: the session state shows what the server lets us send.
    await waitFor(() => (session.state.remoteWindowSize ?? 0) >= 16 * 1024 * 1024 - 65_535, { what: 'the connection window' });

    // An export larger than the old 64 KiB window, as one gRPC message.
    const body = Buffer.from(tracesCodec.encode(traces(8000, 20)));
    expect(body.length).toBeGreaterThan(8 * 1024 * 1024);
    const frame = Buffer.alloc(5 + body.length);
    frame.writeUInt32BE(body.length, 1);
    body.copy(frame, 5);
    const status = await new Promise<string>((resolve, reject) => {
      const req = session.request({ ':method': 'POST', ':path': '/opentelemetry.proto.collector.trace.v1.TraceService/Export', 'content-type': 'application/grpc', te: 'trailers' });
      req.on('trailers', (t) => resolve(String(t['grpc-status'])));
      req.on('error', reject);
      req.resume();
      req.end(frame);
    });
    expect(status).toBe('0');
    expect(got.reduce((n, d) => n + d.itemCount(), 0)).toBe(8000);
  });

  it('keeps the window at the configured message limit', async () => {
    const r = await receiver(1, []);
    const session = connect(`http://127.0.0.1:${r.grpcPort}`);
    stops.push(() => new Promise((res) => session.close(() => res())));
    await waitFor(() => session.remoteSettings?.initialWindowSize === 1024 * 1024, { what: 'the stream window setting' });
  });
});
