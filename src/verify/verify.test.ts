import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Consumer, ConsumeResult } from '../component/component.js';
import { Issues } from '../config/schema.js';
import { fileExporterFactory, fileSchema } from '../exporters/file/factory.js';
import { listBackups } from '../exporters/file/exporter.js';
import { logsCodec, tracesCodec } from '../pdata/codec.js';
import { SPAN_KIND_NAMES, STATUS_CODE_NAMES } from '../pdata/json/index.js';
import type { ResourceLogs, ResourceSpans } from '../pdata/model.js';
import { splitTelemetry } from '../pdata/split.js';
import { Telemetry } from '../pdata/telemetry.js';
import { signingSchema } from '../processors/signing/config.js';
import { signingFactory } from '../processors/signing/factory.js';
import { nopLogger } from '../service/logger.js';
import { SelfTelemetry } from '../service/telemetry.js';
import { logs, traces } from '../../test/helpers/model.js';
import { tempDir, testHost } from '../../test/helpers/sieve.js';
import { runVerify } from './index.js';

const SECRET = 'hex:' + Buffer.alloc(32, 0x11).toString('hex');
const OLD_SECRET = 'hex:' + Buffer.alloc(32, 0x22).toString('hex');
const env = { K1: SECRET, K0: OLD_SECRET, WRONG: 'hex:' + Buffer.alloc(32, 0x33).toString('hex'), SHORT: 'abc' };
const verify = (args: string[]) => runVerify(args, { env });

const settings = (id: string, over: Record<string, unknown> = {}) => ({
  id,
  kind: 'processor' as const,
  logger: nopLogger,
  telemetry: new SelfTelemetry(),
  instanceId: 'inst-a',
  pipelineId: 'traces/default',
  now: Date.now,
  ...over,
});

class Collect implements Consumer {
  readonly mutatesData = false;
  out: Telemetry[] = [];
  async consume(d: Telemetry): Promise<ConsumeResult> {
    this.out.push(d);
  }
}

/** Signs batches through the real processor; returns the signed batches. */
async function sign(batches: Telemetry[], opts: { chain?: boolean; signal?: 'traces' | 'logs'; secret?: string; kid?: string } = {}): Promise<Telemetry[]> {
  const issues = new Issues();
  const cfg = signingSchema.parse({ keys: [{ id: opts.kid ?? 'k1', secret: opts.secret ?? SECRET }], chain: opts.chain ?? false, state_directory: tempDir() }, [], issues);
  expect(issues.errors).toEqual([]);
  const sink = new Collect();
  const proc = signingFactory.create(settings('signing'), cfg, opts.signal ?? 'traces', sink);
  await proc.start(testHost());
  for (const b of batches) await proc.consume(b);
  await proc.shutdown();
  return sink.out;
}

const jsonOf = (t: Telemetry) => (t.signal === 'traces' ? tracesCodec.encodeJson(t.read() as ResourceSpans[]) : logsCodec.encodeJson(t.read() as ResourceLogs[]));

/** An OTLP/JSON request turned into a Tempo trace-by-id response, as gogo jsonpb writes it: base64 ids, enum names, defaults omitted. */
function toTempo(otlpJson: string, v2 = false): string {
  const o = JSON.parse(otlpJson) as { resourceSpans: { scopeSpans: { spans: Record<string, any>[] }[] }[] };
  const b64 = (hex: string) => Buffer.from(hex, 'hex').toString('base64');
  for (const rs of o.resourceSpans) {
    for (const ss of rs.scopeSpans) {
      for (const sp of ss.spans) {
        sp.traceId = b64(sp.traceId);
        sp.spanId = b64(sp.spanId);
        if (sp.parentSpanId) sp.parentSpanId = b64(sp.parentSpanId);
        if (sp.kind) sp.kind = SPAN_KIND_NAMES[sp.kind];
        const st = sp.status ?? {};
        sp.status = { ...(st.message ? { message: st.message } : {}), ...(st.code ? { code: STATUS_CODE_NAMES[st.code] } : {}) };
        for (const l of sp.links ?? []) {
          l.traceId = b64(l.traceId);
          l.spanId = b64(l.spanId);
        }
      }
    }
  }
  return JSON.stringify(v2 ? { trace: { resourceSpans: o.resourceSpans } } : { batches: o.resourceSpans });
}

