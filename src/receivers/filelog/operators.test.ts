import { describe, expect, it } from 'vitest';
import { OPERATOR_SCHEMAS } from './config.js';
import { parseField, getField, setField, deleteField, type Entry } from './entry.js';
import { compileExpr, evalBool } from './expr.js';
import { compileChain, normalizeId, parseKeyValues, type CompilableOperator } from './operators.js';
import { compileTimeParser, parseIso8601 } from './time.js';
import { Issues } from '../../config/schema.js';

function entry(body: unknown, attributes: Record<string, unknown> = {}): Entry {
  return { body, attributes, resource: undefined, timestamp: 0n, observed: 0n, severity: 0, severityText: '', traceId: undefined, spanId: undefined, traceFlags: 0 };
}

function ops(list: Record<string, unknown>[]): CompilableOperator[] {
  return list.map((o) => {
    const issues = new Issues();
    const cfg = OPERATOR_SCHEMAS[o.type as keyof typeof OPERATOR_SCHEMAS].parse(o, ['op'], issues);
    if (issues.hasErrors()) throw new Error(JSON.stringify(issues.errors));
    return cfg as CompilableOperator;
  });
}

function run(list: Record<string, unknown>[], e: Entry) {
  const bad: string[] = [];
  let unrouted = 0;
  const chain = compileChain(ops(list), { malformed: (op, err) => bad.push(`${op}: ${err.message}`), unrouted: () => unrouted++ });
  const kept = chain.run(e);
  return { kept, bad, unrouted, e };
}

const ms = (iso: string) => BigInt(Date.parse(iso)) * 1_000_000n;

describe('fields', () => {
  it.each([
    ['body', 'body', []],
    ['body.a.b', 'body', ['a', 'b']],
    ['attributes["log.level"]', 'attributes', ['log.level']],
    ["attributes['a.b'].c", 'attributes', ['a.b', 'c']],
    ['resource.host', 'resource', ['host']],
  ])('%s', (text, root, keys) => {
    expect(parseField(text)).toMatchObject({ root, keys });
  });
  it.each(['bodyx.y', 'attrs.x', 'attributes[log]', 'attributes.'])('rejects %s', (t) => {
    expect(() => parseField(t)).toThrow();
  });
  it('gets, sets and deletes nested fields', () => {
    const e = entry('line');
    setField(e, parseField('body.a.b'), 1);
    expect(e.body).toEqual({ a: { b: 1 } });
    setField(e, parseField('resource["host.name"]'), 'h');
    expect(e.resource).toEqual({ 'host.name': 'h' });
    expect(getField(e, parseField('body.a'))).toEqual({ b: 1 });
    expect(deleteField(e, parseField('body.a.b'))).toBe(1);
    expect(e.body).toEqual({ a: {} });
  });
});

