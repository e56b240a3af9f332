import { matchesSelector } from './health.js';
import { type Labels, type Plan, type PodView, type ServiceView } from './model.js';
import { MODE_VALUE, type Keys } from '../../../shared/keys.js';
import { releaseWrites } from './pod-labels.js';
import { annotation, ownsRecord, savedSelector, userSelector, withoutKey } from './settings.js';

/** Annotations baton writes itself; a user's switchover request is cleared along with them. */
export function batonAnnotationKeys(keys: Keys): string[] {
  return [
    keys.originalSelector,
    keys.activePod,
    keys.activeUid,
    keys.term,
    keys.switchedAt,
    keys.reason,
    keys.completedTerm,
    keys.unavailableTerm,
    keys.promotedTerm,
    keys.demoteFailedAt,
    keys.fencePending,
    keys.recordOf,
    keys.endpointSlice,
    keys.switchoverTo,
  ];
}

/**
 * True when some Service other than `except` still needs the pod's baton labels: its
 * selector names the pod's id, or it is opted in and selects the pod (its own reconcile
 * owns the labels then). Removing them would cut that Service's traffic.
 */
export function labelsStillNeeded(pod: PodView, services: readonly ServiceView[], keys: Keys, except?: { readonly namespace: string; readonly name: string }): boolean {
  const id = annotation(pod.labels, keys.podId);
  return services.some((s) => {
    if (s.namespace !== pod.namespace || (except && s.name === except.name && s.namespace === except.namespace)) return false;
    if (id !== undefined && annotation(s.selector, keys.podId) === id) return true;
    if (annotation(s.labels, keys.mode) !== MODE_VALUE) return false;
    const selector = userSelector(s, keys);
    return selector.ok && matchesSelector(pod.labels, selector.selector);
  });
}

// A pending switchover request alone is the user's own annotation, not a change baton
// made, so it does not by itself make a Service need releasing.
function carriesBatonChanges(service: ServiceView, keys: Keys): boolean {
  if (Object.hasOwn(service.selector, keys.podId)) return true;
  return batonAnnotationKeys(keys)
    .filter((key) => key !== keys.switchoverTo)
    .some((key) => Object.hasOwn(service.annotations, key));
}

/**
 * The selector to hand back. The live one (minus baton's key) is what the user last
 * touched; the saved copy only fills in when nothing of the user's is left live.
 */
function releasedSelector(service: ServiceView, keys: Keys): Labels {
  const current = withoutKey(service.selector, keys.podId);
  if (Object.keys(current).length > 0) return current;
  const saved = savedSelector(service, keys);
  return saved.kind === 'valid' ? saved.selector : current;
}

/** 'release' for a Service that opted out but still carries baton's changes, else 'ignore'. */
export function releaseOrIgnore(service: ServiceView, pods: readonly PodView[], keys: Keys): Plan {
  if (!carriesBatonChanges(service, keys)) {
    return { kind: 'ignore', why: `Service is not labelled ${keys.mode}=${MODE_VALUE}` };
  }
  // Only what baton itself wrote on this Service is undone. A record under another uid
  // was copied here from some other Service; acting on it would rewrite a Service that
  // never opted in.
  if (!ownsRecord(service, keys)) {
    return { kind: 'ignore', why: `Service is not labelled ${keys.mode}=${MODE_VALUE}, and the baton record it carries was not written on it` };
  }
  const selector = releasedSelector(service, keys);
  const annotations: Record<string, null> = {};
  for (const key of batonAnnotationKeys(keys)) {
    if (Object.hasOwn(service.annotations, key)) annotations[key] = null;
  }
  // Only the Service's own pods are unlabelled: a pod elsewhere carrying baton's
  // labels belongs to another managed Service, and stripping its id would cut that
  // Service's traffic.
  const ownPods = pods.filter(
    (pod) => pod.namespace === service.namespace && matchesSelector(pod.labels, selector),
  );
  return { kind: 'release', service: { selector, annotations }, podWrites: releaseWrites(ownPods, keys) };
}
