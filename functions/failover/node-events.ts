// Node events: a hint that an active may be on a Node being cordoned. The event's body
// only decides whether to look at all (it claims `spec.unschedulable: true`); the look
// gets the Node from the API server unless this instance's watch already holds it as
// cordoned (cordons.ts), then lists the pods bound to it and looks at the opted-in
// Services that route to one of them. A forged cordon costs a get and changes nothing: the
// Node as read is schedulable, and nothing an event said is kept. An uncordon needs no
// look: a Service moved off that Node stays where it is (sticky), and a failback it may
// now allow is found at the Service's next look or sweep.
import type { Node } from '../../shared/events/objects.js';
import { handled, ignored, retry, type Outcome } from '../../shared/http/outcome.js';
import { NotFoundError } from '../../shared/k8s/errors.js';
import { createCoalescer } from './coalesce.js';
import type { Observed, PodView, ServiceView } from './core/model.js';
import type { Cordons } from './cordons.js';
import type { Cluster } from './cluster.js';
import type { Result } from './reconcile.js';
import type { ServiceIndex } from './service-index.js';

export interface NodeDeps {
  readonly cluster: Cluster;
  readonly cordons: Cordons;
  readonly index: ServiceIndex;
  /** Empty: all namespaces. */
  readonly namespaces: readonly string[];
}

/** One look at a Service (the handler's, coalesced and followed by its followers). */
export type LookAt = (namespace: string, name: string) => Promise<Result>;

export type NodeHandler = (node: Node) => Promise<Outcome>;

export function createNodeHandler(deps: NodeDeps, lookAt: LookAt): NodeHandler {
  // Per Node, like every other look: a flood of events about one Node costs at most two runs.
  const coalescer = createCoalescer<true, Outcome>(() => true);
  return async (node) => {
    if (node.spec?.unschedulable !== true) return ignored('the node is not said to be cordoned');
    if (deps.index.size === 0) return ignored('no opted-in service is known');
    const name = node.metadata.name;
    return coalescer.run(name, true, () => look(deps, name, lookAt));
  };
}

async function look(deps: NodeDeps, name: string, lookAt: LookAt): Promise<Outcome> {
  if (!deps.cordons.has(name)) {
    let node;
    try {
      node = await deps.cluster.getNode(name);
    } catch (error) {
      if (error instanceof NotFoundError) return ignored(`no node ${name}`);
      throw error;
    }
    deps.cordons.observe(node);
    if (!node.unschedulable) return ignored(`node ${name} is not cordoned`);
  }
  const pods = await podsOn(deps, name);
  const services = new Map<string, Observed<ServiceView>>();
  for (const pod of pods) for (const s of deps.index.naming(pod.namespace, [pod.uid])) services.set(`${s.namespace}/${s.name}`, s);
  if (services.size === 0) return handled(`node ${name} is cordoned; no opted-in service routes to a pod on it`);
  const results = await Promise.all([...services.values()].map(async (s) => [`${s.namespace}/${s.name}`, await lookAt(s.namespace, s.name)] as const));
  const detail = `node ${name} is cordoned; ${results.map(([s, r]) => `${s}: ${r.outcome} (${r.detail})`).join('; ')}`;
  // A lost race is answered as for any event: redelivery looks again.
  return results.some(([, r]) => r.outcome === 'conflicted') ? retry(1, detail) : handled(detail);
}

/** The pods bound to the Node, in the namespaces where the index holds an opted-in Service (or in all). */
async function podsOn(deps: NodeDeps, node: string): Promise<PodView[]> {
  if (deps.namespaces.length === 0) return deps.cluster.listPodsOnNode(node);
  const lists = await Promise.all(deps.namespaces.filter((ns) => deps.index.has(ns)).map((ns) => deps.cluster.listPodsOnNode(node, ns)));
  return lists.flat();
}
