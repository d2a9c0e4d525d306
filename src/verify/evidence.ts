// `sieve verify --pubkey`: checks evidence manifests (docs/evidence.md) with
// public keys only: manifest signatures, the manifest chain, every item
// against its manifest's Merkle root; `--proof` prints an item's inclusion
// proof and `--check-proof` checks one.
import type { KeyObject } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { logsCodec, tracesCodec } from '../pdata/codec.js';
import { parseJson, toHex } from '../pdata/json/index.js';
import type { LogRecord, ResourceLogs, ResourceSpans, Signal, Span } from '../pdata/model.js';
import { CanonicalEncoder, LimitError, RECORD_LOG, RECORD_SPAN, RESERVED } from '../processors/signing/canonical.js';
import { SeqRanges, readStamp } from '../processors/signing/chain.js';
import { KEY_ID_RE, KeyError } from '../processors/signing/keys.js';
import { findSig } from '../processors/signing/sign.js';
import { envelopeError, verifySignature, type DsseEnvelope } from '../processors/signing/evidence/dsse.js';
import { loadPublicKeyFile } from '../processors/signing/evidence/keys.js';
import { MANIFEST_EVENT, PAYLOAD_TYPE, decodeManifest, manifestDigest, parseRecord, type Manifest, type ManifestRecord } from '../processors/signing/evidence/manifest.js';
import { HASH_SIZE, inclusionProof, leafHash, rootOfConcat, splitLeaves, verifyInclusion } from '../processors/signing/evidence/merkle.js';
import { readInput, type InputFile } from './readers.js';
import { OID_SHA256, readToken } from '../processors/signing/evidence/tsa.js';

export const PROOF_TYPE = 'sieve.evidence.proof/v1';

export const EVIDENCE_USAGE = `usage: sieve verify --pubkey [KID=]FILE... [--manifests PATH]... [--partial] [-q] <data file|dir>...
       sieve verify --pubkey [KID=]FILE... --manifests PATH... --proof (--trace-id HEX --span-id HEX | --log-time NANOS) <data...>
       sieve verify --pubkey [KID=]FILE... --check-proof PROOF.json

Checks evidence manifests (docs/evidence.md) with Ed25519 public keys only:
the manifests' signatures, their chain (gaps, reorders, forks, key hand-overs)
and every span and log record against its manifest's Merkle root. Manifests
come from --manifests files (JSON lines, rotated files, or their directory)
and from manifest log records found in the data.

  --pubkey KID=FILE   PEM public key (SPKI) for key id KID; repeatable
  --pubkey FILE       as above, tried for any key id
  --manifests PATH    manifest file, or a directory of them; repeatable
  --partial           the data is a subset (e.g. one trace): check that each item
                      is in its manifest, not that every item is present
                      (the default for Tempo responses)
  --proof             print the inclusion proof (JSON) of one item
  --trace-id, --span-id  the span to prove
  --log-time NANOS    the log record to prove (time_unix_nano)
  --check-proof FILE  check an inclusion proof: its manifest's signature and the
                      item's path to the manifest root
  --signal S          traces | logs, for protobuf input
  --quiet, -q         print only failures, notes and the summary`;

class UsageError extends Error {}

interface PubKeys {
  byKid: Map<string, KeyObject>;
  any: KeyObject[];
}

interface ManifestAt {
  rec: ManifestRecord;
  m: Manifest;
  digest: string;
  where: string;
  file: string;
  /** Leaf hashes, when the record carries a list that matches the root. */
  leaves?: Buffer[];
  /**
   * Read from a log record of a data input: carried through a pipeline,
   * whose exporters may deliver records in any order, so its place in the
   * file proves nothing (sequence numbers and previous digests still do).
   */
  carried: boolean;
}

interface ItemAt {
  leaf: Buffer;
  where: string;
  signal: Signal;
  rs: ResourceSpans | ResourceLogs;
  scopeIndex: number;
  item: Span | LogRecord;
}

interface Group {
  items: ItemAt[];
}

export function isEvidenceInvocation(args: readonly string[]): boolean {
  return args.some((a) => a === '--pubkey' || a.startsWith('--pubkey=') || a === '--check-proof' || a.startsWith('--check-proof=') || a === '--proof');
}

