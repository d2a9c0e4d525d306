// The prometheus receiver's config: the Collector's keys, with `config` in
// Prometheus's own format (global + scrape_configs). Durations use
// Prometheus's syntax (ms, s, m, h, d, w, y); sizes its base-2 units (B, KB,
// MB, GB, TB, also KiB, MiB, ...).
import { Schema, s, type Infer, type Issues } from '../../config/schema.js';
import { RELABEL_ACTIONS, LABEL_NAME_RE, compileRegex, type RelabelRule } from './relabel.js';

const PROM_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 };

/** A Prometheus duration ("15s", "1m30s", "1d") in milliseconds. */
export function parsePromDuration(text: string): number | undefined {
  const t = text.trim();
  if (t === '0') return 0;
  const re = /(\d+)(ms|s|m|h|d|w|y)/y;
  let total = 0;
  let at = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(t)) !== null) {
    total += Number(m[1]) * PROM_UNITS[m[2]!]!;
    at = re.lastIndex;
  }
  return at === 0 || at !== t.length ? undefined : total;
}

class PromDuration extends Schema<number> {
  parse(v: unknown, path: string[], issues: Issues): number {
    if (typeof v === 'string') {
      const ms = parsePromDuration(v);
      if (ms !== undefined) return ms;
    }
    issues.error(path, `must be a Prometheus duration such as "15s", "1m30s" or "1d", got ${JSON.stringify(v)}`);
    return 0;
  }
  describe(): string {
    return 'a duration';
  }
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, kb: 1024, kib: 1024, mb: 1024 ** 2, mib: 1024 ** 2, gb: 1024 ** 3, gib: 1024 ** 3, tb: 1024 ** 4, tib: 1024 ** 4 };

class PromSize extends Schema<number> {
  parse(v: unknown, path: string[], issues: Issues): number {
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
    if (typeof v === 'string') {
      const m = /^\s*(\d+)\s*([a-zA-Z]*)\s*$/.exec(v);
      const mult = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
      if (m && mult !== undefined) return Number(m[1]) * mult;
    }
    issues.error(path, `must be a size such as "100MB" (base 2, as Prometheus reads it) or a number of bytes, got ${JSON.stringify(v)}`);
    return 0;
  }
  describe(): string {
    return 'a size';
  }
}

const promDurationOpt = () => new PromDuration().optional();
const promDuration = (def: string) => new PromDuration().default(parsePromDuration(def)!);

/** Largest scrape body read, after decompression, when a job sets none (Prometheus's 0 = unlimited lets one target exhaust memory). */
export const DEFAULT_BODY_SIZE_LIMIT = 100 * 1024 * 1024;

export const SCRAPE_PROTOCOLS = ['OpenMetricsText1.0.0', 'OpenMetricsText0.0.1', 'PrometheusText0.0.4'] as const;
export const DEFAULT_SCRAPE_PROTOCOLS = ['OpenMetricsText1.0.0', 'OpenMetricsText0.0.1', 'PrometheusText0.0.4'];

const relabelSchema = s.object({
  source_labels: s.array(s.string()),
  separator: s.string(';'),
  regex: s.string('(.*)'),
  modulus: s.int(0, { min: 0 }),
  target_label: s.string(''),
  replacement: s.string('$1'),
  action: s.enum(RELABEL_ACTIONS, 'replace'),
});

const tlsSchema = s.object({
  ca_file: s.string().optional(),
  ca: s.string().optional(),
  cert_file: s.string().optional(),
  cert: s.string().optional(),
  key_file: s.string().optional(),
  key: s.string().optional(),
  server_name: s.string().optional(),
  insecure_skip_verify: s.bool(false),
  min_version: s.enum(['', 'TLS10', 'TLS11', 'TLS12', 'TLS13'] as const, ''),
});
export type PromTlsConfig = Infer<typeof tlsSchema>;

const scrapeSchema = s.object({
  job_name: s.string(),
  honor_labels: s.bool(false),
  honor_timestamps: s.bool(true),
  scrape_interval: promDurationOpt(),
  scrape_timeout: promDurationOpt(),
  scrape_protocols: s.array(s.string()).optional(),
  metrics_path: s.string('/metrics'),
  scheme: s.enum(['http', 'https'] as const, 'http'),
  params: s.map(s.array(s.string())),
  basic_auth: s.object({ username: s.string(''), password: s.string().optional(), password_file: s.string().optional() }).optional(),
  authorization: s.object({ type: s.string('Bearer'), credentials: s.string().optional(), credentials_file: s.string().optional() }).optional(),
  bearer_token: s.string().optional(),
  bearer_token_file: s.string().optional(),
  tls_config: tlsSchema,
  follow_redirects: s.bool(true),
  /** Accepted for compatibility; scrapes use HTTP/1.1. */
  enable_http2: s.bool(true),
  static_configs: s.array(s.object({ targets: s.array(s.string()), labels: s.map(s.string()) })),
  file_sd_configs: s.array(s.object({ files: s.array(s.string(), { minItems: 1 }), refresh_interval: promDuration('5m') })),
  relabel_configs: s.array(relabelSchema),
  metric_relabel_configs: s.array(relabelSchema),
  sample_limit: s.int(0, { min: 0 }),
  label_limit: s.int(0, { min: 0 }),
  label_name_length_limit: s.int(0, { min: 0 }),
  label_value_length_limit: s.int(0, { min: 0 }),
  /** Largest body after decompression; 0 takes Sieve's default (100 MiB). */
  body_size_limit: new PromSize().default(0),
});
export type ScrapeConfig = Infer<typeof scrapeSchema>;

