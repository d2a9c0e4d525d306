// Hitless reload: processors swapped under load over gRPC and HTTP with the
// real SDK, an invalid config rejected with the old one kept, a TLS
// certificate rotated, and the admin route.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Consumer, ExporterFactory } from '../../src/component/component.js';
import { factories } from '../../src/components.js';
import { s } from '../../src/config/schema.js';
import type { ResourceSpans } from '../../src/pdata/model.js';
import { Service } from '../../src/service/service.js';
import { exportAll, makeSpans, traceExporter, type Protocol } from '../helpers/sdk.js';
import { freePort, tempDir, waitFor } from '../helpers/sieve.js';

/** Span ids and their "str" attribute, as the far end of the pipeline saw them. */
const seen = new Map<string, string>();
let memoryInstances = 0;
const memoryFactory: ExporterFactory = {
  kind: 'exporter',
  type: 'memory',
  schema: s.object({}),
  signals: { traces: 'development' },
  create: () => {
    memoryInstances++;
    return {
      mutatesData: false,
      start: async () => {},
      shutdown: async () => {},
      consume: async (d) => {
        for (const rs of d.read() as readonly ResourceSpans[])
          for (const ss of rs.scopeSpans)
            for (const sp of ss.spans) {
              const v = sp.attributes.find((a) => a.key === 'str')?.value;
              seen.set(Buffer.from(sp.spanId).toString('hex') + Buffer.from(sp.traceId).toString('hex'), v?.type === 'string' ? v.value : '');
            }
      },
    } as Consumer & { start(): Promise<void>; shutdown(): Promise<void> };
  },
};

const config = (p: { grpc: number; http: number }, blocked: string, timeout = '50ms', tls = '') => `
receivers:
  otlp:
    protocols:
      grpc: { endpoint: "127.0.0.1:${p.grpc}" }
      http: { endpoint: "127.0.0.1:${p.http}"${tls} }
processors:
  redaction: { allow_all_keys: true, blocked_values: [${blocked}] }
  batch: { timeout: ${timeout}, send_batch_size: 50 }
  tail_sampling: { decision_wait: 30s, policies: [{ name: all, type: always_sample }] }
exporters:
  memory:
service:
  pipelines:
    traces: { receivers: [otlp], processors: [redaction, batch], exporters: [memory] }
    traces/sampled: { receivers: [otlp], processors: [tail_sampling], exporters: [memory] }
`;

let svc: Service | undefined;
afterEach(async () => {
  await svc?.shutdown();
  svc = undefined;
  seen.clear();
});

async function start(yaml: string, logs: string[] = []): Promise<{ file: string; svc: Service }> {
  const file = join(tempDir(), 'sieve.yaml');
  writeFileSync(file, yaml);
  svc = Service.fromFiles([file], { factories: [...factories, memoryFactory], metricsAddress: null, logWrite: (l) => logs.push(l) });
  await svc.start();
  return { file, svc };
}

