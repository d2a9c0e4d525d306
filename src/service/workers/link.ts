// The link between worker processes of one daemon (docs/workers.md).
//
// Stages that must see a whole trace (tail_sampling) or one place's state
// (the prometheus exporter's store) are fed through a router: a consumer that
// splits each batch by owner and hands the other workers' parts to them over
// a loopback HTTP hop. Each worker binds one hop listener on 127.0.0.1 (its own
// port, not shared with the other workers) and announces it to the
// supervisor, which tells every worker the others' ports.
//
// Trace ids map to workers through the same consistent-hash ring as the
// loadbalancing exporter. Membership is the configured worker count: a worker
// that dies keeps its slot and its traces wait (bounded) for its restart, so
// nothing is re-hashed mid-trace.
//
// Measured choice of transport (bench/workers_transport.ts, bench/RESULTS.md
// "Workers"): moving 100-span, 122 KB requests between two processes, a
// keep-alive loopback HTTP request costs 6.4 µs of CPU per span, an IPC
// message relayed through the supervisor (workers have no channel to each
// other) 11.0 µs, a third of it on the supervisor's one thread. A bare framed
// TCP stream costs 4.9 µs; HTTP is kept for its status codes, which carry the
// consumer contract (permanent or retryable, retry-after) across the hop with
// the same mapping as the OTLP receivers.
import { Agent, createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { ConsumeResult, Consumer, CreateSettings, Host } from '../../component/component.js';
import { ConsumerError, DecodeError, asConsumerError, invalidError, unavailableError } from '../../component/errors.js';
import { DurableIngest } from '../../durable/ingest.js';
import type { DurableConfig } from '../../durable/config.js';
import { CODECS } from '../../pdata/codec.js';
import type { Signal } from '../../pdata/model.js';
import { releaseDurable, Telemetry, type RequestContext } from '../../pdata/telemetry.js';
import { HashRing } from '../../routing/ring.js';
import { createRouter, type Router } from '../../exporters/loadbalancing/split.js';
import type { Logger } from '../logger.js';
import type { SelfTelemetry } from '../telemetry.js';
import { secretEquals } from '../../extensions/auth/auth.js';

export interface WorkerInfo {
  /** 0-based index of this worker. */
  index: number;
  /** Configured number of workers. */
  count: number;
}

const TOKEN_HEADER = 'x-sieve-hop-token';

/** How a routed stage assigns items to workers. */
export type RouteMode = 'traceID' | 'owner';

/** A stage whose input is routed, as the graph registers it. */
interface Stage {
  key: string;
  signal: Signal;
  consumer: Consumer;
  durable?: DurableIngest;
}

/** How long a part waits for its owner to (re)appear before the batch is refused as retryable. */
const PEER_WAIT_MS = 10_000;
const RETRY_MIN_MS = 20;
const RETRY_MAX_MS = 500;
/** Largest hop body accepted (the receivers' own limits apply before the hop). */
const MAX_HOP_BYTES = 256 << 20;
const CTX_HEADER = 'x-sieve-ctx';

export class WorkerLink {
  readonly ring: HashRing;
  private readonly stages = new Map<string, Stage>();
  private readonly ports = new Map<number, number>();
  private portWaiters: (() => void)[] = [];
  private server: Server | undefined;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 32 });
  private inflight = 0;
  private idleWaiters: (() => void)[] = [];
  private closing = false;
  private readonly sent;
  private readonly received;
  private readonly failed;
  port: number | undefined;

  private readonly token: Buffer;
  private readonly tokenText: string;

  /**
   * `token`: the secret the supervisor gave every worker of this daemon. The
   * hop listener is on loopback, where any local process can reach it; a part
   * is taken only with the token, so nothing enters a pipeline past its
   * receivers' authentication.
   */
  constructor(readonly worker: WorkerInfo, private readonly logger: Logger, private readonly telemetry: SelfTelemetry, token: string) {
    if (token.length < 16) throw new Error('the worker hop token is missing or too short');
    this.token = Buffer.from(token);
    this.tokenText = token;
    this.ring = new HashRing(Array.from({ length: worker.count }, (_, i) => String(i)));
    this.sent = telemetry.counter('sieve_worker_routed_items', 'Items this worker handed to the worker that owns them (by trace id, or the metrics owner).', ['pipeline', 'otel_signal']);
    this.received = telemetry.counter('sieve_worker_received_items', 'Items this worker received from other workers for the stages it owns.', ['pipeline', 'otel_signal']);
    this.failed = telemetry.counter('sieve_worker_route_failures', 'Hand-offs to another worker that failed (owner down past the wait, or refused).', ['pipeline', 'otel_signal']);
  }

  /** Registers the consumer of a routed stage; `durable` persists parts from other workers before they are acknowledged. */
  register(key: string, signal: Signal, consumer: Consumer, durable?: { settings: CreateSettings; cfg: DurableConfig }): void {
    const prev = this.stages.get(key);
    const stage: Stage = { key, signal, consumer, durable: prev?.durable };
    if (durable && !stage.durable) stage.durable = new DurableIngest({ ...durable.settings, id: `worker_route/${key}` }, durable.cfg);
    this.stages.set(key, stage);
  }

  /** Binds the hop listener and replays what the durable hop logs hold. Returns the port to announce. */
  async start(host: Host): Promise<number> {
    for (const st of this.stages.values()) if (st.durable) await st.durable.start(host, { [st.signal]: { mutatesData: true, consume: (d: Telemetry) => this.stages.get(st.key)!.consumer.consume(d) } });
    if (this.server) return this.port!;
    const srv = createServer((req, res) => this.serve(req, res));
    srv.keepAliveTimeout = 60_000;
    this.server = srv;
    this.port = await new Promise<number>((resolve, reject) => {
      srv.once('error', reject);
      // exclusive: in a cluster worker a listen() is otherwise shared through the supervisor.
      srv.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
        srv.off('error', reject);
        resolve((srv.address() as { port: number }).port);
      });
    });
    return this.port;
  }

  /** The supervisor's table of hop ports by worker index. */
  setPeers(ports: Record<string, number>): void {
    for (const [k, v] of Object.entries(ports)) this.ports.set(Number(k), v);
    const w = this.portWaiters;
    this.portWaiters = [];
    for (const f of w) f();
  }

  /** A worker is gone: its parts wait for the restarted one. */
  dropPeer(index: number): void {
    this.ports.delete(index);
  }

  /**
   * The router in front of a routed stage: the part this worker owns goes to
   * `local`, the others to their owners. Resolves once every part is
   * accepted; a refusal is passed back to the caller as it came.
   */
  router(key: string, pipeline: string, signal: Signal, mode: RouteMode, local: Consumer): Consumer {
    const split: Router | undefined = mode === 'traceID' ? createRouter(signal, 'traceID') : undefined;
    const labels = { pipeline, otel_signal: signal };
    const me = this.worker.index;
    return {
      mutatesData: local.mutatesData,
      consume: async (data: Telemetry): Promise<ConsumeResult> => {
        let parts: Map<number, Telemetry>;
        if (!split) parts = new Map([[0, data]]);
        else {
          try {
            const byMember = split.split(data, this.ring);
            parts = new Map();
            for (const [m, p] of byMember) parts.set(Number(this.ring.members[m]), p);
          } catch (e) {
            throw new ConsumerError('invalid', `cannot route the batch: ${(e as Error).message}`, { code: 'SIEVE_ERR_ROUTING', cause: e });
          }
        }
        if (parts.size === 0) {
          releaseDurable(data);
          return undefined;
        }
        if (parts.size === 1 && parts.has(me)) return local.consume(parts.get(me)!);
        const refs = data.ctx.durable;
        if (refs && parts.size > 1) for (let i = 1; i < parts.size; i++) for (const r of refs) r.retain();
        const calls: Promise<ConsumeResult>[] = [];
        for (const [owner, part] of parts) {
          if (owner === me) calls.push(local.consume(part));
          else {
            this.sent.inc(labels, part.itemCount());
            calls.push(
              this.send(owner, key, part).then(
                () => {
                  // The owner has it now (committed there when the hop is durable).
                  releaseDurable(part);
                  return undefined;
                },
                (e) => {
                  this.failed.inc(labels, part.itemCount());
                  throw e;
                },
              ),
            );
          }
        }
        const out = await Promise.allSettled(calls);
        const failed = out.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
        if (failed.length === 0) return undefined;
        // The caller keeps one hold on a refusal; the extra holds of the other failed parts go.
        if (refs) for (let i = 1; i < failed.length; i++) for (const r of refs) r.release();
        let first = asConsumerError(failed[0]!.reason);
        for (const f of failed) {
          const e = asConsumerError(f.reason);
          if (first.permanent && !e.permanent) first = e;
        }
        throw first;
      },
    };
  }

  private async send(owner: number, key: string, part: Telemetry): Promise<void> {
    const body = part.toProto();
    const ctx = encodeCtx(part.ctx);
    const deadline = Date.now() + PEER_WAIT_MS;
    let delay = RETRY_MIN_MS;
    this.inflight++;
    try {
      for (;;) {
        const port = this.ports.get(owner);
        let retryable: ConsumerError;
        if (port !== undefined) {
          const r = await this.post(port, key, body, ctx, part.itemCount());
          if (r.ok) return;
          // The owner answered: its refusal goes back to the client as it came (back-pressure
          // included). Only an owner that is not there, or on its way out, is waited for.
          if (!r.ownerGone) throw r.error;
          retryable = r.error;
        } else retryable = unavailableError(`worker ${owner} is not running`, 1000, 'SIEVE_ERR_WORKER_DOWN');
        if (this.closing || Date.now() + delay > deadline) throw retryable;
        await this.waitForPort(owner, delay);
        delay = Math.min(delay * 2, RETRY_MAX_MS);
      }
    } finally {
      if (--this.inflight === 0) {
        const w = this.idleWaiters;
        this.idleWaiters = [];
        for (const f of w) f();
      }
    }
  }

  private waitForPort(owner: number, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      // A fresh announcement of the owner ends the wait early.
      if (!this.ports.has(owner)) this.portWaiters.push(done);
    });
  }

  private post(port: number, key: string, body: Uint8Array, ctx: string, items: number): Promise<{ ok: true } | { ok: false; ownerGone: boolean; error: ConsumerError }> {
    return new Promise((resolve) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: `/route/${encodeURIComponent(key)}`,
          agent: this.agent,
          headers: { 'content-type': 'application/x-protobuf', 'content-length': body.length, 'x-sieve-items': String(items), [TOKEN_HEADER]: this.tokenText, ...(ctx ? { [CTX_HEADER]: ctx } : {}) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            if (status === 200) return resolve({ ok: true });
            let msg = Buffer.concat(chunks).toString('utf8');
            let code = 'SIEVE_ERR_WORKER_HOP';
            let retryAfterMs: number | undefined;
            try {
              const j = JSON.parse(msg) as { error?: string; code?: string; retryAfterMs?: number };
              msg = j.error ?? msg;
              code = j.code ?? code;
              retryAfterMs = j.retryAfterMs;
            } catch {
              /* plain text */
            }
            const retry = status === 429 || status === 503 || status >= 500 && status !== 500;
            const kind = status === 400 ? 'invalid' : status === 413 ? 'too_large' : status === 429 ? 'exhausted' : retry ? 'unavailable' : 'internal';
            resolve({ ok: false, ownerGone: code === 'SIEVE_ERR_WORKER_DOWN', error: new ConsumerError(kind, msg, { code, retryAfterMs }) });
          });
          res.on('error', (e) => resolve({ ok: false, ownerGone: true, error: unavailableError(`hop to a worker failed: ${e.message}`, 1000, 'SIEVE_ERR_WORKER_HOP', e) }));
        },
      );
      // A worker that died or is restarting: retried until it is back or the wait runs out.
      req.on('error', (e) => resolve({ ok: false, ownerGone: true, error: unavailableError(`hop to a worker failed: ${e.message}`, 1000, 'SIEVE_ERR_WORKER_HOP', e) }));
      req.end(body);
    });
  }

  private serve(req: IncomingMessage, res: ServerResponse): void {
    const reply = (status: number, body?: { error: string; code?: string; retryAfterMs?: number }) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(body ? JSON.stringify(body) : '{}');
    };
    const given = req.headers[TOKEN_HEADER];
    if (typeof given !== 'string' || !secretEquals(given, this.token)) {
      req.resume();
      return reply(401, { error: 'not a worker of this daemon' });
    }
    const m = /^\/route\/([^/?]+)$/.exec(req.url ?? '');
    const stage = m && req.method === 'POST' ? this.stages.get(decodeURIComponent(m[1]!)) : undefined;
    if (!stage) {
      req.resume();
      return reply(404, { error: `no routed stage at ${req.url}` });
    }
    if (this.closing) {
      req.resume();
      return reply(503, { error: 'worker is shutting down', code: 'SIEVE_ERR_WORKER_DOWN', retryAfterMs: 1000 });
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_HOP_BYTES) chunks.push(c);
    });
    req.on('end', () => {
      if (size > MAX_HOP_BYTES) return reply(413, { error: 'hop body too large' });
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      let data: Telemetry;
      try {
        const count = CODECS[stage.signal].scan(body);
        data = Telemetry.fromProto(stage.signal, body, count, decodeCtx(req.headers[CTX_HEADER]));
      } catch (e) {
        return reply(400, { error: e instanceof DecodeError ? `malformed ${stage.signal} request: ${e.message}` : (e as Error).message, code: 'SIEVE_ERR_INVALID_DATA' });
      }
      this.received.inc({ pipeline: stage.key.split('#')[0]!, otel_signal: stage.signal }, data.itemCount());
      void this.accept(stage, data).then(
        () => reply(200),
        (e) => {
          const err = asConsumerError(e);
          const status = err.kind === 'invalid' ? 400 : err.kind === 'too_large' ? 413 : err.kind === 'exhausted' ? 429 : err.kind === 'unavailable' ? 503 : 500;
          reply(status, { error: err.message, code: err.code, retryAfterMs: err.retryAfterMs });
        },
      );
    });
  }

  private async accept(stage: Stage, data: Telemetry): Promise<void> {
    if (!stage.durable) {
      await stage.consumer.consume(data);
      return;
    }
    const settle = await stage.durable.persist(stage.signal, data);
    try {
      await stage.consumer.consume(data);
      settle(true);
    } catch (e) {
      settle(false);
      throw e;
    }
  }

  /** Resolves when no hand-off is in flight. */
  idle(): Promise<void> {
    if (this.inflight === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Stops taking parts from the other workers (they retry against the restarted worker or give up). */
  async shutdown(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const f of this.portWaiters.splice(0)) f();
    await this.idle();
    for (const st of this.stages.values()) await st.durable?.shutdown();
    this.agent.destroy();
    const srv = this.server;
    if (srv) {
      await new Promise<void>((r) => {
        srv.close(() => r());
        srv.closeIdleConnections();
      });
    }
  }
}

/** The request context that travels with a part: tenant, receiver, client metadata and identity. Durable refs stay behind. */
function encodeCtx(ctx: RequestContext): string {
  if (!ctx.tenant && !ctx.metadata && !ctx.auth && !ctx.receiver) return '';
  const { durable: _d, ...rest } = ctx;
  return Buffer.from(JSON.stringify(rest)).toString('base64');
}

function decodeCtx(h: string | string[] | undefined): RequestContext {
  if (typeof h !== 'string' || h === '') return {};
  try {
    const v = JSON.parse(Buffer.from(h, 'base64').toString('utf8')) as RequestContext;
    return typeof v === 'object' && v !== null ? v : {};
  } catch {
    throw invalidError(`${CTX_HEADER}: not a valid context`);
  }
}
