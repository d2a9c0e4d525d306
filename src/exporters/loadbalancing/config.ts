// Config of the loadbalancing exporter. Keys follow the Collector's
// loadbalancingexporter: routing_key, protocol.otlp (the embedded otlp
// exporter's config, endpoint replaced per backend) and resolver
// (static | dns | k8s). Sieve's own keys are marked as such.
import { s, type Infer, type Issues } from '../../config/schema.js';
import type { Signal } from '../../pdata/model.js';
import { otlpExporterSchema, parseGrpcEndpoint } from '../otlp/factory.js';
import { validateHelper } from '../exporterhelper/helper.js';

export const ROUTING_KEYS = ['traceID', 'service', 'resource', 'metric', 'streamID'] as const;
export type RoutingKey = (typeof ROUTING_KEYS)[number];

/** Routing keys each signal supports (as the Collector). */
export const KEYS_BY_SIGNAL: Record<Signal, readonly RoutingKey[]> = {
  traces: ['traceID', 'service', 'resource'],
  metrics: ['service', 'resource', 'metric', 'streamID'],
  logs: ['traceID', 'service', 'resource'],
};

/** The key used when routing_key is not set. */
export const DEFAULT_KEY: Record<Signal, RoutingKey> = { traces: 'traceID', metrics: 'service', logs: 'traceID' };

export const DEFAULT_PORT = 4317;

const staticSchema = s.object({
  hostnames: s.array(s.string()),
});

const dnsSchema = s.object({
  hostname: s.string(''),
  port: s.string(String(DEFAULT_PORT)),
  interval: s.duration('5s'),
  timeout: s.duration('1s'),
  /** Sieve: DNS servers to ask (host or host:port); the system's when empty. */
  nameservers: s.array(s.string()),
});

const k8sSchema = s.object({
  /** name.namespace of the (headless) Service whose endpoints are the backends. */
  service: s.string(''),
  ports: s.array(s.int(undefined, { min: 1, max: 65535 })),
  timeout: s.duration('1s'),
  return_hostnames: s.bool(false),
  /** Sieve: API server URL; in-cluster (KUBERNETES_SERVICE_HOST/PORT) when unset. */
  api_server: s.string().optional(),
  /** Sieve: service-account token and CA files (the in-cluster paths by default). */
  token_file: s.string('/var/run/secrets/kubernetes.io/serviceaccount/token'),
  ca_file: s.string('/var/run/secrets/kubernetes.io/serviceaccount/ca.crt'),
  /** Sieve: how often the endpoints are polled. */
  interval: s.duration('5s'),
});

export const loadBalancingSchema = s.object({
  /** traceID (traces, logs), service, resource, metric, streamID (metrics). Unset: traceID, or service for metrics. */
  routing_key: s.enum(ROUTING_KEYS).optional(),
  protocol: s.object({
    otlp: otlpExporterSchema.extend({ endpoint: s.string('') }),
  }),
  resolver: s.object({
    static: s.presence(staticSchema),
    dns: s.presence(dnsSchema),
    k8s: s.presence(k8sSchema),
  }),
  /**
   * Sieve: when a backend fails a batch for good (retries exhausted, queue
   * full), send it to the next backend on the ring instead of dropping or
   * refusing it. Off by default: a trace stays on its owner.
   */
  reroute_on_failure: s.bool(false),
});
export type LoadBalancingConfig = Infer<typeof loadBalancingSchema>;
export type DnsResolverConfig = Infer<typeof dnsSchema>;
export type K8sResolverConfig = Infer<typeof k8sSchema>;

/** host:port with the default port when none is given. */
export function withPort(host: string, port = DEFAULT_PORT): string {
  const h = host.trim();
  if (/^\[[0-9a-fA-F:.]+\]:\d+$/.test(h) || /^[^:\[\]]+:\d+$/.test(h)) return h;
  if (h.includes(':') && !h.startsWith('[')) return `[${h}]:${port}`;
  return `${h}:${port}`;
}

export function validateLoadBalancing(cfg: LoadBalancingConfig, path: string[], issues: Issues): void {
  const positive = (p: string[], v: number) => {
    const at = p.join('::');
    // A value the schema already refused is not reported twice.
    if (v <= 0 && !issues.list.some((i) => i.path.join('::') === at)) issues.error(p, 'must be positive');
  };
  const r = cfg.resolver;
  const set = (['static', 'dns', 'k8s'] as const).filter((k) => r[k] !== undefined);
  if (set.length === 0) issues.error([...path, 'resolver'], 'one of static, dns or k8s is required');
  else if (set.length > 1) issues.error([...path, 'resolver'], `only one resolver may be set, got ${set.join(', ')}`);
  if (r.static) {
    if (r.static.hostnames.length === 0) issues.error([...path, 'resolver', 'static', 'hostnames'], 'must list at least one backend');
    r.static.hostnames.forEach((h, i) => {
      if (!parseGrpcEndpoint(withPort(h), true)) issues.error([...path, 'resolver', 'static', 'hostnames', String(i)], `must be host or host:port, got ${JSON.stringify(h)}`);
    });
  }
  if (r.dns) {
    if (!r.dns.hostname) issues.error([...path, 'resolver', 'dns', 'hostname'], 'is required');
    const port = Number(r.dns.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) issues.error([...path, 'resolver', 'dns', 'port'], `must be a port number, got ${JSON.stringify(r.dns.port)}`);
    positive([...path, 'resolver', 'dns', 'interval'], r.dns.interval);
    positive([...path, 'resolver', 'dns', 'timeout'], r.dns.timeout);
    r.dns.nameservers.forEach((n, i) => {
      if (!parseGrpcEndpoint(withPort(n, 53), true)) issues.error([...path, 'resolver', 'dns', 'nameservers', String(i)], `must be host or host:port, got ${JSON.stringify(n)}`);
    });
  }
  if (r.k8s) {
    if (!r.k8s.service) issues.error([...path, 'resolver', 'k8s', 'service'], 'is required');
    else if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)?$/.test(r.k8s.service)) {
      issues.error([...path, 'resolver', 'k8s', 'service'], `must be name or name.namespace, got ${JSON.stringify(r.k8s.service)}`);
    }
    positive([...path, 'resolver', 'k8s', 'timeout'], r.k8s.timeout);
    positive([...path, 'resolver', 'k8s', 'interval'], r.k8s.interval);
    if (r.k8s.api_server !== undefined && !/^https?:\/\/[^/]+/.test(r.k8s.api_server)) {
      issues.error([...path, 'resolver', 'k8s', 'api_server'], `must be an http:// or https:// URL, got ${JSON.stringify(r.k8s.api_server)}`);
    }
  }
  const otlp = cfg.protocol.otlp;
  const opath = [...path, 'protocol', 'otlp'];
  if (otlp.endpoint) issues.warn([...opath, 'endpoint'], 'is ignored: each backend from the resolver is its endpoint');
  if (otlp.sending_queue.storage) {
    issues.error([...opath, 'sending_queue', 'storage'], 'is not supported: queued data of a backend that leaves is re-routed from memory');
  }
  validateHelper(otlp, opath, issues);
}
