// Property fuzzing of the config loader (random and mutated YAML: only
// collected errors, never an exception) and of the redaction processor (any
// strings in attributes, names and bodies: it answers, with a typed error at
// worst, within the time bound).
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConsumerError } from '../../src/component/errors.js';
import { nopConsumer } from '../../src/component/component.js';
import { Issues } from '../../src/config/schema.js';
import type { ResourceSpans } from '../../src/pdata/model.js';
import { Telemetry } from '../../src/pdata/telemetry.js';
import { redactionFactory } from '../../src/processors/redaction/factory.js';
import { nopLogger } from '../../src/service/logger.js';
import { validateYaml } from '../../src/service/service.js';
import { SelfTelemetry } from '../../src/service/telemetry.js';
import { traces } from '../helpers/model.js';
import { ROOT } from '../helpers/sieve.js';
import { RUNS, bounded, corpus } from './budget.js';

const SAMPLE = readFileSync(join(ROOT, 'config', 'sieve.yaml'), 'utf8');

function checkYaml(text: string): void {
  const r = bounded(() => validateYaml(text, undefined, {}));
  expect(Array.isArray(r.errors)).toBe(true);
  if (!r.config) expect(r.errors.length).toBeGreaterThan(0);
}

describe('config loader fuzzing', () => {
  it('random text and mutated configs give collected errors, never an exception', () => {
    const lines = SAMPLE.split('\n');
    const mutatedYaml = fc
      .array(fc.record({ at: fc.nat(), line: fc.oneof(fc.string(), fc.constantFrom('  x: [', '- - -', ': :', '&a *a', '!!binary zz', '${env:', '  '.repeat(40) + 'k: v', '{{{{', 'a: !!int x')) }), { maxLength: 6 })
      .map((edits) => {
        const l = [...lines];
        for (const e of edits) l.splice(e.at % (l.length + 1), e.line.length % 2, e.line);
        return l.join('\n');
      });
    fc.assert(fc.property(fc.oneof(mutatedYaml, fc.string({ maxLength: 400 })), checkYaml), { numRuns: RUNS });
  });
  it('corpus regressions', () => {
    for (const [, b] of corpus('config')) checkYaml(b.toString('utf8'));
  });
});

describe('redaction fuzzing', () => {
  const issues = new Issues();
  const cfg = redactionFactory.schema.parse({ allow_all_keys: true }, ['processors', 'redaction'], issues);
  const settings = { id: 'redaction', kind: 'processor' as const, logger: nopLogger, telemetry: new SelfTelemetry(), instanceId: 'fuzz', now: Date.now };
  const proc = redactionFactory.create(settings, cfg, 'traces', nopConsumer);

  async function check(strings: string[]): Promise<void> {
    const rs: ResourceSpans[] = traces(1);
    const span = rs[0]!.scopeSpans[0]!.spans[0]!;
    strings.forEach((s, i) => span.attributes.push({ key: i % 3 === 0 ? s : `k${i}`, value: { type: 'string', value: s } }));
    if (strings[0] !== undefined) span.name = strings[0];
    const t0 = performance.now();
    try {
      await proc.consume(Telemetry.fromModel('traces', rs));
    } catch (e) {
      if (!(e instanceof ConsumerError)) throw e;
    }
    expect(performance.now() - t0).toBeLessThan(2000);
  }

  const secretish = fc.constantFrom('AKIA', 'eyJhbGciOi', '-----BEGIN PRIVATE KEY-----', 'ghp_', 'xoxb-', '4111 1111 1111 1111', 'https://u:p@h/', '@', 'Bearer ', '123-45-6789', '\u0000', '\ud800');
  const piece = fc.oneof(fc.string({ maxLength: 60 }), fc.string({ unit: 'binary', maxLength: 60 }), secretish);
  const value = fc.array(piece, { maxLength: 12 }).map((p) => p.join(''));

  it('any strings: an answer or a typed error, within the time bound', async () => {
    await fc.assert(fc.asyncProperty(fc.array(value, { maxLength: 8 }), check), { numRuns: RUNS });
  });
  it('long repetitive strings do not blow up (no catastrophic backtracking)', async () => {
    for (const unit of ['a', '1', 'A1', '@a.', 'eyJ.', '0000 ', 'x:', '%2F']) await check([unit.repeat(20_000)]);
  });
  it('corpus regressions', async () => {
    for (const [, b] of corpus('redaction')) await check(b.toString('utf8').split('\n'));
  });
});
