// Event in, Service(s) to look at out. An event is a hint from whoever could reach the
// function: its body may say where to look (namespace, name, the labels a pod claims to
// have), and nothing more. Every decision, every write and every entry of the index
// rests on what the API server returned to baton — the types (Observed) hold that line —
// so a forged, stale, duplicated or reordered event can at worst cause a look.
import { SERVICE_NAME_LABEL } from '../../shared/events/objects.js';
import type { ResourceEvent, Screen } from '../../shared/events/incoming.js';
import { handled, ignored, retry, type Outcome } from '../../shared/http/outcome.js';
import type { Handler } from '../../shared/http/server.js';
import { resourceHandler } from '../../shared/http/resource-handler.js';
import { checkCompletion, isCompleted, readyPods, type CompletionResult } from './completion.js';
import { createCoalescer } from './coalesce.js';
import { type Labels, type Observed, type ServiceView } from './core/model.js';
import { MODE_VALUE } from '../../shared/keys.js';
import { hasBatonState, isOptedIn, reconcile, type ReconcileDeps, type Result } from './reconcile.js';
import { createOwnWrites, type OwnWrites } from './own-writes.js';
import { removeLeftoverLabels, type LeftoverResult } from './leftovers.js';
import { createServiceIndex, type ServiceIndex } from './service-index.js';
import type { Reporter } from './report.js';
import type { Cluster } from './cluster.js';
import type { Keys } from '../../shared/keys.js';
import type { Logger } from '../../shared/log.js';
import { NotFoundError } from '../../shared/k8s/errors.js';
import { podView, serviceView, sliceView } from './views.js';
import { batonAnnotationKeys } from './core/release.js';
import { isDirect } from './core/direct.js';
import { createCordons, type Cordons } from './cordons.js';
import { createNodeHandler } from './node-events.js';

export interface FailoverDeps extends ReconcileDeps {
  /** The opted-in Services as the API server last returned them (service-index.ts). */
  readonly index: ServiceIndex;
  /** This instance's writes, to recognise their echoes (own-writes.ts). */
  readonly ownWrites: OwnWrites;
  readonly reporter: Reporter;
  /** Empty: all namespaces. */
  readonly namespaces: readonly string[];
  /** The cordoned Nodes as the API server last said (cordons.ts); `cordoned` reads it. */
  readonly cordons: Cordons;
}

/** What the failover function is built from; the rest is derived here. */
export interface FailoverParts {
  readonly cluster: Cluster;
  readonly keys: Keys;
  readonly logger: Logger;
  readonly reporter: Reporter;
  /** Empty: all namespaces. */
  readonly namespaces: readonly string[];
  readonly conflictRetries: number;
  readonly roleLabels: boolean;
  readonly now: () => number;
  /** Told of each switch written (metrics); optional. */
  readonly onSwitch?: ReconcileDeps['onSwitch'];
}

/**
 * The one wiring of the failover function: main.ts and the unit rig both build their
 * deps here, so tests run the index and own-write recognition exactly as production does.
 */
export function createFailoverDeps(parts: FailoverParts): FailoverDeps {
  const index = createServiceIndex({ cluster: parts.cluster, keys: parts.keys, namespaces: parts.namespaces, logger: parts.logger, now: parts.now });
  const ownWrites = createOwnWrites(index);
  const cordons = createCordons();
  // Role labels of Services over the same pods agree only if each knows the others' actives.
  return { ...parts, index, ownWrites, cordons, cordoned: () => cordons.names(), peers: (namespace) => index.inNamespace(namespace) };
}

function summarize(results: ReadonlyArray<readonly [string, Result]>): Outcome {
  if (results.some(([, r]) => r.outcome === 'conflicted')) return retry(1, results.map(([s, r]) => `${s}: ${r.detail}`).join('; '));
  return handled(results.map(([s, r]) => `${s}: ${r.outcome}${r.detail ? ` (${r.detail})` : ''}`).join('; '));
}

/** How a look starts: from the index's copy (may lag), or from a read made for it. */
type Look = 'index' | 'read';

