import { describe, expect, it } from 'vitest';
import type { ConsumeResult, Consumer, CreateSettings } from '../../component/component.js';
import { ConsumerError } from '../../component/errors.js';
import { Issues, formatPath } from '../../config/schema.js';
import type { ResourceLogs, ResourceSpans } from '../../pdata/model.js';
import { Telemetry, type DurableRef } from '../../pdata/telemetry.js';
import { nopLogger } from '../../service/logger.js';
import { SelfTelemetry } from '../../service/telemetry.js';
import { attrs, record, resourceLogs } from '../../exporters/loki/testdata.js';
import type { TenantProcessorConfig } from './config.js';
import { tenantProcessorFactory } from './factory.js';
import { isValidTenantId, tenantIdProblem } from './tenant_id.js';

function parse(raw: unknown): { cfg: TenantProcessorConfig; errors: string[]; warnings: string[] } {
  const issues = new Issues();
  const path = ['processors', 'tenant'];
  const cfg = tenantProcessorFactory.schema.parse(raw, path, issues);
  if (!issues.hasErrors()) tenantProcessorFactory.validate!(cfg, path, issues);
  const fmt = (i: { path: string[]; message: string }) => `${formatPath(i.path)}: ${i.message}`;
  return { cfg, errors: issues.errors.map(fmt), warnings: issues.warnings.map(fmt) };
}

class Capture implements Consumer {
  got: Telemetry[] = [];
  constructor(readonly mutatesData = false, private result?: () => ConsumeResult | Promise<ConsumeResult>) {}
  async consume(d: Telemetry): Promise<ConsumeResult> {
    this.got.push(d);
    return this.result?.();
  }
}

function make(raw: unknown, next = new Capture(), telemetry = new SelfTelemetry()) {
  const { cfg, errors } = parse(raw);
  expect(errors).toEqual([]);
  const settings: CreateSettings = { id: 'tenant', kind: 'processor', logger: nopLogger, telemetry, instanceId: 't', now: Date.now, pipelineId: 'logs' };
  const p = tenantProcessorFactory.create(settings, cfg, 'logs', next);
  return { p, next, telemetry };
}

function logs(resources: ResourceLogs[], metadata?: Record<string, string[]>) {
  return Telemetry.logs(resources, metadata ? { metadata } : {});
}
const one = (res: Record<string, string> = { 'service.name': 's' }, n = 1) => resourceLogs(res, Array.from({ length: n }, () => record({ body: 'x' })));

async function rejection(p: Promise<unknown>): Promise<ConsumerError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(ConsumerError);
  return e as ConsumerError;
}

