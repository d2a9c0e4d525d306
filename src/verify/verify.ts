// The checks of `sieve verify`: record signatures, batch chains carried in
// resource attributes, and line chains of tamper-evident files. Results are
// reported per item and per chain problem, with the position of each failure.
import { timingSafeEqual } from 'node:crypto';
import type { ResourceLogs, ResourceSpans } from '../pdata/model.js';
import { toHex } from '../pdata/json/index.js';
import {
  ATTR,
  MAC_BATCH,
  MAC_LINE,
  SeqRanges,
  batchDigest,
  lineDigest,
  linkMac,
  readStamp,
  type BatchStamp,
  type ChainStateData,
  type LineLink,
} from '../processors/signing/chain.js';
import { candidateSecrets, type Keyring } from '../processors/signing/keys.js';
import { HmacKey, algorithmForMacSize, type Algorithm } from '../processors/signing/mac.js';
import { ItemVerifier, type CheckCode } from '../processors/signing/sign.js';
import type { Batch, InputFile } from './readers.js';

export interface VerifyOptions {
  ring: Keyring;
  /** Check batch chain completeness (sequence, every record present). Off for partial inputs such as one Tempo trace. */
  chainComplete: boolean;
  /** A chain must start at sequence number 1. */
  fromGenesis: boolean;
  /** Chain heads from state files, by stream. */
  heads: Map<string, ChainStateData & { file: string }>;
  /** Print only failures and the summary. */
  quiet: boolean;
}

export interface Report {
  lines: string[];
  items: { total: number; ok: number; failed: number; byCode: Map<string, number> };
  batchChain: { streams: number; links: number; failures: number };
  lineChain: { streams: number; lines: number; failures: number };
  /** Per chain stream (one per instance, worker and pipeline): links seen and problems found. */
  streams: { stream: string; kind: 'batch' | 'line'; links: number; problems: number }[];
  inputFailures: number;
  notes: number;
  ok: boolean;
}

interface LinkAt {
  stamp: BatchStamp;
  where: string[];
  macs: Set<string>;
  records: number;
}

interface LineAt {
  link: LineLink;
  where: string;
  file: string;
  /** Order of the line in its file. */
  index: number;
  authentic: boolean;
}

function b64eq(a: string, b: Buffer): boolean {
  const x = Buffer.from(a, 'base64');
  return x.length === b.length && timingSafeEqual(x, b);
}

export class Verifier {
  private readonly items: ItemVerifier;
  private readonly report: Report = {
    lines: [],
    items: { total: 0, ok: 0, failed: 0, byCode: new Map() },
    batchChain: { streams: 0, links: 0, failures: 0 },
    lineChain: { streams: 0, lines: 0, failures: 0 },
    streams: [],
    inputFailures: 0,
    notes: 0,
    ok: true,
  };
  /** Batch chain links: stream → seq → link. */
  private readonly stamps = new Map<string, Map<number, LinkAt>>();
  /** Line chain links by stream, in input order. */
  private readonly lineLinks = new Map<string, LineAt[]>();
  private readonly hmacs = new Map<Buffer, Partial<Record<Algorithm, HmacKey>>>();

  constructor(private readonly opts: VerifyOptions) {
    this.items = new ItemVerifier(opts.ring);
  }

  private ok(text: string): void {
    if (!this.opts.quiet) this.report.lines.push(`OK    ${text}`);
  }
  private fail(text: string): void {
    this.report.ok = false;
    this.report.lines.push(`FAIL  ${text}`);
  }
  private note(text: string): void {
    this.report.notes++;
    this.report.lines.push(`NOTE  ${text}`);
  }

  private keyFor(kid: string, alg: Algorithm): HmacKey[] {
    return candidateSecrets(this.opts.ring, kid).map((secret) => {
      let m = this.hmacs.get(secret);
      if (!m) this.hmacs.set(secret, (m = {}));
      return (m[alg] ??= new HmacKey(alg, secret));
    });
  }

  /** Checks every batch of one input file. */
  addFile(f: InputFile): void {
    for (const e of f.errors) {
      this.report.inputFailures++;
      this.fail(`${e.where}: ${e.reason}`);
    }
    for (const b of f.batches) this.addBatch(b, f.path);
    if (f.unchained.length > 0 && f.batches.some((b) => b.line)) {
      for (const w of f.unchained) {
        this.report.lineChain.failures++;
        this.fail(`${w}: line has no sieve.chain link in a chained file (inserted line?)`);
      }
    }
  }

