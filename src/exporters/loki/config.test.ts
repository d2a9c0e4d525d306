import { describe, expect, it } from 'vitest';
import { validateYaml } from '../../service/service.js';
import type { LokiConfig } from './config.js';

function yaml(exporter: string): string {
  return `
receivers:
  otlp: { protocols: { http: } }
exporters:
  loki:
${exporter
  .trim()
  .split('\n')
  .map((l) => '    ' + l)
  .join('\n')}
service:
  pipelines:
    logs: { receivers: [otlp], exporters: [loki] }
`;
}

function load(exporter: string) {
  const r = validateYaml(yaml(exporter));
  return { ...r, loki: r.config?.exporters.get('loki')?.config as LokiConfig | undefined };
}

describe('loki exporter config', () => {
  it('takes the defaults', () => {
    const { errors, warnings, loki } = load('endpoint: http://loki:3100/loki/api/v1/push');
    expect(errors).toEqual([]);
    expect(warnings).toEqual([]);
    expect(loki).toMatchObject({
      endpoint: 'http://loki:3100/loki/api/v1/push',
      encoding: 'protobuf',
      tenant: { source: 'context', attribute: 'tenant.id', header: 'X-Scope-OrgID' },
      labels: { resource: ['service.name', 'service.namespace', 'deployment.environment'], attributes: [], level: true },
      structured_metadata: true,
      line_format: 'raw',
      max_line_size: 256 * 1024,
      line_too_long: 'truncate',
      max_streams: 1000,
      timeout: 5000,
    });
  });

  const valid: [string, string, Partial<LokiConfig>][] = [
    ['static tenant, json, logfmt', 'endpoint: http://loki:3100/loki/api/v1/push\ntenant: { source: static, value: team-a }\nencoding: json\nline_format: logfmt', { encoding: 'json', line_format: 'logfmt' }],
    ['attribute tenant with fallback', 'endpoint: http://loki:3100/loki/api/v1/push\ntenant: { source: attribute, attribute: org, value: shared }', { tenant: { source: 'attribute', attribute: 'org', value: 'shared', header: 'X-Scope-OrgID' } }],
    ['15 labels', `endpoint: http://loki:3100/loki/api/v1/push\nlabels: { level: false, resource: [${Array.from({ length: 15 }, (_, i) => `r${i}`).join(', ')}] }`, {}],
    ['sizes', 'endpoint: http://loki:3100/loki/api/v1/push\nmax_line_size: 64KiB\nline_too_long: drop\nmax_streams: 10', { max_line_size: 65536, line_too_long: 'drop', max_streams: 10 }],
    ['a static X-Scope-OrgID header with the context source', 'endpoint: http://loki:3100/loki/api/v1/push\nheaders: { X-Scope-OrgID: ops }', { headers: { 'X-Scope-OrgID': 'ops' } }],
  ];
  for (const [name, text, want] of valid) {
    it(`accepts ${name}`, () => {
      const { errors, loki } = load(text);
      expect(errors).toEqual([]);
      expect(loki).toMatchObject(want);
    });
  }

  const invalid: [string, string, string][] = [
    ['no endpoint', 'encoding: protobuf', 'exporters::loki::endpoint: is required'],
    ['a bad endpoint', 'endpoint: loki:3100', 'exporters::loki::endpoint: must be an http:// or https:// URL, got "loki:3100"'],
    ['an unknown encoding', 'endpoint: http://l/loki/api/v1/push\nencoding: snappy', 'exporters::loki::encoding: must be one of "protobuf", "json", got "snappy"'],
    ['an unknown line format', 'endpoint: http://l/loki/api/v1/push\nline_format: xml', 'exporters::loki::line_format: must be one of "raw", "json", "logfmt", got "xml"'],
    ['a static tenant without a value', 'endpoint: http://l/loki/api/v1/push\ntenant: { source: static }', 'exporters::loki::tenant::value: is required when source is "static"'],
    ['an invalid tenant id', 'endpoint: http://l/loki/api/v1/push\ntenant: { source: static, value: "a b" }', `exporters::loki::tenant::value: tenant id "a b" has characters other than letters, digits and !-_.*'()`],
    ['an unknown tenant source', 'endpoint: http://l/loki/api/v1/push\ntenant: { source: header }', 'exporters::loki::tenant::source: must be one of "context", "static", "attribute", got "header"'],
    ['16 labels', `endpoint: http://l/loki/api/v1/push\nlabels: { resource: [${Array.from({ length: 15 }, (_, i) => `r${i}`).join(', ')}] }`, 'exporters::loki::labels: at most 15 labels are allowed (Loki rejects streams with more), got 16'],
    ['two attributes making one label', 'endpoint: http://l/loki/api/v1/push\nlabels: { attributes: [service_name] }', 'exporters::loki::labels::attributes::0: label "service_name" is already made from "service.name"'],
    ['an attribute named like the level label', 'endpoint: http://l/loki/api/v1/push\nlabels: { attributes: [level] }', 'exporters::loki::labels::attributes::0: label "level" is already made from "the severity (labels::level)"'],
    ['no labels at all', 'endpoint: http://l/loki/api/v1/push\nlabels: { resource: [], level: false }', 'exporters::loki::labels: at least one label is required (Loki rejects streams without labels)'],
    ['a reserved header', 'endpoint: http://l/loki/api/v1/push\nheaders: { Content-Type: text/plain }', 'exporters::loki::headers::Content-Type: is set by the exporter and cannot be configured'],
    ['a tenant header beside a static tenant', 'endpoint: http://l/loki/api/v1/push\ntenant: { source: static, value: a }\nheaders: { x-scope-orgid: b }', 'exporters::loki::headers::x-scope-orgid: conflicts with tenant::source "static"; set the tenant with tenant::value instead'],
    ["Loki's OTLP endpoint", 'endpoint: http://loki:3100/otlp', "exporters::loki::endpoint: is Loki's OTLP endpoint; use the otlphttp exporter for it"],
    ['max_streams 0', 'endpoint: http://l/loki/api/v1/push\nmax_streams: 0', 'exporters::loki::max_streams: must be at least 1, got 0'],
    ['a bad size', 'endpoint: http://l/loki/api/v1/push\nmax_line_size: lots', 'exporters::loki::max_line_size: must be a size in bytes'],
    ['an unknown key', 'endpoint: http://l/loki/api/v1/push\nlabel: {}', 'exporters::loki::label: unknown key "label" (did you mean "labels"?)'],
  ];
  for (const [name, text, message] of invalid) {
    it(`rejects ${name}`, () => {
      const { errors } = load(text);
      expect(errors.some((e) => e.startsWith(message)), `${message}\n  not in\n${errors.join('\n')}`).toBe(true);
    });
  }

  it('warns when the endpoint is not the push path', () => {
    const { errors, warnings } = load('endpoint: http://loki:3100');
    expect(errors).toEqual([]);
    expect(warnings[0]).toMatch(/^exporters::loki::endpoint: does not end in \/loki\/api\/v1\/push/);
  });
});
