// The exporter against real OTLP/gRPC sinks on loopback.
import { afterEach, describe, expect, it } from 'vitest';
import { Issues } from '../../config/schema.js';
import { ConsumerError, permanentError } from '../../component/errors.js';
import type { Signal } from '../../pdata/model.js';
import { Telemetry } from '../../pdata/telemetry.js';
import { nopLogger } from '../../service/logger.js';
import { SelfTelemetry } from '../../service/telemetry.js';
import { startSink, testHost, waitFor, type Sink } from '../../../test/helpers/sieve.js';
import { startFakeDns } from '../../../test/fakes/dns.js';
import { gauges, logs, traces } from '../../../test/helpers/model.js';
import { loadBalancingExporterFactory as f } from './factory.js';
import type { LoadBalancingExporter } from './exporter.js';

const stops: { stop?(): Promise<void>; shutdown?(): Promise<void> }[] = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await (s.shutdown ? s.shutdown() : s.stop!());
});

async function sinks(n: number): Promise<Sink[]> {
  const out: Sink[] = [];
  for (let i = 0; i < n; i++) {
    const s = await startSink();
    stops.push(s);
    out.push(s);
  }
  return out;
}

function exporter(raw: Record<string, unknown>, signal: Signal, t = new SelfTelemetry()): LoadBalancingExporter {
  const issues = new Issues();
  const { otlp, ...rest } = raw;
  const cfg = f.schema.parse(
    {
      ...rest,
      protocol: { otlp: { tls: { insecure: true }, compression: 'none', timeout: '2s', retry_on_failure: { initial_interval: '20ms', max_interval: '50ms', max_elapsed_time: '300ms' }, ...((otlp as object) ?? {}) } },
    },
    ['lb'],
    issues,
  );
  f.validate!(cfg, ['lb'], issues);
  expect(issues.errors).toEqual([]);
  const e = f.create({ id: 'loadbalancing', kind: 'exporter', logger: nopLogger, telemetry: t, instanceId: 't', now: Date.now }, cfg, signal) as LoadBalancingExporter;
  stops.push(e);
  return e;
}

const staticOf = (s: Sink[]) => ({ static: { hostnames: s.map((x) => `127.0.0.1:${x.grpcPort}`) } });

describe('loadbalancing exporter', () => {
  it('routes metrics by stream and logs by trace id to every backend, each item once', async () => {
    const s = await sinks(3);
    const m = exporter({ routing_key: 'streamID', resolver: staticOf(s) }, 'metrics');
    const l = exporter({ resolver: staticOf(s) }, 'logs');
    await m.start(testHost());
    await l.start(testHost());
    await m.consume(Telemetry.metrics(gauges(90)));
    await l.consume(Telemetry.logs(logs(300)));
    await waitFor(() => s.reduce((n, x) => n + x.count('metrics'), 0) === 90 && s.reduce((n, x) => n + x.count('logs'), 0) === 300, { what: 'all items' });
    for (const x of s) {
      expect(x.count('metrics')).toBeGreaterThan(0);
      expect(x.count('logs')).toBeGreaterThan(0);
    }
  });

  it('reroute_on_failure sends what a backend fails for good to the next one', async () => {
    const s = await sinks(2);
    s[0]!.failWith(permanentError('backend refuses everything'));
    const t = new SelfTelemetry();
    const e = exporter({ reroute_on_failure: true, resolver: staticOf(s) }, 'traces', t);
    await e.start(testHost());
    await e.consume(Telemetry.traces(traces(500)));
    await waitFor(() => s[1]!.count('traces') === 500, { what: 'all spans at the healthy backend' });
    expect(await t.value('sieve_loadbalancer_rerouted_items', { reason: 'failure' })).toBeGreaterThan(0);
    expect(await t.value('otelcol_loadbalancer_backend_outcome', { endpoint: `127.0.0.1:${s[0]!.grpcPort}`, success: 'false' })).toBeGreaterThan(0);
  });

  it('without reroute_on_failure, a backend that fails for good drops its share (counted), the others deliver theirs', async () => {
    const s = await sinks(2);
    s[0]!.failWith(permanentError('backend refuses everything'));
    const t = new SelfTelemetry();
    const e = exporter({ resolver: staticOf(s) }, 'traces', t);
    await e.start(testHost());
    await e.consume(Telemetry.traces(traces(500)));
    const bad = `127.0.0.1:${s[0]!.grpcPort}`;
    await waitFor(async () => (await t.value('sieve_loadbalancer_backend_items', { success: 'false' })) + s[1]!.count('traces') === 500, { what: 'every span delivered or failed' });
    expect(await t.value('sieve_loadbalancer_backend_items', { endpoint: bad, success: 'false' })).toBeGreaterThan(0);
    expect(await t.value('otelcol_exporter_send_failed_spans')).toBeGreaterThan(0);
    expect(await t.value('sieve_loadbalancer_rerouted_items')).toBe(0);
  });

  it('refuses (retryable) while no backend is known, and accepts once DNS has one', async () => {
    const dns = await startFakeDns();
    stops.push(dns);
    const s = await sinks(1);
    const t = new SelfTelemetry();
    const e = exporter({ resolver: { dns: { hostname: 'none.lb.test', port: s[0]!.grpcPort, interval: '50ms', nameservers: [`127.0.0.1:${dns.port}`] } } }, 'traces', t);
    await e.start(testHost());
    const err = await e.consume(Telemetry.traces(traces(10))).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(ConsumerError);
    expect((err as ConsumerError).permanent).toBe(false);
    expect((err as ConsumerError).code).toBe('SIEVE_ERR_NO_BACKENDS');
    expect(await t.value('otelcol_loadbalancer_num_resolutions', { success: 'false' })).toBeGreaterThan(0);
    dns.set('none.lb.test', ['127.0.0.1']);
    await waitFor(() => e.backendCount === 1, { what: 'a backend' });
    await e.consume(Telemetry.traces(traces(10)));
    await waitFor(() => s[0]!.count('traces') === 10, { what: 'delivery' });
  });

  it('shutdown drains what was queued', async () => {
    const s = await sinks(3);
    const e = exporter({ resolver: staticOf(s) }, 'traces');
    await e.start(testHost());
    for (let i = 0; i < 20; i++) await e.consume(Telemetry.traces(traces(100, 2, i * 100)));
    await e.shutdown();
    expect(s.reduce((n, x) => n + x.count('traces'), 0)).toBe(2000);
    await expect(e.consume(Telemetry.traces(traces(1)))).rejects.toThrow(/shutting down/);
  });
});
