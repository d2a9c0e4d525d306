import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Issues } from '../../config/schema.js';
import { logsCodec, tracesCodec } from '../../pdata/codec.js';
import { Telemetry } from '../../pdata/telemetry.js';
import { nopLogger } from '../../service/logger.js';
import { SelfTelemetry } from '../../service/telemetry.js';
import { logs, traces } from '../../../test/helpers/model.js';
import { tempDir, testHost } from '../../../test/helpers/sieve.js';
import { fileSchema, fileExporterFactory } from './factory.js';
import { listBackups } from './exporter.js';
import { validateYaml } from '../../service/service.js';

const settings = (id = 'file') => ({ id, kind: 'exporter' as const, logger: nopLogger, telemetry: new SelfTelemetry(), instanceId: `t-${Math.random()}`, now: Date.now });

function cfg(raw: Record<string, unknown>) {
  const issues = new Issues();
  const c = fileSchema.parse(raw, [], issues);
  expect(issues.list).toEqual([]);
  return c;
}

describe('file exporter', () => {
  it('writes one OTLP/JSON request per line; all signals share the file', async () => {
    const dir = tempDir();
    const path = join(dir, 'out.jsonl');
    const c = cfg({ path, flush_interval: '0s' });
    const s = settings();
    const t = fileExporterFactory.create(s, c, 'traces');
    const l = fileExporterFactory.create(s, c, 'logs');
    await t.start(testHost());
    await l.start(testHost());
    await t.consume(Telemetry.traces(traces(3)));
    await l.consume(Telemetry.logs(logs(2)));
    await t.shutdown();
    await l.shutdown();
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(tracesCodec.decodeJson(lines[0]!)[0]!.scopeSpans[0]!.spans).toHaveLength(3);
    expect(logsCodec.decodeJson(lines[1]!)[0]!.scopeLogs[0]!.logRecords).toHaveLength(2);
  });

  it('proto format: 4-byte big-endian length, then the request', async () => {
    const dir = tempDir();
    const path = join(dir, 'out.bin');
    const e = fileExporterFactory.create(settings(), cfg({ path, format: 'proto' }), 'traces');
    await e.start(testHost());
    await e.consume(Telemetry.traces(traces(4)));
    await e.consume(Telemetry.traces(traces(2)));
    await e.shutdown();
    const buf = readFileSync(path);
    let off = 0;
    const counts: number[] = [];
    while (off < buf.length) {
      const len = buf.readUInt32BE(off);
      counts.push(tracesCodec.scan(buf.subarray(off + 4, off + 4 + len)));
      off += 4 + len;
    }
    expect(counts).toEqual([4, 2]);
  });

  it('rotates by size and keeps max_backups old files', async () => {
    const dir = tempDir();
    const path = join(dir, 'rot.jsonl');
    const e = fileExporterFactory.create(settings(), cfg({ path, flush_interval: '0s', rotation: { max_megabytes: 0.01, max_backups: 2 } }), 'traces');
    await e.start(testHost());
    for (let i = 0; i < 20; i++) await e.consume(Telemetry.traces(traces(5, 5, i * 5)));
    await e.shutdown();
    const backups = listBackups(path);
    expect(backups).toHaveLength(2);
    expect(readdirSync(dir).sort()).toEqual(['rot.jsonl', ...backups.map((b) => b.slice(dir.length + 1))].sort());
    // Backups sort oldest first, even when rotations fall in the same millisecond.
    const firstStart = (f: string) => tracesCodec.decodeJson(readFileSync(f, 'utf8').split('\n')[0]!)[0]!.scopeSpans[0]!.spans[0]!.startTimeUnixNano;
    const starts = [...backups, path].map(firstStart);
    expect([...starts].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(starts);
    for (const f of [...backups, path]) {
      const size = readFileSync(f).length;
      expect(size).toBeLessThanOrEqual(0.01 * 1024 * 1024 + 8192);
      for (const line of readFileSync(f, 'utf8').trim().split('\n')) expect(tracesCodec.decodeJson(line)).toHaveLength(1);
    }
  });

  it('rejects unsupported compression and a missing path, each once', () => {
    const r = validateYaml(`
receivers: { otlp: { protocols: { grpc: } } }
exporters:
  file: { compression: zstd }
  file/b: { path: ./x.jsonl, compression: zstd }
service: { pipelines: { traces: { receivers: [otlp], exporters: [file, file/b] } } }
`);
    expect(r.errors).toEqual([
      'exporters::file::path: is required (config.yaml:4)',
      'exporters::file/b::compression: "zstd" is not supported; leave it empty (config.yaml:5)',
    ]);
  });
});
