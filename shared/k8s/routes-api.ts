// What the routes function asks of the API server: Services and baton's Ingresses,
// read whole; Ingresses written by server-side apply and deleted under preconditions.
import * as k8s from '@kubernetes/client-node';
import { createClient } from './client.js';
import { serviceEvent, type EventNote, type ServiceRef } from './cluster.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, type RouteIngress, type RouteKeys, type RouteService } from '../routes/model.js';
import { isManaged, routeIngress, routeService } from '../routes/views.js';

export const FIELD_MANAGER = 'baton-routes';

/** Who holds an Ingress name, as far as taking it over goes. */
export interface IngressHolder {
  readonly managed: boolean;
  readonly ownerUid: string | undefined;
  readonly uid: string;
}

export interface RoutesApi {
  /** Every Service in scope (one request per namespace, or one for all). */
  listServices(namespaces: readonly string[]): Promise<RouteService[]>;
  /** Ingresses labelled as baton's, in scope. */
  listIngresses(namespaces: readonly string[]): Promise<RouteIngress[]>;
  /** undefined when no Ingress has that name. */
  getIngress(namespace: string, name: string): Promise<IngressHolder | undefined>;
  /** Server-side apply; with `resourceVersion`, only onto that version (409 otherwise). */
  applyIngress(body: k8s.V1Ingress, resourceVersion?: string): Promise<RouteIngress>;
  /** Deletes exactly the Ingress that was read: 409 if it changed, 404 if gone. */
  deleteIngress(ingress: Pick<RouteIngress, 'namespace' | 'name' | 'uid' | 'resourceVersion'>): Promise<void>;
  recordEvent(service: ServiceRef, note: EventNote): Promise<void>;
  readonly requestCount: number;
}

export async function connectRoutes(options: { kubeConfig: k8s.KubeConfig; timeoutMs: number; component: string; keys: RouteKeys }): Promise<RoutesApi> {
  const client = await createClient(options);
  const { base, call } = client;
  const apply = client.withContentType(k8s.PatchStrategy.ServerSideApply);
  const core = options.kubeConfig.makeApiClient(k8s.CoreV1Api);
  const networking = options.kubeConfig.makeApiClient(k8s.NetworkingV1Api);
  const managed = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`;
  const inScope = async <T>(namespaces: readonly string[], all: () => Promise<T[]>, one: (ns: string) => Promise<T[]>): Promise<T[]> =>
    namespaces.length === 0 ? all() : (await Promise.all(namespaces.map(one))).flat();

  return {
    get requestCount() {
      return client.requestCount;
    },
    listServices: (namespaces) =>
      call('list services', () =>
        inScope(
          namespaces,
          async () => (await core.listServiceForAllNamespaces({}, base)).items.map(routeService),
          async (namespace) => (await core.listNamespacedService({ namespace }, base)).items.map(routeService),
        ),
      ),
    listIngresses: (namespaces) =>
      call('list ingresses', () =>
        inScope(
          namespaces,
          async () => (await networking.listIngressForAllNamespaces({ labelSelector: managed }, base)).items.map((i) => routeIngress(i, options.keys)),
          async (namespace) => (await networking.listNamespacedIngress({ namespace, labelSelector: managed }, base)).items.map((i) => routeIngress(i, options.keys)),
        ),
      ),
    getIngress: (namespace, name) =>
      call(`get ingress ${namespace}/${name}`, async () => {
        try {
          const found = await networking.readNamespacedIngress({ namespace, name }, base);
          const owner = found.metadata?.ownerReferences?.find((o) => o.kind === 'Service' && o.controller === true);
          return { managed: isManaged(found.metadata?.labels), ownerUid: owner?.uid, uid: found.metadata?.uid ?? '' };
        } catch (error) {
          if (error instanceof k8s.ApiException && error.code === 404) return undefined;
          throw error;
        }
      }),
    applyIngress: (body, resourceVersion) =>
      call(`apply ingress ${body.metadata?.namespace}/${body.metadata?.name}`, async () => {
        const guarded: k8s.V1Ingress = resourceVersion ? { ...body, metadata: { ...body.metadata, resourceVersion } } : body;
        const written = await networking.patchNamespacedIngress(
          // force: fields someone edited by hand are taken back; the route is declared on the Service.
          { namespace: body.metadata!.namespace!, name: body.metadata!.name!, body: guarded, fieldManager: FIELD_MANAGER, force: true },
          apply,
        );
        return routeIngress(written, options.keys);
      }),
    deleteIngress: (ingress) =>
      call(`delete ingress ${ingress.namespace}/${ingress.name}`, async () => {
        await networking.deleteNamespacedIngress(
          { namespace: ingress.namespace, name: ingress.name, body: { preconditions: { uid: ingress.uid, resourceVersion: ingress.resourceVersion } } },
          base,
        );
      }),
    recordEvent: (service, note) =>
      call(`record event on ${service.namespace}/${service.name}`, async () => {
        await core.createNamespacedEvent({ namespace: service.namespace, body: serviceEvent(service, note, options.component) }, base);
      }),
  };
}
