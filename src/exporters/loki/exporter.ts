// The loki exporter's push function: convert a batch to streams per tenant,
// encode one push request per tenant, send them, and map Loki's answers.
//
// Retries: the helper calls push again with the same batch. The encoded
// requests are kept per batch, and a tenant's request that Loki already took
// (or rejected for good) is not sent again, so a retry resends only what failed.
import type { ConsumeResult, CreateSettings } from '../../component/component.js';
import { ConsumerError, asConsumerError, permanentError, throttleError, unavailableError } from '../../component/errors.js';
import { ProtoWriter } from '../../pdata/proto/writer.js';
import type { ResourceLogs } from '../../pdata/model.js';
import type { Telemetry } from '../../pdata/telemetry.js';
import { parseRetryAfter } from '../exporterhelper/helper.js';
import { isValidTenantId } from '../../processors/tenant/tenant_id.js';
import { batchTenant } from './tenant.js';
import type { LokiConfig } from './config.js';
import { compileOptions, convert, type ConvertStats } from './convert.js';
import { convertWire } from './wire.js';
import { SnappyBlock } from '../../prom/snappy.js';
import { encodeJson, encodeProtobuf } from './encode.js';
import { createHttpClient, type HttpClient } from './http.js';
import { parseReasons } from './reason.js';

interface PushRequest {
  tenant: string | undefined;
  body: Uint8Array | string;
  records: number;
  streams: number;
  state: 'pending' | 'done' | 'rejected';
  rejectMessage?: string;
}

interface Prepared {
  requests: PushRequest[];
  /** Records dropped before sending (too long, invalid tenant). */
  dropped: number;
}

export interface LokiPusher {
  push(data: Telemetry, signal: AbortSignal): Promise<ConsumeResult>;
  close(): void;
}

