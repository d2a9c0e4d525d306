// The Collector's redaction keys, each with a table of cases. Detectors are off
// (`detectors: []`) unless a case is about how they combine with a key, so
// these show the Collector's meaning alone.
import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { AnyValue, KeyValue } from '../../pdata/model.js';
import { attrsOf, harness, kv, logRecord, logs, span, sv, traces } from './testdata/harness.js';

const int = (n: number | bigint): AnyValue => ({ type: 'int', value: BigInt(n) });
const dbl = (n: number): AnyValue => ({ type: 'double', value: n });
const bool = (b: boolean): AnyValue => ({ type: 'bool', value: b });

/** Runs one span with `attrs` and returns its attributes as a plain record. */
async function spanAttrs(cfg: Record<string, unknown>, attrs: KeyValue[]): Promise<Record<string, unknown>> {
  const h = await harness({ detectors: [], ...cfg });
  const out = (await h.run(traces([span('op', attrs)]))).read();
  return attrsOf(out[0]!.scopeSpans[0]!.spans[0]!.attributes);
}

type Case = [name: string, cfg: Record<string, unknown>, attrs: KeyValue[], want: Record<string, unknown>];

function table(cases: Case[]): void {
  it.each(cases)('%s', async (_n, cfg, attrs, want) => {
    expect(await spanAttrs(cfg, attrs)).toEqual(want);
  });
}

const md5 = (s: string) => createHash('md5').update(s).digest('hex');
const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');
const sha3 = (s: string) => createHash('sha3-256').update(s).digest('hex');
const hmac = (alg: string, key: string, s: string) => createHmac(alg, key).update(s).digest('hex');
const KEY = 'k'.repeat(32);

describe('allow_all_keys / allowed_keys (fail-closed)', () => {
  table([
    ['default config: an empty allow-list removes every attribute', {}, [kv('a', '1'), kv('b', int(2))], {}],
    ['only listed keys survive', { allowed_keys: ['id', 'name'] }, [kv('id', '1'), kv('name', 'n'), kv('secret_sauce', 'x'), kv('other', int(3))], { id: '1', name: 'n' }],
    ['keys match exactly and case-sensitively', { allowed_keys: ['Name'] }, [kv('name', 'n'), kv('Name', 'N')], { Name: 'N' }],
    ['allow_all_keys keeps everything', { allow_all_keys: true, allowed_keys: ['id'] }, [kv('id', '1'), kv('x', '2')], { id: '1', x: '2' }],
    ['nested map keys are allow-listed too', { allowed_keys: ['req', 'id'] }, [kv('req', { type: 'kvlist', value: [kv('id', '1'), kv('body', 'b')] })], { req: { id: '1' } }],
    ['allowed keys still get blocked_values', { allowed_keys: ['card'], blocked_values: ['4[0-9]{15}'] }, [kv('card', 'n 4111111111111111')], { card: 'n ****' }],
  ]);

  it('applies to resource and scope attributes as well', async () => {
    const h = await harness({ detectors: [], allowed_keys: ['service.name'] });
    const out = (await h.run(traces([span('op', [kv('x', '1')])], [kv('service.name', 'svc'), kv('host.name', 'h')], [kv('lib.attr', 'v')]))).read()[0]!;
    expect(attrsOf(out.resource.attributes)).toEqual({ 'service.name': 'svc' });
    expect(attrsOf(out.scopeSpans[0]!.scope.attributes)).toEqual({});
    expect(attrsOf(out.scopeSpans[0]!.spans[0]!.attributes)).toEqual({});
  });

  it('applies to log body maps at every depth', async () => {
    const h = await harness({ detectors: [], allowed_keys: ['msg', 'user', 'name'] }, 'logs');
    const body: AnyValue = { type: 'kvlist', value: [kv('msg', 'hi'), kv('user', { type: 'kvlist', value: [kv('name', 'bob'), kv('ssn', '123-45-6789')] }), kv('extra', 'x')] };
    const out = (await h.run(logs([logRecord(body)]))).read();
    const b = out[0]!.scopeLogs[0]!.logRecords[0]!.body as { type: 'kvlist'; value: KeyValue[] };
    expect(attrsOf(b.value)).toEqual({ msg: 'hi', user: { name: 'bob' } });
  });
});