export interface EvidenceReport {
  lines: string[];
  ok: boolean;
}

/** The leaf of an item: SHA-256(0x00 || canonical form); undefined when the form breaks a cap (such items are not signed). */
export class LeafEncoder {
  private readonly enc = new CanonicalEncoder();
  private bad: LimitError | undefined;
  beginResource(signal: Signal, attrs: ResourceSpans['resource']['attributes']): void {
    this.bad = undefined;
    try {
      this.enc.beginResource(signal === 'traces' ? RECORD_SPAN : RECORD_LOG, attrs);
    } catch (e) {
      if (!(e instanceof LimitError)) throw e;
      this.bad = e;
    }
  }
  beginScope(scope: { name: string; version: string }): void {
    if (this.bad) return;
    try {
      this.enc.beginScope({ name: scope.name, version: scope.version, attributes: [], droppedAttributesCount: 0 });
    } catch (e) {
      if (!(e instanceof LimitError)) throw e;
      this.bad = e;
    }
  }
  leaf(signal: Signal, item: Span | LogRecord): Buffer | undefined {
    if (this.bad) return undefined;
    try {
      const end = signal === 'traces' ? this.enc.span(item as Span) : this.enc.log(item as LogRecord);
      return leafHash(this.enc.buf.subarray(RESERVED, end));
    } catch (e) {
      if (e instanceof LimitError) return undefined;
      throw e;
    }
  }
}

export class EvidenceVerifier {
  private readonly lines: string[] = [];
  private ok = true;
  private readonly manifests: ManifestAt[] = [];
  private readonly groups = new Map<string, Group>();
  private readonly voided = new Map<string, SeqRanges>();
  private readonly leafEnc = new LeafEncoder();
  private stats = { manifests: 0, manifestFailures: 0, items: 0, itemsOk: 0, itemFailures: 0, chainFailures: 0, notes: 0 };
  private tempo = false;

  constructor(private readonly keys: PubKeys, private readonly opts: { partial?: boolean; quiet?: boolean } = {}) {}

  private pass(t: string): void {
    if (!this.opts.quiet) this.lines.push(`OK    ${t}`);
  }
  private fail(t: string): void {
    this.ok = false;
    this.lines.push(`FAIL  ${t}`);
  }
  private note(t: string): void {
    this.stats.notes++;
    this.lines.push(`NOTE  ${t}`);
  }

  private keysFor(kid: string): KeyObject[] {
    const k = this.keys.byKid.get(kid);
    return k ? [k, ...this.keys.any] : [...this.keys.any];
  }

  /** A file of manifest records (JSON lines). */
  addManifestFile(path: string): void {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      this.stats.manifestFailures++;
      this.fail(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      return;
    }
    text.split('\n').forEach((line, i) => {
      if (line.trim() === '') return;
      const where = `${path}:${i + 1}`;
      const rec = parseRecord(line);
      if (typeof rec === 'string') {
        this.stats.manifestFailures++;
        this.fail(`${where}: manifest record unreadable: ${rec}`);
        return;
      }
      this.addManifestRecord(rec, where, path);
    });
  }

