import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { Issues } from '../../config/schema.js';
import type { Consumer } from '../../component/component.js';
import type { LogRecord, ResourceLogs, Span } from '../../pdata/model.js';
import { Telemetry } from '../../pdata/telemetry.js';
import { nopLogger } from '../../service/logger.js';
import { SelfTelemetry } from '../../service/telemetry.js';
import { configSchema, parseSeverity, validateConfig } from './config.js';
import { probabilisticSamplerFactory } from './factory.js';
import { fnv1a32Seeded, fnv1a64Prefix, hashSeedSampled, scaledSamplingRate, tailThreshold } from './hash.js';
import { harness, mkSpan, spansReq, traceId } from '../tail_sampling/testutil.js';
import type { Signal } from '../../pdata/model.js';

function parse(raw: unknown) {
  const issues = new Issues();
  const cfg = configSchema.parse(raw, ['processors', 'probabilistic_sampler'], issues);
  if (!issues.hasErrors()) validateConfig(cfg, ['processors', 'probabilistic_sampler'], issues);
  return { cfg, issues };
}

function sampler(raw: unknown, signal: Signal) {
  const { cfg, issues } = parse(raw);
  expect(issues.errors).toEqual([]);
  const out: Telemetry[] = [];
  const next: Consumer = { mutatesData: false, consume: async (d) => void out.push(d) };
  const telemetry = new SelfTelemetry();
  const p = probabilisticSamplerFactory.create({ id: 'probabilistic_sampler', kind: 'processor', logger: nopLogger, telemetry, instanceId: 't', now: Date.now }, cfg, signal, next);
  return { p, out, telemetry };
}

/** A deterministic stream of random-looking 16-byte ids. */
function* randomIds(n: number, seed = 12345): Generator<Uint8Array> {
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    const b = new Uint8Array(16);
    for (let j = 0; j < 16; j++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      b[j] = x & 0xff;
    }
    yield b;
  }
}

describe('hash functions', () => {
  it('are FNV-1a (known vectors)', () => {
    const enc = new TextEncoder();
    // FNV-1a 64 of "a" and of "foobar".
    expect(fnv1a64Prefix('a')).toEqual({ hi: 0xaf63dc4c, lo: 0x8601ec8c });
    expect(fnv1a64Prefix('foobar')).toEqual({ hi: 0x85944171, lo: 0xf73967e8 });
    // The seeded 32-bit variant hashes the seed's 4 little-endian bytes first.
    const manual = (bytes: number[]) => bytes.reduce((h, b) => Math.imul(h ^ b, 0x01000193) >>> 0, 0x811c9dc5);
    expect(fnv1a32Seeded(0x04030201, enc.encode('ab'))).toBe(manual([1, 2, 3, 4, 0x61, 0x62]));
    expect(fnv1a32Seeded(0, new Uint8Array(0))).toBe(manual([0, 0, 0, 0]));
  });

  it('scale percentages to 14-bit buckets like the Collector (float32, truncated)', () => {
    expect(scaledSamplingRate(100)).toBe(16384);
    expect(scaledSamplingRate(50)).toBe(8192);
    expect(scaledSamplingRate(0.01)).toBe(1);
    expect(scaledSamplingRate(0)).toBe(0);
    expect(scaledSamplingRate(33.3)).toBe(Math.trunc(Math.fround(Math.fround(33.3) * Math.fround(163.84))));
  });

  it('compute the tail threshold as floor(MaxUint64 * ratio)', () => {
    expect(tailThreshold(1)).toEqual({ hi: 0xffffffff, lo: 0xffffffff });
    expect(tailThreshold(0)).toEqual({ hi: 0, lo: 0 });
    expect(tailThreshold(0.5)).toEqual({ hi: 0x7fffffff, lo: 0xffffffff });
  });
});

describe('head and tail sampling agree', () => {
  it('probabilistic_sampler and the tail probabilistic policy with the same hash_seed keep the same 10k random traces', async () => {
    const seed = 4242;
    const pct = 15;
    const ids = [...randomIds(10_000)];
    // Head: sidecar.
    const head = sampler({ sampling_percentage: pct, hash_seed: seed }, 'traces');
    const spans: Span[] = ids.map((id, i) => ({ ...mkSpan({ trace: i }), traceId: id }));
    for (let i = 0; i < spans.length; i += 1000) await head.p.consume(Telemetry.fromProto('traces', spansReq(spans.slice(i, i + 1000)).toProto(), 1000));
    const headKept = new Set(head.out.flatMap((d) => (d as Telemetry<'traces'>).read().flatMap((r) => r.scopeSpans.flatMap((s) => s.spans.map((sp) => Buffer.from(sp.traceId).toString('hex'))))));
    // Tail: gateway.
    const tail = await harness({ decision_wait: '1s', num_traces: 20_000, policies: [{ name: 'p', type: 'probabilistic', probabilistic: { sampling_percentage: pct, hash_seed: seed } }] });
    for (let i = 0; i < spans.length; i += 1000) await tail.proc.consume(spansReq(spans.slice(i, i + 1000)));
    await tail.advance(1000);
    const tailKept = new Set(tail.spans().map((sp) => Buffer.from(sp.traceId).toString('hex')));
    expect(headKept.size).toBeGreaterThan(1300);
    expect(headKept.size).toBeLessThan(1700);
    expect([...tailKept].sort()).toEqual([...headKept].sort());
    // And both agree with the shared function.
    const rate = scaledSamplingRate(pct);
    expect(ids.filter((id) => hashSeedSampled(seed, rate, id)).length).toBe(headKept.size);
    await tail.proc.shutdown();
  });
});

