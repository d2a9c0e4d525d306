import { describe, expect, it } from 'vitest';
import { validateYaml } from '../service/service.js';
import { expandEnv } from './loader.js';
import { parseDuration } from './schema.js';

const base = `
receivers:
  otlp:
    protocols:
      grpc:
exporters:
  debug:
service:
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [debug]
`;

describe('valid configs', () => {
  const cases: [string, string, (c: NonNullable<ReturnType<typeof validateYaml>['config']>) => void][] = [
    ['minimal, with an empty grpc block taking the defaults', base, (c) => {
      expect(c.receivers.get('otlp')!.config.protocols.grpc.endpoint).toBe('127.0.0.1:4317');
      expect(c.receivers.get('otlp')!.config.protocols.http).toBeUndefined();
      expect(c.receivers.get('otlp')!.config.protocols.grpc.max_recv_msg_size_mib).toBe(4);
    }],
    ['named components and pipelines', `
receivers:
  otlp/in: { protocols: { http: { endpoint: "127.0.0.1:9999" } } }
processors:
  batch/small: { send_batch_size: 10, timeout: 1s, max_buffered_items: 100_000 }
exporters:
  otlp/tempo: { endpoint: "tempo:4317", tls: { insecure: true } }
  otlphttp/loki: { endpoint: "http://loki:3100/otlp" }
service:
  pipelines:
    traces/a: { receivers: [otlp/in], processors: [batch/small], exporters: [otlp/tempo] }
    logs: { receivers: [otlp/in], processors: [batch/small], exporters: [otlphttp/loki] }
`, (c) => {
      expect(c.pipelines.map((p) => [p.id, p.signal])).toEqual([['traces/a', 'traces'], ['logs', 'logs']]);
      expect(c.processors.get('batch/small')!.config).toMatchObject({ send_batch_size: 10, timeout: 1000, send_batch_max_size: 0, max_buffered_items: 100000 });
      expect(c.exporters.get('otlp/tempo')!.config.retry_on_failure).toMatchObject({ enabled: true, initial_interval: 5000, max_interval: 30000, max_elapsed_time: 300000 });
      expect(c.exporters.get('otlphttp/loki')!.config.timeout).toBe(30000);
    }],
    ['durations, sizes and env expansion with defaults', `
receivers:
  otlp:
    protocols:
      http: { endpoint: "\${env:SIEVE_TEST_EP:-127.0.0.1:4318}", max_request_body_size: 10MiB }
processors:
  memory_limiter: { check_interval: 1s500ms, limit_mib: "\${env:SIEVE_TEST_LIMIT}" }
exporters:
  file: { path: "/tmp/x-$$HOME.jsonl" }
service:
  pipelines:
    logs: { receivers: [otlp], processors: [memory_limiter], exporters: [file] }
`, (c) => {
      expect(c.receivers.get('otlp')!.config.protocols.http.max_request_body_size).toBe(10 * 1024 * 1024);
      expect(c.processors.get('memory_limiter')!.config).toMatchObject({ check_interval: 1500, limit_mib: 300 });
      expect(c.exporters.get('file')!.config.path).toBe('/tmp/x-$HOME.jsonl');
    }],
  ];
  for (const [name, yaml, check] of cases) {
    it(name, () => {
      const r = validateYaml(yaml, undefined, { SIEVE_TEST_LIMIT: '300' });
      expect(r.errors).toEqual([]);
      check(r.config!);
    });
  }

  it('the embedded default config is valid', async () => {
    const { validateFiles } = await import('../service/service.js');
    const r = validateFiles(['config/sieve.yaml'], undefined, {});
    expect(r.errors).toEqual([]);
    expect(r.config!.pipelines.map((p) => p.id).sort()).toEqual(['logs', 'metrics', 'traces']);
  });
});

