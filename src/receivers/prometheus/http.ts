// One scrape over HTTP(S): the Accept header of the job's protocols,
// Accept-Encoding gzip, X-Prometheus-Scrape-Timeout-Seconds, the job's
// credentials and TLS, a deadline, and the body cut off at body_size_limit
// (counted after decompression).
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { readFileSync } from 'node:fs';
import { createGunzip, createInflate } from 'node:zlib';
import type { Readable } from 'node:stream';
import type { ScrapeConfig } from './config.js';

export type FailureReason = 'connection' | 'timeout' | 'http_status' | 'body_size_limit' | 'encoding' | 'parse' | 'sample_limit' | 'label_limit' | 'label_name_length_limit' | 'label_value_length_limit';

export class ScrapeError extends Error {
  constructor(readonly reason: FailureReason, message: string) {
    super(message);
  }
}

export interface ScrapeResponse {
  contentType: string | undefined;
  body: Buffer;
}

const USER_AGENT = 'Sieve-prometheus-receiver/0.1';

/** The per-job HTTP client: agent, TLS material and credentials. */
export class ScrapeClient {
  private readonly agent: HttpAgent | HttpsAgent;
  private readonly auth: () => string | undefined;

  constructor(private sc: ScrapeConfig, private accept: string) {
    const t = sc.tls_config;
    const file = (f: string | undefined, inline: string | undefined) => (inline !== undefined ? inline : f ? readFileSync(f) : undefined);
    const versions: Record<string, 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3'> = { TLS10: 'TLSv1', TLS11: 'TLSv1.1', TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' };
    this.agent =
      sc.scheme === 'https' || t.ca_file || t.ca
        ? new HttpsAgent({
            keepAlive: true,
            maxSockets: 4,
            ca: file(t.ca_file, t.ca),
            cert: file(t.cert_file, t.cert),
            key: file(t.key_file, t.key),
            servername: t.server_name,
            rejectUnauthorized: !t.insecure_skip_verify,
            minVersion: t.min_version ? versions[t.min_version] : 'TLSv1.2',
          })
        : new HttpAgent({ keepAlive: true, maxSockets: 4 });
    this.auth = () => {
      if (sc.basic_auth) {
        const pw = sc.basic_auth.password_file ? readFileSync(sc.basic_auth.password_file, 'utf8').trim() : (sc.basic_auth.password ?? '');
        return `Basic ${Buffer.from(`${sc.basic_auth.username}:${pw}`).toString('base64')}`;
      }
      if (sc.authorization) {
        const a = sc.authorization;
        const cred = a.credentials_file ? readFileSync(a.credentials_file, 'utf8').trim() : (a.credentials ?? '');
        return `${a.type} ${cred}`;
      }
      if (sc.bearer_token_file) return `Bearer ${readFileSync(sc.bearer_token_file, 'utf8').trim()}`;
      if (sc.bearer_token) return `Bearer ${sc.bearer_token}`;
      return undefined;
    };
  }

  close(): void {
    this.agent.destroy();
  }

  scrape(url: URL, timeoutMs: number, limit: number, signal: AbortSignal, redirects = 0): Promise<ScrapeResponse> {
    return new Promise<ScrapeResponse>((resolve, reject) => {
      const headers: Record<string, string> = {
        accept: this.accept,
        'accept-encoding': 'gzip',
        'user-agent': USER_AGENT,
        'x-prometheus-scrape-timeout-seconds': String(timeoutMs / 1000),
      };
      let authz: string | undefined;
      try {
        authz = this.auth();
      } catch (e) {
        reject(new ScrapeError('connection', `reading credentials: ${(e as Error).message}`));
        return;
      }
      if (authz) headers.authorization = authz;
      const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, { method: 'GET', headers, agent: this.agent, signal });
      let settled = false;
      const fail = (e: ScrapeError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.destroy();
        reject(e);
      };
      const timer = setTimeout(() => fail(new ScrapeError('timeout', `scrape timed out after ${timeoutMs} ms`)), timeoutMs);
      req.on('error', (e) => fail(new ScrapeError(signal.aborted ? 'timeout' : 'connection', e.message)));
      req.on('response', (res: IncomingMessage) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400 && res.headers.location && this.sc.follow_redirects && redirects < 10) {
          res.resume();
          settled = true;
          clearTimeout(timer);
          this.scrape(new URL(res.headers.location, url), timeoutMs, limit, signal, redirects + 1).then(resolve, reject);
          return;
        }
        if (status !== 200) {
          res.resume();
          fail(new ScrapeError('http_status', `server returned HTTP status ${status} ${res.statusMessage ?? ''}`.trim()));
          return;
        }
        const enc = (res.headers['content-encoding'] ?? '').toLowerCase();
        let stream: Readable = res;
        if (enc === 'gzip' || enc === 'x-gzip') stream = res.pipe(createGunzip());
        else if (enc === 'deflate') stream = res.pipe(createInflate());
        else if (enc !== '' && enc !== 'identity') {
          res.resume();
          fail(new ScrapeError('encoding', `unsupported Content-Encoding ${JSON.stringify(enc)}`));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        stream.on('data', (c: Buffer) => {
          size += c.length;
          if (size > limit) {
            fail(new ScrapeError('body_size_limit', `body is larger than body_size_limit (${limit} bytes)`));
            stream.destroy();
            return;
          }
          chunks.push(c);
        });
        stream.on('error', (e) => fail(new ScrapeError(stream === res ? 'connection' : 'encoding', e.message)));
        res.on('aborted', () => fail(new ScrapeError('connection', 'connection closed before the body ended')));
        stream.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve({ contentType: res.headers['content-type'], body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size) });
        });
      });
      req.end();
    });
  }
}
