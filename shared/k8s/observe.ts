// Lets a caller see each API request and how it ended, without the client knowing what
// is done with it (the metrics). client-node's middleware sees the request before it is
// sent and the response after, but as two unrelated objects; the request is carried
// from one to the other in the async context of the `call` that made it, so concurrent
// calls never mix their requests up.
import { AsyncLocalStorage } from 'node:async_hooks';
import type * as k8s from '@kubernetes/client-node';

export interface ObservedRequest {
  readonly method: string;
  readonly url: string;
  readonly contentType: string | undefined;
  /** undefined: no reply came (timeout, reset, refused). */
  readonly status: number | undefined;
}

export type RequestObserver = (request: ObservedRequest) => void;

interface Pending {
  sent?: { readonly method: string; readonly url: string; readonly contentType: string | undefined } | undefined;
}

export interface RequestTracker {
  /** Runs one port call; a request it sent without a reply is reported when it ends. */
  around<T>(fn: () => Promise<T>): Promise<T>;
  sent(context: k8s.RequestContext): void;
  answered(status: number): void;
}

const NOTHING: RequestTracker = { around: (fn) => fn(), sent: () => {}, answered: () => {} };

export function requestObserver(observe: RequestObserver | undefined): RequestTracker {
  if (observe === undefined) return NOTHING;
  const store = new AsyncLocalStorage<Pending>();
  const report = (pending: Pending, status: number | undefined): void => {
    const sent = pending.sent;
    if (sent === undefined) return;
    pending.sent = undefined;
    // An observer's failure must never fail the request it watched.
    try {
      observe({ ...sent, status });
    } catch {
      // ignored on purpose
    }
  };
  return {
    around: async (fn) => {
      const pending: Pending = {};
      try {
        return await store.run(pending, fn);
      } finally {
        report(pending, undefined);
      }
    },
    sent: (context) => {
      const pending = store.getStore();
      if (pending === undefined) return;
      // A paged list sends its pages one after another within one call: each is its own request.
      report(pending, undefined);
      pending.sent = { method: String(context.getHttpMethod()), url: context.getUrl(), contentType: context.getHeaders()['Content-Type'] };
    },
    answered: (status) => {
      const pending = store.getStore();
      if (pending !== undefined) report(pending, status);
    },
  };
}
