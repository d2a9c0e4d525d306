// The OTLP receiver against bad input and pipeline refusals, over real sockets.
import * as grpc from '@grpc/grpc-js';
import { request } from 'node:http';
import { createGzip, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Consumer } from '../../component/component.js';
import { ConsumerError, permanentError, throttleError, unavailableError } from '../../component/errors.js';
import { Issues } from '../../config/schema.js';
import { tracesCodec, decodeExportResponse } from '../../pdata/codec.js';
import type { Telemetry } from '../../pdata/telemetry.js';
import { nopLogger } from '../../service/logger.js';
import { SelfTelemetry } from '../../service/telemetry.js';
import { testHost } from '../../../test/helpers/sieve.js';
import { traces } from '../../../test/helpers/model.js';
import { otlpReceiverSchema } from './config.js';
import { OtlpReceiver } from './receiver.js';
import { retryDelayFromStatus } from './status.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function post(port: number, path: string, body: Buffer | Uint8Array, headers: Record<string, string>, method = 'POST'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers: { 'Content-Length': String(body.length), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function grpcCall(port: number, body: Buffer, opts: { compress?: boolean } = {}): Promise<{ err?: grpc.ServiceError; res?: Buffer }> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), opts.compress ? { 'grpc.default_compression_algorithm': 2 } : {});
  const id = (b: Buffer) => b;
  return new Promise((resolve) => {
    client.makeUnaryRequest('/opentelemetry.proto.collector.trace.v1.TraceService/Export', id, id, body, new grpc.Metadata(), {}, (err, res) => {
      client.close();
      resolve({ err: err ?? undefined, res: res ?? undefined });
    });
  });
}

/** gzip of `mib` MiB of zeros, produced by streaming so the plain bytes never exist at once. */
function zeroBomb(mib: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const gz = createGzip({ level: 9 });
    const out: Buffer[] = [];
    gz.on('data', (c: Buffer) => out.push(c));
    gz.on('end', () => resolve(Buffer.concat(out)));
    const zero = Buffer.alloc(1 << 20);
    let i = 0;
    const pump = () => {
      while (i < mib) {
        i++;
        if (!gz.write(zero)) return gz.once('drain', pump);
      }
      gz.end();
    };
    pump();
  });
}