describe('ignored_keys', () => {
  table([
    ['kept although not allow-listed', { allowed_keys: ['id'], ignored_keys: ['trace.note'] }, [kv('id', '1'), kv('trace.note', 'n'), kv('x', 'y')], { id: '1', 'trace.note': 'n' }],
    ['wins over blocked_key_patterns', { allow_all_keys: true, ignored_keys: ['api_token'], blocked_key_patterns: ['.*token.*'] }, [kv('api_token', 't')], { api_token: 't' }],
    ['wins over blocked_values', { allow_all_keys: true, ignored_keys: ['c'], blocked_values: ['4[0-9]{15}'] }, [kv('c', '4111111111111111')], { c: '4111111111111111' }],
    ['bypasses the detectors and key-name rule', { allow_all_keys: true, ignored_keys: ['password', 'mail'], detectors: ['default'] }, [kv('password', 'hunter2'), kv('mail', 'a@example.com')], { password: 'hunter2', mail: 'a@example.com' }],
  ]);
});

describe('blocked_key_patterns', () => {
  table([
    ['masks the whole value of matching keys', { allow_all_keys: true, blocked_key_patterns: ['.*token.*', '^api_key$'] }, [kv('auth_token', 'abc'), kv('api_key', 'k'), kv('api_key_id', 'id')], { auth_token: '****', api_key: '****', api_key_id: 'id' }],
    ['masks non-string values as a string', { allow_all_keys: true, blocked_key_patterns: ['^pin$'] }, [kv('pin', int(1234))], { pin: '****' }],
    ['RE2 case-insensitive flag', { allow_all_keys: true, blocked_key_patterns: ['(?i)^SECRET'] }, [kv('secret.value', 's'), kv('Secret2', 't')], { 'secret.value': '****', Secret2: '****' }],
    ['allowed_values wins over the key pattern', { allow_all_keys: true, blocked_key_patterns: ['token'], allowed_values: ['^public-'] }, [kv('token', 'public-abc'), kv('token2', 'x')], { token: 'public-abc', token2: '****' }],
    ['hashes the whole value with hash_function', { allow_all_keys: true, blocked_key_patterns: ['token'], hash_function: 'md5' }, [kv('token', 'abc')], { token: md5('abc') }],
  ]);
});

describe('blocked_values', () => {
  table([
    ['the matching part becomes ****', { allow_all_keys: true, blocked_values: ['4[0-9]{12}(?:[0-9]{3})?'] }, [kv('msg', 'card 4111111111111111 declined')], { msg: 'card **** declined' }],
    ['every match is replaced', { allow_all_keys: true, blocked_values: ['[0-9]{3}-[0-9]{2}-[0-9]{4}'] }, [kv('m', '123-45-6789 and 987-65-4321')], { m: '**** and ****' }],
    ['several patterns apply in order', { allow_all_keys: true, blocked_values: ['foo', 'bar'] }, [kv('m', 'foo bar baz')], { m: '**** **** baz' }],
    ['".*" masks once, as Go does', { allow_all_keys: true, blocked_values: ['.*'] }, [kv('m', 'abc')], { m: '****' }],
    ['only strings without redact_all_types', { allow_all_keys: true, blocked_values: ['4[0-9]{15}'] }, [kv('n', int(4111111111111111n))], { n: 4111111111111111 }],
    ['a removed key is removed, not masked', { allowed_keys: ['a'], blocked_values: ['x'] }, [kv('a', 'x'), kv('b', 'x')], { a: '****' }],
    ['arrays are searched element by element', { allow_all_keys: true, blocked_values: ['s3cr3t'] }, [kv('l', { type: 'array', value: [sv('a'), sv('my s3cr3t')] })], { l: ['a', 'my ****'] }],
  ]);
});

