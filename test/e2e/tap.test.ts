// `sieve tap` against a running daemon: it sees data after redaction, honours
// the limit, refuses without a token and upstream of redaction, and a stalled
// tap client has its samples dropped while ingest goes on.
import { execFile } from 'node:child_process';
import { get } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { exportAll, traceExporter } from '../helpers/sdk.js';
import { CLI, freePort, startSieve, tempDir, type RunningSieve } from '../helpers/sieve.js';

function spans(n: number, value: string): ReadableSpan[] {
  const mem = new InMemorySpanExporter();
  const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(mem)] }).getTracer('tap-test');
  for (let i = 0; i < n; i++) tracer.startSpan(`op-${i}`, { attributes: { 'user.card': value, n: i } }).end();
  return mem.getFinishedSpans();
}

const runCli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });

describe('sieve tap', () => {
  let d: RunningSieve;
  const ports = { grpc: 0, http: 0, admin: 0 };
  beforeAll(async () => {
    ports.grpc = await freePort();
    ports.http = await freePort();
    ports.admin = await freePort();
    d = await startSieve(`
receivers:
  otlp:
    protocols:
      grpc: { endpoint: "127.0.0.1:${ports.grpc}" }
      http: { endpoint: "127.0.0.1:${ports.http}" }
processors:
  redaction: { allow_all_keys: true, blocked_values: ["4[0-9]{15}"] }
  batch: { timeout: 20ms }
exporters:
  file: { path: ${JSON.stringify(join(tempDir(), 'out.jsonl'))} }
service:
  admin: { endpoint: "127.0.0.1:${ports.admin}", bearer_token: tap-secret }
  pipelines:
    traces: { receivers: [otlp], processors: [redaction, batch], exporters: [file] }
`);
  });
  afterAll(() => d.stop());

  /** Sends spans until `until` settles. */
  async function sendWhile(until: Promise<unknown>, value = 'card 4111111111111111'): Promise<void> {
    let done = false;
    void until.finally(() => (done = true));
    const exp = traceExporter('http/protobuf', ports);
    while (!done) {
      await exportAll(exp, spans(5, value));
      await new Promise((r) => setTimeout(r, 20));
    }
    await exp.shutdown();
  }

  it('streams redacted spans from the redaction processor, up to the limit', async () => {
    const tap = runCli(['tap', '--endpoint', `127.0.0.1:${ports.admin}`, '--component', 'redaction', '--signal', 'traces', '--limit', '3'], { SIEVE_ADMIN_TOKEN: 'tap-secret' });
    await sendWhile(tap);
    const r = await tap;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { component: string; signal: string; name: string; attributes: Record<string, unknown> });
    expect(lines).toHaveLength(3);
    for (const l of lines) {
      expect(l).toMatchObject({ component: 'redaction', signal: 'traces' });
      expect(l.name).toMatch(/^op-\d$/);
      expect(l.attributes['user.card']).toBe('card ****');
    }
  });

  it('prints a compact view', async () => {
    const tap = runCli(['tap', '--endpoint', `127.0.0.1:${ports.admin}`, '--token', 'tap-secret', '--component', 'batch@traces', '--limit', '2', '--format', 'compact']);
    await sendWhile(tap);
    const r = await tap;
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([expect.stringMatching(/^traces  batch op-\d user\.card=card \*\*\*\* n=\d$/), expect.stringMatching(/^traces  batch op-\d/)]);
  });

  it('refuses without the token, upstream of redaction, and an unknown component', async () => {
    const noToken = await runCli(['tap', '--endpoint', `127.0.0.1:${ports.admin}`, '--component', 'redaction']);
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toContain('tap refused (401)');
    const before = await runCli(['tap', '--endpoint', `127.0.0.1:${ports.admin}`, '--token', 'tap-secret', '--component', 'otlp']);
    expect(before.code).toBe(1);
    expect(before.stderr).toMatch(/tap refused \(403\): "otlp" is upstream of redaction in traces/);
    const unknown = await fetch(`http://127.0.0.1:${ports.admin}/tap?component=nope`, { headers: { authorization: 'Bearer tap-secret' } });
    expect(unknown.status).toBe(404);
    const badRate = await fetch(`http://127.0.0.1:${ports.admin}/tap?component=batch&rate=2`, { headers: { authorization: 'Bearer tap-secret' } });
    expect(badRate.status).toBe(400);
  });

  it('drops and counts samples for a stalled client while ingest goes on', async () => {
    // A client that never reads its stream.
    const req = get({ host: '127.0.0.1', port: ports.admin, path: '/tap?component=redaction&limit=100000000', headers: { authorization: 'Bearer tap-secret' } });
    const res = await new Promise<import('node:http').IncomingMessage>((r) => req.on('response', r));
    expect(res.statusCode).toBe(200);
    res.pause();
    const big = 'x'.repeat(8192);
    const exp = traceExporter('grpc', ports);
    const dropped = () => d.svc.telemetry.text().then((t) => Number(/sieve_tap_dropped_items_total\{component="redaction"\} (\d+)/.exec(t)?.[1] ?? 0));
    let acked = 0;
    for (let i = 0; i < 400 && (await dropped()) === 0; i++) {
      await exportAll(exp, spans(50, big));
      acked += 50;
    }
    expect(await dropped()).toBeGreaterThan(0);
    // Ingest still answers at once while the client stays stalled.
    await exportAll(exp, spans(50, big));
    acked += 50;
    expect(acked).toBeGreaterThan(50);
    await exp.shutdown();
    req.destroy();
  }, 60_000);
});
