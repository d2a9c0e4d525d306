// The secret corpus: fake secrets and personal data in the shapes the
// redaction detectors look for, generated from a fixed seed so the corpus is
// the same on every run. Nothing here is a real credential: keys and tokens are
// random strings in the right format, card numbers are Luhn-valid numbers in
// test ranges, SSNs are random numbers that follow the structural rules, and
// addresses use reserved example domains.
import type { DetectorName } from '../../src/processors/redaction/detectors.js';
import { ALNUM, B64, B64URL, DIGITS, HEX, LOWER, Rng, UPPER } from './rng.js';

export interface SecretSample {
  /** The detector expected to catch it. */
  detector: DetectorName;
  /** The text planted in a string value. */
  text: string;
  /** Substrings that must not appear anywhere in the output. */
  secrets: string[];
}

/** A secret that is caught by the name of the attribute key it sits under, whatever the value. */
export interface KeyedSample {
  key: string;
  value: string;
}

const NAMES = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy', 'mallory', 'oscar', 'peggy', 'trent', 'victor', 'walter'];
const SURNAMES = ['smith', 'jones', 'garcia', 'miller', 'davis', 'lopez', 'wilson', 'martin', 'lee', 'walker', 'young', 'king'];
const DOMAINS = ['example.com', 'example.org', 'example.net', 'mail.example.com', 'corp.example.co.uk', 'example.io', 'shop.example.de'];

function withDigit(r: Rng, s: string): string {
  return /\d/.test(s) ? s : s.slice(0, -1) + r.pick([...DIGITS]);
}

function luhnCheckDigit(partial: string): string {
  let sum = 0;
  let dbl = true;
  for (let i = partial.length - 1; i >= 0; i--) {
    let d = partial.charCodeAt(i) - 48;
    if (dbl) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    dbl = !dbl;
  }
  return String((10 - (sum % 10)) % 10);
}

function cardNumber(r: Rng, prefix: string, len: number): string {
  let n = prefix;
  while (n.length < len - 1) n += r.pick([...DIGITS]);
  return n + luhnCheckDigit(n);
}

function groupCard(n: string, sep: string): string {
  if (n.length === 15) return `${n.slice(0, 4)}${sep}${n.slice(4, 10)}${sep}${n.slice(10)}`;
  return n.match(/.{1,4}/g)!.join(sep);
}

function b64url(buf: Buffer): string {
  return buf.toString('base64url');
}

function jwt(r: Rng): string {
  const header = b64url(Buffer.from(JSON.stringify({ alg: r.pick(['HS256', 'RS256', 'ES256', 'HS512']), typ: 'JWT', ...(r.next() < 0.5 ? { kid: r.chars(HEX, 8) } : {}) })));
  const payload = b64url(Buffer.from(JSON.stringify({ sub: r.chars(DIGITS, 10), name: r.pick(NAMES), iat: 1_700_000_000 + r.int(0, 1e6), exp: 1_800_000_000 + r.int(0, 1e6) })));
  return `${header}.${payload}.${b64url(r.bytes(32))}`;
}

function fernet(r: Rng): string {
  const blocks = r.int(1, 4);
  const buf = Buffer.concat([Buffer.from([0x80]), Buffer.from([0, 0, 0, 0, 0x65, r.int(0, 255), r.int(0, 255), r.int(0, 255)]), r.bytes(16), r.bytes(16 * blocks), r.bytes(32)]);
  return b64url(buf) + (r.next() < 0.5 ? '=='.slice(0, (4 - (b64url(buf).length % 4)) % 4) : '');
}

function pemBody(r: Rng, prefix: string, lines: number): string {
  const body = prefix + r.chars(B64, 64 * lines - prefix.length);
  return body.match(/.{1,64}/g)!.join('\n');
}

function email(r: Rng): string {
  const sep = r.pick(['.', '_', '', '-', '+']);
  return `${r.pick(NAMES)}${sep}${r.pick(SURNAMES)}${r.int(1, 999)}@${r.pick(DOMAINS)}`;
}

