// The feature prefilter only ever rules patterns out that cannot match: with
// it, every string is redacted exactly as when every pattern is run; over the
// UTF-8 bytes it gives a superset of what it gives over the decoded string.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { benignCorpus } from '../../../test/corpus/benign.js';
import { secretCorpus } from '../../../test/corpus/secrets.js';
import { byteFeaturesOf, DEFAULT_DETECTORS, DETECTORS, DetectorEngine } from './detectors.js';

const engine = new DetectorEngine({ detectors: [...DEFAULT_DETECTORS, 'file_path'], pathRoots: ['/app'] });
const mask = (d: number) => `[${DETECTORS[d]}]`;
const SECRETS = secretCorpus().map((s) => s.text);
const BENIGN = benignCorpus().map((b) => (typeof b === 'string' ? b : b.value));

function check(s: string): void {
  expect(engine.redact(s, mask)).toBe(engine.redactUnfiltered(s, mask));
  const b = Buffer.from(s, 'utf8');
  const onString = engine.candidates(s);
  const onBytes = engine.candidatesBytes(b, 0, b.length);
  expect(onBytes & onString).toBe(onString);
  // A string inside a larger buffer: what lies before it is no part of its context.
  const inside = Buffer.concat([Buffer.from('password=tok:'), b, Buffer.from('=x')]);
  expect(engine.candidatesBytes(inside, 13, 13 + b.length)).toBe(onBytes);
}

describe('detector prefilter', () => {
  it('never changes the outcome on the secret and benign corpora', () => {
    for (const s of [...SECRETS, ...BENIGN]) check(s);
  });

  it('never changes the outcome on the shortest text each pattern matches, alone and inside other text', () => {
    const shortest = ['-----BEGINPRIVATE KEY-----', 'MHcCAQEE', 'MIIabAIBAAKC', 'MIIabQIBADANBgkqhkiG9w0BAQEFAASC', 'MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg', 'MC4CAQAwBQYDK2VwBCIEI', '"private_key":"x', `secretkey${'A'.repeat(40)}`, 'authorization:x', 'cookie:x', 'eyJabcdefgh.abcd.', 'Bearer x', 'Basic abcd', 'ab://x@', 'xoxa-0123456789', 'sk_live_0123456789'];
    for (const s of shortest) for (const t of [s, `----BEGIN EC PRIVATE KEY-----\n${s}`, `x ${s} y`]) check(t);
  });

  it('never changes the outcome on strings mixed from corpus fragments, noise and non-ASCII text', () => {
    const piece = fc.oneof(
      fc.constantFrom(...SECRETS, ...BENIGN).chain((s) => fc.tuple(fc.nat(s.length), fc.nat(s.length)).map(([a, b]) => s.slice(Math.min(a, b), Math.max(a, b)))),
      fc.string({ unit: 'grapheme', maxLength: 8 }),
      fc.constantFrom('=', '?', '&', ' ', '-', '@', ':', '/', '"', 'é', '€', '𝄞', '\uFFFD', 'token=', 'Bearer ', 'secret_key=', '-----BEGIN', '/home/', '/tmp', '/Users/', '/lib64/', '/api/v1/', '~/', '~', 'C:\\', '\\\\srv\\', 'file://', '/var', 'password', 'api_key', 'Token', 'PASSWD', '": "', "' => ", ' : ', '\\"', 'https://x/api/', 'hooks.slack.com/services/', 'slack.com', 'example.com/', 'sk_live_'),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 8 }), (parts) => check(parts.join(''))),
      { numRuns: 3000 },
    );
  });

  it('never changes the outcome on digit runs glued to words, dots, underscores and separators', () => {
    const piece = fc.oneof(
      fc.stringMatching(/^[0-9]{1,17}$/),
      fc.constantFrom(' ', '-', '  ', '--', '.', '_', 'a', 'Z', 'é', 'id=', 'x', '4111', '4111 1111 1111 1111', '4111-1111-1111-1111', '378282246310005', '123-45-6789', '078-05-1120', '3714 496353 98431'),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 10 }), (parts) => check(parts.join(''))),
      { numRuns: 5000 },
    );
  });

  it('lets through no card or SSN for digits glued to a word, and no DER key for SQL keywords', () => {
    const clean = [
      '0f8fad5b-d9cb-469f-a165-000000003000',
      'build a1234567890123456-x',
      'v1.2345678901234',
      "SELECT id, total, status FROM orders WHERE customer_id = 3000 AND created_at > '2024-05-01' LIMIT 10",
    ];
    for (const s of clean) {
      const b = Buffer.from(s);
      expect(engine.candidatesBytes(b, 0, b.length), s).toBe(0);
      expect(engine.candidates(s), s).toBe(0);
    }
    // The same digits where a match may start are still looked at, and masked.
    expect(engine.redact('card 4111-1111-1111-1111 ok', mask)).toBe('card [credit_card] ok');
    expect(engine.redact('x1-4111111111111111', mask)).toBe('x1-[credit_card]');
    expect(engine.redact('ssn 123-45-6789', mask)).toBe('ssn [us_ssn]');
  });

  it('reads the same features four bytes a step as one at a time, at every alignment and inside any buffer', () => {
    const piece = fc.oneof(
      fc.constantFrom(...SECRETS, ...BENIGN),
      fc.string({ unit: 'grapheme', maxLength: 12 }),
      fc.constantFrom('=', ':', '==', '::', '=:', 'token=', 'key:', '"pwd": ', ':/', 'é=', '€:', 'ab', 'ey', '0123', '4111 1111'),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 6 }), fc.nat(7), fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), (parts, shift, before, after) => {
        const b = Buffer.from(parts.join(''), 'utf8');
        // A fresh ArrayBuffer each time, the string at a chosen offset in it.
        const pre = Buffer.from(before, 'utf8');
        const post = Buffer.from(after, 'utf8');
        const ab = new ArrayBuffer(shift + pre.length + b.length + post.length + 3);
        const whole = new Uint8Array(ab, shift, pre.length + b.length + post.length);
        whole.set(pre, 0);
        whole.set(b, pre.length);
        whole.set(post, pre.length + b.length);
        const s0 = pre.length;
        expect(byteFeaturesOf(whole, s0, s0 + b.length)).toEqual(byteFeaturesOf(whole, s0, s0 + b.length, false));
        // And through a view that starts elsewhere in the same memory.
        if (s0 < 1) return;
        const view = new Uint8Array(ab, shift + 1, whole.length - 1);
        expect(byteFeaturesOf(view, s0 - 1, s0 - 1 + b.length)).toEqual(byteFeaturesOf(view, s0 - 1, s0 - 1 + b.length, false));
      }),
      { numRuns: 5000 },
    );
  });
});