interface Looks {
  /** One coalesced look at a Service; see coalesce.ts. */
  service(deps: FailoverDeps, namespace: string, name: string, how: Look): Promise<Result>;
  /** One coalesced list of a namespace's opted-in Services into the index. */
  namespace(deps: FailoverDeps, namespace: string): Promise<void>;
  /** One coalesced check of a pod for labels no Service needs any more. */
  leftover(deps: FailoverDeps, namespace: string, pod: string): Promise<LeftoverResult>;
  /** One coalesced completion check of a Service. */
  completion(deps: FailoverDeps, namespace: string, name: string): Promise<CompletionResult>;
}

function createLooks(): Looks {
  const coalescer = createCoalescer<Look, Result>((a, b) => (a === 'read' || b === 'read' ? 'read' : 'index'));
  const service = async (deps: FailoverDeps, namespace: string, name: string, how: Look): Promise<Result> => {
    const result = await coalescer.run(`${namespace}/${name}`, how, (mode) => look(deps, namespace, name, mode));
    // Services that follow this one mirror its active. Whatever this look found (a switch
    // by this instance, or one another instance or a sweep made), they are looked at after
    // it, each reading this Service afresh; a follower cannot lead, so this stops here.
    if (result.outcome !== 'gone' && result.outcome !== 'ignored') {
      await Promise.all(deps.index.followers(namespace, name).map((f) => coalescer.run(`${namespace}/${f.name}`, 'index', (mode) => look(deps, namespace, f.name, mode))));
    }
    return result;
  };
  // Everything else an event can set off is coalesced the same way, per object, so that
  // a flood of identical events (forged or not) costs at most two runs of each.
  const lists = createCoalescer<true, void>(() => true);
  const leftovers = createCoalescer<true, LeftoverResult>(() => true);
  const completions = createCoalescer<true, CompletionResult>(() => true);
  return {
    service,
    namespace: async (deps, namespace) => {
      await lists.run(namespace, true, async () => {
        for (const s of await deps.cluster.listServices(`${deps.keys.mode}=${MODE_VALUE}`, namespace)) deps.index.observe(s);
      });
    },
    leftover: (deps, namespace, pod) => leftovers.run(`${namespace}/${pod}`, true, () => removeLeftoverLabels(deps.cluster, namespace, pod, deps.keys)),
    completion: (deps, namespace, name) =>
      completions.run(`${namespace}/${name}`, true, async () => {
        const own = deps.ownWrites.ownCopy(namespace, name);
        return checkCompletion(deps, { namespace, name }, own);
      }),
  };
}

async function look(deps: FailoverDeps, namespace: string, name: string, how: Look): Promise<Result> {
  const gone: Result = { outcome: 'gone', detail: 'service no longer exists' };
  let basis: Observed<ServiceView> | undefined;
  if (how === 'index') basis = deps.index.get(namespace, name);
  if (basis === undefined) {
    try {
      basis = await deps.cluster.getService(namespace, name);
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      deps.index.forget(namespace, name);
      return gone;
    }
    deps.index.observe(basis);
    how = 'read';
  }
  if (!isOptedIn(basis, deps.keys) && !hasBatonState(basis, deps.keys)) return { outcome: 'ignored', detail: 'not opted in' };
  return reconcile(deps, { namespace, name }, { service: basis, fresh: how === 'read' });
}

async function onService(deps: FailoverDeps, looks: Looks, event: Extract<ResourceEvent, { kind: 'Service' }>): Promise<Outcome> {
  const { namespace, name, resourceVersion } = event.object.metadata;
  if (event.action !== 'delete') {
    // The echo of this instance's own write: the state a decision on a fresh read of the
    // pods produced. Pod changes since that read arrive as pod events of their own. An
    // event that merely claims that version is answered the same way, and loses nothing:
    // a genuine change carries a version of its own.
    await deps.ownWrites.settled(namespace, 'Service', name);
    if (deps.ownWrites.isServiceEcho(namespace, name, resourceVersion)) {
      // Nothing new about this Service, but its followers may not have caught up yet (a
      // follower write that failed is retried by redelivering this very event).
      const followers = deps.index.followers(namespace, name);
      if (followers.length === 0) return ignored('echo of baton\'s own write');
      return summarize(await Promise.all(followers.map(async (f) => [f.name, await looks.service(deps, namespace, f.name, 'index')] as const)));
    }
  }
  // A Service the index does not hold, whose event shows neither the opt-in label nor
  // anything of baton's, is left alone without a request. That spares work only: a
  // forged copy cannot hide the genuine event, which is judged on its own content.
  const claimed = serviceView(event.object);
  if (!deps.index.get(namespace, name) && !isOptedIn(claimed, deps.keys) && !mentionsBaton(claimed, deps.keys)) return ignored('service not opted in');
  // Otherwise the Service is read, whatever the event says (added, changed, deleted):
  // that read decides whether it is opted in, what it selects, and whether it exists.
  return summarize([[name, await looks.service(deps, namespace, name, 'read')]]);
}

