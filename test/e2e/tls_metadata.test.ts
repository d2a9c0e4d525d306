// TLS on both listeners and both OTLP exporters, with a certificate made for
// the test; and include_metadata carrying client headers into the pipeline.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Consumer } from '../../src/component/component.js';
import type { Telemetry } from '../../src/pdata/telemetry.js';
import { exportAll, makeSpans, traceExporter } from '../helpers/sdk.js';
import { freePort, startSieve, tempDir, waitFor, type RunningSieve } from '../helpers/sieve.js';
import { Service } from '../../src/service/service.js';
import { factories } from '../../src/components.js';
import type { ExporterFactory } from '../../src/component/component.js';
import { s } from '../../src/config/schema.js';

/** An exporter that records batches in memory: the far end of the pipelines under test. */
const seen: Telemetry[] = [];
const memoryFactory: ExporterFactory = {
  kind: 'exporter',
  type: 'memory',
  schema: s.object({}),
  signals: { traces: 'development', logs: 'development', metrics: 'development' },
  create: () => ({ mutatesData: false, start: async () => {}, shutdown: async () => {}, consume: async (d) => void seen.push(d) }) as Consumer & { start(): Promise<void>; shutdown(): Promise<void> },
};

describe('TLS and client metadata', () => {
  const dir = tempDir();
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  let front: RunningSieve;
  let back: Service;
  const ports: Record<string, number> = {};

  beforeAll(async () => {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-days', '2'], { stdio: 'ignore' });
    for (const n of ['bgrpc', 'bhttp', 'fgrpc', 'fhttp']) ports[n] = await freePort();
    // The back daemon serves OTLP over TLS only, and records what arrives with its client metadata.
    back = Service.fromYaml(
      `
receivers:
  otlp:
    protocols:
      grpc: { endpoint: "127.0.0.1:${ports.bgrpc}", include_metadata: true, tls: { cert_file: ${cert}, key_file: ${key} } }
      http: { endpoint: "127.0.0.1:${ports.bhttp}", include_metadata: true, tls: { cert_file: ${cert}, key_file: ${key} } }
exporters:
  memory:
service:
  pipelines:
    traces: { receivers: [otlp], exporters: [memory] }
`,
      { factories: [...factories, memoryFactory], metricsAddress: null, logWrite: () => undefined },
    );
    await back.start();
    front = await startSieve(`
receivers:
  otlp:
    protocols:
      grpc: { endpoint: "127.0.0.1:${ports.fgrpc}" }
      http: { endpoint: "127.0.0.1:${ports.fhttp}" }
exporters:
  otlp/tls:
    endpoint: "127.0.0.1:${ports.bgrpc}"
    tls: { ca_file: ${cert} }
    headers: { x-team: payments }
  otlphttp/tls:
    endpoint: "https://127.0.0.1:${ports.bhttp}"
    tls: { ca_file: ${cert} }
    headers: { x-team: search }
service:
  pipelines:
    traces/grpc: { receivers: [otlp], exporters: [otlp/tls] }
    traces/http: { receivers: [otlp], exporters: [otlphttp/tls] }
`);
  });
  afterAll(async () => {
    await front.stop();
    await back.shutdown();
  });

  it('delivers over TLS through both exporters, with each exporter headers in the client metadata', async () => {
    await exportAll(traceExporter('http/protobuf', { grpc: ports.fgrpc!, http: ports.fhttp! }), makeSpans(4));
    const teams = await waitFor(() => {
      const t = seen.map((d) => d.ctx.metadata?.['x-team']?.[0]).filter(Boolean).sort();
      return t.length >= 2 ? t : undefined;
    });
    expect(teams).toEqual(['payments', 'search']);
    expect(seen.every((d) => d.itemCount() === 4)).toBe(true);
  });

  it('an exporter that does not trust the certificate fails instead of sending in the clear', async () => {
    const p = await freePort();
    const bad = await startSieve(`
receivers:
  otlp: { protocols: { http: { endpoint: "127.0.0.1:${p}" } } }
exporters:
  otlphttp:
    endpoint: "https://127.0.0.1:${ports.bhttp}"
    retry_on_failure: { enabled: false }
    sending_queue: { enabled: false }
service:
  pipelines:
    traces: { receivers: [otlp], exporters: [otlphttp] }
`);
    try {
      const before = seen.length;
      await expect(exportAll(traceExporter('http/protobuf', { grpc: 0, http: p }), makeSpans(2))).rejects.toThrow();
      expect(seen.length).toBe(before);
    } finally {
      await bad.stop();
    }
  });
});
