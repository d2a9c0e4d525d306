// OTLP/HTTP exporter: protobuf or JSON, optional gzip, keep-alive connections.
// Content-Type is exactly application/x-protobuf or application/json (Loki's
// OTLP endpoint rejects parameters).
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { gzip } from 'node:zlib';
import { promisify } from 'node:util';
import type { CreateSettings, ExporterComponent } from '../../component/component.js';
import { unavailableError } from '../../component/errors.js';
import { loadClientTls } from '../../config/tls.js';
import { CODECS, decodeExportResponse, decodeExportResponseJson } from '../../pdata/codec.js';
import type { Signal } from '../../pdata/model.js';
import { createIdValidator } from '../otlp_common/validate_ids.js';
import type { Telemetry } from '../../pdata/telemetry.js';
import { resolveClientAuth, type ClientAuthenticator } from '../../extensions/auth/auth.js';
import { createExporter, errorFromHttpStatus } from '../exporterhelper/helper.js';
import type { OtlpHttpExporterConfig } from './factory.js';

const gzipAsync = promisify(gzip);

export function signalUrl(cfg: OtlpHttpExporterConfig, signal: Signal): string {
  const specific = cfg[`${signal}_endpoint`];
  if (specific) return specific;
  return cfg.endpoint!.replace(/\/+$/, '') + `/v1/${signal}`;
}

/** Decodes a google.rpc.Status message from an error body, for the error text. */
function statusMessage(body: Buffer, ctype: string | undefined): string {
  if (body.length === 0) return '';
  try {
    if (ctype?.includes('json')) return String((JSON.parse(body.toString('utf8')) as { message?: string }).message ?? body.toString('utf8').slice(0, 256));
    if (ctype?.includes('protobuf') || ctype?.includes('octet-stream')) {
      // google.rpc.Status: message is field 2 (length-delimited).
      let i = 0;
      while (i < body.length) {
        const tag = body[i++]!;
        if (tag === 0x12) {
          let len = 0;
          let shift = 0;
          let b: number;
          do {
            b = body[i++]!;
            len |= (b & 127) << shift;
            shift += 7;
          } while (b & 128 && shift < 35);
          return body.subarray(i, i + len).toString('utf8');
        }
        if ((tag & 7) === 0) {
          while (body[i++]! & 128);
        } else break;
      }
    }
  } catch {
    /* fall through */
  }
  return body.toString('utf8').slice(0, 256).trim();
}

export function createOtlpHttpExporter(settings: CreateSettings, cfg: OtlpHttpExporterConfig, signal: Signal): ExporterComponent {
  const url = new URL(signalUrl(cfg, signal));
  const secure = url.protocol === 'https:';
  const tls = secure ? loadClientTls(cfg.tls) : {};
  const agent = secure
    ? new HttpsAgent({ keepAlive: !cfg.disable_keep_alives, ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: !cfg.tls.insecure_skip_verify, servername: cfg.tls.server_name_override })
    : new HttpAgent({ keepAlive: !cfg.disable_keep_alives });
  const doRequest = secure ? httpsRequest : httpRequest;
  const json = cfg.encoding === 'json';
  const log = settings.logger;
  const checkIds = signal === 'traces' ? createIdValidator(settings) : undefined;
  let auth: ClientAuthenticator | undefined;
  return createExporter({
    settings,
    signal,
    config: cfg,
    async start(host) {
      auth = resolveClientAuth(host, cfg.auth, `exporters::${settings.id}`);
    },
    async shutdown() {
      agent.destroy();
    },
    async push(data, abort) {
      if (checkIds) {
        // Backends such as Tempo refuse a whole request for one span with a bad id: drop and count those spans first.
        const d = checkIds(data as Telemetry<'traces'>);
        if (!d) return undefined;
        data = d;
      }
      // Protobuf goes out as the batch's byte ranges, one write each (no copy into one buffer).
      let body: readonly Uint8Array[] = json ? [Buffer.from(CODECS[signal].encodeJson(data.read() as never))] : data.protoParts();
      const headers: Record<string, string> = {
        ...cfg.headers,
        'Content-Type': json ? 'application/json' : 'application/x-protobuf',
        'User-Agent': 'sieve',
      };
      if (auth) Object.assign(headers, auth.clientHeaders());
      if (cfg.tenant_header && data.ctx.tenant) headers[cfg.tenant_header] = data.ctx.tenant;
      if (cfg.compression === 'gzip') {
        body = [await gzipAsync(body.length === 1 ? body[0]! : Buffer.concat(body))];
        headers['Content-Encoding'] = 'gzip';
      }
      let length = 0;
      for (const b of body) length += b.length;
      headers['Content-Length'] = String(length);
      const res = await new Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }>((resolve, reject) => {
        const req = doRequest(url, { method: 'POST', agent, headers, signal: abort }, (r) => {
          const chunks: Buffer[] = [];
          let size = 0;
          r.on('data', (c: Buffer) => {
            size += c.length;
            if (size <= 4 * 1024 * 1024) chunks.push(c);
          });
          r.on('end', () => resolve({ status: r.statusCode ?? 0, headers: r.headers, body: Buffer.concat(chunks) }));
          r.on('error', reject);
        });
        req.on('error', (e) => reject(unavailableError(`${url.origin}: ${e.message}`, undefined, 'SIEVE_ERR_BACKEND_UNREACHABLE', e)));
        req.cork();
        for (let i = 0; i < body.length - 1; i++) req.write(body[i]!);
        req.end(body[body.length - 1]);
        req.uncork();
      });
      if (res.status >= 200 && res.status < 300) {
        if (res.body.length > 0) {
          try {
            const p = res.headers['content-type']?.includes('json') ? decodeExportResponseJson(res.body.toString('utf8')) : decodeExportResponse(res.body);
            if (p && (p.rejected > 0 || p.errorMessage)) log.warn('Partial success response', { rejected_items: p.rejected, 'error.message': p.errorMessage });
          } catch {
            /* a backend may answer 200 with another body */
          }
        }
        return undefined;
      }
      const retryAfter = res.headers['retry-after'];
      throw errorFromHttpStatus(res.status, Array.isArray(retryAfter) ? retryAfter[0] : retryAfter, statusMessage(res.body, res.headers['content-type']));
    },
  });
}
