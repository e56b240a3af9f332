// What the routes function asks of the API server: Services and baton's Ingresses,
// listed in pages; Ingresses written by server-side apply and deleted under preconditions.
import * as k8s from '@kubernetes/client-node';
import { createClient } from '../../shared/k8s/client.js';
import type { RequestObserver } from '../../shared/k8s/observe.js';
import { serviceEvent, type EventNote, type InvolvedService } from '../../shared/k8s/service-events.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, type RouteIngress, type RouteKeys, type RouteService } from './core/model.js';
import { isManaged, routeIngress, routeService } from './views.js';

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
  /** One Service, as the API server has it now; undefined when it does not exist. */
  getService(namespace: string, name: string): Promise<RouteService | undefined>;
  /**
   * One Ingress by name, labelled or not; undefined when none has the name. One without
   * baton's label reads with no owner, so the planner treats it as someone else's (as a
   * full pass, which lists only labelled ones, does).
   */
  readIngress(namespace: string, name: string): Promise<RouteIngress | undefined>;
  /** undefined when no Ingress has that name. */
  getIngress(namespace: string, name: string): Promise<IngressHolder | undefined>;
  /** Server-side apply; with `resourceVersion`, only onto that version (409 otherwise). */
  applyIngress(body: k8s.V1Ingress, resourceVersion?: string): Promise<RouteIngress>;
  /** Deletes exactly the Ingress that was read: 409 if it changed, 404 if gone. */
  deleteIngress(ingress: Pick<RouteIngress, 'namespace' | 'name' | 'uid' | 'resourceVersion'>): Promise<void>;
  // A plain function (no `this`): the reporter is handed it on its own.
  readonly recordEvent: (service: InvolvedService, note: EventNote) => Promise<void>;
  readonly requestCount: number;
}

/**
 * Items per list request. A page is parsed and reduced to the routing model before the
 * next is asked for, so a pass never holds more than one page of whole API objects;
 * 500 is what kubectl and client-go's pager use.
 */
export const PAGE_SIZE = 500;

interface Page<T> {
  readonly items: T[];
  readonly metadata?: { readonly _continue?: string | undefined } | undefined;
}

/**
 * Follows `continue` tokens to the end. A token that expired (410 Gone: the pages would
 * no longer be one consistent snapshot) restarts the list from the top, once.
 */
export async function listAll<T, R>(page: (token: string | undefined) => Promise<Page<T>>, map: (item: T) => R): Promise<R[]> {
  for (let attempt = 0; ; attempt++) {
    const out: R[] = [];
    let token: string | undefined;
    try {
      do {
        const result = await page(token);
        for (const item of result.items) out.push(map(item));
        token = result.metadata?._continue || undefined;
      } while (token !== undefined);
      return out;
    } catch (error) {
      if (attempt === 0 && token !== undefined && error instanceof k8s.ApiException && error.code === 410) continue;
      throw error;
    }
  }
}

export async function connectRoutes(options: { kubeConfig: k8s.KubeConfig; timeoutMs: number; component: string; keys: RouteKeys; pageSize?: number; onRequest?: RequestObserver | undefined }): Promise<RoutesApi> {
  const client = await createClient(options);
  const { base, call } = client;
  const apply = client.withContentType(k8s.PatchStrategy.ServerSideApply);
  const core = options.kubeConfig.makeApiClient(k8s.CoreV1Api);
  const networking = options.kubeConfig.makeApiClient(k8s.NetworkingV1Api);
  const managed = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`;
  const limit = options.pageSize ?? PAGE_SIZE;
  const toService = (service: k8s.V1Service): RouteService => routeService(service, options.keys);
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
          () => listAll((token) => core.listServiceForAllNamespaces({ limit, _continue: token }, base), toService),
          (namespace) => listAll((token) => core.listNamespacedService({ namespace, limit, _continue: token }, base), toService),
        ),
      ),
    listIngresses: (namespaces) =>
      call('list ingresses', () =>
        inScope(
          namespaces,
          () => listAll((token) => networking.listIngressForAllNamespaces({ labelSelector: managed, limit, _continue: token }, base), routeIngress),
          (namespace) => listAll((token) => networking.listNamespacedIngress({ namespace, labelSelector: managed, limit, _continue: token }, base), routeIngress),
        ),
      ),
    getService: (namespace, name) =>
      call(`get service ${namespace}/${name}`, async () => {
        try {
          return toService(await core.readNamespacedService({ namespace, name }, base));
        } catch (error) {
          if (error instanceof k8s.ApiException && error.code === 404) return undefined;
          throw error;
        }
      }),
    readIngress: (namespace, name) =>
      call(`get ingress ${namespace}/${name}`, async () => {
        try {
          const raw = await networking.readNamespacedIngress({ namespace, name }, base);
          const found = routeIngress(raw);
          return isManaged(raw.metadata?.labels) ? found : { ...found, ownerUid: undefined };
        } catch (error) {
          if (error instanceof k8s.ApiException && error.code === 404) return undefined;
          throw error;
        }
      }),
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
        return routeIngress(written);
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