  private addBatch(b: Batch, file: string): void {
    let lineAuthentic = false;
    if (b.line) lineAuthentic = this.addLine(b, file);
    const type = b.signal === 'traces' ? 'span' : b.signal === 'logs' ? 'log' : undefined;
    b.resources.forEach((r, ri) => {
      const stamp = readStamp(r.resource.attributes);
      const rpath = `${b.root}[${ri}]`;
      if (typeof stamp === 'string') {
        this.report.batchChain.failures++;
        this.fail(`${b.where} ${rpath}: malformed chain attributes: ${stamp}`);
      }
      const link = typeof stamp === 'object' ? this.linkAt(stamp, `${b.where} ${rpath}`) : undefined;
      if (!type) {
        // Metrics are not signed; a line chain still covers them.
        const n = (r as { scopeMetrics?: { metrics: unknown[] }[] }).scopeMetrics?.reduce((a, s) => a + s.metrics.length, 0) ?? 0;
        this.report.items.total += n;
        if (lineAuthentic) {
          this.report.items.ok += n;
          if (n) this.ok(`${b.where} ${rpath}: ${n} metric(s) covered by the line chain`);
        } else if (n) {
          this.report.items.failed += n;
          this.count('unsigned', n);
          this.fail(`${b.where} ${rpath}: ${n} metric(s) not covered by any signature (metrics are not signed; no line chain)`);
        }
        return;
      }
      this.items.beginResource(type, r.resource.attributes);
      const scopes = type === 'span' ? (r as ResourceSpans).scopeSpans : (r as ResourceLogs).scopeLogs;
      scopes.forEach((sc, si) => {
        this.items.beginScope(sc.scope);
        const list = type === 'span' ? (sc as ResourceSpans['scopeSpans'][number]).spans : (sc as ResourceLogs['scopeLogs'][number]).logRecords;
        const spath = `${rpath}.${type === 'span' ? 'scopeSpans' : 'scopeLogs'}[${si}].${type === 'span' ? 'spans' : 'logRecords'}`;
        list.forEach((item, ii) => {
          const res = type === 'span' ? this.items.checkSpan(item as ResourceSpans['scopeSpans'][number]['spans'][number]) : this.items.checkLog(item as ResourceLogs['scopeLogs'][number]['logRecords'][number]);
          const what = type === 'span' ? describeSpan(item as ResourceSpans['scopeSpans'][number]['spans'][number]) : describeLog(item as ResourceLogs['scopeLogs'][number]['logRecords'][number]);
          const pos = `${b.where} ${spath}[${ii}] ${what}`;
          this.report.items.total++;
          if (link && res.mac) {
            link.macs.add(res.mac.toString('base64'));
            link.records++;
          }
          if (res.ok) {
            this.report.items.ok++;
            this.ok(`${pos} kid=${res.kid}`);
          } else if (res.code === 'unsigned' && lineAuthentic) {
            this.report.items.ok++;
            this.ok(`${pos} not signed; covered by the line chain`);
          } else {
            this.report.items.failed++;
            this.count(res.code);
            this.fail(`${pos}: ${res.reason}`);
          }
        });
      });
    });
  }

  private count(code: CheckCode, n = 1): void {
    const m = this.report.items.byCode;
    m.set(code, (m.get(code) ?? 0) + n);
  }

  private linkAt(stamp: BatchStamp, where: string): LinkAt {
    let byseq = this.stamps.get(stamp.stream);
    if (!byseq) this.stamps.set(stamp.stream, (byseq = new Map()));
    const have = byseq.get(stamp.seq);
    if (have) {
      const a = have.stamp;
      if (a.prev !== stamp.prev || a.digest !== stamp.digest || a.count !== stamp.count || a.void !== stamp.void || a.mac !== stamp.mac || a.kid !== stamp.kid) {
        this.report.batchChain.failures++;
        this.fail(`${where}: chain stream ${stamp.stream} seq ${stamp.seq} differs from the link of the same seq at ${have.where[0]} (forged, altered or replayed link)`);
        // Keep the records apart from the first link's.
        return { stamp, where: [where], macs: new Set(), records: 0 };
      }
      have.where.push(where);
      return have;
    }
    const l: LinkAt = { stamp, where: [where], macs: new Set(), records: 0 };
    byseq.set(stamp.seq, l);
    return l;
  }

