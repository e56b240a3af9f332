import * as k8s from '@kubernetes/client-node';
import type { Labels, Observed, PodView, ServiceView, ServiceWrite } from './core/model.js';
import { abortableRequests, createClient } from '../../shared/k8s/client.js';
import type { RequestObserver } from '../../shared/k8s/observe.js';
import { nodeView, podView, serviceView, sliceView, type NodeView, type SliceView } from './views.js';
import { classify } from '../../shared/k8s/errors.js';
import { serviceEvent, type EventNote, type InvolvedService } from '../../shared/k8s/service-events.js';
import { streamWatch, type WatchErrors, type WatchSource } from '../../shared/k8s/watch.js';
import type { DesiredSlice, ObservedSlice } from './core/slice.js';
import { observedSlice, sliceBody } from './slice-objects.js';

/**
 * Everything the functions ask of the API server. Narrow on purpose: each method is
 * one request, every write to a Service carries its resourceVersion, and errors
 * arrive classified (errors.ts).
 */
export interface Cluster {
  getService(namespace: string, name: string): Promise<Observed<ServiceView>>;
  listServices(labelSelector: string, namespace?: string): Promise<Array<Observed<ServiceView>>>;
  listPods(namespace: string, selector: Labels): Promise<Array<Observed<PodView>>>;
  /** One pod by name, through `list` (the functions have no `get` on pods); undefined if none. */
  findPod(namespace: string, name: string): Promise<Observed<PodView> | undefined>;
  listEndpointSlices(namespace: string, service: string): Promise<SliceView[]>;
  /** Merge patch with `metadata.resourceVersion` as precondition: 409 if the Service moved on. */
  patchService(service: ServiceView, write: ServiceWrite): Promise<Observed<ServiceView>>;
  /**
   * With `resourceVersion`, a merge patch guarded by it (409 if the pod changed).
   * Resolves to the pod as the write left it.
   */
  patchPodLabels(namespace: string, pod: string, labels: Readonly<Record<string, string | null>>, resourceVersion?: string): Promise<Observed<PodView>>;
  /**
   * Evicts a pod through the Eviction API (PodDisruptionBudgets apply: 429 when one
   * forbids it), only if it is still the pod with this uid (409 otherwise). The pod
   * shuts down with its own grace period.
   */
  evictPod(namespace: string, name: string, uid: string): Promise<void>;
  recordEvent(service: InvolvedService, note: EventNote): Promise<void>;
  /** Direct mode: every EndpointSlice labelled with the Service's name, whoever wrote it. */
  listSlices(namespace: string, service: string): Promise<Array<Observed<ObservedSlice>>>;
  /** Create only: 409 when a slice of that name exists. */
  createSlice(slice: DesiredSlice): Promise<Observed<ObservedSlice>>;
  /** Replace guarded by `resourceVersion`: 409 if the slice changed since it was read. */
  replaceSlice(slice: DesiredSlice, resourceVersion: string): Promise<Observed<ObservedSlice>>;
  /** Delete guarded by the slice's uid and resourceVersion. */
  deleteSlice(namespace: string, slice: Pick<ObservedSlice, 'name' | 'uid' | 'resourceVersion'>): Promise<void>;
  /** One Node, to settle what a Node event only claims (cordons.ts). */
  getNode(name: string): Promise<Observed<NodeView>>;
  /** The Nodes marked unschedulable (fieldSelector spec.unschedulable=true): the resync's one list per sweep. */
  listCordonedNodes(): Promise<Array<Observed<NodeView>>>;
  /** The pods bound to a Node (fieldSelector spec.nodeName), in one namespace or in all. */
  listPodsOnNode(node: string, namespace?: string): Promise<Array<Observed<PodView>>>;
  /** Requests sent so far, for tests and figures. */
  readonly requestCount: number;
}