describe('tenant processor config', () => {
  const valid: [string, unknown, (c: TenantProcessorConfig) => void][] = [
    ['a token map', { tokens: { 's3cret': 'team-a' } }, (c) => expect(c.tokens.map((t) => [t.token, t.tenant])).toEqual([['s3cret', 'team-a']])],
    ['a token list', { tokens: [{ token: 'abc', tenant: 'b' }] }, (c) => expect(c.tokens[0]).toMatchObject({ token: 'abc', tenant: 'b' })],
    ['a header with a default', { from_header: 'X-Scope-OrgID', default: 'anon' }, (c) => expect(c).toMatchObject({ from_header: 'X-Scope-OrgID', default: 'anon', max_tenants_in_metrics: 100 })],
    ['only a default', { default: 'everyone' }, (c) => expect(c.default).toBe('everyone')],
    ['an attribute with reject', { from_attribute: 'tenant.id', missing: 'reject', to_attribute: 'tenant.id' }, (c) => expect(c.missing).toBe('reject')],
  ];
  for (const [name, raw, check] of valid) {
    it(`accepts ${name}`, () => {
      const { cfg, errors } = parse(raw);
      expect(errors).toEqual([]);
      check(cfg);
    });
  }

  const invalid: [string, unknown, string][] = [
    ['no source and no default', {}, 'processors::tenant: set at least one of tokens, from_header, from_attribute or default'],
    ['an env reference in a map key', { tokens: { '${env:TOKEN}': 'a' } }, 'processors::tenant::tokens::${env:TOKEN}: environment references are not expanded in map keys; use the list form'],
    ['an empty token', { tokens: [{ token: '', tenant: 'a' }] }, 'processors::tenant::tokens::0: a token must not be empty'],
    ['a token listed twice', { tokens: [{ token: 'x', tenant: 'a' }, { token: 'x', tenant: 'b' }] }, 'processors::tenant::tokens::1: this token is listed twice'],
    ['an invalid token tenant', { tokens: [{ token: 'x', tenant: 'a/b' }] }, `processors::tenant::tokens::0: tenant id "a/b" has characters other than letters, digits and !-_.*'()`],
    ['a list entry without tenant', { tokens: [{ token: 'x' }] }, 'processors::tenant::tokens::0::tenant: is required'],
    ['tokens as a string', { tokens: 'abc' }, 'processors::tenant::tokens: must be a map of token to tenant or a list of {token, tenant}'],
    ['missing default without a default', { from_header: 'x-scope-orgid', missing: 'default' }, 'processors::tenant::default: is required when missing is "default"'],
    ['an invalid default', { default: '..' }, 'processors::tenant::default: a tenant id must not be ".."'],
    ['an unknown missing mode', { from_header: 'x', missing: 'drop' }, 'processors::tenant::missing: must be one of "reject", "default", got "drop"'],
    ['a bad header name', { from_header: 'x scope' }, 'processors::tenant::from_header: must be a header name, got "x scope"'],
    ['a negative metrics bound', { default: 'a', max_tenants_in_metrics: -1 }, 'processors::tenant::max_tenants_in_metrics: must be at least 0, got -1'],
    ['an unknown key', { default: 'a', from_headers: 'x' }, 'processors::tenant::from_headers: unknown key "from_headers" (did you mean "from_header"?)'],
  ];
  for (const [name, raw, message] of invalid) {
    it(`rejects ${name}`, () => {
      const { errors } = parse(raw);
      expect(errors.some((e) => e.startsWith(message)), `${message}\n  not in\n${errors.join('\n')}`).toBe(true);
    });
  }

  it('warns that a header lets token-less clients choose their tenant', () => {
    const { warnings } = parse({ tokens: { t: 'a' }, from_header: 'x-scope-orgid' });
    expect(warnings[0]).toMatch(/^processors::tenant::from_header: clients without a bearer token can choose their tenant/);
  });

  it('validates tenant ids as Loki and Tempo do', () => {
    expect(isValidTenantId("team-A_1.prod*!'()")).toBe(true);
    for (const bad of ['', '.', '..', 'a b', 'a/b', 'a|b', 'x'.repeat(151), 'é']) expect(isValidTenantId(bad), bad).toBe(false);
    expect(tenantIdProblem('x'.repeat(151))).toBe('a tenant id must be at most 150 characters');
  });
});