export function createLokiPusher(settings: CreateSettings, cfg: LokiConfig): LokiPusher {
  const opts = compileOptions(cfg);
  const t = settings.telemetry;
  const id = settings.id;
  const log = settings.logger;
  const m = {
    requests: t.counter('sieve_loki_requests', 'Push requests sent to Loki, by HTTP status ("error" when no response).', ['exporter', 'status_code']),
    rejected: t.counter('sieve_loki_rejected_log_records', 'Log records in push requests Loki refused for good (4xx), by Loki discard reason.', ['exporter', 'reason']),
    dropped: t.counter('sieve_loki_dropped_log_records', 'Log records dropped before sending, by reason (line_too_long, invalid_tenant).', ['exporter', 'reason']),
    truncated: t.counter('sieve_loki_truncated_lines', 'Log lines truncated to max_line_size.', ['exporter']),
    overflow: t.counter('sieve_loki_overflow_log_records', 'Log records sent in the overflow stream because max_streams was reached.', ['exporter']),
    bytes: t.counter('sieve_loki_sent_bytes', 'Bytes of push request bodies sent to Loki (after compression).', ['exporter']),
    streams: t.histogram('sieve_loki_request_streams', 'Streams per push request.', ['exporter'], [1, 5, 10, 50, 100, 500, 1000, 5000]),
  };
  const L = { exporter: id };

  const client: HttpClient = createHttpClient(cfg.endpoint, cfg.tls);
  // Reused across pushes: conversion and encoding of one batch run without an await between them.
  let scratch = new ProtoWriter(64 * 1024);
  let writer = new ProtoWriter(64 * 1024);
  const compressor = new SnappyBlock();
  const baseHeaders: Record<string, string> = {};
  let staticTenantHeader: string | undefined;
  const tenantHeaderLower = cfg.tenant.header.toLowerCase();
  for (const [k, v] of Object.entries(cfg.headers)) {
    if (k.toLowerCase() === tenantHeaderLower) staticTenantHeader = v;
    else baseHeaders[k] = v;
  }
  baseHeaders['Content-Type'] = cfg.encoding === 'protobuf' ? 'application/x-protobuf' : 'application/json';
  baseHeaders['User-Agent'] = 'Sieve';
  const pending = new WeakMap<Telemetry, Prepared>();

  const prepare = (data: Telemetry): Prepared => {
    const stats: ConvertStats = { truncated: 0, droppedTooLong: 0, overflow: 0 };
    scratch.reset();
    const now = BigInt(Math.round(settings.now())) * 1_000_000n;
    // Request bytes at hand (what the receivers and the byte-level processors
    // pass on): entries are written from them without building the model.
    const groups =
      opts.protobuf && data.hasProto()
        ? convertWire(data.toProto(), opts, batchTenant(cfg.tenant, data), now, stats, scratch)
        : convert(data.read() as readonly ResourceLogs[], opts, batchTenant(cfg.tenant, data), now, stats, scratch);
    if (stats.truncated) m.truncated.inc(L, stats.truncated);
    if (stats.droppedTooLong) m.dropped.inc({ exporter: id, reason: 'line_too_long' }, stats.droppedTooLong);
    if (stats.overflow) m.overflow.inc(L, stats.overflow);
    let dropped = stats.droppedTooLong;
    const requests: PushRequest[] = [];
    let invalid = 0;
    for (const g of groups) {
      const tenant = g.tenant ?? staticTenantHeader;
      if (tenant !== undefined && !isValidTenantId(tenant)) {
        invalid += g.records;
        continue;
      }
      const body = cfg.encoding === 'protobuf' ? encodeProtobuf(writer, g.streams, scratch, compressor) : encodeJson(g.streams);
      m.streams.observe(L, g.streams.length);
      requests.push({ tenant, body, records: g.records, streams: g.streams.length, state: 'pending' });
    }
    // A rare huge batch must not pin its buffers for good.
    if (scratch.buf.length > 16 * 1024 * 1024 && scratch.pos < scratch.buf.length / 4) scratch = new ProtoWriter(64 * 1024);
    if (writer.buf.length > 16 * 1024 * 1024 && writer.pos < writer.buf.length / 4) writer = new ProtoWriter(64 * 1024);
    if (invalid) {
      m.dropped.inc({ exporter: id, reason: 'invalid_tenant' }, invalid);
      log.warn('Dropped log records whose tenant id Loki would not accept.', { dropped_items: invalid });
      dropped += invalid;
    }
    return { requests, dropped };
  };

  const sendOne = async (r: PushRequest, signal: AbortSignal): Promise<void> => {
    const headers = r.tenant === undefined ? baseHeaders : { ...baseHeaders, [cfg.tenant.header]: r.tenant };
    let res;
    try {
      res = await client.post(headers, r.body, signal);
    } catch (e) {
      m.requests.inc({ exporter: id, status_code: 'error' });
      throw unavailableError(`sending to Loki failed: ${(e as Error).message}`, undefined, 'SIEVE_ERR_BACKEND_UNAVAILABLE', e);
    }
    m.requests.inc({ exporter: id, status_code: String(res.status) });
    if (res.status >= 200 && res.status < 300) {
      m.bytes.inc(L, typeof r.body === 'string' ? Buffer.byteLength(r.body) : r.body.length);
      return;
    }
    const detail = res.body.trim().split('\n').slice(0, 3).join(' | ').slice(0, 512);
    const msg = `Loki answered HTTP ${res.status}${r.tenant ? ` for tenant ${r.tenant}` : ''}: ${detail}`;
    const ra = parseRetryAfter(res.retryAfter);
    if (res.status === 429) throw throttleError(msg, ra ?? 0, 'SIEVE_ERR_BACKEND_THROTTLED');
    // Loki's 5xx are transient (an ingester restarting, a ring not ready): retried, unlike OTLP's 500.
    if (res.status >= 500) throw unavailableError(msg, ra, 'SIEVE_ERR_BACKEND_UNAVAILABLE');
    const reasons = parseReasons(res.status, res.body);
    m.rejected.inc({ exporter: id, reason: reasons[0]! }, r.records);
    const kind = res.status === 401 ? 'unauthenticated' : res.status === 403 ? 'permission_denied' : res.status === 413 ? 'too_large' : 'invalid';
    throw new ConsumerError(kind, `${msg} (reason: ${reasons.join(', ')})`, { code: 'SIEVE_ERR_BACKEND_REJECTED' });
  };

  return {
    async push(data, signal) {
      let p = pending.get(data);
      if (!p) {
        p = prepare(data);
        pending.set(data, p);
      }
      let retryable: ConsumerError | undefined;
      let permanent: ConsumerError | undefined;
      await Promise.all(
        p.requests.map(async (r) => {
          if (r.state !== 'pending') return;
          try {
            await sendOne(r, signal);
            r.state = 'done';
          } catch (e) {
            const err = asConsumerError(e);
            if (err.permanent) {
              r.state = 'rejected';
              r.rejectMessage = err.message;
              permanent ??= err;
            } else retryable ??= err;
          }
        }),
      );
      if (retryable) throw retryable;
      pending.delete(data);
      let rejected = p.dropped;
      let delivered = 0;
      const messages: string[] = [];
      for (const r of p.requests) {
        if (r.state === 'rejected') {
          rejected += r.records;
          if (messages.length < 3) messages.push(r.rejectMessage!);
        } else delivered += r.records;
      }
      if (delivered === 0) {
        if (permanent) throw permanent;
        if (rejected > 0) throw permanentError(`all ${rejected} log records were dropped before sending (see sieve_loki_dropped_log_records)`, 'SIEVE_ERR_DROPPED');
        return;
      }
      if (rejected > 0) {
        const errorMessage = messages.length ? messages.join('; ') : `${p.dropped} log records dropped before sending`;
        if (permanent) log.warn('Loki refused part of a batch. Dropping that part.', { error: permanent, dropped_items: rejected - p.dropped });
        return { rejected, errorMessage };
      }
      return;
    },
    close() {
      client.close();
    },
  };
}
