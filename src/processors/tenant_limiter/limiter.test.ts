import { describe, expect, it } from 'vitest';
import { ConsumerError } from '../../component/errors.js';
import { Issues } from '../../config/schema.js';
import { Telemetry } from '../../pdata/telemetry.js';
import { nopLogger } from '../../service/logger.js';
import { SelfTelemetry } from '../../service/telemetry.js';
import { traces } from '../../../test/helpers/model.js';
import { tenantLimiterSchema, validateTenantLimiter } from './config.js';
import { TenantLimiter } from './limiter.js';

function limiter(raw: unknown, clock: { t: number }) {
  const issues = new Issues();
  const cfg = tenantLimiterSchema.parse(raw, ['processors', 'tenant_limiter'], issues);
  validateTenantLimiter(cfg, ['processors', 'tenant_limiter'], issues);
  expect(issues.errors).toEqual([]);
  const settings = { id: 'tenant_limiter', kind: 'processor' as const, logger: nopLogger, telemetry: new SelfTelemetry(), instanceId: 't', now: () => clock.t };
  return new TenantLimiter(settings, cfg, 'traces', { consume: async () => undefined, mutatesData: false });
}
const batch = (n: number, tenant?: string) => Telemetry.fromModel('traces', traces(n), tenant ? { tenant } : {});

describe('tenant_limiter', () => {
  it('refills at the rate up to the burst, and says how long to wait', async () => {
    const clock = { t: 0 };
    const l = limiter({ tenants: { a: { rate: 10, burst: 20 } } }, clock);
    await l.consume(batch(20, 'a'));
    const err = await l.consume(batch(5, 'a')).catch((e: ConsumerError) => e);
    expect(err).toBeInstanceOf(ConsumerError);
    expect((err as ConsumerError).kind).toBe('exhausted');
    expect((err as ConsumerError).retryAfterMs).toBe(500);
    clock.t = 500;
    await expect(l.consume(batch(5, 'a'))).resolves.toBeUndefined();
    clock.t = 100_000; // long idle: capped at the burst
    await l.consume(batch(20, 'a'));
    await expect(l.consume(batch(1, 'a'))).rejects.toBeInstanceOf(ConsumerError);
  });

  it('lets a batch larger than the burst through a full bucket, leaving it in debt', async () => {
    const clock = { t: 0 };
    const l = limiter({ tenants: { a: { rate: 10, burst: 10 } } }, clock);
    await l.consume(batch(30, 'a'));
    const err = (await l.consume(batch(1, 'a')).catch((e) => e)) as ConsumerError;
    expect(err.retryAfterMs).toBe(2100);
  });

  it('passes unlisted tenants when there is no default, and limits them when there is', async () => {
    const clock = { t: 0 };
    const open = limiter({ tenants: { a: { rate: 1 } } }, clock);
    for (let i = 0; i < 3; i++) await open.consume(batch(100, 'b'));
    const dflt = limiter({ default: { rate: 5 }, max_tenants: 2 }, clock);
    await dflt.consume(batch(5, 'x'));
    await expect(dflt.consume(batch(5, 'x'))).rejects.toBeInstanceOf(ConsumerError);
    await dflt.consume(batch(5)); // no tenant: the default bucket of ""
  });

  it('rejects a config without limits', () => {
    const issues = new Issues();
    const cfg = tenantLimiterSchema.parse({}, ['p'], issues);
    validateTenantLimiter(cfg, ['p'], issues);
    expect(issues.errors.map((i) => i.message)).toEqual(['set default or at least one entry in tenants']);
  });
});
