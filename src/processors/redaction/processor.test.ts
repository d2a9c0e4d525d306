// The secret and benign corpora through the processor, planted in every place
// it covers, for all three signals.
import { describe, expect, it } from 'vitest';
import type { AnyValue, KeyValue, Metric, ResourceLogs, ResourceMetrics, ResourceSpans } from '../../pdata/model.js';
import { Telemetry } from '../../pdata/telemetry.js';
import { tracesCodec } from '../../pdata/codec.js';
import { benignCorpus, BENIGN_KEYS } from '../../../test/corpus/benign.js';
import { keyedCorpus, secretCorpus } from '../../../test/corpus/secrets.js';
import { PLACES } from './redactor.js';
import { REDACTIONS_METRIC } from './processor.js';
import { attrsOf, dump, gauge, harness, kv, logRecord, span, sv, traces } from './testdata/harness.js';

const SECRETS = secretCorpus();
const KEYED = keyedCorpus();
const BENIGN = benignCorpus();
/** Sieve's own default: keep attributes, rely on the detectors; paths outside /app are masked. */
const SIEVE_DEFAULT = { allow_all_keys: true, path_roots: ['/app'] };

function leaks(out: string): string[] {
  const found: string[] = [];
  for (const s of SECRETS) for (const x of s.secrets) if (out.includes(x)) found.push(`${s.detector}: ${x}`);
  return found;
}

/** kvlist nested three deep with arrays, the sample at the bottom and in an array. */
function deepBody(text: string, i: number): AnyValue {
  return {
    type: 'kvlist',
    value: [
      kv('msg', `request ${i}`),
      kv('ctx', { type: 'kvlist', value: [kv('inner', { type: 'kvlist', value: [kv('detail', text)] }), kv('list', { type: 'array', value: [sv('x'), sv(text)] })] }),
    ],
  };
}

function tracesWithEverywhere(samples: string[]): Telemetry<'traces'> {
  const resources: ResourceSpans[] = samples.map((text, i) => ({
    resource: { attributes: [kv('service.name', 'checkout'), kv('deploy.note', text)], droppedAttributesCount: 0 },
    scopeSpans: [
      {
        scope: { name: 'lib', version: '1', attributes: [kv('scope.note', text)], droppedAttributesCount: 0 },
        spans: [
          span(text, [kv('http.request.method', 'GET'), kv('note', text), kv('nested', { type: 'array', value: [sv(text)] })], {
            status: { code: 2, message: text },
            events: [{ timeUnixNano: 1n, name: text, attributes: [kv('exception.message', text)], droppedAttributesCount: 0 }],
            links: [{ traceId: new Uint8Array(16), spanId: new Uint8Array(8), traceState: '', attributes: [kv('link.note', text)], droppedAttributesCount: 0, flags: 0 }],
          }),
        ],
        schemaUrl: '',
      },
    ],
    schemaUrl: String(i),
  }));
  return Telemetry.traces(resources);
}

function logsWithEverywhere(samples: string[]): Telemetry<'logs'> {
  const resources: ResourceLogs[] = samples.map((text, i) => ({
    resource: { attributes: [kv('deploy.note', text)], droppedAttributesCount: 0 },
    scopeLogs: [
      {
        scope: { name: 'lib', version: '1', attributes: [kv('scope.note', text)], droppedAttributesCount: 0 },
        logRecords: [
          logRecord(sv(text), [kv('note', text)], text),
          logRecord(deepBody(text, i), [kv('log.note', text)]),
          logRecord({ type: 'array', value: [sv('start'), sv(text)] }),
        ],
        schemaUrl: '',
      },
    ],
    schemaUrl: '',
  }));
  return Telemetry.logs(resources);
}