describe('tenant processor', () => {
  it('maps bearer tokens to tenants and rejects unknown tokens', async () => {
    const { p, next, telemetry } = make({ tokens: { 'tok-a': 'team-a', 'tok-b': 'team-b' } });
    await p.consume(logs([one()], { authorization: ['Bearer tok-a'] }));
    await p.consume(logs([one()], { authorization: ['bearer tok-b'] }));
    expect(next.got.map((d) => d.ctx.tenant)).toEqual(['team-a', 'team-b']);
    const e = await rejection(p.consume(logs([one()], { authorization: ['Bearer nope'] })));
    expect(e.kind).toBe('unauthenticated');
    expect(e.message).toBe('unknown bearer token');
    const basic = await rejection(p.consume(logs([one()], { authorization: ['Basic dG9rLWE='] })));
    expect(basic.kind).toBe('unauthenticated');
    const none = await rejection(p.consume(logs([one()])));
    expect(none.code).toBe('SIEVE_ERR_NO_TENANT');
    expect(await telemetry.value('sieve_tenant_rejected_items', { reason: 'unknown_token' })).toBe(2);
    expect(await telemetry.value('sieve_tenant_rejected_items', { reason: 'missing_tenant' })).toBe(1);
    expect(await telemetry.value('sieve_tenant_accepted_items', { tenant: 'team-a' })).toBe(1);
  });

  it('takes the tenant from a header, falling back to the default', async () => {
    const { p, next } = make({ from_header: 'X-Scope-OrgID', default: 'anonymous' });
    await p.consume(logs([one()], { 'x-scope-orgid': ['ops'] }));
    await p.consume(logs([one()], {}));
    expect(next.got.map((d) => d.ctx.tenant)).toEqual(['ops', 'anonymous']);
    const e = await rejection(p.consume(logs([one()], { 'x-scope-orgid': ['a|b'] })));
    expect(e.kind).toBe('invalid');
  });

  it('tries the token before the header', async () => {
    const { p, next } = make({ tokens: [{ token: 't', tenant: 'from-token' }], from_header: 'x-scope-orgid' });
    await p.consume(logs([one()], { authorization: ['Bearer t'], 'x-scope-orgid': ['claimed'] }));
    await p.consume(logs([one()], { 'x-scope-orgid': ['claimed'] }));
    expect(next.got.map((d) => d.ctx.tenant)).toEqual(['from-token', 'claimed']);
  });

  it('splits a batch whose resources name different tenants, never mixing them', async () => {
    const { p, next } = make({ from_attribute: 'tenant.id' });
    const res = await p.consume(
      logs([one({ 'tenant.id': 'a' }, 2), one({ 'tenant.id': 'b' }, 1), one({ 'tenant.id': 'a' }, 3), one({ 'service.name': 'no-tenant' }, 4)]),
    );
    expect(next.got.map((d) => [d.ctx.tenant, d.itemCount()])).toEqual([
      ['a', 5],
      ['b', 1],
    ]);
    for (const d of next.got) {
      for (const r of d.read() as ResourceLogs[]) expect(r.resource.attributes.find((kv) => kv.key === 'tenant.id')!.value).toEqual({ type: 'string', value: d.ctx.tenant });
    }
    expect(res).toEqual({ rejected: 4, errorMessage: 'rejected 4 without a tenant (tenant.id)' });
  });

  it('passes a single-tenant batch on without decoding or copying its bytes', async () => {
    const { p, next } = make({ from_attribute: 'tenant.id' });
    const src = logs([one({ 'tenant.id': 'a' }, 2)]);
    const bytes = src.toProto();
    const wire = Telemetry.fromProto('logs', bytes, 2, { receiver: 'otlp' });
    await p.consume(wire);
    expect(next.got[0]!.toProto()).toBe(bytes);
    expect(next.got[0]!.ctx).toEqual({ receiver: 'otlp', tenant: 'a' });
    // The input batch is left as it was: other pipelines may share it.
    expect(wire.ctx).toEqual({ receiver: 'otlp' });
  });

  it('rejects a batch where no resource names a tenant, or gives it the default', async () => {
    const { p } = make({ from_attribute: 'tenant.id' });
    expect((await rejection(p.consume(logs([one()])))).kind).toBe('unauthenticated');
    const d = make({ from_attribute: 'tenant.id', default: 'shared' });
    await d.p.consume(logs([one(), one({ 'tenant.id': 'x' })]));
    expect(d.next.got.map((b) => b.ctx.tenant)).toEqual(['shared', 'x']);
  });

  it('stamps the tenant into a resource attribute, overwriting a client value, and then owns the data', async () => {
    const { p, next } = make({ tokens: { t: 'real' }, to_attribute: 'tenant.id' });
    expect(p.mutatesData).toBe(true);
    await p.consume(logs([one({ 'tenant.id': 'spoofed' }), one()], { authorization: ['Bearer t'] }));
    const rs = next.got[0]!.read() as ResourceLogs[];
    expect(rs.map((r) => r.resource.attributes.find((kv) => kv.key === 'tenant.id')!.value)).toEqual([
      { type: 'string', value: 'real' },
      { type: 'string', value: 'real' },
    ]);
    expect(make({ tokens: { t: 'a' } }).p.mutatesData).toBe(false);
    expect(make({ tokens: { t: 'a' } }, new Capture(true)).p.mutatesData).toBe(true);
  });

  it('bounds the tenant label values in its metrics', async () => {
    const telemetry = new SelfTelemetry();
    const { p } = make({ from_header: 'x-scope-orgid', max_tenants_in_metrics: 2 }, new Capture(), telemetry);
    for (const t of ['a', 'b', 'c', 'd', 'a']) await p.consume(logs([one()], { 'x-scope-orgid': [t] }));
    expect(await telemetry.value('sieve_tenant_accepted_items', { tenant: 'a' })).toBe(2);
    expect(await telemetry.value('sieve_tenant_accepted_items', { tenant: 'b' })).toBe(1);
    expect(await telemetry.value('sieve_tenant_accepted_items', { tenant: 'other' })).toBe(2);
    expect(await telemetry.value('sieve_tenant_accepted_items', { tenant: 'c' })).toBe(0);
  });

  it('gives each split part its own reference on durable requests', async () => {
    let refs = 1;
    const ref: DurableRef = { retain: () => refs++, release: () => refs-- };
    const { p } = make({ from_attribute: 'tenant.id' });
    await p.consume(Telemetry.logs([one({ 'tenant.id': 'a' }), one({ 'tenant.id': 'b' }), one({ 'tenant.id': 'c' })], { durable: [ref] }));
    expect(refs).toBe(3);
  });

  it('carries a retryable downstream failure back, and merges partial successes', async () => {
    let n = 0;
    const flaky = new Capture(false, () => {
      if (n++ === 0) throw new ConsumerError('unavailable', 'down');
      return { rejected: 1, errorMessage: 'one refused' };
    });
    const { p } = make({ from_attribute: 'tenant.id' }, flaky);
    const e = await rejection(p.consume(logs([one({ 'tenant.id': 'a' }), one({ 'tenant.id': 'b' })])));
    expect(e.permanent).toBe(false);
    const r = await p.consume(logs([one({ 'tenant.id': 'a' }), one({ 'tenant.id': 'b' })]));
    expect(r).toEqual({ rejected: 2, errorMessage: 'one refused; one refused' });
  });

  it('tells the user once when batches carry no client metadata', async () => {
    const lines: string[] = [];
    const logger = { ...nopLogger, warn: (m: string) => void lines.push(m), child: () => logger };
    const { cfg } = parse({ from_header: 'x-scope-orgid', default: 'd' });
    const settings: CreateSettings = { id: 'tenant', kind: 'processor', logger, telemetry: new SelfTelemetry(), instanceId: 't', now: Date.now };
    const p = tenantProcessorFactory.create(settings, cfg, 'logs', new Capture());
    await p.consume(logs([one()]));
    await p.consume(logs([one()]));
    expect(lines).toEqual(['Batches carry no client metadata, so tokens and from_header cannot apply; set include_metadata: true on the receiver.']);
  });

  it('splits traces by tenant too', async () => {
    const next = new Capture();
    const { cfg } = parse({ from_attribute: 'tenant.id' });
    const settings: CreateSettings = { id: 'tenant', kind: 'processor', logger: nopLogger, telemetry: new SelfTelemetry(), instanceId: 't', now: Date.now };
    const p = tenantProcessorFactory.create(settings, cfg, 'traces', next);
    const span = { traceId: new Uint8Array(16).fill(1), spanId: new Uint8Array(8).fill(2), traceState: '', parentSpanId: new Uint8Array(0), flags: 0, name: 'op', kind: 1, startTimeUnixNano: 1n, endTimeUnixNano: 2n, attributes: [], droppedAttributesCount: 0, events: [], droppedEventsCount: 0, links: [], droppedLinksCount: 0, status: { code: 0, message: '' } };
    const rs = (t: string, n: number): ResourceSpans => ({
      resource: { attributes: attrs({ 'tenant.id': t }), droppedAttributesCount: 0 },
      scopeSpans: [{ scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0 }, spans: Array.from({ length: n }, () => span), schemaUrl: '' }],
      schemaUrl: '',
    });
    await p.consume(Telemetry.traces([rs('x', 2), rs('y', 3)]));
    expect(next.got.map((d) => [d.signal, d.ctx.tenant, d.itemCount()])).toEqual([
      ['traces', 'x', 2],
      ['traces', 'y', 3],
    ]);
  });
});
