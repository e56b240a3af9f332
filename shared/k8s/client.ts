// The request plumbing every narrow API port shares: one keep-alive TLS agent, a
// deadline on every call, a request counter, and errors classified on the way out.
import https from 'node:https';
import * as k8s from '@kubernetes/client-node';
import { classify } from './errors.js';
import { requestObserver, type RequestObserver } from './observe.js';

export interface ClientOptions {
  readonly kubeConfig: k8s.KubeConfig;
  readonly timeoutMs: number;
  /** Told of every request sent through `call` and its status (metrics); absent: nothing is recorded. */
  readonly onRequest?: RequestObserver | undefined;
}

export interface Client {
  readonly kubeConfig: k8s.KubeConfig;
  /** Options for calls without a special content type. */
  readonly base: k8s.ConfigurationOptions<k8s.ObservableMiddleware>;
  readonly withContentType: (type: string) => k8s.ConfigurationOptions<k8s.ObservableMiddleware>;
  /** Runs one API call; whatever it throws comes out as one of the ApiError classes. */
  readonly call: <T>(what: string, fn: () => Promise<T>) => Promise<T>;
  readonly requestCount: number;
}

export async function createClient(options: ClientOptions): Promise<Client> {
  const kc = options.kubeConfig;
  // client-node builds a new TLS agent for every request; one keep-alive agent saves a
  // handshake per call, which is most of a loopback request's cost.
  const tls: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(tls);
  const agent = new https.Agent({ ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: tls.rejectUnauthorized ?? true, servername: tls.servername, keepAlive: true, maxSockets: 32 });
  let requests = 0;
  const observer = requestObserver(options.onRequest);
  const middleware: k8s.ObservableMiddleware = {
    pre: (context) => {
      requests += 1;
      if (context.getUrl().startsWith('https:')) context.setAgent(agent);
      context.setSignal(AbortSignal.timeout(options.timeoutMs));
      observer.sent(context);
      return new k8s.Observable(Promise.resolve(context));
    },
    post: (context) => {
      observer.answered(context.httpStatusCode);
      return new k8s.Observable(Promise.resolve(context));
    },
  };
  const base: k8s.ConfigurationOptions<k8s.ObservableMiddleware> = { middleware: [middleware], middlewareMergeStrategy: 'append' };
  return {
    kubeConfig: kc,
    base,
    withContentType: (type) => k8s.setHeaderOptions('Content-Type', type, base),
    call: (what, fn) =>
      observer.around(async () => {
        try {
          return await fn();
        } catch (error) {
          throw classify(error, what);
        }
      }),
    get requestCount() {
      return requests;
    },
  };
}

/**
 * Options for client-node requests that end at `timeoutMs` or when `signal` aborts,
 * whichever comes first: each request gets its own deadline when it is sent.
 */
export function abortableRequests(signal: AbortSignal, timeoutMs: number): k8s.ConfigurationOptions<k8s.ObservableMiddleware> {
  const middleware: k8s.ObservableMiddleware = {
    pre: (context) => {
      context.setSignal(AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]));
      return new k8s.Observable(Promise.resolve(context));
    },
    post: (context) => new k8s.Observable(Promise.resolve(context)),
  };
  return { middleware: [middleware], middlewareMergeStrategy: 'append' };
}