/** Anything of baton's in a Service (its key in the selector, one of its annotations), whoever wrote it. */
function mentionsBaton(service: ServiceView, keys: FailoverDeps['keys']): boolean {
  return Object.hasOwn(service.selector, keys.podId) || batonAnnotationKeys(keys).some((k) => Object.hasOwn(service.annotations, k));
}

/** The pod ids an event claims for a pod: its uid and its id label. */
function podIds(deps: FailoverDeps, uid: string, labels: Labels): string[] {
  return [uid, labels[deps.keys.podId]].filter((id): id is string => id !== undefined && id !== '');
}

/** Where a pod event says to look: Services that select the labels it claims, or pin the id it claims. */
function servicesFor(deps: FailoverDeps, namespace: string, uid: string, labels: Labels): Array<Observed<ServiceView>> {
  const found = new Map<string, Observed<ServiceView>>();
  for (const s of [...deps.index.selecting(namespace, labels), ...deps.index.naming(namespace, podIds(deps, uid, labels))]) found.set(s.name, s);
  return [...found.values()];
}

async function onPod(deps: FailoverDeps, looks: Looks, event: Extract<ResourceEvent, { kind: 'Pod' }>): Promise<Outcome> {
  // Claims, not facts: they pick which Services to look at, and a look reads the pods.
  const claimed = podView(event.object);
  let services = servicesFor(deps, claimed.namespace, claimed.uid, claimed.labels);
  // A label write of our own that changed nothing else (own-writes.ts) needs no look at
  // all; a readiness change always gets one.
  if (event.action === 'update' && services.length > 0) {
    await deps.ownWrites.settled(claimed.namespace, 'Pod', claimed.name);
    if (deps.ownWrites.isPodEcho(claimed, services)) return ignored('echo of baton\'s own label write');
  }
  if (deps.keys.podId in claimed.labels && deps.index.naming(claimed.namespace, podIds(deps, claimed.uid, claimed.labels)).length === 0) {
    // baton labelled this pod, yet the index knows no Service that routes to it: a
    // standby, or the active of a Service whose switch this instance has not seen yet
    // (its index lags: the event went to another instance and the watch is behind).
    // One list of the namespace's opted-in Services settles it; relabelling the active
    // out of rotation must not wait for a resync.
    await looks.namespace(deps, claimed.namespace);
    services = servicesFor(deps, claimed.namespace, claimed.uid, claimed.labels);
    if (services.length === 0) return handled((await looks.leftover(deps, claimed.namespace, claimed.name)).detail);
  }
  if (services.length === 0) return ignored('no opted-in service selects this pod');
  // Services over the same pods are looked at side by side, not one after another.
  const results = await Promise.all(services.map(async (s) => [s.name, await looks.service(deps, s.namespace, s.name, 'index')] as const));
  return summarize(results);
}

