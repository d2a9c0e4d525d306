import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Consumer, ConsumeResult } from '../component/component.js';
import { Issues } from '../config/schema.js';
import { logsCodec, tracesCodec } from '../pdata/codec.js';
import { SPAN_KIND_NAMES, STATUS_CODE_NAMES } from '../pdata/json/index.js';
import type { ResourceLogs, ResourceSpans } from '../pdata/model.js';
import { Telemetry } from '../pdata/telemetry.js';
import { signingSchema, validateSigning } from '../processors/signing/config.js';
import { signingFactory } from '../processors/signing/factory.js';
import { privateKeyFromPem, writeKeyPair } from '../processors/signing/evidence/keys.js';
import { signEnvelope } from '../processors/signing/evidence/dsse.js';
import { PAYLOAD_TYPE } from '../processors/signing/evidence/manifest.js';
import { nopLogger } from '../service/logger.js';
import { SelfTelemetry } from '../service/telemetry.js';
import { logs, traces } from '../../test/helpers/model.js';
import { CLI, tempDir, testHost } from '../../test/helpers/sieve.js';
import { execFileSync, spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EncapsulatedContent, EncapsulatedContentInfo, SignedData, id_signedData } from '@peculiar/asn1-cms';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { MessageImprint, PKIStatusInfo, TSTInfo, TimeStampReq, TimeStampResp, TimeStampToken, id_ct_tstInfo } from '@peculiar/asn1-tsp';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { OID_SHA256, parseRequest, timestampRequest } from '../processors/signing/evidence/tsa.js';
import { runVerify } from './index.js';

const SECRET = 'hex:' + Buffer.alloc(32, 0x11).toString('hex');

class Collect implements Consumer {
  readonly mutatesData = false;
  out: Telemetry[] = [];
  async consume(d: Telemetry): Promise<ConsumeResult> {
    this.out.push(d);
  }
}

const settings = () => ({ id: 'signing', kind: 'processor' as const, logger: nopLogger, telemetry: new SelfTelemetry(), instanceId: 'inst-a', pipelineId: 'traces/default', now: Date.now });

interface Run {
  dir: string;
  manifests: string;
  data: string;
  lines: string[];
  pub: string;
}

function keys(dir: string, name: string): { key: string; pub: string } {
  const r = writeKeyPair(join(dir, name));
  return { key: r.privateFile, pub: r.publicFile };
}

/** Signs `batches` batches of 3 spans through the real processor with evidence; data as JSON lines. */
async function produce(opts: { batches?: number; dir?: string; kid?: string; key?: string; previous?: { kid: string; key: string }[]; signal?: 'traces' | 'logs'; leaves?: boolean; tsa?: string } = {}): Promise<Run> {
  const dir = opts.dir ?? tempDir('sieve-evidence-');
  const k = opts.key ? { key: opts.key, pub: '' } : keys(dir, 'ev1');
  const manifests = join(dir, 'manifests.jsonl');
  const issues = new Issues();
  const raw = {
    keys: [{ id: 'k1', secret: SECRET }],
    chain: true,
    state_directory: join(dir, 'state'),
    evidence: {
      kid: opts.kid ?? 'ev1',
      private_key_file: k.key,
      previous_keys: (opts.previous ?? []).map((p) => ({ kid: p.kid, private_key_file: p.key })),
      file: { path: manifests, include_leaves: opts.leaves ?? true },
      ...(opts.tsa ? { timestamp_authority: opts.tsa } : {}),
    },
  };
  const cfg = signingSchema.parse(raw, [], issues);
  validateSigning(cfg, [], issues);
  expect(issues.errors).toEqual([]);
  const sink = new Collect();
  const signal = opts.signal ?? 'traces';
  const proc = signingFactory.create(settings(), cfg, signal, sink);
  await proc.start(testHost());
  for (let i = 0; i < (opts.batches ?? 4); i++) await proc.consume(signal === 'traces' ? Telemetry.traces(traces(3, 2, i * 3)) : Telemetry.logs(logs(3)));
  await proc.shutdown();
  const data = join(dir, signal === 'traces' ? 'traces.jsonl' : 'logs.jsonl');
  const lines = sink.out.map((t) => (t.signal === 'traces' ? tracesCodec.encodeJson(t.read() as ResourceSpans[]) : logsCodec.encodeJson(t.read() as ResourceLogs[])));
  writeFileSync(data, lines.map((l) => l + '\n').join(''), { flag: 'a' });
  return { dir, manifests, data, lines, pub: k.pub };
}

