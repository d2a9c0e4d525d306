// Incident mode: for a while, keep every trace (or the traces a configured
// policy set keeps). Turned on through the admin endpoint, or automatically
// when the share of traces with an error span crosses a threshold.
import type { AdminHandler, Host } from '../../component/component.js';
import { parseAdminDuration, type IncidentAutoCfg } from './config.js';

export interface IncidentState {
  active: boolean;
  /** ISO time the incident mode ends, when active. */
  until?: string;
  source?: 'manual' | 'auto';
  /** Names of the incident policies in force; absent when every trace is kept. */
  policies?: string[];
}

const BUCKETS = 10;

/** Error ratio over a sliding window of BUCKETS buckets. */
export class ErrorWindow {
  private readonly bucketMs: number;
  private readonly ids = new Float64Array(BUCKETS).fill(-1);
  private readonly total = new Float64Array(BUCKETS);
  private readonly errors = new Float64Array(BUCKETS);
  constructor(private cfg: IncidentAutoCfg) {
    this.bucketMs = Math.max(1, cfg.window / BUCKETS);
  }
  record(nowMs: number, isError: boolean): void {
    const id = Math.floor(nowMs / this.bucketMs);
    const i = id % BUCKETS;
    if (this.ids[i] !== id) {
      this.ids[i] = id;
      this.total[i] = 0;
      this.errors[i] = 0;
    }
    this.total[i]!++;
    if (isError) this.errors[i]!++;
  }
  /** Traces and error traces in the window ending now. */
  counts(nowMs: number): { total: number; errors: number } {
    const id = Math.floor(nowMs / this.bucketMs);
    let total = 0;
    let errors = 0;
    for (let i = 0; i < BUCKETS; i++) {
      const b = this.ids[i]!;
      if (b > id - BUCKETS && b <= id) {
        total += this.total[i]!;
        errors += this.errors[i]!;
      }
    }
    return { total, errors };
  }
  /** True when the window holds enough traces and the error ratio reaches the threshold. */
  triggered(nowMs: number): boolean {
    const { total, errors } = this.counts(nowMs);
    return total >= this.cfg.min_traces && errors / total >= this.cfg.error_ratio;
  }
}

/** What the admin routes need from a tail_sampling instance. */
export interface IncidentTarget {
  readonly id: string;
  startIncident(durationMs: number, source: 'manual' | 'auto', policies?: string[]): IncidentState;
  endIncident(): IncidentState;
  incidentState(): IncidentState;
  /** Checks a request before any instance changes: returns an error message or undefined. */
  checkIncidentRequest(durationMs: number, policies: string[] | undefined): string | undefined;
}

const PATH = '/admin/incident-mode';
const registries = new WeakMap<Host, Set<IncidentTarget>>();

/**
 * Adds an instance to the host's incident-mode routes; the routes are
 * registered once per host and act on every tail_sampling instance, or on the
 * one named by `?processor=<id>`.
 */
export function registerIncidentTarget(host: Host, target: IncidentTarget): () => void {
  let set = registries.get(host);
  if (set === undefined) {
    const targets = new Set<IncidentTarget>();
    set = targets;
    registries.set(host, targets);
    const pick = (url: URL): IncidentTarget[] => {
      const want = url.searchParams.get('processor');
      return [...targets].filter((t) => want === null || t.id === want);
    };
    const get: AdminHandler = async ({ url }) => {
      const list = pick(url);
      if (list.length === 0) return { status: 404, body: { error: 'no tail_sampling processor matches' } };
      return { status: 200, body: { processors: list.map((t) => ({ id: t.id, ...t.incidentState() })) } };
    };
    const post: AdminHandler = async ({ url, body }) => {
      const list = pick(url);
      if (list.length === 0) return { status: 404, body: { error: 'no tail_sampling processor matches' } };
      let req: unknown;
      try {
        req = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
      } catch {
        return { status: 400, body: { error: 'the body must be JSON, e.g. {"duration":"15m"}' } };
      }
      if (typeof req !== 'object' || req === null || Array.isArray(req)) {
        return { status: 400, body: { error: 'the body must be a JSON object, e.g. {"duration":"15m"}' } };
      }
      const r = req as Record<string, unknown>;
      for (const k of Object.keys(r)) {
        if (k !== 'duration' && k !== 'policies') return { status: 400, body: { error: `unknown key "${k}"; valid keys: duration, policies` } };
      }
      const ms = parseAdminDuration(r.duration);
      if (ms === undefined) return { status: 400, body: { error: 'duration is required: a duration such as "15m" or a number of seconds' } };
      let policies: string[] | undefined;
      if (r.policies !== undefined) {
        if (!Array.isArray(r.policies) || !r.policies.every((x) => typeof x === 'string')) {
          return { status: 400, body: { error: 'policies must be a list of incident_mode policy names' } };
        }
        policies = r.policies as string[];
      }
      for (const t of list) {
        const err = t.checkIncidentRequest(ms, policies);
        if (err) return { status: 400, body: { error: `${t.id}: ${err}` } };
      }
      return { status: 200, body: { processors: list.map((t) => ({ id: t.id, ...t.startIncident(ms, 'manual', policies) })) } };
    };
    const del: AdminHandler = async ({ url }) => {
      const list = pick(url);
      if (list.length === 0) return { status: 404, body: { error: 'no tail_sampling processor matches' } };
      return { status: 200, body: { processors: list.map((t) => ({ id: t.id, ...t.endIncident() })) } };
    };
    host.registerAdminRoute('GET', PATH, get);
    host.registerAdminRoute('POST', PATH, post);
    host.registerAdminRoute('DELETE', PATH, del);
  }
  set.add(target);
  const s = set;
  return () => {
    s.delete(target);
  };
}
