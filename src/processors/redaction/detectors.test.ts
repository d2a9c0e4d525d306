import { describe, expect, it } from 'vitest';
import { basicOk, cardIssuerOk, DEFAULT_DETECTORS, DETECTORS, DetectorEngine, fernetOk, isSensitiveKey, jwtHeaderOk, luhn, ssnOk, type DetectorName } from './detectors.js';

const engine = new DetectorEngine({ detectors: [...DEFAULT_DETECTORS, 'file_path'], pathRoots: ['/app', 'D:\\svc'] });
const redact = (s: string) => engine.redact(s, (d) => `[${DETECTORS[d]}]`) ?? s;

const JWT = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U';
// version 0x80, 8-byte time, 16-byte IV, two AES blocks, 32-byte HMAC.
const FERNET = Buffer.concat([Buffer.from([0x80, 0, 0, 0, 0, 0x65, 1, 2, 3]), Buffer.alloc(16, 7), Buffer.alloc(32, 9), Buffer.alloc(32, 5)]).toString('base64url');

describe('detectors: what each one masks', () => {
  const cases: [DetectorName, string, string][] = [
    ['aws_access_key_id', 'key AKIAIOSFODNN7EXAMPLE used', 'key [aws_access_key_id] used'],
    ['aws_access_key_id', 'ASIAY34FZKBOKMUTVV7A', '[aws_access_key_id]'],
    ['aws_access_key_id', 'AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', '[aws_access_key_id]'],
    ['aws_secret_access_key', 'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'aws_secret_access_key = [aws_secret_access_key]'],
    ['aws_secret_access_key', '"SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"', '"SecretAccessKey": "[aws_secret_access_key]"'],
    ['auth_header', 'Authorization: Bearer abcdef1234567890abcdef', 'Authorization: Bearer [auth_header]'],
    ['auth_header', 'proxy-authorization=Basic dXNlcjpwYXNzd29yZA==', 'proxy-authorization=Basic [auth_header]'],
    ['auth_header', 'sent Bearer abcdefghij1234567890 upstream', 'sent Bearer [auth_header] upstream'],
    ['auth_header', 'Basic dXNlcjpwYXNzd29yZA==', 'Basic [auth_header]'],
    ['jwt', `token ${JWT} end`, 'token [jwt] end'],
    ['private_key', '-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY----- after', '[private_key] after'],
    ['private_key', 'x -----BEGIN EC PRIVATE KEY-----\\nMHcCAQEEIabc (truncated', 'x [private_key]'],
    ['private_key', 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7', '[private_key]'],
    ['gcp_service_account', '{"private_key_id":"0123456789abcdef0123456789abcdef01234567"}', '{"private_key_id":"[gcp_service_account]"}'],
    ['fernet', `f=${FERNET}`, 'f=[fernet]'],
    ['github_token', 'ghp_abcdefghijklmnopqrstuvwxyz0123456789 x', '[github_token] x'],
    ['gitlab_token', 'glpat-abcdefghij0123456789 y', '[gitlab_token] y'],
    ['slack_token', 'xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx', '[slack_token]'],
    ['slack_token', 'app xapp-1-A0123456789-1234567890123-abcdef0123456789', 'app [slack_token]'],
    ['slack_token', 'https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXX', 'https://hooks.slack.com/services/[slack_token]'],
    ['stripe_key', 'sk_live_abcdefghij0123456789', '[stripe_key]'],
    ['stripe_key', 'whsec_abcdefghijklmnopqrstuvwxyz012345', '[stripe_key]'],
    ['url_credentials', 'postgres://app:s3cret@db.internal:5432/orders', 'postgres://[url_credentials]@db.internal:5432/orders'],
    ['url_credentials', 'https://ghp0123456789abcdefABC@github.com/x', 'https://[url_credentials]@github.com/x'],
    ['url_credentials', 'redis://:s3cret@cache:6379', 'redis://[url_credentials]@cache:6379'],
    ['url_secret_param', 'https://api.example.com/x?page=2&access_token=abc123&x=1', 'https://api.example.com/x?page=2&access_token=[url_secret_param]&x=1'],
    ['url_secret_param', '/s.pdf?X-Amz-Signature=f00d&sig=beef#key=cafe', '/s.pdf?X-Amz-Signature=[url_secret_param]&sig=[url_secret_param]#key=[url_secret_param]'],
    ['email', 'contact alice.smith+x@mail.example.co.uk now', 'contact [email] now'],
    ['credit_card', 'card 4111 1111 1111 1111 ok', 'card [credit_card] ok'],
    ['credit_card', 'amex 378282246310005', 'amex [credit_card]'],
    ['credit_card', '5555-5555-5555-4444', '[credit_card]'],
    ['us_ssn', 'ssn 123-45-6789.', 'ssn [us_ssn].'],
    ['file_path', 'open /home/alice/.ssh/id_rsa failed', 'open [file_path] failed'],
    ['file_path', 'C:\\Users\\bob\\secrets.txt', '[file_path]'],
    ['file_path', 'file:///Users/carol/notes.md', 'file://[file_path]'],
    ['sensitive_key', 'password=hunter2 ok', 'password=[sensitive_key] ok'],
    ['sensitive_key', '{"user":"bob","db_password":"p@ss w0rd"}', '{"user":"bob","db_password":"[sensitive_key]"}'],
    ['sensitive_key', 'token: abc123xyz', 'token: [sensitive_key]'],
    ['sensitive_key', "apiKey => 'k-123'", "apiKey => '[sensitive_key]'"],
    ['sensitive_key', 'Cookie: session=abc; theme=dark', 'Cookie: [sensitive_key]'],
  ];
  it.each(cases)('%s: %j', (_d, input, want) => {
    expect(redact(input)).toBe(want);
  });
});

describe('detectors: what each one leaves alone', () => {
  const cases: [string, string][] = [
    ['an AWS-like id with lowercase', 'AKIAiosfodnn7example'],
    ['Basic followed by a word', 'Basic usage of the API'],
    ['bearer in prose', 'The bearer of this message'],
    ['authorization in prose', 'Authorization: denied'],
    ['a base64 JSON cursor (not a JWT)', 'cursor=eyJwYWdlIjoyfQ=='],
    ['a JWT-shaped string whose header is not JSON', 'eyJhbGciOiJIUzI1.eyJzdWIiOiIxMjM0.abc'],
    ['ssh remote', 'git clone git@github.com:org/repo.git'],
    ['retina asset', 'icon@2x.png'],
    ['npm package', '@opentelemetry/api@1.9.0'],
    ['URL without credentials', 'https://api.example.com:8443/v1/users?page=2#top'],
    ['ssh user only', 'ssh://git@example.com/repo'],
    ['query without secret names', '/search?q=shoes&sort_key=price&monkey=1'],
    ['Luhn-invalid number', '4111111111111112'],
    ['Luhn-valid but no card issuer', '1234567812345670'],
    ['epoch nanoseconds', '1700000000123456789'],
    ['SSN area 000', '000-12-3456'],
    ['SSN area 666', '666-12-3456'],
    ['SSN area 9xx', '912-34-5678'],
    ['phone number', '555-123-4567'],
    ['date', '2024-01-15'],
    ['path under a root', '/app/src/server.ts:12:5'],
    ['Windows path under a root', 'D:\\svc\\bin\\run.exe'],
    ['URL route', '/api/v1/users/123'],
    ['prose token', 'Invalid token: expired'],
    ['token counts', 'tokens: 1500, max_tokens=2000'],
    ['uuid', '0f8fad5b-d9cb-469f-a165-70867728950e'],
    ['trace id', '5b8efff798038103d269b633813fc60c'],
    ['pagination token name alone', 'next_page_token'],
  ];
  it.each(cases)('%s', (_what, input) => {
    expect(redact(input)).toBe(input);
  });
});

describe('validators', () => {
  it('luhn', () => {
    expect(luhn('4111111111111111')).toBe(true);
    expect(luhn('79927398713')).toBe(true);
    expect(luhn('4111111111111112')).toBe(false);
  });
  it('card issuer and length', () => {
    expect(cardIssuerOk('4111111111111111')).toBe(true);
    expect(cardIssuerOk('378282246310005')).toBe(true);
    expect(cardIssuerOk('3782822463100050')).toBe(false); // Amex is 15 digits
    expect(cardIssuerOk('1700000000000000')).toBe(false);
  });
  it('ssn structure', () => {
    expect(ssnOk('123', '45', '6789')).toBe(true);
    expect(ssnOk('123', '00', '6789')).toBe(false);
    expect(ssnOk('123', '45', '0000')).toBe(false);
  });
  it('jwt header', () => {
    expect(jwtHeaderOk(JWT.split('.')[0]!)).toBe(true);
    expect(jwtHeaderOk(Buffer.from('{"page":2}').toString('base64url'))).toBe(false);
  });
  it('basic credentials', () => {
    expect(basicOk(Buffer.from('user:pw').toString('base64'))).toBe(true);
    expect(basicOk('usage')).toBe(false);
  });
  it('fernet structure', () => {
    expect(fernetOk(FERNET)).toBe(true);
    expect(fernetOk('gAAAAAB' + 'A'.repeat(60))).toBe(false);
  });
});

describe('key-name rule', () => {
  it.each([
    'password', 'PASSWORD', 'db.password', 'db_password', 'dbPassword', 'passwd', 'pwd', 'secret', 'client_secret', 'token', 'access_token', 'x-csrf-token',
    'api_key', 'apikey', 'X-Api-Key', 'http.request.header.authorization', 'cookie', 'set-cookie', 'http.response.header.set-cookie', 'private_key', 'privateKey',
  ])('%s is sensitive', (k) => expect(isSensitiveKey(k)).toBe(true));
  it.each(['tokens', 'max_tokens', 'token_count', 'password_reset.requested', 'secret_manager.provider', 'cache.key', 'cookie_consent', 'session.id', 'authorization.decision'])(
    '%s is not',
    (k) => expect(isSensitiveKey(k)).toBe(false),
  );
});

describe('engine', () => {
  it('skips values that cannot match without running a regex', () => {
    expect(engine.candidates('GET')).toBe(0);
    expect(engine.candidates('postgresql')).toBe(0);
    expect(engine.candidates('checkout')).toBe(0);
  });
  it('masks several hits of different detectors in one pass', () => {
    expect(redact(`a@example.com, 4111111111111111 and ${JWT} and 123-45-6789`)).toBe('[email], [credit_card] and [jwt] and [us_ssn]');
  });
  it('an empty detector set does nothing', () => {
    const none = new DetectorEngine({ detectors: [] });
    expect(none.empty).toBe(true);
    expect(none.redact('password=x a@example.com', () => 'X')).toBeUndefined();
  });
  it('handles long adversarial inputs in linear-ish time (completes)', () => {
    const inputs = [
      'a'.repeat(50_000) + '@',
      '-----BEGIN PRIVATE KEY-----'.repeat(2000),
      '?' + 'token'.repeat(10_000),
      '1'.repeat(50_000),
      'a.'.repeat(20_000) + '@b',
      ('/home/' + 'x/'.repeat(5000)).repeat(3),
      '"password": "' + '\\a'.repeat(20_000),
    ];
    for (const s of inputs) expect(typeof redact(s)).toBe('string');
  });
  it('the mask callback can keep a hit (allowed value)', () => {
    const out = engine.redact('a@example.com b@corp.example.org', (d, text) => (text.endsWith('@example.com') ? undefined : `[${DETECTORS[d]}]`));
    expect(out).toBe('a@example.com [email]');
  });
});
