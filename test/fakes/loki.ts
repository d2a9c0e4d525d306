// A Loki distributor double on loopback: the push API (/loki/api/v1/push) and
// the native OTLP endpoint (/otlp/v1/logs), answering as Loki does
// (grafana/loki v3.x, see the wire contracts in the project's reference notes):
//
// - X-Scope-OrgID is required (auth_enabled): without it 401 "no org id".
// - push: protobuf PushRequest in snappy block format (any Content-Type but
//   JSON), or the JSON body; an empty Content-Type is a 400. Label sets are
//   parsed and validated (names, at most 15, duplicates, lengths, at least one);
//   a service_name label is added when missing. Entries are checked for line
//   size, age, future timestamps, structured-metadata limits and "too far
//   behind" the stream's newest entry (1h). Valid streams and entries are kept
//   even when others fail; then 400 lists every problem, one per line.
// - OTLP: Content-Type must be exactly application/x-protobuf or
//   application/json; success is 204; errors are google.rpc.Status bodies
//   (application/octet-stream) with 500 turned into 503.
// - failNext() scripts 429 / 5xx answers (with Retry-After) for the next requests.
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { gunzipSync, inflateSync } from 'node:zlib';
import { ExportLogsServiceRequest, PushRequest, anyAsString, jsonAnyValue, rpcStatus, toPlain, type PlainAnyValue } from './schemas.js';

const snappy = createRequire(import.meta.url)('snappyjs') as { uncompress(b: Uint8Array): Uint8Array };

export interface LokiEntry {
  /** Unix nanoseconds. */
  ts: bigint;
  line: string;
  metadata: Record<string, string>;
}

export interface LokiStream {
  labels: Record<string, string>;
  entries: LokiEntry[];
  highest: bigint;
}

export interface LokiRequest {
  path: string;
  method: string;
  headers: IncomingHttpHeaders;
  tenant: string | undefined;
  status: number;
  /** Response body text (errors). */
  response: string;
  /** Streams and entries in the request, when it could be decoded. */
  streams?: number;
  entries?: number;
  /** Stream label texts in request order, with their entries' timestamps in request order (push only). */
  sent?: { labels: string; ts: bigint[] }[];
}

export interface ScriptedFailure {
  status: number;
  retryAfter?: string;
  body?: string;
  /** Which endpoint it applies to; both when unset. */
  path?: 'push' | 'otlp';
}

export interface LokiFakeOptions {
  authEnabled?: boolean;
  maxLineSize?: number;
  maxLabelNames?: number;
  maxStructuredMetadataEntries?: number;
  maxStructuredMetadataSize?: number;
  allowStructuredMetadata?: boolean;
  now?: () => number;
}