describe('probabilistic_sampler on traces', () => {
  it('keeps whole traces by trace id and honours sampling.priority', async () => {
    const { p, out, telemetry } = sampler({ sampling_percentage: 50 }, 'traces');
    const spans: Span[] = [];
    for (let t = 0; t < 200; t++) for (let s = 0; s < 3; s++) spans.push(mkSpan({ trace: t, parent: s === 0 ? undefined : 1 }));
    spans.push(mkSpan({ trace: 1000, attrs: { 'sampling.priority': 1 } }), mkSpan({ trace: 1001, attrs: { 'sampling.priority': 0 } }));
    await p.consume(spansReq(spans));
    const kept = out.flatMap((d) => (d as Telemetry<'traces'>).read().flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)));
    const byTrace = new Map<number, number>();
    for (const sp of kept) {
      const n = new DataView(sp.traceId.buffer, sp.traceId.byteOffset).getUint32(12);
      byTrace.set(n, (byTrace.get(n) ?? 0) + 1);
    }
    expect([...byTrace.entries()].filter(([t]) => t < 1000).every(([, c]) => c === 3)).toBe(true);
    expect(byTrace.size).toBeGreaterThan(70);
    expect(byTrace.size).toBeLessThan(140);
    expect(byTrace.has(1000)).toBe(true);
    expect(byTrace.has(1001)).toBe(false);
    const expected = Array.from({ length: 200 }, (_, t) => t).filter((t) => hashSeedSampled(0, 8192, traceId(t)));
    expect([...byTrace.keys()].filter((t) => t < 1000).sort((a, b) => a - b)).toEqual(expected);
    expect(await telemetry.value('otelcol_processor_probabilistic_sampler_count_traces_sampled', { sampled: 'true' })).toBe(kept.length);
  });

  it('passes everything through unchanged at 100% and drops everything at 0%', async () => {
    const all = sampler({ sampling_percentage: 100 }, 'traces');
    const req = spansReq([mkSpan({ trace: 1 }), mkSpan({ trace: 2 })]);
    await all.p.consume(req);
    expect(all.out[0]).toBe(req);
    const none = sampler({ sampling_percentage: 0 }, 'traces');
    await none.p.consume(spansReq([mkSpan({ trace: 1 })]));
    expect(none.out.length).toBe(0);
  });
});

function log(i: number, severity: number, text = '', traceIdBytes = traceId(i), attrs: LogRecord['attributes'] = []): LogRecord {
  return {
    timeUnixNano: 1n,
    observedTimeUnixNano: 0n,
    severityNumber: severity,
    severityText: text,
    body: { type: 'string', value: `line ${i}` },
    attributes: attrs,
    droppedAttributesCount: 0,
    flags: 0,
    traceId: traceIdBytes,
    spanId: new Uint8Array(0),
    eventName: '',
  };
}

function logsOf(records: LogRecord[]): Telemetry<'logs'> {
  const rl: ResourceLogs[] = [{ resource: { attributes: [], droppedAttributesCount: 0 }, scopeLogs: [{ scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0 }, logRecords: records, schemaUrl: '' }], schemaUrl: '' }];
  return Telemetry.logs(rl);
}

// The logs pipeline shown in README.md.
const README_LOGS = `
sampling_percentage: 10
hash_seed: 22
attribute_source: traceID
keep_severity_at_least: ERROR
`;

