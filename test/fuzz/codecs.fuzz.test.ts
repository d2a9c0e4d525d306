// Property fuzzing of the OTLP codecs: the protobuf scan and decode and the JSON
// decode, on random bytes and on valid requests with bytes flipped, inserted,
// deleted or truncated. Every input either decodes or throws a typed error
// (DecodeError, or SyntaxError for JSON text), within the time bound; what the
// scan accepts the decoder accepts, with the same item count.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '../../src/component/errors.js';
import { CODECS } from '../../src/pdata/codec.js';
import type { Signal } from '../../src/pdata/model.js';
import { fullLogs, fullMetrics, fullTraces } from '../../src/pdata/testdata/fixtures.js';
import { RUNS, bounded, corpus, mutated } from './budget.js';

const VALID: Record<Signal, Uint8Array> = {
  traces: CODECS.traces.encode(fullTraces()),
  metrics: CODECS.metrics.encode(fullMetrics() as never),
  logs: CODECS.logs.encode(fullLogs() as never),
};

function outcome(fn: () => number): number | 'error' {
  try {
    return bounded(fn);
  } catch (e) {
    if (e instanceof DecodeError) return 'error';
    throw e;
  }
}

function checkProto(signal: Signal, buf: Uint8Array): void {
  const c = CODECS[signal];
  const scanned = outcome(() => c.scan(buf));
  const decoded = outcome(() => c.count(c.decode(buf) as never));
  if (scanned !== 'error') expect(decoded).toBe(scanned);
}

function checkJson(signal: Signal, text: string): void {
  try {
    bounded(() => CODECS[signal].decodeJson(text));
  } catch (e) {
    if (!(e instanceof DecodeError) && !(e instanceof SyntaxError)) throw e;
  }
}

describe('codec fuzzing', () => {
  for (const signal of ['traces', 'metrics', 'logs'] as Signal[]) {
    it(`${signal}: protobuf scan and decode on mutated requests`, () => {
      fc.assert(fc.property(mutated(VALID[signal]), (b) => checkProto(signal, b)), { numRuns: RUNS });
    });
    it(`${signal}: protobuf scan and decode on random bytes`, () => {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), (b) => checkProto(signal, b)), { numRuns: RUNS });
    });
    it(`${signal}: JSON decode on mutated and random documents`, () => {
      const valid = CODECS[signal].encodeJson(CODECS[signal].decode(VALID[signal]) as never);
      const mutatedText = mutated(Buffer.from(valid)).map((b) => Buffer.from(b).toString('utf8'));
      fc.assert(fc.property(fc.oneof(mutatedText, fc.json({ maxDepth: 6 }), fc.string()), (t) => checkJson(signal, t)), { numRuns: RUNS });
    });
    it(`${signal}: corpus regressions`, () => {
      for (const [, b] of corpus(`proto-${signal}`)) checkProto(signal, b);
      for (const [, b] of corpus(`json-${signal}`)) checkJson(signal, b.toString('utf8'));
    });
  }
});
