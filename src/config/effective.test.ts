import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateYaml } from '../service/service.js';
import { effectiveConfig, fingerprint, MASK } from './effective.js';

const yaml = `
receivers:
  otlp:
    protocols:
      http: { endpoint: "127.0.0.1:\${env:PORT}" }
processors:
  redaction:
    hmac_key: \${env:HK}
exporters:
  prometheus:
    endpoint: 127.0.0.1:9999
service:
  admin: { endpoint: 127.0.0.1:0, bearer_token: "tok-123" }
  pipelines:
    metrics: { receivers: [otlp], processors: [redaction], exporters: [prometheus] }
`;

describe('effective config', () => {
  it('fills defaults, expands env and masks secrets', () => {
    const r = validateYaml(yaml, undefined, { PORT: '4318', HK: 'a-very-secret-key-value' });
    expect(r.errors).toEqual([]);
    const e = effectiveConfig(r.config!) as any;
    expect(e.receivers.otlp.protocols.http.endpoint).toBe('127.0.0.1:4318');
    expect(e.receivers.otlp.protocols.http.traces_url_path).toBe('/v1/traces');
    expect(e.processors.redaction.hmac_key).toBe(MASK);
    expect(e.service.admin.bearer_token).toBe(MASK);
    expect(JSON.stringify(e)).not.toContain('a-very-secret-key-value');
    expect(JSON.stringify(e)).not.toContain('tok-123');
    const revealed = effectiveConfig(r.config!, { reveal: true }) as any;
    expect(revealed.processors.redaction.hmac_key).toBe('a-very-secret-key-value');
  });

  it('fingerprints include the contents of referenced files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sieve-fp-'));
    const cert = join(dir, 'c.pem');
    writeFileSync(cert, 'one');
    const y = `
receivers:
  otlp:
    protocols:
      http: { endpoint: "127.0.0.1:4318", tls: { cert_file: ${cert}, key_file: ${cert} } }
exporters:
  prometheus: { endpoint: 127.0.0.1:9999 }
service:
  pipelines:
    metrics: { receivers: [otlp], exporters: [prometheus] }
`;
    const a = fingerprint(validateYaml(y).config!.receivers.get('otlp')!);
    expect(fingerprint(validateYaml(y).config!.receivers.get('otlp')!)).toBe(a);
    writeFileSync(cert, 'two');
    expect(fingerprint(validateYaml(y).config!.receivers.get('otlp')!)).not.toBe(a);
  });
});
