import { describe, expect, it } from 'vitest';
import type { ExporterFactory, ProcessorFactory, ReceiverFactory, Consumer, Factory } from '../component/component.js';
import { throttleError } from '../component/errors.js';
import { s } from '../config/schema.js';
import type { ResourceSpans } from '../pdata/model.js';
import { Telemetry } from '../pdata/telemetry.js';
import { traces } from '../../test/helpers/model.js';
import { Service } from './service.js';

const events: string[] = [];
let feed: Partial<Record<string, Consumer>> = {};
const seen: Record<string, Telemetry<'traces'>[]> = {};
let failing = new Set<string>();

const lifecycle = (id: string) => ({
  start: async () => void events.push(`start ${id}`),
  shutdown: async () => void events.push(`stop ${id}`),
});

const testReceiver: ReceiverFactory = {
  kind: 'receiver',
  type: 'feed',
  schema: s.object({}),
  signals: { traces: 'development' },
  create: (st, _c, next) => {
    feed = next;
    return lifecycle(st.id);
  },
};
const pass = (type: string, mutates: boolean, rename?: string): ProcessorFactory => ({
  kind: 'processor',
  type,
  schema: s.object({}),
  mutatesData: mutates,
  signals: { traces: 'development' },
  create: (st, _c, _sig, next) => ({
    mutatesData: mutates,
    ...lifecycle(`${st.id}@${st.pipelineId}`),
    consume: async (d) => {
      if (rename) for (const r of d.mutate() as ResourceSpans[]) for (const sc of r.scopeSpans) for (const sp of sc.spans) sp.name = rename;
      return next.consume(d);
    },
  }),
});
const memory: ExporterFactory = {
  kind: 'exporter',
  type: 'mem',
  schema: s.object({}),
  signals: { traces: 'development' },
  create: (st) => ({
    mutatesData: false,
    ...lifecycle(st.id),
    consume: async (d) => {
      if (failing.has(st.id)) throw throttleError('full', 2000);
      (seen[st.id] ??= []).push(d as Telemetry<'traces'>);
    },
  }),
};
const factories: Factory[] = [testReceiver, pass('noop', false), pass('rename', true, 'REDACTED'), memory];

const yaml = `
receivers: { feed: }
processors: { noop: , rename: }
exporters: { mem/a: , mem/b: , mem/c: }
service:
  pipelines:
    traces/a: { receivers: [feed], processors: [noop, rename], exporters: [mem/a] }
    traces/b: { receivers: [feed], processors: [noop], exporters: [mem/b, mem/c] }
`;

describe('pipeline graph', () => {
  it('clones for a pipeline whose later processor mutates, so other pipelines see the original', async () => {
    const svc = Service.fromYaml(yaml, { factories, metricsAddress: null, logWrite: () => undefined });
    await svc.start();
    const data = Telemetry.traces(traces(3));
    await feed.traces!.consume(data);
    const names = (id: string) => seen[id]!.flatMap((d) => d.read().flatMap((r) => r.scopeSpans.flatMap((sc) => sc.spans.map((sp) => sp.name))));
    expect(names('mem/a')).toEqual(['REDACTED', 'REDACTED', 'REDACTED']);
    expect(names('mem/b')).toEqual(['GET /api/items/0', 'GET /api/items/1', 'GET /api/items/2']);
    expect(names('mem/c')).toEqual(names('mem/b'));
    await svc.shutdown();
  });

  it('starts downstream first and stops upstream first', async () => {
    events.length = 0;
    const svc = Service.fromYaml(yaml, { factories, metricsAddress: null, logWrite: () => undefined });
    await svc.start();
    await svc.shutdown();
    await svc.shutdown();
    const idx = (e: string) => events.indexOf(e);
    expect(idx('start mem/a')).toBeLessThan(idx('start rename@traces/a'));
    expect(idx('start rename@traces/a')).toBeLessThan(idx('start noop@traces/a'));
    expect(idx('start noop@traces/a')).toBeLessThan(idx('start feed'));
    expect(idx('stop feed')).toBeLessThan(idx('stop noop@traces/a'));
    expect(idx('stop noop@traces/a')).toBeLessThan(idx('stop rename@traces/a'));
    expect(idx('stop rename@traces/a')).toBeLessThan(idx('stop mem/a'));
    expect(events.filter((e) => e === 'stop feed')).toHaveLength(1);
  });

  it('a retryable refusal from one exporter of a fan-out reaches the client as retryable', async () => {
    failing = new Set(['mem/c']);
    try {
      const svc = Service.fromYaml(yaml, { factories, metricsAddress: null, logWrite: () => undefined });
      await svc.start();
      await expect(feed.traces!.consume(Telemetry.traces(traces(1)))).rejects.toMatchObject({ kind: 'exhausted', retryAfterMs: 2000 });
      await svc.shutdown();
    } finally {
      failing = new Set();
    }
  });
});
