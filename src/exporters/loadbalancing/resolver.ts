// Resolvers: where the backends are. Each tells the exporter the current list
// of host:port endpoints (sorted, de-duplicated) whenever it changes.
//
// - static: a fixed list.
// - dns: A and AAAA records of a name, re-resolved every `interval`; a failed
//   resolution keeps the last good list.
// - k8s: the addresses of a Service's Endpoints object from the Kubernetes API,
//   polled every `interval`, with the in-cluster service-account credentials.
import { Resolver as DnsResolver } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Logger } from '../../service/logger.js';
import type { DnsResolverConfig, K8sResolverConfig } from './config.js';
import { withPort } from './config.js';

export type Endpoints = readonly string[];

export interface Resolver {
  /** `resolver` label of the self-metrics: static, dns or k8s. */
  readonly kind: string;
  /** Resolves once (the first list is delivered before start resolves, when available), then keeps watching. */
  start(onChange: (endpoints: Endpoints) => void): Promise<void>;
  shutdown(): Promise<void>;
}

export interface ResolverHooks {
  logger: Logger;
  /** Counts a resolution attempt. */
  resolved(success: boolean): void;
}

function normalise(list: Iterable<string>): string[] {
  return [...new Set(list)].sort();
}

function sameList(a: Endpoints | undefined, b: Endpoints): boolean {
  if (!a || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class StaticResolver implements Resolver {
  readonly kind = 'static';
  private readonly list: string[];
  constructor(hostnames: readonly string[], private hooks: ResolverHooks) {
    this.list = normalise(hostnames.map((h) => withPort(h)));
  }
  async start(onChange: (endpoints: Endpoints) => void): Promise<void> {
    this.hooks.resolved(true);
    onChange(this.list);
  }
  async shutdown(): Promise<void> {}
}

/** Polls `resolve` every `interval` ms, reporting changes; failures keep the last list. */
abstract class PollingResolver implements Resolver {
  abstract readonly kind: string;
  private timer: NodeJS.Timeout | undefined;
  private last: Endpoints | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;
  private failing = false;

  constructor(protected hooks: ResolverHooks, private interval: number) {}

  protected abstract resolve(): Promise<string[]>;

  async start(onChange: (endpoints: Endpoints) => void): Promise<void> {
    const tick = async () => {
      try {
        const list = normalise(await this.resolve());
        this.hooks.resolved(true);
        if (this.failing) this.hooks.logger.info('Backend resolution recovered', { resolver: this.kind, backends: list.length });
        this.failing = false;
        if (!this.stopped && !sameList(this.last, list)) {
          this.last = list;
          onChange(list);
        }
      } catch (e) {
        this.hooks.resolved(false);
        // Logged when resolution starts failing, not on every attempt.
        if (!this.failing) this.hooks.logger.warn('Backend resolution failed; keeping the last known backends', { resolver: this.kind, error: (e as Error).message });
        this.failing = true;
      }
    };
    const loop = () => {
      if (this.stopped) return;
      this.timer = setTimeout(() => {
        this.running = tick().finally(loop);
      }, this.interval);
      this.timer.unref?.();
    };
    this.running = tick();
    await this.running;
    loop();
  }

  async shutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }
}

export class DnsEndpointResolver extends PollingResolver {
  readonly kind = 'dns';
  private readonly dns: DnsResolver;
  private readonly port: number;

  constructor(private cfg: DnsResolverConfig, hooks: ResolverHooks) {
    super(hooks, cfg.interval);
    this.dns = new DnsResolver({ timeout: cfg.timeout, tries: 1 });
    if (cfg.nameservers.length) this.dns.setServers(cfg.nameservers.map((n) => withPort(n, 53)));
    this.port = Number(cfg.port);
  }

  protected async resolve(): Promise<string[]> {
    const host = this.cfg.hostname;
    // A literal address resolves to itself.
    if (/^\d+\.\d+\.\d+\.\d+$/.test(host)) return [`${host}:${this.port}`];
    const settle = (p: Promise<string[]>) =>
      p.then(
        (v) => ({ ok: true as const, v }),
        (e: NodeJS.ErrnoException) => ({ ok: false as const, e }),
      );
    const [a, aaaa] = await Promise.all([settle(this.dns.resolve4(host)), settle(this.dns.resolve6(host))]);
    const out: string[] = [];
    if (a.ok) for (const ip of a.v) out.push(`${ip}:${this.port}`);
    if (aaaa.ok) for (const ip of aaaa.v) out.push(`[${ip}]:${this.port}`);
    // A name with neither record is a failed resolution: the last known backends are kept.
    if (!a.ok && !aaaa.ok) throw new Error(`resolving ${host}: ${a.e.code ?? a.e.message}`);
    return out;
  }
}

interface EndpointsObject {
  subsets?: { addresses?: { ip?: string; hostname?: string }[] }[];
}

export class K8sEndpointResolver extends PollingResolver {
  readonly kind = 'k8s';
  private readonly name: string;
  private readonly namespace: string;
  private readonly ports: number[];

  constructor(private cfg: K8sResolverConfig, hooks: ResolverHooks, private env: NodeJS.ProcessEnv = process.env) {
    super(hooks, cfg.interval);
    const [name, ns] = cfg.service.split('.', 2);
    this.name = name!;
    this.namespace = ns || readNamespace() || 'default';
    this.ports = cfg.ports.length ? cfg.ports : [4317];
  }

  private apiServer(): string {
    if (this.cfg.api_server) return this.cfg.api_server.replace(/\/$/, '');
    const host = this.env.KUBERNETES_SERVICE_HOST;
    const port = this.env.KUBERNETES_SERVICE_PORT ?? '443';
    if (!host) throw new Error('not in a cluster: KUBERNETES_SERVICE_HOST is not set and resolver::k8s::api_server is not configured');
    return `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  protected async resolve(): Promise<string[]> {
    const url = new URL(`${this.apiServer()}/api/v1/namespaces/${encodeURIComponent(this.namespace)}/endpoints/${encodeURIComponent(this.name)}`);
    const headers: Record<string, string> = { accept: 'application/json' };
    const token = readOptional(this.cfg.token_file);
    if (token) headers.authorization = `Bearer ${token.trim()}`;
    const body = await getJson(url, headers, this.cfg.timeout, url.protocol === 'https:' ? readOptional(this.cfg.ca_file) : undefined);
    const out: string[] = [];
    for (const sub of (body as EndpointsObject).subsets ?? []) {
      for (const a of sub.addresses ?? []) {
        const host = this.cfg.return_hostnames && a.hostname ? `${a.hostname}.${this.name}.${this.namespace}` : a.ip;
        if (!host) continue;
        for (const p of this.ports) out.push(withPort(host, p));
      }
    }
    return out;
  }
}

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function readNamespace(): string | undefined {
  return readOptional('/var/run/secrets/kubernetes.io/serviceaccount/namespace')?.trim() || undefined;
}

function getJson(url: URL, headers: Record<string, string>, timeoutMs: number, ca: string | undefined): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, { method: 'GET', headers, timeout: timeoutMs, ...(ca ? { ca } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) return reject(new Error(`GET ${url.pathname}: HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
        try {
          resolve(JSON.parse(text));
        } catch (e) {
          reject(new Error(`GET ${url.pathname}: invalid JSON: ${(e as Error).message}`));
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url.pathname}: timed out after ${timeoutMs}ms`)));
    req.on('error', reject);
    req.end();
  });
}