  addManifestRecord(rec: ManifestRecord, where: string, file: string, carried = false): void {
    this.stats.manifests++;
    const env = rec.envelope;
    const bad = (why: string) => {
      this.stats.manifestFailures++;
      this.fail(`${where}: manifest ${why}`);
    };
    if (env.payloadType !== PAYLOAD_TYPE) return bad(`payloadType is ${JSON.stringify(env.payloadType)}, not ${PAYLOAD_TYPE}`);
    const payload = Buffer.from(env.payload, 'base64');
    const m = decodeManifest(payload);
    if (typeof m === 'string') return bad(m);
    const label = `stream ${m.stream} seq ${m.seq}`;
    const sig = env.signatures.find((s) => s.keyid === m.kid);
    if (!sig) return bad(`${label}: no signature by its own key "${m.kid}"`);
    const keys = this.keysFor(m.kid);
    if (keys.length === 0) return bad(`${label}: signed by unknown key "${m.kid}" (no public key for it)`);
    if (!keys.some((k) => verifySignature(env, sig, k))) return bad(`${label}: signature by "${m.kid}" does not verify (manifest altered or forged)`);
    if (m.prev_kid !== undefined) {
      const hs = env.signatures.find((s) => s.keyid === m.prev_kid);
      const pk = this.keysFor(m.prev_kid);
      if (!hs || pk.length === 0 || !pk.some((k) => verifySignature(env, hs, k))) {
        return bad(`${label}: key hand-over from "${m.prev_kid}" to "${m.kid}" is not signed by "${m.prev_kid}" (forged hand-over${pk.length === 0 ? `, or no public key for "${m.prev_kid}"` : ''})`);
      }
    }
    const at: ManifestAt = { rec, m, digest: manifestDigest(payload).toString('base64'), where, file, carried };
    if (rec.leaves !== undefined) {
      const raw = Buffer.from(rec.leaves, 'base64');
      if (raw.length !== m.tree_size * HASH_SIZE || !rootOfConcat(raw, m.tree_size).equals(Buffer.from(m.root, 'base64'))) {
        this.stats.manifestFailures++;
        this.fail(`${where}: ${label}: the leaf list beside the manifest does not match its signed root (leaf list altered); items are checked against the root only`);
      } else at.leaves = splitLeaves(raw);
    }
    let stamped = '';
    if (rec.timestamp !== undefined) {
      try {
        const t = readToken(Buffer.from(rec.timestamp, 'base64'));
        if (t.algorithm !== OID_SHA256 || !t.digest.equals(Buffer.from(at.digest, 'base64'))) {
          this.stats.manifestFailures++;
          this.fail(`${where}: ${label}: the RFC 3161 timestamp's message imprint is not this manifest's digest (token moved or manifest altered)`);
        } else stamped = `, timestamped ${t.genTime.toISOString()}`;
      } catch (e) {
        this.stats.manifestFailures++;
        this.fail(`${where}: ${label}: the RFC 3161 timestamp token is unreadable (${(e as Error).message})`);
      }
    }
    this.manifests.push(at);
    this.pass(`${where} manifest ${label} kid=${m.kid}${m.prev_kid ? ` (hand-over from ${m.prev_kid})` : ''}, ${m.tree_size} item(s)${stamped}`);
  }

  /** A data file: items are grouped by their batch chain stamp; manifest log records are taken as manifests. */
  addData(f: InputFile): void {
    if (f.format === 'tempo') this.tempo = true;
    for (const e of f.errors) this.fail(`${e.where}: ${e.reason}`);
    for (const b of f.batches) {
      if (b.signal === 'metrics') continue;
      const signal = b.signal;
      b.resources.forEach((r, ri) => {
        const rs = r as ResourceSpans | ResourceLogs;
        const stamp = readStamp(rs.resource.attributes);
        const rpath = `${b.root}[${ri}]`;
        const scopes = signal === 'traces' ? (rs as ResourceSpans).scopeSpans : (rs as ResourceLogs).scopeLogs;
        this.leafEnc.beginResource(signal, rs.resource.attributes);
        scopes.forEach((sc, si) => {
          this.leafEnc.beginScope(sc.scope);
          const list: (Span | LogRecord)[] = signal === 'traces' ? (sc as ResourceSpans['scopeSpans'][number]).spans : (sc as ResourceLogs['scopeLogs'][number]).logRecords;
          const spath = `${rpath}.${signal === 'traces' ? 'scopeSpans' : 'scopeLogs'}[${si}].${signal === 'traces' ? 'spans' : 'logRecords'}`;
          list.forEach((item, ii) => {
            const where = `${b.where} ${spath}[${ii}] ${describe(signal, item)}`;
            if (signal === 'logs' && (item as LogRecord).eventName === MANIFEST_EVENT) {
              const body = (item as LogRecord).body;
              const rec = body.type === 'string' ? parseRecord(body.value) : 'body is not a string';
              if (typeof rec === 'string') {
                this.stats.manifestFailures++;
                this.fail(`${where}: manifest log record unreadable: ${rec}`);
              } else this.addManifestRecord(rec, where, f.path, true);
              return;
            }
            this.stats.items++;
            if (typeof stamp !== 'object') {
              this.stats.itemFailures++;
              this.fail(`${where}: not covered by evidence (${stamp ? `malformed chain attributes: ${stamp}` : 'no sieve.chain stamp on its resource'})`);
              return;
            }
            const leaf = findSig(item.attributes).sig !== undefined ? this.leafEnc.leaf(signal, item) : undefined;
            if (!leaf) {
              this.stats.itemFailures++;
              this.fail(`${where}: not covered by evidence (not signed)`);
              return;
            }
            const key = `${stamp.stream}\u0000${stamp.seq}`;
            let g = this.groups.get(key);
            if (!g) this.groups.set(key, (g = { items: [] }));
            g.items.push({ leaf, where, signal, rs, scopeIndex: si, item });
          });
        });
        if (typeof stamp === 'object' && stamp.void) {
          let v = this.voided.get(stamp.stream);
          if (!v) this.voided.set(stamp.stream, (v = new SeqRanges()));
          try {
            v.addAll(SeqRanges.parse(stamp.void));
          } catch {
            // reported by the HMAC verifier
          }
        }
      });
    }
  }