  /** Checks a line's own link (digest over its payload, MAC). Returns whether it is authentic. */
  private addLine(b: Batch, file: string): boolean {
    const l = b.line!.link as Partial<LineLink> | undefined;
    this.report.lineChain.lines++;
    if (!l || typeof l !== 'object' || typeof l.stream !== 'string' || !Number.isSafeInteger(l.seq) || typeof l.prev !== 'string' || typeof l.digest !== 'string' || typeof l.mac !== 'string' || typeof l.kid !== 'string') {
      this.report.lineChain.failures++;
      this.fail(`${b.where}: malformed sieve.chain link`);
      return false;
    }
    const link = l as LineLink;
    const at: LineAt = { link, where: b.where, file, index: this.report.lineChain.lines, authentic: false };
    let list = this.lineLinks.get(link.stream);
    if (!list) this.lineLinks.set(link.stream, (list = []));
    list.push(at);
    const mac = Buffer.from(link.mac, 'base64');
    const alg = algorithmForMacSize(mac.length);
    if (!alg) {
      this.report.lineChain.failures++;
      this.fail(`${b.where}: sieve.chain mac is not an HMAC-SHA256 or HMAC-SHA512 value`);
      return false;
    }
    const digest = lineDigest(alg, link.stream, link.seq, Buffer.from(link.prev, 'base64'), b.line!.payload);
    const keys = this.keyFor(link.kid, alg);
    if (keys.length === 0) {
      this.report.lineChain.failures++;
      this.fail(`${b.where}: line chain seq ${link.seq}: no key for key id "${link.kid}"`);
      return false;
    }
    if (!b64eq(link.digest, digest)) {
      this.report.lineChain.failures++;
      this.fail(`${b.where}: line chain stream ${link.stream} seq ${link.seq}: line content differs from its digest (line altered)`);
      return false;
    }
    if (!keys.some((k) => b64eq(link.mac, linkMac(k, MAC_LINE, digest)))) {
      this.report.lineChain.failures++;
      this.fail(`${b.where}: line chain stream ${link.stream} seq ${link.seq}: link MAC does not verify under key "${link.kid}" (forged link or wrong key)`);
      return false;
    }
    at.authentic = true;
    return true;
  }

  /** Chain checks over everything added, then the summary. */
  finish(): Report {
    this.finishBatchChains();
    this.finishLineChains();
    this.summary();
    return this.report;
  }

  private chainFail(kind: 'batch' | 'line', text: string): void {
    if (kind === 'batch') this.report.batchChain.failures++;
    else this.report.lineChain.failures++;
    this.fail(text);
  }

  private finishBatchChains(): void {
    const r = this.report.batchChain;
    for (const [stream, byseq] of this.stamps) {
      const before = r.failures;
      this.finishBatchStream(stream, byseq);
      this.report.streams.push({ stream, kind: 'batch', links: byseq.size, problems: r.failures - before });
    }
  }

  private finishBatchStream(stream: string, byseq: Map<number, LinkAt>): void {
    const r = this.report.batchChain;
    {
      r.streams++;
      r.links += byseq.size;
      const seqs = [...byseq.keys()].sort((a, b) => a - b);
      const voided = new SeqRanges();
      for (const seq of seqs) {
        const l = byseq.get(seq)!;
        const st = l.stamp;
        const mac = Buffer.from(st.mac, 'base64');
        const alg = algorithmForMacSize(mac.length);
        const where = l.where[0]!;
        if (!alg) {
          this.chainFail('batch', `${where}: chain stream ${stream} seq ${seq}: ${ATTR.mac} is not an HMAC value`);
          continue;
        }
        const keys = this.keyFor(st.kid, alg);
        if (keys.length === 0) {
          this.chainFail('batch', `${where}: chain stream ${stream} seq ${seq}: no key for key id "${st.kid}"`);
          continue;
        }
        const claimed = Buffer.from(st.digest, 'base64');
        if (!keys.some((k) => b64eq(st.mac, linkMac(k, MAC_BATCH, claimed)))) {
          this.chainFail('batch', `${where}: chain stream ${stream} seq ${seq}: link MAC does not verify under key "${st.kid}" (forged or altered link)`);
          continue;
        }
        try {
          voided.addAll(SeqRanges.parse(st.void));
        } catch {
          this.chainFail('batch', `${where}: chain stream ${stream} seq ${seq}: malformed ${ATTR.void}`);
        }
        if (!this.opts.chainComplete) continue;
        const macs = [...l.macs].map((m) => Buffer.from(m, 'base64'));
        const got = batchDigest(alg, stream, seq, Buffer.from(st.prev, 'base64'), st.void, macs);
        if (!got.equals(claimed)) {
          const have = l.macs.size;
          const why =
            have < st.count
              ? `${st.count - have} of ${st.count} records missing (deleted, or their sieve.sig altered)`
              : have > st.count
                ? `${have - st.count} record(s) more than the ${st.count} signed (inserted)`
                : `records replaced or their sieve.sig altered (${have} of ${st.count} present)`;
          this.chainFail('batch', `${where}: chain stream ${stream} seq ${seq}: batch content does not match its digest: ${why}`);
        }
      }
      if (!this.opts.chainComplete) return;
      this.checkSequence('batch', stream, seqs, (s) => byseq.get(s)!.where[0]!, (s) => byseq.get(s)!.stamp, voided);
    }
  }

