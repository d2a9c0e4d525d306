import { describe, expect, it } from 'vitest';
import { validateYaml } from '../../service/service.js';
import { compileGoRegex, resolveDetectors } from './config.js';
import { DEFAULT_DETECTORS } from './detectors.js';
import { parseConfig } from './testdata/harness.js';

/** A whole Sieve config with `body` as the redaction processor's config (indented under it). */
function yaml(body: string): string {
  const indented = body
    .trim()
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
  return `receivers:
  otlp:
    protocols:
      grpc:
processors:
  redaction:
${indented}
exporters:
  debug:
service:
  pipelines:
    traces: { receivers: [otlp], processors: [redaction], exporters: [debug] }
`;
}

describe('redaction config: defaults', () => {
  it('has the Collector defaults plus the default detectors', () => {
    const { cfg, issues } = parseConfig({});
    expect(issues.errors).toEqual([]);
    expect(cfg).toMatchObject({
      allow_all_keys: false,
      allowed_keys: [],
      ignored_keys: [],
      blocked_key_patterns: [],
      blocked_values: [],
      allowed_values: [],
      redact_all_types: false,
      summary: 'silent',
      hash_function: '',
      hmac_key: '',
      detectors: ['default'],
      path_roots: [],
    });
    expect(resolveDetectors(cfg)).toEqual(DEFAULT_DETECTORS);
  });

  it('warns that an empty allow-list removes every attribute', () => {
    const { issues } = parseConfig({});
    expect(issues.warnings.map((w) => `${w.path.join('::')}: ${w.message}`)).toEqual([
      expect.stringMatching(/^processors::redaction::allowed_keys: is empty and allow_all_keys is false: every attribute is removed/),
    ]);
  });
});

describe('redaction config: detectors', () => {
  const cases: [string, Record<string, unknown>, string[]][] = [
    ['default set', { detectors: ['default'] }, [...DEFAULT_DETECTORS]],
    ['none', { detectors: [] }, []],
    ['a few by name', { detectors: ['jwt', 'email'] }, ['jwt', 'email']],
    ['default minus one', { detectors: ['default', '-email'] }, DEFAULT_DETECTORS.filter((d) => d !== 'email')],
    ['path_roots turns file_path on', { path_roots: ['/app'] }, [...DEFAULT_DETECTORS, 'file_path']],
    ['-file_path wins over path_roots', { path_roots: ['/app'], detectors: ['default', '-file_path'] }, [...DEFAULT_DETECTORS]],
    ['file_path by name with roots', { path_roots: ['/srv'], detectors: ['file_path'] }, ['file_path']],
  ];
  it.each(cases)('%s', (_name, raw, want) => {
    const { cfg, issues } = parseConfig({ allow_all_keys: true, ...raw });
    expect(issues.errors).toEqual([]);
    expect(resolveDetectors(cfg)).toEqual(want);
  });
});

describe('redaction config: valid Collector configs load unchanged', () => {
  const cases: [string, string][] = [
    [
      'the Collector README example',
      `
allow_all_keys: false
allowed_keys:
  - description
  - group
  - id
  - name
ignored_keys:
  - safe_attribute
blocked_values:
  - "4[0-9]{12}(?:[0-9]{3})?"
  - "(5[1-5][0-9]{14})"
blocked_key_patterns:
  - ".*token.*"
  - ".*api_key.*"
hash_function: md5
allowed_values:
  - ".+@mycompany.com"
summary: debug`,
    ],
    ['hmac from the environment', 'allow_all_keys: true\nhash_function: hmac-sha256\nhmac_key: ${env:REDACTION_KEY}'],
    ['sanitizers present but off', 'allow_all_keys: true\nurl_sanitizer:\n  enabled: false\n  attributes: [url.full]\ndb_sanitizer:\n  sql:\n    enabled: false'],
    ['RE2 leading flags and classes', 'allow_all_keys: true\nblocked_values: ["(?i)^secret-[[:alnum:]]+\\\\z"]'],
    ['summary info, redact_all_types', 'allow_all_keys: true\nsummary: info\nredact_all_types: true'],
  ];
  it.each(cases)('%s', (_name, body) => {
    const r = validateYaml(yaml(body), undefined, { REDACTION_KEY: 'k'.repeat(32) });
    expect(r.errors).toEqual([]);
    expect(r.config).toBeDefined();
  });
});

