// Binds the app and shuts it down the way a Knative pod is stopped: SIGTERM, then
// up to terminationGracePeriodSeconds to finish what is in flight. An event half
// handled is worse than one refused, so in-flight requests are finished; idle
// keep-alive connections are closed at once so they do not hold the shutdown open.
import { createServer, type RequestListener, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ListenOptions {
  /** Unset: every address, IPv6 and IPv4 (Node's own default). */
  readonly host?: string | undefined;
  /** 0 picks a free port; read it back from `port`. */
  readonly port: number;
  /** After this, remaining connections are cut. */
  readonly shutdownTimeoutMs?: number;
}

export interface RunningServer {
  readonly host: string;
  readonly port: number;
  readonly url: string;
  readonly closing: boolean;
  /** Idempotent; resolves when every connection is gone. */
  close(): Promise<void>;
}

export function listen(app: RequestListener, options: ListenOptions): Promise<RunningServer> {
  const server = createServer();
  const inFlight = new Set<ServerResponse>();
  let closing = false;

  // Registered before the app so it sees each response before the app can send headers.
  server.on('request', (_req, res: ServerResponse) => {
    inFlight.add(res);
    res.on('close', () => inFlight.delete(res));
    if (closing) res.setHeader('Connection', 'close');
  });
  server.on('request', app);

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      const address = server.address() as AddressInfo;
      let closed: Promise<void> | undefined;

      const close = (): Promise<void> => {
        closed ??= new Promise<void>((done) => {
          closing = true;
          for (const res of inFlight) {
            if (!res.headersSent) res.setHeader('Connection', 'close');
          }
          // A keep-alive socket becomes idle only after its response is written, so
          // idle ones are swept until the server is empty, not just once.
          const sweep = setInterval(() => server.closeIdleConnections(), 25);
          const deadline = setTimeout(() => server.closeAllConnections(), options.shutdownTimeoutMs ?? 10_000);
          sweep.unref();
          deadline.unref();
          server.close(() => {
            clearInterval(sweep);
            clearTimeout(deadline);
            done();
          });
          server.closeIdleConnections();
        });
        return closed;
      };

      resolve({
        host: address.address,
        port: address.port,
        url: `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`,
        get closing() {
          return closing;
        },
        close,
      });
    });
  });
}