  /** Authentic manifests by stream and seq (the first one of a seq). */
  private index(): Map<string, Map<number, ManifestAt>> {
    const out = new Map<string, Map<number, ManifestAt>>();
    for (const at of this.manifests) {
      let s = out.get(at.m.stream);
      if (!s) out.set(at.m.stream, (s = new Map()));
      if (!s.has(at.m.seq)) s.set(at.m.seq, at);
    }
    return out;
  }

  finish(): EvidenceReport {
    const partial = this.opts.partial ?? this.tempo;
    const byStream = this.index();
    this.checkChains(byStream);
    // Items against manifests.
    const seen = new Set<string>();
    for (const [stream, bySeq] of byStream) {
      for (const [seq, at] of bySeq) {
        const key = `${stream}\u0000${seq}`;
        seen.add(key);
        this.checkBatch(at, this.groups.get(key)?.items ?? [], partial);
      }
    }
    for (const [key, g] of this.groups) {
      if (seen.has(key)) continue;
      const [stream, seq] = key.split('\u0000');
      for (const it of g.items) {
        this.stats.itemFailures++;
        this.fail(`${it.where}: no manifest for stream ${stream} seq ${seq} (manifest removed, or its file not given with --manifests)`);
      }
    }
    const s = this.stats;
    this.lines.push('', 'summary');
    this.lines.push(`  manifests:     ${s.manifests} read, ${s.manifestFailures} not authentic or unreadable, ${s.chainFailures} chain problem(s)`);
    this.lines.push(`  items:         ${s.items} checked, ${s.itemsOk} in their manifest, ${s.itemFailures} problem(s)${partial ? ' (partial input: completeness not checked)' : ''}`);
    if (s.items === 0 && s.manifests === 0) {
      this.ok = false;
      this.lines.push('  nothing to verify: no items and no manifests found');
    }
    this.lines.push(`  result:        ${this.ok ? 'VERIFIED' : 'FAILED'}`);
    return { lines: this.lines, ok: this.ok };
  }

  private chainFail(t: string): void {
    this.stats.chainFailures++;
    this.fail(t);
  }