const HOUR_NS = 3_600_000_000_000n;
const SERVICE_NAME_SOURCES = ['service', 'app', 'application', 'app_name', 'name', 'app_kubernetes_io_name', 'container', 'container_name', 'k8s_container_name', 'component', 'workload', 'job', 'k8s_job_name'];
const OTLP_INDEX_LABELS = [
  'service.name', 'service.namespace', 'service.instance.id', 'deployment.environment', 'deployment.environment.name', 'cloud.region',
  'cloud.availability_zone', 'k8s.cluster.name', 'k8s.namespace.name', 'k8s.pod.name', 'k8s.container.name', 'container.name',
  'k8s.replicaset.name', 'k8s.deployment.name', 'k8s.statefulset.name', 'k8s.daemonset.name', 'k8s.cronjob.name', 'k8s.job.name',
];
const TENANT_RE = /^[A-Za-z0-9!\-_.*'()]+$/;
const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Parses a LogQL/PromQL label selector text: {a="x", b="y"}. Throws on syntax errors. Duplicates are kept. */
export function parseLabels(text: string): [string, string][] {
  const s = text.trim();
  if (!s.startsWith('{') || !s.endsWith('}')) throw new Error(`expected a label set in braces`);
  const out: [string, string][] = [];
  let i = 1;
  const end = s.length - 1;
  const ws = () => {
    while (i < end && /\s/.test(s[i]!)) i++;
  };
  ws();
  while (i < end) {
    const m = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(s.slice(i, end));
    if (!m) throw new Error(`unexpected character ${JSON.stringify(s[i])} at ${i}, expected a label name`);
    const name = m[0];
    i += name.length;
    ws();
    if (s[i] !== '=') throw new Error(`expected "=" after ${name}`);
    i++;
    ws();
    if (s[i] !== '"') throw new Error(`expected a quoted value for ${name}`);
    let j = i + 1;
    while (j < end && s[j] !== '"') j += s[j] === '\\' ? 2 : 1;
    if (j >= end) throw new Error(`unterminated value for ${name}`);
    out.push([name, JSON.parse(s.slice(i, j + 1)) as string]);
    i = j + 1;
    ws();
    if (i < end) {
      if (s[i] !== ',') throw new Error(`expected "," at ${i}`);
      i++;
      ws();
    }
  }
  return out;
}

function labelsText(labels: Record<string, string>): string {
  return '{' + Object.keys(labels).sort().map((k) => `${k}=${JSON.stringify(labels[k])}`).join(', ') + '}';
}

function normaliseName(n: string): string {
  return n.replace(/[^a-zA-Z0-9_]/g, '_');
}

function addServiceName(labels: Record<string, string>): void {
  if (labels.service_name !== undefined) return;
  for (const k of SERVICE_NAME_SOURCES) {
    if (labels[k]) {
      labels.service_name = labels[k]!;
      return;
    }
  }
  labels.service_name = 'unknown_service';
}

function rfc3339(ns: bigint): string {
  return new Date(Number(ns / 1_000_000n)).toISOString();
}

interface InStream {
  labels: string;
  entries: { ts: bigint; line: string; metadata: [string, string][] }[];
}

export class LokiFake {
  readonly requests: LokiRequest[] = [];
  private store = new Map<string, Map<string, LokiStream>>();
  private failures: ScriptedFailure[] = [];
  private server!: Server;
  url = '';
  private opts: Required<LokiFakeOptions>;

  constructor(opts: LokiFakeOptions = {}) {
    this.opts = {
      authEnabled: opts.authEnabled ?? true,
      maxLineSize: opts.maxLineSize ?? 256 * 1024,
      maxLabelNames: opts.maxLabelNames ?? 15,
      maxStructuredMetadataEntries: opts.maxStructuredMetadataEntries ?? 128,
      maxStructuredMetadataSize: opts.maxStructuredMetadataSize ?? 64 * 1024,
      allowStructuredMetadata: opts.allowStructuredMetadata ?? true,
      now: opts.now ?? Date.now,
    };
  }

  get pushUrl(): string {
    return `${this.url}/loki/api/v1/push`;
  }
  get otlpUrl(): string {
    return `${this.url}/otlp`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** The next requests (one per failure) get these answers. */
  failNext(...f: ScriptedFailure[]): void {
    this.failures.push(...f);
  }

  tenants(): string[] {
    return [...this.store.keys()].filter((t) => this.streams(t).length > 0);
  }

  streams(tenant: string): LokiStream[] {
    return [...(this.store.get(tenant)?.values() ?? [])].filter((s) => s.entries.length > 0);
  }

  /** Every stored entry of a tenant with its stream labels. */
  entries(tenant: string): (LokiEntry & { labels: Record<string, string> })[] {
    return this.streams(tenant).flatMap((s) => s.entries.map((e) => ({ ...e, labels: s.labels })));
  }

  reset(): void {
    this.requests.length = 0;
    this.store.clear();
    this.failures.length = 0;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    const rec: LokiRequest = { path, method: req.method ?? '', headers: req.headers, tenant: undefined, status: 0, response: '' };
    this.requests.push(rec);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const isOtlp = path === '/otlp/v1/logs';
    const text = (status: number, body: string, headers: Record<string, string> = {}) => {
      rec.status = status;
      rec.response = body;
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff', ...headers });
      res.end(body === '' ? '' : body + '\n');
    };
    const otlpError = (status: number, message: string, headers: Record<string, string> = {}) => {
      // Loki's OTLPError: 500 becomes 503 so that OTLP clients retry.
      const st = status === 500 ? 503 : status;
      const code = st === 400 ? 3 : st === 429 ? 8 : st === 503 ? 14 : st === 401 ? 16 : st === 413 ? 8 : 13;
      rec.status = st;
      rec.response = message;
      res.writeHead(st, { 'Content-Type': 'application/octet-stream', ...headers });
      res.end(rpcStatus(code, message));
    };

    if (path !== '/loki/api/v1/push' && !isOtlp) return text(404, '404 page not found');
    if (req.method !== 'POST') return text(405, 'method not allowed');

    // Tenancy (dskit middleware), before anything else.
    const org = req.headers['x-scope-orgid'];
    let tenant = Array.isArray(org) ? org[0] : org;
    if (this.opts.authEnabled) {
      if (!tenant) return text(401, 'no org id');
      if (tenant.length > 150 || tenant === '.' || tenant === '..' || !TENANT_RE.test(tenant)) return text(401, `tenant ID '${tenant}' contains unsupported characters`);
    } else tenant = 'fake';
    rec.tenant = tenant;

    const fi = this.failures.findIndex((f) => !f.path || f.path === (isOtlp ? 'otlp' : 'push'));
    if (fi >= 0) {
      const f = this.failures.splice(fi, 1)[0]!;
      const headers: Record<string, string> = f.retryAfter !== undefined ? { 'Retry-After': f.retryAfter } : {};
      const body =
        f.body ??
        (f.status === 429
          ? `ingestion rate limit exceeded for user ${tenant} (limit: 4194304 bytes/sec) while attempting to ingest '1' lines totaling '100' bytes, reduce log volume or contact your Loki administrator to see if the limit can be increased`
          : `rpc error: code = Unavailable desc = no healthy ingester`);
      return isOtlp ? otlpError(f.status, body, headers) : text(f.status, body, headers);
    }

    return isOtlp ? this.handleOtlp(req, raw, tenant, rec, otlpError, res) : this.handlePush(req, raw, tenant, rec, text);
  }

  // ---------------------------------------------------------------- push API

  private handlePush(req: IncomingMessage, raw: Buffer, tenant: string, rec: LokiRequest, text: (s: number, b: string) => void): void {
    const ctype = req.headers['content-type'] ?? '';
    const mediaType = ctype.split(';')[0]!.trim().toLowerCase();
    if (mediaType === '') return text(400, 'mime: no media type');
    const enc = (req.headers['content-encoding'] ?? '').toLowerCase();
    let body: Buffer = raw;
    try {
      if (enc === 'gzip') body = gunzipSync(body);
      else if (enc === 'deflate') body = inflateSync(body);
      else if (enc !== '' && enc !== 'snappy') return text(400, `Content-Encoding "${enc}" not supported`);
    } catch (e) {
      return text(400, (e as Error).message);
    }
    let streams: InStream[];
    try {
      if (mediaType === 'application/json') {
        if (enc === 'snappy') return text(400, 'Content-Encoding "snappy" not supported');
        streams = decodeJsonPush(body.toString('utf8'));
      } else {
        const plain = toPlain(PushRequest, snappy.uncompress(body)) as { streams: { labels: string; entries: { timestamp?: { seconds: string; nanos: number }; line: string; structuredMetadata: { name: string; value: string }[] }[] }[] };
        streams = plain.streams.map((s) => ({
          labels: s.labels,
          entries: s.entries.map((e) => ({
            ts: BigInt(e.timestamp?.seconds ?? '0') * 1_000_000_000n + BigInt(e.timestamp?.nanos ?? 0),
            line: e.line,
            metadata: e.structuredMetadata.map((p) => [p.name, p.value] as [string, string]),
          })),
        }));
      }
    } catch (e) {
      return text(400, `couldn't decode push request: ${(e as Error).message}`);
    }
    rec.streams = streams.length;
    rec.entries = streams.reduce((n, s) => n + s.entries.length, 0);
    rec.sent = streams.map((s) => ({ labels: s.labels, ts: s.entries.map((e) => e.ts) }));
    const errors = this.ingest(tenant, streams);
    if (errors.length) return text(400, errors.join('\n'));
    rec.status = 204;
    text(204, '');
  }

  /** Validates and stores; returns Loki's error messages. Valid streams and entries are kept. */
  private ingest(tenant: string, streams: InStream[]): string[] {
    const errors: string[] = [];
    const o = this.opts;
    const nowNs = BigInt(o.now()) * 1_000_000n;
    for (const s of streams) {
      let pairs: [string, string][];
      try {
        pairs = parseLabels(s.labels);
      } catch (e) {
        errors.push(`Error parsing labels '${s.labels}' with error: ${(e as Error).message}`);
        continue;
      }
      pairs = pairs.filter(([, v]) => v !== '');
      const err = this.validateLabels(s.labels, pairs);
      if (err) {
        errors.push(err);
        continue;
      }
      const labels: Record<string, string> = Object.fromEntries(pairs);
      addServiceName(labels);
      const key = labelsText(labels);
      const tstore = this.store.get(tenant) ?? new Map<string, LokiStream>();
      this.store.set(tenant, tstore);
      let stream = tstore.get(key);
      if (!stream) tstore.set(key, (stream = { labels, entries: [], highest: 0n }));
      let ignored = 0;
      let lastBehind = '';
      for (const e of s.entries) {
        const bytes = Buffer.byteLength(e.line);
        if (bytes > o.maxLineSize) {
          errors.push(`max entry size '${o.maxLineSize}' bytes exceeded for stream '${key}' while adding an entry with length '${bytes}' bytes`);
          continue;
        }
        if (e.ts < nowNs - 7n * 24n * HOUR_NS) {
          errors.push(`entry for stream '${key}' has timestamp too old: ${rfc3339(e.ts)}, oldest acceptable timestamp is: ${rfc3339(nowNs - 7n * 24n * HOUR_NS)}`);
          continue;
        }
        if (e.ts > nowNs + 600_000_000_000n) {
          errors.push(`entry for stream '${key}' has timestamp too new: ${rfc3339(e.ts)}`);
          continue;
        }
        if (e.metadata.length > 0 && !o.allowStructuredMetadata) {
          errors.push(`stream '${key}' includes structured metadata, but this feature is disallowed. Please see \`limits_config.structured_metadata\` or contact your Loki administrator to enable it.`);
          continue;
        }
        if (e.metadata.length > o.maxStructuredMetadataEntries) {
          errors.push(`stream '${key}' has too many structured metadata labels: '${e.metadata.length}', limit: '${o.maxStructuredMetadataEntries}'. Please see \`limits_config.max_structured_metadata_entries_count\` or contact your Loki administrator to increase it.`);
          continue;
        }
        const mdSize = e.metadata.reduce((n, [k, v]) => n + k.length + v.length, 0);
        if (mdSize > o.maxStructuredMetadataSize) {
          errors.push(`stream '${key}' has structured metadata too large: '${mdSize}' bytes, limit: '${o.maxStructuredMetadataSize}' bytes. Please see \`limits_config.max_structured_metadata_size\` or contact your Loki administrator to increase it.`);
          continue;
        }
        // Ingester: unordered writes accept entries up to max_chunk_age/2 (1h) behind the newest.
        if (stream.highest > 0n && e.ts < stream.highest - HOUR_NS) {
          ignored++;
          lastBehind = `entry with timestamp ${rfc3339(e.ts)} ignored, reason: 'entry too far behind, entry timestamp is: ${rfc3339(e.ts)}, oldest acceptable timestamp is: ${rfc3339(stream.highest - HOUR_NS)}',`;
          continue;
        }
        const metadata: Record<string, string> = {};
        for (const [k, v] of e.metadata) metadata[normaliseName(k)] = v;
        const last = stream.entries[stream.entries.length - 1];
        if (last && last.ts === e.ts && last.line === e.line && JSON.stringify(last.metadata) === JSON.stringify(metadata)) continue;
        stream.entries.push({ ts: e.ts, line: e.line, metadata });
        if (e.ts > stream.highest) stream.highest = e.ts;
      }
      if (ignored) errors.push(`${lastBehind}\nuser '${tenant}', total ignored: ${ignored} out of ${s.entries.length} for stream: ${key}`);
    }
    return errors;
  }

  private validateLabels(text: string, pairs: [string, string][]): string | undefined {
    if (pairs.length === 0) return 'error at least one label pair is required per stream';
    if (pairs.length > this.opts.maxLabelNames) return `entry for stream '${text}' has ${pairs.length} label names; limit ${this.opts.maxLabelNames}`;
    const seen = new Set<string>();
    for (const [n, v] of pairs) {
      if (!LABEL_NAME_RE.test(n)) return `Error parsing labels '${text}' with error: invalid label name ${n}`;
      if (n.length > 1024) return `stream '${text}' has label name too long: '${n}'`;
      if (v.length > 2048) return `stream '${text}' has label value too long: '${v}'`;
      if (seen.has(n)) return `stream '${text}' has duplicate label name: '${n}'`;
      seen.add(n);
    }
    return undefined;
  }

  // ---------------------------------------------------------------- OTLP

  private handleOtlp(
    req: IncomingMessage,
    raw: Buffer,
    tenant: string,
    rec: LokiRequest,
    otlpError: (s: number, m: string) => void,
    res: ServerResponse,
  ): void {
    const ctype = req.headers['content-type'] ?? '';
    if (ctype !== 'application/x-protobuf' && ctype !== 'application/json') return otlpError(400, `unsupported content type: ${ctype}`);
    const enc = (req.headers['content-encoding'] ?? '').toLowerCase();
    let body = raw;
    try {
      if (enc === 'gzip') body = gunzipSync(raw);
      else if (enc !== '') return otlpError(400, `unsupported compression: ${enc}`);
    } catch (e) {
      return otlpError(400, (e as Error).message);
    }
    type R = { resource?: { attributes: { key: string; value?: PlainAnyValue }[] }; scope_logs: { scope?: { name: string; version: string }; log_records: Rec[] }[] };
    type Rec = { time_unix_nano: string; observed_time_unix_nano: string; severity_number: number; severity_text: string; body?: PlainAnyValue; attributes: { key: string; value?: PlainAnyValue }[]; trace_id: Buffer; span_id: Buffer; flags: number };
    let resources: R[];
    try {
      resources = ctype === 'application/json' ? decodeOtlpLogsJson(body.toString('utf8')) : ((toPlain(ExportLogsServiceRequest, body) as { resource_logs: R[] }).resource_logs ?? []);
    } catch (e) {
      return otlpError(400, `failed to decode: ${(e as Error).message}`);
    }
    const streams: InStream[] = [];
    let count = 0;
    for (const r of resources) {
      const labels: Record<string, string> = {};
      const resMd: [string, string][] = [];
      for (const kv of r.resource?.attributes ?? []) {
        const v = anyAsString(kv.value);
        if (OTLP_INDEX_LABELS.includes(kv.key)) labels[normaliseName(kv.key)] = v;
        else resMd.push([normaliseName(kv.key), v]);
      }
      if (labels.service_name === undefined) labels.service_name = 'unknown_service';
      const s: InStream = { labels: labelsText(labels), entries: [] };
      for (const sl of r.scope_logs ?? []) {
        for (const lr of sl.log_records ?? []) {
          count++;
          const md: [string, string][] = [...resMd];
          if (sl.scope?.name) md.push(['scope_name', sl.scope.name]);
          if (sl.scope?.version) md.push(['scope_version', sl.scope.version]);
          for (const kv of lr.attributes ?? []) md.push([normaliseName(kv.key), anyAsString(kv.value)]);
          if (lr.severity_number) md.push(['severity_number', String(lr.severity_number)]);
          if (lr.severity_text) md.push(['severity_text', lr.severity_text]);
          if (lr.trace_id?.length) md.push(['trace_id', Buffer.from(lr.trace_id).toString('hex')]);
          if (lr.span_id?.length) md.push(['span_id', Buffer.from(lr.span_id).toString('hex')]);
          if (lr.flags) md.push(['flags', String(lr.flags)]);
          const t = BigInt(lr.time_unix_nano ?? '0');
          const ob = BigInt(lr.observed_time_unix_nano ?? '0');
          if (ob !== 0n) md.push(['observed_timestamp', ob.toString()]);
          s.entries.push({ ts: t !== 0n ? t : ob !== 0n ? ob : BigInt(this.opts.now()) * 1_000_000n, line: anyAsString(lr.body), metadata: md });
        }
      }
      streams.push(s);
    }
    rec.streams = streams.length;
    rec.entries = count;
    const errors = this.ingest(tenant, streams);
    if (errors.length) return otlpError(400, errors.join('\n'));
    rec.status = 204;
    res.writeHead(204);
    res.end();
  }
}

function decodeJsonPush(text: string): InStream[] {
  const doc = JSON.parse(text) as { streams?: { stream?: Record<string, unknown>; values?: unknown[] }[] };
  if (!Array.isArray(doc.streams)) throw new Error('streams must be a list');
  return doc.streams.map((s) => {
    const stream = s.stream ?? {};
    for (const v of Object.values(stream)) if (typeof v !== 'string') throw new Error('label values must be strings');
    const labels = '{' + Object.entries(stream).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ') + '}';
    const entries = (s.values ?? []).map((v) => {
      if (!Array.isArray(v) || v.length < 2 || v.length > 3) throw new Error('a value must be [ts, line] or [ts, line, metadata]');
      if (typeof v[0] !== 'string') throw new Error('the timestamp must be a string of Unix nanoseconds');
      if (typeof v[1] !== 'string') throw new Error('the line must be a string');
      const md = (v[2] ?? {}) as Record<string, unknown>;
      for (const x of Object.values(md)) if (typeof x !== 'string') throw new Error('structured metadata values must be strings');
      return { ts: BigInt(v[0]), line: v[1], metadata: Object.entries(md) as [string, string][] };
    });
    return { labels, entries };
  });
}

function decodeOtlpLogsJson(text: string): never[] {
  const doc = JSON.parse(text) as { resourceLogs?: Record<string, any>[] };
  return (doc.resourceLogs ?? []).map((r) => ({
    resource: { attributes: (r.resource?.attributes ?? []).map((kv: any) => ({ key: kv.key, value: jsonAnyValue(kv.value) })) },
    scope_logs: (r.scopeLogs ?? []).map((sl: any) => ({
      scope: sl.scope,
      log_records: (sl.logRecords ?? []).map((lr: any) => ({
        time_unix_nano: String(lr.timeUnixNano ?? '0'),
        observed_time_unix_nano: String(lr.observedTimeUnixNano ?? '0'),
        severity_number: lr.severityNumber ?? 0,
        severity_text: lr.severityText ?? '',
        body: jsonAnyValue(lr.body),
        attributes: (lr.attributes ?? []).map((kv: any) => ({ key: kv.key, value: jsonAnyValue(kv.value) })),
        trace_id: Buffer.from(lr.traceId ?? '', 'hex'),
        span_id: Buffer.from(lr.spanId ?? '', 'hex'),
        flags: lr.flags ?? 0,
      })),
    })),
  })) as never[];
}

export async function startLokiFake(opts: LokiFakeOptions = {}): Promise<LokiFake> {
  return new LokiFake(opts).start();
}