  /** Start, gaps, prev links and the head of one stream. */
  private checkSequence(kind: 'batch' | 'line', stream: string, seqs: number[], whereOf: (s: number) => string, linkOf: (s: number) => { prev: string; digest: string }, voided: SeqRanges): void {
    const label = kind === 'batch' ? 'chain' : 'line chain';
    if (seqs.length === 0) return;
    const first = seqs[0]!;
    if (first > 1) {
      const msg = `${label} stream ${stream} starts at seq ${first} (${whereOf(first)}): links 1-${first - 1} are not in the input`;
      if (this.opts.fromGenesis) this.chainFail(kind, `${msg} (removed?)`);
      else this.note(`${msg} (older files rotated away, or removed; --from-genesis makes this a failure)`);
    } else if (linkOf(first).prev !== '') {
      this.chainFail(kind, `${whereOf(first)}: ${label} stream ${stream} seq 1 has a previous digest (not the start of a chain)`);
    }
    for (let i = 1; i < seqs.length; i++) {
      const a = seqs[i - 1]!;
      const b = seqs[i]!;
      if (b === a + 1) {
        if (linkOf(b).prev !== linkOf(a).digest) {
          this.chainFail(kind, `${whereOf(b)}: ${label} stream ${stream} seq ${b} does not follow seq ${a} at ${whereOf(a)} (previous digest differs: links replaced or the chain forked)`);
        }
        continue;
      }
      const missing: number[] = [];
      const notDelivered: number[] = [];
      for (let s = a + 1; s < b; s++) (voided.has(s) ? notDelivered : missing).push(s);
      if (notDelivered.length) this.note(`${label} stream ${stream}: seq ${ranges(notDelivered)} not delivered (announced void by a later link: refused downstream or in flight at a restart)`);
      if (missing.length) {
        this.chainFail(kind, `${label} stream ${stream}: seq ${ranges(missing)} missing between ${whereOf(a)} (seq ${a}) and ${whereOf(b)} (seq ${b}): ${kind === 'batch' ? 'batches' : 'lines'} deleted`);
      }
    }
    const last = seqs[seqs.length - 1]!;
    const head = this.opts.heads.get(stream);
    if (head) {
      if (head.seq > last) {
        this.chainFail(kind, `${label} stream ${stream} ends at seq ${last} (${whereOf(last)}) but ${head.file} records seq ${head.seq}: ${head.seq - last} ${kind === 'batch' ? 'batch(es)' : 'line(s)'} truncated after ${whereOf(last)}`);
      } else if (head.seq === last && head.digest !== linkOf(last).digest) {
        this.chainFail(kind, `${whereOf(last)}: ${label} stream ${stream} seq ${last} differs from the head recorded in ${head.file}`);
      } else if (head.seq < last) {
        this.note(`${label} stream ${stream}: the input goes past the head in ${head.file} (seq ${head.seq} < ${last}); the state file is older than the data`);
      }
    } else if (kind === 'line' || this.opts.heads.size > 0) {
      this.note(`${label} stream ${stream} ends at seq ${last} (${whereOf(last)}); give the chain state file (--state) to detect lines cut off at the end`);
    }
  }