export function labelSelector(selector: Labels): string {
  return Object.entries(selector)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** The merge-patch form of a selector change: keys that must go are set to null. */
export function selectorPatch(current: Labels, desired: Labels): Record<string, string | null> {
  const patch: Record<string, string | null> = { ...desired };
  for (const key of Object.keys(current)) if (!(key in desired)) patch[key] = null;
  return patch;
}

// The one place that vouches for a view: it was just returned by the API server.
const observedService = (object: k8s.V1Service): Observed<ServiceView> => serviceView(object) as Observed<ServiceView>;
const observedPod = (object: k8s.V1Pod): Observed<PodView> => podView(object) as Observed<PodView>;
export const observedNode = (object: k8s.V1Node): Observed<NodeView> => nodeView(object) as Observed<NodeView>;

export interface ClusterOptions {
  readonly kubeConfig: k8s.KubeConfig;
  readonly timeoutMs: number;
  /** Reported as the Event source component. */
  readonly component: string;
  /** Told of each request and its status (metrics). */
  readonly onRequest?: RequestObserver | undefined;
}

export async function connect(options: ClusterOptions): Promise<Cluster> {
  const client = await createClient(options);
  const { base, call } = client;
  const merge = client.withContentType(k8s.PatchStrategy.MergePatch);
  const kc = options.kubeConfig;

  const core = kc.makeApiClient(k8s.CoreV1Api);
  const discovery = kc.makeApiClient(k8s.DiscoveryV1Api);
  return {
    get requestCount() {
      return client.requestCount;
    },
    getService: (namespace, name) => call(`get service ${namespace}/${name}`, async () => observedService(await core.readNamespacedService({ name, namespace }, base))),
    listServices: (selector, namespace) =>
      call(`list services (${selector})`, async () => {
        const list = namespace
          ? await core.listNamespacedService({ namespace, labelSelector: selector }, base)
          : await core.listServiceForAllNamespaces({ labelSelector: selector }, base);
        return list.items.map(observedService);
      }),
    listPods: (namespace, selector) =>
      call(`list pods in ${namespace}`, async () => (await core.listNamespacedPod({ namespace, labelSelector: labelSelector(selector) }, base)).items.map(observedPod)),
    findPod: (namespace, name) =>
      call(`find pod ${namespace}/${name}`, async () => {
        const [found] = (await core.listNamespacedPod({ namespace, fieldSelector: `metadata.name=${name}` }, base)).items;
        return found ? observedPod(found) : undefined;
      }),
    getNode: (name) => call(`get node ${name}`, async () => observedNode(await core.readNode({ name }, base))),
    listCordonedNodes: () => call('list cordoned nodes', async () => (await core.listNode({ fieldSelector: 'spec.unschedulable=true' }, base)).items.map(observedNode)),
    listPodsOnNode: (node, namespace) =>
      call(`list pods on node ${node}`, async () => {
        const fieldSelector = `spec.nodeName=${node}`;
        const list = namespace ? await core.listNamespacedPod({ namespace, fieldSelector }, base) : await core.listPodForAllNamespaces({ fieldSelector }, base);
        return list.items.map(observedPod);
      }),
    listEndpointSlices: (namespace, service) =>
      call(`list endpointslices of ${namespace}/${service}`, async () =>
        (await discovery.listNamespacedEndpointSlice({ namespace, labelSelector: `kubernetes.io/service-name=${service}` }, base)).items.map(sliceView),
      ),
    patchService: (service, write) =>
      call(`patch service ${service.namespace}/${service.name}`, async () =>
        observedService(
          await core.patchNamespacedService(
            {
              name: service.name,
              namespace: service.namespace,
              body: {
                metadata: { resourceVersion: service.resourceVersion, annotations: write.annotations },
                spec: { selector: selectorPatch(service.selector, write.selector) },
              },
            },
            merge,
          ),
        ),
      ),
    patchPodLabels: (namespace, pod, labels, resourceVersion) =>
      call(`label pod ${namespace}/${pod}`, async () => {
        return observedPod(await core.patchNamespacedPod({ name: pod, namespace, body: { metadata: { labels, ...(resourceVersion ? { resourceVersion } : {}) } } }, merge));
      }),
    evictPod: (namespace, name, uid) =>
      call(`evict pod ${namespace}/${name}`, async () => {
        await core.createNamespacedPodEviction(
          { name, namespace, body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace }, deleteOptions: { preconditions: { uid } } } },
          base,
        );
      }),
    recordEvent: (service, note) =>
      call(`record event on ${service.namespace}/${service.name}`, async () => {
        await core.createNamespacedEvent({ namespace: service.namespace, body: serviceEvent(service, note, options.component) }, base);
      }),
    listSlices: (namespace, service) =>
      call(`list endpointslices of ${namespace}/${service}`, async () =>
        (await discovery.listNamespacedEndpointSlice({ namespace, labelSelector: `kubernetes.io/service-name=${service}` }, base)).items.map(observedSlice),
      ),
    createSlice: (slice) =>
      call(`create endpointslice ${slice.namespace}/${slice.name}`, async () => observedSlice(await discovery.createNamespacedEndpointSlice({ namespace: slice.namespace, body: sliceBody(slice) }, base))),
    replaceSlice: (slice, resourceVersion) =>
      call(`replace endpointslice ${slice.namespace}/${slice.name}`, async () =>
        observedSlice(await discovery.replaceNamespacedEndpointSlice({ name: slice.name, namespace: slice.namespace, body: sliceBody(slice, resourceVersion) }, base)),
      ),
    deleteSlice: (namespace, slice) =>
      call(`delete endpointslice ${namespace}/${slice.name}`, async () => {
        await discovery.deleteNamespacedEndpointSlice({ name: slice.name, namespace, body: { preconditions: { uid: slice.uid, resourceVersion: slice.resourceVersion } } }, base);
      }),
  };
}