describe('invalid configs', () => {
  // Each case lists every error expected, in order, with its path and line.
  const cases: [string, string, string[]][] = [
    ['unknown and missing references, all reported at once', `
receivers:
  otlp:
    protocols:
      grpc:
exporters:
  otlp/tempo:
    endpoint: "not a host port"
service:
  pipelines:
    traces:
      receivers: [otlp, zipkin]
      processors: [batch]
      exporters: [otlp/tempo]
`, [
      'exporters::otlp/tempo::endpoint: must be host:port, got "not a host port" (config.yaml:8)',
      'service::pipelines::traces::receivers::1: references receiver "zipkin" which is not configured (config.yaml:12)',
      'service::pipelines::traces::processors::0: references processor "batch" which is not configured (config.yaml:13)',
    ]],
    ['unknown keys, with a suggestion', `
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:4317
        max_recv_msg_size: 4
processors:
  batch:
    send_batch_siz: 100
exporters:
  debug:
service:
  pipelines:
    traces: { receivers: [otlp], processors: [batch], exporters: [debug] }
`, [
      'receivers::otlp::protocols::grpc::max_recv_msg_size: unknown key "max_recv_msg_size" (did you mean "max_recv_msg_size_mib"?) (config.yaml:7)',
      'processors::batch::send_batch_siz: unknown key "send_batch_siz" (did you mean "send_batch_size"?) (config.yaml:10)',
    ]],
    ['wrong types and ranges', `
receivers:
  otlp:
    protocols:
      http:
        max_request_body_size: lots
processors:
  batch:
    timeout: 5 minutes
    send_batch_size: 100
    send_batch_max_size: 10
  memory_limiter:
    check_interval: 0s
exporters:
  file:
    path: ./x.jsonl
    format: xml
service:
  pipelines:
    logs: { receivers: [otlp], processors: [memory_limiter, batch], exporters: [file] }
`, [
      'receivers::otlp::protocols::http::max_request_body_size: must be a size in bytes such as 20971520 or "20MiB", got string "lots" (config.yaml:6)',
      'processors::batch::timeout: must be a duration such as "5s", "200ms" or "1m30s", got string "5 minutes" (config.yaml:9)',
      'processors::memory_limiter::check_interval: must be greater than zero (config.yaml:13)',
      'processors::memory_limiter::limit_mib: either limit_mib or limit_percentage must be set (config.yaml:12)',
      'exporters::file::format: must be one of "json", "proto", got "xml" (config.yaml:17)',
    ]],
    ['unknown component types and bad ids', `
receivers:
  kafka:
  Otlp/x:
exporters:
  debug:
service:
  pipelines:
    traces: { receivers: [kafka], exporters: [debug] }
    spans: { receivers: [kafka], exporters: [debug] }
`, [
      'receivers::kafka: unknown receiver type "kafka"; known types: filelog, otlp, prometheus (config.yaml:3)',
      'receivers::Otlp/x: invalid component id "Otlp/x": must be type[/name] with a lower_snake_case type (config.yaml:4)',
      'service::pipelines::traces::receivers::0: references receiver "kafka" which is not configured (config.yaml:9)',
      'service::pipelines::spans: invalid pipeline id "spans": must be traces, metrics or logs, optionally followed by /name (config.yaml:10)',
    ]],
    ['no protocols, empty pipeline parts', `
receivers:
  otlp:
    protocols: {}
exporters:
  otlphttp:
    endpoint: ftp://x
service:
  pipelines:
    metrics:
      receivers: [otlp]
      exporters: []
`, [
      'receivers::otlp::protocols: must enable at least one protocol (grpc or http) (config.yaml:4)',
      'exporters::otlphttp::endpoint: must be an http:// or https:// URL, got "ftp://x" (config.yaml:7)',
      'service::pipelines::metrics::exporters: must have at least one exporter (config.yaml:12)',
    ]],
    ['YAML syntax and duplicate keys', `
receivers:
  otlp:
    protocols:
      grpc:
  otlp:
    protocols:
      http:
`, [
      'YAML: Map keys must be unique (config.yaml:6)',
    ]],
    ['no pipelines', `
receivers:
  otlp: { protocols: { grpc: } }
`, [
      'service::pipelines: at least one pipeline is required',
    ]],
  ];
  for (const [name, yaml, expected] of cases) {
    it(name, () => {
      const r = validateYaml(yaml, undefined, {});
      // Component and section order is deterministic: sections in order, then pipelines.
      expect(r.errors).toEqual(expected);
      expect(r.config).toBeUndefined();
    });
  }
});

describe('env expansion', () => {
  const env = { A: 'x', EMPTY: '' };
  it.each([
    ['${env:A}', 'x'],
    ['${A}', 'x'],
    ['pre-${env:A}-post', 'pre-x-post'],
    ['${env:MISSING:-dflt}', 'dflt'],
    ['${env:EMPTY:-dflt}', 'dflt'],
    ['${env:MISSING}', ''],
    ['$$5 and $${env:A}', '$5 and ${env:A}'],
    ['no refs', 'no refs'],
  ])('%s → %s', (input, out) => {
    expect(expandEnv(input, env, () => undefined)).toBe(out);
  });
  it('rejects other providers', () => {
    const errs: string[] = [];
    expandEnv('${file:/etc/passwd}', env, (m) => errs.push(m));
    expect(errs).toEqual(['unsupported config provider in ${file:/etc/passwd}; only env is supported']);
  });
});

describe('durations', () => {
  it.each([
    ['200ms', 200],
    ['5s', 5000],
    ['1m30s', 90000],
    ['1h', 3600000],
    ['1.5s', 1500],
    ['0', 0],
    ['500us', 0.5],
  ])('%s', (t, ms) => expect(parseDuration(t)).toBe(ms));
  it.each(['5', 's', '5 s', '-1s', '1d'])('rejects %s', (t) => expect(parseDuration(t)).toBeUndefined());
});
