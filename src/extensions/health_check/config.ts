import { authRef } from '../auth/auth.js';
import { s, type Infer, type Issues } from '../../config/schema.js';

export const healthCheckSchema = s.object({
  /** Where the health endpoints listen. */
  endpoint: s.endpoint('127.0.0.1:13133'),
  /**
   * The Collector's health_check path: 200 {"status":"Server available",...}
   * while the pipelines run, 503 while starting or shutting down.
   */
  path: s.string('/'),
  /** Answer /readyz with 503 (not 200) while the status is degraded. */
  unready_when_degraded: s.bool(false),
  /** Authenticates /readyz and the status path (per-component detail); /healthz liveness stays open. */
  auth: authRef(),
});
export type HealthCheckConfig = Infer<typeof healthCheckSchema>;

export function validateHealthCheck(cfg: HealthCheckConfig, path: string[], issues: Issues): void {
  if (!cfg.path.startsWith('/')) issues.error([...path, 'path'], 'must start with "/"');
  else if (cfg.path === '/healthz' || cfg.path === '/readyz') issues.error([...path, 'path'], `must differ from /healthz and /readyz, got ${JSON.stringify(cfg.path)}`);
}
