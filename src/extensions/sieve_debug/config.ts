import { authRef } from '../auth/auth.js';
import { s, type Infer, type Issues } from '../../config/schema.js';

export const sieveDebugSchema = s.object({
  /** Where the debug endpoints listen. They serve telemetry data: keep them on loopback. */
  endpoint: s.endpoint('127.0.0.1:55679'),
  /** How many recently exported spans /debug/traces keeps (a ring buffer). */
  recent_spans: s.int(1000, { min: 1, max: 1_000_000 }),
  /** Exporters whose traces are recorded; empty records every trace exporter. */
  exporters: s.array(s.string()),
  /** Authenticates every debug route. */
  auth: authRef(),
});
export type SieveDebugConfig = Infer<typeof sieveDebugSchema>;

export function validateSieveDebug(cfg: SieveDebugConfig, path: string[], issues: Issues): void {
  const host = cfg.endpoint.slice(0, cfg.endpoint.lastIndexOf(':'));
  if (!cfg.auth && (host === '' || host === '0.0.0.0' || host === '[::]' || host === '::')) {
    issues.warn([...path, 'endpoint'], 'listens on every interface: the debug endpoints serve telemetry data without authentication');
  }
}
