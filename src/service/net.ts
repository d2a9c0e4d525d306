import type { Server } from 'node:http';

/** A failure to start, e.g. a port that is already taken. */
export class StartError extends Error {
  constructor(message: string, readonly component?: string) {
    super(message);
    this.name = 'StartError';
  }
}

/** Listens on host:port; a taken port becomes a clear StartError. Returns the bound port. */
export function listen(server: Server, endpoint: string, what: string): Promise<number> {
  const i = endpoint.lastIndexOf(':');
  let host = endpoint.slice(0, i) || '0.0.0.0';
  if (host.startsWith('[')) host = host.slice(1, -1);
  const port = Number(endpoint.slice(i + 1));
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      reject(new StartError(e.code === 'EADDRINUSE' ? `${what}: address ${endpoint} is already in use` : `${what}: cannot listen on ${endpoint}: ${e.message}`));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : port);
    });
  });
}