describe('otlp receiver', () => {
  let receiver: OtlpReceiver;
  let http: number;
  let grpcPort: number;
  const got: Telemetry[] = [];
  let behaviour: (d: Telemetry) => Promise<void | { rejected: number; errorMessage: string }> = async (d) => {
    got.push(d);
  };
  const telemetry = new SelfTelemetry();

  beforeAll(async () => {
    const issues = new Issues();
    const cfg = otlpReceiverSchema.parse(
      { protocols: { grpc: { endpoint: '127.0.0.1:0', max_recv_msg_size_mib: 1 }, http: { endpoint: '127.0.0.1:0', max_request_body_size: 1048576 } } },
      [],
      issues,
    );
    expect(issues.list).toEqual([]);
    const consumer: Consumer = { mutatesData: false, consume: (d) => behaviour(d) };
    receiver = new OtlpReceiver({ id: 'otlp', kind: 'receiver', logger: nopLogger, telemetry, instanceId: 't', now: Date.now }, cfg, { traces: consumer, logs: consumer, metrics: consumer });
    await receiver.start(testHost(telemetry));
    http = receiver.httpPort!;
    grpcPort = receiver.grpcPort!;
  });
  afterAll(() => receiver.shutdown());

  const valid = Buffer.from(tracesCodec.encode(traces(10)));
  const pb = { 'Content-Type': 'application/x-protobuf' };
  const json = { 'Content-Type': 'application/json' };

  describe('HTTP bad input gets the right status and the daemon keeps serving', () => {
    const cases: [string, () => Promise<Reply>, number][] = [
      ['truncated protobuf', () => post(http, '/v1/traces', valid.subarray(0, valid.length - 7), pb), 400],
      ['wrong wire type for resource_spans', () => post(http, '/v1/traces', Buffer.from([0x08, 0x01]), pb), 400],
      ['a length prefix of 2^31', () => post(http, '/v1/traces', Buffer.from([0x0a, 0x80, 0x80, 0x80, 0x80, 0x08, 0x00]), pb), 400],
      ['invalid JSON', () => post(http, '/v1/traces', Buffer.from('{"resourceSpans": [ {'), json), 400],
      ['JSON of the wrong shape', () => post(http, '/v1/traces', Buffer.from('{"resourceSpans": 5}'), json), 400],
      ['the wrong content type', () => post(http, '/v1/traces', valid, { 'Content-Type': 'text/plain' }), 415],
      ['GET instead of POST', () => post(http, '/v1/traces', Buffer.alloc(0), pb, 'GET'), 405],
      ['an unknown path', () => post(http, '/v1/profiles', valid, pb), 404],
      ['an unsupported Content-Encoding', () => post(http, '/v1/traces', valid, { ...pb, 'Content-Encoding': 'br' }), 400],
      ['corrupt gzip', () => post(http, '/v1/traces', Buffer.from('not gzip at all'), { ...pb, 'Content-Encoding': 'gzip' }), 400],
      ['a body over max_request_body_size', () => post(http, '/v1/traces', Buffer.alloc(2 * 1048576), pb), 413],
    ];
    for (const [name, send, status] of cases) {
      it(`${name} → ${status}`, async () => {
        const r = await send();
        expect(r.status).toBe(status);
        const ok = await post(http, '/v1/traces', valid, pb);
        expect(ok.status).toBe(200);
      });
    }

    it('a gzip bomb (1 GiB of zeros) is cut off at the limit with bounded memory', async () => {
      const bomb = await zeroBomb(1024);
      expect(bomb.length).toBeLessThan(2 * 1048576);
      const rssBefore = process.memoryUsage().rss;
      const r = await post(http, '/v1/traces', bomb, { ...pb, 'Content-Encoding': 'gzip' });
      expect(r.status).toBe(413);
      expect(process.memoryUsage().rss - rssBefore).toBeLessThan(200 * 1048576);
      expect((await post(http, '/v1/traces', valid, pb)).status).toBe(200);
    });

    it('accepts gzip and deflate bodies, and answers JSON requests in JSON', async () => {
      expect((await post(http, '/v1/traces', gzipSync(valid), { ...pb, 'Content-Encoding': 'gzip' })).status).toBe(200);
      const { deflateSync } = await import('node:zlib');
      expect((await post(http, '/v1/traces', deflateSync(valid), { ...pb, 'Content-Encoding': 'deflate' })).status).toBe(200);
      const j = await post(http, '/v1/traces', Buffer.from(tracesCodec.encodeJson(traces(3))), { 'Content-Type': 'application/json; charset=utf-8' });
      expect(j.status).toBe(200);
      expect(j.headers['content-type']).toBe('application/json');
      expect(JSON.parse(j.body.toString())).toEqual({});
    });

    it('an empty request succeeds', async () => {
      expect((await post(http, '/v1/traces', Buffer.alloc(0), pb)).status).toBe(200);
    });
  });

  describe('gRPC bad input', () => {
    it('malformed protobuf → INVALID_ARGUMENT', async () => {
      const r = await grpcCall(grpcPort, valid.subarray(0, 20));
      expect(r.err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    });
    it('an oversize message → RESOURCE_EXHAUSTED, and serving goes on', async () => {
      const r = await grpcCall(grpcPort, Buffer.alloc(2 * 1048576));
      expect(r.err?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      const ok = await grpcCall(grpcPort, valid);
      expect(ok.err).toBeUndefined();
    });
    it('a compressed bomb over gRPC is refused by its decompressed size', async () => {
      const r = await grpcCall(grpcPort, Buffer.alloc(64 * 1048576), { compress: true });
      expect(r.err?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    });
  });

  describe('pipeline refusals map to OTLP statuses', () => {
    const cases: [string, ConsumerError, number, number, string | undefined][] = [
      ['back-pressure', throttleError('queue is full', 3000), 429, grpc.status.RESOURCE_EXHAUSTED, '3'],
      ['transient failure', unavailableError('backend down', 2000), 503, grpc.status.UNAVAILABLE, '2'],
      ['transient failure without a delay', unavailableError('backend down'), 503, grpc.status.UNAVAILABLE, undefined],
      ['permanent failure', permanentError('cannot ever work'), 500, grpc.status.INTERNAL, undefined],
      ['bad data', new ConsumerError('invalid', 'bad ids'), 400, grpc.status.INVALID_ARGUMENT, undefined],
    ];
    for (const [name, err, httpStatus, grpcStatus, retryAfter] of cases) {
      it(`${name} → HTTP ${httpStatus}, gRPC ${grpc.status[grpcStatus]}`, async () => {
        behaviour = async () => {
          throw err;
        };
        try {
          const r = await post(http, '/v1/traces', valid, pb);
          expect(r.status).toBe(httpStatus);
          expect(r.headers['retry-after']).toBe(retryAfter);
          const g = await grpcCall(grpcPort, valid);
          expect(g.err?.code).toBe(grpcStatus);
          const details = g.err?.metadata.get('grpc-status-details-bin')[0] as Buffer;
          expect(retryDelayFromStatus(details)).toBe(retryAfter === undefined ? undefined : Number(retryAfter) * 1000);
        } finally {
          behaviour = async (d) => void got.push(d);
        }
      });
    }

    it('a partial success reaches the client in the response body', async () => {
      behaviour = async () => ({ rejected: 3, errorMessage: '3 spans had invalid ids' });
      try {
        const r = await post(http, '/v1/traces', valid, pb);
        expect(r.status).toBe(200);
        expect(decodeExportResponse(r.body)).toEqual({ rejected: 3, errorMessage: '3 spans had invalid ids' });
        const j = await post(http, '/v1/traces', Buffer.from(tracesCodec.encodeJson(traces(3))), json);
        expect(JSON.parse(j.body.toString())).toEqual({ partialSuccess: { rejectedSpans: '3', errorMessage: '3 spans had invalid ids' } });
        const g = await grpcCall(grpcPort, valid);
        expect(decodeExportResponse(g.res!)).toEqual({ rejected: 3, errorMessage: '3 spans had invalid ids' });
      } finally {
        behaviour = async (d) => void got.push(d);
      }
    });
  });

  it('counts accepted and refused spans under the Collector names', async () => {
    const before = await telemetry.value('otelcol_receiver_accepted_spans', { transport: 'http' });
    await post(http, '/v1/traces', valid, pb);
    expect(await telemetry.value('otelcol_receiver_accepted_spans', { transport: 'http' })).toBe(before + 10);
    expect(await telemetry.value('otelcol_receiver_refused_spans')).toBeGreaterThan(0);
  });
});
