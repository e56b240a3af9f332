// The balancer's requests to the API server, bound to @kubernetes/client-node: list and
// watch one Service's EndpointSlices, and the Service itself. Every request has a
// deadline and is cancelled by shutdown; failures arrive as the balancer's typed errors.
import * as k8s from '@kubernetes/client-node';
import { classify, ForbiddenError, InvalidError, NotFoundError } from '../k8s/errors.js';
import { ApiRejectedError, ApiUnreachableError, type BalancerError } from './errors.js';
import type { Listed, WatchEvent, WatchSource } from './watch.js';

export interface ServiceInfo {
  readonly uid: string;
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
  const watcher = new k8s.Watch(kc);
  const sliceSelector = `kubernetes.io/service-name=${service}`;
  const serviceField = `metadata.name=${service}`;

  const request = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (error) {
      throw toBalancerError(error, what);
    }
  };

  const watch = <T extends k8s.KubernetesObject>(path: string, query: Record<string, string | number | boolean>, what: string) =>
    (resourceVersion: string, onEvent: (event: WatchEvent<T>) => void, signal: AbortSignal): Promise<void> =>
      new Promise<void>((resolve, reject) => {
        let controller: AbortController | undefined;
        let settled = false;
        let idle: NodeJS.Timeout | undefined;
        const finish = (error?: unknown): void => {
          if (settled) return;
          settled = true;
          clearTimeout(idle);
          signal.removeEventListener('abort', onAbort);
          controller?.abort();
          if (error === undefined || error === null) resolve();
          else reject(error);
        };
        const onAbort = (): void => finish(new Error('aborted'));
        const touch = (): void => {
          clearTimeout(idle);
          idle = setTimeout(() => finish(new ApiUnreachableError(`${what}: no event or bookmark for ${options.watchIdleMs} ms; reconnecting`)), options.watchIdleMs);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        touch();
        watcher
          .watch(
            path,
            { ...query, resourceVersion, allowWatchBookmarks: true, timeoutSeconds: options.watchTimeoutSeconds },
            (type: string, object: unknown) => {
              if (settled) return;
              touch();
              const event = watchEvent<T>(type, object);
              if (!event) return;
              // client-node swallows exceptions thrown here, so the loop's verdict on an
              // event (e.g. 410 Gone) is carried out of the stream by hand.
              try {
                onEvent(event);
              } catch (error) {
                finish(error);
              }
            },
            (error: unknown) => finish(error === null || error === undefined ? undefined : toWatchError(error, what)),
          )
          .then((c) => {
            controller = c;
            if (settled) c.abort();
          }, finish);
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
        return { uid: s.metadata?.uid ?? '' };
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

// The watch call reports HTTP failures as `statusCode`; keep 410 recognisable for the
// loop and give the rest the balancer's classes.
function toWatchError(error: unknown, what: string): unknown {
  const status = error && typeof error === 'object' && 'statusCode' in error && typeof error.statusCode === 'number' ? error.statusCode : undefined;
  if (status === 410) return error;
  return toBalancerError(status !== undefined ? Object.assign(new Error(error instanceof Error ? error.message : String(error)), { code: status }) : error, what);
}
