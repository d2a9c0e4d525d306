// Evidence end to end: spans and log records from the real OpenTelemetry SDK
// through Sieve (redaction -> signing with evidence) to a file and over OTLP
// to a second Sieve; both outputs verify with the public key alone.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SpanKind } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeKeyPair } from '../../src/processors/signing/evidence/keys.js';
import { runVerify } from '../../src/verify/index.js';
import { traceExporter } from '../helpers/sdk.js';
import { freePort, startSieve, tempDir, waitFor, type RunningSieve } from '../helpers/sieve.js';

const SECRET = 'hex:' + Buffer.alloc(32, 0x42).toString('hex');

describe('evidence end to end (SDK -> Sieve redaction+signing+evidence -> file + otlp -> second Sieve)', () => {
  let first: RunningSieve;
  let second: RunningSieve;
  const dir = tempDir('sieve-evidence-e2e-');
  const out1 = join(dir, 'first.jsonl');
  const out2 = join(dir, 'second.jsonl');
  const man = join(dir, 'manifests.jsonl');
  const kp = writeKeyPair(join(dir, 'ev1'));
  const ports = { grpc: 0, http: 0 };

  beforeAll(async () => {
    const p2 = await freePort();
    ports.grpc = await freePort();
    ports.http = await freePort();
    second = await startSieve(`
receivers:
  otlp:
    protocols:
      grpc: { endpoint: 127.0.0.1:${p2} }
exporters:
  file: { path: ${out2}, flush_interval: 0s }
service:
  pipelines:
    traces: { receivers: [otlp], exporters: [file] }
    logs: { receivers: [otlp], exporters: [file] }
`);
    first = await startSieve(`
receivers:
  otlp:
    protocols:
      grpc: { endpoint: 127.0.0.1:${ports.grpc} }
      http: { endpoint: 127.0.0.1:${ports.http} }
processors:
  redaction: { allow_all_keys: true }
  signing:
    keys: [{ id: k1, secret: "${SECRET}" }]
    chain: true
    state_directory: ${join(dir, 'state')}
    evidence:
      kid: ev1
      private_key_file: ${kp.privateFile}
      file: { path: ${man} }
      logs_exporter: otlp
exporters:
  file: { path: ${out1}, flush_interval: 0s }
  otlp: { endpoint: 127.0.0.1:${p2}, tls: { insecure: true } }
service:
  pipelines:
    traces: { receivers: [otlp], processors: [redaction, signing], exporters: [file, otlp] }
    logs/manifests: { receivers: [otlp], exporters: [otlp] }
`);
  });

  afterAll(async () => {
    await first?.stop();
    await second?.stop();
  });

  it('the output of both daemons verifies with the public key alone; a secret is redacted before it is signed', async () => {
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'checkout' }),
      spanProcessors: [new SimpleSpanProcessor(traceExporter('http/protobuf', ports))],
    });
    const tracer = provider.getTracer('io.example.shop', '1.2.0');
    for (let i = 0; i < 20; i++) {
      const sp = tracer.startSpan(`GET /cart/${i}`, { kind: SpanKind.SERVER, attributes: { 'http.status_code': 200, password: 'hunter2hunter2' } });
      sp.end();
    }
    await provider.forceFlush();
    await provider.shutdown();

    const spansIn = (f: string) => {
      try {
        return readFileSync(f, 'utf8').split('\n').filter((l) => l.includes('"resourceSpans"')).reduce((n, l) => n + (l.match(/"spanId"/g)?.length ?? 0), 0);
      } catch {
        return 0;
      }
    };
    await waitFor(() => spansIn(out1) >= 20 && spansIn(out2) >= 20 && readFileSync(out2, 'utf8').includes('sieve.evidence.manifest'), { what: 'spans and manifest records in both outputs', timeoutMs: 20_000 });
    expect(readFileSync(out1, 'utf8')).not.toContain('hunter2hunter2');
    expect(statSync(kp.privateFile).mode & 0o777).toBe(0o600);

    // First daemon's file, with the manifest file sink (leaf lists: item by item).
    const a = await runVerify(['--pubkey', `ev1=${kp.publicFile}`, '--manifests', man, out1]);
    expect(a.output).toContain('result:        VERIFIED');
    expect(a.output).toMatch(/items: +20 checked, 20 in their manifest, 0 problem\(s\)/);
    expect(a.exitCode).toBe(0);
    // Second daemon's file: the manifests travelled as log records beside the spans.
    // The manifests reach it over their own pipeline, possibly after the spans
    // and in any order: the output verifies once the last one has landed.
    let b = await runVerify(['--pubkey', kp.publicFile, out2]);
    await waitFor(
      async () => {
        if (b.exitCode === 0) return true;
        b = await runVerify(['--pubkey', kp.publicFile, out2]);
        return b.exitCode === 0;
      },
      { what: "the second daemon's output to verify", timeoutMs: 10_000 },
    ).catch(() => undefined);
    expect(b.output).toMatch(/items: +20 checked, 20 in their manifest, 0 problem\(s\)/);
    expect(b.exitCode, b.output).toBe(0);
    // A proof for one span from the second daemon's output, checked on its own.
    const sp = JSON.parse(readFileSync(out2, 'utf8').split('\n').find((l) => l.includes('"resourceSpans"'))!).resourceSpans[0].scopeSpans[0].spans[0];
    const proof = await runVerify(['--pubkey', kp.publicFile, '--manifests', man, '--proof', '--trace-id', sp.traceId, '--span-id', sp.spanId, out2]);
    expect(proof.exitCode).toBe(0);
    const pf = join(dir, 'proof.json');
    (await import('node:fs')).writeFileSync(pf, proof.output);
    const check = await runVerify(['--pubkey', kp.publicFile, '--check-proof', pf]);
    expect(check.exitCode).toBe(0);
  });
});
