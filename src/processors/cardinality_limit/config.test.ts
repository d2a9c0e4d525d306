import { describe, expect, it } from 'vitest';
import { configIssues, parse } from '../../prom/testdata/host.js';
import { cardinalityLimitSchema, validateCardinalityLimit } from './config.js';

describe('cardinality_limit config', () => {
  it('has defaults', () => {
    expect(parse(cardinalityLimitSchema, {}, validateCardinalityLimit)).toEqual({
      max_series_per_metric: 1000,
      group_by_attribute: undefined,
      action: 'overflow',
      series_expiration: 300_000,
      max_tracked_series: 1_000_000,
    });
  });

  it('accepts a full config', () => {
    expect(
      parse(cardinalityLimitSchema, { max_series_per_metric: 50, group_by_attribute: 'tenant', action: 'drop', series_expiration: '10m', max_tracked_series: 5000 }, validateCardinalityLimit),
    ).toEqual({ max_series_per_metric: 50, group_by_attribute: 'tenant', action: 'drop', series_expiration: 600_000, max_tracked_series: 5000 });
  });

  const invalid: [string, unknown, string][] = [
    ['zero cap', { max_series_per_metric: 0 }, 'x::max_series_per_metric: must be at least 1, got 0'],
    ['fractional cap', { max_series_per_metric: 1.5 }, 'x::max_series_per_metric: must be an integer, got 1.5'],
    ['bad action', { action: 'merge' }, 'x::action: must be one of "overflow", "drop", got "merge"'],
    ['empty group attribute', { group_by_attribute: '' }, 'x::group_by_attribute: must not be empty'],
    ['zero expiration', { series_expiration: '0s' }, 'x::series_expiration: must be greater than 0'],
    ['state below cap', { max_series_per_metric: 100, max_tracked_series: 10 }, 'x::max_tracked_series: must be at least max_series_per_metric (100)'],
    ['unknown key', { max_series: 10 }, 'x::max_series: unknown key "max_series"; valid keys: max_series_per_metric, group_by_attribute, action, series_expiration, max_tracked_series'],
  ];
  it.each(invalid)('rejects %s', (_n, raw, message) => {
    expect(configIssues(cardinalityLimitSchema, raw, validateCardinalityLimit)).toContain(message);
  });
});
