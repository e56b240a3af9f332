// Event in, Service(s) to look at out. The event only says where to look: every
// decision is made by reconcile() on a fresh read, so a forged, stale, duplicated or
// reordered event can at worst cause a look, never a wrong switch.
import { SERVICE_NAME_LABEL } from '../../shared/events/objects.js';
import type { ResourceEvent, Screen } from '../../shared/events/incoming.js';
import { handled, ignored, retry, type Outcome } from '../../shared/http/outcome.js';
import type { Handler } from '../../shared/http/server.js';
import { resourceHandler } from '../../shared/http/resource-handler.js';
import { checkCompletion, isCompleted, readyPods } from '../../shared/failover/completion.js';
import { MODE_VALUE, type ServiceView } from '../../shared/failover/model.js';
import { hasBatonState, isOptedIn, reconcile, type ReconcileDeps, type Result, type WriteObserver } from '../../shared/failover/reconcile.js';
import type { InFlight, PodEchoes } from '../../shared/failover/echo.js';
import { removeLeftoverLabels } from '../../shared/failover/leftovers.js';
import type { Registry } from '../../shared/failover/registry.js';
import type { Reporter } from '../../shared/failover/report.js';
import { podView, serviceView, sliceView } from '../../shared/k8s/views.js';

/** How main.ts (and tests) tell the index and the echo memory about baton's own writes. */
export function echoObserver(registry: Registry, echoes: PodEchoes, inFlight?: InFlight): WriteObserver {
  return {
    ...(inFlight ? { writing: (namespace: string, kind: 'Service' | 'Pod', name: string, done: Promise<unknown>) => inFlight.track(namespace, kind, name, done) } : {}),
    serviceWritten: (service) => registry.wrote(service),
    podLabelled: (service, pod) => echoes.remember(pod, service),
  };
}

export interface FailoverDeps extends ReconcileDeps {
  readonly registry: Registry;
  /** This instance's guarded pod label writes; absent: no pod event counts as an echo. */
  readonly echoes?: PodEchoes;
  /** This instance's writes whose reply is not in yet. */
  readonly inFlight?: InFlight;
  readonly reporter: Reporter;
  /** Empty: all namespaces. */
  readonly namespaces: readonly string[];
}

function summarize(results: ReadonlyArray<readonly [string, Result]>): Outcome {
  if (results.some(([, r]) => r.outcome === 'conflicted')) return retry(1, results.map(([s, r]) => `${s}: ${r.detail}`).join('; '));
  return handled(results.map(([s, r]) => `${s}: ${r.outcome}${r.detail ? ` (${r.detail})` : ''}`).join('; '));
}

async function onService(deps: FailoverDeps, event: Extract<ResourceEvent, { kind: 'Service' }>): Promise<Outcome> {
  const service = serviceView(event.object);
  if (event.action === 'delete') {
    deps.registry.forget(service.namespace, service.name);
    return ignored('service deleted');
  }
  // The echo of this instance's own write: the state a decision on a fresh read of the
  // pods produced. Pod changes since that read arrive as pod events of their own.
  await deps.inFlight?.settled(service.namespace, 'Service', service.name);
  if (deps.registry.isOwnWrite(service)) return ignored('echo of baton\'s own write');
  // An event's object is as good as a read only when the index (fed by reads and
  // earlier events) already holds that very version. Anything else — a newer version,
  // a reordered older one, or a forged Service nobody has seen — is a hint, which may
  // lead to a guarded Service write but to nothing else without a read first.
  const known = deps.registry.get(service.namespace, service.name);
  const asRead = known !== undefined && known.resourceVersion === service.resourceVersion;
  deps.registry.observe(service);
  if (!isOptedIn(service, deps.keys) && !hasBatonState(service, deps.keys)) return ignored('service not opted in');
  const result = await reconcile(deps, service, { service, asRead });
  return summarize([[service.name, result]]);
}