  private checkChains(byStream: Map<string, Map<number, ManifestAt>>): void {
    // Order within each manifest file (not among log records carried through
    // a pipeline), and forks (two authentic manifests with one seq).
    const firstBySeq = new Map<string, ManifestAt>();
    const lastInFile = new Map<string, ManifestAt>();
    for (const at of this.manifests) {
      if (!at.carried) {
        const fk = `${at.file}\u0000${at.m.stream}`;
        const before = lastInFile.get(fk);
        if (before && at.m.seq <= before.m.seq && at.digest !== before.digest) {
          this.chainFail(`${at.where}: manifest stream ${at.m.stream} seq ${at.m.seq} comes after seq ${before.m.seq} at ${before.where}: manifests reordered`);
        }
        lastInFile.set(fk, at);
      }
      const k = `${at.m.stream}\u0000${at.m.seq}`;
      const first = firstBySeq.get(k);
      if (!first) firstBySeq.set(k, at);
      else if (first.digest !== at.digest) {
        this.chainFail(`${at.where}: manifest stream ${at.m.stream} seq ${at.m.seq} differs from the one at ${first.where}: the manifest chain forked (two signed manifests for one batch)`);
      }
    }
    for (const [stream, bySeq] of byStream) {
      const seqs = [...bySeq.keys()].sort((a, b) => a - b);
      const first = bySeq.get(seqs[0]!)!;
      if (first.m.seq > 1 && first.m.prev !== '') this.note(`manifest stream ${stream} starts at seq ${first.m.seq} (${first.where}): earlier manifests are not in the input`);
      if (first.m.seq === 1 && first.m.prev !== '') this.chainFail(`${first.where}: manifest stream ${stream} seq 1 has a previous digest (not the start of a stream)`);
      for (let i = 1; i < seqs.length; i++) {
        const a = bySeq.get(seqs[i - 1]!)!;
        const b = bySeq.get(seqs[i]!)!;
        if (b.m.seq !== a.m.seq + 1) {
          if (b.m.prev === '') {
            this.note(`manifest stream ${stream}: seq ${a.m.seq + 1}-${b.m.seq - 1} have no manifest; seq ${b.m.seq} (${b.where}) restarts the manifest chain (evidence enabled or its state reset)`);
          } else {
            this.chainFail(`manifest stream ${stream}: seq ${a.m.seq + 1}${b.m.seq - 1 > a.m.seq + 1 ? `-${b.m.seq - 1}` : ''} missing between ${a.where} (seq ${a.m.seq}) and ${b.where} (seq ${b.m.seq}): manifests removed`);
          }
          continue;
        }
        if (b.m.prev !== a.digest) this.chainFail(`${b.where}: manifest stream ${stream} seq ${b.m.seq} does not follow seq ${a.m.seq} at ${a.where} (previous digest differs: manifest replaced or the chain forked)`);
        if (b.m.kid !== a.m.kid && b.m.prev_kid !== a.m.kid) {
          this.chainFail(`${b.where}: manifest stream ${stream} seq ${b.m.seq}: key changes from "${a.m.kid}" to "${b.m.kid}" without a hand-over signed by "${a.m.kid}"`);
        }
      }
    }
  }

  private itemFail(t: string): void {
    this.stats.itemFailures++;
    this.fail(t);
  }

