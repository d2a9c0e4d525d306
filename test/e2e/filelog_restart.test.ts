// The filelog receiver in a real daemon with file_storage: killed with
// SIGKILL in the middle of a file and started again, it loses no line and
// sends again at most one batch (max_batch_size records) per file.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Issues } from '../../src/config/schema.js';
import { otlpReceiverSchema } from '../../src/receivers/otlp/config.js';
import { OtlpReceiver } from '../../src/receivers/otlp/receiver.js';
import { nopLogger } from '../../src/service/logger.js';
import { SelfTelemetry } from '../../src/service/telemetry.js';
import type { Telemetry } from '../../src/pdata/telemetry.js';
import { freePort, spawnSieve, tempDir, testHost, waitFor } from '../helpers/sieve.js';

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const LINES = 60_000;
const BATCH = 500;

/** An OTLP/HTTP endpoint that takes its time with each batch (so the daemon is killed mid-file) and records sequence numbers. */
async function slowSink() {
  const seqs: number[] = [];
  const issues = new Issues();
  const cfg = otlpReceiverSchema.parse({ protocols: { http: { endpoint: '127.0.0.1:0' } } }, [], issues);
  const r = new OtlpReceiver({ id: 'otlp/sink', kind: 'receiver', logger: nopLogger, telemetry: new SelfTelemetry(), instanceId: 'sink', now: Date.now }, cfg, {
    logs: {
      mutatesData: false,
      async consume(d: Telemetry) {
        await new Promise((res) => setTimeout(res, 15));
        for (const rl of (d as Telemetry<'logs'>).read()) {
          for (const sl of rl.scopeLogs) {
            for (const rec of sl.logRecords) {
              for (const kv of rec.attributes) if (kv.key === 'seq' && kv.value.type === 'int') seqs.push(Number(kv.value.value));
            }
          }
        }
      },
    },
  });
  await r.start(testHost());
  return { port: r.httpPort!, seqs, stop: () => r.shutdown() };
}

function config(dir: string, sinkPort: number, metricsPort: number): string {
  return `
extensions:
  file_storage:
    directory: ${join(dir, 'storage')}
    create_directory: true
receivers:
  filelog:
    include: [${join(dir, 'logs', '*.log')}]
    start_at: beginning
    storage: file_storage
    max_batch_size: ${BATCH}
    preset: python_json
exporters:
  otlphttp:
    endpoint: http://127.0.0.1:${sinkPort}
    compression: none
    sending_queue:
      enabled: false
    retry_on_failure:
      initial_interval: 50ms
      max_interval: 200ms
service:
  extensions: [file_storage]
  telemetry:
    metrics:
      address: 127.0.0.1:${metricsPort}
  pipelines:
    logs:
      receivers: [filelog]
      exporters: [otlphttp]
`;
}

describe('filelog: kill -9 and restart', () => {
  it('resumes from the stored offsets: no line lost, duplicates within one batch per file', async () => {
    const sink = await slowSink();
    cleanup.push(() => sink.stop());
    const dir = tempDir('sieve-filelog-');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(dir, 'logs'));
    const files = ['a.log', 'b.log'];
    for (const [k, name] of files.entries()) {
      let s = '';
      for (let i = 1; i <= LINES / 2; i++) {
        const seq = k * (LINES / 2) + i;
        s += JSON.stringify({ timestamp: '2024-01-02T03:04:05Z', level: 'info', message: `line ${seq}`, seq, trace_id: '4bf92f3577b34da6a3ce929d0e0e4736' }) + '\n';
      }
      writeFileSync(join(dir, 'logs', name), s);
    }
    const yaml = config(dir, sink.port, await freePort());

    const first = await spawnSieve(yaml, { dir });
    cleanup.push(() => first.kill('SIGKILL'));
    await waitFor(() => sink.seqs.length >= 8_000, { timeoutMs: 30_000, what: 'the first records' });
    await first.kill('SIGKILL');
    const atKill = sink.seqs.length;
    expect(atKill).toBeLessThan(LINES);

    const second = await spawnSieve(config(dir, sink.port, await freePort()), { dir });
    cleanup.push(() => second.kill('SIGKILL'));
    await waitFor(() => new Set(sink.seqs).size === LINES, { timeoutMs: 60_000, what: 'every line after the restart' });
    // Nothing more arrives once every line is in.
    await new Promise((r) => setTimeout(r, 500));

    const counts = new Map<number, number>();
    for (const s of sink.seqs) counts.set(s, (counts.get(s) ?? 0) + 1);
    const missing = Array.from({ length: LINES }, (_, i) => i + 1).filter((s) => !counts.has(s));
    expect(missing).toEqual([]);
    const duplicates = sink.seqs.length - LINES;
    // At most the batch in flight of each file was sent again.
    expect(duplicates).toBeLessThanOrEqual(BATCH * files.length);
    expect(second.stderr()).toContain('filelog resumes from stored offsets');
  }, 120_000);
});
