// The real prometheus-node-exporter on a free loopback port.
import { spawn } from 'node:child_process';
import { freePort } from './sieve.js';

export interface NodeExporter {
  /** host:port */
  address: string;
  url: string;
  stop(): Promise<void>;
}

export async function startNodeExporter(): Promise<NodeExporter> {
  const port = await freePort();
  const proc = spawn('/usr/bin/prometheus-node-exporter', [`--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let logs = '';
  proc.stdout!.on('data', (c: Buffer) => (logs += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (logs += c.toString()));
  const exited = new Promise<void>((r) => proc.on('exit', () => r()));
  const url = `http://127.0.0.1:${port}/metrics`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`node exporter exited: ${logs}`);
    try {
      if ((await fetch(url)).status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`node exporter did not start: ${logs}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    address: `127.0.0.1:${port}`,
    url,
    stop: async () => {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        await exited;
      }
    },
  };
}
