// The balancer's requests to the API server, bound to @kubernetes/client-node: list and
// watch one Service's EndpointSlices, and the Service itself. Every request has a
// deadline and is cancelled by shutdown; failures arrive as the balancer's typed errors.
import * as k8s from '@kubernetes/client-node';
import { abortableRequests } from '../k8s/client.js';
import { classify, ForbiddenError, InvalidError, NotFoundError } from '../k8s/errors.js';
import { ApiRejectedError, ApiUnreachableError, type BalancerError } from './errors.js';
import { streamWatch, type Listed, type WatchErrors, type WatchSource } from '../k8s/watch.js';

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

export function connectApi(options: ApiOptions, shutdown: AbortSignal): BalancerApi {
  const { kubeConfig: kc, namespace, service } = options;
  const where = `${namespace}/${service}`;
  // Per request: its own deadline, and shutdown aborts whatever is in flight.
  const config = abortableRequests(shutdown, options.requestTimeoutMs);
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

  const watch = <T extends k8s.KubernetesObject>(path: string, query: Record<string, string | number | boolean>, what: string) =>
    streamWatch<T>({ kubeConfig: kc, path, query, what, requestTimeoutMs: options.requestTimeoutMs, watchTimeoutSeconds: options.watchTimeoutSeconds, watchIdleMs: options.watchIdleMs, errors: balancerWatchErrors });

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

/** How a failed watch request becomes one of the balancer's errors (410 stays recognisable for the loop). */
const balancerWatchErrors: WatchErrors = {
  unreachable: (message) => new ApiUnreachableError(message),
  rejected: (message) => new ApiRejectedError(message, undefined),
  from: (error, what) => {
    const status = error && typeof error === 'object' && 'statusCode' in error && typeof error.statusCode === 'number' ? error.statusCode : undefined;
    if (status === 410) return error;
    return toBalancerError(status !== undefined ? Object.assign(new Error(error instanceof Error ? error.message : String(error)), { code: status }) : error, what);
  },
};
