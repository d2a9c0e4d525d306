// The feature prefilter only ever rules patterns out that cannot match: with
// it, every string is redacted exactly as when every pattern is run; over the
// UTF-8 bytes it gives a superset of what it gives over the decoded string.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { benignCorpus } from '../../../test/corpus/benign.js';
import { secretCorpus } from '../../../test/corpus/secrets.js';
import { DEFAULT_DETECTORS, DETECTORS, DetectorEngine } from './detectors.js';

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
});