/** Tries TCP connections to each port until stopped; returns the refusals seen. */
function probe(ports: number[]): { stop(): Promise<{ refused: number; ok: number }> } {
  let running = true;
  let refused = 0;
  let ok = 0;
  const loop = (async () => {
    while (running) {
      await Promise.all(
        ports.map(
          (port) =>
            new Promise<void>((r) => {
              const c = connect(port, '127.0.0.1');
              c.once('connect', () => (ok++, c.destroy(), r()));
              c.once('error', () => (refused++, r()));
            }),
        ),
      );
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { refused, ok };
    },
  };
}

describe('hitless reload', () => {
  it('swaps a changed processor under load with nothing acknowledged lost and no refused connection', async () => {
    const ports = { grpc: await freePort(), http: await freePort() };
    const { file, svc } = await start(config(ports, ''));
    const before = svc.components();
    const receiver = before.get('otlp')!.component;
    const tail = before.get('tail_sampling@traces/sampled')!.component;
    const redaction = before.get('redaction@traces')!.component;
    const instancesBefore = memoryInstances;

    let acked = 0;
    let failed = 0;
    const ackedIds: string[] = [];
    let loading = true;
    const load = async (p: Protocol) => {
      const exp = traceExporter(p, ports);
      while (loading) {
        const spans = makeSpans(5);
        try {
          await exportAll(exp, spans);
          acked += spans.length;
          for (const sp of spans) ackedIds.push(sp.spanContext().spanId + sp.spanContext().traceId);
        } catch {
          failed++;
        }
      }
      await exp.shutdown();
    };
    const clients = [load('grpc'), load('http/protobuf'), load('grpc'), load('http/json')];
    const pr = probe([ports.grpc, ports.http]);
    await waitFor(() => acked > 200, { what: 'load before the reload' });
    writeFileSync(file, config(ports, '"value-[0-9]+"', '80ms'));
    const r = await svc.reload();
    expect(r.errors).toEqual([]);
    expect(r.ok).toBe(true);
    const atReload = acked;
    await waitFor(() => acked > atReload + 200, { what: 'load after the reload' });
    loading = false;
    await Promise.all(clients);
    const probes = await pr.stop();

    expect(failed).toBe(0);
    expect(probes.refused).toBe(0);
    expect(probes.ok).toBeGreaterThan(0);
    // Every acknowledged span reached the exporter: twice, once per pipeline, under one key.
    await waitFor(() => ackedIds.every((id) => seen.has(id)), { what: 'every acknowledged span at the exporter' });
    expect(ackedIds.filter((id) => !seen.has(id))).toEqual([]);
    // The new redaction rule applies to what came after the reload; the old data was left alone.
    const values = [...seen.values()].filter((v) => v !== '');
    expect(values.some((v) => v === '****')).toBe(true);
    // Unchanged parts kept running: same receiver (listeners bound), same tail-sampling buffer, same exporter.
    const after = svc.components();
    expect(after.get('otlp')!.component).toBe(receiver);
    expect(after.get('tail_sampling@traces/sampled')!.component).toBe(tail);
    expect(after.get('redaction@traces')!.component).not.toBe(redaction);
    expect(memoryInstances).toBe(instancesBefore);
    expect(r.kept).toEqual(expect.arrayContaining(['receiver:otlp', 'processor:tail_sampling:traces/sampled', 'exporter:memory:traces']));
    expect(r.started).toEqual(expect.arrayContaining(['processor:redaction:traces', 'processor:batch:traces']));
  }, 60_000);

  it('keeps the running config when the new one is invalid, reporting paths and lines', async () => {
    const ports = { grpc: await freePort(), http: await freePort() };
    const logs: string[] = [];
    const { file, svc } = await start(config(ports, '"value-[0-9]+"'), logs);
    writeFileSync(file, config(ports, '"value-[0-9]+"').replace('send_batch_size: 50', 'send_batch_size: -3').replace('memory:', 'memory:\n  nope/x:'));
    const r = await svc.reload();
    expect(r.ok).toBe(false);
    expect(r.errors).toEqual(expect.arrayContaining([expect.stringMatching(/^processors::batch::send_batch_size: .*\(sieve\.yaml:9\)$/), expect.stringMatching(/^exporters::nope\/x: unknown exporter type "nope".*\(sieve\.yaml:\d+\)$/)]));
    expect(logs.some((l) => l.includes('Config reload rejected') && l.includes('send_batch_size'))).toBe(true);
    const text = await svc.telemetry.text();
    expect(text).toMatch(/sieve_config_reloads_total\{result="failure"\} 1/);
    expect(text).toMatch(/sieve_config_last_reload_successful 0/);
    // The old pipeline still runs with its rule.
    await exportAll(traceExporter('http/protobuf', ports), makeSpans(3));
    await waitFor(() => [...seen.values()].includes('****'), { what: 'data through the old config' });
  });

  it('rotates a TLS certificate on reload', async () => {
    const dir = tempDir();
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    const mk = (cn: string) =>
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-subj', `/CN=${cn}`, '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '2'], { stdio: 'ignore' });
    mk('first');
    const ports = { grpc: await freePort(), http: await freePort() };
    const { svc } = await start(config(ports, '', '50ms', `, tls: { cert_file: ${cert}, key_file: ${key} }`));
    const peer = () =>
      new Promise<string>((resolve, reject) => {
        const c = tlsConnect({ host: '127.0.0.1', port: ports.http, rejectUnauthorized: false }, () => {
          resolve(String(c.getPeerCertificate().subject.CN));
          c.destroy();
        });
        c.once('error', reject);
      });
    expect(await peer()).toBe('first');
    mk('second');
    const r = await svc.reload();
    expect(r.ok).toBe(true);
    expect(r.started).toContain('receiver:otlp');
    expect(await peer()).toBe('second');
  });

  it('reloads through POST /reload on the admin endpoint, with the bearer token', async () => {
    const ports = { grpc: await freePort(), http: await freePort(), admin: await freePort() };
    const admin = `  admin: { endpoint: "127.0.0.1:${ports.admin}", bearer_token: "t0ken" }\n`;
    const { file } = await start(config(ports, '').replace('service:\n', `service:\n${admin}`));
    const post = (token?: string) => fetch(`http://127.0.0.1:${ports.admin}/reload`, { method: 'POST', headers: token ? { authorization: `Bearer ${token}` } : {} });
    expect((await post()).status).toBe(401);
    writeFileSync(file, config(ports, '"value-[0-9]+"').replace('service:\n', `service:\n${admin}`));
    const ok = await post('t0ken');
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { started: string[] }).started).toContain('processor:redaction:traces');
    writeFileSync(file, 'receivers: [\n');
    const bad = await post('t0ken');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { errors: string[] }).errors[0]).toMatch(/YAML/);
  });
});

describe('Alertmanager webhook', () => {
  it('a firing alert turns on tail-sampling incident mode; a resolved one is ignored', async () => {
    const ports = { grpc: await freePort(), http: await freePort(), admin: await freePort() };
    await start(
      config(ports, '').replace('service:\n', `service:\n  admin: { endpoint: "127.0.0.1:${ports.admin}", bearer_token: t0ken }\n`),
    );
    const post = (body: unknown, q = '') =>
      fetch(`http://127.0.0.1:${ports.admin}/alertmanager${q}`, { method: 'POST', headers: { authorization: 'Bearer t0ken' }, body: JSON.stringify(body) });
    const resolved = await post({ status: 'resolved', alerts: [{ status: 'resolved', labels: { alertname: 'SLOErrorBudgetBurn' } }] });
    expect(await resolved.json()).toEqual({ status: 'ignored', firing: 0 });
    const state = async () => ((await (await fetch(`http://127.0.0.1:${ports.admin}/admin/incident-mode`, { headers: { authorization: 'Bearer t0ken' } })).json()) as { processors: { active: boolean }[] }).processors[0]!;
    expect((await state()).active).toBe(false);
    const firing = await post({ status: 'firing', alerts: [{ status: 'firing', labels: { alertname: 'SLOErrorBudgetBurn', slo: 'checkout-availability' } }] }, '?duration=10m');
    expect(firing.status).toBe(200);
    expect((await state()).active).toBe(true);
  });
});
