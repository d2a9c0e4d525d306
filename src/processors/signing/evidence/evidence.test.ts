import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../../test/helpers/sieve.js';
import { pae, signEnvelope, verifySignature } from './dsse.js';
import { PAYLOAD_TYPE, encodeManifest, manifestDigest, type Manifest } from './manifest.js';
import { LeafBuffer, inclusionProof, leafHash, merkleRoot, rootOfConcat, verifyInclusion } from './merkle.js';
import { FileManifestSink } from './sinks.js';

const doc = readFileSync(new URL('../../../../docs/evidence.md', import.meta.url), 'utf8');
const signingDoc = readFileSync(new URL('../../../../docs/signing.md', import.meta.url), 'utf8');
function block(text: string, marker: string): string {
  const at = text.indexOf(`<!-- test-vector:${marker} -->`);
  expect(at).toBeGreaterThan(0);
  const start = text.indexOf('```text\n', at) + 8;
  return text.slice(start, text.indexOf('```', start));
}
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest();

/** RFC 6962's recursive definition, written independently of merkle.ts. */
function referenceRoot(entries: Buffer[]): Buffer {
  if (entries.length === 0) return sha(Buffer.alloc(0));
  if (entries.length === 1) return sha(Buffer.concat([Buffer.from([0]), entries[0]!]));
  let k = 1;
  while (k * 2 < entries.length) k *= 2;
  return sha(Buffer.concat([Buffer.from([1]), referenceRoot(entries.slice(0, k)), referenceRoot(entries.slice(k))]));
}

describe('evidence: test vectors of docs/evidence.md', () => {
  it('the leaf of the docs/signing.md span', () => {
    const hex = block(signingDoc, 'span:canonical')
      .split('\n')
      .map((l) => l.split('#')[0]!.replace(/\s+/g, ''))
      .join('');
    const canonical = Buffer.from(hex, 'hex');
    expect(canonical.length).toBe(308);
    expect(leafHash(canonical).toString('hex')).toBe(block(doc, 'evidence:span-leaf').trim());
  });

  it('the tree, its root and the proof of leaf 3', () => {
    const rows = Object.fromEntries(block(doc, 'evidence:tree').trim().split('\n').map((l) => { const m = /^(leaf \d|root|empty)\s+([0-9a-f]{64})$/.exec(l)!; return [m[1], m[2]]; }));
    const entries = [0, 1, 2, 3, 4].map((i) => Buffer.from(`item-${i}`));
    const leaves = entries.map(leafHash);
    leaves.forEach((l, i) => expect(l.toString('hex')).toBe(rows[`leaf ${i}`]));
    expect(merkleRoot(leaves).toString('hex')).toBe(rows.root);
    expect(referenceRoot(entries).toString('hex')).toBe(rows.root);
    expect(merkleRoot([]).toString('hex')).toBe(rows.empty);
    const [head, ...path] = block(doc, 'evidence:proof').trim().split('\n');
    expect(head).toMatch(/^index 3\s+tree_size 5$/);
    expect(inclusionProof(leaves, 3).map((p) => p.toString('hex'))).toEqual(path);
    expect(verifyInclusion(leaves[3]!, 3, 5, path.map((p) => Buffer.from(p, 'hex')), Buffer.from(rows.root!, 'hex'))).toBe(true);
  });

  it('the manifest payload, digest, PAE and Ed25519 signature', () => {
    const key = createPrivateKey(block(doc, 'evidence:private-key'));
    const pub = createPublicKey(block(doc, 'evidence:public-key'));
    expect(createPublicKey(key).export({ type: 'spki', format: 'pem' })).toBe(block(doc, 'evidence:public-key'));
    const payloadText = block(doc, 'evidence:manifest').trim();
    const m = JSON.parse(payloadText) as Manifest;
    const payload = encodeManifest(m);
    expect(payload.toString()).toBe(payloadText);
    expect(payload.length).toBe(276);
    expect(m.root).toBe(Buffer.from(block(doc, 'evidence:tree').match(/root\s+([0-9a-f]{64})/)![1]!, 'hex').toString('base64'));
    const rows = Object.fromEntries(block(doc, 'evidence:signature').trim().split('\n').map((l) => [l.slice(0, 6).trim(), l.slice(8)]));
    expect(manifestDigest(payload).toString('base64')).toBe(rows.digest);
    expect(pae(PAYLOAD_TYPE, payload).toString().startsWith(rows.pae!)).toBe(true);
    const env = signEnvelope(PAYLOAD_TYPE, payload, [{ kid: 'ev-test', key }]);
    expect(env.signatures[0]!.sig).toBe(rows.sig);
    expect(verifySignature(env, env.signatures[0]!, pub)).toBe(true);
    const altered = { ...env, payload: Buffer.from(payloadText.replace('"seq":2', '"seq":3')).toString('base64') };
    expect(verifySignature(altered, env.signatures[0]!, pub)).toBe(false);
  });
});

