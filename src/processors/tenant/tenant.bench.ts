// Micro-benchmark of the tenant processor: one batch of 1000 log records per
// call, tenant from a bearer token (a SHA-256 per batch), from a header, and
// from a resource attribute (one tenant, and 4 tenants split into 4 batches).
// The cost is per batch, not per record (except the split, which regroups
// resources); figures are batches/s and µs per batch.
//
//   node --import tsx src/processors/tenant/tenant.bench.ts
import { Bench } from 'tinybench';
import type { Consumer, CreateSettings } from '../../component/component.js';
import { Issues } from '../../config/schema.js';
import { benchLogs } from '../../pdata/testdata/fixtures.js';
import type { ResourceLogs } from '../../pdata/model.js';
import { Telemetry } from '../../pdata/telemetry.js';
import { nopLogger } from '../../service/logger.js';
import { SelfTelemetry } from '../../service/telemetry.js';
import { tenantProcessorFactory } from './factory.js';

const RECORDS = 1000;
const TIME_MS = Number(process.env.BENCH_TIME_MS ?? 1000);
const sink: Consumer = { mutatesData: false, consume: async () => undefined };
const settings: CreateSettings = { id: 'tenant', kind: 'processor', logger: nopLogger, telemetry: new SelfTelemetry(), instanceId: 'b', now: Date.now };
const make = (raw: unknown) => tenantProcessorFactory.create(settings, tenantProcessorFactory.schema.parse(raw, [], new Issues()), 'logs', sink);

const one = benchLogs(RECORDS, 5);
one[0]!.resource.attributes.push({ key: 'tenant.id', value: { type: 'string', value: 'team-a' } });
const four: ResourceLogs[] = ['a', 'b', 'c', 'd'].map((t) => {
  const r = benchLogs(RECORDS / 4, 5)[0]!;
  r.resource.attributes.push({ key: 'tenant.id', value: { type: 'string', value: t } });
  return r;
});
const oneBytes = Telemetry.logs(one).toProto();
const md = { authorization: ['Bearer token-for-team-a-0123456789'], 'x-scope-orgid': ['team-a'] };

const byToken = make({ tokens: { 'token-for-team-a-0123456789': 'team-a' } });
const byHeader = make({ from_header: 'x-scope-orgid' });
const byAttr = make({ from_attribute: 'tenant.id' });

const bench = new Bench({ time: TIME_MS, warmupTime: 200 });
bench
  .add('bearer token', () => byToken.consume(Telemetry.fromProto('logs', oneBytes, RECORDS, { metadata: md })))
  .add('header', () => byHeader.consume(Telemetry.fromProto('logs', oneBytes, RECORDS, { metadata: md })))
  .add('attribute, one tenant (decoded)', () => byAttr.consume(Telemetry.logs(one)))
  .add('attribute, 4 tenants split', () => byAttr.consume(Telemetry.logs(four)));
await bench.run();
for (const t of bench.tasks) {
  const r = t.result as unknown as { throughput: { mean: number }; latency: { rme: number } };
  console.log(`  ${t.name.padEnd(34)} ${Math.round(r.throughput.mean).toLocaleString('en-US').padStart(10)} batches/s  ${(1e6 / r.throughput.mean).toFixed(2).padStart(7)} µs/batch  ±${r.latency.rme.toFixed(1)}%`);
}
