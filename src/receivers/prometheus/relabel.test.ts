// Relabeling cases, each checked against what Prometheus does with the same rule.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Issues } from '../../config/schema.js';
import { prometheusReceiverSchema, validatePrometheusReceiver } from './config.js';
import { compileRule, expand, relabel, type RelabelRule } from './relabel.js';

function rule(r: Partial<RelabelRule>): RelabelRule {
  return { source_labels: [], separator: ';', regex: '(.*)', modulus: 0, target_label: '', replacement: '$1', action: 'replace', ...r };
}

const base = { __address__: 'host-1:9100', job: 'node', __meta_env: 'Prod', team: 'a' };

const cases: { name: string; rules: Partial<RelabelRule>[]; input?: Record<string, string>; want: Record<string, string> | null }[] = [
  { name: 'replace with the default regex copies', rules: [{ source_labels: ['__meta_env'], target_label: 'env' }], want: { ...base, env: 'Prod' } },
  { name: 'replace with groups and separator', rules: [{ source_labels: ['job', 'team'], regex: '(.+);(.+)', target_label: 'jt', replacement: '${2}-$1' }], want: { ...base, jt: 'a-node' } },
  { name: 'replace is anchored (no partial match)', rules: [{ source_labels: ['__address__'], regex: 'host', target_label: 'x', replacement: 'y' }], want: base },
  { name: 'replace to an empty value removes the label', rules: [{ source_labels: ['nope'], target_label: 'team' }], want: { __address__: 'host-1:9100', job: 'node', __meta_env: 'Prod' } },
  { name: 'replace with a templated target label', rules: [{ source_labels: ['__meta_env'], regex: '(.*)', target_label: 'env_$1', replacement: 'yes' }], want: { ...base, env_Prod: 'yes' } },
  { name: 'replace rewrites __address__', rules: [{ source_labels: ['__address__'], regex: '([^:]+):\\d+', target_label: '__address__', replacement: '$1:9200' }], want: { ...base, __address__: 'host-1:9200' } },
  { name: 'named groups (?P<name>)', rules: [{ source_labels: ['__address__'], regex: '(?P<host>[^:]+):(?P<port>\\d+)', target_label: 'h', replacement: '$host' }], want: { ...base, h: 'host-1' } },
  { name: 'keep matching', rules: [{ source_labels: ['job'], regex: 'node|api', action: 'keep' }], want: base },
  { name: 'keep not matching drops', rules: [{ source_labels: ['job'], regex: 'api', action: 'keep' }], want: null },
  { name: 'drop matching', rules: [{ source_labels: ['__meta_env'], regex: '(?i)prod', action: 'drop' }], want: null },
  { name: 'drop not matching keeps', rules: [{ source_labels: ['__meta_env'], regex: 'dev', action: 'drop' }], want: base },
  { name: 'labelmap', rules: [{ regex: '__meta_(.+)', action: 'labelmap' }], want: { ...base, env: 'Prod' } },
  { name: 'labeldrop', rules: [{ regex: '__meta_.*|team', action: 'labeldrop', replacement: '$1' }], want: { __address__: 'host-1:9100', job: 'node' } },
  { name: 'labelkeep', rules: [{ regex: '__address__|job', action: 'labelkeep' }], want: { __address__: 'host-1:9100', job: 'node' } },
  // Prometheus takes the last 8 bytes of the MD5 as a big-endian uint64.
  { name: 'hashmod', rules: [{ source_labels: ['__address__'], modulus: 8, target_label: '__tmp_hash', action: 'hashmod' }], want: { ...base, __tmp_hash: 'HASH' } },
  { name: 'keepequal keeps equal values', rules: [{ source_labels: ['team'], target_label: 'owner', action: 'keepequal' }], input: { ...base, owner: 'a' }, want: { ...base, owner: 'a' } },
  { name: 'keepequal drops unequal values', rules: [{ source_labels: ['team'], target_label: 'job', action: 'keepequal' }], want: null },
  { name: 'dropequal drops equal values', rules: [{ source_labels: ['team'], target_label: 'owner', action: 'dropequal' }], input: { ...base, owner: 'a' }, want: null },
  { name: 'lowercase', rules: [{ source_labels: ['__meta_env'], target_label: 'env', action: 'lowercase' }], want: { ...base, env: 'prod' } },
  { name: 'uppercase', rules: [{ source_labels: ['job'], target_label: 'JOB', action: 'uppercase' }], want: { ...base, JOB: 'NODE' } },
  { name: 'rules apply in order', rules: [{ source_labels: ['job'], target_label: 'x', replacement: 'one' }, { source_labels: ['x'], regex: 'one', action: 'drop' }], want: null },
];

describe('relabeling', () => {
  for (const c of cases) {
    it(c.name, () => {
      const m = new Map(Object.entries(c.input ?? base));
      const kept = relabel(m, c.rules.map((r) => compileRule(rule(r))));
      if (c.want === null) {
        expect(kept).toBe(false);
        return;
      }
      expect(kept).toBe(true);
      const got = Object.fromEntries(m);
      if (c.want.__tmp_hash === 'HASH') {
        // Independent computation of Prometheus's hashmod.
        const d = createHash('md5').update('host-1:9100').digest();
        c.want.__tmp_hash = String(d.readBigUInt64BE(8) % 8n);
      }
      expect(got).toEqual(c.want);
    });
  }

  it('expands like Go: $1x names group "1x", $$ is a dollar', () => {
    const m = /(a)(b)/.exec('ab')!;
    expect(expand('$1x|${1}x|$2|$$|$', m)).toBe('|ax|b|$|$');
  });

  it('validation reports every bad rule with its path', () => {
    const issues = new Issues();
    const cfg = prometheusReceiverSchema.parse(
      {
        config: {
          scrape_configs: [
            {
              job_name: 'j',
              relabel_configs: [{ action: 'replace' }, { action: 'hashmod', source_labels: ['a'], target_label: 't' }, { regex: '(', target_label: 'x' }, { action: 'labeldrop', source_labels: ['a'], regex: 'x' }, { action: 'nope' }],
              metric_relabel_configs: [{ action: 'lowercase', source_labels: ['a'], target_label: '1bad' }],
            },
          ],
        },
      },
      ['prometheus'],
      issues,
    );
    validatePrometheusReceiver(cfg, ['prometheus'], issues);
    const paths = issues.errors.map((i) => i.path.join('::'));
    const p = 'prometheus::config::scrape_configs::0';
    expect(paths).toEqual(
      expect.arrayContaining([
        `${p}::relabel_configs::0::target_label`,
        `${p}::relabel_configs::1::modulus`,
        `${p}::relabel_configs::2::regex`,
        `${p}::relabel_configs::3`,
        `${p}::relabel_configs::4::action`,
        `${p}::metric_relabel_configs::0::target_label`,
      ]),
    );
  });
});
