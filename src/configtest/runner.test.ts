import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultTestsPath, report, runSuite } from './runner.js';
import { tempDir } from '../../test/helpers/sieve.js';

const CONFIG_DIR = join(import.meta.dirname, '..', '..', 'config');

describe('shipped config test suites', () => {
  const configs = readdirSync(CONFIG_DIR).filter((f) => f.endsWith('.yaml'));
  it('every example config has a suite', () => {
    expect(configs.length).toBeGreaterThan(0);
    for (const c of configs) expect(existsSync(defaultTestsPath(join(CONFIG_DIR, c))), c).toBe(true);
  });
  for (const c of configs) {
    it(`${c} passes its suite`, async () => {
      const path = join(CONFIG_DIR, c);
      const r = await runSuite(path, defaultTestsPath(path));
      expect(r.errors).toEqual([]);
      expect(r.tests.length).toBeGreaterThan(0);
      expect(r.tests.filter((t) => !t.ok), report(r)).toEqual([]);
    });
  }
});

const span = (name: string, traceId: string, spanId: string, attrs: Record<string, string> = {}) => ({
  resourceSpans: [
    {
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'api' } }] },
      scopeSpans: [
        {
          spans: [
            {
              traceId,
              spanId,
              name,
              startTimeUnixNano: '1700000000000000000',
              endTimeUnixNano: '1700000000100000000',
              attributes: Object.entries(attrs).map(([key, v]) => ({ key, value: { stringValue: v } })),
              status: name === 'fail' ? { code: 2 } : {},
            },
          ],
        },
      ],
    },
  ],
});

function write(config: string, tests: unknown): { config: string; tests: string } {
  const dir = tempDir();
  writeFileSync(join(dir, 'c.yaml'), config);
  writeFileSync(join(dir, 't.yaml'), JSON.stringify(tests));
  return { config: join(dir, 'c.yaml'), tests: join(dir, 't.yaml') };
}

const tailConfig = `
receivers:
  otlp: { protocols: { http: { endpoint: "127.0.0.1:1" } } }
processors:
  tail_sampling:
    decision_wait: 10s
    policies: [{ name: errors, type: status_code, status_code: { status_codes: [ERROR] } }]
  redaction: { allow_all_keys: true, blocked_values: ["secret-[0-9]+"] }
exporters:
  debug:
service:
  pipelines:
    traces: { receivers: [otlp], processors: [redaction, tail_sampling], exporters: [debug] }
`;

describe('sieve test', () => {
  it('decides tail sampling by advancing time, not waiting', async () => {
    const f = write(tailConfig, {
      tests: [
        { name: 'undecided before decision_wait', input: { at: 'otlp', otlp: span('fail', '5b8efff798038103d269b633813fc60c', 'eee19b7ec3c1b174') }, advance: '5s', expect: { none: true } },
        { name: 'an error trace is kept', input: { at: 'otlp', otlp: span('fail', '5b8efff798038103d269b633813fc60c', 'eee19b7ec3c1b174') }, advance: '12s', expect: { at: 'debug', count: 1, contains: [{ name: 'fail' }] } },
        { name: 'an ok trace is dropped', input: { at: 'otlp', otlp: span('ok', '6b8efff798038103d269b633813fc60c', 'fee19b7ec3c1b174') }, advance: '12s', expect: { none: true } },
        { name: 'fed at a processor, after redaction', input: { at: 'tail_sampling', otlp: span('fail', '7b8efff798038103d269b633813fc60c', 'aee19b7ec3c1b174', { k: 'secret-1' }) }, advance: '12s', expect: { contains: [{ attributes: { k: 'secret-1' } }] } },
      ],
    });
    const started = Date.now();
    const r = await runSuite(f.config, f.tests);
    expect(r.errors).toEqual([]);
    expect(r.tests.map((t) => [t.name, t.ok, t.failures])).toEqual([
      ['undecided before decision_wait', true, []],
      ['an error trace is kept', true, []],
      ['an ok trace is dropped', true, []],
      ['fed at a processor, after redaction', true, []],
    ]);
    // 41 s of pipeline time; the clock is fake.
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('reports a failing test with a diff of expected and closest actual', async () => {
    const f = write(tailConfig, {
      tests: [
        { name: 'wrong expectation', input: { at: 'otlp', otlp: span('fail', '5b8efff798038103d269b633813fc60c', 'eee19b7ec3c1b174', { k: 'secret-7' }) }, advance: '11s', expect: { at: 'debug', count: 2, contains: [{ name: 'fail', attributes: { k: 'secret-7' } }] } },
        { name: 'expects output that is dropped', input: { at: 'otlp', otlp: span('ok', '6b8efff798038103d269b633813fc60c', 'fee19b7ec3c1b174') }, advance: '11s', expect: { contains: [{ name: 'ok' }] } },
        { name: 'bad target', input: { at: 'nope', otlp: span('ok', '6b8efff798038103d269b633813fc60c', 'fee19b7ec3c1b174') } },
      ],
    });
    const r = await runSuite(f.config, f.tests);
    expect(r.tests.map((t) => t.ok)).toEqual([false, false, false]);
    expect(r.tests[0]!.failures).toEqual([
      'at debug: expected 2 item(s), got 1',
      ['at debug: no item matches; the closest of 1:', '--- expected', '+++ actual', '  name: fail', '  attributes:', '-   k: secret-7', '+   k: "****"'].join('\n'),
    ]);
    expect(r.tests[1]!.failures[0]).toMatch(/^at all exporters: expected an item matching the condition, got no output/);
    expect(r.tests[2]!.failures).toEqual(['input at "nope": no receiver or component with that id takes traces']);
    const out = report(r);
    expect(out).toContain('✗ wrong expectation');
    expect(out).toMatch(/0 passed, 3 failed\n$/);
  });
});
