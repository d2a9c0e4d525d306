import { describe, expect, it } from 'vitest';
import { configIssues } from '../../prom/testdata/host.js';
import { acceptHeader, parsePromDuration, prometheusReceiverSchema, resolveJobs, validatePrometheusReceiver } from './config.js';
import { parseConfig } from './testdata/harness.js';

describe('prometheus receiver config', () => {
  it('collects every error with its path', () => {
    const got = configIssues(
      prometheusReceiverSchema,
      {
        config: {
          global: { scrape_interval: '10s', scrape_timeout: '20s' },
          rule_files: ['x.yml'],
          scrape_configs: [
            { job_name: 'a', scrape_interval: 'soon', metrics_path: 'metrics', static_configs: [{ targets: ['http://x:1/metrics'], labels: { '1bad': 'v' } }] },
            { job_name: 'a', scrape_timeout: '1m', basic_auth: { username: 'u' }, authorization: { credentials: 't' }, scrape_protocols: ['PrometheusProto'] },
            { job_name: 'c', tls_config: { cert_file: '/c.pem' }, body_size_limit: 'lots', unknown_key: 1 },
          ],
        },
      },
      validatePrometheusReceiver,
    );
    expect(got).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^x::config::scrape_configs::0::scrape_interval: must be a Prometheus duration/),
        expect.stringMatching(/^x::config::scrape_configs::2::body_size_limit: must be a size/),
        expect.stringMatching(/^x::config::scrape_configs::2::unknown_key: unknown key/),
      ]),
    );
    // Cross-field checks run once the schema is clean.
    const cross = configIssues(
      prometheusReceiverSchema,
      {
        config: {
          global: { scrape_interval: '10s', scrape_timeout: '20s' },
          rule_files: ['x.yml'],
          scrape_configs: [
            { job_name: 'a', metrics_path: 'metrics', static_configs: [{ targets: ['http://x:1/metrics'], labels: { '1bad': 'v' } }] },
            { job_name: 'a', scrape_timeout: '1m', basic_auth: { username: 'u' }, authorization: { credentials: 't' }, scrape_protocols: ['PrometheusProto'] },
            { job_name: 'c', tls_config: { cert_file: '/c.pem' } },
          ],
        },
      },
      validatePrometheusReceiver,
    );
    expect(cross.map((l) => l.split(':: ')[0]!.split(': ')[0])).toEqual(
      expect.arrayContaining([
        'x::config::rule_files',
        'x::config::global::scrape_timeout',
        'x::config::scrape_configs::0::metrics_path',
        'x::config::scrape_configs::0::static_configs::0::targets::0',
        'x::config::scrape_configs::0::static_configs::0::labels::1bad',
        'x::config::scrape_configs::1::job_name',
        'x::config::scrape_configs::1::scrape_timeout',
        'x::config::scrape_configs::1',
        'x::config::scrape_configs::1::scrape_protocols::0',
        'x::config::scrape_configs::2::tls_config',
      ]),
    );
  });

  it('needs at least one scrape config', () => {
    expect(configIssues(prometheusReceiverSchema, {}, validatePrometheusReceiver)).toEqual(['x::config::scrape_configs: must list at least one scrape config']);
  });

  it('applies global defaults and the 100 MiB body limit', () => {
    const [j] = resolveJobs(parseConfig({ config: { global: { scrape_interval: '30s', scrape_timeout: '5s' }, scrape_configs: [{ job_name: 'a' }] } }));
    expect(j).toMatchObject({ intervalMs: 30_000, timeoutMs: 5000, bodyLimit: 100 * 1024 * 1024, sampleLimit: 0 });
    expect(resolveJobs(parseConfig({ config: { scrape_configs: [{ job_name: 'a', body_size_limit: '10MB' }] } }))[0]!.bodyLimit).toBe(10 * 1024 * 1024);
  });

  it('reads Prometheus durations and builds the Accept header', () => {
    expect([parsePromDuration('1m30s'), parsePromDuration('1d'), parsePromDuration('250ms'), parsePromDuration('1.5s')]).toEqual([90_000, 86_400_000, 250, undefined]);
    expect(acceptHeader(['OpenMetricsText1.0.0', 'PrometheusText0.0.4'])).toBe('application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.667,*/*;q=0.25');
  });
});
