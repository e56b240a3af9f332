import http from 'node:http';
import { HTTP, type CloudEvent } from 'cloudevents';
import { waitFor } from '../../../plane/wait.js';

export interface Sink {
  readonly url: string;
  readonly events: CloudEvent<unknown>[];
  /** Resolves with the first received event (past or future) that matches. */
  waitFor(what: string, match: (e: CloudEvent<unknown>) => boolean, timeoutMs?: number): Promise<CloudEvent<unknown>>;
  close(): Promise<void>;
}

/**
 * A CloudEvents receiver that records everything it gets, on 127.0.0.1 (or `host`: the
 * real node's bridge address, for senders in its pods).
 */
export async function startSink(host = '127.0.0.1'): Promise<Sink> {
  const events: CloudEvent<unknown>[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        const received = HTTP.toEvent({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        for (const e of Array.isArray(received) ? received : [received]) events.push(e as CloudEvent<unknown>);
        res.writeHead(202).end();
      } catch (error) {
        res.writeHead(400).end(String(error));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://${host}:${port}/`,
    events,
    waitFor: (what, match, timeoutMs = 15_000) => waitFor(what, () => events.find(match), { timeoutMs, intervalMs: 20 }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