async function onSlice(deps: FailoverDeps, looks: Looks, event: Extract<ResourceEvent, { kind: 'EndpointSlice' }>): Promise<Outcome> {
  const namespace = event.object.metadata.namespace;
  const name = event.object.metadata.labels[SERVICE_NAME_LABEL];
  // Only a Service the index holds (read from the API) is checked, and the check reads
  // the slices and the Service itself; this slice's body can only spare that work.
  const indexed = name ? deps.index.get(namespace, name) : undefined;
  if (!name || !indexed) return ignored('slice of a service that is not opted in');
  // Direct mode: baton's slice must match the Service's record, and no other slice may
  // route the Service. Any change to one of its slices (edited, deleted, added by
  // someone else) gets a look that reads the Service, its pods and its slices; the echo
  // of this instance's own slice write needs none.
  if (isDirect(indexed, deps.keys)) {
    const slice = event.object.metadata.name;
    if (event.action !== 'delete') {
      await deps.ownWrites.settled(namespace, 'EndpointSlice', slice);
      if (deps.ownWrites.isSliceEcho(namespace, slice, event.object.metadata.resourceVersion)) return ignored('echo of baton\'s own slice write');
    }
    return summarize([[name, await looks.service(deps, namespace, name, 'read')]]);
  }
  if (event.action === 'delete') return ignored('slice deleted');
  // Completion needs exactly one ready pod across all the Service's slices. This slice
  // alone showing more rules it out for any version of the Service; the change that
  // ends it is a change of this slice too, and brings its own event.
  const ready = readyPods([sliceView(event.object)]);
  if (ready.size > 1) return handled(`${name}: not-yet (${ready.size} ready pods in this slice)`);
  const own = deps.ownWrites.ownCopy(namespace, name);
  if (own && isCompleted(own, deps.keys)) {
    // Our own last write recorded this term complete, and the slice still shows that
    // term's pod alone: nothing new. Anything else is looked at on a fresh read.
    if (ready.size === 1 && ready.has(own.selector[deps.keys.podId] ?? '')) return handled(`${name}: already completed`);
  }
  return handled(`${name}: ${(await looks.completion(deps, namespace, name)).outcome}`);
}

/**
 * What the handler would ignore, told from the event's attributes and raw bytes before
 * its data is parsed: anything out of the configured namespaces, and pod and slice
 * events in a namespace where the index knows no opted-in Service. A pod that carries
 * baton's pod-id label is still parsed (the index may be behind: onPod lists), and so is
 * every Service event (it may be an opt-in the index has not seen).
 */
export function failoverScreen(deps: Pick<FailoverDeps, 'index' | 'keys' | 'namespaces'>): Screen {
  const podIdKey = Buffer.from(JSON.stringify(deps.keys.podId));
  const cordoned = Buffer.from('"unschedulable":true');
  const raw = (body: Uint8Array): Buffer => Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  return ({ kind, namespace, body }) => {
    // A Node matters only when it says it is cordoned (node-events.ts); heartbeats do not.
    if (kind === 'Node') return deps.index.size === 0 ? 'no opted-in service is known' : body !== undefined && raw(body).indexOf(cordoned) === -1 ? 'the node is not said to be cordoned' : undefined;
    if (namespace === undefined || namespace === '') return undefined;
    if (deps.namespaces.length > 0 && !deps.namespaces.includes(namespace)) return `namespace ${namespace} is out of scope`;
    if (kind === 'Ingress') return 'failover does not act on Ingresses';
    if (kind === 'Service' || deps.index.has(namespace)) return undefined;
    if (kind === 'EndpointSlice') return 'slice of a service that is not opted in';
    // The label key appears verbatim in any encoding of the pod the adapter sends.
    if (kind === 'Pod' && body !== undefined && raw(body).indexOf(podIdKey) === -1) return 'no opted-in service selects this pod';
    return undefined;
  };
}

export function createFailoverHandler(deps: FailoverDeps): Handler {
  return Object.assign(handle(deps), { screen: failoverScreen(deps) });
}

function handle(deps: FailoverDeps): Handler {
  const looks = createLooks();
  const onNode = createNodeHandler(deps, (namespace, name) => looks.service(deps, namespace, name, 'index'));
  return resourceHandler(deps.namespaces, async (event) => {
    switch (event.kind) {
      case 'Service':
        return await onService(deps, looks, event);
      case 'Pod':
        return await onPod(deps, looks, event);
      case 'EndpointSlice':
        return await onSlice(deps, looks, event);
      case 'Ingress':
        return ignored('failover does not act on Ingresses');
      case 'Node':
        return await onNode(event.object);
    }
  });
}
