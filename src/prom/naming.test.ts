import { describe, expect, it } from 'vitest';
import { buildMetricName, formatCanonical, formatValue, normalizeLabel, promUnit, valueString } from './naming.js';

const withSuffixes = { namespace: '', addMetricSuffixes: true };

describe('buildMetricName with suffixes', () => {
  const cases: [name: string, unit: string, kind: string, monotonic: boolean, want: string][] = [
    ['system.filesystem.usage', 'By', 'gauge', false, 'system_filesystem_usage_bytes'],
    ['system.io', 'By', 'sum', true, 'system_io_bytes_total'],
    ['network.transmitted_bytes', 'By', 'sum', true, 'network_transmitted_bytes_total'],
    ['\t system.filesystem.usage       ', '  By\t', 'gauge', false, 'system_filesystem_usage_bytes'],
    ['system.network.dropped', '{packets}', 'gauge', false, 'system_network_dropped'],
    ['system.network.dropped', '{packets}', 'sum', true, 'system_network_dropped_total'],
    ['system.network.dropped', 'packets', 'gauge', false, 'system_network_dropped_packets'],
    ['system.network.packets.dropped', 'packets', 'gauge', false, 'system_network_packets_dropped'],
    ['hw.gpu.memory.utilization', '1', 'gauge', false, 'hw_gpu_memory_utilization_ratio'],
    ['hw.fan.speed_ratio', '1', 'gauge', false, 'hw_fan_speed_ratio'],
    ['objects', '1', 'sum', true, 'objects_total'],
    ['hw.cpu.speed_limit', 'Hz', 'gauge', false, 'hw_cpu_speed_limit_hertz'],
    ['broken.metric.speed', 'km/h', 'gauge', false, 'broken_metric_speed_km_per_hour'],
    ['astro.light.speed_limit', 'm/s', 'gauge', false, 'astro_light_speed_limit_meters_per_second'],
    ['broken.metric.success_ratio', '%', 'gauge', false, 'broken_metric_success_ratio_percent'],
    ['broken.metric.success_percent', '%', 'gauge', false, 'broken_metric_success_percent'],
    ['test.metric.no_unit', '', 'gauge', false, 'test_metric_no_unit'],
    ['test.metric.spaces', '   \t  ', 'gauge', false, 'test_metric_spaces'],
    ['http.server.duration', 's', 'histogram', false, 'http_server_duration_seconds'],
    ['http.server.request.duration', 'ms', 'histogram', false, 'http_server_request_duration_milliseconds'],
    ['requests.total', '', 'sum', true, 'requests_total'],
    ['total.requests', '', 'sum', true, 'requests_total'],
    ['queue.size', '', 'sum', false, 'queue_size'],
    ['2xx.count', '', 'sum', true, '_2xx_count_total'],
    ['a__b...c', '', 'gauge', false, 'a_b_c'],
    ['name:with:colons', 'By', 'gauge', false, 'name:with:colons_bytes'],
    ['unsupported.metric.temperature', '°F', 'gauge', false, 'unsupported_metric_temperature_F'],
    ['rate', 'By/s', 'gauge', false, 'rate_bytes_per_second'],
    ['rate', '/s', 'gauge', false, 'rate_per_second'],
    ['rate', 'By/{x}', 'gauge', false, 'rate_bytes'],
  ];
  it.each(cases)('%j [%j %s] → %s', (name, unit, kind, monotonic, want) => {
    expect(buildMetricName(name, unit, kind, monotonic, withSuffixes)).toBe(want);
  });

  it('prepends the namespace (and no "_" for a leading digit then)', () => {
    expect(buildMetricName('http.requests', '', 'sum', true, { namespace: 'app', addMetricSuffixes: true })).toBe('app_http_requests_total');
    expect(buildMetricName('2xx', '', 'gauge', false, { namespace: 'app', addMetricSuffixes: true })).toBe('app_2xx');
  });
});

describe('buildMetricName without suffixes', () => {
  const o = { namespace: '', addMetricSuffixes: false };
  it.each([
    ['http.server.duration', 's', 'histogram', 'http_server_duration'],
    ['requests', '', 'sum', 'requests'],
    ['keeps__double_underscores', '', 'gauge', 'keeps__double_underscores'],
    ['9lives', '', 'gauge', '_9lives'],
    ['a-b c', 'By', 'gauge', 'a_b_c'],
  ])('%j → %s', (name, unit, kind, want) => {
    expect(buildMetricName(name, unit, kind, true, o)).toBe(want);
  });
});

describe('normalizeLabel', () => {
  it.each([
    ['http.method', 'http_method'],
    ['service.instance.id', 'service_instance_id'],
    ['2xx', 'key_2xx'],
    ['_private', 'key_private'],
    ['__reserved', '__reserved'],
    ['ünicode-key', 'key_nicode_key'],
    ['OK_Name', 'OK_Name'],
    ['', ''],
  ])('%j → %j', (k, want) => {
    expect(normalizeLabel(k)).toBe(want);
  });
});

describe('promUnit', () => {
  it.each([
    ['s', 'seconds'],
    ['By/s', 'bytes_per_second'],
    ['{request}', ''],
    ['1', ''],
    ['', ''],
  ])('%j → %j', (u, want) => expect(promUnit(u)).toBe(want));
});

describe('values', () => {
  it('formats attribute values as the Collector does', () => {
    expect(valueString({ type: 'string', value: 'x' })).toBe('x');
    expect(valueString({ type: 'int', value: 9007199254740993n })).toBe('9007199254740993');
    expect(valueString({ type: 'double', value: 0.5 })).toBe('0.5');
    expect(valueString({ type: 'bool', value: true })).toBe('true');
    expect(valueString({ type: 'bytes', value: new Uint8Array([1, 2, 3]) })).toBe('AQID');
    expect(valueString({ type: 'array', value: [{ type: 'string', value: 'a' }, { type: 'int', value: 1n }] })).toBe('["a",1]');
    expect(valueString({ type: 'empty' })).toBe('');
  });

  it('formats samples and canonical floats', () => {
    expect(formatValue(Infinity)).toBe('+Inf');
    expect(formatValue(-Infinity)).toBe('-Inf');
    expect(formatValue(NaN)).toBe('NaN');
    expect(formatValue(0.25)).toBe('0.25');
    expect(formatCanonical(1)).toBe('1.0');
    expect(formatCanonical(0.5)).toBe('0.5');
    expect(formatCanonical(Infinity)).toBe('+Inf');
    expect(formatCanonical(1e21)).toBe('1e+21');
  });
});
