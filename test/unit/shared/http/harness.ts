// Starts the real app on 127.0.0.1:0 so tests talk to it over TCP with fetch, the way
// Knative does, instead of calling handlers directly.
import type { InboundEvent } from '../../../../shared/events/incoming.js';
import { listen, type RunningServer } from '../../../../shared/http/listen.js';
import type { Authenticator } from '../../../../shared/http/auth.js';
import { ignored, handled, type Outcome } from '../../../../shared/http/outcome.js';
import { createServer, type Handler, type HandlerContext } from '../../../../shared/http/server.js';
import { captureLogs } from '../../../fixtures/log-capture.js';

export interface Harness {
  readonly server: RunningServer;
  readonly url: string;
  readonly calls: Array<{ event: InboundEvent; context: HandlerContext }>;
  readonly lines: Array<Record<string, unknown>>;
}

export interface HarnessOptions {
  handle?: (event: InboundEvent) => Promise<Outcome> | Outcome;
  ready?: () => boolean;
  bodyLimit?: number;
  shutdownTimeoutMs?: number;
  authenticate?: Authenticator;
}

/** By default resource events are "handled" and anything else "ignored". */
export async function start(options: HarnessOptions = {}): Promise<Harness> {
  const { logger, lines } = captureLogs('debug', 'http-test');
  const calls: Harness['calls'] = [];
  const decide = options.handle ?? ((event: InboundEvent) => (event.kind === 'Other' ? ignored(event.reason) : handled(`${event.kind} ${event.action}`)));
  const handle: Handler = (event, context) => {
    calls.push({ event, context });
    return decide(event);
  };
  const app = createServer({
    handle,
    logger,
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    ...(options.ready ? { ready: options.ready } : {}),
    ...(options.authenticate ? { authenticate: options.authenticate } : {}),
  });
  const server = await listen(app, {
    host: '127.0.0.1',
    port: 0,
    ...(options.shutdownTimeoutMs !== undefined ? { shutdownTimeoutMs: options.shutdownTimeoutMs } : {}),
  });
  return { server, url: server.url, calls, lines };
}

export async function post(url: string, wire: { headers: Record<string, string>; body: Buffer | string }): Promise<Response> {
  return fetch(url, { method: 'POST', headers: wire.headers, body: wire.body });
}

export async function errorOf(response: Response): Promise<string> {
  const body: unknown = await response.json();
  if (typeof body !== 'object' || body === null || !('error' in body) || typeof body.error !== 'string') {
    throw new Error(`expected {error: string}, got ${JSON.stringify(body)}`);
  }
  return body.error;
}

export function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