function metricsWithEverywhere(samples: string[]): Telemetry<'metrics'> {
  const resources: ResourceMetrics[] = samples.map((text, i) => {
    const a = () => [kv('route', '/x'), kv('note', text)];
    const ex = () => [{ filteredAttributes: [kv('ex.note', text)], timeUnixNano: 1n, value: 1, spanId: new Uint8Array(0), traceId: new Uint8Array(0) }];
    const kinds: Metric['data'][] = [
      gauge('g', a(), [kv('ex.note', text)]).data,
      { type: 'sum', aggregationTemporality: 2, isMonotonic: true, dataPoints: [{ attributes: a(), startTimeUnixNano: 0n, timeUnixNano: 1n, value: 1n, exemplars: ex(), flags: 0 }] },
      { type: 'histogram', aggregationTemporality: 2, dataPoints: [{ attributes: a(), startTimeUnixNano: 0n, timeUnixNano: 1n, count: 1, sum: 1, bucketCounts: [1], explicitBounds: [], exemplars: ex(), flags: 0, min: 1, max: 1 }] },
      {
        type: 'exponentialHistogram',
        aggregationTemporality: 2,
        dataPoints: [{ attributes: a(), startTimeUnixNano: 0n, timeUnixNano: 1n, count: 1, sum: 1, scale: 0, zeroCount: 0, positive: { offset: 0, bucketCounts: [1] }, negative: { offset: 0, bucketCounts: [] }, flags: 0, exemplars: ex(), min: 1, max: 1, zeroThreshold: 0 }],
      },
      { type: 'summary', dataPoints: [{ attributes: a(), startTimeUnixNano: 0n, timeUnixNano: 1n, count: 1, sum: 1, quantileValues: [], flags: 0 }] },
    ];
    return {
      resource: { attributes: [kv('deploy.note', text)], droppedAttributesCount: 0 },
      scopeMetrics: [
        {
          scope: { name: 'lib', version: '1', attributes: [kv('scope.note', text)], droppedAttributesCount: 0 },
          metrics: [{ name: `m${i}`, description: '', unit: '1', metadata: [kv('meta.note', text)], data: kinds[i % kinds.length]! }],
          schemaUrl: '',
        },
      ],
      schemaUrl: '',
    };
  });
  return Telemetry.metrics(resources);
}