describe('operators', () => {
  const cases: { name: string; ops: Record<string, unknown>[]; body: unknown; attrs?: Record<string, unknown>; want: Partial<Entry>; bad?: number; kept?: boolean }[] = [
    {
      name: 'json_parser into attributes, body kept',
      ops: [{ type: 'json_parser' }],
      body: '{"a":1,"b":"x"}',
      want: { body: '{"a":1,"b":"x"}', attributes: { a: 1, b: 'x' } },
    },
    {
      name: 'json_parser parse_to body',
      ops: [{ type: 'json_parser', parse_to: 'body' }],
      body: '{"a":{"b":2}}',
      want: { body: { a: { b: 2 } } },
    },
    {
      name: 'json_parser with timestamp (gotime) and severity mapping',
      ops: [
        {
          type: 'json_parser',
          timestamp: { parse_from: 'attributes.ts', layout_type: 'gotime', layout: '2006-01-02T15:04:05.999Z07:00' },
          severity: { parse_from: 'attributes.lvl', mapping: { error: ['oops', 'bad'], warn: { min: 400, max: 499 } } },
        },
      ],
      body: '{"ts":"2024-05-06T07:08:09.5+02:00","lvl":"OOPS"}',
      want: { timestamp: ms('2024-05-06T05:08:09.500Z'), severity: 17, severityText: 'OOPS' },
    },
    {
      name: 'json_parser failure with on_error send keeps the record, counted',
      ops: [{ type: 'json_parser' }],
      body: 'not json',
      want: { body: 'not json', attributes: {} },
      bad: 1,
    },
    {
      name: 'json_parser failure with on_error drop drops it, counted',
      ops: [{ type: 'json_parser', on_error: 'drop' }],
      body: '{bad',
      want: {},
      bad: 1,
      kept: false,
    },
    {
      name: 'regex_parser with Go named groups and strptime timestamp',
      ops: [
        {
          type: 'regex_parser',
          regex: '^(?P<time>\\S+ \\S+) (?P<level>[A-Z]+) (?P<msg>.*)$',
          timestamp: { parse_from: 'attributes.time', layout: '%Y-%m-%d %H:%M:%S.%L', location: 'UTC' },
          severity: { parse_from: 'attributes.level' },
        },
      ],
      body: '2024-01-02 03:04:05.678 WARNING disk is full',
      want: { attributes: { time: '2024-01-02 03:04:05.678', level: 'WARNING', msg: 'disk is full' }, timestamp: ms('2024-01-02T03:04:05.678Z'), severity: 13 },
    },
    {
      name: 'regex_parser no match',
      ops: [{ type: 'regex_parser', regex: '^(?P<a>\\d+)$', on_error: 'send_quiet' }],
      body: 'abc',
      want: { attributes: {} },
      bad: 1,
    },
    {
      name: 'key_value_parser with quotes',
      ops: [{ type: 'key_value_parser' }],
      body: 'level=info msg="hello world" n=3 q=\'x y\'',
      want: { attributes: { level: 'info', msg: 'hello world', n: '3', q: 'x y' } },
    },
    {
      name: 'key_value_parser with other delimiters',
      ops: [{ type: 'key_value_parser', delimiter: ':', pair_delimiter: ';' }],
      body: 'a:1; b:two',
      want: { attributes: { a: '1', b: 'two' } },
    },
    {
      name: 'move, copy, add, remove',
      ops: [
        { type: 'json_parser' },
        { type: 'move', from: 'attributes.msg', to: 'body' },
        { type: 'copy', from: 'attributes.user', to: 'resource["user.name"]' },
        { type: 'add', field: 'attributes.env', value: 'prod' },
        { type: 'add', field: 'attributes.loud', value: 'EXPR(attributes.user == "ann")' },
        { type: 'remove', field: 'attributes.junk' },
      ],
      body: '{"msg":"hi","user":"ann","junk":1}',
      want: { body: 'hi', attributes: { user: 'ann', env: 'prod', loud: true }, resource: { 'user.name': 'ann' } },
    },
    {
      name: 'move of a missing field fails',
      ops: [{ type: 'move', from: 'attributes.nope', to: 'body' }],
      body: 'x',
      want: { body: 'x' },
      bad: 1,
    },
    {
      name: 'trace_parser from attributes (defaults)',
      ops: [{ type: 'json_parser' }, { type: 'trace_parser' }],
      body: '{"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","trace_flags":"01"}',
      want: { traceFlags: 1 },
    },
    {
      name: 'trace_parser parse_from other fields, invalid ids stay attributes',
      ops: [{ type: 'json_parser' }, { type: 'trace_parser', trace_id: { parse_from: 'attributes.tid' }, span_id: { parse_from: 'attributes.sid' } }],
      body: '{"tid":"not-an-id","sid":"0000000000000000"}',
      want: { traceId: undefined, spanId: undefined, attributes: { tid: 'not-an-id', sid: '0000000000000000' } },
    },
    {
      name: 'time_parser epoch and severity_parser',
      ops: [
        { type: 'json_parser' },
        { type: 'time_parser', parse_from: 'attributes.t', layout_type: 'epoch', layout: 's.ms' },
        { type: 'severity_parser', parse_from: 'attributes.l', preset: 'none', mapping: { fatal: 'boom', info2: 7 } },
      ],
      body: '{"t":"1700000000.250","l":7}',
      want: { timestamp: 1_700_000_000_250_000_000n, severity: 10, severityText: '7' },
    },
    {
      name: 'if skips an operator',
      ops: [{ type: 'add', field: 'attributes.x', value: 1, if: 'body matches "^ERR"' }],
      body: 'INFO ok',
      want: { attributes: {} },
    },
    {
      name: 'router to an output, then on',
      ops: [
        { type: 'router', routes: [{ expr: 'body startsWith "{"', output: 'json' }], default: 'kv' },
        { type: 'key_value_parser', id: 'kv', output: 'end' },
        { type: 'json_parser', id: 'json' },
        { type: 'noop', id: 'end' },
      ],
      body: '{"a":1}',
      want: { attributes: { a: 1 } },
    },
    {
      name: 'router default',
      ops: [
        { type: 'router', routes: [{ expr: 'body startsWith "{"', output: 'json' }], default: 'kv' },
        { type: 'key_value_parser', id: 'kv', output: 'end' },
        { type: 'json_parser', id: 'json' },
        { type: 'noop', id: 'end' },
      ],
      body: 'a=1',
      want: { attributes: { a: '1' } },
    },
    {
      name: 'router route attributes; no match and no default drops',
      ops: [{ type: 'router', routes: [{ expr: 'attributes.level == "error"', output: 'end', attributes: { routed: 'yes' } }] }, { type: 'noop', id: 'end' }],
      body: 'x',
      attrs: { level: 'info' },
      want: {},
      kept: false,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = run(c.ops, entry(c.body, c.attrs ?? {}));
      expect(r.kept).toBe(c.kept ?? true);
      expect(r.bad.length).toBe(c.bad ?? 0);
      if (r.kept) expect(r.e).toMatchObject(c.want);
    });
  }

  it('trace_parser sets the ids', () => {
    const r = run([{ type: 'json_parser' }, { type: 'trace_parser' }], entry('{"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7"}'));
    expect(Buffer.from(r.e.traceId!).toString('hex')).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(Buffer.from(r.e.spanId!).toString('hex')).toBe('00f067aa0ba902b7');
  });

  it('router counts records no route takes', () => {
    const r = run([{ type: 'router', routes: [{ expr: 'attributes.level == "error"', output: 'end' }] }, { type: 'noop', id: 'end' }], entry('x', { level: 'info' }));
    expect(r.unrouted).toBe(1);
  });
});

