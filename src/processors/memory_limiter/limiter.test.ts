import { describe, expect, it } from 'vitest';
import type { Consumer } from '../../component/component.js';
import { Issues } from '../../config/schema.js';
import { Telemetry } from '../../pdata/telemetry.js';
import { nopLogger } from '../../service/logger.js';
import { SelfTelemetry } from '../../service/telemetry.js';
import { traces } from '../../../test/helpers/model.js';
import { memoryLimiterSchema } from './factory.js';
import { MemoryLimiter } from './limiter.js';

const MiB = 1024 * 1024;

describe('memory_limiter', () => {
  it('refuses with a retryable error above the soft limit and resumes below it', async () => {
    let used = 100 * MiB;
    const cfg = memoryLimiterSchema.parse({ check_interval: '1s', limit_mib: 400, spike_limit_mib: 100 }, [], new Issues());
    let passed = 0;
    const next: Consumer = { mutatesData: false, consume: async () => void passed++ };
    const telemetry = new SelfTelemetry();
    const m = new MemoryLimiter({ id: 'memory_limiter', kind: 'processor', logger: nopLogger, telemetry, instanceId: 'x', now: Date.now }, cfg, 'traces', next, () => used);
    await m.start();
    expect(m.softLimit).toBe(300 * MiB);
    const data = () => Telemetry.traces(traces(5));
    await m.consume(data());
    used = 310 * MiB;
    m.check();
    await expect(m.consume(data())).rejects.toMatchObject({ kind: 'exhausted', permanent: false, retryAfterMs: 1000 });
    expect(m.health().status).toBe('degraded');
    expect(await telemetry.value('otelcol_processor_memory_limiter_refused_spans')).toBe(5);
    used = 200 * MiB;
    m.check();
    await m.consume(data());
    expect(passed).toBe(2);
    expect(m.health().status).toBe('ok');
    await m.shutdown();
    await m.shutdown();
  });

  it('defaults spike_limit_mib to 20% of limit_mib', () => {
    const cfg = memoryLimiterSchema.parse({ check_interval: '1s', limit_mib: 1000 }, [], new Issues());
    const m = new MemoryLimiter({ id: 'm', kind: 'processor', logger: nopLogger, telemetry: new SelfTelemetry(), instanceId: 'x', now: Date.now }, cfg, 'logs', { mutatesData: false, consume: async () => undefined }, () => 0);
    expect(m.softLimit).toBe(800 * MiB);
  });
});
