// Where the demo receives baton's audit events, as a subscriber's Trigger would deliver
// them. On Knative it listens on the real node's bridge, where any pod can reach it, so
// nothing is taken on trust: bodies are capped, only `promoted` and `completed` events
// whose data match baton's published schemas are kept, and every other request is
// answered and dropped.
import http from 'node:http';
import { HTTP } from 'cloudevents';
import type { z } from 'zod';
import { COMPLETED, completedDataSchema, PROMOTED, transitionDataSchema } from '../shared/audit/schemas.js';

const MAX_BODY = 64 * 1024;

export interface Seen<T> {
  readonly at: number;
  readonly subject: string;
  readonly data: T;
}

export interface DemoSink {
  readonly url: string;
  promoted(subject: string, minTerm: number): Seen<z.infer<typeof transitionDataSchema>> | undefined;
  completed(subject: string, minTerm: number): Seen<z.infer<typeof completedDataSchema>> | undefined;
  close(): void;
}

export async function startDemoSink(host: string): Promise<DemoSink> {
  const promoted: Array<Seen<z.infer<typeof transitionDataSchema>>> = [];
  const completed: Array<Seen<z.infer<typeof completedDataSchema>>> = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        res.writeHead(413).end();
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      const at = Date.now();
      try {
        const parsed = HTTP.toEvent({ headers: req.headers, body: Buffer.concat(chunks).toString() });
        for (const e of Array.isArray(parsed) ? parsed : [parsed]) {
          if (typeof e.subject !== 'string') continue;
          if (e.type === PROMOTED) {
            const data = transitionDataSchema.safeParse(e.data);
            if (data.success) promoted.push({ at, subject: e.subject, data: data.data });
          } else if (e.type === COMPLETED) {
            const data = completedDataSchema.safeParse(e.data);
            if (data.success) completed.push({ at, subject: e.subject, data: data.data });
          }
        }
        res.writeHead(202).end();
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: Error) => reject(new Error(`the demo's event sink cannot listen on ${host}: ${e.message}`)));
    server.listen(0, host, resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://${host}:${port}/`,
    promoted: (subject, minTerm) => promoted.find((e) => e.subject === subject && e.data.term >= minTerm),
    completed: (subject, minTerm) => completed.find((e) => e.subject === subject && e.data.term >= minTerm),
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/** Keeps what a forged event could put on the user's terminal to printable ASCII. */
export function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?');
}
