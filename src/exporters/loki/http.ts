// A minimal HTTP POST over keep-alive connections, reading at most a bounded
// part of the response body (Loki's error bodies can list every rejected entry).
import http from 'node:http';
import https from 'node:https';
import { loadClientTls, tlsVersion, type TlsClientConfig } from '../../config/tls.js';

export interface HttpResponse {
  status: number;
  retryAfter: string | undefined;
  body: string;
}

/** Most of a response body that is kept for error messages. */
const MAX_BODY = 64 * 1024;

export interface HttpClient {
  post(headers: Record<string, string>, body: Uint8Array | string, signal: AbortSignal): Promise<HttpResponse>;
  close(): void;
}

export function createHttpClient(endpoint: string, tls: TlsClientConfig): HttpClient {
  const url = new URL(endpoint);
  const secure = url.protocol === 'https:';
  const agent = secure
    ? new https.Agent({
        keepAlive: true,
        ...(() => {
          const m = loadClientTls(tls);
          return {
            ca: m.ca,
            cert: m.cert,
            key: m.key,
            rejectUnauthorized: !tls.insecure_skip_verify,
            servername: tls.server_name_override,
            minVersion: tlsVersion(tls.min_version),
          };
        })(),
      })
    : new http.Agent({ keepAlive: true });
  const request = secure ? https.request : http.request;

  return {
    post(headers, body, signal) {
      return new Promise<HttpResponse>((resolve, reject) => {
        const req = request(
          url,
          {
            method: 'POST',
            agent,
            signal,
            headers: { ...headers, 'Content-Length': String(typeof body === 'string' ? Buffer.byteLength(body) : body.length) },
          },
          (res) => {
            const chunks: Buffer[] = [];
            let size = 0;
            res.on('data', (c: Buffer) => {
              if (size < MAX_BODY) {
                chunks.push(c);
                size += c.length;
              }
            });
            res.on('end', () => {
              const ra = res.headers['retry-after'];
              resolve({
                status: res.statusCode ?? 0,
                retryAfter: Array.isArray(ra) ? ra[0] : ra,
                body: Buffer.concat(chunks).subarray(0, MAX_BODY).toString('utf8'),
              });
            });
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    },
    close() {
      agent.destroy();
    },
  };
}
