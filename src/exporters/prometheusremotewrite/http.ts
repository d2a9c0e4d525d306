// POSTs Remote Write bodies over keep-alive connections and maps responses to
// the consumer error contract:
//   2xx            success (the body is ignored)
//   429            retryable, honouring Retry-After
//   5xx            retryable with backoff (every 5xx, as the spec requires)
//   other statuses permanent: never retried
//   network errors retryable
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { unavailableError, type ConsumerError } from '../../component/errors.js';
import { loadClientTls, tlsVersion, type TlsClientConfig } from '../../config/tls.js';
import { errorFromHttpStatus, parseRetryAfter } from '../exporterhelper/helper.js';
import { RESERVED_HEADERS } from './config.js';

/** Most of an error response body kept for the error message. */
const MAX_ERROR_BODY = 1024;

function sieveVersion(): string {
  try {
    const require = createRequire(import.meta.url);
    const path = require.resolve('../../../package.json');
    return (JSON.parse(readFileSync(path, 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export const USER_AGENT = `sieve/${sieveVersion()}`;

/** The request headers: the user's, then the protocol's (which always win). */
export function requestHeaders(user: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(user)) {
    if (!RESERVED_HEADERS.includes(k.toLowerCase())) out[k] = v;
  }
  out['Content-Encoding'] = 'snappy';
  out['Content-Type'] = 'application/x-protobuf';
  out['User-Agent'] = USER_AGENT;
  out['X-Prometheus-Remote-Write-Version'] = '0.1.0';
  return out;
}

/** Maps a non-2xx Remote Write response to a ConsumerError. */
export function errorFromResponse(status: number, retryAfter: string | undefined, body: string): ConsumerError {
  if (status >= 500 && status <= 599) {
    return unavailableError(`HTTP ${status}${body ? `: ${body}` : ''}`, parseRetryAfter(retryAfter), 'SIEVE_ERR_BACKEND_UNAVAILABLE');
  }
  return errorFromHttpStatus(status, retryAfter, body);
}

export class RemoteWriteClient {
  private readonly url: URL;
  private readonly agent: http.Agent;
  private readonly request: typeof http.request;
  private readonly headers: Record<string, string>;

  constructor(endpoint: string, tls: TlsClientConfig, userHeaders: Record<string, string>, maxSockets: number) {
    this.url = new URL(endpoint);
    const secure = this.url.protocol === 'https:';
    if (secure) {
      const m = loadClientTls(tls);
      this.agent = new https.Agent({
        keepAlive: true,
        maxSockets,
        ca: m.ca,
        cert: m.cert,
        key: m.key,
        rejectUnauthorized: !tls.insecure_skip_verify,
        servername: tls.server_name_override,
        minVersion: tlsVersion(tls.min_version),
      });
      this.request = https.request;
    } else {
      this.agent = new http.Agent({ keepAlive: true, maxSockets });
      this.request = http.request;
    }
    this.headers = requestHeaders(userHeaders);
  }

  /** Sends one compressed WriteRequest; resolves on 2xx, rejects with a ConsumerError otherwise. */
  send(body: Uint8Array, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const req = this.request(
        this.url,
        { method: 'POST', agent: this.agent, signal, headers: { ...this.headers, 'Content-Length': String(body.length) } },
        (res) => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            res.resume();
            res.on('end', () => resolve());
            res.on('error', (e) => reject(unavailableError(`reading the response failed: ${e.message}`, undefined, 'SIEVE_ERR_NETWORK', e)));
            return;
          }
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            if (text.length < MAX_ERROR_BODY) text += c;
          });
          res.on('end', () => {
            const ra = res.headers['retry-after'];
            reject(errorFromResponse(status, Array.isArray(ra) ? ra[0] : ra, text.slice(0, MAX_ERROR_BODY).trim()));
          });
          res.on('error', (e) => reject(unavailableError(`reading the response failed: ${e.message}`, undefined, 'SIEVE_ERR_NETWORK', e)));
        },
      );
      req.on('error', (e) => reject(unavailableError(`sending to ${this.url.host} failed: ${e.message}`, undefined, 'SIEVE_ERR_NETWORK', e)));
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
