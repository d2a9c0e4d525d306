// Socket-level fuzzing of both OTLP receivers with mutated valid requests:
// HTTP bodies, headers and raw request bytes, and gRPC messages. Every
// answer is a status from the documented set, the statuses seen are reported,
// and after every input the daemon still serves a well-formed request.
import fc from 'fast-check';
import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { factories } from '../../src/components.js';
import { CODECS } from '../../src/pdata/codec.js';
import type { Telemetry } from '../../src/pdata/telemetry.js';
import { Service } from '../../src/service/service.js';
import { fullTraces } from '../../src/pdata/testdata/fixtures.js';
import { grpcExport, httpGet, memoryExporter } from '../helpers/auth.js';
import { freePort } from '../helpers/sieve.js';
import { RUNS, corpus, mutated } from './budget.js';

const seen: Telemetry[] = [];
const VALID = Buffer.from(CODECS.traces.encode(fullTraces()));
const VALID_JSON = Buffer.from(CODECS.traces.encodeJson(fullTraces()));
const HTTP_OK = new Set([200, 400, 404, 405, 413, 415]);
const GRPC_OK = new Set([0, 3, 8, 12]);

/** Sends raw bytes and resolves with the status line's code (0: the server closed without one). */
function raw(port: number, bytes: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const sk = connect(port, '127.0.0.1');
    let got = '';
    const done = () => {
      sk.destroy();
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(got);
      resolve(m ? Number(m[1]) : 0);
    };
    sk.on('data', (c) => {
      got += c.toString('latin1');
      if (got.includes('\r\n\r\n')) done();
    });
    sk.on('error', done);
    sk.on('close', done);
    sk.setTimeout(3000, done);
    sk.end(bytes);
  });
}

describe('receiver socket fuzzing', () => {
  let svc: Service;
  const p: Record<string, number> = {};
  const statuses = new Map<string, number>();
  const note = (k: string) => statuses.set(k, (statuses.get(k) ?? 0) + 1);
  const stillServing = async () => {
    const r = await httpGet(p.h!, '/v1/traces', { 'Content-Type': 'application/x-protobuf' }, 'POST', VALID);
    expect(r.status).toBe(200);
  };

  beforeAll(async () => {
    p.h = await freePort();
    p.g = await freePort();
    svc = Service.fromYaml(
      `
receivers:
  otlp:
    protocols:
      grpc: { endpoint: "127.0.0.1:${p.g}" }
      http: { endpoint: "127.0.0.1:${p.h}", read_header_timeout: 2s, max_request_body_size: 65536 }
exporters:
  memory:
service:
  pipelines:
    traces: { receivers: [otlp], exporters: [memory] }
`,
      { factories: [...factories, memoryExporter(seen)], metricsAddress: null, logWrite: () => undefined },
    );
    await svc.start();
  });
  afterAll(async () => {
    console.log('receiver fuzz statuses:', Object.fromEntries([...statuses].sort()));
    await svc.shutdown();
  });

  const runs = Math.max(20, Math.floor(RUNS / 3));

  it('HTTP: mutated bodies with varied content types and encodings', async () => {
    const ctype = fc.constantFrom('application/x-protobuf', 'application/json', 'text/plain', 'application/x-protobuf; charset=utf-8', '');
    const enc = fc.constantFrom('', 'gzip', 'deflate', 'br', 'identity');
    await fc.assert(
      fc.asyncProperty(fc.oneof(mutated(VALID), mutated(VALID_JSON)), ctype, enc, fc.boolean(), async (body, ct, ce, gz) => {
        const b = gz && ce === 'gzip' ? gzipSync(body) : Buffer.from(body);
        const headers: Record<string, string> = {};
        if (ct) headers['Content-Type'] = ct;
        if (ce) headers['Content-Encoding'] = ce;
        const r = await httpGet(p.h!, '/v1/traces', headers, 'POST', b);
        note(`http ${r.status}`);
        expect(HTTP_OK.has(r.status)).toBe(true);
      }),
      { numRuns: runs },
    );
    await stillServing();
  });

  it('HTTP: mutated raw request bytes', async () => {
    const req = Buffer.concat([Buffer.from(`POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: ${VALID.length}\r\nConnection: close\r\n\r\n`), VALID]);
    await fc.assert(
      fc.asyncProperty(mutated(req), async (bytes) => {
        const s = await raw(p.h!, Buffer.from(bytes));
        note(`raw ${s}`);
        // 0: the server closed a request it could not parse; 408/431: Node's own refusals.
        expect(s === 0 || HTTP_OK.has(s) || s === 408 || s === 431 || s === 501).toBe(true);
      }),
      { numRuns: runs },
    );
    for (const [, b] of corpus('http-raw')) await raw(p.h!, b);
    await stillServing();
  });

  it('gRPC: mutated messages', async () => {
    await fc.assert(
      fc.asyncProperty(mutated(VALID), async (body) => {
        const r = await grpcExport(p.g!, Buffer.from(body));
        note(`grpc ${r.code}`);
        expect(GRPC_OK.has(r.code)).toBe(true);
      }),
      { numRuns: runs },
    );
    for (const [, b] of corpus('proto-traces')) await grpcExport(p.g!, b);
    expect((await grpcExport(p.g!, VALID)).code).toBe(0);
    await stillServing();
  });
});
