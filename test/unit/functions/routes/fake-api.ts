// An in-memory RoutesApi for the shell's unit tests: lists, guarded applies and
// deletes, and faults injected per call.
import type { V1Ingress } from '@kubernetes/client-node';
import { ConflictError } from '../../../../shared/k8s/errors.js';
import type { RoutesApi } from '../../../../functions/routes/api.js';
import { createRouteIndex } from '../../../../functions/routes/route-index.js';
import type { RouteIngress, RouteService } from '../../../../functions/routes/core/model.js';
import type { RoutesDeps } from '../../../../functions/routes/reconcile.js';
import { createRouteReporter } from '../../../../functions/routes/report.js';
import { routeIngress } from '../../../../functions/routes/views.js';
import { POLICY_OFF } from '../../../../shared/config/host-policy.js';
import { RecordingEmitter, silentLogger } from '../failover/world.js';
import { keys } from './core/fixtures.js';

export class FakeRoutesApi implements RoutesApi {
  calls: string[] = [];
  events: string[] = [];
  /** Thrown by the next applies, one per call, before anything is stored. */
  applyFaults: Error[] = [];
  deleteFaults: Error[] = [];
  version = 100;
  constructor(
    public services: RouteService[],
    public ingresses: RouteIngress[] = [],
  ) {}
  get requestCount(): number {
    return this.calls.length;
  }
  listServices = async (): Promise<RouteService[]> => (this.calls.push('list services'), [...this.services]);
  listIngresses = async (): Promise<RouteIngress[]> => (this.calls.push('list ingresses'), [...this.ingresses]);
  getService = async (namespace: string, name: string): Promise<RouteService | undefined> => (
    this.calls.push('get service'), this.services.find((s) => s.namespace === namespace && s.name === name)
  );
  readIngress = async (namespace: string, name: string): Promise<RouteIngress | undefined> => (
    this.calls.push('get ingress'), this.ingresses.find((i) => i.namespace === namespace && i.name === name)
  );
  getIngress = async (namespace: string, name: string) => {
    this.calls.push('get ingress');
    const found = this.ingresses.find((i) => i.namespace === namespace && i.name === name);
    return found ? { managed: true, ownerUid: found.ownerUid, uid: found.uid } : undefined;
  };
  applyIngress = async (body: V1Ingress, resourceVersion?: string): Promise<RouteIngress> => {
    this.calls.push('apply ingress');
    const fault = this.applyFaults.shift();
    if (fault) throw fault;
    const existing = this.ingresses.find((i) => i.name === body.metadata!.name && i.namespace === body.metadata!.namespace);
    if (resourceVersion && existing?.resourceVersion !== resourceVersion) throw new ConflictError('changed', 409);
    const written = routeIngress({ ...body, metadata: { ...body.metadata, uid: existing?.uid ?? `ing-${this.version}`, resourceVersion: String(++this.version), creationTimestamp: new Date(existing?.createdAt ?? 1_000) } });
    this.ingresses = [...this.ingresses.filter((i) => i !== existing), written];
    return written;
  };
  deleteIngress = async (target: Pick<RouteIngress, 'namespace' | 'name' | 'uid' | 'resourceVersion'>): Promise<void> => {
    this.calls.push('delete ingress');
    const fault = this.deleteFaults.shift();
    if (fault) throw fault;
    this.ingresses = this.ingresses.filter((i) => i.uid !== target.uid);
  };
  recordEvent = async (service: { name: string }, note: { reason: string }): Promise<void> => void this.events.push(`${service.name}:${note.reason}`);
}

export function routesDeps(api: FakeRoutesApi, emitter = new RecordingEmitter()): RoutesDeps {
  const logger = silentLogger();
  return { api, keys, ingressClass: undefined, policy: POLICY_OFF, namespaces: [], index: createRouteIndex(keys), reporter: createRouteReporter({ recordEvent: api.recordEvent, emitter, logger, now: () => 1_000 }), logger, conflictRetries: 2, now: () => 1_000 };
}

