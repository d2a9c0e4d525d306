import { afterEach, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CreateSettings, ExporterComponent, ExporterFactory } from '../../component/component.js';
import type { ConsumerError } from '../../component/errors.js';
import { Issues } from '../../config/schema.js';
import { tracesCodec } from '../../pdata/codec.js';
import { Telemetry } from '../../pdata/telemetry.js';
import { nopLogger } from '../../service/logger.js';
import { SelfTelemetry } from '../../service/telemetry.js';
import { traces } from '../../../test/helpers/model.js';
import { testHost } from '../../../test/helpers/sieve.js';
import { otlpHttpExporterFactory } from '../otlphttp/factory.js';
import { otlpExporterFactory } from './factory.js';

const PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
const identity = (b: Buffer) => b;

const running: ExporterComponent[] = [];
const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const e of running.splice(0)) await e.shutdown();
  for (const s of stops.splice(0)) await s();
});

async function exporter(factory: ExporterFactory, raw: Record<string, unknown>): Promise<ExporterComponent> {
  const issues = new Issues();
  const cfg = factory.schema.parse({ sending_queue: { enabled: false }, retry_on_failure: { enabled: false }, ...raw }, [], issues);
  factory.validate?.(cfg, [], issues);
  expect(issues.errors).toEqual([]);
  const telemetry = new SelfTelemetry();
  const settings: CreateSettings = { id: factory.type, kind: 'exporter', logger: nopLogger, telemetry, instanceId: 't', now: Date.now };
  const e = factory.create(settings, cfg, 'traces');
  await e.start(testHost(telemetry));
  running.push(e);
  return e;
}

