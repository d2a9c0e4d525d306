// Prometheus relabeling (`relabel_configs`, `metric_relabel_configs`) on label
// maps, with Prometheus's semantics: regexes are anchored, source values are
// joined with the separator, an empty result of `replace` removes the label,
// `hashmod` takes the MD5 of the value as a big-endian uint64 of its last
// eight bytes.
//
// Regexes are RE2 syntax in Prometheus and run here on the JavaScript engine:
// `(?P<name>...)` is rewritten to `(?<name>...)` and a leading `(?i)` becomes
// the `i` flag; other RE2-only constructs are reported as invalid at load.
import { createHash } from 'node:crypto';

export const RELABEL_ACTIONS = ['replace', 'keep', 'drop', 'keepequal', 'dropequal', 'hashmod', 'labelmap', 'labeldrop', 'labelkeep', 'lowercase', 'uppercase'] as const;
export type RelabelAction = (typeof RELABEL_ACTIONS)[number];

export interface RelabelRule {
  source_labels: string[];
  separator: string;
  regex: string;
  modulus: number;
  target_label: string;
  replacement: string;
  action: RelabelAction;
}

export interface CompiledRule {
  action: RelabelAction;
  sources: string[];
  separator: string;
  regex: RegExp;
  modulus: bigint;
  target: string;
  replacement: string;
  /** True when target_label holds `$` templates. */
  targetTemplated: boolean;
}

export const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** An RE2 pattern as an anchored JavaScript RegExp; throws on invalid syntax. */
export function compileRegex(pattern: string): RegExp {
  let flags = '';
  let p = pattern;
  const m = /^\(\?([imsU]+)\)/.exec(p);
  if (m) {
    if (m[1]!.includes('U')) throw new Error('the (?U) flag is not supported');
    flags = [...new Set(m[1]!)].join('');
    p = p.slice(m[0].length);
  }
  p = p.replace(/\(\?P</g, '(?<');
  return new RegExp(`^(?:${p})$`, flags);
}

export function compileRule(r: RelabelRule): CompiledRule {
  return {
    action: r.action,
    sources: r.source_labels,
    separator: r.separator,
    regex: compileRegex(r.regex),
    modulus: BigInt(Math.trunc(r.modulus)),
    target: r.target_label,
    replacement: r.replacement,
    targetTemplated: r.target_label.includes('$'),
  };
}

/**
 * Go's regexp.Expand: `$1`, `${1}`, `$name`, `${name}`, `$$`. A `$name`
 * reference takes the longest run of word characters, as Go does, so `$1x`
 * names the group "1x" (empty).
 */
export function expand(template: string, m: RegExpExecArray): string {
  if (template.indexOf('$') < 0) return template;
  let out = '';
  let i = 0;
  while (i < template.length) {
    const c = template[i]!;
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    if (template[i + 1] === '$') {
      out += '$';
      i += 2;
      continue;
    }
    let name: string;
    if (template[i + 1] === '{') {
      const close = template.indexOf('}', i + 2);
      if (close < 0) {
        out += c;
        i++;
        continue;
      }
      name = template.slice(i + 2, close);
      i = close + 1;
    } else {
      let j = i + 1;
      while (j < template.length && /\w/.test(template[j]!)) j++;
      if (j === i + 1) {
        out += c;
        i++;
        continue;
      }
      name = template.slice(i + 1, j);
      i = j;
    }
    if (/^\d+$/.test(name)) out += m[Number(name)] ?? '';
    else out += m.groups?.[name] ?? '';
  }
  return out;
}

function hashmod(v: string, modulus: bigint): string {
  const d = createHash('md5').update(v).digest();
  return (d.readBigUInt64BE(8) % modulus).toString();
}

function joined(labels: Map<string, string>, sources: string[], sep: string): string {
  if (sources.length === 1) return labels.get(sources[0]!) ?? '';
  let v = '';
  for (let i = 0; i < sources.length; i++) {
    if (i > 0) v += sep;
    v += labels.get(sources[i]!) ?? '';
  }
  return v;
}

/**
 * Applies the rules in order to `labels` (changed in place). Returns false
 * when a rule drops the label set.
 */
export function relabel(labels: Map<string, string>, rules: readonly CompiledRule[]): boolean {
  for (const r of rules) {
    switch (r.action) {
      case 'replace': {
        const v = joined(labels, r.sources, r.separator);
        const m = r.regex.exec(v);
        if (!m) break;
        const target = r.targetTemplated ? expand(r.target, m) : r.target;
        if (!LABEL_NAME_RE.test(target)) break;
        const res = expand(r.replacement, m);
        if (res === '') labels.delete(target);
        else labels.set(target, res);
        break;
      }
      case 'keep':
        if (!r.regex.test(joined(labels, r.sources, r.separator))) return false;
        break;
      case 'drop':
        if (r.regex.test(joined(labels, r.sources, r.separator))) return false;
        break;
      case 'keepequal':
        if (joined(labels, r.sources, r.separator) !== (labels.get(r.target) ?? '')) return false;
        break;
      case 'dropequal':
        if (joined(labels, r.sources, r.separator) === (labels.get(r.target) ?? '')) return false;
        break;
      case 'hashmod':
        labels.set(r.target, hashmod(joined(labels, r.sources, r.separator), r.modulus));
        break;
      case 'lowercase':
        labels.set(r.target, joined(labels, r.sources, r.separator).toLowerCase());
        break;
      case 'uppercase':
        labels.set(r.target, joined(labels, r.sources, r.separator).toUpperCase());
        break;
      case 'labelmap': {
        const add: [string, string][] = [];
        for (const [k, v] of labels) {
          const m = r.regex.exec(k);
          if (m) add.push([expand(r.replacement, m), v]);
        }
        for (const [k, v] of add) if (k !== '') labels.set(k, v);
        break;
      }
      case 'labeldrop':
        for (const k of [...labels.keys()]) if (r.regex.test(k)) labels.delete(k);
        break;
      case 'labelkeep':
        for (const k of [...labels.keys()]) if (!r.regex.test(k)) labels.delete(k);
        break;
    }
  }
  // An empty value means "no label" in Prometheus.
  for (const [k, v] of labels) if (v === '') labels.delete(k);
  return true;
}
