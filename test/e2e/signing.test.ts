// Signed data survives a hop to a second Sieve: the real OpenTelemetry SDK
// sends to Sieve A (redaction → signing with a batch chain → batch → otlp),
// which forwards to Sieve B (batch that splits → tamper-evident file). What B
// writes verifies with `sieve verify`: every record, A's batch chain and B's
// line chain; tampering with B's output is caught.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listBackups } from '../../src/exporters/file/exporter.js';
import { runVerify } from '../../src/verify/index.js';
import { exportAll, logExporter, makeLogs, makeSpans, traceExporter } from '../helpers/sdk.js';
import { freePort, startSieve, tempDir, waitFor, type RunningSieve } from '../helpers/sieve.js';

const env = { SIEVE_SIGNING_KEY: 'base64:' + Buffer.alloc(32, 0x6b).toString('base64') };

describe('signing across two Sieves', () => {
  const dir = tempDir('sieve-signing-e2e-');
  const out = join(dir, 'b', 'signed.jsonl');
  let a: RunningSieve;
  let b: RunningSieve;
  let aPorts: { grpc: number; http: number };

  beforeAll(async () => {
    const bGrpc = await freePort();
    b = await startSieve(
      `
receivers:
  otlp:
    protocols:
      grpc: { endpoint: 127.0.0.1:${bGrpc} }
processors:
  batch: { timeout: 20ms, send_batch_size: 4, send_batch_max_size: 4 }
exporters:
  file:
    path: ${out}
    append: true
    flush_interval: 0s
    rotation: { max_megabytes: 0.004, max_backups: 100 }
    tamper_evident:
      enabled: true
      keys:
        - id: k1
          secret: \${env:SIEVE_SIGNING_KEY}
      state_directory: ${join(dir, 'b-state')}
service:
  pipelines:
    traces: { receivers: [otlp], processors: [batch], exporters: [file] }
    logs: { receivers: [otlp], processors: [batch], exporters: [file] }
`,
      { env },
    );
    aPorts = { grpc: await freePort(), http: await freePort() };
    a = await startSieve(
      `
receivers:
  otlp:
    protocols:
      grpc: { endpoint: 127.0.0.1:${aPorts.grpc} }
      http: { endpoint: 127.0.0.1:${aPorts.http} }
processors:
  redaction:
    allow_all_keys: true
    blocked_values: ["value-[0-9]+"]
  signing:
    keys:
      - id: k1
        secret: \${env:SIEVE_SIGNING_KEY}
    chain: true
    state_directory: ${join(dir, 'a-state')}
  batch: { timeout: 20ms }
exporters:
  otlp:
    endpoint: 127.0.0.1:${bGrpc}
    tls: { insecure: true }
service:
  pipelines:
    traces: { receivers: [otlp], processors: [redaction, signing, batch], exporters: [otlp] }
    logs: { receivers: [otlp], processors: [redaction, signing, batch], exporters: [otlp] }
`,
      { env },
    );
  });

  afterAll(async () => {
    await a?.stop();
    await b?.stop();
  });

  const files = () => [...listBackups(out), out];
  const lines = () =>
    files()
      .flatMap((f) => readFileSync(f, 'utf8').split('\n'))
      .filter((l) => l !== '');
  const count = (key: 'spans' | 'logRecords') =>
    lines().reduce((n, l) => n + (JSON.parse(l).resourceSpans ?? JSON.parse(l).resourceLogs ?? []).reduce((m: number, r: any) => m + (r.scopeSpans ?? r.scopeLogs ?? []).reduce((k: number, s: any) => k + (s[key]?.length ?? 0), 0), 0), 0);

  it('SDK data redacted and signed by A verifies in B\'s file output', async () => {
    await exportAll(traceExporter('grpc', aPorts), makeSpans(12));
    await exportAll(traceExporter('http/protobuf', aPorts), makeSpans(6));
    await exportAll(logExporter('http/json', aPorts), makeLogs(5));
    await waitFor(() => count('spans') === 18 && count('logRecords') === 5, { what: 'B to write 18 spans and 5 log records' });
    await a.stop();
    await b.stop();

    const all = lines();
    expect(files().length).toBeGreaterThan(1); // rotation happened
    // Redaction ran before signing: the masked value is what was signed.
    expect(all.join('\n')).not.toMatch(/"stringValue":"value-[0-9]+"/);
    expect(all[0]).toContain('"sieve.sig"');
    expect(all[0]).toContain('"sieve.chain.seq"');

    const r = await runVerify(['--key', 'k1=SIEVE_SIGNING_KEY', '--state', join(dir, 'a-state'), '--state', join(dir, 'b-state'), '--from-genesis', ...files()], { env });
    expect(r.output.split('\n').filter((l) => l.startsWith('FAIL'))).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(r.output).toContain('records:       23 checked, 23 verified, 0 not verified');
    expect(r.output).toMatch(/batch chains: {2}2 stream\(s\), \d+ link\(s\), 0 problem\(s\)/);
    expect(r.output).toMatch(/line chains: {3}1 stream\(s\), \d+ line\(s\), 0 problem\(s\)/);

    // Changing one attribute in B's output is caught, with its position.
    const f = files()[files().length - 1]!;
    const text = readFileSync(f, 'utf8');
    const tampered = text.replace(/"GET \/checkout"/, '"GET /admin"');
    if (tampered !== text) {
      writeFileSync(f, tampered);
      const bad = await runVerify(['--key', 'k1=SIEVE_SIGNING_KEY', '-q', ...files()], { env });
      expect(bad.exitCode).toBe(1);
      expect(bad.output).toContain('signature mismatch');
      expect(bad.output).toContain('line content differs from its digest');
    } else {
      const line = text.split('\n')[0]!;
      writeFileSync(f, text.replace(line, line.replace('"sieve.sig"', '"sieve.sig.x"')));
      const bad = await runVerify(['--key', 'k1=SIEVE_SIGNING_KEY', '-q', ...files()], { env });
      expect(bad.exitCode).toBe(1);
    }
  });
});