describe('secret corpus: zero leaks in every place', () => {
  it(`has at least 300 samples across every detector (${SECRETS.length})`, () => {
    expect(SECRETS.length).toBeGreaterThanOrEqual(300);
    expect(new Set(SECRETS.map((s) => s.detector)).size).toBe(18);
  });

  it('traces: resource, scope, span name, span attrs, status message, event names and attrs, link attrs', async () => {
    const h = await harness(SIEVE_DEFAULT);
    const out = (await h.run(tracesWithEverywhere(SECRETS.map((s) => s.text)))).read();
    expect(leaks(dump(out))).toEqual([]);
    const sp = out[0]!.scopeSpans[0]!.spans[0]!;
    expect(sp.name).toContain('[REDACTED:');
    expect(attrsOf(sp.attributes)['http.request.method']).toBe('GET');
    expect(attrsOf(out[0]!.resource.attributes)['service.name']).toBe('checkout');
  });

  it('logs: resource, scope, attributes, string bodies, map and array bodies at any depth, event names', async () => {
    const h = await harness(SIEVE_DEFAULT, 'logs');
    const out = (await h.run(logsWithEverywhere(SECRETS.map((s) => s.text)))).read();
    expect(leaks(dump(out))).toEqual([]);
  });

  it('metrics: resource, scope, metadata, data point and exemplar attributes of every metric type', async () => {
    const h = await harness(SIEVE_DEFAULT, 'metrics');
    const out = (await h.run(metricsWithEverywhere(SECRETS.map((s) => s.text)))).read();
    expect(leaks(dump(out))).toEqual([]);
  });

  it('each detector is what catches its samples when planted alone', async () => {
    const h = await harness(SIEVE_DEFAULT);
    const misses: string[] = [];
    for (const s of SECRETS) {
      const out = (await h.run(traces([span('x', [kv('v', s.text)])]))).read();
      const v = attrsOf(out[0]!.scopeSpans[0]!.spans[0]!.attributes).v as string;
      // A sample inside another secret's context may be caught by that one (e.g. GITHUB_TOKEN=ghp_... by sensitive_key).
      if (!v.includes('[REDACTED:')) misses.push(`${s.detector}: ${s.text}`);
    }
    expect(misses).toEqual([]);
  });

  it('values under secret-named keys are masked whatever they hold, in every attribute place', async () => {
    const h = await harness(SIEVE_DEFAULT);
    const attrs = () => KEYED.map((k) => kv(k.key, k.value));
    const t = traces([span('s', attrs(), { events: [{ timeUnixNano: 1n, name: 'e', attributes: attrs(), droppedAttributesCount: 0 }] })], attrs(), attrs());
    const out = (await h.run(t)).read()[0]!;
    const maps = [out.resource.attributes, out.scopeSpans[0]!.scope.attributes, out.scopeSpans[0]!.spans[0]!.attributes, out.scopeSpans[0]!.spans[0]!.events[0]!.attributes];
    for (const m of maps) {
      for (const a of m) expect(a.value, a.key).toEqual(sv('[REDACTED:sensitive_key]'));
    }
    const text = dump([out]);
    for (const k of KEYED) expect(text).not.toContain(k.value);
  });

  it('secret-named keys inside log bodies are masked too', async () => {
    const h = await harness(SIEVE_DEFAULT, 'logs');
    const body: AnyValue = { type: 'kvlist', value: [kv('user', 'bob'), kv('auth', { type: 'kvlist', value: [kv('password', 'hunter2'), kv('api_key', 'k-1')] })] };
    const out = (await h.run(Telemetry.logs([{ resource: { attributes: [], droppedAttributesCount: 0 }, scopeLogs: [{ scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0 }, logRecords: [logRecord(body)], schemaUrl: '' }], schemaUrl: '' }]))).read();
    const b = out[0]!.scopeLogs[0]!.logRecords[0]!.body as { type: 'kvlist'; value: KeyValue[] };
    expect(attrsOf(b.value)).toEqual({ user: 'bob', auth: { password: '[REDACTED:sensitive_key]', api_key: '[REDACTED:sensitive_key]' } });
  });

  it('counts redactions by detector, place and signal, and logs no secret', async () => {
    const h = await harness(SIEVE_DEFAULT);
    await h.run(tracesWithEverywhere(SECRETS.map((s) => s.text)));
    const text = await h.telemetry.text();
    for (const place of ['resource_attribute', 'scope_attribute', 'span_name', 'span_attribute', 'span_status_message', 'span_event_name', 'span_event_attribute', 'span_link_attribute']) {
      expect(await h.telemetry.value(REDACTIONS_METRIC, { place, signal: 'traces' }), place).toBeGreaterThan(0);
    }
    for (const d of new Set(SECRETS.map((s) => s.detector))) {
      expect(await h.telemetry.value(REDACTIONS_METRIC, { detector: d, signal: 'traces' }), d).toBeGreaterThan(0);
    }
    // Label values are bounded: only known places and detectors.
    const places = new Set([...text.matchAll(/place="([^"]+)"/g)].map((m) => m[1]!));
    for (const p of places) expect(PLACES).toContain(p);
    expect(h.logs.length).toBeGreaterThan(0); // the start line
    expect(leaks(h.logs.join('\n'))).toEqual([]);
  });

  it('with hmac-sha256, hits become keyed hashes that correlate across records', async () => {
    const h = await harness({ ...SIEVE_DEFAULT, hash_function: 'hmac-sha256', hmac_key: 'test-key-0123456789abcdef' });
    const out = (await h.run(traces([span('a', [kv('email', 'alice@example.com'), kv('password', 'hunter2')]), span('b', [kv('email', 'alice@example.com')])]))).read();
    const [a, b] = out[0]!.scopeSpans[0]!.spans.map((s) => attrsOf(s.attributes));
    expect(a!.email).toMatch(/^\[REDACTED:email:[0-9a-f]{64}\]$/);
    expect(a!.email).toBe(b!.email);
    expect(a!.password).toMatch(/^\[REDACTED:sensitive_key:[0-9a-f]{64}\]$/);
    const other = await harness({ ...SIEVE_DEFAULT, hash_function: 'hmac-sha256', hmac_key: 'another-key-0123456789abcdef' });
    const out2 = (await other.run(traces([span('a', [kv('email', 'alice@example.com')])]))).read();
    expect(attrsOf(out2[0]!.scopeSpans[0]!.spans[0]!.attributes).email).not.toBe(a!.email);
  });
});

