// The balancer's requests to the API server, bound to @kubernetes/client-node: list and
// watch one Service's EndpointSlices, and the Service itself. Every request has a
// deadline and is cancelled by shutdown; failures arrive as the balancer's typed errors.
import http from 'node:http';
import https from 'node:https';
import { createInterface } from 'node:readline';
import * as k8s from '@kubernetes/client-node';
import { classify, ForbiddenError, InvalidError, NotFoundError } from '../k8s/errors.js';
import { ApiRejectedError, ApiUnreachableError, type BalancerError } from './errors.js';
import type { Listed, WatchEvent, WatchSource } from './watch.js';

export interface ServiceInfo {
  readonly uid: string;
  readonly labels: Record<string, string> | undefined;
  readonly annotations: Record<string, string> | undefined;
}

export interface BalancerApi {
  readonly slices: WatchSource<k8s.V1EndpointSlice>;
  readonly service: WatchSource<k8s.V1Service>;
  /** undefined when the Service does not exist. */
  readService(signal: AbortSignal): Promise<ServiceInfo | undefined>;
}

export interface ApiOptions {
  readonly kubeConfig: k8s.KubeConfig;
  readonly namespace: string;
  readonly service: string;
  readonly requestTimeoutMs: number;
  /** Server-side end of each watch; the loop resumes from the last version right after. */
  readonly watchTimeoutSeconds: number;
  /** No event or bookmark for this long means a dead connection: drop it and resume. */
  readonly watchIdleMs: number;
}

/** The balancer's error for a failed request, built on the project's API error classes. */
export function toBalancerError(error: unknown, what: string): BalancerError {
  const classified = classify(error, what);
  if (classified instanceof ForbiddenError || classified instanceof InvalidError) {
    return new ApiRejectedError(classified.message, classified.status, { cause: error });
  }
  return new ApiUnreachableError(classified.message, { cause: error });
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

export function connectApi(options: ApiOptions, shutdown: AbortSignal): BalancerApi {
  const { kubeConfig: kc, namespace, service } = options;
  const where = `${namespace}/${service}`;
  // Per request: its own deadline, and shutdown aborts whatever is in flight.
  const middleware: k8s.ObservableMiddleware = {
    pre: (context) => {
      context.setSignal(AbortSignal.any([shutdown, AbortSignal.timeout(options.requestTimeoutMs)]));
      return new k8s.Observable(Promise.resolve(context));
    },
    post: (context) => new k8s.Observable(Promise.resolve(context)),
  };
  const config: k8s.ConfigurationOptions<k8s.ObservableMiddleware> = { middleware: [middleware], middlewareMergeStrategy: 'append' };
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const discovery = kc.makeApiClient(k8s.DiscoveryV1Api);
  const sliceSelector = `kubernetes.io/service-name=${service}`;
  const serviceField = `metadata.name=${service}`;

  const request = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (error) {
      throw toBalancerError(error, what);
    }
  };

  // Watches are made here rather than with client-node's Watch: in 1.4 its abort
  // controller reaches the caller only once the response headers have arrived, and it
  // overwrites its own timeout signal, so a connection that never answers can be neither
  // timed out nor aborted and keeps its socket for good. Here one controller exists
  // before anything is sent and ends the request at any stage (connect, TLS, waiting
  // for headers, streaming): on shutdown, on silence, or when the loop is done with it.
  const watch = <T extends k8s.KubernetesObject>(path: string, query: Record<string, string | number | boolean>, what: string) =>
    (resourceVersion: string, onEvent: (event: WatchEvent<T>) => void, signal: AbortSignal): Promise<void> =>
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
          else reject(error);
        };
        const onAbort = (): void => finish(new Error('aborted'));
        const expect = (ms: number, silence: string): void => {
          clearTimeout(deadline);
          deadline = setTimeout(() => finish(new ApiUnreachableError(`${what}: ${silence} for ${ms} ms; reconnecting`)), ms);
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
          return finish(new ApiRejectedError(`${what}: the kubeconfig names no usable API server (${server ?? 'no current cluster'})`, undefined));
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
          request.on('error', (error) => finish(toBalancerError(error, what)));
          request.on('response', (response) => {
            if (response.statusCode !== 200) {
              readStatus(response).then((message) => finish(toWatchError(Object.assign(new Error(message || `HTTP ${response.statusCode}`), { statusCode: response.statusCode }), what)), finish);
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
                finish(new ApiUnreachableError(`${what}: the server sent a line that is not JSON`));
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
            const broken = (error: unknown): void => finish(toBalancerError(error, what));
            response.on('error', broken);
            lines.on('error', broken);
            // Every complete line has been handled by now; an incomplete body is a broken stream.
            response.on('close', () => finish(response.complete ? undefined : new ApiUnreachableError(`${what}: connection closed mid-stream`)));
          });
          request.end();
        }, (error: unknown) => finish(toBalancerError(error, what)));
      });

  const slices: WatchSource<k8s.V1EndpointSlice> = {
    list: () =>
      request(`list endpointslices of ${where}`, async () => {
        const list = await discovery.listNamespacedEndpointSlice({ namespace, labelSelector: sliceSelector }, config);
        return listed(list);
      }),
    watch: watch<k8s.V1EndpointSlice>(`/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`, { labelSelector: sliceSelector }, `watch endpointslices of ${where}`),
  };
  const serviceSource: WatchSource<k8s.V1Service> = {
    list: () =>
      request(`list service ${where}`, async () => {
        const list = await core.listNamespacedService({ namespace, fieldSelector: serviceField }, config);
        return listed(list);
      }),
    watch: watch<k8s.V1Service>(`/api/v1/namespaces/${namespace}/services`, { fieldSelector: serviceField }, `watch service ${where}`),
  };

  return {
    slices,
    service: serviceSource,
    readService: async () => {
      try {
        const s = await core.readNamespacedService({ name: service, namespace }, config);
        return { uid: s.metadata?.uid ?? '', labels: s.metadata?.labels, annotations: s.metadata?.annotations };
      } catch (error) {
        if (classify(error, '') instanceof NotFoundError) return undefined;
        throw toBalancerError(error, `read service ${where}`);
      }
    },
  };
}

function listed<T>(list: { items: T[]; metadata?: { resourceVersion?: string } }): Listed<T> {
  return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '' };
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

// The watch call reports HTTP failures as `statusCode`; keep 410 recognisable for the
// loop and give the rest the balancer's classes.
function toWatchError(error: unknown, what: string): unknown {
  const status = error && typeof error === 'object' && 'statusCode' in error && typeof error.statusCode === 'number' ? error.statusCode : undefined;
  if (status === 410) return error;
  return toBalancerError(status !== undefined ? Object.assign(new Error(error instanceof Error ? error.message : String(error)), { code: status }) : error, what);
}
