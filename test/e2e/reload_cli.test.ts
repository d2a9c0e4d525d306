// The daemon binary: SIGHUP and --watch-config reload the config; print-config
// shows the effective config with secrets masked.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, ROOT, freePort, spawnSieve, tempDir, waitFor } from '../helpers/sieve.js';

const cfg = async (timeout: string) => `
receivers:
  otlp:
    protocols:
      http: { endpoint: "127.0.0.1:${await freePort()}" }
processors:
  batch: { timeout: ${timeout} }
exporters:
  debug:
service:
  telemetry: { metrics: { level: none } }
  pipelines:
    traces: { receivers: [otlp], processors: [batch], exporters: [debug] }
`;

describe('sieve reload triggers', () => {
  it('reloads on SIGHUP and on a config file change with --watch-config', async () => {
    const dir = tempDir();
    const file = join(dir, 'sieve.yaml');
    const first = await cfg('100ms');
    const s = await spawnSieve(first, { dir, args: ['--config', file, '--watch-config'] });
    try {
      writeFileSync(file, first.replace('100ms', '150ms'));
      await waitFor(() => /"trigger":"watch-config"[\s\S]*Config reloaded/.test(s.stderr()), { what: 'a reload from the file watch' });
      writeFileSync(file, first.replace('100ms', 'soon'));
      await waitFor(() => s.stderr().includes('Config reload rejected'), { what: 'the invalid config rejected' });
      expect(s.stderr()).toMatch(/processors::batch::timeout: .*sieve\.yaml:7/);
      writeFileSync(file, first.replace('100ms', '120ms'));
      const n = s.stderr().split('Config reloaded.').length;
      s.proc.kill('SIGHUP');
      await waitFor(() => s.stderr().includes('"trigger":"SIGHUP"') && s.stderr().split('Config reloaded.').length > n, { what: 'a reload on SIGHUP' });
    } finally {
      expect(await s.kill()).toBe(0);
    }
  });

  it('print-config shows defaults and env values, secrets masked', () => {
    const dir = tempDir();
    const file = join(dir, 'sieve.yaml');
    writeFileSync(
      file,
      `
receivers:
  otlp: { protocols: { http: { endpoint: "127.0.0.1:\${env:PORT}" } } }
exporters:
  otlphttp: { endpoint: "http://127.0.0.1:1", headers: { Authorization: "Bearer \${env:TOKEN}" } }
service:
  pipelines:
    traces: { receivers: [otlp], exporters: [otlphttp] }
`,
    );
    const out = execFileSync(process.execPath, [CLI, 'print-config', '--config', file], { env: { ...process.env, PORT: '4999', TOKEN: 'hunter2' }, encoding: 'utf8' });
    expect(out).toContain('endpoint: 127.0.0.1:4999');
    expect(out).toContain('traces_url_path: /v1/traces');
    expect(out).toContain('Authorization: "[REDACTED]"');
    expect(out).not.toContain('hunter2');
  });

  it('sieve test exits 0 on a passing suite and 1 with the diff on a failing one', () => {
    const run = (args: string[]) => {
      try {
        return { code: 0, out: execFileSync(process.execPath, [CLI, 'test', ...args], { encoding: 'utf8' }) };
      } catch (e) {
        const err = e as { status: number; stdout: string };
        return { code: err.status, out: err.stdout };
      }
    };
    const ok = run(['--config', join(ROOT, 'config', 'sidecar.yaml')]);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/✓ a card number in a span attribute is masked before Tempo[\s\S]*3 passed, 0 failed/);
    const dir = tempDir();
    const tests = join(dir, 't.yaml');
    writeFileSync(tests, readFileSync(join(ROOT, 'config', 'tests', 'sidecar.yaml'), 'utf8').replace('"[REDACTED:credit_card]"', '"4111 1111 1111 1111"').replace('file: testdata', `file: ${join(ROOT, 'config', 'tests', 'testdata')}`));
    const bad = run(['--config', join(ROOT, 'config', 'sidecar.yaml'), '--tests', tests]);
    expect(bad.code).toBe(1);
    expect(bad.out).toContain('✗ a card number in a span attribute is masked before Tempo');
    expect(bad.out).toContain('-   payment.card: 4111 1111 1111 1111\n      +   payment.card: "[REDACTED:credit_card]"');
    expect(bad.out).toMatch(/2 passed, 1 failed\n$/);
  });
});