export interface ServiceFeedOptions {
  readonly kubeConfig: k8s.KubeConfig;
  readonly labelSelector: string;
  /** undefined: every namespace. */
  readonly namespace: string | undefined;
  readonly requestTimeoutMs: number;
}

/**
 * How the function's watches (opted-in Services, cordoned Nodes) run and report: the
 * server ends each watch after 300 s and the loop resumes from the last version; bookmarks
 * arrive about once a minute, so 150 s of silence is a dead connection; 410 Gone goes back
 * to the loop as it is (it relists), anything else is classified like any API error.
 */
export const WATCH_SETTINGS: { readonly watchTimeoutSeconds: number; readonly watchIdleMs: number; readonly errors: WatchErrors } = {
  watchTimeoutSeconds: 300,
  watchIdleMs: 150_000,
  errors: {
    unreachable: (message) => new Error(message),
    rejected: (message) => new Error(message),
    from: (error, what) => {
      const status = error && typeof error === 'object' && 'statusCode' in error && typeof error.statusCode === 'number' ? error.statusCode : undefined;
      return status === 410 ? error : classify(status !== undefined ? Object.assign(new Error(error instanceof Error ? error.message : String(error)), { code: status }) : error, what);
    },
  },
};

/**
 * List and watch of the Services a label selects, as the API server returns them: the
 * source the failover index follows (shared/k8s/watch.ts runs the loop). What it yields
 * is observed, like every other answer of the server to baton.
 */
export function serviceFeed(options: ServiceFeedOptions): WatchSource<Observed<ServiceView>> {
  const { kubeConfig: kc, labelSelector, namespace } = options;
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const where = namespace === undefined ? 'all namespaces' : `namespace ${namespace}`;
  const raw = streamWatch<k8s.V1Service>({
    kubeConfig: kc,
    path: namespace === undefined ? '/api/v1/services' : `/api/v1/namespaces/${namespace}/services`,
    query: { labelSelector },
    what: `watch services (${labelSelector}) in ${where}`,
    requestTimeoutMs: options.requestTimeoutMs,
    ...WATCH_SETTINGS,
  });
  return {
    list: async (signal) => {
      // The request's own deadline, and the loop's end aborts it too.
      const config = abortableRequests(signal, options.requestTimeoutMs);
      try {
        const list = namespace === undefined ? await core.listServiceForAllNamespaces({ labelSelector }, config) : await core.listNamespacedService({ namespace, labelSelector }, config);
        return { items: list.items.map(observedService), resourceVersion: list.metadata?.resourceVersion ?? '' };
      } catch (error) {
        throw classify(error, `list services (${labelSelector}) in ${where}`);
      }
    },
    watch: (resourceVersion, onEvent, signal) =>
      raw(
        resourceVersion,
        (event) => {
          if (event.type === 'BOOKMARK' || event.type === 'ERROR') onEvent(event);
          else onEvent({ type: event.type, object: observedService(event.object), resourceVersion: event.resourceVersion });
        },
        signal,
      ),
  };
}