function firstSeq(file: string): number {
  return JSON.parse(readFileSync(file, 'utf8').split('\n')[0]!)['sieve.chain'].seq;
}

function lines(out: string, prefix: string): string[] {
  return out.split('\n').filter((l) => l.startsWith(prefix));
}

describe('sieve verify: OTLP files', () => {
  let dir: string;
  let signed: Telemetry[];
  beforeAll(async () => {
    dir = tempDir();
    signed = await sign([Telemetry.traces(traces(4, 20))]);
  });

  it('verifies an OTLP/JSON file: one line per span and a summary', async () => {
    const f = join(dir, 'traces.json');
    writeFileSync(f, JSON.stringify(JSON.parse(jsonOf(signed[0]!)), null, 2));
    const r = await verify(['--key', 'k1=K1', f]);
    expect(r.exitCode).toBe(0);
    expect(lines(r.output, 'OK')).toHaveLength(4);
    expect(lines(r.output, 'OK')[0]).toMatch(new RegExp(`^OK    ${f} resourceSpans\\[0\\]\\.scopeSpans\\[0\\]\\.spans\\[0\\] span [0-9a-f]{32}/[0-9a-f]{16} "GET /api/items/0" kid=k1$`));
    expect(r.output).toContain('records:       4 checked, 4 verified, 0 not verified');
    expect(r.output).toContain('result:        VERIFIED');
  });

  it('verifies protobuf files (traces and logs), gzip included', async () => {
    const t = join(dir, 'traces.pb');
    writeFileSync(t, signed[0]!.toProto());
    const [l] = await sign([Telemetry.logs(logs(3))], { signal: 'logs' });
    const lf = join(dir, 'logs.pb.gz');
    writeFileSync(lf, gzipSync(l!.toProto()));
    const r = await verify(['--key', 'K1', t, lf]);
    expect(r.exitCode).toBe(0);
    expect(r.output).toContain('records:       7 checked, 7 verified');
    const forced = await verify(['--key', 'K1', '--signal', 'logs', lf]);
    expect(forced.exitCode).toBe(0);
  });

  it('names the position and reason of a tampered span', async () => {
    const doc = JSON.parse(jsonOf(signed[0]!));
    doc.resourceSpans[0].scopeSpans[0].spans[2].endTimeUnixNano = '1700000000999999999';
    const f = join(dir, 'tampered.json');
    writeFileSync(f, JSON.stringify(doc));
    const r = await verify(['--key', 'k1=K1', '-q', f]);
    expect(r.exitCode).toBe(1);
    expect(lines(r.output, 'OK')).toEqual([]);
    const fails = lines(r.output, 'FAIL');
    expect(fails).toHaveLength(1);
    expect(fails[0]).toContain(`${f} resourceSpans[0].scopeSpans[0].spans[2] span `);
    expect(fails[0]).toContain('signature mismatch');
    expect(r.output).toContain('3 verified, 1 not verified (1 mismatch)');
    expect(r.output).toContain('result:        FAILED');
  });

  it('keys: a wrong key fails, a rotated key verifies old data', async () => {
    const f = join(dir, 'traces.pb');
    writeFileSync(f, signed[0]!.toProto());
    expect((await verify(['--key', 'k1=WRONG', f])).exitCode).toBe(1);
    expect((await verify(['--key', 'k9=K1', f])).output).toContain('no key for key id "k1"');
    const [newer] = await sign([Telemetry.traces(traces(2))], { secret: OLD_SECRET, kid: 'k0' });
    const g = join(dir, 'newer.pb');
    writeFileSync(g, newer!.toProto());
    const keyFile = join(dir, 'keys.yaml');
    writeFileSync(keyFile, `keys:\n  - id: k0\n    secret: "${OLD_SECRET}"\n  - id: k1\n    secret: "${SECRET}"\n`);
    const r = await verify(['--key-file', keyFile, f, g]);
    expect(r.exitCode).toBe(0);
    expect(r.output).toContain('kid=k0');
    expect(r.output).toContain('kid=k1');
  });

  it('usage errors exit 2', async () => {
    for (const args of [[], ['x.json'], ['--key', 'NOPE', 'x.json'], ['--key', 'SHORT', 'x.json'], ['--key', 'k1=K1'], ['--bogus', 'x'], ['--signal', 'spans', '--key', 'K1', 'x']]) {
      const r = await verify(args);
      expect(r.exitCode, args.join(' ')).toBe(2);
      expect(r.output).toMatch(/^sieve verify: /);
    }
    expect((await verify(['--help'])).exitCode).toBe(0);
  });

  it('unreadable input and empty input fail', async () => {
    const r = await verify(['--key', 'K1', join(dir, 'missing.json')]);
    expect(r.exitCode).toBe(1);
    expect(r.output).toContain('cannot read: ENOENT');
    const e = join(dir, 'empty.json');
    writeFileSync(e, '{"resourceSpans":[]}');
    expect((await verify(['--key', 'K1', e])).output).toContain('nothing to verify');
  });
});

