// The embedded default config as a user runs it (`npm start`): OTLP in, and
// what lands in ./data has been through redaction.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exportAll, logExporter, makeSpans, traceExporter } from '../helpers/sdk.js';
import { freePort, ROOT, spawnSieve, tempDir, waitFor } from '../helpers/sieve.js';
import { validateFiles } from '../../src/service/service.js';
import { DEFAULT_CONFIG } from '../../src/cli.js';
import { LoggerProvider, SimpleLogRecordProcessor, InMemoryLogRecordExporter } from '@opentelemetry/sdk-logs';

/** Free loopback ports for the default config's listeners, and the environment that points it at them and at `dir`. */
async function defaultConfigEnv(dir: string) {
  const ports = { grpc: await freePort(), http: await freePort() };
  const metrics = await freePort();
  const env = {
    SIEVE_OTLP_GRPC_ENDPOINT: `127.0.0.1:${ports.grpc}`,
    SIEVE_OTLP_HTTP_ENDPOINT: `127.0.0.1:${ports.http}`,
    SIEVE_METRICS_ENDPOINT: `127.0.0.1:${metrics}`,
    SIEVE_DATA_DIR: join(dir, 'data'),
  };
  return { ports, metrics, env };
}

describe('the default config', () => {
  it('runs with the V8 and allocator settings of `npm start` when started as the `sieve` bin', async () => {
    const start = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
    expect(start).toContain('--max-semi-space-size=${SIEVE_SEMI_SPACE_MIB:-1} ');
    expect(start).toContain('MALLOC_MMAP_THRESHOLD_=${MALLOC_MMAP_THRESHOLD_:-65536} ');
    const dir = tempDir();
    const { env } = await defaultConfigEnv(dir);
    const d = await spawnSieve('', { args: [], dir, env, bin: true });
    try {
      // The shebang's env execs node in place: the child is the daemon itself.
      const cmdline = readFileSync(`/proc/${d.proc.pid}/cmdline`, 'latin1').split('\0');
      expect(cmdline[0]).toMatch(/node$/);
      expect(cmdline).toContain('--max-semi-space-size=1');
      const environ = readFileSync(`/proc/${d.proc.pid}/environ`, 'latin1').split('\0');
      expect(environ).toContain('MALLOC_MMAP_THRESHOLD_=65536');
    } finally {
      expect(await d.kill('SIGTERM')).toBe(0);
    }
  });

  it('runs memory_limiter, redaction and batch in every pipeline', () => {
    const r = validateFiles([DEFAULT_CONFIG], undefined, {});
    expect(r.errors).toEqual([]);
    for (const p of r.config!.pipelines) expect(p.processors).toEqual(['memory_limiter', 'redaction', 'batch']);
  });

  it('writes what it receives to ./data with secrets removed', async () => {
    const dir = tempDir();
    const { ports, metrics, env } = await defaultConfigEnv(dir);
    const d = await spawnSieve('', { args: [], dir, env });
    try {
      const jwt = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkphbmUifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';
      const mem = new InMemoryLogRecordExporter();
      const lp = new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter: mem })] });
      lp.getLogger('app').emit({ body: `login ok for jane.doe@example.com with token ${jwt}`, attributes: { 'db.password': 'hunter2-hunter2' } });
      await exportAll(logExporter('http/protobuf', ports), mem.getFinishedLogRecords());
      await exportAll(traceExporter('grpc', ports), makeSpans(3));
      const file = join(dir, 'data', 'telemetry.jsonl');
      const text = await waitFor(() => {
        try {
          const t = readFileSync(file, 'utf8');
          return t.includes('resourceLogs') && t.includes('resourceSpans') ? t : undefined;
        } catch {
          return undefined;
        }
      });
      expect(text).not.toContain(jwt);
      expect(text).not.toContain('jane.doe@example.com');
      expect(text).not.toContain('hunter2-hunter2');
      expect(text).toContain('[REDACTED:jwt]');
      expect(text).toContain('child-0');
      const metricsText = await (await fetch(`http://127.0.0.1:${metrics}/metrics`)).text();
      expect(metricsText).toMatch(/otelcol_receiver_accepted_spans_total\{[^}]*\} 3/);
    } finally {
      expect(await d.kill('SIGTERM')).toBe(0);
    }
  });
});
