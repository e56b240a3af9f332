// Where baton's audit events go during the bench (K_SINK): it notes when each arrived,
// so a repetition can wait for "completed" before the next one starts and the next
// measurement never overlaps the tail of the previous failover.
import http from 'node:http';
import { HTTP } from 'cloudevents';
import { now } from './util.js';

export interface Received {
  readonly at: number;
  readonly type: string;
  readonly subject: string | undefined;
  readonly data: Readonly<Record<string, unknown>>;
}

export interface Sink {
  readonly url: string;
  readonly events: readonly Received[];
  until(what: string, match: (e: Received) => boolean, timeoutMs: number): Promise<Received>;
  close(): Promise<void>;
}

/** Listens on loopback, or on `host` (the real node's bridge, for a Trigger to reach from a pod). */
export async function startSink(host = '127.0.0.1'): Promise<Sink> {
  const events: Received[] = [];
  const waiters = new Set<(e: Received) => void>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    // On the bridge any pod can reach it: an event of baton's is small.
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > 64 * 1024) {
        res.writeHead(413).end();
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => {
      const at = now();
      try {
        const parsed = HTTP.toEvent({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        for (const e of Array.isArray(parsed) ? parsed : [parsed]) {
          const data = typeof e.data === 'object' && e.data !== null ? (e.data as Record<string, unknown>) : {};
          const received: Received = { at, type: e.type, subject: e.subject, data };
          events.push(received);
          for (const w of waiters) w(received);
        }
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
    until: (what, match, timeoutMs) => {
      const seen = events.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const waiter = (e: Received): void => {
          if (!match(e)) return;
          clearTimeout(timer);
          waiters.delete(waiter);
          resolve(e);
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for the audit event: ${what}`));
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function termOf(e: Received): number {
  const term = e.data.term;
  return typeof term === 'number' ? term : Number(term ?? Number.NaN);
}

export function subjectIs(namespace: string, service: string): (e: Received) => boolean {
  return (e) => e.subject === `${namespace}/${service}`;
}
