// Tail sampling under load: 10-span traces, 100k traces in flight,
// decision_wait 10s (simulated clock), requests of 100 spans as a receiver
// hands them on (protobuf bytes).
//
//   node --expose-gc --import tsx bench/tail_sampling.ts [--traces-in-flight 100000] [--measure-traces 200000] [--record-policy]
//
// Reports spans/s per core (process.cpuUsage over the measured phase), peak
// RSS, and bytes per buffered span: the heap + array buffers the buffered
// traces occupy, against their encoded size.
import type { Consumer, CreateSettings } from '../src/component/component.js';
import { Issues } from '../src/config/schema.js';
import type { KeyValue, ResourceSpans, Span } from '../src/pdata/model.js';
import { Telemetry } from '../src/pdata/telemetry.js';
import { nopLogger } from '../src/service/logger.js';
import { SelfTelemetry } from '../src/service/telemetry.js';
import { configSchema, validateConfig } from '../src/processors/tail_sampling/config.js';
import { TailSamplingProcessor, type Timers } from '../src/processors/tail_sampling/processor.js';

const args = process.argv.slice(2);
const arg = (name: string, def: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const IN_FLIGHT = arg('--traces-in-flight', 100_000);
const MEASURE = arg('--measure-traces', 200_000);
const RECORD_POLICY = args.includes('--record-policy');
const SPANS_PER_TRACE = 10;
const TRACES_PER_REQUEST = 10;
const DECISION_WAIT_MS = 10_000;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) console.warn('run with --expose-gc for the memory figures');

// ---------------------------------------------------------------- a request template

const str = (key: string, value: string): KeyValue => ({ key, value: { type: 'string', value } });
const int = (key: string, value: number): KeyValue => ({ key, value: { type: 'int', value: BigInt(value) } });
const MARK = 0xee;

function templateRequest(): ResourceSpans[] {
  const spans: Span[] = [];
  for (let t = 0; t < TRACES_PER_REQUEST; t++) {
    const traceId = new Uint8Array(16).fill(MARK);
    traceId[4] = t;
    for (let s = 0; s < SPANS_PER_TRACE; s++) {
      const start = 1_700_000_000_000_000_000n + BigInt(s) * 3_000_000n;
      spans.push({
        traceId,
        spanId: Uint8Array.from([1, 2, 3, 4, 5, 6, t, s]),
        traceState: '',
        parentSpanId: s === 0 ? new Uint8Array(0) : Uint8Array.from([1, 2, 3, 4, 5, 6, t, 0]),
        flags: 1,
        name: s === 0 ? 'GET /api/items/{id}' : `db.query ${s}`,
        kind: s === 0 ? 2 : 3,
        startTimeUnixNano: start,
        endTimeUnixNano: start + 2_000_000n + BigInt(s * 100_000),
        attributes: [
          str('http.request.method', 'GET'),
          str('url.path', `/api/v1/items/${1000 + s}`),
          str('server.address', 'shop.example.com'),
          int('http.response.status_code', 200),
          str('db.system', 'postgresql'),
        ],
        droppedAttributesCount: 0,
        events: [],
        droppedEventsCount: 0,
        links: [],
        droppedLinksCount: 0,
        status: { code: 0, message: '' },
      });
    }
  }
  return [
    {
      resource: {
        attributes: [str('service.name', 'checkout'), str('service.version', '1.4.2'), str('host.name', 'node-17'), str('telemetry.sdk.language', 'nodejs')],
        droppedAttributesCount: 0,
      },
      scopeSpans: [{ scope: { name: '@opentelemetry/instrumentation-http', version: '0.57.0', attributes: [], droppedAttributesCount: 0 }, spans, schemaUrl: '' }],
      schemaUrl: '',
    },
  ];
}

const template = Telemetry.traces(templateRequest()).toProto();
// Offsets of each span's trace id (tag 0x0a, length 16, then the marked bytes).
const idOffsets: number[] = [];
for (let i = 2; i + 16 <= template.length; i++) {
  if (template[i - 2] === 0x0a && template[i - 1] === 16 && template[i] === MARK && template[i + 1] === MARK && template[i + 2] === MARK && template[i + 3] === MARK) {
    idOffsets.push(i);
  }
}
if (idOffsets.length !== SPANS_PER_TRACE * TRACES_PER_REQUEST) throw new Error(`found ${idOffsets.length} trace ids in the template`);
const spansPerRequest = SPANS_PER_TRACE * TRACES_PER_REQUEST;
const encodedPerSpan = template.length / spansPerRequest;

