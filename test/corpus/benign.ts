// The benign corpus: values that look risky to a naive detector (long hex and
// digit runs, '@', '=', ':', '/', base64) but carry no secret or personal data.
// Generated from a fixed seed; used to measure the redaction false-positive rate.
import { ALNUM, B64, DIGITS, HEX, LOWER, Rng } from './rng.js';

export interface BenignSample {
  category: string;
  value: string;
}

/** Attribute keys that must not trigger the key-name rule. */
export const BENIGN_KEYS = [
  'gen_ai.usage.input_tokens', 'gen_ai.usage.output_tokens', 'llm.token_count.total', 'max_tokens', 'cache.key', 'http.request.header.content-type',
  'http.response.header.content-length', 'user_agent.original', 'session.id', 'db.system', 'db.statement', 'messaging.message.id', 'tokenizer',
  'password_reset.requested', 'password.length_policy', 'secret_manager.provider', 'k8s.secret.name', 'cookie_consent.version', 'authorization.decision',
  'api.version', 'keyboard.layout', 'token_type', 'tokens', 'otel.scope.name', 'service.name', 'url.full', 'client.address', 'enduser.role',
];

const WORDS = ['order', 'payment', 'cart', 'user', 'request', 'cache', 'queue', 'worker', 'shipment', 'invoice', 'session', 'report', 'search', 'checkout', 'inventory', 'profile'];
const VERBS = ['processed', 'created', 'updated', 'deleted', 'retried', 'queued', 'completed', 'failed', 'skipped', 'scheduled', 'refreshed', 'validated'];
const SENTENCES = [
  'User logged in successfully',
  'Password reset email sent',
  'Token refresh scheduled in 5 minutes',
  'Invalid token: expired',
  'Basic usage of the API is documented in the guide',
  'The bearer of this message is authorised',
  'Secret rotation completed for 3 keys',
  'API key rotation policy applies to all tenants',
  'Cookie consent banner dismissed',
  'Authorization: denied',
  'Could not verify signature of the webhook payload',
  'Connection pool exhausted, waiting for a free connection',
  'Retrying request after 250ms (attempt 2 of 5)',
  'Cache hit ratio 0.93 over the last 60 seconds',
  'Shipping address updated for the order',
  'Customer contacted support about a late delivery',
  'Health check passed: 12/12 dependencies up',
  'Rendered template in 3.2 ms',
  'Scheduled job nightly-report started at 02:00 UTC',
  'The quick brown fox jumps over the lazy dog',
  'Feature flag new-checkout enabled for 25% of users',
  'Migrating table orders: 1200000 rows copied',
  'Email delivery queued',
  'Card payment authorised',
  'Social security benefits page viewed',
];