describe('allowed_values', () => {
  table([
    ['a matching value is exempt from blocked_values', { allow_all_keys: true, blocked_values: ['[a-z.]+@[a-z.]+'], allowed_values: ['.+@mycompany\\.com'] }, [kv('a', 'bob@mycompany.com'), kv('b', 'eve@other.org')], { a: 'bob@mycompany.com', b: '****' }],
    ['exempts from the detectors too', { allow_all_keys: true, detectors: ['email'], allowed_values: ['@mycompany\\.com$'] }, [kv('a', 'bob@mycompany.com'), kv('b', 'eve@other.org')], { a: 'bob@mycompany.com', b: '[REDACTED:email]' }],
    ['and detector hits one by one inside a longer value', { allow_all_keys: true, detectors: ['email'], allowed_values: ['^[a-z]+@mycompany\\.com$'] }, [kv('m', 'from bob@mycompany.com to eve@other.org')], { m: 'from bob@mycompany.com to [REDACTED:email]' }],
  ]);
});

describe('redact_all_types', () => {
  table([
    ['false: ints are not checked', { allow_all_keys: true, blocked_values: ['^4[0-9]{15}$'] }, [kv('n', int(4111111111111111n))], { n: 4111111111111111 }],
    ['true: ints are checked by their string form and become strings', { allow_all_keys: true, redact_all_types: true, blocked_values: ['^4[0-9]{15}$'] }, [kv('n', int(4111111111111111n)), kv('m', int(5))], { n: '****', m: 5 }],
    ['true: doubles and bools', { allow_all_keys: true, redact_all_types: true, blocked_values: ['^3\\.14$', '^true$'] }, [kv('d', dbl(3.14)), kv('b', bool(true)), kv('c', bool(false))], { d: '****', b: '****', c: false }],
    ['true: detectors see ints too', { allow_all_keys: true, redact_all_types: true, detectors: ['credit_card'] }, [kv('pan', int(4111111111111111n))], { pan: '[REDACTED:credit_card]' }],
  ]);
});

describe('hash_function', () => {
  const v = 'card 4111111111111111 x';
  const re = '4[0-9]{15}';
  table([
    ['md5', { allow_all_keys: true, blocked_values: [re], hash_function: 'md5' }, [kv('m', v)], { m: `card ${md5('4111111111111111')} x` }],
    ['sha1', { allow_all_keys: true, blocked_values: [re], hash_function: 'sha1' }, [kv('m', v)], { m: `card ${sha1('4111111111111111')} x` }],
    ['sha3 is SHA3-256', { allow_all_keys: true, blocked_values: [re], hash_function: 'sha3' }, [kv('m', v)], { m: `card ${sha3('4111111111111111')} x` }],
    ['case-insensitive name', { allow_all_keys: true, blocked_values: [re], hash_function: 'MD5' }, [kv('m', v)], { m: `card ${md5('4111111111111111')} x` }],
    ['hmac-sha256 with hmac_key', { allow_all_keys: true, blocked_values: [re], hash_function: 'hmac-sha256', hmac_key: KEY }, [kv('m', v)], { m: `card ${hmac('sha256', KEY, '4111111111111111')} x` }],
    ['hmac-sha512 with hmac_key', { allow_all_keys: true, blocked_values: [re], hash_function: 'hmac-sha512', hmac_key: KEY }, [kv('m', v)], { m: `card ${hmac('sha512', KEY, '4111111111111111')} x` }],
    ['detector hits carry the detector name and the keyed hash', { allow_all_keys: true, detectors: ['credit_card'], hash_function: 'hmac-sha256', hmac_key: KEY }, [kv('m', v)], { m: `card [REDACTED:credit_card:${hmac('sha256', KEY, '4111111111111111')}] x` }],
  ]);
});