describe('sieve verify: Tempo trace-by-id responses', () => {
  it('verifies spans from /api/traces and /api/v2/traces responses (base64 ids, enum names)', async () => {
    const rs = traces(3, 5);
    rs[0]!.scopeSpans[0]!.spans[0]!.links.push({ traceId: Buffer.alloc(16, 7), spanId: Buffer.alloc(8, 8), traceState: '', attributes: [], droppedAttributesCount: 0, flags: 0 });
    const [signed] = await sign([Telemetry.traces(rs)], { chain: true });
    const dir = tempDir();
    const v1 = join(dir, 'trace-v1.json');
    const v2 = join(dir, 'trace-v2.json');
    writeFileSync(v1, toTempo(jsonOf(signed!)));
    writeFileSync(v2, toTempo(jsonOf(signed!), true));
    expect(readFileSync(v1, 'utf8')).toContain('"kind":"SPAN_KIND_SERVER"');
    expect(readFileSync(v1, 'utf8')).toContain('"status":{"code":"STATUS_CODE_ERROR"}');
    const r = await verify(['--key', 'k1=K1', v1, v2]);
    expect(r.output).toContain('Tempo response: checking record signatures and chain link MACs only');
    expect(r.exitCode).toBe(0);
    expect(lines(r.output, 'OK')).toHaveLength(6);
    // A Tempo response holds one trace: the batch chain is incomplete on purpose.
    const partial = JSON.parse(readFileSync(v1, 'utf8'));
    partial.batches[0].scopeSpans[0].spans.pop();
    writeFileSync(v1, JSON.stringify(partial));
    expect((await verify(['--key', 'k1=K1', v1])).exitCode).toBe(0);
    expect((await verify(['--key', 'k1=K1', '--chain', v1])).output).toContain('1 of 3 records missing');
    // Tampering shows.
    partial.batches[0].scopeSpans[0].spans[0].name = 'renamed';
    writeFileSync(v1, JSON.stringify(partial));
    const bad = await verify(['--key', 'k1=K1', v1]);
    expect(bad.exitCode).toBe(1);
    expect(lines(bad.output, 'FAIL')[0]).toContain(`${v1} batches[0].scopeSpans[0].spans[0] span `);
  });
});

// ---------------------------------------------------------------- file exporter output

interface Output {
  dir: string;
  path: string;
  state: string;
  files(): string[];
}

/** Signs (chain: true) and writes `n` batches of 2 spans through the tamper-evident file exporter, rotating often. */
async function fileOutput(n: number, rotateBytes = 4000): Promise<Output> {
  const dir = tempDir();
  const path = join(dir, 'out', 'traces.jsonl');
  const state = join(dir, 'state');
  const issues = new Issues();
  const cfg = fileSchema.parse(
    {
      path,
      append: true,
      flush_interval: '0s',
      rotation: { max_megabytes: rotateBytes / (1024 * 1024), max_backups: 100 },
      tamper_evident: { enabled: true, keys: [{ id: 'k1', secret: SECRET }], state_directory: state },
    },
    [],
    issues,
  );
  fileExporterFactory.validate!(cfg, [], issues);
  expect(issues.errors).toEqual([]);
  const batches: Telemetry[] = [];
  for (let i = 0; i < n; i++) batches.push(Telemetry.traces(traces(2, 5, i * 2)));
  const signed = await sign(batches, { chain: true });
  const exp = fileExporterFactory.create({ ...settings('file/audit'), kind: 'exporter' }, cfg, 'traces');
  await exp.start(testHost());
  for (const b of signed) await exp.consume(b);
  await exp.shutdown();
  return { dir, path, state, files: () => [...listBackups(path), path] };
}