describe('probabilistic_sampler on logs (README: keep every ERROR+ record, sample the rest)', () => {
  it('keeps every record of severity ERROR or above and about 10% of the others, consistently with trace sampling', async () => {
    const { p, out } = sampler(parseYaml(README_LOGS), 'logs');
    const records: LogRecord[] = [];
    for (let i = 0; i < 5000; i++) {
      const sev = [5, 9, 13, 17, 21, 18][i % 6]!;
      records.push(log(i, sev));
    }
    records.push(log(9000, 0, 'Error'), log(9001, 0, 'CRITICAL'), log(9002, 0, 'fatal'));
    await p.consume(logsOf(records));
    const kept = out.flatMap((d) => (d as Telemetry<'logs'>).read().flatMap((r) => r.scopeLogs.flatMap((s) => s.logRecords)));
    const errors = records.filter((r) => r.severityNumber >= 17);
    expect(kept.filter((r) => r.severityNumber >= 17).length).toBe(errors.length);
    const texts = kept.filter((r) => r.severityNumber === 0).map((r) => r.severityText);
    expect(texts).toContain('Error');
    expect(texts).toContain('fatal');
    const rest = kept.filter((r) => r.severityNumber > 0 && r.severityNumber < 17);
    const restTotal = records.filter((r) => r.severityNumber > 0 && r.severityNumber < 17).length;
    expect(rest.length / restTotal).toBeGreaterThan(0.07);
    expect(rest.length / restTotal).toBeLessThan(0.13);
    // A below-ERROR record is kept exactly when its trace would be head-sampled with the same seed.
    const rate = scaledSamplingRate(10);
    for (const r of records.filter((x) => x.severityNumber > 0 && x.severityNumber < 17)) {
      expect(kept.includes(r)).toBe(hashSeedSampled(22, rate, r.traceId));
    }
  });

  it('records without a trace id are dropped when fail_closed (default) and kept otherwise; ERROR+ always kept', async () => {
    const closed = sampler({ sampling_percentage: 10, keep_severity_at_least: 'ERROR' }, 'logs');
    await closed.p.consume(logsOf([log(1, 9, '', new Uint8Array(0)), log(2, 17, '', new Uint8Array(0))]));
    expect(closed.out.flatMap((d) => (d as Telemetry<'logs'>).read()[0]!.scopeLogs[0]!.logRecords.map((r) => r.severityNumber))).toEqual([17]);
    const open = sampler({ sampling_percentage: 10, fail_closed: false }, 'logs');
    await open.p.consume(logsOf([log(1, 9, '', new Uint8Array(0))]));
    expect(open.out.length).toBe(1);
  });

  it('attribute_source: record hashes from_attribute; sampling_priority overrides the percentage per record', async () => {
    const { p, out } = sampler({ sampling_percentage: 0.01, attribute_source: 'record', from_attribute: 'request.id', sampling_priority: 'prio' }, 'logs');
    const s = (key: string, v: string | number) => ({ key, value: typeof v === 'string' ? { type: 'string' as const, value: v } : { type: 'int' as const, value: BigInt(v) } });
    await p.consume(logsOf([log(1, 9, '', new Uint8Array(0), [s('request.id', 'abc'), s('prio', 100)]), log(2, 9, '', new Uint8Array(0), [s('request.id', 'abc'), s('prio', 0)])]));
    const kept = out.flatMap((d) => (d as Telemetry<'logs'>).read()[0]!.scopeLogs[0]!.logRecords);
    expect(kept.map((r) => r.body)).toEqual([{ type: 'string', value: 'line 1' }]);
  });
});

describe('probabilistic_sampler config', () => {
  it('parses the Collector keys with defaults', () => {
    const { cfg, issues } = parse({ sampling_percentage: 15.3, hash_seed: 22 });
    expect(issues.list).toEqual([]);
    expect(cfg).toMatchObject({ sampling_percentage: 15.3, hash_seed: 22, mode: '', fail_closed: true, sampling_precision: 4, attribute_source: 'traceID' });
    expect(parseSeverity('error')).toBe(17);
    expect(parseSeverity('WARN2')).toBe(14);
    expect(parseSeverity(21)).toBe(21);
  });
  const P = 'processors::probabilistic_sampler';
  const invalid: [string, unknown, string, string][] = [
    ['percentage > 100', { sampling_percentage: 101 }, `${P}::sampling_percentage`, 'must be at most 100'],
    ['negative seed', { hash_seed: -1 }, `${P}::hash_seed`, 'must be at least 0'],
    ['proportional', { mode: 'proportional' }, `${P}::mode`, '"proportional" is not supported'],
    ['record without from_attribute', { attribute_source: 'record' }, `${P}::from_attribute`, 'is required when attribute_source is "record"'],
    ['bad severity', { keep_severity_at_least: 'LOUD' }, `${P}::keep_severity_at_least`, 'must be a severity name'],
    ['unknown key', { sampling_percentag: 1 }, `${P}::sampling_percentag`, 'did you mean "sampling_percentage"'],
  ];
  for (const [name, raw, path, msg] of invalid) {
    it(`rejects: ${name}`, () => {
      const { issues } = parse(raw);
      const e = issues.errors.find((i) => i.path.join('::') === path);
      expect(e, JSON.stringify(issues.errors)).toBeDefined();
      expect(e!.message).toContain(msg);
    });
  }
});