async function onPod(deps: FailoverDeps, event: Extract<ResourceEvent, { kind: 'Pod' }>): Promise<Outcome> {
  const pod = podView(event.object);
  let services: ServiceView[] = deps.registry.selecting(pod.namespace, pod.labels);
  if (services.length === 0 && deps.keys.podId in pod.labels) {
    // baton labelled this pod, yet the index knows no Service for it: the index may be
    // behind. One list of the namespace's opted-in Services settles it.
    for (const s of await deps.cluster.listServices(`${deps.keys.mode}=${MODE_VALUE}`, pod.namespace)) deps.registry.observe(s);
    services = deps.registry.selecting(pod.namespace, pod.labels);
  }
  if (services.length === 0) {
    if (deps.keys.podId in pod.labels) return handled(await removeLeftoverLabels(deps.cluster, pod, deps.keys));
    return ignored('no opted-in service selects this pod');
  }
  // A readiness change always gets a look; a label write of our own that changed nothing
  // else (echo.ts) does not.
  if (event.action === 'update' && deps.echoes) {
    await deps.inFlight?.settled(pod.namespace, 'Pod', pod.name);
    if (deps.echoes.isEcho(pod, services)) return ignored('echo of baton\'s own label write');
  }
  const results: Array<readonly [string, Result]> = [];
  for (const s of services) results.push([s.name, await reconcile(deps, s, { service: s, asRead: false })]);
  return summarize(results);
}

async function onSlice(deps: FailoverDeps, event: Extract<ResourceEvent, { kind: 'EndpointSlice' }>): Promise<Outcome> {
  const namespace = event.object.metadata.namespace;
  const name = event.object.metadata.labels[SERVICE_NAME_LABEL];
  if (event.action === 'delete' || !name || !deps.registry.get(namespace, name)) return ignored('slice of a service that is not opted in');
  // Completion needs exactly one ready pod across all the Service's slices. This slice
  // alone showing more rules it out for any version of the Service; the change that
  // ends it is a change of this slice too, and brings its own event.
  const ready = readyPods([sliceView(event.object)]);
  if (ready.size > 1) return handled(`${name}: not-yet (${ready.size} ready pods in this slice)`);
  const own = deps.registry.ownCopy(namespace, name);
  if (own && isCompleted(own, deps.keys)) {
    // Our own last write recorded this term complete, and the slice still shows that
    // term's pod alone: nothing new. Anything else is looked at on a fresh read.
    if (ready.size === 1 && ready.has(own.selector[deps.keys.podId] ?? '')) return handled(`${name}: already completed`);
    return handled(`${name}: ${await checkCompletion(deps, { namespace, name })}`);
  }
  const state = await checkCompletion(deps, { namespace, name }, own);
  return handled(`${name}: ${state}`);
}

/**
 * What the handler would ignore, told from the event's attributes and raw bytes before
 * its data is parsed: anything out of the configured namespaces, and pod and slice
 * events in a namespace where the index knows no opted-in Service. A pod that carries
 * baton's pod-id label is still parsed (the index may be behind: onPod lists), and so is
 * every Service event (it may be an opt-in the index has not seen).
 */
export function failoverScreen(deps: Pick<FailoverDeps, 'registry' | 'keys' | 'namespaces'>): Screen {
  const podIdKey = Buffer.from(JSON.stringify(deps.keys.podId));
  return ({ kind, namespace, body }) => {
    if (namespace === undefined || namespace === '') return undefined;
    if (deps.namespaces.length > 0 && !deps.namespaces.includes(namespace)) return `namespace ${namespace} is out of scope`;
    if (kind === 'Ingress') return 'failover does not act on Ingresses';
    if (kind === 'Service' || deps.registry.has(namespace)) return undefined;
    if (kind === 'EndpointSlice') return 'slice of a service that is not opted in';
    // The label key appears verbatim in any encoding of the pod the adapter sends.
    if (kind === 'Pod' && body !== undefined && Buffer.from(body.buffer, body.byteOffset, body.byteLength).indexOf(podIdKey) === -1) return 'no opted-in service selects this pod';
    return undefined;
  };
}

export function createFailoverHandler(deps: FailoverDeps): Handler {
  return Object.assign(handle(deps), { screen: failoverScreen(deps) });
}

function handle(deps: FailoverDeps): Handler {
  return resourceHandler(deps.namespaces, async (event) => {
    switch (event.kind) {
      case 'Service':
        return await onService(deps, event);
      case 'Pod':
        return await onPod(deps, event);
      case 'EndpointSlice':
        return await onSlice(deps, event);
      case 'Ingress':
        return ignored('failover does not act on Ingresses');
    }
  });
}
