import { describe, expect, it } from 'vitest';
import { configIssues, parse } from '../../prom/testdata/host.js';
import { prometheusExporterSchema, validatePrometheusExporter } from './config.js';

describe('prometheus exporter config', () => {
  it('has the Collector defaults', () => {
    const c = parse(prometheusExporterSchema, { endpoint: '0.0.0.0:8889' }, validatePrometheusExporter);
    expect(c).toMatchObject({
      endpoint: '0.0.0.0:8889',
      namespace: '',
      const_labels: {},
      send_timestamps: false,
      metric_expiration: 300_000,
      resource_to_telemetry_conversion: { enabled: false },
      enable_open_metrics: false,
      add_metric_suffixes: true,
      without_scope_info: false,
      max_series: 100_000,
    });
    expect(c.auth).toBeUndefined();
  });

  it('accepts a full config', () => {
    const c = parse(
      prometheusExporterSchema,
      {
        endpoint: '127.0.0.1:9464',
        namespace: 'sieve',
        const_labels: { cluster: 'eu-1' },
        send_timestamps: true,
        metric_expiration: '1m30s',
        resource_to_telemetry_conversion: { enabled: true },
        enable_open_metrics: true,
        add_metric_suffixes: false,
        max_series: 10,
        auth: { bearer_token: 's3cret' },
      },
      validatePrometheusExporter,
    );
    expect(c.metric_expiration).toBe(90_000);
    expect(c.auth?.bearer_token).toBe('s3cret');
  });

  const invalid: [string, unknown, string][] = [
    ['missing endpoint', {}, 'x::endpoint: is required'],
    ['bad endpoint', { endpoint: 'localhost' }, 'x::endpoint: must be host:port, got "localhost"'],
    ['bad namespace', { endpoint: ':1', namespace: 'my-app' }, 'x::namespace: must match [a-zA-Z_:][a-zA-Z0-9_:]*, got "my-app"'],
    ['bad const label name', { endpoint: ':1', const_labels: { 'a-b': 'x' } }, 'x::const_labels::a-b: is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)'],
    ['reserved const label', { endpoint: ':1', const_labels: { __name__: 'x' } }, 'x::const_labels::__name__: label names starting with "__" are reserved'],
    ['empty const label', { endpoint: ':1', const_labels: { a: '' } }, 'x::const_labels::a: must not be empty'],
    ['zero expiration', { endpoint: ':1', metric_expiration: '0s' }, 'x::metric_expiration: must be greater than 0'],
    ['empty token', { endpoint: ':1', auth: { bearer_token: '' } }, 'x::auth::bearer_token: must not be empty'],
    ['token missing', { endpoint: ':1', auth: {} }, 'x::auth: set exactly one of bearer_token or authenticator'],
    ['max_series 0', { endpoint: ':1', max_series: 0 }, 'x::max_series: must be at least 1, got 0'],
    ['unknown key', { endpoint: ':1', metrics_expiration: '1m' }, 'x::metrics_expiration: unknown key "metrics_expiration" (did you mean "metric_expiration"?)'],
    ['tls without cert', { endpoint: ':1', tls: { key_file: '/k' } }, 'x::tls::cert_file: is required when tls is set'],
    ['bad duration', { endpoint: ':1', metric_expiration: 'soon' }, 'x::metric_expiration: must be a duration such as "5s", "200ms" or "1m30s", got string "soon"'],
  ];
  it.each(invalid)('rejects %s', (_name, raw, message) => {
    expect(configIssues(prometheusExporterSchema, raw, validatePrometheusExporter)).toContain(message);
  });
});
