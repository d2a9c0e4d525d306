import { describe, expect, it } from 'vitest';
import { Issues } from '../../config/schema.js';
import { Telemetry } from '../../pdata/telemetry.js';
import { nopLogger } from '../../service/logger.js';
import { SelfTelemetry } from '../../service/telemetry.js';
import { logs, traces } from '../../../test/helpers/model.js';
import { debugSchema } from './factory.js';
import { DebugExporter } from './exporter.js';

function make(verbosity: string, signal: 'traces' | 'logs', now = () => 0) {
  const out: string[] = [];
  const cfg = debugSchema.parse({ verbosity, sampling_initial: 2, sampling_thereafter: 3 }, [], new Issues());
  const e = new DebugExporter({ id: 'debug', kind: 'exporter', logger: nopLogger, telemetry: new SelfTelemetry(), instanceId: 'x', now }, cfg, signal, (s) => out.push(s));
  return { e, out };
}

describe('debug exporter', () => {
  it('basic: one line per batch with counts', async () => {
    const { e, out } = make('basic', 'traces');
    await e.consume(Telemetry.traces(traces(7)));
    expect(out).toHaveLength(1);
    expect(JSON.parse(out[0]!)).toEqual({ kind: 'exporter', data_type: 'traces', name: 'debug', items: 7, resources: 1 });
  });

  it('normal: a line per item', async () => {
    const { e, out } = make('normal', 'logs');
    await e.consume(Telemetry.logs(logs(3)));
    expect(out[0]!.trim().split('\n')).toHaveLength(4);
    expect(out[0]).toContain('INFO log line 2');
  });

  it('detailed: the whole batch as OTLP/JSON', async () => {
    const { e, out } = make('detailed', 'traces');
    await e.consume(Telemetry.traces(traces(2)));
    const body = JSON.parse(out[0]!.split('\n')[1]!);
    expect(body.resourceSpans[0].scopeSpans[0].spans).toHaveLength(2);
  });

  it('samples: the first sampling_initial batches per second, then one in sampling_thereafter', async () => {
    const { e, out } = make('basic', 'traces');
    for (let i = 0; i < 11; i++) await e.consume(Telemetry.traces(traces(1)));
    expect(out).toHaveLength(2 + 3);
  });
});