describe('summary', () => {
  const attrs = () => [kv('id', '1'), kv('name', 'n'), kv('auth_token', 't'), kv('card', '4111111111111111'), kv('dropme', 'x'), kv('skip', 's')];
  const cfg = { allowed_keys: ['id', 'name', 'auth_token', 'card'], ignored_keys: ['skip'], blocked_key_patterns: ['token'], blocked_values: ['4[0-9]{15}'] };
  table([
    [
      'debug: keys (sorted) and counts',
      { ...cfg, summary: 'debug' },
      attrs(),
      {
        id: '1',
        name: 'n',
        auth_token: '****',
        card: '****',
        skip: 's',
        'redaction.redacted.keys': 'dropme',
        'redaction.redacted.count': 1,
        'redaction.masked.keys': 'auth_token,card',
        'redaction.masked.count': 2,
        'redaction.allowed.keys': 'id,name',
        'redaction.allowed.count': 2,
        'redaction.ignored.count': 1,
      },
    ],
    [
      'info: counts only',
      { ...cfg, summary: 'info' },
      attrs(),
      { id: '1', name: 'n', auth_token: '****', card: '****', skip: 's', 'redaction.redacted.count': 1, 'redaction.masked.count': 2, 'redaction.allowed.count': 2, 'redaction.ignored.count': 1 },
    ],
    ['silent: nothing', { ...cfg, summary: 'silent' }, attrs(), { id: '1', name: 'n', auth_token: '****', card: '****', skip: 's' }],
    [
      'debug merges with what an earlier redaction wrote',
      { allow_all_keys: true, blocked_key_patterns: ['token'], summary: 'debug', ignored_keys: ['redaction.masked.keys', 'redaction.masked.count', 'redaction.allowed.keys', 'redaction.allowed.count'] },
      [kv('token', 't'), kv('redaction.masked.keys', 'zeta'), kv('redaction.masked.count', int(1))],
      { token: '****', 'redaction.masked.keys': 'token,zeta', 'redaction.masked.count': 2, 'redaction.ignored.count': 2 },
    ],
  ]);

  it('detector hits count as masked keys', async () => {
    expect(await spanAttrs({ allow_all_keys: true, detectors: ['default'], summary: 'debug' }, [kv('mail', 'a@example.com'), kv('ok', 'fine')])).toEqual({
      mail: '[REDACTED:email]',
      ok: 'fine',
      'redaction.masked.keys': 'mail',
      'redaction.masked.count': 1,
      'redaction.allowed.keys': 'ok',
      'redaction.allowed.count': 1,
    });
  });

  it('log bodies get redaction.body.* on the record attributes', async () => {
    const h = await harness({ detectors: [], allowed_keys: ['msg', 'card'], blocked_values: ['4[0-9]{15}'], summary: 'debug' }, 'logs');
    const body: AnyValue = { type: 'kvlist', value: [kv('msg', 'hi'), kv('card', '4111111111111111'), kv('x', 'y')] };
    const out = (await h.run(logs([logRecord(body), logRecord(sv('pay 4111111111111111'))]))).read();
    const [r1, r2] = out[0]!.scopeLogs[0]!.logRecords;
    expect(attrsOf(r1!.attributes)).toEqual({
      'redaction.body.redacted.keys': 'x',
      'redaction.body.redacted.count': 1,
      'redaction.body.masked.keys': 'card',
      'redaction.body.masked.count': 1,
      'redaction.body.allowed.keys': 'msg',
      'redaction.body.allowed.count': 1,
    });
    expect(r2!.body).toEqual(sv('pay ****'));
    expect(attrsOf(r2!.attributes)).toEqual({ 'redaction.body.masked.keys': 'body', 'redaction.body.masked.count': 1 });
  });
});

describe('sanitizers (accepted, not applied)', () => {
  table([['url_sanitizer enabled leaves URLs to the detectors', { allow_all_keys: true, url_sanitizer: { enabled: true } }, [kv('url.full', 'https://x.example.com/users/123')], { 'url.full': 'https://x.example.com/users/123' }]]);
});