let seq = 0;
let rnd = 0x12345678;
/** A fresh request: the template with new random trace ids, one error trace in 20. */
function nextRequest(): Telemetry<'traces'> {
  const b = template.slice();
  const ids: Uint8Array[] = [];
  for (let t = 0; t < TRACES_PER_REQUEST; t++) {
    const id = new Uint8Array(16);
    for (let k = 0; k < 16; k++) {
      rnd ^= rnd << 13;
      rnd ^= rnd >>> 17;
      rnd ^= rnd << 5;
      id[k] = rnd & 0xff;
    }
    ids.push(id);
  }
  for (let i = 0; i < idOffsets.length; i++) b.set(ids[b[idOffsets[i]! + 4]!]!, idOffsets[i]!);
  seq++;
  return Telemetry.fromProto('traces', b, spansPerRequest);
}

// ---------------------------------------------------------------- the processor

const raw = {
  decision_wait: '10s',
  num_traces: IN_FLIGHT * 2,
  max_buffered_bytes: '2GiB',
  record_policy: RECORD_POLICY,
  policies: [
    { name: 'errors', type: 'status_code', status_code: { status_codes: ['ERROR'] } },
    { name: 'slow', type: 'latency', latency: { threshold_ms: 500 } },
    { name: 'drop-health', type: 'drop', drop: { drop_sub_policy: [{ name: 'health', type: 'string_attribute', string_attribute: { key: 'url.path', values: ['/healthz'] } }] } },
    { name: 'sample', type: 'probabilistic', probabilistic: { sampling_percentage: 10 } },
  ],
};
const issues = new Issues();
const cfg = configSchema.parse(raw, [], issues);
validateConfig(cfg, [], issues);
if (issues.hasErrors()) throw new Error(JSON.stringify(issues.errors));

let now = 0;
let keptSpans = 0;
const next: Consumer = {
  mutatesData: false,
  async consume(d) {
    keptSpans += d.itemCount();
  },
};
const noTimers: Timers = { setInterval: () => 0, clearInterval: () => undefined };
const settings: CreateSettings = { id: 'tail_sampling', kind: 'processor', logger: nopLogger, telemetry: new SelfTelemetry(), instanceId: 'bench', now: () => now };
const proc = new TailSamplingProcessor(settings, cfg, next, noTimers);

// Simulated time: each request advances the clock so that IN_FLIGHT traces span decision_wait.
const msPerRequest = (DECISION_WAIT_MS * TRACES_PER_REQUEST) / IN_FLIGHT;
let peakRss = 0;
async function feed(requests: number): Promise<void> {
  for (let i = 0; i < requests; i++) {
    await proc.consume(nextRequest());
    now += msPerRequest;
    if ((i & 255) === 0) {
      const rss = process.memoryUsage.rss();
      if (rss > peakRss) peakRss = rss;
    }
  }
}

function memory(): number {
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const baseline = memory();
// Fill: IN_FLIGHT traces buffered, none decided yet.
await feed(Math.floor(IN_FLIGHT / TRACES_PER_REQUEST) - 1);
const filled = memory();
const st = proc.stats();
const bufferedSpans = st.traces * SPANS_PER_TRACE;
const perSpan = (filled - baseline) / bufferedSpans;

// Steady state: as many traces decided as arrive.
const cpu0 = process.cpuUsage();
const t0 = performance.now();
await feed(Math.floor(MEASURE / TRACES_PER_REQUEST));
await new Promise((r) => setImmediate(r));
const cpu = process.cpuUsage(cpu0);
const wall = (performance.now() - t0) / 1000;
const measuredSpans = Math.floor(MEASURE / TRACES_PER_REQUEST) * spansPerRequest;
const cpuSec = (cpu.user + cpu.system) / 1e6;
const inFlightAfter = proc.stats().traces;
await proc.shutdown();
peakRss = Math.max(peakRss, process.resourceUsage().maxRSS * 1024);

const mib = (n: number) => (n / 1024 / 1024).toFixed(1);
console.log(
  JSON.stringify(
    {
      scenario: `tail_sampling, ${SPANS_PER_TRACE}-span traces, ${spansPerRequest} spans/request, decision_wait 10s (simulated), 4 policies${RECORD_POLICY ? ', record_policy' : ''}`,
      traces_in_flight: st.traces,
      traces_in_flight_steady: inFlightAfter,
      encoded_bytes_per_span: Math.round(encodedPerSpan),
      memory_bytes_per_buffered_span: Math.round(perSpan),
      overhead_bytes_per_buffered_span: Math.round(perSpan - encodedPerSpan),
      accounted_bytes_per_buffered_span: Math.round(st.bufferedBytes / bufferedSpans),
      spans_per_sec_per_core: Math.round(measuredSpans / cpuSec),
      spans_per_sec_wall: Math.round(measuredSpans / wall),
      cpu_seconds: Number(cpuSec.toFixed(2)),
      kept_spans: keptSpans,
      peak_rss_mib: Number(mib(peakRss)),
      heap_used_filled_mib: Number(mib(filled)),
      requests: seq,
    },
    null,
    2,
  ),
);
