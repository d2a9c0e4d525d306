import { describe, expect, it } from 'vitest';
import { LabelBuilder, attributesToLabels, mapToLabels, mergeLabels, withLabel } from './labels.js';
import { LabelNamer } from './naming.js';
import { kvs } from './testdata/metrics.js';

const res = (a: Record<string, string | number>) => ({ attributes: kvs(a), droppedAttributesCount: 0 });
const scope = { name: 'lib', version: '2.0', attributes: [], droppedAttributesCount: 0 };

describe('attributesToLabels', () => {
  it('sanitises, sorts, drops empty values and joins colliding names by original key order', () => {
    const l = attributesToLabels(kvs({ 'b.x': '2', a: '1', b_x: '3', empty: '', 'http.code': 200 }), new LabelNamer());
    expect(l).toEqual(['a', '1', 'b_x', '2;3', 'http_code', '200']);
  });
});

describe('mergeLabels', () => {
  it('gives hi precedence over mid over lo', () => {
    expect(mergeLabels(['a', 'lo', 'c', 'lo'], ['a', 'mid', 'b', 'mid'], ['b', 'hi', 'd', 'hi'])).toEqual(['a', 'mid', 'b', 'hi', 'c', 'lo', 'd', 'hi']);
  });
  it('withLabel inserts or replaces in order', () => {
    expect(withLabel(['a', '1', 'c', '3'], 'b', '2')).toEqual(['a', '1', 'b', '2', 'c', '3']);
    expect(withLabel(['a', '1', 'c', '3'], 'c', 'x')).toEqual(['a', '1', 'c', 'x']);
    expect(withLabel([], 'z', '1')).toEqual(['z', '1']);
  });
  it('mapToLabels sanitises names and drops empty values', () => {
    expect(mapToLabels({ 'z.z': '1', a: '', b: '2' })).toEqual(['b', '2', 'z_z', '1']);
  });
});

describe('LabelBuilder', () => {
  it('maps service.namespace/name to job and service.instance.id to instance, other attributes to target_info', () => {
    const b = new LabelBuilder({ resourceToTelemetry: false, scopeLabels: false, extraLabels: { cluster: 'eu' } });
    const r = b.resource(res({ 'service.name': 'api', 'service.namespace': 'shop', 'service.instance.id': 'i-1', 'host.name': 'h1' }));
    expect(r.job).toBe('shop/api');
    expect(r.instance).toBe('i-1');
    expect(r.targetInfo).toEqual(['cluster', 'eu', 'host_name', 'h1', 'instance', 'i-1', 'job', 'shop/api']);
    // Point attributes lose to job/instance and win over external labels.
    const l = b.point(kvs({ job: 'x', cluster: 'mine', method: 'GET' }), r, r.override);
    expect(l).toEqual(['cluster', 'mine', 'instance', 'i-1', 'job', 'shop/api', 'method', 'GET']);
  });

  it('has no target_info when only identifying attributes are present', () => {
    const b = new LabelBuilder({ resourceToTelemetry: false, scopeLabels: false, extraLabels: {} });
    expect(b.resource(res({ 'service.name': 'api' })).targetInfo).toBeUndefined();
  });

  it('adds resource attributes under point attributes with resource_to_telemetry_conversion', () => {
    const b = new LabelBuilder({ resourceToTelemetry: true, scopeLabels: false, extraLabels: {} });
    const r = b.resource(res({ 'service.name': 'api', region: 'eu', zone: 'a' }));
    expect(b.point(kvs({ zone: 'b' }), r, r.override)).toEqual(['job', 'api', 'region', 'eu', 'service_name', 'api', 'zone', 'b']);
  });

  it('adds scope labels when asked', () => {
    const b = new LabelBuilder({ resourceToTelemetry: false, scopeLabels: true, extraLabels: {} });
    const r = b.resource(res({ 'service.name': 'api' }));
    const o = b.scopeOverride(r, scope);
    expect(b.point(kvs({ a: '1' }), r, o)).toEqual(['a', '1', 'job', 'api', 'otel_scope_name', 'lib', 'otel_scope_version', '2.0']);
  });
});
