// The exposition formats: Prometheus text 0.0.4 and OpenMetrics 1.0.
//
// Text 0.0.4: `# HELP` / `# TYPE` per family, a counter family is named with
// its `_total`, timestamps are integer milliseconds, no exemplars.
// OpenMetrics 1.0: a counter family `foo` exposes `foo_total`; `# UNIT` only
// when the family name ends with the unit; `le` and `quantile` in canonical
// float form; timestamps in seconds; exemplars on `_total` and `_bucket`
// samples (the only places Prometheus 2.x parses them); ends with `# EOF`.
import type { Exemplar } from '../../pdata/model.js';
import { nanosToMillis, numberOf } from '../../prom/cumulative.js';
import { exemplarLabels } from '../../prom/exemplars.js';
import type { LabelNamer } from '../../prom/naming.js';
import { formatCanonical, formatValue } from '../../prom/naming.js';
import { renderLabels, type Family, type MetricStore, type Series } from './store.js';

export const TEXT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

function escapeHelpText(s: string): string {
  return s.replace(/[\\\n]/g, (c) => (c === '\\' ? '\\\\' : '\\n'));
}

function escapeHelpOm(s: string): string {
  return s.replace(/[\\\n"]/g, (c) => (c === '\\' ? '\\\\' : c === '"' ? '\\"' : '\\n'));
}

function sortedFamilies(store: MetricStore): Family[] {
  const fams = [...store.families.values()];
  fams.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return fams;
}

/** `{labels,extra}` or `{extra}` or `` */
function braces(s: Series, extra: string): string {
  if (s.labelText === '') return extra === '' ? '' : `{${extra}}`;
  return extra === '' ? `{${s.labelText}}` : `{${s.labelText},${extra}}`;
}

function omSeconds(ms: number): string {
  return String(ms / 1000);
}

export function renderText(store: MetricStore, sendTimestamps: boolean): string {
  let out = '';
  for (const f of sortedFamilies(store)) {
    if (f.series.size === 0) continue;
    const name = f.name;
    if (f.help !== '') out += `# HELP ${name} ${escapeHelpText(f.help)}\n`;
    out += `# TYPE ${name} ${f.type}\n`;
    for (const s of f.series.values()) {
      const ts = sendTimestamps ? ` ${s.timeMs}` : '';
      switch (f.type) {
        case 'counter':
        case 'gauge':
          out += `${name}${braces(s, '')} ${formatValue(s.value)}${ts}\n`;
          break;
        case 'histogram': {
          const h = s.hist!;
          let cum = 0;
          for (let i = 0; i < h.bounds.length; i++) {
            cum += h.counts[i] ?? 0;
            out += `${name}_bucket${braces(s, `le="${formatValue(h.bounds[i]!)}"`)} ${cum}${ts}\n`;
          }
          out += `${name}_bucket${braces(s, 'le="+Inf"')} ${h.count}${ts}\n`;
          if (h.sum !== undefined) out += `${name}_sum${braces(s, '')} ${formatValue(h.sum)}${ts}\n`;
          out += `${name}_count${braces(s, '')} ${h.count}${ts}\n`;
          break;
        }
        case 'summary': {
          for (const q of s.quantiles ?? []) out += `${name}${braces(s, `quantile="${formatValue(q.quantile)}"`)} ${formatValue(q.value)}${ts}\n`;
          out += `${name}_sum${braces(s, '')} ${formatValue(s.sum)}${ts}\n`;
          out += `${name}_count${braces(s, '')} ${s.count}${ts}\n`;
          break;
        }
      }
    }
  }
  return out;
}

function exemplarText(ex: Exemplar | undefined, namer: LabelNamer): string {
  if (ex === undefined) return '';
  const labels = exemplarLabels(ex, namer);
  const ms = ex.timeUnixNano > 0n ? ` ${omSeconds(nanosToMillis(ex.timeUnixNano))}` : '';
  return ` # {${renderLabels(labels)}} ${formatValue(numberOf(ex.value))}${ms}`;
}

export function renderOpenMetrics(store: MetricStore, sendTimestamps: boolean, namer: LabelNamer): string {
  let out = '';
  for (const f of sortedFamilies(store)) {
    if (f.series.size === 0) continue;
    const isCounter = f.type === 'counter';
    const base = isCounter && f.name.endsWith('_total') ? f.name.slice(0, -6) : f.name;
    if (f.help !== '') out += `# HELP ${base} ${escapeHelpOm(f.help)}\n`;
    out += `# TYPE ${base} ${f.type}\n`;
    if (f.unit !== '' && base.endsWith(`_${f.unit}`)) out += `# UNIT ${base} ${f.unit}\n`;
    for (const s of f.series.values()) {
      const ts = sendTimestamps ? ` ${omSeconds(s.timeMs)}` : '';
      switch (f.type) {
        case 'counter':
          out += `${base}_total${braces(s, '')} ${formatValue(s.value)}${ts}${exemplarText(s.exemplar, namer)}\n`;
          break;
        case 'gauge':
          out += `${base}${braces(s, '')} ${formatValue(s.value)}${ts}\n`;
          break;
        case 'histogram': {
          const h = s.hist!;
          const ex = s.bucketExemplars;
          let cum = 0;
          for (let i = 0; i < h.bounds.length; i++) {
            cum += h.counts[i] ?? 0;
            out += `${base}_bucket${braces(s, `le="${formatCanonical(h.bounds[i]!)}"`)} ${cum}${ts}${exemplarText(ex?.[i], namer)}\n`;
          }
          out += `${base}_bucket${braces(s, 'le="+Inf"')} ${h.count}${ts}${exemplarText(ex?.[h.bounds.length], namer)}\n`;
          if (h.sum !== undefined) out += `${base}_sum${braces(s, '')} ${formatValue(h.sum)}${ts}\n`;
          out += `${base}_count${braces(s, '')} ${h.count}${ts}\n`;
          break;
        }
        case 'summary': {
          for (const q of s.quantiles ?? []) out += `${base}${braces(s, `quantile="${formatCanonical(q.quantile)}"`)} ${formatValue(q.value)}${ts}\n`;
          out += `${base}_sum${braces(s, '')} ${formatValue(s.sum)}${ts}\n`;
          out += `${base}_count${braces(s, '')} ${s.count}${ts}\n`;
          break;
        }
      }
    }
  }
  return out + '# EOF\n';
}

export type Format = 'text' | 'openmetrics';

/**
 * Picks the exposition format from an Accept header: OpenMetrics when it is
 * enabled and the client ranks `application/openmetrics-text` (version 1.0.0,
 * 0.0.1 or none) at least as high as any text/plain or wildcard range it
 * accepts; text 0.0.4 otherwise.
 */
export function negotiate(accept: string | undefined, openMetricsEnabled: boolean): { format: Format; contentType: string } {
  const text = { format: 'text' as const, contentType: TEXT_CONTENT_TYPE };
  if (!openMetricsEnabled || !accept) return text;
  let omQ = -1;
  let omVersion = '1.0.0';
  let otherQ = -1;
  for (const part of accept.split(',')) {
    const [mediaRaw, ...params] = part.split(';');
    const media = mediaRaw!.trim().toLowerCase();
    let q = 1;
    let version: string | undefined;
    for (const p of params) {
      const eq = p.indexOf('=');
      if (eq < 0) continue;
      const k = p.slice(0, eq).trim().toLowerCase();
      const v = p.slice(eq + 1).trim().replace(/^"|"$/g, '');
      if (k === 'q') {
        const n = Number(v);
        q = Number.isFinite(n) ? Math.min(1, Math.max(0, n)) : 0;
      } else if (k === 'version') version = v;
    }
    if (q <= 0) continue;
    if (media === 'application/openmetrics-text') {
      if (version !== undefined && version !== '1.0.0' && version !== '0.0.1') continue;
      if (q > omQ || (q === omQ && version === '1.0.0')) {
        omQ = q;
        omVersion = version ?? '1.0.0';
      }
    } else if (media === 'text/plain' || media === '*/*' || media === 'text/*') {
      if (media === 'text/plain' && version !== undefined && version !== '0.0.4') continue;
      otherQ = Math.max(otherQ, q);
    }
  }
  if (omQ > 0 && omQ >= otherQ) {
    return { format: 'openmetrics', contentType: `application/openmetrics-text; version=${omVersion}; charset=utf-8` };
  }
  return text;
}
