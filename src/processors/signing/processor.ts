// The signing processor: an HMAC per span and log record over the canonical
// form, stored as `sieve.sig` (base64) and `sieve.sig.kid`; with `chain: true`
// also a chain link on every resource of each batch.
import { join } from 'node:path';
import type { Consumer, ConsumeResult, CreateSettings, Host, ProcessorComponent } from '../../component/component.js';
import { unavailableError } from '../../component/errors.js';
import type { ResourceLogs, ResourceSpans, Signal } from '../../pdata/model.js';
import type { Telemetry } from '../../pdata/telemetry.js';
import { ChainStamper, sanitizeStream } from './chain.js';
import type { SigningConfig } from './config.js';
import { loadKeyring } from './keys.js';
import { Signer, type SignStats } from './sign.js';
import { WireSigner } from './wire.js';
import { ALG_INFO } from './mac.js';
import { RESERVED } from './canonical.js';
import { EvidenceRecorder } from './evidence/recorder.js';

/** Unsigned-item warnings are logged at most this often. */
const WARN_EVERY_MS = 60_000;

export class SigningProcessor implements ProcessorComponent {
  readonly mutatesData = true;
  private readonly signer: Signer;
  /** Signs batches that hold their request bytes without decoding them (not with chain: its links are stamped on the model). */
  private readonly wire: WireSigner | undefined;
  private chain: ChainStamper | undefined;
  private readonly evidence: EvidenceRecorder | undefined;
  private readonly statePath: string | undefined;
  private lastWarn = -Infinity;
  private started = false;
  private stopped = false;
  private readonly labels: { processor: string; signal: string };

  constructor(
    private readonly settings: CreateSettings,
    private readonly cfg: SigningConfig,
    private readonly signal: Signal,
    private readonly next: Consumer,
  ) {
    const ring = loadKeyring(cfg, { needSigningKey: true });
    const kid = ring.signingKeyId!;
    this.signer = new Signer(cfg.algorithm, ring.keys.get(kid)!, kid);
    this.labels = { processor: settings.id, signal };
    this.wire = cfg.chain || cfg.evidence ? undefined : new WireSigner(this.signer.key, kid, RESERVED - ALG_INFO[cfg.algorithm].block);
    if (cfg.chain) {
      const dir = cfg.state_directory ?? (settings.dataDir ? join(settings.dataDir, 'signing') : undefined);
      if (!dir) throw new Error('chain: true needs state_directory (or service.data_dir) so that the chain survives restarts');
      const name = sanitizeStream(`${settings.id}-${settings.pipelineId ?? signal}`).replace(/[/:@]/g, '_');
      this.statePath = join(dir, `chain-${name}.json`);
      if (cfg.evidence && (signal === 'traces' || signal === 'logs')) {
        const ev = (this.evidence = new EvidenceRecorder({ cfg: cfg.evidence, statePath: join(dir, `evidence-${name}.json`), logger: settings.logger, now: settings.now, fsync: cfg.state_fsync }));
        this.signer.onSigned = (c) => ev.addItem(signal, c);
      }
    }
  }

