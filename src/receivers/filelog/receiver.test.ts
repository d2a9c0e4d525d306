// The filelog receiver on real files in a temp dir: reading, rotation while a
// writer appends, truncation, multiline, encodings, gzip, bad files and
// checkpoints in a real file_storage.
import { appendFileSync, closeSync, copyFileSync, openSync, readdirSync, readlinkSync, renameSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { permanentError, unavailableError } from '../../component/errors.js';
import { Issues } from '../../config/schema.js';
import { fileStorageSchema } from '../../extensions/file_storage/config.js';
import { FileStorage } from '../../extensions/file_storage/storage.js';
import { nopLogger } from '../../service/logger.js';
import { SelfTelemetry } from '../../service/telemetry.js';
import { tempDir, waitFor } from '../../../test/helpers/sieve.js';
import { attrs, collector, hostWith, makeReceiver, plain } from './testutil.js';
import type { FilelogReceiver } from './receiver.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function start(raw: Record<string, unknown>, opts: { fail?: () => Error | undefined; host?: ReturnType<typeof hostWith>; telemetry?: SelfTelemetry } = {}) {
  const sink = collector({ fail: opts.fail });
  const { r, telemetry } = makeReceiver({ poll_interval: '20ms', force_flush_period: '100ms', ...raw }, sink, { telemetry: opts.telemetry });
  cleanup.push(() => r.shutdown());
  return { sink, r, telemetry, go: () => r.start(opts.host ?? hostWith()) };
}

/** The paths this process holds open (Linux). */
function openFiles(): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      out.push(readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // closed while listing
    }
  }
  return out;
}

const bodies = (sink: ReturnType<typeof collector>) => sink.records.map((r) => plain(r.body) as string);

function seqLine(i: number): string {
  return `seq=${String(i).padStart(7, '0')} lorem ipsum dolor sit amet payload`;
}

/** Every sequence number 1..n arrives exactly once. */
function expectExactlyOnce(lines: string[], n: number): void {
  const counts = new Map<number, number>();
  for (const l of lines) {
    const m = /^seq=(\d+) /.exec(l);
    expect(m, `unexpected line ${JSON.stringify(l)}`).not.toBeNull();
    const s = Number(m![1]);
    counts.set(s, (counts.get(s) ?? 0) + 1);
  }
  const missing: number[] = [];
  const dup: number[] = [];
  for (let i = 1; i <= n; i++) {
    const c = counts.get(i) ?? 0;
    if (c === 0) missing.push(i);
    if (c > 1) dup.push(i);
  }
  expect({ missing: missing.slice(0, 10), dup: dup.slice(0, 10), total: lines.length }).toEqual({ missing: [], dup: [], total: n });
}

/** Appends numbered lines at about `perSec` lines a second, in 10 ms steps; rotate() runs between two writes. */
function writer(path: string, perSec: number) {
  let fd = openSync(path, 'a');
  let seq = 0;
  const perTick = Math.max(1, Math.round(perSec / 100));
  const timer = setInterval(() => {
    let s = '';
    for (let i = 0; i < perTick; i++) s += seqLine(++seq) + '\n';
    writeSync(fd, s);
  }, 10);
  return {
    get seq() {
      return seq;
    },
    reopen() {
      closeSync(fd);
      fd = openSync(path, 'a');
    },
    stop() {
      clearInterval(timer);
      closeSync(fd);
    },
  };
}

