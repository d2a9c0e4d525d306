// Request data for the redaction benchmarks (redaction.bench.ts, bench/redaction.ts):
// spans with 20 string attributes of realistic HTTP, DB and k8s values, five
// of them unique per span, and optionally corpus secrets mixed in.
import { tracesCodec } from '../../../pdata/codec.js';
import type { KeyValue, ResourceSpans, Span } from '../../../pdata/model.js';
import { secretCorpus } from '../../../../test/corpus/secrets.js';

export const SPANS = 100;
export const ROUTES = ['/api/orders/{id}', '/api/cart', '/api/users/{id}/profile', '/health', '/api/search'];

/**
 * 20 string attributes of span `i` of batch `b`. Five of them are unique per
 * span across batches (url.full, url.path, db.statement, messaging.message.id,
 * service.instance.id); the others repeat as they do in real traffic.
 */
export function benignValues(b: number, i: number): [string, string][] {
  const route = ROUTES[i % ROUTES.length]!;
  const id = b * 1000 + i;
  return [
    ['http.request.method', ['GET', 'POST', 'PUT', 'DELETE'][i % 4]!],
    ['url.full', `https://shop.example.com${route.replace('{id}', String(id))}?page=${i % 7}&limit=50&ts=${1_700_000_000 + id}`],
    ['http.route', route],
    ['url.path', `${route.replace('{id}', String(id))}/${id}`],
    ['server.address', `backend-${i % 5}.shop.svc.cluster.local`],
    ['user_agent.original', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36'],
    ['db.system', 'postgresql'],
    ['db.statement', `SELECT id, total, status FROM orders WHERE customer_id = ${id} AND created_at > '2024-05-01' LIMIT ${i % 50}`],
    ['db.name', 'orders'],
    ['thread.name', `worker-${i % 16}`],
    ['code.function', 'OrderService.loadOrders'],
    ['code.filepath', '/app/src/orders/service.ts'],
    ['k8s.pod.name', `checkout-api-7d9f8b6c5d-x${(i % 7).toString(36)}k4q`],
    ['k8s.namespace.name', 'shop-prod'],
    ['service.instance.id', `0f8fad5b-d9cb-469f-a165-${String(id).padStart(12, '0')}`],
    ['network.protocol.version', '1.1'],
    ['messaging.message.id', `msg-${(id * 7919).toString(16)}`],
    ['enduser.role', 'customer'],
    ['http.response.header.content-type', 'application/json; charset=utf-8'],
    ['deployment.environment', 'production'],
  ];
}

export const SECRETS = secretCorpus().filter((s) => s.detector !== 'file_path').map((s) => s.text);

/** Batch `b`: 100 spans x 20 string attributes; `secretEvery` > 0 puts a corpus secret in every n-th value. */
export function spans(b: number, secretEvery: number): ResourceSpans[] {
  const out: Span[] = [];
  let v = 0;
  for (let i = 0; i < SPANS; i++) {
    const attrs: KeyValue[] = benignValues(b, i).map(([key, value]) => {
      v++;
      const s = secretEvery > 0 && v % secretEvery === 0 ? SECRETS[(b * 7 + v) % SECRETS.length]! : value;
      return { key, value: { type: 'string', value: s } };
    });
    out.push({
      traceId: new Uint8Array(16).fill(i + 1),
      spanId: new Uint8Array(8).fill(i + 1),
      traceState: '',
      parentSpanId: new Uint8Array(0),
      flags: 1,
      name: `GET ${ROUTES[i % ROUTES.length]}`,
      kind: 2,
      startTimeUnixNano: 1_700_000_000_000_000_000n,
      endTimeUnixNano: 1_700_000_000_250_000_000n,
      attributes: attrs,
      droppedAttributesCount: 0,
      events: [],
      droppedEventsCount: 0,
      links: [],
      droppedLinksCount: 0,
      status: { message: '', code: 0 },
    });
  }
  return [
    {
      resource: { attributes: [{ key: 'service.name', value: { type: 'string', value: 'checkout' } }], droppedAttributesCount: 0 },
      scopeSpans: [{ scope: { name: 'bench', version: '1.0.0', attributes: [], droppedAttributesCount: 0 }, spans: out, schemaUrl: '' }],
      schemaUrl: '',
    },
  ];
}

/** 64 distinct batches (32,000 values unique to their span), cycled by the benchmarks. */
export const POOL = 64;
export function protos(secretEvery: number): Uint8Array[] {
  return Array.from({ length: POOL }, (_, b) => tracesCodec.encode(spans(b, secretEvery)));
}