/** A grpc-js server that records each request body and answers with `status`. */
async function grpcSink(status: () => Partial<grpc.StatusObject> | undefined = () => undefined): Promise<{ port: number; bodies: Buffer[] }> {
  const server = new grpc.Server();
  const bodies: Buffer[] = [];
  server.addService(
    { Export: { path: PATH, requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity } } as grpc.ServiceDefinition,
    {
      Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        bodies.push(call.request);
        const err = status();
        if (err) cb(err as grpc.ServiceError, null);
        else cb(null, Buffer.alloc(0));
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  stops.push(() => new Promise<void>((r) => server.tryShutdown(() => r())));
  return { port, bodies };
}

async function httpSink(): Promise<{ port: number; bodies: Buffer[] }> {
  const bodies: Buffer[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      bodies.push(Buffer.concat(chunks));
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  stops.push(() => new Promise<void>((r) => server.close(() => r())));
  return { port: (server.address() as { port: number }).port, bodies };
}

/** A batch joined from three requests, as the batch processor makes it. */
function joinedBatch(): { batch: Telemetry<'traces'>; bytes: Buffer } {
  const reqs = [traces(2, 3, 0), traces(3, 3, 10), traces(1, 3, 20)].map((m, i) => Telemetry.fromProto('traces', tracesCodec.encode(m), [2, 3, 1][i]!));
  const batch = Telemetry.concat('traces', reqs);
  expect(batch.protoParts()).toHaveLength(3);
  return { batch, bytes: Buffer.concat(reqs.map((r) => r.toProto())) };
}

describe('otlp and otlphttp exporters', () => {
  it.each([
    ['otlp, no compression', 'none'],
    ['otlp, gzip', 'gzip'],
  ])('%s: a joined batch arrives as the concatenation of its requests', async (_name, compression) => {
    const sink = await grpcSink();
    const e = await exporter(otlpExporterFactory, { endpoint: `127.0.0.1:${sink.port}`, tls: { insecure: true }, compression });
    const { batch, bytes } = joinedBatch();
    await e.consume(batch);
    expect(sink.bodies).toHaveLength(1);
    expect(sink.bodies[0]!.equals(bytes)).toBe(true);
    // Sent from its ranges: the batch was never copied into one buffer.
    expect(batch.protoParts()).toHaveLength(3);
  });

  it.each([
    ['otlphttp, no compression', 'none'],
    ['otlphttp, gzip', 'gzip'],
  ])('%s: a joined batch arrives as the concatenation of its requests', async (_name, compression) => {
    const sink = await httpSink();
    const e = await exporter(otlpHttpExporterFactory, { endpoint: `http://127.0.0.1:${sink.port}`, compression });
    const { batch, bytes } = joinedBatch();
    await e.consume(batch);
    expect(sink.bodies).toHaveLength(1);
    expect(sink.bodies[0]!.length).toBeGreaterThan(0);
    const got = compression === 'gzip' ? (await import('node:zlib')).gunzipSync(sink.bodies[0]!) : sink.bodies[0]!;
    expect(got.equals(bytes)).toBe(true);
  });

  it('drops a span with a bad id from a joined batch and sends the rest', async () => {
    const sink = await grpcSink();
    const e = await exporter(otlpExporterFactory, { endpoint: `127.0.0.1:${sink.port}`, tls: { insecure: true }, compression: 'none' });
    const good = traces(2, 1, 0);
    const bad = traces(1, 1, 5);
    bad[0]!.scopeSpans[0]!.spans[0]!.spanId = new Uint8Array(8);
    const batch = Telemetry.concat('traces', [Telemetry.fromProto('traces', tracesCodec.encode(good), 2), Telemetry.fromProto('traces', tracesCodec.encode(bad), 1)]);
    await e.consume(batch);
    const sent = tracesCodec.decode(sink.bodies[0]!);
    expect(sent.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => s.name)))).toEqual(good[0]!.scopeSpans[0]!.spans.map((s) => s.name));
  });

  it('sends over mutual TLS: the server checks the client certificate, the client the server name', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sieve-otlp-tls-'));
    const f = (n: string) => join(dir, n);
    const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f('ca-key.pem'), '-out', f('ca.pem'), '-subj', '/CN=test-ca', '-days', '2');
    for (const [name, subj, ext] of [
      ['server', '/CN=backend', 'subjectAltName=DNS:backend.test'],
      ['client', '/CN=sieve', 'subjectAltName=DNS:sieve'],
    ] as const) {
      openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', f(`${name}-key.pem`), '-out', f(`${name}.csr`), '-subj', subj);
      writeFileSync(f(`${name}.ext`), ext);
      openssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca-key.pem'), '-CAcreateserial', '-out', f(`${name}.pem`), '-days', '2', '-extfile', f(`${name}.ext`));
    }
    const server = new grpc.Server();
    const peers: string[] = [];
    server.addService(
      { Export: { path: PATH, requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity } } as grpc.ServiceDefinition,
      {
        Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
          peers.push(String(call.getAuthContext().sslPeerCertificate?.subject.CN));
          cb(null, Buffer.alloc(0));
        },
      },
    );
    const creds = grpc.ServerCredentials.createSsl(readFileSync(f('ca.pem')), [{ cert_chain: readFileSync(f('server.pem')), private_key: readFileSync(f('server-key.pem')) }], true);
    const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', creds, (e, p) => (e ? reject(e) : resolve(p))));
    stops.push(() => new Promise<void>((r) => server.tryShutdown(() => r())));
    const tls = { ca_file: f('ca.pem'), server_name_override: 'backend.test' };
    const ok = await exporter(otlpExporterFactory, { endpoint: `https://127.0.0.1:${port}`, tls: { ...tls, cert_file: f('client.pem'), key_file: f('client-key.pem') } });
    await ok.consume(joinedBatch().batch);
    expect(peers).toEqual(['sieve']);
    // Without a client certificate the handshake fails: a retryable error, nothing delivered.
    const anon = await exporter(otlpExporterFactory, { endpoint: `https://127.0.0.1:${port}`, tls });
    const err = (await anon.consume(joinedBatch().batch).then(
      () => undefined,
      (x: unknown) => x,
    )) as ConsumerError;
    expect(err?.kind).toBe('unavailable');
    // A server name the certificate does not carry is refused too.
    const wrongName = await exporter(otlpExporterFactory, { endpoint: `https://127.0.0.1:${port}`, tls: { ca_file: f('ca.pem'), server_name_override: 'other.test', cert_file: f('client.pem'), key_file: f('client-key.pem') } });
    const err2 = (await wrongName.consume(joinedBatch().batch).then(
      () => undefined,
      (x: unknown) => x,
    )) as ConsumerError;
    expect(err2?.kind).toBe('unavailable');
    expect(peers).toEqual(['sieve']);
  });

  it('fails to start on a client certificate that is not one', async () => {
    const issues = new Issues();
    const cfg = otlpExporterFactory.schema.parse({ endpoint: 'https://127.0.0.1:1', tls: { cert_pem: 'not a certificate', key_pem: 'not a key' } }, [], issues);
    expect(issues.errors).toEqual([]);
    const telemetry = new SelfTelemetry();
    const e = otlpExporterFactory.create({ id: 'otlp', kind: 'exporter', logger: nopLogger, telemetry, instanceId: 't', now: Date.now }, cfg, 'traces');
    await expect(e.start(testHost(telemetry))).rejects.toThrow(/PEM|certificate|key/i);
    await e.shutdown();
  });

  it.each([
    [grpc.status.INVALID_ARGUMENT, 'invalid', true],
    [grpc.status.UNAVAILABLE, 'unavailable', false],
    [grpc.status.UNAUTHENTICATED, 'unauthenticated', true],
    [grpc.status.RESOURCE_EXHAUSTED, 'too_large', true],
  ])('maps gRPC status %i to a %s error (permanent: %s)', async (code, kind, permanent) => {
    const sink = await grpcSink(() => ({ code, details: 'no' }));
    const e = await exporter(otlpExporterFactory, { endpoint: `127.0.0.1:${sink.port}`, tls: { insecure: true } });
    const err = (await e.consume(joinedBatch().batch).then(
      () => undefined,
      (x: unknown) => x,
    )) as ConsumerError;
    expect(err).toBeDefined();
    expect([err.kind, err.permanent]).toEqual([kind, permanent]);
    expect(err.message).toContain('no');
  });
});