describe('ids', () => {
  it.each([
    ['4bf92f3577b34da6a3ce929d0e0e4736', 16, '4bf92f3577b34da6a3ce929d0e0e4736'],
    ['4BF92F35-77B3-4DA6-A3CE-929D0E0E4736', 16, '4bf92f3577b34da6a3ce929d0e0e4736'],
    ['a3ce929d0e0e4736', 16, '0000000000000000a3ce929d0e0e4736'],
    ['00f067aa0ba902b7', 8, '00f067aa0ba902b7'],
    ['abc', 16, undefined],
    ['00000000000000000000000000000000', 16, undefined],
    ['4bf92f3577b34da6a3ce929d0e0e47361', 16, undefined],
    ['zzf92f3577b34da6a3ce929d0e0e4736', 16, undefined],
    ['4bf92f35-77b3-4da6-a3ce-929d0e0e4736', 8, undefined],
  ])('%s (%i bytes)', (v, n, want) => {
    const id = normalizeId(v, n as 16 | 8);
    expect(id ? Buffer.from(id).toString('hex') : undefined).toBe(want);
  });
});

describe('timestamps', () => {
  it.each([
    ['strptime', '%d/%b/%Y:%H:%M:%S %z', '10/Oct/2000:13:55:36 -0700', '2000-10-10T20:55:36Z'],
    ['strptime', '%Y-%m-%dT%H:%M:%S.%f%z', '2024-01-02T03:04:05.123000+00:00', '2024-01-02T03:04:05.123Z'],
    ['gotime', '2006-01-02 15:04:05', '2024-01-02 03:04:05', '2024-01-02T03:04:05Z'],
    ['gotime', 'Jan _2 15:04:05 2006 MST', 'Feb  3 04:05:06 2023 UTC', '2023-02-03T04:05:06Z'],
    ['epoch', 'ms', '1700000000123', '2023-11-14T22:13:20.123Z'],
    ['iso8601', undefined, '2024-01-02 03:04:05,250', '2024-01-02T03:04:05.250Z'],
  ] as const)('%s %s', (type, layout, input, iso) => {
    expect(compileTimeParser(type, layout, 'UTC')(input)).toBe(ms(iso));
  });
  it('keeps nanoseconds', () => {
    expect(parseIso8601('2024-01-02T03:04:05.123456789Z', true)! % 1_000_000_000n).toBe(123456789n);
  });
  it('rejects what does not fit', () => {
    expect(compileTimeParser('strptime', '%Y-%m-%d', 'UTC')('2024/01/02')).toBeUndefined();
    expect(parseIso8601('2024-13-02T03:04:05Z', true)).toBeUndefined();
  });
});

describe('expressions', () => {
  const e = entry('ERROR: disk full', { level: 'error', code: '503', n: 7, 'log.level': 'warn' });
  it.each([
    ['body matches "^ERROR"', true],
    ['attributes.level == "error" and attributes.n > 5', true],
    ['attributes.level == "info" or attributes.code >= 500', true],
    ['not (attributes.level in ["error", "fatal"])', false],
    ['attributes["log.level"] != nil && body contains "disk"', true],
    ['attributes.missing == nil', true],
    ['body endsWith "full" and !(attributes.n < 7)', true],
    ['attributes.level not in ["debug"]', true],
  ])('%s', (src, want) => {
    expect(evalBool(compileExpr(src), e)).toBe(want);
  });
  it.each(['body ==', 'foo == 1', 'body matches 3', '(body == "x"', 'body == "x" extra'])('rejects %s', (src) => {
    expect(() => compileExpr(src)).toThrow();
  });
});

describe('key_value parsing', () => {
  it('fails on text without pairs', () => {
    expect(() => parseKeyValues('just words', '=', undefined)).toThrow();
  });
  it('handles escapes inside quotes', () => {
    expect(parseKeyValues('a="say \\"hi\\"" b=2', '=', undefined)).toEqual({ a: 'say "hi"', b: '2' });
  });
});