function ssn(r: Rng): string {
  let area: number;
  do area = r.int(1, 899);
  while (area === 666);
  return `${String(area).padStart(3, '0')}-${String(r.int(1, 99)).padStart(2, '0')}-${String(r.int(1, 9999)).padStart(4, '0')}`;
}

function awsId(r: Rng): string {
  return r.pick(['AKIA', 'ASIA']) + r.chars(UPPER + '234567', 16);
}

function awsSecret(r: Rng): string {
  return withDigit(r, r.chars(ALNUM + '/+', 40));
}

function password(r: Rng): string {
  return withDigit(r, r.chars(ALNUM, r.int(8, 16))) + r.pick(['!', '#', '%', '', '', '']);
}

export function secretCorpus(seed = 0x5eed): SecretSample[] {
  const r = new Rng(seed);
  const out: SecretSample[] = [];
  const add = (detector: DetectorName, text: string, ...secrets: string[]) => out.push({ detector, text, secrets });

  for (let i = 0; i < 20; i++) {
    const id = awsId(r);
    add('aws_access_key_id', r.pick([`${id}`, `using key ${id} for s3`, `AWS_ACCESS_KEY_ID=${id}`, `{"AccessKeyId":"${id}"}`, `credential=${id}/20240101/us-east-1/s3/aws4_request`]), id);
  }
  for (let i = 0; i < 16; i++) {
    const sec = awsSecret(r);
    const ctx = r.pick([
      `aws_secret_access_key = ${sec}`,
      `AWS_SECRET_ACCESS_KEY=${sec}`,
      `"SecretAccessKey": "${sec}"`,
      `SecretAccessKey: ${sec}`,
      `${awsId(r)}:${sec}`,
      `aws.secret.key=${sec}`,
    ]);
    add('aws_secret_access_key', ctx, sec);
  }
  for (let i = 0; i < 20; i++) {
    const tok = withDigit(r, r.chars(ALNUM + '-._~', r.int(24, 48)));
    const user = r.pick(NAMES);
    const pw = password(r);
    const basic = Buffer.from(`${user}:${pw}`).toString('base64');
    const k = i % 5;
    if (k === 0) add('auth_header', `Authorization: Bearer ${tok}`, tok);
    else if (k === 1) add('auth_header', `authorization=Basic ${basic}`, basic);
    else if (k === 2) add('auth_header', `calling upstream with Bearer ${tok}`, tok);
    else if (k === 3) add('auth_header', `Proxy-Authorization: Basic ${basic}`, basic);
    else add('auth_header', `sent header Basic ${basic} to proxy`, basic);
  }
  for (let i = 0; i < 24; i++) {
    const t = jwt(r);
    add('jwt', r.pick([t, `jwt ${t} rejected`, `{"id_token_hint":"${t}"}`, `session=${t}`, `verify(${t}) failed`]), t);
  }
  for (let i = 0; i < 20; i++) {
    const kind = i % 6;
    if (kind === 0) {
      const body = pemBody(r, 'MIIEpAIBAAKCAQEA', 6);
      add('private_key', `-----BEGIN RSA PRIVATE KEY-----\n${body}\n-----END RSA PRIVATE KEY-----`, body.slice(20, 80));
    } else if (kind === 1) {
      const body = pemBody(r, 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC', 6);
      add('private_key', `key loaded: -----BEGIN PRIVATE KEY-----\\n${body.replace(/\n/g, '\\n')}\\n-----END PRIVATE KEY-----\\n`, body.slice(40, 100));
    } else if (kind === 2) {
      const body = pemBody(r, 'b3BlbnNzaC1rZXktdjEAAAAA', 4);
      add('private_key', `-----BEGIN OPENSSH PRIVATE KEY-----\n${body}\n-----END OPENSSH PRIVATE KEY-----\n`, body.slice(30, 90));
    } else if (kind === 3) {
      const body = pemBody(r, 'MHcCAQEEI', 2);
      add('private_key', `-----BEGIN EC PRIVATE KEY-----\n${body}`, body.slice(12, 70)); // truncated: no END line
    } else if (kind === 4) {
      const body = r.chars(B64, 400);
      add('private_key', `MIIEvQIBADANBgkqhkiG9w0BAQEFAASC${body}`, body.slice(0, 60));
    } else {
      const body = pemBody(r, 'lQOYBF', 3);
      add('private_key', `-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n${body}\n-----END PGP PRIVATE KEY BLOCK-----`, body.slice(10, 70));
    }
  }
  for (let i = 0; i < 12; i++) {
    const keyId = r.chars(HEX, 40);
    const body = pemBody(r, 'MIIEvgIBADANBgkqhkiG9w0BAQEFAASC', 5);
    const json = JSON.stringify({
      type: 'service_account',
      project_id: `proj-${r.chars(LOWER, 6)}`,
      private_key_id: keyId,
      private_key: `-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----\n`,
      client_email: `svc-${r.chars(LOWER, 5)}@proj.iam.gserviceaccount.com`,
    });
    add('gcp_service_account', i % 2 ? json : `loaded credentials ${JSON.stringify(json)}`, keyId, body.slice(40, 100));
  }
  for (let i = 0; i < 12; i++) {
    const f = fernet(r);
    add('fernet', r.pick([f, `token=${f}`, `decrypting ${f}`]), f.slice(6, 60));
  }
  for (let i = 0; i < 20; i++) {
    const t = i % 4 === 3 ? `github_pat_${r.chars(ALNUM, 22)}_${r.chars(ALNUM, 59)}` : `${r.pick(['ghp', 'gho', 'ghu', 'ghs', 'ghr'])}_${r.chars(ALNUM, 36)}`;
    add('github_token', r.pick([t, `git clone using ${t}`, `GITHUB_TOKEN=${t}`, `"auth":"${t}"`]), t);
  }
  for (let i = 0; i < 14; i++) {
    const t = `${r.pick(['glpat', 'glpat', 'gldt', 'glrt', 'glptt', 'glcbt'])}-${r.chars(ALNUM + '-_', 20)}`;
    add('gitlab_token', r.pick([t, `runner registered with ${t}`, `PRIVATE-TOKEN ${t}`]), t);
  }
  for (let i = 0; i < 16; i++) {
    const k = i % 4;
    if (k === 3) {
      const path = `T${r.chars(UPPER + DIGITS, 8)}/B${r.chars(UPPER + DIGITS, 8)}/${r.chars(ALNUM, 24)}`;
      add('slack_token', `posting to https://hooks.slack.com/services/${path}`, path);
    } else if (k === 2) {
      const t = `xapp-1-A${r.chars(UPPER + DIGITS, 10)}-${r.chars(DIGITS, 13)}-${r.chars(HEX, 64)}`;
      add('slack_token', `socket mode ${t}`, t);
    } else {
      const t = `xox${r.pick(['b', 'p', 'a', 'r', 's'])}-${r.chars(DIGITS, 12)}-${r.chars(DIGITS, 13)}-${r.chars(ALNUM, 24)}`;
      add('slack_token', r.pick([t, `slack client init ${t}`]), t);
    }
  }
  for (let i = 0; i < 14; i++) {
    const t = i % 4 === 3 ? `whsec_${r.chars(ALNUM, 32)}` : `${r.pick(['sk', 'rk'])}_${r.pick(['test', 'live'])}_${r.chars(ALNUM, 24)}`;
    add('stripe_key', r.pick([t, `stripe.api_key set to ${t}`, `Stripe(${t})`]), t);
  }
  for (let i = 0; i < 20; i++) {
    const user = r.pick(NAMES);
    const pw = password(r);
    const u = r.pick([
      `postgres://${user}:${pw}@db.internal:5432/orders`,
      `mysql://${user}:${pw}@10.0.3.4/app`,
      `redis://default:${pw}@cache:6379/0`,
      `amqp://${user}:${pw}@rabbit.svc:5672/vhost`,
      `https://${user}:${pw}@registry.example.com/v2/`,
      `mongodb+srv://${user}:${pw}@cluster0.example.net/db?retryWrites=true`,
    ]);
    add('url_credentials', r.pick([u, `connecting to ${u}`, `dsn="${u}"`]), pw);
  }
  for (let i = 0; i < 22; i++) {
    const v = withDigit(r, r.chars(ALNUM + '-_%', r.int(12, 40)));
    const param = r.pick(['token', 'access_token', 'api_key', 'apikey', 'password', 'secret', 'signature', 'sig', 'key', 'X-Amz-Signature', 'X-Amz-Security-Token', 'refresh_token', 'client_secret']);
    const u = r.pick([
      `https://api.example.com/v1/items?page=2&${param}=${v}`,
      `/callback?${param}=${v}&state=xyz`,
      `https://cdn.example.net/file.bin?X-Amz-Date=20240101T000000Z&${param}=${v}`,
      `https://app.example.org/#${param}=${v}&token_type=bearer`,
      `GET /search?q=shoes&${param}=${v} HTTP/1.1`,
    ]);
    add('url_secret_param', u, v);
  }
  for (let i = 0; i < 30; i++) {
    const e = email(r);
    add('email', r.pick([e, `user ${e} logged in`, `To: ${r.pick(NAMES)} <${e}>`, `{"email":"${e}"}`, `mailto:${e}`, `invite sent to ${e}.`]), e);
  }
  const knownCards = ['4111111111111111', '4242424242424242', '4000056655665556', '5555555555554444', '5105105105105100', '2223003122003222', '378282246310005', '371449635398431', '6011111111111117', '6011000990139424', '3530111333300000', '3566002020360505', '30569309025904', '6200000000000005'];
  for (let i = 0; i < 36; i++) {
    const n = i < knownCards.length ? knownCards[i]! : r.pick([() => cardNumber(r, '4', 16), () => cardNumber(r, r.pick(['51', '52', '53', '54', '55']), 16), () => cardNumber(r, '2221', 16), () => cardNumber(r, r.pick(['34', '37']), 15), () => cardNumber(r, '6011', 16), () => cardNumber(r, '35', 16), () => cardNumber(r, '4', 13)])();
    const shown = r.pick([n, n, groupCard(n, ' '), groupCard(n, '-')]);
    add('credit_card', r.pick([shown, `card ${shown} declined`, `{"pan":"${shown}"}`, `charged ${shown}, amount 12.50`]), shown, n);
  }
  for (let i = 0; i < 24; i++) {
    const s = ssn(r);
    add('us_ssn', r.pick([s, `SSN ${s}`, `ssn=${s}`, `{"ssn":"${s}"}`, `applicant ${s} verified`]), s);
  }
  for (let i = 0; i < 20; i++) {
    const user = r.pick(NAMES);
    const p = r.pick([
      `/home/${user}/.ssh/id_rsa`,
      `/Users/${user}/Library/Keychains/login.keychain-db`,
      `/home/${user}/projects/app/.env`,
      `/etc/ssl/private/${user}.key`,
      `/var/lib/secrets/${user}/token`,
      `C:\\Users\\${user}\\AppData\\Roaming\\app\\config.json`,
      `~/.aws/credentials.${user}`,
      `/root/.kube/config-${user}`,
    ]);
    add('file_path', r.pick([p, `open ${p}: permission denied`, `reading "${p}"`, `ENOENT: no such file or directory, open '${p}'`]), p);
  }
  for (let i = 0; i < 30; i++) {
    const pw = password(r);
    const text = r.pick([
      `password=${pw}`,
      `login failed user=${r.pick(NAMES)} password=${pw}`,
      `{"username":"${r.pick(NAMES)}","password":"${pw}"}`,
      `api_key: ${pw}`,
      `client_secret=${pw}&grant_type=client_credentials`,
      `db_password='${pw}'`,
      `PGPASSWORD=${pw}`,
      `passwd: ${pw}`,
      `"apiKey": "${pw}"`,
      `secret => "${pw}"`,
      `Cookie: session=${pw}; theme=dark`,
      `set-cookie: sid=${pw}; Path=/; HttpOnly`,
      `{\\"password\\":\\"${pw}\\"}`,
      `token: ${pw}`,
      `private_key=${pw}`,
    ]);
    add('sensitive_key', text, pw);
  }

  // Hand-picked, realistic lines.
  add('jwt', 'GET /api/me Authorization header eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c', 'SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c');
  add('aws_access_key_id', 'botocore.credentials Found credentials in environment variables: AKIAIOSFODNN7EXAMPLE', 'AKIAIOSFODNN7EXAMPLE');
  add('aws_secret_access_key', '[default]\naws_access_key_id = AKIAI44QH8DHBEXAMPLE\naws_secret_access_key = je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY', 'je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY', 'AKIAI44QH8DHBEXAMPLE');
  add('url_credentials', 'Error: connect ECONNREFUSED postgresql://orders_rw:Tr0ub4dor&3@10.0.0.12:5432/orders', 'Tr0ub4dor&3');
  add('email', 'Sending receipt to john.doe+receipts@example.com (order 8812)', 'john.doe+receipts@example.com');
  add('credit_card', 'stripe: card_declined for 4000 0000 0000 0002 (insufficient funds)', '4000 0000 0000 0002');
  add('us_ssn', 'KYC check: name=Jane Roe dob=1980-02-03 ssn=219-09-9999 result=pass', '219-09-9999');
  add('url_secret_param', 'https://bucket.s3.amazonaws.com/report.pdf?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=9f2b4c7d1e3a5b6c8d0e2f4a6b8c0d2e4f6a8b0c2d4e6f8a0b2c4d6e8f0a2b4c', '9f2b4c7d1e3a5b6c8d0e2f4a6b8c0d2e4f6a8b0c2d4e6f8a0b2c4d6e8f0a2b4c');
  add('auth_header', 'curl -H "Authorization: Bearer 8f14e45fceea167a5a36dedd4bea2543" https://api.example.com', '8f14e45fceea167a5a36dedd4bea2543');
  add('sensitive_key', 'psql "host=db user=app password=S3cr3t-Pa55 dbname=orders"', 'S3cr3t-Pa55');
  return out;
}

/** Values under secret-named keys: masked whatever they hold, even when they look harmless. */
export function keyedCorpus(seed = 0xc0ffee): KeyedSample[] {
  const r = new Rng(seed);
  const keys = [
    'password', 'db.password', 'http.request.header.authorization', 'X-Api-Key', 'api_key', 'apikey', 'client_secret', 'private_key',
    'set-cookie', 'http.response.header.set-cookie', 'cookie', 'Secret', 'accessToken', 'PASSWD', 'pwd', 'user.passwd', 'aws.secret',
    'refresh_token', 'session-token', 'oauth.client_secret', 'PrivateKey', 'app.settings.apiKey', 'AUTHORIZATION', 'x-auth-token',
  ];
  const out: KeyedSample[] = [];
  for (let i = 0; i < 48; i++) {
    const value = r.pick([`hunter${r.int(100, 999)}x`, `plain words ${r.chars(LOWER, 6)}`, withDigit(r, r.chars(B64URL, 24)), `Bearer ${r.chars(ALNUM, 30)}`, `sid=${r.chars(HEX, 16)}; Path=/`]);
    out.push({ key: keys[i % keys.length]!, value });
  }
  return out;
}