describe('filelog receiver', () => {
  it('reads lines with file attributes, honours start_at and exclude', async () => {
    const dir = tempDir('filelog-');
    writeFileSync(join(dir, 'old.log'), 'before start\n');
    writeFileSync(join(dir, 'skip.log'), 'excluded\n');
    const { sink, go } = start({ include: [join(dir, '*.log')], exclude: [join(dir, 'skip.log')], start_at: 'end', include_file_path: true });
    await go();
    // start_at applies to the files the first poll finds, so the test writes only after that poll has
    // ended: a file created once old.log is open is found by a later poll and read from its start.
    await waitFor(() => openFiles().includes(join(dir, 'old.log')));
    writeFileSync(join(dir, 'probe.log'), 'probe\n');
    await waitFor(() => bodies(sink).includes('probe'));
    appendFileSync(join(dir, 'old.log'), 'after start\r\n');
    writeFileSync(join(dir, 'new.log'), 'a new file is read from its start\n');
    await waitFor(() => sink.records.length >= 3);
    expect(bodies(sink).filter((b) => b !== 'probe').sort()).toEqual(['a new file is read from its start', 'after start']);
    const r = sink.records.find((x) => plain(x.body) === 'after start')!;
    expect(attrs(r)).toEqual({ 'log.file.name': 'old.log', 'log.file.path': join(dir, 'old.log') });
    expect(r.observedTimeUnixNano).toBeGreaterThan(0n);
  });

  it('counts accepted records under the Collector metric name', async () => {
    const dir = tempDir('filelog-');
    writeFileSync(join(dir, 'a.log'), 'one\ntwo\nthree\n');
    const { sink, go, telemetry } = start({ include: [join(dir, 'a.log')], start_at: 'beginning' });
    await go();
    await waitFor(() => sink.records.length === 3);
    expect(await telemetry.value('otelcol_receiver_accepted_log_records', { receiver: 'filelog', transport: 'file' })).toBe(3);
  });

  it('cuts a line over max_log_size and counts it', async () => {
    const dir = tempDir('filelog-');
    const long = 'x'.repeat(5000);
    writeFileSync(join(dir, 'a.log'), `short\n${long}\nafter\n${'y'.repeat(300_000)}\nend\n`);
    const { sink, go, telemetry } = start({ include: [join(dir, 'a.log')], start_at: 'beginning', max_log_size: 1000 });
    await go();
    await waitFor(() => sink.records.length === 5);
    expect(bodies(sink)).toEqual(['short', 'x'.repeat(1000), 'after', 'y'.repeat(1000), 'end']);
    expect(await telemetry.value('sieve_receiver_filelog_bad_records', { receiver: 'filelog', reason: 'truncated' })).toBe(2);
  });

  it('makes one record of a multiline stack trace, flushing the last one after force_flush_period', async () => {
    const dir = tempDir('filelog-');
    const trace = [
      '2024-01-02 03:04:05 ERROR request failed',
      'java.lang.IllegalStateException: boom',
      '\tat com.example.Foo.bar(Foo.java:10)',
      '\tat com.example.Main.main(Main.java:5)',
    ];
    writeFileSync(join(dir, 'a.log'), ['2024-01-02 03:04:04 INFO starting', ...trace, '2024-01-02 03:04:06 INFO last one', '  continued'].join('\n') + '\n');
    const { sink, go } = start({ include: [join(dir, 'a.log')], start_at: 'beginning', multiline: { line_start_pattern: '^\\d{4}-\\d{2}-\\d{2}' } });
    await go();
    await waitFor(() => sink.records.length === 3);
    expect(bodies(sink)).toEqual(['2024-01-02 03:04:04 INFO starting', trace.join('\n'), '2024-01-02 03:04:06 INFO last one\n  continued']);
  });

  it('ends multiline records at line_end_pattern', async () => {
    const dir = tempDir('filelog-');
    writeFileSync(join(dir, 'a.log'), 'part one\npart two;\nsingle;\ndangling');
    const { sink, go } = start({ include: [join(dir, 'a.log')], start_at: 'beginning', multiline: { line_end_pattern: ';$' } });
    await go();
    await waitFor(() => sink.records.length === 3);
    expect(bodies(sink)).toEqual(['part one\npart two;', 'single;', 'dangling']);
  });

  it('reads utf-16le', async () => {
    const dir = tempDir('filelog-');
    writeFileSync(join(dir, 'a.log'), Buffer.from('héllo\r\nwörld\n', 'utf16le'));
    const { sink, go } = start({ include: [join(dir, 'a.log')], start_at: 'beginning', encoding: 'utf-16le' });
    await go();
    await waitFor(() => sink.records.length === 2);
    expect(bodies(sink)).toEqual(['héllo', 'wörld']);
  });

  it('skips a binary file, counting it once, and keeps reading the others', async () => {
    const dir = tempDir('filelog-');
    writeFileSync(join(dir, 'bin.log'), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 0, 1, 2, 10, 0, 0]));
    writeFileSync(join(dir, 'ok.log'), 'fine\n');
    const { sink, go, telemetry } = start({ include: [join(dir, '*.log')], start_at: 'beginning' });
    await go();
    await waitFor(() => sink.records.length === 1);
    appendFileSync(join(dir, 'bin.log'), Buffer.from([0, 0, 10]));
    appendFileSync(join(dir, 'ok.log'), 'still fine\n');
    await waitFor(() => sink.records.length === 2);
    expect(bodies(sink)).toEqual(['fine', 'still fine']);
    expect(await telemetry.value('sieve_receiver_filelog_file_errors', { receiver: 'filelog', reason: 'binary' })).toBe(1);
  });

  it('counts a file deleted while being read and keeps going', async () => {
    const dir = tempDir('filelog-');
    writeFileSync(join(dir, 'a.log'), 'one\n');
    const { sink, go, telemetry } = start({ include: [join(dir, '*.log')], start_at: 'beginning' });
    await go();
    await waitFor(() => sink.records.length === 1);
    appendFileSync(join(dir, 'a.log'), 'two\n');
    rmSync(join(dir, 'a.log'));
    await waitFor(async () => (await telemetry.value('sieve_receiver_filelog_file_errors', { receiver: 'filelog', reason: 'deleted' })) === 1);
    writeFileSync(join(dir, 'b.log'), 'three\n');
    await waitFor(() => sink.records.length === 3);
    expect(bodies(sink)).toEqual(['one', 'two', 'three']);
  });

  it('retries a batch the pipeline refuses with a retryable error, without losing or repeating lines', async () => {
    const dir = tempDir('filelog-');
    writeFileSync(join(dir, 'a.log'), 'one\ntwo\n');
    let refusals = 3;
    const { sink, go, telemetry } = start(
      { include: [join(dir, 'a.log')], start_at: 'beginning', retry_on_failure: { initial_interval: '10ms', max_interval: '20ms' } },
      { fail: () => (refusals-- > 0 ? unavailableError('busy', 10) : undefined) },
    );
    await go();
    await waitFor(() => sink.records.length === 2);
    appendFileSync(join(dir, 'a.log'), 'three\n');
    await waitFor(() => sink.records.length === 3);
    expect(bodies(sink)).toEqual(['one', 'two', 'three']);
    expect(await telemetry.value('otelcol_receiver_accepted_log_records', { receiver: 'filelog', transport: 'file' })).toBe(3);
  });

  it('counts a batch the pipeline refuses for good as refused and reads on', async () => {
    const dir = tempDir('filelog-');
    writeFileSync(join(dir, 'a.log'), 'rejected\n');
    let refuse = true;
    const { sink, go, telemetry } = start({ include: [join(dir, 'a.log')], start_at: 'beginning' }, { fail: () => (refuse ? permanentError('no') : undefined) });
    await go();
    const labels = { receiver: 'filelog', transport: 'file' };
    await waitFor(async () => (await telemetry.value('otelcol_receiver_refused_log_records', labels)) === 1);
    refuse = false;
    appendFileSync(join(dir, 'a.log'), 'accepted\n');
    await waitFor(() => sink.records.length === 1);
    expect(bodies(sink)).toEqual(['accepted']);
    expect(await telemetry.value('otelcol_receiver_accepted_log_records', labels)).toBe(1);
  });

  it('shuts down promptly while the pipeline keeps refusing, keeping the offset', async () => {
    const dir = tempDir('filelog-');
    writeFileSync(join(dir, 'a.log'), 'waiting\n');
    let attempts = 0;
    const { r, go } = start({ include: [join(dir, 'a.log')], start_at: 'beginning', retry_on_failure: { initial_interval: '10s' } }, { fail: () => (attempts++, unavailableError('busy')) });
    await go();
    await waitFor(() => attempts >= 1);
    const t0 = Date.now();
    await r.shutdown();
    await r.shutdown();
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(r.offsets()).toEqual([{ path: join(dir, 'a.log'), offset: 0 }]);
  });

  it('reads more files than max_concurrent_files, in turns', async () => {
    const dir = tempDir('filelog-');
    for (let i = 0; i < 7; i++) writeFileSync(join(dir, `f${i}.log`), `file ${i}\n`);
    const { sink, go } = start({ include: [join(dir, '*.log')], start_at: 'beginning', max_concurrent_files: 2 });
    await go();
    await waitFor(() => sink.records.length === 7);
    expect(bodies(sink).sort()).toEqual(Array.from({ length: 7 }, (_, i) => `file ${i}`));
  });

  it('runs the operators and a preset on what it reads, carrying trace ids', async () => {
    const dir = tempDir('filelog-');
    writeFileSync(
      join(dir, 'a.log'),
      JSON.stringify({ timestamp: '2024-01-02T03:04:05Z', level: 'error', message: 'boom', trace_id: '4bf92f3577b34da6a3ce929d0e0e4736', span_id: '00f067aa0ba902b7' }) + '\n',
    );
    const { sink, go } = start({ include: [join(dir, 'a.log')], start_at: 'beginning', preset: 'python_json', resource: { 'service.name': 'app' }, operators: [{ type: 'add', field: 'attributes.env', value: 'prod' }] });
    await go();
    await waitFor(() => sink.records.length === 1);
    const rec = sink.records[0]!;
    expect(plain(rec.body)).toBe('boom');
    expect(rec.severityNumber).toBe(17);
    expect(rec.timeUnixNano).toBe(BigInt(Date.parse('2024-01-02T03:04:05Z')) * 1_000_000n);
    expect(Buffer.from(rec.traceId).toString('hex')).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(Buffer.from(rec.spanId).toString('hex')).toBe('00f067aa0ba902b7');
    expect(attrs(rec)).toEqual({ 'log.file.name': 'a.log', env: 'prod' });
  });

  it('follows rename rotation while a writer appends at ~10k lines/s: every line exactly once', async () => {
    const dir = tempDir('filelog-');
    const path = join(dir, 'app.log');
    writeFileSync(path, '');
    const { sink, go } = start({ include: [join(dir, 'app.log*')], start_at: 'beginning', fingerprint_size: 64 });
    await go();
    const w = writer(path, 10_000);
    cleanup.push(() => w.stop());
    // Three rotations, logrotate style: app.log.1 → app.log.2, app.log → app.log.1, a new app.log.
    for (let k = 1; k <= 3; k++) {
      await waitFor(() => w.seq >= k * 4000, { timeoutMs: 20_000 });
      if (k > 1) renameSync(`${path}.1`, `${path}.${k}`);
      renameSync(path, `${path}.1`);
      w.reopen();
    }
    await waitFor(() => w.seq >= 14_000, { timeoutMs: 20_000 });
    w.stop();
    cleanup.pop();
    const n = w.seq;
    await waitFor(() => sink.records.length >= n, { timeoutMs: 20_000 });
    await new Promise((r) => setTimeout(r, 200));
    expectExactlyOnce(bodies(sink), n);
  });

  it('follows copytruncate rotation while a writer appends at ~10k lines/s: every line exactly once', async () => {
    const dir = tempDir('filelog-');
    const path = join(dir, 'app.log');
    writeFileSync(path, '');
    const { sink, go } = start({ include: [join(dir, 'app.log*')], start_at: 'beginning', fingerprint_size: 64 });
    await go();
    const w = writer(path, 10_000);
    cleanup.push(() => w.stop());
    for (let k = 1; k <= 3; k++) {
      await waitFor(() => w.seq >= k * 4000, { timeoutMs: 20_000 });
      // Between two writes: copy, then truncate in place; the writer keeps its O_APPEND descriptor.
      copyFileSync(path, `${path}.${k}`);
      truncateSync(path, 0);
    }
    await waitFor(() => w.seq >= 14_000, { timeoutMs: 20_000 });
    w.stop();
    cleanup.pop();
    const n = w.seq;
    await waitFor(() => sink.records.length >= n, { timeoutMs: 20_000 });
    await new Promise((r) => setTimeout(r, 200));
    expectExactlyOnce(bodies(sink), n);
  });

  it('recognises a rotated file compressed with gzip as one it has read (compression: auto)', async () => {
    const dir = tempDir('filelog-');
    const path = join(dir, 'app.log');
    const first = Array.from({ length: 50 }, (_, i) => seqLine(i + 1)).join('\n') + '\n';
    writeFileSync(path, first);
    const { sink, go } = start({ include: [join(dir, 'app.log*')], start_at: 'beginning', compression: 'auto' });
    await go();
    await waitFor(() => sink.records.length === 50);
    // Rotate: the old file is compressed (with lines it got after the last read), a new one starts.
    const more = Array.from({ length: 10 }, (_, i) => seqLine(i + 51)).join('\n') + '\n';
    writeFileSync(`${path}.1.gz`, gzipSync(first + more));
    rmSync(path);
    writeFileSync(path, seqLine(61) + '\n');
    await waitFor(() => sink.records.length >= 61);
    await new Promise((r) => setTimeout(r, 200));
    expectExactlyOnce(bodies(sink), 61);
  });

  it('reads gzip files from their start (compression: gzip)', async () => {
    const dir = tempDir('filelog-');
    writeFileSync(join(dir, 'old.log.gz'), gzipSync('a\nb\nc\n'));
    const { sink, go } = start({ include: [join(dir, '*.gz')], start_at: 'beginning', compression: 'gzip' });
    await go();
    await waitFor(() => sink.records.length === 3);
    await new Promise((r) => setTimeout(r, 100));
    expect(bodies(sink)).toEqual(['a', 'b', 'c']);
  });

  it('resumes from offsets kept in file_storage after a restart', async () => {
    const dir = tempDir('filelog-');
    const path = join(dir, 'app.log');
    writeFileSync(path, Array.from({ length: 100 }, (_, i) => seqLine(i + 1)).join('\n') + '\n');
    const openStorage = async () => {
      const issues = new Issues();
      const cfg = fileStorageSchema.parse({ directory: join(dir, 'storage'), create_directory: true }, [], issues);
      const st = new FileStorage({ id: 'file_storage', kind: 'extension', logger: nopLogger, telemetry: new SelfTelemetry(), instanceId: 't', now: Date.now }, cfg);
      await st.start(hostWith());
      return st;
    };
    const all: string[] = [];
    for (let round = 0; round < 3; round++) {
      const st = await openStorage();
      const { sink, r, go } = start({ include: [path], start_at: 'beginning', storage: 'file_storage' }, { host: hostWith({ file_storage: st }) });
      await go();
      const want = 100 * (round + 1);
      await waitFor(() => all.length + sink.records.length >= want);
      await (r as FilelogReceiver).shutdown();
      all.push(...bodies(sink));
      await st.shutdown();
      appendFileSync(path, Array.from({ length: 100 }, (_, i) => seqLine(want + i + 1)).join('\n') + '\n');
    }
    expectExactlyOnce(all, 300);
  });

  it('refuses to start when storage names no storage extension', async () => {
    const dir = tempDir('filelog-');
    const { go } = start({ include: [join(dir, '*.log')], storage: 'file_storage/missing' });
    await expect(go()).rejects.toThrow(/receivers::filelog::storage: extension "file_storage\/missing" is not configured/);
  });
});
