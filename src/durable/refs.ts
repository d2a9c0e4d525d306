// What processors and connectors call to keep durable-acknowledgement
// reference counts right (see README.md in this folder).
import type { Telemetry } from '../pdata/telemetry.js';

/**
 * A processor accepted `data` and drops all of it (sampled out, filtered,
 * given up on after a permanent failure): call `releaseDurable(data)` from
 * src/pdata/telemetry.ts, exactly once per dropped batch.
 */
export { releaseDurable } from '../pdata/telemetry.js';

/**
 * `data` is about to travel on as `parts` separate batches that all carry its
 * context (fan-out, split, per-tenant parts): each extra part holds its own
 * reference. Call once, before handing the parts on.
 */
export function retainForParts(data: Telemetry, parts: number): void {
  const refs = data.ctx.durable;
  if (refs) for (let i = 1; i < parts; i++) for (const r of refs) r.retain();
}
