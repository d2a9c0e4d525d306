// Each preset parses its format into severity, timestamp, body, attributes and trace ids.
import { describe, expect, it } from 'vitest';
import type { Entry } from './entry.js';
import { compileChain } from './operators.js';
import { expandPreset } from './presets.js';
import type { PresetName } from './presets.js';

function parse(preset: PresetName, line: string): { e: Entry; bad: number } {
  let bad = 0;
  const chain = compileChain(expandPreset(preset), { malformed: () => bad++, unrouted: () => undefined });
  const e: Entry = { body: line, attributes: { 'log.file.name': 'app.log' }, resource: undefined, timestamp: 0n, observed: 0n, severity: 0, severityText: '', traceId: undefined, spanId: undefined, traceFlags: 0 };
  expect(chain.run(e)).toBe(true);
  return { e, bad };
}

const ns = (iso: string, extraNanos = 0n) => BigInt(Date.parse(iso)) * 1_000_000n + extraNanos;
const hex = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString('hex') : undefined);

describe('presets', () => {
  it('ecs_json', () => {
    const { e, bad } = parse(
      'ecs_json',
      JSON.stringify({
        '@timestamp': '2024-03-04T05:06:07.891Z',
        'log.level': 'error',
        message: 'payment failed',
        'ecs.version': '1.6.0',
        'service.name': 'billing',
        'trace.id': '4bf92f3577b34da6a3ce929d0e0e4736',
        'span.id': '00f067aa0ba902b7',
        'event.dataset': 'billing.log',
      }),
    );
    expect(bad).toBe(0);
    expect(e.body).toBe('payment failed');
    expect(e.timestamp).toBe(ns('2024-03-04T05:06:07.891Z'));
    expect(e.severity).toBe(17);
    expect(e.severityText).toBe('error');
    expect(hex(e.traceId)).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(hex(e.spanId)).toBe('00f067aa0ba902b7');
    expect(e.attributes).toEqual({ 'log.file.name': 'app.log', 'ecs.version': '1.6.0', 'service.name': 'billing', 'event.dataset': 'billing.log' });
  });

  it('python_json (python-json-logger with a UUID trace id)', () => {
    const { e, bad } = parse(
      'python_json',
      JSON.stringify({ timestamp: '2024-03-04T05:06:07.123456+00:00', level: 'WARNING', message: 'slow query', trace_id: '4bf92f35-77b3-4da6-a3ce-929d0e0e4736', span_id: '00f067aa0ba902b7', duration_ms: 812.5, logger: 'db' }),
    );
    expect(bad).toBe(0);
    expect(e.body).toBe('slow query');
    expect(e.timestamp).toBe(ns('2024-03-04T05:06:07.123Z', 456_000n));
    expect(e.severity).toBe(13);
    expect(e.severityText).toBe('WARNING');
    expect(hex(e.traceId)).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(hex(e.spanId)).toBe('00f067aa0ba902b7');
    expect(e.attributes).toEqual({ 'log.file.name': 'app.log', duration_ms: 812.5, logger: 'db' });
  });

  it('python_json (structlog: event, 64-bit trace id padded)', () => {
    const { e } = parse('python_json', JSON.stringify({ event: 'user logged in', level: 'info', timestamp: '2024-03-04T05:06:07Z', trace_id: 'a3ce929d0e0e4736', user: 'ann' }));
    expect(e.body).toBe('user logged in');
    expect(e.severity).toBe(9);
    expect(e.timestamp).toBe(ns('2024-03-04T05:06:07Z'));
    expect(hex(e.traceId)).toBe('0000000000000000a3ce929d0e0e4736');
    expect(e.attributes).toEqual({ 'log.file.name': 'app.log', user: 'ann' });
  });

  it('python_json keeps ids that are not valid W3C ids as attributes', () => {
    const { e } = parse('python_json', JSON.stringify({ message: 'm', level: 'debug', trace_id: 'req-42', span_id: '0000000000000000' }));
    expect(e.traceId).toBeUndefined();
    expect(e.spanId).toBeUndefined();
    expect(e.severity).toBe(5);
    expect(e.attributes).toEqual({ 'log.file.name': 'app.log', trace_id: 'req-42', span_id: '0000000000000000' });
  });

  it('logfmt', () => {
    const { e, bad } = parse('logfmt', 'ts=2024-03-04T05:06:07.5Z level=warn msg="cache miss ratio high" ratio=0.42 trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7 component=cache');
    expect(bad).toBe(0);
    expect(e.body).toBe('cache miss ratio high');
    expect(e.timestamp).toBe(ns('2024-03-04T05:06:07.500Z'));
    expect(e.severity).toBe(13);
    expect(hex(e.traceId)).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(hex(e.spanId)).toBe('00f067aa0ba902b7');
    expect(e.attributes).toEqual({ 'log.file.name': 'app.log', ratio: '0.42', component: 'cache' });
  });

  it('a malformed line is sent on as it is and counted', () => {
    const { e, bad } = parse('ecs_json', 'not json at all');
    expect(bad).toBe(1);
    expect(e.body).toBe('not json at all');
    expect(e.severity).toBe(0);
  });
});
