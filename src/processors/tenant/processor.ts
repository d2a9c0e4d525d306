// Derives each batch's tenant and stamps it on the batch (`ctx.tenant`), where
// the batch processor partitions by it and exporters send it (X-Scope-OrgID).
//
// Sources, tried in order:
//   1. tokens: the client's bearer token (`authorization` metadata) mapped in config.
//      A token that is present but unknown is rejected (UNAUTHENTICATED / 401).
//   2. from_header: a client metadata header such as x-scope-orgid.
//   3. from_attribute: a resource attribute, per resource. A batch whose
//      resources name different tenants is split into one batch per tenant.
// Data no source names a tenant for gets `default` or is rejected (`missing`).
import { createHash } from 'node:crypto';
import type { ConsumeResult, Consumer, CreateSettings, ProcessorComponent } from '../../component/component.js';
import { ConsumerError, asConsumerError, invalidError } from '../../component/errors.js';
import type { KeyValue, ResourceLogs, ResourceMetrics, ResourceSpans, Signal } from '../../pdata/model.js';
import { Telemetry } from '../../pdata/telemetry.js';
import type { SelfTelemetry } from '../../service/telemetry.js';
import type { TenantProcessorConfig } from './config.js';
import { attributeAsTenant, isValidTenantId } from './tenant_id.js';
import type { AuthIdentity } from '../../extensions/auth/auth.js';

type Res = ResourceSpans | ResourceMetrics | ResourceLogs;

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/**
 * Maps tenants to metric label values: the first `max` distinct tenants keep
 * their id, later ones are "other". Shared by every instance of one processor
 * id in one daemon, so the bound holds across pipelines.
 */
class TenantLabels {
  private known = new Set<string>();
  constructor(private max: number) {}
  label(tenant: string): string {
    if (this.known.has(tenant)) return tenant;
    if (this.known.size < this.max) {
      this.known.add(tenant);
      return tenant;
    }
    return 'other';
  }
}
const labelSets = new WeakMap<SelfTelemetry, Map<string, TenantLabels>>();
function tenantLabels(t: SelfTelemetry, id: string, max: number): TenantLabels {
  let m = labelSets.get(t);
  if (!m) labelSets.set(t, (m = new Map()));
  let l = m.get(id);
  if (!l) m.set(id, (l = new TenantLabels(max)));
  return l;
}

function itemsOf(signal: Signal, r: Res): number {
  let n = 0;
  if (signal === 'traces') for (const s of (r as ResourceSpans).scopeSpans) n += s.spans.length;
  else if (signal === 'logs') for (const s of (r as ResourceLogs).scopeLogs) n += s.logRecords.length;
  else
    for (const s of (r as ResourceMetrics).scopeMetrics)
      for (const m of s.metrics) n += m.data.type === 'empty' ? 0 : m.data.dataPoints.length;
  return n;
}

function setAttribute(attrs: KeyValue[], key: string, value: string): void {
  for (const kv of attrs) {
    if (kv.key === key) {
      kv.value = { type: 'string', value };
      return;
    }
  }
  attrs.push({ key, value: { type: 'string', value } });
}

type Reason = 'missing_tenant' | 'unknown_token' | 'invalid_tenant' | 'tenant_conflict';