const UNSUPPORTED = ['alerting', 'rule_files', 'remote_write', 'remote_read', 'storage', 'tracing'];

const promConfigSchema = s.object(
  {
    global: s.object({
      scrape_interval: promDuration('1m'),
      scrape_timeout: promDuration('10s'),
      /** Accepted for compatibility (Prometheus's rule evaluation); unused. */
      evaluation_interval: promDuration('1m'),
      /** Labels added to every series that does not already have them. */
      external_labels: s.map(s.string()),
      scrape_protocols: s.array(s.string()).optional(),
      body_size_limit: new PromSize().default(0),
      sample_limit: s.int(0, { min: 0 }),
      label_limit: s.int(0, { min: 0 }),
    }),
    scrape_configs: s.array(scrapeSchema),
    ...Object.fromEntries(UNSUPPORTED.map((k) => [k, s.any()])),
  },
);

export const prometheusReceiverSchema = s.object({
  config: promConfigSchema,
  /** Use the value of a `process_start_time_seconds` gauge as the start time of cumulative points. */
  use_start_time_metric: s.bool(false),
  start_time_metric_regex: s.string('^(.+_)*process_start_time_seconds$'),
  /** Also report scrape_body_size_bytes, scrape_sample_limit and scrape_timeout_seconds. */
  report_extra_scrape_metrics: s.bool(false),
});
export type PrometheusReceiverConfig = Infer<typeof prometheusReceiverSchema>;

function checkRules(rules: RelabelRule[], path: string[], issues: Issues): void {
  rules.forEach((r, i) => {
    const p = [...path, String(i)];
    try {
      compileRegex(r.regex);
    } catch (e) {
      issues.error([...p, 'regex'], `invalid regular expression ${JSON.stringify(r.regex)}: ${(e as Error).message}`);
    }
    for (const l of r.source_labels) if (!LABEL_NAME_RE.test(l)) issues.error([...p, 'source_labels'], `invalid label name ${JSON.stringify(l)}`);
    const needsTarget = ['replace', 'hashmod', 'lowercase', 'uppercase', 'keepequal', 'dropequal'].includes(r.action);
    if (needsTarget && r.target_label === '') issues.error([...p, 'target_label'], `is required for action ${r.action}`);
    if (r.target_label !== '') {
      const templated = r.action === 'replace' && r.target_label.includes('$');
      if (!templated && !LABEL_NAME_RE.test(r.target_label)) issues.error([...p, 'target_label'], `invalid label name ${JSON.stringify(r.target_label)}`);
    }
    if (r.action === 'hashmod' && r.modulus === 0) issues.error([...p, 'modulus'], 'must be set (> 0) for action hashmod');
    if (['labeldrop', 'labelkeep'].includes(r.action) && (r.source_labels.length > 0 || r.target_label !== '' || r.replacement !== '$1')) {
      issues.error(p, `action ${r.action} takes only regex (source_labels, target_label and replacement must be unset)`);
    }
    if (['keepequal', 'dropequal'].includes(r.action) && r.regex !== '(.*)') issues.error([...p, 'regex'], `must be unset for action ${r.action}`);
  });
}

function checkProtocols(list: string[] | undefined, path: string[], issues: Issues): void {
  list?.forEach((p, i) => {
    if (!(SCRAPE_PROTOCOLS as readonly string[]).includes(p)) issues.error([...path, String(i)], `unsupported scrape protocol ${JSON.stringify(p)}; supported: ${SCRAPE_PROTOCOLS.join(', ')}`);
  });
}

