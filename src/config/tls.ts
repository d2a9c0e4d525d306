// TLS settings with the Collector's keys (configtls), shared by every listener and client.
import { readFileSync } from 'node:fs';
import { s, type Infer } from './schema.js';

export const tlsServerSchema = s.object({
  cert_file: s.string().optional(),
  cert_pem: s.string().optional(),
  key_file: s.string().optional(),
  key_pem: s.string().optional(),
  ca_file: s.string().optional(),
  ca_pem: s.string().optional(),
  /** Requires and verifies client certificates (mTLS). */
  client_ca_file: s.string().optional(),
  client_ca_file_reload: s.bool(false),
  min_version: s.enum(['1.0', '1.1', '1.2', '1.3'] as const, '1.2'),
  max_version: s.enum(['', '1.0', '1.1', '1.2', '1.3'] as const, ''),
  cipher_suites: s.array(s.string()),
  reload_interval: s.duration('0s'),
});
export type TlsServerConfig = Infer<typeof tlsServerSchema>;

export const tlsClientSchema = s.object({
  insecure: s.bool(false),
  insecure_skip_verify: s.bool(false),
  ca_file: s.string().optional(),
  ca_pem: s.string().optional(),
  cert_file: s.string().optional(),
  cert_pem: s.string().optional(),
  key_file: s.string().optional(),
  key_pem: s.string().optional(),
  server_name_override: s.string().optional(),
  min_version: s.enum(['1.0', '1.1', '1.2', '1.3'] as const, '1.2'),
});
export type TlsClientConfig = Infer<typeof tlsClientSchema>;

export interface TlsMaterial {
  cert?: Buffer;
  key?: Buffer;
  ca?: Buffer;
  clientCa?: Buffer;
}

function pemOrFile(pem: string | undefined, file: string | undefined): Buffer | undefined {
  if (pem) return Buffer.from(pem);
  if (file) return readFileSync(file);
  return undefined;
}

export function loadServerTls(t: TlsServerConfig): TlsMaterial {
  return {
    cert: pemOrFile(t.cert_pem, t.cert_file),
    key: pemOrFile(t.key_pem, t.key_file),
    ca: pemOrFile(t.ca_pem, t.ca_file),
    clientCa: t.client_ca_file ? readFileSync(t.client_ca_file) : undefined,
  };
}

export function loadClientTls(t: TlsClientConfig): TlsMaterial {
  return { cert: pemOrFile(t.cert_pem, t.cert_file), key: pemOrFile(t.key_pem, t.key_file), ca: pemOrFile(t.ca_pem, t.ca_file) };
}

export function tlsVersion(v: string): 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3' {
  return v === '1.0' ? 'TLSv1' : (`TLSv${v}` as 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3');
}