/** The tenant an identity names under `attr`: tenant, subject, or a string claim. */
function identityTenant(id: AuthIdentity, attr: string): string | undefined {
  if (attr === 'tenant') return id.tenant;
  if (attr === 'subject') return id.subject;
  const v = id.claims?.[attr];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export class TenantProcessor implements ProcessorComponent {
  readonly mutatesData: boolean;
  private tokens = new Map<string, string>();
  private header: string | undefined;
  private missingDefault: string | undefined;
  private labels: TenantLabels;
  private accepted;
  private rejected;
  private warnedNoMetadata = false;

  constructor(private settings: CreateSettings, private cfg: TenantProcessorConfig, private signal: Signal, private next: Consumer) {
    // Stamping an attribute changes the data; passing data on to a mutating
    // consumer means the data must be this pipeline's own copy too.
    // With from_auth, a client's own from_attribute value is overwritten with its identity's tenant.
    this.mutatesData = cfg.to_attribute !== undefined || (cfg.from_auth !== undefined && cfg.from_attribute !== undefined) || next.mutatesData;
    // Tokens are kept as digests: a lookup compares digests, not secrets.
    for (const e of cfg.tokens) this.tokens.set(sha256(e.token), e.tenant);
    this.header = cfg.from_header?.toLowerCase();
    const missing = cfg.missing ?? (cfg.default !== undefined ? 'default' : 'reject');
    this.missingDefault = missing === 'default' ? cfg.default : undefined;
    const t = settings.telemetry;
    this.labels = tenantLabels(t, settings.id, cfg.max_tenants_in_metrics);
    this.accepted = t.counter('sieve_tenant_accepted_items', 'Items stamped with a tenant and passed on, by tenant (bounded; later tenants count as "other").', ['processor', 'otel_signal', 'tenant']);
    this.rejected = t.counter('sieve_tenant_rejected_items', 'Items rejected because no valid tenant could be derived, by reason.', ['processor', 'otel_signal', 'reason']);
  }

  async start(): Promise<void> {}
  async shutdown(): Promise<void> {}

  private reject(reason: Reason, items: number, err: ConsumerError): ConsumerError {
    this.rejected.inc({ processor: this.settings.id, otel_signal: this.signal, reason }, items);
    return err;
  }

  /** The tenant named by the request (token or header), or undefined. Throws for an unknown token or an invalid id. */
  private requestTenant(data: Telemetry): string | undefined {
    const md = data.ctx.metadata;
    if ((this.tokens.size > 0 || this.header) && md === undefined && !this.warnedNoMetadata) {
      this.warnedNoMetadata = true;
      this.settings.logger.warn('Batches carry no client metadata, so tokens and from_header cannot apply; set include_metadata: true on the receiver.');
    }
    if (this.tokens.size > 0) {
      const auth = md?.['authorization']?.[0];
      if (auth !== undefined) {
        const m = /^bearer\s+(\S+)\s*$/i.exec(auth);
        const tenant = m ? this.tokens.get(sha256(m[1]!)) : undefined;
        if (tenant === undefined) {
          throw this.reject('unknown_token', data.itemCount(), new ConsumerError('unauthenticated', 'unknown bearer token', { code: 'SIEVE_ERR_UNKNOWN_TOKEN' }));
        }
        return tenant;
      }
    }
    if (this.header) {
      const v = md?.[this.header]?.[0];
      if (v !== undefined && v !== '') {
        if (!isValidTenantId(v)) {
          throw this.reject('invalid_tenant', data.itemCount(), invalidError(`the ${this.header} header is not a valid tenant id`, 'SIEVE_ERR_INVALID_TENANT'));
        }
        return v;
      }
    }
    return undefined;
  }

  /** The identity's tenant; rejects when the identity names none, or (on_conflict: reject) when the request claims another. */
  private authTenant(data: Telemetry, id: AuthIdentity): string {
    const tenant = identityTenant(id, this.cfg.from_auth!);
    if (tenant === undefined || !isValidTenantId(tenant)) {
      throw this.reject(tenant === undefined ? 'missing_tenant' : 'invalid_tenant', data.itemCount(), new ConsumerError('permission_denied', 'the authenticated identity names no valid tenant', { code: 'SIEVE_ERR_NO_TENANT' }));
    }
    if (this.cfg.on_conflict === 'reject') {
      const claimed: string[] = [];
      const h = this.header ? data.ctx.metadata?.[this.header]?.[0] : undefined;
      if (h) claimed.push(h);
      if (this.cfg.from_attribute) {
        for (const r of data.read() as readonly Res[]) {
          const a = attributeAsTenant(r.resource.attributes, this.cfg.from_attribute);
          if (a !== undefined) claimed.push(a);
        }
      }
      if (claimed.some((c) => c !== tenant)) {
        throw this.reject('tenant_conflict', data.itemCount(), new ConsumerError('permission_denied', 'the request names a tenant other than its identity', { code: 'SIEVE_ERR_TENANT_CONFLICT' }));
      }
    } else if (this.cfg.from_attribute) {
      for (const r of data.mutate() as Res[]) {
        if (attributeAsTenant(r.resource.attributes, this.cfg.from_attribute) !== undefined) setAttribute(r.resource.attributes, this.cfg.from_attribute, tenant);
      }
    }
    return tenant;
  }

  async consume(data: Telemetry): Promise<ConsumeResult> {
    const id = this.cfg.from_auth !== undefined ? data.ctx.auth : undefined;
    if (id) return this.forward(data, this.authTenant(data, id));
    const tenant = this.requestTenant(data);
    if (tenant !== undefined) return this.forward(data, tenant);
    if (this.cfg.from_attribute) return this.byAttribute(data, this.cfg.from_attribute);
    if (this.missingDefault !== undefined) return this.forward(data, this.missingDefault);
    throw this.reject('missing_tenant', data.itemCount(), new ConsumerError('unauthenticated', 'no tenant: the request names none', { code: 'SIEVE_ERR_NO_TENANT' }));
  }

  /** Passes the whole batch on under one tenant. The batch is re-wrapped, not changed: other pipelines may share it. */
  private forward(data: Telemetry, tenant: string): Promise<ConsumeResult> {
    if (this.cfg.to_attribute) {
      for (const r of data.mutate() as Res[]) setAttribute(r.resource.attributes, this.cfg.to_attribute, tenant);
    }
    const out = Telemetry.concat(data.signal, [data], { ...data.ctx, tenant });
    this.accepted.inc({ processor: this.settings.id, otel_signal: this.signal, tenant: this.labels.label(tenant) }, out.itemCount());
    return this.next.consume(out);
  }

  private async byAttribute(data: Telemetry, key: string): Promise<ConsumeResult> {
    const owned = this.cfg.to_attribute !== undefined;
    // With to_attribute this pipeline owns the batch (mutatesData): resources are stamped in place.
    const resources = (owned ? data.mutate() : data.read()) as readonly Res[];
    const groups = new Map<string, Res[]>();
    let missing = 0;
    let invalid = 0;
    for (const r of resources) {
      let t = attributeAsTenant(r.resource.attributes, key) ?? this.missingDefault;
      if (t === undefined) {
        missing += itemsOf(this.signal, r);
        continue;
      }
      if (!isValidTenantId(t)) {
        invalid += itemsOf(this.signal, r);
        continue;
      }
      let g = groups.get(t);
      if (!g) groups.set(t, (g = []));
      g.push(r);
    }
    const L = { processor: this.settings.id, otel_signal: this.signal };
    if (missing) this.rejected.inc({ ...L, reason: 'missing_tenant' }, missing);
    if (invalid) this.rejected.inc({ ...L, reason: 'invalid_tenant' }, invalid);
    const dropped = missing + invalid;
    const why = [missing ? `${missing} without a tenant (${key})` : '', invalid ? `${invalid} with an invalid tenant id` : ''].filter(Boolean).join(', ');
    if (groups.size === 0) {
      if (dropped === 0) return; // nothing in the batch
      throw missing ? new ConsumerError('unauthenticated', `no tenant: ${why}`, { code: 'SIEVE_ERR_NO_TENANT' }) : invalidError(`rejected ${why}`, 'SIEVE_ERR_INVALID_TENANT');
    }
    if (groups.size === 1 && dropped === 0) return this.forward(data, groups.keys().next().value!);

    // Several tenants, or some resources rejected: one batch per tenant.
    const parts: Telemetry[] = [];
    for (const [tenant, rs] of groups) {
      if (owned) for (const r of rs) setAttribute(r.resource.attributes, this.cfg.to_attribute!, tenant);
      const part = Telemetry.fromModel(this.signal, rs as never, { ...data.ctx, tenant });
      this.accepted.inc({ ...L, tenant: this.labels.label(tenant) }, part.itemCount());
      parts.push(part);
    }
    // Every extra part holds its own reference on durably stored requests.
    const durable = data.ctx.durable;
    if (durable) for (let i = 1; i < parts.length; i++) for (const d of durable) d.retain();
    const results = await Promise.allSettled(parts.map((p) => this.next.consume(p)));
    let firstErr: ConsumerError | undefined;
    let rejected = dropped;
    const messages: string[] = dropped ? [`rejected ${why}`] : [];
    for (const r of results) {
      if (r.status === 'rejected') {
        const e = asConsumerError(r.reason);
        // A retryable error wins: the client retries and nothing is lost.
        if (!firstErr || (firstErr.permanent && !e.permanent)) firstErr = e;
      } else if (r.value) {
        rejected += r.value.rejected;
        if (r.value.errorMessage) messages.push(r.value.errorMessage);
      }
    }
    if (firstErr) throw firstErr;
    if (rejected > 0 || messages.length > 0) return { rejected, errorMessage: messages.join('; ') };
    return undefined;
  }
}