export function validatePrometheusReceiver(cfg: PrometheusReceiverConfig, path: string[], issues: Issues): void {
  const c = cfg.config;
  const cp = [...path, 'config'];
  for (const k of UNSUPPORTED) {
    if ((c as Record<string, unknown>)[k] !== undefined) issues.error([...cp, k], `is not supported by the prometheus receiver (only global and scrape_configs are)`);
  }
  if (c.scrape_configs.length === 0) issues.error([...cp, 'scrape_configs'], 'must list at least one scrape config');
  if (c.global.scrape_timeout > c.global.scrape_interval) issues.error([...cp, 'global', 'scrape_timeout'], 'must not be greater than the scrape interval');
  checkProtocols(c.global.scrape_protocols, [...cp, 'global', 'scrape_protocols'], issues);
  for (const k of Object.keys(c.global.external_labels)) if (!LABEL_NAME_RE.test(k)) issues.error([...cp, 'global', 'external_labels', k], 'invalid label name');
  try {
    new RegExp(cfg.start_time_metric_regex);
  } catch (e) {
    issues.error([...path, 'start_time_metric_regex'], `invalid regular expression: ${(e as Error).message}`);
  }
  const jobs = new Set<string>();
  c.scrape_configs.forEach((sc, i) => {
    const p = [...cp, 'scrape_configs', String(i)];
    if (sc.job_name === '') issues.error([...p, 'job_name'], 'must not be empty');
    else if (jobs.has(sc.job_name)) issues.error([...p, 'job_name'], `duplicate job name ${JSON.stringify(sc.job_name)}`);
    jobs.add(sc.job_name);
    const interval = sc.scrape_interval ?? c.global.scrape_interval;
    const timeout = sc.scrape_timeout ?? Math.min(c.global.scrape_timeout, interval);
    if (interval <= 0) issues.error([...p, 'scrape_interval'], 'must be greater than 0');
    if (timeout > interval) issues.error([...p, 'scrape_timeout'], `must not be greater than scrape_interval (${interval} ms)`);
    if (!sc.metrics_path.startsWith('/')) issues.error([...p, 'metrics_path'], 'must start with "/"');
    checkProtocols(sc.scrape_protocols, [...p, 'scrape_protocols'], issues);
    const authKinds = [sc.basic_auth && 'basic_auth', sc.authorization && 'authorization', (sc.bearer_token || sc.bearer_token_file) && 'bearer_token'].filter(Boolean);
    if (authKinds.length > 1) issues.error(p, `at most one of basic_auth, authorization and bearer_token may be set, got ${authKinds.join(', ')}`);
    if (sc.basic_auth && sc.basic_auth.password !== undefined && sc.basic_auth.password_file !== undefined) issues.error([...p, 'basic_auth'], 'at most one of password and password_file may be set');
    if (sc.authorization) {
      if (sc.authorization.credentials !== undefined && sc.authorization.credentials_file !== undefined) issues.error([...p, 'authorization'], 'at most one of credentials and credentials_file may be set');
      if (sc.authorization.type.toLowerCase() === 'basic') issues.error([...p, 'authorization', 'type'], 'must not be Basic; use basic_auth');
    }
    const t = sc.tls_config;
    if ((t.cert_file || t.cert) && !(t.key_file || t.key)) issues.error([...p, 'tls_config'], 'a client certificate needs a key (key_file or key)');
    if ((t.key_file || t.key) && !(t.cert_file || t.cert)) issues.error([...p, 'tls_config'], 'a client key needs a certificate (cert_file or cert)');
    sc.static_configs.forEach((g, j) => {
      g.targets.forEach((tg, k) => {
        if (tg === '' || /[/\s]/.test(tg)) issues.error([...p, 'static_configs', String(j), 'targets', String(k)], `must be host:port (no scheme or path), got ${JSON.stringify(tg)}`);
      });
      for (const k of Object.keys(g.labels)) if (!LABEL_NAME_RE.test(k)) issues.error([...p, 'static_configs', String(j), 'labels', k], 'invalid label name');
    });
    checkRules(sc.relabel_configs, [...p, 'relabel_configs'], issues);
    checkRules(sc.metric_relabel_configs, [...p, 'metric_relabel_configs'], issues);
  });
}

/** A scrape config with the global defaults applied. */
export interface Job {
  cfg: ScrapeConfig;
  name: string;
  intervalMs: number;
  timeoutMs: number;
  bodyLimit: number;
  sampleLimit: number;
  labelLimit: number;
  protocols: string[];
  externalLabels: Record<string, string>;
}

export function resolveJobs(cfg: PrometheusReceiverConfig): Job[] {
  const g = cfg.config.global;
  return cfg.config.scrape_configs.map((sc) => {
    const intervalMs = sc.scrape_interval ?? g.scrape_interval;
    return {
      cfg: sc,
      name: sc.job_name,
      intervalMs,
      timeoutMs: sc.scrape_timeout ?? Math.min(g.scrape_timeout, intervalMs),
      bodyLimit: sc.body_size_limit || g.body_size_limit || DEFAULT_BODY_SIZE_LIMIT,
      sampleLimit: sc.sample_limit || g.sample_limit,
      labelLimit: sc.label_limit || g.label_limit,
      protocols: sc.scrape_protocols ?? g.scrape_protocols ?? DEFAULT_SCRAPE_PROTOCOLS,
      externalLabels: g.external_labels,
    };
  });
}

const MEDIA: Record<string, string> = {
  'OpenMetricsText1.0.0': 'application/openmetrics-text;version=1.0.0',
  'OpenMetricsText0.0.1': 'application/openmetrics-text;version=0.0.1',
  'PrometheusText0.0.4': 'text/plain;version=0.0.4',
};

/** The Accept header Prometheus sends for these protocols (descending q, then any type). */
export function acceptHeader(protocols: readonly string[]): string {
  const parts: string[] = [];
  let w = protocols.length + 1;
  for (const p of protocols) {
    const q = w / (protocols.length + 1);
    parts.push(q === 1 ? MEDIA[p]! : `${MEDIA[p]!};q=${Number(q.toFixed(3))}`);
    w--;
  }
  parts.push(`*/*;q=${Number((1 / (protocols.length + 2)).toFixed(3))}`);
  return parts.join(',');
}
