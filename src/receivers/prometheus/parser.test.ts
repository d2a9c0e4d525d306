import { describe, expect, it } from 'vitest';
import { ParseError, parseExposition, isOpenMetrics, type ParsedExemplar } from './parser.js';

function parse(text: string, om = false) {
  const samples: { name: string; labels: string[]; value: number; ts: number | undefined; ex: ParsedExemplar | undefined }[] = [];
  const meta: [string, string, string][] = [];
  parseExposition(text, om, {
    meta: (k, n, t) => meta.push([k, n, t]),
    sample: (name, labels, value, ts, ex) => samples.push({ name, labels, value, ts, ex }),
  });
  return { samples, meta };
}

describe('text format 0.0.4', () => {
  it('reads metadata, labels with escapes, special values and millisecond timestamps', () => {
    const { samples, meta } = parse(
      [
        '# HELP http_requests_total The total. With \\\\ and \\n.',
        '# TYPE http_requests_total counter',
        'http_requests_total{method="post",code="200"} 1027 1395066363000',
        'http_requests_total{method="post",code="400"}    3 1395066363000',
        '',
        '# a free comment',
        'msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9',
        'metric_without_timestamp_and_labels 12.47',
        'something_weird{problem="division by zero"} +Inf -3982045',
        'nan_value NaN',
        'neg -Inf',
        'trailing_comma{a="1",} 2',
        '  indented 5',
        'windows_line 7\r',
      ].join('\n') + '\n',
    );
    expect(meta).toEqual([
      ['help', 'http_requests_total', 'The total. With \\ and \n.'],
      ['type', 'http_requests_total', 'counter'],
    ]);
    expect(samples.map((s) => [s.name, s.labels, s.value, s.ts])).toEqual([
      ['http_requests_total', ['method', 'post', 'code', '200'], 1027, 1395066363000],
      ['http_requests_total', ['method', 'post', 'code', '400'], 3, 1395066363000],
      ['msdos_file_access_time_seconds', ['path', 'C:\\DIR\\FILE.TXT', 'error', 'Cannot find file:\n"FILE.TXT"'], 1.458255915e9, undefined],
      ['metric_without_timestamp_and_labels', [], 12.47, undefined],
      ['something_weird', ['problem', 'division by zero'], Infinity, -3982045],
      ['nan_value', [], NaN, undefined],
      ['neg', [], -Infinity, undefined],
      ['trailing_comma', ['a', '1'], 2, undefined],
      ['indented', [], 5, undefined],
      ['windows_line', [], 7, undefined],
    ]);
  });

  it.each([
    ['no value', 'foo\n', /expected a value/],
    ['bad value', 'foo abc\n', /invalid value "abc"/],
    ['hex value', 'foo 0x10\n', /invalid value/],
    ['unterminated labels', 'foo{a="1" 1\n', /expected "," or "}"/],
    ['unquoted label value', 'foo{a=1} 1\n', /expected '"'/],
    ['bad label name', 'foo{1a="x"} 1\n', /invalid label name/],
    ['bad metric name', '1foo 1\n', /invalid metric name/],
    ['bad type', '# TYPE foo countr\n', /invalid metric type/],
    ['fractional timestamp', 'foo 1 1.5\n', /invalid timestamp/],
    ['binary garbage', '\u0000\u0001\u0002PNG\n', /invalid metric name/],
  ])('rejects %s with the line number', (_, text, re) => {
    expect(() => parse('ok 1\n' + text)).toThrow(ParseError);
    expect(() => parse('ok 1\n' + text)).toThrow(re);
    try {
      parse('ok 1\n' + text);
    } catch (e) {
      expect((e as ParseError).line).toBe(2);
    }
  });
});

describe('OpenMetrics 1.0', () => {
  it('reads units, exemplars with and without timestamps, and second timestamps', () => {
    const { samples, meta } = parse(
      [
        '# TYPE foo_seconds histogram',
        '# UNIT foo_seconds seconds',
        '# HELP foo_seconds Latency.',
        'foo_seconds_bucket{le="0.1"} 8 # {trace_id="0123456789abcdef0123456789abcdef",span_id="0123456789abcdef"} 0.054 1520879607.789',
        'foo_seconds_bucket{le="+Inf"} 17 # {trace_id="aa"} 3',
        'foo_seconds_count 17 1520879607.789',
        'foo_seconds_sum 324789.3',
        'foo_seconds_created 1520430000.123',
        '# EOF',
      ].join('\n') + '\n',
      true,
    );
    expect(meta).toContainEqual(['unit', 'foo_seconds', 'seconds']);
    expect(samples[0]!.ex).toEqual({ labels: ['trace_id', '0123456789abcdef0123456789abcdef', 'span_id', '0123456789abcdef'], value: 0.054, timestampMs: 1520879607789 });
    expect(samples[1]!.ex).toEqual({ labels: ['trace_id', 'aa'], value: 3, timestampMs: undefined });
    expect(samples[2]!.ts).toBe(1520879607789);
    expect(samples[4]).toMatchObject({ name: 'foo_seconds_created', value: 1520430000.123 });
  });

  it.each([
    ['a missing # EOF (truncated body)', 'foo 1\n', /does not end with "# EOF"/],
    ['data after # EOF', 'foo 1\n# EOF\nbar 2\n', /data after/],
    ['an empty line', 'foo 1\n\n# EOF\n', /empty line/],
    ['an exemplar over 128 characters', `foo_total 1 # {a="${'x'.repeat(130)}"} 1\n# EOF\n`, /128/],
    ['a bad exemplar', 'foo_total 1 # 1\n# EOF\n', /exemplar must start/],
    ['an unknown type', '# TYPE foo untyped\n# EOF\n', /invalid metric type/],
  ])('rejects %s', (_, text, re) => {
    expect(() => parse(text, true)).toThrow(re);
  });

  it('selects the parser by Content-Type', () => {
    expect(isOpenMetrics('application/openmetrics-text; version=1.0.0; charset=utf-8')).toBe(true);
    expect(isOpenMetrics('text/plain; version=0.0.4')).toBe(false);
    expect(isOpenMetrics(undefined)).toBe(false);
  });
});