describe('evidence: Merkle tree', () => {
  it('the bottom-up root equals RFC 6962 recursive definition for any size', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 70 }), (list) => {
        const entries = list.map((u) => Buffer.from(u));
        const lb = new LeafBuffer();
        for (const e of entries) lb.addEntry(e);
        expect(rootOfConcat(lb.bytes(), lb.size).equals(referenceRoot(entries))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('1,000 random items: every inclusion proof verifies; a never-sent item, a wrong index or a changed path fail', () => {
    const rnd = fc.sample(fc.uint8Array({ minLength: 1, maxLength: 300 }), { numRuns: 1000, seed: 16 });
    const leaves = rnd.map((u) => leafHash(u));
    const root = merkleRoot(leaves);
    for (let i = 0; i < leaves.length; i++) {
      const path = inclusionProof(leaves, i);
      expect(path.length).toBeLessThanOrEqual(10);
      expect(verifyInclusion(leaves[i]!, i, leaves.length, path, root)).toBe(true);
    }
    const never = leafHash(Buffer.from('never sent'));
    for (let i = 0; i < leaves.length; i += 37) {
      const path = inclusionProof(leaves, i);
      expect(verifyInclusion(never, i, leaves.length, path, root)).toBe(false);
      expect(verifyInclusion(leaves[i]!, (i + 1) % leaves.length, leaves.length, path, root)).toBe(false);
      expect(verifyInclusion(leaves[i]!, i, leaves.length, path.slice(1), root)).toBe(false);
    }
    // Domain separation: an inner node is not accepted as a leaf of a smaller tree.
    const inner = merkleRoot(leaves.slice(0, 2));
    expect(verifyInclusion(inner, 0, 999, inclusionProof(leaves.slice(1), 0).slice(1), root)).toBe(false);
  });
});

describe('evidence: manifest file sink', () => {
  it('appends and rotates by size; backups sort in stream order and max_backups prunes', () => {
    const dir = tempDir();
    const path = join(dir, 'manifests.jsonl');
    const sink = new FileManifestSink({ path, max_megabytes: 600 / (1024 * 1024), max_backups: 2 });
    const { privateKey } = { privateKey: createPrivateKey(block(doc, 'evidence:private-key')) };
    for (let seq = 1; seq <= 10; seq++) {
      const payload = Buffer.from(JSON.stringify({ seq }));
      sink.write({ envelope: signEnvelope(PAYLOAD_TYPE, payload, [{ kid: 'k', key: privateKey }]) });
    }
    const files = readdirSync(dir).sort();
    expect(files).toHaveLength(3);
    expect(files[2]).toBe('manifests.jsonl');
    expect(files[0]).toMatch(/^manifests-0000000000\d\d\.jsonl$/);
    const seqs = files.flatMap((f) => readFileSync(join(dir, f), 'utf8').trim().split('\n').map((l) => JSON.parse(Buffer.from(JSON.parse(l).envelope.payload, 'base64').toString()).seq));
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(seqs[seqs.length - 1]).toBe(10);
  });
});