  private checkBatch(at: ManifestAt, items: ItemAt[], partial: boolean): void {
    const m = at.m;
    const label = `stream ${m.stream} seq ${m.seq} (manifest ${at.where})`;
    if (items.length === 0) {
      if (partial || m.tree_size === 0) return;
      if (this.voided.get(m.stream)?.has(m.seq)) {
        this.note(`${label}: batch not delivered (announced void by a later chain link): its ${m.tree_size} item(s) are absent`);
        return;
      }
      this.itemFail(`${label}: all ${m.tree_size} item(s) missing (batch removed)`);
      return;
    }
    if (!at.leaves) {
      if (partial) {
        this.note(`${label}: no leaf list beside the manifest; ${items.length} item(s) of a partial input cannot be checked one by one (give the file sink's manifests)`);
        return;
      }
      const root = rootOfConcat(Buffer.concat(items.map((i) => i.leaf)), items.length);
      if (root.equals(Buffer.from(m.root, 'base64'))) {
        this.stats.itemsOk += items.length;
        for (const it of items) this.pass(`${it.where} in ${label}`);
      } else {
        this.stats.itemFailures += items.length;
        this.fail(`${label}: the ${items.length} item(s) starting at ${items[0]!.where} do not match the manifest root (${m.tree_size} signed): items altered, removed, inserted or reordered`);
      }
      return;
    }
    // With the leaf list: match each item to its leaf, in order.
    const leaves = at.leaves;
    const free = new Map<string, number[]>();
    leaves.forEach((l, i) => {
      const k = l.toString('latin1');
      const list = free.get(k);
      if (list) list.push(i);
      else free.set(k, [i]);
    });
    const unmatched: ItemAt[] = [];
    let maxIdx = -1;
    let maxAt: ItemAt | undefined;
    const taken = new Set<number>();
    for (const it of items) {
      const list = free.get(it.leaf.toString('latin1'));
      const idx = list?.shift();
      if (idx === undefined) {
        unmatched.push(it);
        continue;
      }
      taken.add(idx);
      if (!partial && idx < maxIdx) {
        this.itemFail(`${it.where}: item #${idx} of ${label} comes after item #${maxIdx} at ${maxAt!.where}: items reordered`);
        continue;
      }
      if (idx > maxIdx) {
        maxIdx = idx;
        maxAt = it;
      }
      this.stats.itemsOk++;
      this.pass(`${it.where} is item #${idx} of ${label}`);
    }
    const missing = partial ? [] : leaves.map((_, i) => i).filter((i) => !taken.has(i));
    const known = new Set(free.keys());
    for (const it of unmatched) {
      if (known.has(it.leaf.toString('latin1')) && !missing.some((i) => leaves[i]!.equals(it.leaf))) {
        // The same content again, every copy of it already matched: a redelivery (at-least-once), not new data.
        this.note(`${it.where}: duplicate of an item of ${label} already matched (redelivered)`);
        continue;
      }
      const idx = missing.shift();
      if (idx !== undefined) this.itemFail(`${it.where}: altered: does not match item #${idx} of ${label} (content changed after signing)`);
      else this.itemFail(`${it.where}: extra: not an item of ${label} (inserted${partial ? ' or altered' : ''})`);
    }
    for (const idx of missing) this.itemFail(`${label}: item #${idx} missing (removed)`);
  }

  /** The inclusion proof of the items matching `pick`; undefined when none is found. */
  proof(pick: (it: ItemAt) => boolean): { proof?: Record<string, unknown>; reason?: string } {
    const byStream = this.index();
    for (const [key, g] of this.groups) {
      const it = g.items.find(pick);
      if (!it) continue;
      const [stream, seqText] = key.split('\u0000') as [string, string];
      const at = byStream.get(stream)?.get(Number(seqText));
      if (!at) return { reason: `${it.where}: no authentic manifest for stream ${stream} seq ${seqText}` };
      let leaves = at.leaves;
      if (!leaves) {
        const root = rootOfConcat(Buffer.concat(g.items.map((i) => i.leaf)), g.items.length);
        if (!root.equals(Buffer.from(at.m.root, 'base64'))) return { reason: `${it.where}: its batch does not match the manifest root and no leaf list is given` };
        leaves = g.items.map((i) => i.leaf);
      }
      const index = leaves.findIndex((l) => l.equals(it.leaf));
      if (index < 0) return { reason: `${it.where}: not an item of stream ${stream} seq ${seqText} (altered or inserted)` };
      return {
        proof: {
          type: PROOF_TYPE,
          stream,
          seq: at.m.seq,
          index,
          tree_size: at.m.tree_size,
          leaf: it.leaf.toString('base64'),
          path: inclusionProof(leaves, index).map((p) => p.toString('base64')),
          envelope: at.rec.envelope,
          item: JSON.parse(itemJson(it)),
        },
      };
    }
    return { reason: 'no such item in the data (never sent, or not in the files given)' };
  }
}

/** One item in its resource and scope, as an OTLP/JSON export request. */
function itemJson(it: ItemAt): string {
  if (it.signal === 'traces') {
    const rs = it.rs as ResourceSpans;
    const sc = rs.scopeSpans[it.scopeIndex]!;
    return tracesCodec.encodeJson([{ ...rs, scopeSpans: [{ ...sc, spans: [it.item as Span] }] }]);
  }
  const rl = it.rs as ResourceLogs;
  const sc = rl.scopeLogs[it.scopeIndex]!;
  return logsCodec.encodeJson([{ ...rl, scopeLogs: [{ ...sc, logRecords: [it.item as LogRecord] }] }]);
}

