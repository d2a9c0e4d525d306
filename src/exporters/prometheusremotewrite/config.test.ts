import { describe, expect, it } from 'vitest';
import { configIssues, parse } from '../../prom/testdata/host.js';
import { helperConfig, prwSchema, resolveQueue, validatePrw } from './config.js';

const endpoint = 'http://prometheus:9090/api/v1/write';

describe('prometheusremotewrite config', () => {
  it('has the defaults', () => {
    const c = parse(prwSchema, { endpoint }, validatePrw);
    expect(c).toMatchObject({
      namespace: '',
      external_labels: {},
      add_metric_suffixes: true,
      resource_to_telemetry_conversion: { enabled: false },
      target_info: { enabled: true },
      max_batch_size_bytes: 3_000_000,
      max_tracked_series: 500_000,
      staleness: { enabled: true, missed_intervals: 3, max_age: 300_000, min_interval: 10_000 },
      timeout: 5000,
      retry_on_failure: { enabled: true, initial_interval: 50, max_interval: 5000, max_elapsed_time: 300_000 },
    });
    // The Collector's remote_write_queue defaults: 5 consumers, 10000 requests.
    expect(resolveQueue(c)).toMatchObject({ enabled: true, num_consumers: 5, queue_size: 10_000 });
  });

  it('maps remote_write_queue onto the sending queue', () => {
    const c = parse(prwSchema, { endpoint, remote_write_queue: { enabled: true, queue_size: 20, num_consumers: 2 } }, validatePrw);
    expect(helperConfig(c).sending_queue).toMatchObject({ enabled: true, queue_size: 20, num_consumers: 2 });
    const q = parse(prwSchema, { endpoint, sending_queue: { num_consumers: 3 } }, validatePrw);
    expect(resolveQueue(q)).toMatchObject({ num_consumers: 3, queue_size: 1000 });
  });

  it('warns that protocol headers cannot be overridden', () => {
    expect(configIssues(prwSchema, { endpoint, headers: { 'Content-Type': 'x' } }, validatePrw)).toEqual([
      'warning: x::headers::Content-Type: is set by the Remote Write protocol and cannot be overridden; ignored',
    ]);
  });

  const invalid: [string, unknown, string][] = [
    ['missing endpoint', {}, 'x::endpoint: is required'],
    ['endpoint not a URL', { endpoint: 'prometheus:9090' }, 'x::endpoint: must be an http:// or https:// URL, got "prometheus:9090"'],
    ['bad namespace', { endpoint, namespace: 'a-b' }, 'x::namespace: must match [a-zA-Z_:][a-zA-Z0-9_:]*, got "a-b"'],
    ['bad external label', { endpoint, external_labels: { 'a.b': 'x' } }, 'x::external_labels::a.b: is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)'],
    ['reserved external label', { endpoint, external_labels: { __x: 'x' } }, 'x::external_labels::__x: label names starting with "__" are reserved'],
    ['empty external label', { endpoint, external_labels: { a: '' } }, 'x::external_labels::a: must not be empty'],
    ['wal', { endpoint, wal: { directory: '/tmp' } }, 'x::wal: is not supported; use sending_queue::storage with a file_storage extension for a persistent queue'],
    ['both queues', { endpoint, sending_queue: {}, remote_write_queue: {} }, 'x::remote_write_queue: cannot be combined with sending_queue; use one of them'],
    ['tiny batches', { endpoint, max_batch_size_bytes: 10 }, 'x::max_batch_size_bytes: must be at least 1024, got 10'],
    ['zero consumers', { endpoint, remote_write_queue: { num_consumers: 0 } }, 'x::remote_write_queue::num_consumers: must be at least 1, got 0'],
    ['staleness max_age 0', { endpoint, staleness: { max_age: '0s' } }, 'x::staleness::max_age: must be greater than 0'],
    ['min_interval over max_age', { endpoint, staleness: { max_age: '5s' } }, 'x::staleness::min_interval: must not be greater than max_age'],
    ['retry intervals', { endpoint, retry_on_failure: { initial_interval: '10s', max_interval: '1s' } }, 'x::retry_on_failure::max_interval: must not be less than initial_interval'],
    ['unknown key', { endpoint, external_label: {} }, 'x::external_label: unknown key "external_label" (did you mean "external_labels"?)'],
  ];
  it.each(invalid)('rejects %s', (_n, raw, message) => {
    expect(configIssues(prwSchema, raw, validatePrw)).toContain(message);
  });
});
