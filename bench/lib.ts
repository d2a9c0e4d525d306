// Shared pieces of the end-to-end load tools: free ports, a counting OTLP/gRPC
// sink, and CPU / memory readings of a child process.
import * as grpc from '@grpc/grpc-js';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { tracesCodec } from '../src/pdata/codec.js';
import type { Http2Server, ServerHttp2Session } from 'node:http2';

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createNetServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A gRPC OTLP trace endpoint that counts spans with a structural scan (no decoding). */
export async function startSink(): Promise<{ port: number; spans: () => number; stop: () => void }> {
  let spans = 0;
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
  const id = (b: Buffer) => b;
  server.addService(
    { Export: { path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } },
    {
      Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        spans += tracesCodec.scan(call.request);
        cb(null, Buffer.alloc(0));
      },
    },
  );
  const port = await new Promise<number>((r, j) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, pt) => (e ? j(e) : r(pt))));
  // A real backend (Tempo, a Collector: Go gRPC) grows its window to 16 MiB; grpc-js keeps 64 KiB
  // unless told. SINK_WINDOW=65535 measures against the narrow window.
  widenFlowControl(server, Number(process.env.SINK_WINDOW ?? 16 * 1024 * 1024));
  return { port, spans: () => spans, stop: () => server.forceShutdown() };
}

/**
 * Makes the sessions of a bound grpc-js server advertise `bytes` of window
 * per stream and per connection (grpc-js has no option for it).
 */
function widenFlowControl(server: grpc.Server, bytes: number): void {
  const servers = (server as unknown as { http2Servers?: Map<Http2Server, unknown> }).http2Servers;
  if (!(servers instanceof Map)) return;
  const win = Math.max(65_535, Math.min(Math.floor(bytes), 2 ** 31 - 1));
  for (const s of servers.keys()) {
    s.on('session', (sess: ServerHttp2Session) => {
      try {
        sess.setLocalWindowSize(win);
        sess.settings({ initialWindowSize: win });
      } catch {
        /* the session closed before its settings went out */
      }
    });
  }
}

/** User + system CPU seconds of a process, from /proc (clock ticks at 100 Hz). */
export function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const parts = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(parts[11]) + Number(parts[12])) / 100;
}

/** A process and its descendants (a daemon's workers), from /proc. */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    try {
      for (const t of readdirSync(`/proc/${out[i]}/task`)) {
        const kids = readFileSync(`/proc/${out[i]}/task/${t}/children`, 'utf8').trim();
        if (kids) for (const k of kids.split(' ')) out.push(Number(k));
      }
    } catch {
      /* gone */
    }
  }
  return out;
}

/** System (kernel) CPU seconds of a process and its live descendants. */
export function treeSysSeconds(pid: number): number {
  let s = 0;
  for (const p of processTree(pid)) {
    try {
      const f = readFileSync(`/proc/${p}/stat`, 'utf8');
      s += Number(f.slice(f.lastIndexOf(')') + 2).split(' ')[12]) / 100;
    } catch {
      /* gone */
    }
  }
  return s;
}

/** CPU seconds of a process and its live descendants. */
export function treeCpuSeconds(pid: number): number {
  let s = 0;
  for (const p of processTree(pid)) {
    try {
      s += cpuSeconds(p);
    } catch {
      /* gone */
    }
  }
  return s;
}

/** Sum of the peak RSS of a process and its live descendants, MiB (an upper bound of their joint peak). */
export function treePeakRssMiB(pid: number): number {
  let s = 0;
  for (const p of processTree(pid)) {
    try {
      s += peakRssMiB(p);
    } catch {
      /* gone */
    }
  }
  return s;
}

/** Peak resident set size (VmHWM) of a process, MiB. */
export function peakRssMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

/** The q-th percentile of an ascending list. */
export function pct(sorted: number[], q: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((q / 100) * sorted.length))]! : 0;
}

/**
 * The daemon's environment as the `sieve` bin sets it (its shebang, and `npm
 * start`, set MALLOC_MMAP_THRESHOLD_=65536 unless given one).
 */
export function daemonEnv(): NodeJS.ProcessEnv {
  return { ...process.env, MALLOC_MMAP_THRESHOLD_: process.env.MALLOC_MMAP_THRESHOLD_ ?? '65536' };
}

/**
 * The daemon's command line as the `sieve` bin runs it (its shebang passes
 * --max-semi-space-size=1): built dist/cli.js, so a figure is what a user
 * gets. `node` flags (profiling) go before the script.
 */
export function daemonArgv(root: string, cfgPath: string, nodeFlags: string[] = [], semiMiB = '1'): string[] {
  return [`--max-semi-space-size=${semiMiB}`, ...nodeFlags, `${root}/dist/cli.js`, '--config', cfgPath];
}
