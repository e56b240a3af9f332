// List, then watch from the list's resourceVersion; resume from the last version seen
// after a dropped connection; list again only when the server says that version is gone
// (410). This is what keeps a local copy (the balancer's slices, the failover index of
// opted-in Services) equal to the server's, in the server's order: no event is missed
// between list and watch, none is replayed, and a re-list replaces the copy wholesale so
// objects deleted while disconnected cannot linger.

import http from 'node:http';
import https from 'node:https';
import { createInterface } from 'node:readline';
import type * as k8s from '@kubernetes/client-node';

export type WatchEvent<T> =
  | { readonly type: 'ADDED' | 'MODIFIED' | 'DELETED'; readonly object: T; readonly resourceVersion: string | undefined }
  | { readonly type: 'BOOKMARK'; readonly resourceVersion: string | undefined }
  | { readonly type: 'ERROR'; readonly code: number | undefined; readonly message: string };

export interface Listed<T> {
  readonly items: readonly T[];
  readonly resourceVersion: string;
}

/** The two requests the loop needs; api.ts binds them to a resource. */
export interface WatchSource<T> {
  list(signal: AbortSignal): Promise<Listed<T>>;
  /** Resolves when the server ends the stream cleanly; rejects on a broken one. */
  watch(resourceVersion: string, onEvent: (event: WatchEvent<T>) => void, signal: AbortSignal): Promise<void>;
}

export interface WatchTarget<T> {
  replace(items: readonly T[]): void;
  apply(event: Extract<WatchEvent<T>, { type: 'ADDED' | 'MODIFIED' | 'DELETED' }>): void;
  /** A failed request; the loop retries it after a backoff. */
  failed(error: unknown): void;
}

export interface Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 100, maxMs: 5_000 };

/** Exponential with full jitter, so many clients restarted together do not retry in step. */
export function backoffDelay(failures: number, backoff: Backoff, random: () => number = Math.random): number {
  const ceiling = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.max(0, failures - 1));
  return Math.round(backoff.initialMs / 2 + random() * (ceiling - backoff.initialMs / 2));
}

/** The server no longer has the requested resourceVersion in its history. */
export class ResourceExpired extends Error {}

export function isGone(error: unknown): boolean {
  if (error instanceof ResourceExpired) return true;
  if (!error || typeof error !== 'object') return false;
  const status = 'status' in error ? error.status : 'statusCode' in error ? error.statusCode : undefined;
  return status === 410;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

// A watch the server closes right away (it does that while its cache warms up after a
// restart) must not turn into a tight reconnect loop.
const SHORT_WATCH_MS = 1_000;

/**
 * Runs until `signal` aborts. `onListed` is called after every successful list, so the
 * caller can resolve "first sync done" promises.
 */
export async function runWatchLoop<T>(
  source: WatchSource<T>,
  target: WatchTarget<T>,
  options: { readonly signal: AbortSignal; readonly backoff?: Backoff; readonly onListed?: () => void },
): Promise<void> {
  const { signal } = options;
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  let resourceVersion: string | undefined;
  let failures = 0;
  let goneInARow = 0;
  while (!signal.aborted) {
    try {
      if (resourceVersion === undefined) {
        const listed = await source.list(signal);
        target.replace(listed.items);
        resourceVersion = listed.resourceVersion;
        failures = 0;
        options.onListed?.();
      }
      const started = Date.now();
      let progressed = false;
      await source.watch(
        resourceVersion,
        (event) => {
          if (event.type === 'ERROR') {
            // Surfaces as the watch's rejection below; the stream is ended by the caller.
            throw event.code === 410 ? new ResourceExpired(event.message) : new Error(`watch error ${event.code ?? ''}: ${event.message}`);
          }
          if (event.resourceVersion) resourceVersion = event.resourceVersion;
          // A stream that delivers is a healthy one: the next break starts the backoff afresh.
          progressed = true;
          failures = 0;
          goneInARow = 0;
          if (event.type !== 'BOOKMARK') target.apply(event);
        },
        signal,
      );
      if (!progressed && Date.now() - started < SHORT_WATCH_MS) await sleep(backoffDelay(++failures, backoff), signal);
    } catch (error) {
      if (signal.aborted) return;
      if (isGone(error)) {
        // Listing again is the remedy, not a failure; only a repeat (a 410 right after
        // a fresh list) waits first.
        resourceVersion = undefined;
        goneInARow += 1;
        if (goneInARow > 1) await sleep(backoffDelay(goneInARow, backoff), signal);
        continue;
      }
      target.failed(error);
      failures += 1;
      await sleep(backoffDelay(failures, backoff), signal);
    }
  }
}

export interface WatchErrors {
  /** No answer, silence, or a broken stream: the loop reconnects. */
  unreachable(message: string): unknown;
  /** The request cannot be made at all (no usable server in the kubeconfig). */
  rejected(message: string): unknown;
  /** Any other failure of the request; an HTTP status arrives as `statusCode` (keep 410 as it is). */
  from(error: unknown, what: string): unknown;
}

export interface StreamWatchOptions {
  readonly kubeConfig: k8s.KubeConfig;
  /** e.g. /api/v1/namespaces/demo/services */
  readonly path: string;
  readonly query: Readonly<Record<string, string | number | boolean>>;
  /** Names the request in error messages. */
  readonly what: string;
  readonly requestTimeoutMs: number;
  /** Server-side end of each watch; the loop resumes from the last version right after. */
  readonly watchTimeoutSeconds: number;
  /** No event or bookmark for this long means a dead connection: drop it and resume. */
  readonly watchIdleMs: number;
  readonly errors: WatchErrors;
}

function watchEvent<T extends k8s.KubernetesObject>(type: string, object: unknown): WatchEvent<T> | undefined {
  if (type === 'ERROR') {
    const status = (object ?? {}) as { code?: unknown; message?: unknown };
    return { type, code: typeof status.code === 'number' ? status.code : undefined, message: typeof status.message === 'string' ? status.message : 'unknown' };
  }
  const resourceVersion = (object as T | undefined)?.metadata?.resourceVersion;
  if (type === 'BOOKMARK') return { type, resourceVersion };
  if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') return { type, object: object as T, resourceVersion };
  return undefined;
}

/** The message of a failed watch request's Status body, read up to a bound. */
async function readStatus(response: http.IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of response) {
    body += String(chunk);
    if (body.length > 65_536) break;
  }
  try {
    const status = JSON.parse(body) as { message?: unknown };
    return typeof status.message === 'string' ? status.message : '';
  } catch {
    return '';
  }
}