const fails = (out: string) => out.split('\n').filter((l) => l.startsWith('FAIL'));

describe('sieve verify --pubkey: evidence manifests', () => {
  it('verifies data and manifests with the public key alone', async () => {
    const r = await produce();
    const v = await runVerify(['--pubkey', `ev1=${r.pub}`, '--manifests', r.manifests, r.data]);
    expect(v.output).toContain('result:        VERIFIED');
    expect(v.output).toContain('12 checked, 12 in their manifest, 0 problem(s)');
    expect(v.exitCode).toBe(0);
    // The private key file is 0600.
    expect(statSync(join(r.dir, 'ev1.key')).mode & 0o777).toBe(0o600);
  });

  it('log records verify too, and without leaf lists against the root', async () => {
    const r = await produce({ signal: 'logs', leaves: false });
    const v = await runVerify(['--pubkey', r.pub, '--manifests', r.manifests, r.data]);
    expect(v.exitCode).toBe(0);
    expect(v.output).toContain('12 in their manifest');
  });

  it('reads OTLP protobuf files and Tempo trace-by-id responses (partial: each item in its manifest)', async () => {
    const r = await produce();
    const pb = join(r.dir, 'batch.pb');
    const all = r.lines.flatMap((l) => tracesCodec.decodeJson(l));
    writeFileSync(pb, tracesCodec.encode(all));
    const v = await runVerify(['--pubkey', r.pub, '--manifests', r.manifests, pb]);
    expect(v.output).toContain('12 checked, 12 in their manifest');
    expect(v.exitCode).toBe(0);
    // Tempo's /api/traces/<id>: one trace's spans, base64 ids, enum names.
    const o = JSON.parse(r.lines[1]!);
    const b64 = (hex: string) => Buffer.from(hex, 'hex').toString('base64');
    const trace = o.resourceSpans[0].scopeSpans[0].spans[0].traceId;
    for (const rs of o.resourceSpans) {
      for (const ss of rs.scopeSpans) {
        ss.spans = ss.spans.filter((sp: any) => sp.traceId === trace);
        for (const sp of ss.spans) {
          sp.traceId = b64(sp.traceId);
          sp.spanId = b64(sp.spanId);
          if (sp.parentSpanId) sp.parentSpanId = b64(sp.parentSpanId);
          if (sp.kind) sp.kind = SPAN_KIND_NAMES[sp.kind];
          const st = sp.status ?? {};
          sp.status = { ...(st.message ? { message: st.message } : {}), ...(st.code ? { code: STATUS_CODE_NAMES[st.code] } : {}) };
        }
      }
    }
    const tempo = join(r.dir, 'tempo.json');
    writeFileSync(tempo, JSON.stringify({ batches: o.resourceSpans }));
    const t = await runVerify(['--pubkey', r.pub, '--manifests', r.manifests, tempo]);
    expect(t.output).toContain('(partial input: completeness not checked)');
    expect(t.output).toMatch(/items: +[1-3] checked, [1-3] in their manifest, 0 problem/);
    expect(t.exitCode).toBe(0);
    o.resourceSpans[0].scopeSpans[0].spans[0].name = 'forged';
    writeFileSync(tempo, JSON.stringify({ batches: o.resourceSpans }));
    const f = await runVerify(['--pubkey', r.pub, '--manifests', r.manifests, '-q', tempo]);
    expect(f.exitCode).toBe(1);
    expect(f.output).toMatch(/tempo\.json batches\[0\]\.scopeSpans\[0\]\.spans\[0\] span \S+ "forged": extra: not an item of stream inst-a\/traces\/default seq 2 .*\(inserted or altered\)/);
  });

  describe('tamper matrix', () => {
    async function tampered(edit: (data: any[], man: string[]) => void): Promise<string> {
      const r = await produce();
      const data = r.lines.map((l) => JSON.parse(l));
      const man = readFileSync(r.manifests, 'utf8').trim().split('\n');
      edit(data, man);
      writeFileSync(r.data, data.map((d) => JSON.stringify(d) + '\n').join(''));
      writeFileSync(r.manifests, man.map((m) => m + '\n').join(''));
      const v = await runVerify(['--pubkey', `ev1=${r.pub}`, '--manifests', r.manifests, '-q', r.data]);
      expect(v.exitCode).toBe(1);
      return fails(v.output).join('\n');
    }
    const spans = (d: any) => d.resourceSpans[0].scopeSpans[0].spans;

    it('an altered item is named with its position and leaf index', async () => {
      const f = await tampered((d) => void (spans(d[1])[2].name = 'forged'));
      expect(f).toMatch(/traces\.jsonl:2 resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[2\] span \S+ "forged": altered: does not match item #2 of stream inst-a\/traces\/default seq 2/);
    });
    it('a removed item', async () => {
      const f = await tampered((d) => void spans(d[2]).splice(0, 1));
      expect(f).toMatch(/seq 3 \(manifest .*manifests\.jsonl:3\): item #0 missing \(removed\)/);
    });
    it('an inserted item', async () => {
      const f = await tampered((d) => {
        const copy = JSON.parse(JSON.stringify(spans(d[0])[0]));
        copy.spanId = 'ffffffffffffffff';
        spans(d[0]).push(copy);
      });
      expect(f).toMatch(/traces\.jsonl:1 resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[3\] span \S+\/ffffffffffffffff .*: extra: not an item of stream inst-a\/traces\/default seq 1/);
    });
    it('reordered items', async () => {
      const f = await tampered((d) => spans(d[3]).reverse());
      expect(f).toMatch(/traces\.jsonl:4 resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[1\] .*: item #1 of stream inst-a\/traces\/default seq 4 .* comes after item #2 at \S*traces\.jsonl:4 .*spans\[0\].*: items reordered/);
    });
    it('a redelivered batch is a note, not an insertion', async () => {
      const r = await produce();
      writeFileSync(r.data, [...r.lines, r.lines[1]!].map((l) => l + '\n').join(''));
      const v = await runVerify(['--pubkey', r.pub, '--manifests', r.manifests, '-q', r.data]);
      expect(v.output).toMatch(/NOTE  \S*traces\.jsonl:5 resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[0\] .*: duplicate of an item of stream inst-a\/traces\/default seq 2 .*already matched \(redelivered\)/);
      expect(v.exitCode).toBe(0);
    });
    it('an altered manifest', async () => {
      const f = await tampered((_, m) => {
        const rec = JSON.parse(m[1]!);
        const p = JSON.parse(Buffer.from(rec.envelope.payload, 'base64').toString());
        p.counts.spans = 2;
        rec.envelope.payload = Buffer.from(JSON.stringify(p)).toString('base64');
        m[1] = JSON.stringify(rec);
      });
      expect(f).toMatch(/manifests\.jsonl:2: manifest stream inst-a\/traces\/default seq 2: signature by "ev1" does not verify/);
      // Its items have no authentic manifest left.
      expect(f).toMatch(/traces\.jsonl:2 .*: no manifest for stream inst-a\/traces\/default seq 2/);
    });
    it('a removed manifest', async () => {
      const f = await tampered((_, m) => void m.splice(2, 1));
      expect(f).toMatch(/manifest stream inst-a\/traces\/default: seq 3 missing between .*manifests\.jsonl:2 \(seq 2\) and .*manifests\.jsonl:3 \(seq 4\): manifests removed/);
    });
    it('reordered manifests', async () => {
      const f = await tampered((_, m) => void ([m[1], m[2]] = [m[2]!, m[1]!]));
      expect(f).toMatch(/manifests\.jsonl:3: manifest stream inst-a\/traces\/default seq 2 comes after seq 3 at .*manifests\.jsonl:2: manifests reordered/);
    });
    it('manifests carried as log records may arrive in any order; a removed one still shows', async () => {
      const r = await produce();
      const recs = readFileSync(r.manifests, 'utf8').trim().split('\n').map((l) => {
        const { leaves: _leaves, ...rec } = JSON.parse(l);
        return rec;
      });
      const line = (rec: unknown) =>
        JSON.stringify({
          resourceLogs: [
            {
              resource: { attributes: [{ key: 'service.name', value: { stringValue: 'sieve' } }] },
              scopeLogs: [{ scope: { name: 'sieve.evidence' }, logRecords: [{ timeUnixNano: '1', severityNumber: 9, severityText: 'INFO', eventName: 'sieve.evidence.manifest', body: { stringValue: JSON.stringify(rec) } }] }],
            },
          ],
        }) + '\n';
      const carried = join(dirname(r.data), 'carried.jsonl');
      writeFileSync(carried, [recs[1], recs[0], recs[3], recs[2]].map(line).join(''));
      const ok = await runVerify(['--pubkey', `ev1=${r.pub}`, '-q', r.data, carried]);
      expect(ok.output).not.toMatch(/reordered/);
      expect(ok.output).toMatch(/result: +VERIFIED/);
      expect(ok.exitCode).toBe(0);
      writeFileSync(carried, [recs[3], recs[0], recs[1]].map(line).join(''));
      const gap = await runVerify(['--pubkey', `ev1=${r.pub}`, '-q', r.data, carried]);
      expect(gap.exitCode).toBe(1);
      expect(fails(gap.output).join('\n')).toMatch(/seq 3 missing between .*carried\.jsonl:3 .* \(seq 2\) and .*carried\.jsonl:1 .* \(seq 4\): manifests removed/);
    });
    it('a removed leaf list entry or an altered leaf list is named', async () => {
      const f = await tampered((_, m) => {
        const rec = JSON.parse(m[0]!);
        rec.leaves = Buffer.from(rec.leaves, 'base64').subarray(32).toString('base64');
        m[0] = JSON.stringify(rec);
      });
      expect(f).toMatch(/manifests\.jsonl:1: stream inst-a\/traces\/default seq 1: the leaf list beside the manifest does not match its signed root/);
    });
    it('a forked manifest chain (a second signed manifest for one batch)', async () => {
      const r = await produce();
      // A second instance with the same stream and key but fresh state: seq 1.. again.
      const other = await produce({ dir: tempDir('sieve-evidence-fork-'), key: join(r.dir, 'ev1.key'), batches: 2 });
      writeFileSync(r.manifests, readFileSync(r.manifests, 'utf8') + readFileSync(other.manifests, 'utf8'));
      const v = await runVerify(['--pubkey', `ev1=${r.pub}`, '--manifests', r.manifests, '-q', r.data]);
      expect(v.exitCode).toBe(1);
      expect(fails(v.output).join('\n')).toMatch(/manifests\.jsonl:5: manifest stream inst-a\/traces\/default seq 1 differs from the one at .*manifests\.jsonl:1: the manifest chain forked/);
    });
    it('a manifest signed by an unknown key', async () => {
      const r = await produce();
      const stranger = keys(r.dir, 'stranger');
      const v = await runVerify(['--pubkey', `ev1=${stranger.pub}`, '--manifests', r.manifests, '-q', r.data]);
      expect(v.exitCode).toBe(1);
      expect(v.output).toMatch(/manifests\.jsonl:1: manifest stream inst-a\/traces\/default seq 1: signature by "ev1" does not verify/);
      const w = await runVerify(['--pubkey', `other=${r.pub}`, '--manifests', r.manifests, '-q', r.data]);
      expect(w.output).toMatch(/manifests\.jsonl:1: manifest stream inst-a\/traces\/default seq 1: signed by unknown key "ev1"/);
    });
  });

  describe('key rotation', () => {
    it('data across a rotation verifies with both public keys; the hand-over is signed by the old key', async () => {
      const dir = tempDir('sieve-evidence-rot-');
      const a = keys(dir, 'a');
      const b = keys(dir, 'b');
      await produce({ dir, kid: 'ev1', key: a.key, batches: 2 });
      const r = await produce({ dir, kid: 'ev2', key: b.key, previous: [{ kid: 'ev1', key: a.key }], batches: 2 });
      const man = readFileSync(r.manifests, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(man).toHaveLength(4);
      expect(man[2].envelope.signatures.map((s: { keyid: string }) => s.keyid)).toEqual(['ev2', 'ev1']);
      const v = await runVerify(['--pubkey', `ev1=${a.pub}`, '--pubkey', `ev2=${b.pub}`, '--manifests', r.manifests, r.data]);
      expect(v.output).toContain('(hand-over from ev1)');
      expect(v.exitCode).toBe(0);
      // Without the old public key the hand-over cannot be checked.
      const w = await runVerify(['--pubkey', `ev2=${b.pub}`, '--manifests', r.manifests, '-q', r.data]);
      expect(w.exitCode).toBe(1);
    });

    it('a forged hand-over is rejected, and so is a key change without one', async () => {
      const dir = tempDir('sieve-evidence-forge-');
      const a = keys(dir, 'a');
      const b = keys(dir, 'b');
      const x = keys(dir, 'x');
      await produce({ dir, kid: 'ev1', key: a.key, batches: 2 });
      // The attacker holds key b (trusted later) but not a; the hand-over is signed with x claiming to be ev1.
      const r = await produce({ dir, kid: 'ev2', key: b.key, previous: [{ kid: 'ev1', key: x.key }], batches: 1 });
      const v = await runVerify(['--pubkey', `ev1=${a.pub}`, '--pubkey', `ev2=${b.pub}`, '--manifests', r.manifests, '-q', r.data]);
      expect(v.exitCode).toBe(1);
      expect(v.output).toMatch(/manifests\.jsonl:3: manifest stream inst-a\/traces\/default seq 3: key hand-over from "ev1" to "ev2" is not signed by "ev1" \(forged hand-over\)/);
      // Strip the hand-over altogether and re-sign with the new key only: the change of key is named.
      const man = readFileSync(r.manifests, 'utf8').trim().split('\n');
      const rec = JSON.parse(man[2]!);
      const p = JSON.parse(Buffer.from(rec.envelope.payload, 'base64').toString());
      expect(p.prev_kid).toBe('ev1');
      delete p.prev_kid;
      rec.envelope = signEnvelope(PAYLOAD_TYPE, Buffer.from(JSON.stringify(p)), [{ kid: 'ev2', key: privateKeyFromPem(readFileSync(b.key, 'utf8'), 'b') }]);
      man[2] = JSON.stringify(rec);
      writeFileSync(r.manifests, man.join('\n') + '\n');
      const w = await runVerify(['--pubkey', `ev1=${a.pub}`, '--pubkey', `ev2=${b.pub}`, '--manifests', r.manifests, '-q', r.data]);
      expect(w.exitCode).toBe(1);
      expect(w.output).toMatch(/manifests\.jsonl:3: manifest stream inst-a\/traces\/default seq 3: key changes from "ev1" to "ev2" without a hand-over signed by "ev1"/);
    });

    it('a new key without the previous one configured refuses to start', async () => {
      const dir = tempDir('sieve-evidence-norot-');
      const a = keys(dir, 'a');
      const b = keys(dir, 'b');
      await produce({ dir, kid: 'ev1', key: a.key, batches: 1 });
      await expect(produce({ dir, kid: 'ev2', key: b.key, batches: 1 })).rejects.toThrow(/add "ev1" to evidence.previous_keys/);
    });
  });

  describe('inclusion proofs', () => {
    it('--proof prints a proof that --check-proof accepts with the public key only; altered items fail', async () => {
      const r = await produce();
      const sp = JSON.parse(r.lines[2]!).resourceSpans[0].scopeSpans[0].spans[1];
      const p = await runVerify(['--pubkey', r.pub, '--manifests', r.manifests, '--proof', '--trace-id', sp.traceId, '--span-id', sp.spanId, r.data]);
      expect(p.exitCode).toBe(0);
      const proof = JSON.parse(p.output);
      expect(proof).toMatchObject({ type: 'sieve.evidence.proof/v1', seq: 3, index: 1, tree_size: 3 });
      const f = join(r.dir, 'proof.json');
      writeFileSync(f, p.output);
      const c = await runVerify(['--pubkey', r.pub, '--check-proof', f]);
      expect(c.output).toMatch(/OK    .*item is #1 of 3 in manifest stream inst-a\/traces\/default seq 3/);
      expect(c.exitCode).toBe(0);
      proof.item.resourceSpans[0].scopeSpans[0].spans[0].name = 'never sent';
      writeFileSync(f, JSON.stringify(proof));
      const bad = await runVerify(['--pubkey', r.pub, '--check-proof', f]);
      expect(bad.exitCode).toBe(1);
      expect(bad.output).toMatch(/FAIL  .*not included in manifest stream inst-a\/traces\/default seq 3/);
      const none = await runVerify(['--pubkey', r.pub, '--manifests', r.manifests, '--proof', '--trace-id', sp.traceId, '--span-id', '0000000000000001', r.data]);
      expect(none.exitCode).toBe(1);
      expect(none.output).toMatch(/never sent/);
    });
  });

  it('sieve keygen writes a key pair (private key mode 0600) and refuses to overwrite', () => {
    const dir = tempDir();
    const prefix = join(dir, 'ev');
    const r = spawnSync(process.execPath, [CLI, 'keygen', '--out', prefix], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(statSync(`${prefix}.key`).mode & 0o777).toBe(0o600);
    expect(readFileSync(`${prefix}.pub`, 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    const again = spawnSync(process.execPath, [CLI, 'keygen', '--out', prefix], { encoding: 'utf8' });
    expect(again.status).not.toBe(0);
    expect(again.stderr).toMatch(/EEXIST/);
    expect(spawnSync(process.execPath, [CLI, 'keygen'], { encoding: 'utf8' }).status).toBe(2);
  });

  describe('RFC 3161 timestamps', () => {
    /** A TSA on loopback, written from RFC 3161: POST application/timestamp-query, answer a TimeStampResp (granted) with a TSTInfo in a SignedData. */
    async function startTsa(): Promise<{ url: string; server: Server; requests: number }> {
      const st = { url: '', server: undefined as unknown as Server, requests: 0 };
      st.server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          st.requests++;
          if (req.method !== 'POST' || req.headers['content-type'] !== 'application/timestamp-query') {
            res.writeHead(400).end();
            return;
          }
          const q = AsnConvert.parse(Buffer.concat(chunks), TimeStampReq);
          const tst = new TSTInfo({
            version: 1,
            policy: '1.3.6.1.4.1.99999.1',
            messageImprint: new MessageImprint({ hashAlgorithm: new AlgorithmIdentifier({ algorithm: q.messageImprint.hashAlgorithm.algorithm }), hashedMessage: new OctetString(q.messageImprint.hashedMessage.buffer) }),
            serialNumber: new Uint8Array([st.requests]).buffer,
            genTime: new Date('2026-12-06T04:00:00Z'),
            ordering: false,
            ...(q.nonce ? { nonce: q.nonce } : {}),
          });
          const sd = new SignedData({ version: 3, encapContentInfo: new EncapsulatedContentInfo({ eContentType: id_ct_tstInfo, eContent: new EncapsulatedContent({ single: new OctetString(AsnConvert.serialize(tst)) }) }) });
          const resp = new TimeStampResp({ status: new PKIStatusInfo({ status: 0 }), timeStampToken: new TimeStampToken({ contentType: id_signedData, content: AsnConvert.serialize(sd) }) });
          res.writeHead(200, { 'content-type': 'application/timestamp-reply' }).end(Buffer.from(AsnConvert.serialize(resp)));
        });
      });
      await new Promise<void>((r) => st.server.listen(0, '127.0.0.1', r));
      st.url = `http://127.0.0.1:${(st.server.address() as AddressInfo).port}/tsa`;
      return st;
    }

    it('each manifest digest gets a token; verify checks the imprint, and a token moved to another manifest fails', async () => {
      const tsa = await startTsa();
      try {
        const r = await produce({ tsa: tsa.url });
        expect(tsa.requests).toBe(4);
        const man = readFileSync(r.manifests, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
        expect(man.every((m) => typeof m.timestamp === 'string')).toBe(true);
        const v = await runVerify(['--pubkey', r.pub, '--manifests', r.manifests, r.data]);
        expect(v.output).toContain('timestamped 2026-12-06T04:00:00.000Z');
        expect(v.exitCode).toBe(0);
        [man[1].timestamp, man[2].timestamp] = [man[2].timestamp, man[1].timestamp];
        writeFileSync(r.manifests, man.map((m) => JSON.stringify(m) + '\n').join(''));
        const w = await runVerify(['--pubkey', r.pub, '--manifests', r.manifests, '-q', r.data]);
        expect(w.exitCode).toBe(1);
        expect(w.output).toMatch(/manifests\.jsonl:2: stream inst-a\/traces\/default seq 2: the RFC 3161 timestamp's message imprint is not this manifest's digest/);
      } finally {
        tsa.server.close();
      }
    });

    it('without a TSA nothing is sent; a TSA that is down leaves manifests without a token', async () => {
      const tsa = await startTsa();
      await produce();
      expect(tsa.requests).toBe(0);
      tsa.server.close();
      const r = await produce({ tsa: tsa.url, batches: 1 });
      expect(JSON.parse(readFileSync(r.manifests, 'utf8')).timestamp).toBeUndefined();
      expect((await runVerify(['--pubkey', r.pub, '--manifests', r.manifests, r.data])).exitCode).toBe(0);
    });

    it('requests agree with OpenSSL: ours parse in openssl ts, openssl ts -query parses in ours', () => {
      const dir = tempDir();
      const digest = Buffer.alloc(32, 0x5a);
      writeFileSync(join(dir, 'ours.tsq'), timestampRequest(digest).der);
      const text = execFileSync('openssl', ['ts', '-query', '-in', join(dir, 'ours.tsq'), '-text'], { encoding: 'utf8' });
      expect(text).toMatch(/Hash Algorithm: sha256/);
      expect(text.replace(/[^0-9a-f]/gi, ' ')).toContain('5a 5a 5a');
      execFileSync('openssl', ['ts', '-query', '-digest', digest.toString('hex'), '-sha256', '-out', join(dir, 'openssl.tsq')]);
      const q = parseRequest(readFileSync(join(dir, 'openssl.tsq')));
      expect(q.algorithm).toBe(OID_SHA256);
      expect(q.digest.equals(digest)).toBe(true);
    });
  });

  it('config: evidence needs chain: true and a sink; bad keys are named with their path', () => {
    const dir = tempDir();
    const issues = new Issues();
    const cfg = signingSchema.parse({ keys: [{ id: 'k1', secret: SECRET }], evidence: { kid: 'ev1', private_key_file: join(dir, 'nope.key'), previous_keys: [{ kid: 'ev0', private_key: 'not pem' }] } }, ['processors', 'signing'], issues);
    validateSigning(cfg, ['processors', 'signing'], issues);
    const msgs = issues.errors.map((e) => `${e.path.join('::')}: ${e.message}`);
    expect(msgs).toContain('processors::signing::chain: must be true when evidence is configured: manifests follow the batch chain');
    expect(msgs).toContain('processors::signing::evidence: no manifest sink: set file, logs_exporter or both');
    expect(msgs.some((m) => m.startsWith('processors::signing::evidence::private_key_file: cannot read private key file'))).toBe(true);
    expect(msgs.some((m) => m.startsWith('processors::signing::evidence::previous_keys::0::private_key: ') && m.includes('is not a PEM private key'))).toBe(true);
  });
});
