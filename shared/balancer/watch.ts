// List, then watch from the list's resourceVersion; resume from the last version seen
// after a dropped connection; list again only when the server says that version is gone
// (410). This is what keeps the balancer's copy equal to the server's, in the server's
// order: no event is missed between list and watch, none is replayed, and a re-list
// replaces the copy wholesale so objects deleted while disconnected cannot linger.

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