describe('redaction config: invalid configs', () => {
  const cases: [string, string, string][] = [
    ['invalid regex in blocked_values', 'allow_all_keys: true\nblocked_values:\n  - "ok"\n  - "(unclosed"', 'processors::redaction::blocked_values::1: invalid regular expression "(unclosed": '],
    ['invalid regex in allowed_values', 'allow_all_keys: true\nallowed_values: ["[z-a]"]', 'processors::redaction::allowed_values::0: invalid regular expression "[z-a]": '],
    ['invalid regex in blocked_key_patterns', 'allow_all_keys: true\nblocked_key_patterns: ["*token"]', 'processors::redaction::blocked_key_patterns::0: invalid regular expression "*token": '],
    ['unsupported RE2 flag', 'allow_all_keys: true\nblocked_values: ["(?U)a+"]', 'processors::redaction::blocked_values::0: invalid regular expression "(?U)a+": the (?U) flag (ungreedy) is not supported'],
    ['unknown detector', 'allow_all_keys: true\ndetectors: [default, jtw]', 'processors::redaction::detectors::1: unknown detector "jtw" (did you mean "jwt"?)'],
    ['unknown detector to remove', 'allow_all_keys: true\ndetectors: [default, -nope]', 'processors::redaction::detectors::1: unknown detector "nope"; known: default, sensitive_key'],
    ['file_path without roots', 'allow_all_keys: true\ndetectors: [file_path]', 'processors::redaction::detectors::0: file_path needs path_roots'],
    ['relative path root', 'allow_all_keys: true\npath_roots: [app]', 'processors::redaction::path_roots::0: must be an absolute path, got "app"'],
    ['hmac without key', 'allow_all_keys: true\nhash_function: hmac-sha256', 'processors::redaction::hmac_key: is required when hash_function is hmac-sha256'],
    ['hmac-sha512 with an empty env key', 'allow_all_keys: true\nhash_function: hmac-sha512\nhmac_key: "${env:MISSING_KEY:-}"', 'processors::redaction::hmac_key: is required when hash_function is hmac-sha512'],
    ['unknown hash function', 'allow_all_keys: true\nhash_function: sha256', 'processors::redaction::hash_function: unknown hash function "sha256"; supported: md5, sha1, sha3, hmac-sha256, hmac-sha512'],
    ['unknown summary level', 'allow_all_keys: true\nsummary: verbose', 'processors::redaction::summary: must be one of "debug", "info", "silent", got "verbose"'],
    ['unknown key', 'allow_all_keys: true\nallowed_key: [a]', 'processors::redaction::allowed_key: unknown key "allowed_key" (did you mean "allowed_keys"?)'],
    ['unknown sanitizer key', 'allow_all_keys: true\ndb_sanitizer:\n  postgres:\n    enabled: true', 'processors::redaction::db_sanitizer::postgres: unknown key "postgres"'],
    ['wrong type', 'allow_all_keys: maybe', 'processors::redaction::allow_all_keys: must be true or false, got string "maybe"'],
  ];
  it.each(cases)('%s', (_name, body, want) => {
    const r = validateYaml(yaml(body));
    expect(r.config).toBeUndefined();
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toContain(want);
    // Errors point at the file and line.
    expect(r.errors[0]).toMatch(/\(config\.yaml:\d+\)$/);
  });

  it('reports every problem at once', () => {
    const r = validateYaml(yaml('blocked_values: ["("]\nsummary: loud\nhash_function: sha256'));
    expect(r.errors).toHaveLength(3);
  });
});

describe('redaction config: warnings', () => {
  const cases: [string, string, string][] = [
    ['unkeyed hash', 'allow_all_keys: true\nhash_function: sha1', 'processors::redaction::hash_function: sha1 is an unkeyed hash'],
    ['short hmac key', 'allow_all_keys: true\nhash_function: hmac-sha256\nhmac_key: short', 'processors::redaction::hmac_key: is shorter than 16 bytes'],
    ['key without hmac', 'allow_all_keys: true\nhmac_key: 0123456789abcdef0123', 'processors::redaction::hmac_key: is ignored'],
    ['url_sanitizer enabled', 'allow_all_keys: true\nurl_sanitizer:\n  enabled: true', 'processors::redaction::url_sanitizer: is not supported yet'],
    ['db_sanitizer enabled', 'allow_all_keys: true\ndb_sanitizer:\n  sql:\n    enabled: true', 'processors::redaction::db_sanitizer::sql: is not supported yet'],
  ];
  it.each(cases)('%s', (_name, body, want) => {
    const r = validateYaml(yaml(body));
    expect(r.errors).toEqual([]);
    expect(r.warnings.some((w) => w.includes(want))).toBe(true);
  });
});

describe('RE2 compatibility', () => {
  it.each([
    ['(?i)secret', 'SECRET', true],
    ['(?s)a.b', 'a\nb', true],
    ['[[:digit:]]{3}', 'x123', true],
    ['\\Aabc\\z', 'abc', true],
    ['\\Aabc\\z', 'xabc', false],
    ['\\\\z', 'a\\z', true],
  ])('%s on %j', (src, input, want) => {
    expect(compileGoRegex(src).test(input)).toBe(want);
  });
});