function uuid(r: Rng): string {
  const h = r.chars(HEX, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${r.pick(['8', '9', 'a', 'b'])}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function iso(r: Rng): string {
  const d = new Date(Date.UTC(2020 + r.int(0, 5), r.int(0, 11), r.int(1, 28), r.int(0, 23), r.int(0, 59), r.int(0, 59), r.int(0, 999)));
  return d.toISOString();
}

export function benignCorpus(seed = 0xbe9196): BenignSample[] {
  const r = new Rng(seed);
  const out: BenignSample[] = [];
  const add = (category: string, value: string) => out.push({ category, value });
  const host = () => r.pick(['api.example.com', 'shop.example.org', 'cdn.example.net', 'auth.example.io', 'localhost:8080', '10.0.4.17:9090', 'payments.internal']);
  const word = () => r.pick(WORDS);

  for (let i = 0; i < 80; i++) add('uuid', r.next() < 0.5 ? uuid(r) : uuid(r).toUpperCase());
  for (let i = 0; i < 60; i++) add('trace_id', r.chars(HEX, 32));
  for (let i = 0; i < 40; i++) add('span_id', r.chars(HEX, 16));
  for (let i = 0; i < 50; i++) add('git_sha', r.next() < 0.7 ? r.chars(HEX, 40) : r.chars(HEX, 7));
  for (let i = 0; i < 50; i++) {
    const v = `${r.int(0, 20)}.${r.int(0, 40)}.${r.int(0, 200)}`;
    add('version', r.pick([v, `v${v}`, `${v}-rc.${r.int(1, 5)}`, `${v}+build.${r.int(1, 999)}`, `node/${v}`, `go1.${r.int(18, 23)}.${r.int(0, 9)}`]));
  }
  for (let i = 0; i < 80; i++) {
    const ms = 1_600_000_000_000 + r.int(0, 200_000_000_000);
    add('timestamp', r.pick([iso(r), String(ms), `${ms}${r.chars(DIGITS, 6)}`, new Date(ms).toUTCString(), `${iso(r).slice(0, 10)} ${iso(r).slice(11, 19)}`, `${r.int(0, 23)}:${r.int(10, 59)}:${r.int(10, 59)}`]));
  }
  for (let i = 0; i < 90; i++) {
    const path = `/${r.pick(['api', 'v1', 'shop', 'static'])}/${word()}s/${r.int(1, 99999)}`;
    add('url', r.pick([
      `https://${host()}${path}`,
      `https://${host()}${path}?page=${r.int(1, 50)}&limit=${r.pick([10, 25, 50, 100])}`,
      `http://${host()}/search?q=${word()}&sort=${r.pick(['asc', 'desc'])}#results`,
      `https://${host()}/docs/${word()}.html#section-${r.int(1, 9)}`,
      `${path}?expand=${word()}&fields=id,name`,
      `grpc://${host()}/${word()}.v1.${word()}Service/Get`,
      `https://${host()}/v1/${word()}s?cursor=${Buffer.from(JSON.stringify({ page: r.int(2, 99) })).toString('base64')}`,
      `https://www.example.com/maps?q=${r.int(1, 9999)}+Main+St&z=${r.int(1, 20)}`,
      `https://${host()}/oauth/authorize?response_type=code&client_id=${r.chars(ALNUM, 12)}&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&scope=openid%20email`,
    ]));
  }
  for (let i = 0; i < 70; i++) add('base64_id', r.pick([r.bytes(r.int(9, 24)).toString('base64'), r.bytes(r.int(9, 24)).toString('base64url'), r.chars(B64, 22)]));
  for (let i = 0; i < 70; i++) {
    const deploy = `${word()}-${r.pick(['api', 'worker', 'web', 'consumer'])}`;
    add('k8s', r.pick([
      `${deploy}-${r.chars('bcdfghjklmnpqrstvwxz2456789', 10)}-${r.chars('bcdfghjklmnpqrstvwxz2456789', 5)}`,
      `ip-10-${r.int(0, 255)}-${r.int(0, 255)}-${r.int(0, 255)}.ec2.internal`,
      `${deploy}.${r.pick(['prod', 'staging', 'default'])}.svc.cluster.local:${r.pick([80, 443, 8080, 5432])}`,
      `gke-prod-pool-${r.chars(HEX, 8)}-${r.chars(LOWER, 4)}`,
      `ghcr.io/example/${deploy}:${r.int(1, 9)}.${r.int(0, 30)}.${r.int(0, 99)}`,
      `docker.io/library/nginx@sha256:${r.chars(HEX, 64)}`,
      `containerd://${r.chars(HEX, 64)}`,
    ]));
  }
  for (let i = 0; i < 150; i++) {
    add('sentence', r.pick([
      r.pick(SENTENCES),
      `${word()} ${r.int(1, 99999)} ${r.pick(VERBS)}`,
      `${r.pick(VERBS)} ${r.int(1, 500)} ${word()}s in ${r.int(1, 999)}ms`,
      `${word()} ${r.pick(VERBS)} by worker-${r.int(1, 16)}`,
      `level=info msg="${word()} ${r.pick(VERBS)}" status=${r.pick([200, 201, 404, 500])} duration=${r.int(1, 900)}ms`,
      `Error: connect ECONNREFUSED 10.0.${r.int(0, 255)}.${r.int(0, 255)}:${r.pick([5432, 6379, 3306])}`,
      `SELECT id, total FROM ${word()}s WHERE id = $1 AND status = 'open' LIMIT ${r.int(1, 100)}`,
      `at ${word()}Handler (/app/src/${word()}.js:${r.int(1, 400)}:${r.int(1, 80)})`,
      `npm install @opentelemetry/api@1.${r.int(0, 9)}.${r.int(0, 9)}`,
      `git clone git@github.com:example/${word()}.git`,
      `see icon@2x.png and logo@3x.webp`,
      `{"status":"ok","${word()}Count":${r.int(0, 999)},"ratio":0.${r.int(1, 99)}}`,
      `GET /api/${word()}s/${r.int(1, 99999)} HTTP/1.1 200 ${r.int(100, 99999)}`,
      `${word()}: ${r.pick(VERBS)}`,
    ]));
  }
  for (let i = 0; i < 60; i++) {
    const amount = `${r.int(0, 9999)}.${String(r.int(0, 99)).padStart(2, '0')}`;
    add('price', r.pick([`$${amount}`, `EUR ${amount}`, `${amount} USD`, `Total: ${amount} GBP`, `price=${amount}&currency=USD`, `¥${r.int(100, 99999)}`, `1,${r.int(100, 999)},${r.int(100, 999)}.00`]));
  }
  for (let i = 0; i < 50; i++) {
    add('network', r.pick([
      `${r.int(1, 223)}.${r.int(0, 255)}.${r.int(0, 255)}.${r.int(1, 254)}`,
      `fe80::${r.chars(HEX, 4)}:${r.chars(HEX, 4)}:${r.chars(HEX, 4)}:${r.chars(HEX, 4)}`,
      `${r.chars(HEX, 2)}:${r.chars(HEX, 2)}:${r.chars(HEX, 2)}:${r.chars(HEX, 2)}:${r.chars(HEX, 2)}:${r.chars(HEX, 2)}`,
      `10.${r.int(0, 255)}.${r.int(0, 255)}.0/${r.pick([16, 20, 24])}`,
    ]));
  }
  for (let i = 0; i < 80; i++) {
    add('identifier', r.pick([
      `ORD-${2020 + r.int(0, 5)}-${String(r.int(1, 999999)).padStart(6, '0')}`,
      `INV${r.chars(DIGITS, 8)}`,
      `cus_${r.chars(ALNUM, 14)}`,
      `pi_${r.chars(ALNUM, 24)}`,
      `req-${r.chars(HEX, 12)}`,
      `sha256:${r.chars(HEX, 64)}`,
      `arn:aws:lambda:us-east-1:${r.chars(DIGITS, 12)}:function:${word()}-handler`,
      `projects/${word()}-prod/topics/${word()}-events`,
      `${r.chars(DIGITS, 3)}-${r.chars(DIGITS, 3)}-${r.chars(DIGITS, 4)}`,
      `+1 555 ${r.chars(DIGITS, 3)} ${r.chars(DIGITS, 4)}`,
      `${r.chars(DIGITS, 10)}`,
      `1${r.chars(DIGITS, 18)}`,
    ]));
  }
  for (let i = 0; i < 60; i++) {
    add('path', r.pick([
      `/app/src/${word()}/${word()}.ts`,
      `/app/node_modules/@opentelemetry/api/build/src/index.js`,
      `/api/v1/${word()}s/{id}`,
      `/${word()}s/${r.int(1, 9999)}/items`,
      `src/${word()}/index.ts`,
      `./config/${word()}.yaml`,
      `node:internal/process/task_queues:95:5`,
    ]));
  }
  for (let i = 0; i < 100; i++) {
    const ip = `${r.int(1, 223)}.${r.int(0, 255)}.${r.int(0, 255)}.${r.int(1, 254)}`;
    add('log_line', r.pick([
      `${ip} - - [${new Date(1_700_000_000_000 + r.int(0, 1e10)).toUTCString()}] "GET /api/${word()}s/${r.int(1, 9999)}?page=${r.int(1, 9)} HTTP/1.1" ${r.pick([200, 304, 404])} ${r.int(100, 99999)} "-" "curl/8.${r.int(0, 9)}.0"`,
      `Warning  BackOff  pod/${word()}-api-${r.chars('bcdfghjklmnpqrstvwxz2456789', 10)}-${r.chars('bcdfghjklmnpqrstvwxz2456789', 5)}  Back-off restarting failed container`,
      `    at com.example.${word()}.${word().toUpperCase()[0]}${word().slice(1)}Service.handle(${word()}Service.java:${r.int(10, 900)})`,
      `goroutine ${r.int(1, 900)} [running]:`,
      `kafka consumer group=${word()}-consumers topic=${word()}-events partition=${r.int(0, 31)} offset=${r.int(0, 9_999_999)}`,
      `s3://example-${word()}-bucket/${r.int(2020, 2025)}/${String(r.int(1, 12)).padStart(2, '0')}/${uuid(r)}.parquet`,
      `arn:aws:iam::${r.chars(DIGITS, 12)}:role/${word()}-service-role`,
      `Accept: application/json`,
      `Content-Type: application/x-www-form-urlencoded`,
      `X-Request-Id: ${uuid(r)}`,
      `cron schedule "${r.int(0, 59)} ${r.int(0, 23)} * * ${r.int(0, 6)}" next run at ${iso(r)}`,
      `{"id":${r.int(1, 999999)},"amount":${r.int(1, 9999)}.${r.int(10, 99)},"currency":"EUR","items":${r.int(1, 9)}}`,
      `color #${r.chars(HEX, 6)} applied to ${word()} badge`,
      `sha1=${r.chars(HEX, 40)} size=${r.int(100, 999999)}`,
      `Traceback (most recent call last): File "/app/${word()}/main.py", line ${r.int(1, 400)}, in <module>`,
      `ERROR [${word()}] timeout after ${r.int(1, 60)}s waiting for ${word()}-${r.int(0, 9)}.internal:${r.pick([5432, 6379, 9092])}`,
      `user_id=${r.int(1, 9_999_999)} session_id=${r.chars(HEX, 32)} plan=${r.pick(['free', 'pro', 'team'])}`,
      `Set up ${r.int(1, 40)} listeners on 0.0.0.0:${r.pick([80, 443, 8080])} (keepalive ${r.int(5, 120)}s)`,
    ]));
  }
  for (let i = 0; i < 40; i++) {
    add('misc', r.pick([
      `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${r.int(100, 130)}.0.0.0 Safari/537.36`,
      `${r.int(1, 999)}.${r.int(0, 999)}s`,
      `${r.int(1, 1024)}MiB`,
      `${r.int(1, 100)}%`,
      `en-US,en;q=0.9`,
      `text/html; charset=utf-8`,
      `max-age=${r.int(60, 86400)}, public`,
      `W/"${r.chars(HEX, 16)}"`,
      `${word()}=${r.pick(VERBS)}; ${word()}=${r.int(1, 9)}`,
      `utf-8`,
    ]));
  }
  return out;
}