  async start(host: Host): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.evidence?.start(host);
    if (this.statePath && !this.chain) {
      this.chain = ChainStamper.open({
        path: this.statePath,
        stream: `${this.settings.instanceId}/${this.settings.pipelineId ?? this.signal}`,
        alg: this.cfg.algorithm,
        key: this.signer.key,
        kid: this.signer.kid,
        fsync: this.cfg.state_fsync,
        now: this.settings.now,
      });
      const h = this.chain.head();
      this.settings.logger.info('Signing chain opened', { 'sieve.chain.stream': h.stream, 'sieve.chain.seq': h.seq, 'sieve.chain.void': h.void });
    }
  }

  async consume(data: Telemetry): Promise<ConsumeResult> {
    if (this.stopped) throw unavailableError('signing processor is shut down', 1000);
    if (data.signal !== 'traces' && data.signal !== 'logs') return this.next.consume(data);
    if (this.wire !== undefined && data.hasProto()) {
      const st: SignStats = { signed: 0, unsignedDepth: 0, unsignedSize: 0 };
      // A batch joined from requests goes into the signer's buffer as its ranges, not joined into one new buffer first.
      const out = this.wire.signParts(data.signal, data.protoParts(), st);
      if (out !== undefined) data.replaceProto(out);
      this.count(st);
      return this.next.consume(data);
    }
    const resources = data.mutate() as ResourceSpans[] | ResourceLogs[];
    const macs: string[] | undefined = this.chain ? [] : undefined;
    const st = data.signal === 'traces' ? this.signer.signTraces(resources as ResourceSpans[], macs) : this.signer.signLogs(resources as ResourceLogs[], macs);
    this.count(st);
    if (!this.chain || st.signed === 0) return this.next.consume(data);

    const chain = this.chain;
    const ticket = chain.stamp(resources, macs!);
    let sealed: Promise<unknown> | undefined;
    try {
      sealed = this.evidence?.seal(chain.head().stream, ticket.seq).catch((e) => this.settings.logger.error('Cannot deliver an evidence manifest', { error: e }));
      if (sealed) this.settings.telemetry.counter('sieve_signing_evidence_manifests', 'Evidence manifests signed and written.', ['processor', 'signal']).inc(this.labels);
    } catch (e) {
      chain.nack(ticket);
      throw unavailableError(`cannot write evidence manifest: ${(e as Error).message}`, 5000, 'SIEVE_ERR_EVIDENCE', e);
    }
    try {
      // Write-ahead: a sequence number leaves only once it is in the state file, so none is ever reused.
      await ticket.persisted;
      await sealed;
    } catch (e) {
      chain.nack(ticket);
      throw unavailableError(`cannot persist signing chain state: ${(e as Error).message}`, 5000, 'SIEVE_ERR_SIGNING_STATE', e);
    }
    this.settings.telemetry.counter('sieve_signing_chain_links', 'Batch chain links handed out.', ['processor', 'signal']).inc(this.labels);
    let res: ConsumeResult;
    try {
      res = await this.next.consume(data);
    } catch (e) {
      chain.nack(ticket);
      this.voided();
      throw e;
    }
    if (res && res.rejected > 0) {
      chain.nack(ticket);
      this.voided();
    } else chain.ack(ticket);
    return res;
  }

  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.evidence?.close();
    if (this.chain) await this.chain.close().catch((e) => this.settings.logger.error('Cannot persist signing chain state', { error: e }));
  }

  private voided(): void {
    this.settings.telemetry.counter('sieve_signing_chain_voided_links', 'Batch chain links not accepted downstream (announced as void by a later link).', ['processor', 'signal']).inc(this.labels);
  }

  private count(st: SignStats): void {
    const t = this.settings.telemetry;
    if (st.signed > 0) t.counter('sieve_signing_signed_items', 'Spans and log records signed.', ['processor', 'signal']).inc(this.labels, st.signed);
    const unsigned = st.unsignedDepth + st.unsignedSize;
    if (unsigned === 0) return;
    const c = t.counter('sieve_signing_unsigned_items', 'Spans and log records left unsigned because their canonical form broke a cap.', ['processor', 'signal', 'reason']);
    if (st.unsignedDepth) c.inc({ ...this.labels, reason: 'depth' }, st.unsignedDepth);
    if (st.unsignedSize) c.inc({ ...this.labels, reason: 'size' }, st.unsignedSize);
    const now = this.settings.now();
    if (now - this.lastWarn >= WARN_EVERY_MS) {
      this.lastWarn = now;
      this.settings.logger.warn('Items left unsigned: their canonical form is over the caps', { depth: st.unsignedDepth, size: st.unsignedSize });
    }
  }
}