describe('benign corpus: false positives', () => {
  it(`has at least 1000 values (${BENIGN.length}) and a false-positive rate under 0.5%`, async () => {
    expect(BENIGN.length).toBeGreaterThanOrEqual(1000);
    const h = await harness(SIEVE_DEFAULT);
    const out = (await h.run(traces(BENIGN.map((b, i) => span(b.value, [kv(`attr.${i}`, b.value)]))))).read();
    const spans = out[0]!.scopeSpans[0]!.spans;
    const changed: string[] = [];
    spans.forEach((s, i) => {
      const b = BENIGN[i]!;
      if (s.name !== b.value || (s.attributes[0]!.value as { value: string }).value !== b.value) changed.push(`${b.category}: ${b.value}`);
    });
    const rate = changed.length / BENIGN.length;
    console.log(`redaction false-positive rate on the benign corpus: ${changed.length}/${BENIGN.length} = ${(rate * 100).toFixed(2)}%${changed.length ? `\n  ${changed.join('\n  ')}` : ''}`);
    expect(rate).toBeLessThan(0.005);
  });

  it('benign keys are not taken for secret names', async () => {
    const h = await harness(SIEVE_DEFAULT);
    const out = (await h.run(traces([span('s', BENIGN_KEYS.map((k) => kv(k, 'plain-value')))]))).read();
    for (const a of out[0]!.scopeSpans[0]!.spans[0]!.attributes) expect(a.value, a.key).toEqual(sv('plain-value'));
  });
});

describe('batch handling', () => {
  it('a clean batch passes on as its very bytes; a dirty one is spliced, not re-encoded', async () => {
    const h = await harness(SIEVE_DEFAULT);
    const cleanBytes = tracesCodec.encode(traces([span('GET /x', [kv('http.route', '/x')])]).read() as ResourceSpans[]);
    expect((await h.run(Telemetry.fromProto('traces', cleanBytes, 1))).toProto()).toBe(cleanBytes);
    const dirtyBytes = tracesCodec.encode(traces([span('GET /x', [kv('user', 'alice@example.com')])]).read() as ResourceSpans[]);
    const got = await h.run(Telemetry.fromProto('traces', dirtyBytes, 1));
    expect(got.hasProto()).toBe(true);
    expect(got.toProto()).not.toBe(dirtyBytes);
    // The span's bytes before the attribute are the input's, unchanged.
    expect(Buffer.from(got.toProto()).indexOf(Buffer.from('GET /x'))).toBe(Buffer.from(dirtyBytes).indexOf(Buffer.from('GET /x')));
    expect(tracesCodec.decode(got.toProto())[0]!.scopeSpans[0]!.spans[0]!.attributes[0]!.value).toEqual(sv('[REDACTED:email]'));
  });

  it('empty batches pass through', async () => {
    const h = await harness(SIEVE_DEFAULT);
    const out = await h.run(Telemetry.traces([]));
    expect(out.itemCount()).toBe(0);
  });

  it('repeated values (the clean-value table) are redacted the same way every time', async () => {
    const h = await harness(SIEVE_DEFAULT);
    for (let i = 0; i < 3; i++) {
      const out = (await h.run(traces([span('GET /x', [kv('a', 'postgresql'), kv('b', 'bob@example.com')])]))).read();
      expect(attrsOf(out[0]!.scopeSpans[0]!.spans[0]!.attributes)).toEqual({ a: 'postgresql', b: '[REDACTED:email]' });
    }
  });

  it('a value sharing a clean value\'s table slot is still scanned', async () => {
    const h = await harness(SIEVE_DEFAULT);
    // Same length and same sampled characters: the same slot; only the Luhn-valid one is a card number.
    const clean = 'id 4111111111111112 ok';
    const secret = 'id 4111111111111111 ok';
    const first = (await h.run(traces([span('s', [kv('a', clean)])]))).read();
    expect(attrsOf(first[0]!.scopeSpans[0]!.spans[0]!.attributes).a).toBe(clean);
    const second = (await h.run(traces([span('s', [kv('a', clean), kv('b', secret)])]))).read();
    expect(attrsOf(second[0]!.scopeSpans[0]!.spans[0]!.attributes)).toEqual({ a: clean, b: 'id [REDACTED:credit_card] ok' });
  });

  it('shutdown is idempotent and safe without start', async () => {
    const h = await harness(SIEVE_DEFAULT);
    await h.proc.shutdown();
    await h.proc.shutdown();
  });
});