// Watches are made here rather than with client-node's Watch: in 1.4 its abort
// controller reaches the caller only once the response headers have arrived, and it
// overwrites its own timeout signal, so a connection that never answers can be neither
// timed out nor aborted and keeps its socket for good. Here one controller exists
// before anything is sent and ends the request at any stage (connect, TLS, waiting
// for headers, streaming): on shutdown, on silence, or when the loop is done with it.
export function streamWatch<T extends k8s.KubernetesObject>(options: StreamWatchOptions): WatchSource<T>['watch'] {
  const { kubeConfig: kc, path, query, what, errors } = options;
  return (resourceVersion: string, onEvent: (event: WatchEvent<T>) => void, signal: AbortSignal): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const controller = new AbortController();
      let settled = false;
      let deadline: NodeJS.Timeout | undefined;
      const finish = (error?: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        signal.removeEventListener('abort', onAbort);
        // Destroys the request and its socket, whatever stage it is in.
        controller.abort();
        if (error === undefined || error === null) resolve();
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the reason is what the caller's WatchErrors made of the failure, typed by that caller (a 410 passes through untouched so the loop can tell it).
        else reject(error);
      };
      const onAbort = (): void => finish(new Error('aborted'));
      const expect = (ms: number, silence: string): void => {
        clearTimeout(deadline);
        deadline = setTimeout(() => finish(errors.unreachable(`${what}: ${silence} for ${ms} ms; reconnecting`)), ms);
      };
      if (signal.aborted) return finish(new Error('aborted'));
      signal.addEventListener('abort', onAbort, { once: true });
      // Until the headers come, the request's own deadline applies (or the idle bound, if shorter).
      expect(Math.min(options.requestTimeoutMs, options.watchIdleMs), 'no response');
      const server = kc.getCurrentCluster()?.server;
      let url: URL;
      try {
        url = new URL(`${server ?? ''}${path}`);
      } catch {
        return finish(errors.rejected(`${what}: the kubeconfig names no usable API server (${server ?? 'no current cluster'})`));
      }
      url.searchParams.set('watch', 'true');
      for (const [key, value] of Object.entries({ ...query, resourceVersion, allowWatchBookmarks: true, timeoutSeconds: options.watchTimeoutSeconds })) url.searchParams.set(key, String(value));
      const credentials: https.RequestOptions = {};
      // May run an exec credential plugin; the deadline above covers it.
      kc.applyToHTTPSOptions(credentials).then(() => {
        if (settled) return;
        const send = url.protocol === 'http:' ? http.request : https.request;
        const request = send(url, { ...credentials, method: 'GET', headers: { ...credentials.headers, accept: 'application/json' }, signal: controller.signal });
        request.on('socket', (socket) => socket.setKeepAlive(true, 30_000));
        request.on('error', (error) => finish(errors.from(error, what)));
        request.on('response', (response) => {
          if (response.statusCode !== 200) {
            readStatus(response).then((message) => finish(errors.from(Object.assign(new Error(message || `HTTP ${response.statusCode}`), { statusCode: response.statusCode }), what)), finish);
            return;
          }
          const touch = (): void => expect(options.watchIdleMs, 'no event or bookmark');
          touch();
          const lines = createInterface({ input: response, crlfDelay: Infinity });
          lines.on('line', (line) => {
            if (settled || line.trim() === '') return;
            touch();
            let parsed: unknown;
            try {
              parsed = JSON.parse(line);
            } catch {
              finish(errors.unreachable(`${what}: the server sent a line that is not JSON`));
              return;
            }
            const raw = (parsed ?? {}) as { type?: unknown; object?: unknown };
            const event = typeof raw.type === 'string' ? watchEvent<T>(raw.type, raw.object) : undefined;
            if (!event) return;
            try {
              onEvent(event);
            } catch (error) {
              // The loop's verdict on an event (e.g. 410 Gone) ends the stream.
              finish(error);
            }
          });
          // After an abort the response reports one (and readline passes it on); it changes nothing then.
          const broken = (error: unknown): void => finish(errors.from(error, what));
          response.on('error', broken);
          lines.on('error', broken);
          // Every complete line has been handled by now; an incomplete body is a broken stream.
          response.on('close', () => finish(response.complete ? undefined : errors.unreachable(`${what}: connection closed mid-stream`)));
        });
        request.end();
      }, (error: unknown) => finish(errors.from(error, what)));
    });
}