  private finishLineChains(): void {
    const r = this.report.lineChain;
    for (const [stream, list] of this.lineLinks) {
      const before = r.failures;
      this.finishLineStream(stream, list);
      this.report.streams.push({ stream, kind: 'line', links: list.length, problems: r.failures - before });
    }
  }

  private finishLineStream(stream: string, list: LineAt[]): void {
    const r = this.report.lineChain;
    {
      r.streams++;
      // Order within each file: every line must follow the one before it.
      const byFile = new Map<string, LineAt[]>();
      for (const at of list) {
        let l = byFile.get(at.file);
        if (!l) byFile.set(at.file, (l = []));
        l.push(at);
      }
      for (const lines of byFile.values()) {
        for (let i = 1; i < lines.length; i++) {
          const a = lines[i - 1]!;
          const b = lines[i]!;
          if (b.link.seq <= a.link.seq) {
            this.chainFail('line', `${b.where}: line chain stream ${stream} seq ${b.link.seq} comes after seq ${a.link.seq} at ${a.where}: lines reordered${b.link.seq === a.link.seq ? ' or duplicated' : ''}`);
          }
        }
      }
      // Across files: by sequence number.
      const bySeq = new Map<number, LineAt>();
      for (const at of list) {
        const have = bySeq.get(at.link.seq);
        if (have) {
          this.chainFail('line', `${at.where}: line chain stream ${stream} seq ${at.link.seq} appears again (first at ${have.where}): duplicated or inserted line`);
          continue;
        }
        bySeq.set(at.link.seq, at);
      }
      const seqs = [...bySeq.keys()].sort((a, b) => a - b);
      this.checkSequence('line', stream, seqs, (s) => bySeq.get(s)!.where, (s) => bySeq.get(s)!.link, new SeqRanges());
    }
  }

  private summary(): void {
    const r = this.report;
    const codes = [...r.items.byCode.entries()].map(([c, n]) => `${n} ${c}`).join(', ');
    r.lines.push('');
    r.lines.push('summary');
    r.lines.push(`  records:       ${r.items.total} checked, ${r.items.ok} verified, ${r.items.failed} not verified${codes ? ` (${codes})` : ''}`);
    if (r.batchChain.streams > 0) {
      r.lines.push(`  batch chains:  ${r.batchChain.streams} stream(s), ${r.batchChain.links} link(s), ${r.batchChain.failures} problem(s)${this.opts.chainComplete ? '' : ' (link MACs only: completeness not checked for a partial input)'}`);
    } else if (r.batchChain.failures > 0) {
      r.lines.push(`  batch chains:  ${r.batchChain.failures} problem(s)`);
    }
    if (r.lineChain.lines > 0) r.lines.push(`  line chains:   ${r.lineChain.streams} stream(s), ${r.lineChain.lines} line(s), ${r.lineChain.failures} problem(s)`);
    // Output gathered from many instances or workers: one line per stream.
    if (r.streams.length > 1) {
      for (const s of [...r.streams].sort((a, b) => a.stream.localeCompare(b.stream) || a.kind.localeCompare(b.kind))) {
        r.lines.push(`    ${s.kind} stream ${s.stream}: ${s.links} ${s.kind === 'batch' ? 'link' : 'line'}(s), ${s.problems === 0 ? 'ok' : `${s.problems} problem(s)`}`);
      }
    }
    if (r.inputFailures > 0) r.lines.push(`  inputs:        ${r.inputFailures} unreadable part(s)`);
    if (r.items.total === 0 && r.lineChain.lines === 0 && r.batchChain.streams === 0) {
      r.ok = false;
      r.lines.push('  nothing to verify: no records found');
    }
    r.lines.push(`  result:        ${r.ok ? 'VERIFIED' : 'FAILED'}`);
  }
}

function describeSpan(sp: ResourceSpans['scopeSpans'][number]['spans'][number]): string {
  return `span ${toHex(sp.traceId)}/${toHex(sp.spanId)} ${JSON.stringify(sp.name.length > 60 ? sp.name.slice(0, 57) + '...' : sp.name)}`;
}

function describeLog(lr: ResourceLogs['scopeLogs'][number]['logRecords'][number]): string {
  return `log ${lr.timeUnixNano || lr.observedTimeUnixNano}${lr.traceId.length ? ` trace ${toHex(lr.traceId)}` : ''}`;
}

function ranges(list: number[]): string {
  const r = new SeqRanges();
  for (const n of list) r.add(n);
  return r.toString();
}