function describe(signal: Signal, item: Span | LogRecord): string {
  if (signal === 'traces') {
    const sp = item as Span;
    return `span ${toHex(sp.traceId)}/${toHex(sp.spanId)} ${JSON.stringify(sp.name.length > 60 ? sp.name.slice(0, 57) + '...' : sp.name)}`;
  }
  const lr = item as LogRecord;
  return `log ${lr.timeUnixNano || lr.observedTimeUnixNano}${lr.traceId.length ? ` trace ${toHex(lr.traceId)}` : ''}`;
}

/** Checks a proof document with public keys only. */
export function checkProof(doc: unknown, keys: PubKeys): { ok: boolean; text: string } {
  const p = doc as Record<string, unknown>;
  if (typeof p !== 'object' || p === null || p.type !== PROOF_TYPE) return { ok: false, text: `not a ${PROOF_TYPE} document` };
  const err = envelopeError(p.envelope);
  if (err) return { ok: false, text: err };
  const env = p.envelope as DsseEnvelope;
  if (env.payloadType !== PAYLOAD_TYPE) return { ok: false, text: `payloadType is not ${PAYLOAD_TYPE}` };
  const m = decodeManifest(Buffer.from(env.payload, 'base64'));
  if (typeof m === 'string') return { ok: false, text: m };
  const sig = env.signatures.find((s) => s.keyid === m.kid);
  const cands = keys.byKid.get(m.kid) ? [keys.byKid.get(m.kid)!, ...keys.any] : keys.any;
  if (!sig || cands.length === 0) return { ok: false, text: `manifest stream ${m.stream} seq ${m.seq}: signed by unknown key "${m.kid}"` };
  if (!cands.some((k) => verifySignature(env, sig, k))) return { ok: false, text: `manifest stream ${m.stream} seq ${m.seq}: signature by "${m.kid}" does not verify` };
  // The leaf is recomputed from the item, never taken from the proof.
  let leaf: Buffer | undefined;
  try {
    const item = p.item as Record<string, unknown>;
    const signal: Signal = 'resourceSpans' in item ? 'traces' : 'logs';
    const res = (signal === 'traces' ? tracesCodec.decodeJson(JSON.stringify(item)) : logsCodec.decodeJson(JSON.stringify(item))) as (ResourceSpans | ResourceLogs)[];
    const enc = new LeafEncoder();
    const rs = res[0]!;
    enc.beginResource(signal, rs.resource.attributes);
    const sc = signal === 'traces' ? (rs as ResourceSpans).scopeSpans[0]! : (rs as ResourceLogs).scopeLogs[0]!;
    enc.beginScope(sc.scope);
    const one = signal === 'traces' ? (sc as ResourceSpans['scopeSpans'][number]).spans[0] : (sc as ResourceLogs['scopeLogs'][number]).logRecords[0];
    if (!one) throw new Error('no item');
    leaf = enc.leaf(signal, one);
  } catch (e) {
    return { ok: false, text: `the proof's item is not one OTLP/JSON span or log record in its resource and scope (${(e as Error).message})` };
  }
  if (!leaf) return { ok: false, text: 'the item breaks a canonical form cap: it cannot be part of a manifest' };
  const path = Array.isArray(p.path) ? p.path.map((x) => Buffer.from(String(x), 'base64')) : [];
  const ok = verifyInclusion(leaf, Number(p.index), m.tree_size, path, Buffer.from(m.root, 'base64'));
  return ok
    ? { ok: true, text: `item is #${String(p.index)} of ${m.tree_size} in manifest stream ${m.stream} seq ${m.seq} (kid ${m.kid}, root ${m.root})` }
    : { ok: false, text: `the item is not included in manifest stream ${m.stream} seq ${m.seq}: its path does not lead to the signed root (item altered or never part of the batch)` };
}

function expand(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch {
      out.push(p);
      continue;
    }
    if (!st.isDirectory()) {
      out.push(p);
      continue;
    }
    for (const name of readdirSync(p).sort()) {
      if (name.startsWith('.') || name.endsWith('.tmp')) continue;
      const f = join(p, name);
      if (statSync(f).isFile()) out.push(f);
    }
  }
  return out;
}

