import { describe, expect, it } from 'vitest';
import { parseConfig } from './testutil.js';

const errors = (raw: Record<string, unknown>) => parseConfig(raw).issues.errors.map((i) => `${i.path.join('::')}: ${i.message}`);

describe('filelog config', () => {
  it('has the Collector defaults', () => {
    const { cfg, issues } = parseConfig({ include: ['/var/log/*.log'] });
    expect(issues.list).toEqual([]);
    expect(cfg).toMatchObject({
      start_at: 'end',
      poll_interval: 200,
      max_log_size: 1024 * 1024,
      max_concurrent_files: 1024,
      encoding: 'utf-8',
      include_file_name: true,
      include_file_path: false,
      fingerprint_size: 1000,
      force_flush_period: 500,
      compression: '',
      operators: [],
    });
  });

  it('accepts a full config', () => {
    const { issues } = parseConfig({
      include: ['/var/log/app/*.log'],
      exclude: ['/var/log/app/debug.log'],
      start_at: 'beginning',
      poll_interval: '1s',
      max_log_size: '64KiB',
      fingerprint_size: '1kb',
      encoding: 'utf-16le',
      include_file_path: true,
      storage: 'file_storage/filelog',
      multiline: { line_start_pattern: '^\\d{4}-' },
      preset: 'logfmt',
      operators: [
        { type: 'router', routes: [{ expr: 'body matches "^{"', output: 'json' }], default: 'noop' },
        { type: 'json_parser', id: 'json', timestamp: { parse_from: 'attributes.time', layout: '%Y-%m-%dT%H:%M:%S%z' }, severity: { parse_from: 'attributes.level', mapping: { error: ['e', 'err'] } } },
        { type: 'noop' },
      ],
    });
    expect(issues.list).toEqual([]);
  });

  it('lists every error with its path', () => {
    expect(
      errors({
        start_at: 'middle',
        encoding: 'ebcdic',
        poll_interval: 'often',
        multiline: { line_start_pattern: 'a', line_end_pattern: 'b' },
        storage: 'File Storage',
        operators: [
          { type: 'json_parser', parse_from: 'bodyy', timestamp: { layout_type: 'strptime' } },
          { type: 'regex_parser', regex: '(unclosed' },
          { type: 'move', from: 'attributes.a' },
          { type: 'router', routes: [{ expr: 'body ==', output: 'nowhere' }] },
          { type: 'frobnicate' },
          { type: 'json_parser', extra: 1 },
        ],
      }),
    ).toEqual([
      'receivers::filelog::start_at: must be one of "beginning", "end", got "middle"',
      'receivers::filelog::poll_interval: must be a duration such as "5s", "200ms" or "1m30s", got string "often"',
      'receivers::filelog::encoding: must be one of "utf-8", "utf8", "utf-8-raw", "ascii", "us-ascii", "utf-16le", "utf-16be", "nop", got "ebcdic"',
      'receivers::filelog::operators::2::to: is required',
      'receivers::filelog::operators::4::type: must be one of json_parser, regex_parser, key_value_parser, move, copy, remove, add, trace_parser, time_parser, severity_parser, router, noop, got string "frobnicate"',
      'receivers::filelog::operators::5::extra: unknown key "extra"; valid keys: type, id, output, if, parse_from, parse_to, on_error, timestamp, severity, trace',
    ]);
  });

  it('runs the cross-field checks once the schema is satisfied, listing all of them', () => {
    expect(
      errors({
        include: [],
        fingerprint_size: 4,
        multiline: { line_start_pattern: 'a', line_end_pattern: 'b' },
        storage: 'File Storage',
        operators: [
          { type: 'json_parser', parse_from: 'bodyy', timestamp: { layout_type: 'strptime' }, severity: { mapping: { loud: 'x' } } },
          { type: 'regex_parser', regex: '(unclosed' },
          { type: 'regex_parser', id: 'r2', regex: '(\\d+)' },
          { type: 'router', routes: [{ expr: 'body ==', output: 'nowhere' }], default: 'missing' },
          { type: 'add', field: 'attributes.x' },
          { type: 'noop', output: 'ghost', if: 'foo' },
          { type: 'time_parser', layout_type: 'epoch', layout: 'minutes' },
          { type: 'noop' },
        ],
      }),
    ).toEqual([
      'receivers::filelog::include: must list at least one file glob',
      'receivers::filelog::fingerprint_size: must be at least 16 bytes',
      'receivers::filelog::multiline: needs exactly one of line_start_pattern and line_end_pattern',
      'receivers::filelog::storage: must be an extension id such as file_storage or file_storage/name, got "File Storage"',
      'receivers::filelog::operators::7::id: duplicate operator id "noop"; give each operator of the same type its own id',
      'receivers::filelog::operators::0::parse_from: field "bodyy" must start with body, attributes or resource',
      'receivers::filelog::operators::0::timestamp::layout: is required for layout_type strptime',
      'receivers::filelog::operators::0::severity::mapping::loud: unknown severity "loud"; use trace, debug, info, warn, error or fatal, optionally with 2, 3 or 4',
      'receivers::filelog::operators::1::regex: invalid regular expression: Invalid regular expression: /(unclosed/: Unterminated group',
      'receivers::filelog::operators::2::regex: must have at least one named group, e.g. (?P<level>\\w+)',
      'receivers::filelog::operators::3::routes::0::expr: invalid expression: unexpected end of expression',
      'receivers::filelog::operators::3::routes::0::output: names operator "nowhere", which is not in the list',
      'receivers::filelog::operators::3::default: names operator "missing", which is not in the list',
      'receivers::filelog::operators::4::value: is required',
      'receivers::filelog::operators::5::output: names operator "ghost", which is not in the list',
      'receivers::filelog::operators::5::if: invalid expression: unknown name "foo" (fields start with body, attributes or resource)',
      'receivers::filelog::operators::6::layout: epoch layout must be one of s, ms, us, ns, s.ms, s.us, s.ns, got "minutes"',
    ]);
  });

  it('rejects an unknown preset', () => {
    expect(errors({ include: ['/x'], preset: 'nginx' })).toEqual(['receivers::filelog::preset: must be one of "ecs_json", "python_json", "logfmt", got "nginx"']);
  });
});
