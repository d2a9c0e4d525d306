// The daemon as a user runs it: SIGTERM drains everything acknowledged, and the
// CLI answers validate / components / --version, and fails clearly on a taken port.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tracesCodec } from '../../src/pdata/codec.js';
import { traces } from '../helpers/model.js';
import { CLI, freePort, spawnSieve, startSink, tempDir, type Sink } from '../helpers/sieve.js';

function post(port: number, body: Uint8Array): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/v1/traces', method: 'POST', headers: { 'Content-Type': 'application/x-protobuf' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 30_000 });

describe('shutdown', () => {
  let sink: Sink;
  beforeAll(async () => {
    sink = await startSink();
  });
  afterAll(() => sink.stop());

  it('on SIGTERM, everything acknowledged before it reaches the exporter, and the exit code is 0', async () => {
    const http = await freePort();
    const d = await spawnSieve(`
receivers:
  otlp:
    protocols:
      http: { endpoint: "127.0.0.1:${http}" }
processors:
  batch: { timeout: 10s, send_batch_size: 100000 }
exporters:
  otlp:
    endpoint: "127.0.0.1:${sink.grpcPort}"
    tls: { insecure: true }
service:
  telemetry: { metrics: { level: none } }
  pipelines:
    traces: { receivers: [otlp], processors: [batch], exporters: [otlp] }
`);
    // Requests sit in the batch buffer (10s timeout) when SIGTERM arrives.
    const statuses = Array.from({ length: 20 }, (_, i) => post(http, tracesCodec.encode(traces(50, 5, i * 50))));
    await new Promise((r) => setTimeout(r, 500));
    expect(sink.count('traces')).toBe(0);
    const code = await d.kill('SIGTERM');
    const acked = (await Promise.all(statuses)).filter((s) => s === 200).length;
    expect(code).toBe(0);
    expect(acked).toBe(20);
    expect(sink.count('traces')).toBe(acked * 50);
    expect(d.stderr()).toContain('Shutdown complete.');
  });
});

describe('cli', () => {
  it('--version and --help', () => {
    expect(cli('--version').stdout).toMatch(/^sieve version \d+\.\d+\.\d+/);
    const h = cli('--help');
    expect(h.status).toBe(0);
    expect(h.stdout).toContain('sieve validate');
  });

  it('components lists every kind', () => {
    const r = cli('components');
    expect(r.status).toBe(0);
    for (const t of ['receivers:', 'otlp', 'batch', 'memory_limiter', 'otlphttp', 'debug', 'file']) expect(r.stdout).toContain(t);
  });

  it('validate prints every error with its path and line, and exits 1', () => {
    const dir = tempDir();
    const f = join(dir, 'broken.yaml');
    writeFileSync(
      f,
      `receivers:
  otlp:
    protocols:
      grpc:
        endpoint: nowhere
exporters:
  otlp/tempo:
    endpoint: tempo:4317
    timeout: soon
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [otlp/tempo]
`,
    );
    const r = cli('validate', '--config', f);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('invalid configuration (3 errors)');
    expect(r.stderr).toContain('receivers::otlp::protocols::grpc::endpoint: must be host:port, got "nowhere" (broken.yaml:5)');
    expect(r.stderr).toContain('exporters::otlp/tempo::timeout: must be a duration such as "5s", "200ms" or "1m30s", got string "soon" (broken.yaml:9)');
    expect(r.stderr).toContain('service::pipelines::traces::processors::0: references processor "batch" which is not configured (broken.yaml:14)');
  });

  it('validate exits 0 on the default config, and reports an unreadable file', () => {
    const ok = cli('validate');
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('configuration is valid');
    const missing = cli('validate', '--config', '/nonexistent/sieve.yaml');
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('cannot read config file /nonexistent/sieve.yaml: no such file');
  });

  it('a taken port gives a clear message and a non-zero exit', async () => {
    const blocker = createServer();
    const port = await new Promise<number>((r) => blocker.listen(0, '127.0.0.1', () => r((blocker.address() as { port: number }).port)));
    try {
      const d = await spawnSieve(
        `
receivers:
  otlp: { protocols: { http: { endpoint: "127.0.0.1:${port}" } } }
exporters:
  debug:
service:
  telemetry: { metrics: { level: none } }
  pipelines:
    logs: { receivers: [otlp], exporters: [debug] }
`,
        { waitReady: false },
      );
      expect(await d.exited).toBe(1);
      expect(d.stderr()).toContain(`address 127.0.0.1:${port} is already in use`);
    } finally {
      blocker.close();
    }
  });

  it('an unknown command is a usage error', () => {
    const r = cli('frobnicate');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('unknown command or argument "frobnicate"');
  });
});