/** `sieve verify` with --pubkey / --proof / --check-proof. */
export async function runEvidenceVerify(args: readonly string[]): Promise<{ exitCode: number; output: string }> {
  const keys: PubKeys = { byKid: new Map(), any: [] };
  const manifests: string[] = [];
  const inputs: string[] = [];
  let partial: boolean | undefined;
  let quiet = false;
  let proof = false;
  let checkFile: string | undefined;
  let traceId: string | undefined;
  let spanId: string | undefined;
  let logTime: string | undefined;
  let signal: Signal | undefined;
  try {
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      const eq = a.startsWith('--') ? a.indexOf('=') : -1;
      const flag = eq > 0 ? a.slice(0, eq) : a;
      const value = (): string => {
        if (eq > 0) return a.slice(eq + 1);
        const v = args[++i];
        if (v === undefined) throw new UsageError(`${a} needs a value`);
        return v;
      };
      switch (flag) {
        case '--pubkey': {
          const spec = value();
          const m = /^([A-Za-z0-9][A-Za-z0-9._:-]{0,63})=(.+)$/.exec(spec);
          if (m && KEY_ID_RE.test(m[1]!)) {
            if (keys.byKid.has(m[1]!)) throw new UsageError(`key id "${m[1]}" is given twice`);
            keys.byKid.set(m[1]!, loadPublicKeyFile(m[2]!));
          } else keys.any.push(loadPublicKeyFile(spec));
          break;
        }
        case '--manifests':
          manifests.push(value());
          break;
        case '--partial':
          partial = true;
          break;
        case '--proof':
          proof = true;
          break;
        case '--check-proof':
          checkFile = value();
          break;
        case '--trace-id':
          traceId = value().toLowerCase();
          break;
        case '--span-id':
          spanId = value().toLowerCase();
          break;
        case '--log-time':
          logTime = value();
          break;
        case '--signal': {
          const s = value();
          if (s !== 'traces' && s !== 'logs') throw new UsageError(`--signal must be traces or logs, got "${s}"`);
          signal = s;
          break;
        }
        case '-q':
        case '--quiet':
          quiet = true;
          break;
        default:
          if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`);
          inputs.push(a);
      }
    }
    if (keys.byKid.size === 0 && keys.any.length === 0) throw new UsageError('no public keys: give --pubkey');
    if (checkFile === undefined && inputs.length === 0 && manifests.length === 0) throw new UsageError('no input files');
    if (proof && !((traceId && spanId) || logTime)) throw new UsageError('--proof needs --trace-id and --span-id, or --log-time');
  } catch (e) {
    if (e instanceof UsageError || e instanceof KeyError) return { exitCode: 2, output: `sieve verify: ${e.message}\n\n${EVIDENCE_USAGE}\n` };
    throw e;
  }

  if (checkFile !== undefined) {
    let doc: unknown;
    try {
      doc = parseJson(readFileSync(checkFile, 'utf8'));
    } catch (e) {
      return { exitCode: 1, output: `FAIL  ${checkFile}: cannot read the proof (${(e as Error).message})\n` };
    }
    const r = checkProof(doc, keys);
    return { exitCode: r.ok ? 0 : 1, output: `${r.ok ? 'OK  ' : 'FAIL'}  ${checkFile}: ${r.text}\n` };
  }

  const v = new EvidenceVerifier(keys, { ...(partial !== undefined ? { partial } : {}), quiet });
  for (const f of expand(manifests)) v.addManifestFile(f);
  for (const f of expand(inputs)) v.addData(readInput(f, { signal }));
  if (proof) {
    const pick = (it: ItemAt) =>
      logTime !== undefined
        ? it.signal === 'logs' && String((it.item as LogRecord).timeUnixNano) === logTime
        : it.signal === 'traces' && toHex((it.item as Span).traceId) === traceId && toHex((it.item as Span).spanId) === spanId;
    const r = v.proof(pick);
    if (!r.proof) return { exitCode: 1, output: `FAIL  ${r.reason}\n` };
    return { exitCode: 0, output: JSON.stringify(r.proof, null, 2) + '\n' };
  }
  const report = v.finish();
  return { exitCode: report.ok ? 0 : 1, output: report.lines.join('\n') + '\n' };
}