describe('sieve verify: file exporter output (tamper-evident, rotated)', () => {
  it('verifies the chain across rotated files, given as files or as their directory', async () => {
    const o = await fileOutput(8);
    expect(o.files().length).toBeGreaterThan(2);
    const oldest = o.files().sort((a, b) => firstSeq(a) - firstSeq(b))[0]!;
    const first = readFileSync(oldest, 'utf8').split('\n')[0]!;
    expect(JSON.parse(first)['sieve.chain']).toMatchObject({ v: 1, seq: 1, prev: '', kid: 'k1', stream: 'inst-a/file/audit' });
    const r = await verify(['--key', 'k1=K1', '--state', o.state, '--from-genesis', ...o.files()]);
    expect(r.output).not.toContain('FAIL');
    expect(r.exitCode).toBe(0);
    expect(r.output).toContain('records:       16 checked, 16 verified');
    expect(r.output).toContain('batch chains:  1 stream(s), 8 link(s), 0 problem(s)');
    expect(r.output).toContain('line chains:   1 stream(s), 8 line(s), 0 problem(s)');
    expect((await verify(['--key', 'k1=K1', join(o.dir, 'out')])).exitCode).toBe(0);
  });

  it('a restart continues the line chain in the same file', async () => {
    const o = await fileOutput(2, 1 << 20);
    // Second run: same config, same state.
    const issues = new Issues();
    const cfg = fileSchema.parse({ path: o.path, append: true, flush_interval: '0s', tamper_evident: { enabled: true, keys: [{ id: 'k1', secret: SECRET }], state_directory: o.state } }, [], issues);
    const exp = fileExporterFactory.create({ ...settings('file/audit'), kind: 'exporter' }, cfg, 'traces');
    await exp.start(testHost());
    await exp.consume((await sign([Telemetry.traces(traces(1))]))[0]!);
    await exp.shutdown();
    const ls = readFileSync(o.path, 'utf8').trim().split('\n');
    expect(ls.map((l) => JSON.parse(l)['sieve.chain'].seq)).toEqual([1, 2, 3]);
    expect((await verify(['--key', 'k1=K1', '--state', o.state, o.path])).exitCode).toBe(0);
  });

  /** All lines of all files, with a way to write them back. */
  function edit(o: Output) {
    const files = o.files();
    const content = files.map((f) => readFileSync(f, 'utf8').split('\n').filter((l) => l !== ''));
    return {
      files,
      content,
      save: () => files.forEach((f, i) => writeFileSync(f, content[i]!.map((l) => l + '\n').join(''))),
    };
  }

  it('truncation: a cut-short last line and lines cut off at the end are named', async () => {
    const o = await fileOutput(6);
    const e = edit(o);
    const last = e.files.length - 1;
    // Cut the last line of the newest file in half.
    const lastLines = e.content[last]!;
    const cut = lastLines[lastLines.length - 1]!;
    writeFileSync(e.files[last]!, lastLines.slice(0, -1).map((l) => l + '\n').join('') + cut.slice(0, cut.length / 2));
    let r = await verify(['--key', 'k1=K1', '-q', '--state', o.state, ...e.files]);
    expect(r.exitCode).toBe(1);
    expect(r.output).toContain(`FAIL  ${e.files[last]}:${lastLines.length}: not valid JSON: the line is cut short (truncated file or interrupted write)`);
    expect(r.output).toMatch(/line chain stream inst-a\/file\/audit ends at seq 5 \(.*\) but .* records seq 6: 1 line\(s\) truncated after/);
    // Whole lines removed at the end: found against the state file.
    e.content[last] = lastLines.slice(0, -1);
    e.save();
    r = await verify(['--key', 'k1=K1', '-q', '--state', o.state, ...e.files]);
    expect(r.exitCode).toBe(1);
    expect(r.output).toContain('records seq 6: 1 line(s) truncated after');
    expect(r.output).toContain('chain stream inst-a/traces/default ends at seq 5');
  });

  it('reordering: two lines swapped are named', async () => {
    const o = await fileOutput(4, 1 << 20);
    const e = edit(o);
    const c = e.content[0]!;
    [c[1], c[2]] = [c[2]!, c[1]!];
    e.save();
    const r = await verify(['--key', 'k1=K1', '-q', ...e.files]);
    expect(r.exitCode).toBe(1);
    expect(lines(r.output, 'FAIL')).toEqual([`FAIL  ${o.path}:3: line chain stream inst-a/file/audit seq 2 comes after seq 3 at ${o.path}:2: lines reordered`]);
  });

  it('deletion: a removed line and a removed rotated file are named', async () => {
    const o = await fileOutput(6, 1 << 20);
    const e = edit(o);
    e.content[0]!.splice(2, 1); // seq 3
    e.save();
    let r = await verify(['--key', 'k1=K1', '-q', ...e.files]);
    expect(r.exitCode).toBe(1);
    expect(r.output).toContain(`FAIL  line chain stream inst-a/file/audit: seq 3 missing between ${o.path}:2 (seq 2) and ${o.path}:3 (seq 4): lines deleted`);
    expect(r.output).toContain(`FAIL  chain stream inst-a/traces/default: seq 3 missing between ${o.path}:2 resourceSpans[0] (seq 2) and ${o.path}:3 resourceSpans[0] (seq 4): batches deleted`);

    const rot = await fileOutput(8);
    // Backups within one millisecond get suffixes that do not sort by age: pick a middle file by its content.
    const files = rot.files().sort((a, b) => firstSeq(a) - firstSeq(b));
    expect(files.length).toBeGreaterThan(3);
    unlinkSync(files[1]!);
    r = await verify(['--key', 'k1=K1', '-q', ...files.filter((_, i) => i !== 1)]);
    expect(r.exitCode).toBe(1);
    expect(r.output).toMatch(/FAIL {2}line chain stream inst-a\/file\/audit: seq \d+(-\d+)? missing between .* lines deleted/);
  });

  it('deletion of one span inside a batch is found by the batch digest', async () => {
    const o = await fileOutput(3, 1 << 20);
    const e = edit(o);
    const doc = JSON.parse(e.content[0]![1]!);
    doc.resourceSpans[0].scopeSpans[0].spans.pop();
    delete doc['sieve.chain'];
    e.content[0]![1] = JSON.stringify(doc);
    e.save();
    const r = await verify(['--key', 'k1=K1', '-q', ...e.files]);
    expect(r.exitCode).toBe(1);
    expect(r.output).toContain(`FAIL  ${o.path}:2: line has no sieve.chain link in a chained file (inserted line?)`);
    expect(r.output).toContain(`FAIL  ${o.path}:2 resourceSpans[0]: chain stream inst-a/traces/default seq 2: batch content does not match its digest: 1 of 2 records missing`);
  });

  it('insertion: a duplicated line, a line without a link and a forged line are named', async () => {
    const o = await fileOutput(3, 1 << 20);
    const e = edit(o);
    const c = e.content[0]!;
    const forged = JSON.parse(c[0]!);
    forged['sieve.chain'].seq = 9;
    c.splice(1, 0, c[0]!); // duplicate of line 1 at line 2
    c.push(JSON.stringify({ resourceSpans: [] })); // no link
    c.push(JSON.stringify(forged)); // forged link
    e.save();
    const r = await verify(['--key', 'k1=K1', '-q', ...e.files]);
    expect(r.exitCode).toBe(1);
    const fails = lines(r.output, 'FAIL');
    expect(fails).toContain(`FAIL  ${o.path}:2: line chain stream inst-a/file/audit seq 1 comes after seq 1 at ${o.path}:1: lines reordered or duplicated`);
    expect(fails).toContain(`FAIL  ${o.path}:2: line chain stream inst-a/file/audit seq 1 appears again (first at ${o.path}:1): duplicated or inserted line`);
    expect(fails).toContain(`FAIL  ${o.path}:5: line has no sieve.chain link in a chained file (inserted line?)`);
    expect(fails).toContain(`FAIL  ${o.path}:6: line chain stream inst-a/file/audit seq 9: line content differs from its digest (line altered)`);
  });

  it('a corrupted first line is named; the other lines are still checked', async () => {
    const o = await fileOutput(3, 1 << 20);
    const e = edit(o);
    e.content[0]![0] = '#' + e.content[0]![0]!.slice(1);
    e.save();
    const r = await verify(['--key', 'k1=K1', ...e.files]);
    expect(r.exitCode).toBe(1);
    expect(r.output).toContain(`FAIL  ${o.path}:1: not valid JSON (corrupted line)`);
    expect(lines(r.output, 'OK')).toHaveLength(4);
    expect(r.output).toContain('NOTE  line chain stream inst-a/file/audit starts at seq 2');
  });

  it('a batch split after signing and spread over lines still verifies', async () => {
    const [signed] = await sign([Telemetry.traces(traces(7))], { chain: true });
    const parts = splitTelemetry(signed!, 2);
    const dir = tempDir();
    const f = join(dir, 'split.jsonl');
    writeFileSync(f, parts.map((p) => jsonOf(p) + '\n').reverse().join(''));
    const r = await verify(['--key', 'k1=K1', f]);
    expect(r.exitCode).toBe(0);
    expect(r.output).toContain('batch chains:  1 stream(s), 1 link(s), 0 problem(s)');
    // Dropping one part shows.
    writeFileSync(f, parts.slice(1).map((p) => jsonOf(p) + '\n').join(''));
    const bad = await verify(['--key', 'k1=K1', f]);
    expect(bad.output).toContain('2 of 7 records missing');
  });

  it('metrics are covered by the line chain only', async () => {
    const dir = tempDir();
    const path = join(dir, 'm.jsonl');
    const issues = new Issues();
    const cfg = fileSchema.parse({ path, append: true, flush_interval: '0s', tamper_evident: { enabled: true, keys: [{ id: 'k1', secret: SECRET }], state_directory: dir } }, [], issues);
    const exp = fileExporterFactory.create({ ...settings('file'), kind: 'exporter' }, cfg, 'metrics');
    await exp.start(testHost());
    const { gauges } = await import('../../test/helpers/model.js');
    await exp.consume(Telemetry.metrics(gauges(3)));
    await exp.shutdown();
    const r = await verify(['--key', 'k1=K1', path]);
    expect(r.exitCode).toBe(0);
    expect(r.output).toContain('1 metric(s) covered by the line chain');
    // Without the link, nothing vouches for them.
    const plain = join(dir, 'plain.jsonl');
    const line = readFileSync(path, 'utf8');
    writeFileSync(plain, line.slice(0, line.lastIndexOf(',"sieve.chain"')) + '}\n');
    expect((await verify(['--key', 'k1=K1', plain])).exitCode).toBe(1);
  });

  it('config: tamper_evident needs format json and append', () => {
    const issues = new Issues();
    const cfg = fileSchema.parse({ path: '/tmp/x', format: 'proto', tamper_evident: { enabled: true, keys: [{ id: 'k1', secret: SECRET }] } }, ['exporters', 'file'], issues);
    fileExporterFactory.validate!(cfg, ['exporters', 'file'], issues);
    expect(issues.errors.map((i) => [i.path.join('::'), i.message])).toEqual([
      ['exporters::file::format', 'must be "json" when tamper_evident is enabled'],
      ['exporters::file::append', 'must be true when tamper_evident is enabled: a restart must not truncate the chained file'],
    ]);
    const noKeys = new Issues();
    const c2 = fileSchema.parse({ path: '/tmp/x', append: true, tamper_evident: { enabled: true } }, ['exporters', 'file'], noKeys);
    fileExporterFactory.validate!(c2, ['exporters', 'file'], noKeys);
    expect(noKeys.errors.map((i) => [i.path.join('::'), i.message])).toEqual([['exporters::file::tamper_evident::keys', 'no keys configured: set key_file or keys']]);
  });
});

describe('sieve verify: batch chain voids', () => {
  it('a refused batch is reported as not delivered, not as deleted', async () => {
    const issues = new Issues();
    const cfg = signingSchema.parse({ keys: [{ id: 'k1', secret: SECRET }], chain: true, state_directory: tempDir() }, [], issues);
    let fail = false;
    const out: Telemetry[] = [];
    const proc = signingFactory.create(settings('signing'), cfg, 'traces', {
      mutatesData: false,
      consume: async (d) => {
        if (fail) throw new Error('refused');
        out.push(d);
      },
    });
    await proc.start(testHost());
    await proc.consume(Telemetry.traces(traces(1)));
    fail = true;
    await expect(proc.consume(Telemetry.traces(traces(1)))).rejects.toThrow();
    fail = false;
    await proc.consume(Telemetry.traces(traces(1)));
    await proc.shutdown();
    const f = join(tempDir(), 'v.jsonl');
    writeFileSync(f, out.map((t) => jsonOf(t) + '\n').join(''));
    const r = await verify(['--key', 'k1=K1', f]);
    expect(r.exitCode).toBe(0);
    expect(r.output).toContain('NOTE  chain stream inst-a/traces/default: seq 2 not delivered');
  });
});
