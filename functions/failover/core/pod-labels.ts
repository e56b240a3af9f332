import type { PodLabelWrite, PodView } from './model.js';
import type { Keys } from '../../../shared/keys.js';

export const ROLE_ACTIVE = 'active';
export const ROLE_STANDBY = 'standby';

function byPodName(a: PodLabelWrite, b: PodLabelWrite): number {
  return a.pod < b.pod ? -1 : a.pod > b.pod ? 1 : 0;
}

/**
 * Label writes that bring every live candidate to "id label = own uid, role =
 * active|standby" (with `roles` off: no role label at all). Only differing labels are
 * written, so a converged world costs no API calls. Terminating pods are skipped: they
 * are about to vanish, and patching them only races the kubelet.
 */
export function roleWrites(
  candidates: readonly PodView[],
  activeUid: string | undefined,
  keys: Keys,
  alreadyWritten: readonly PodLabelWrite[] = [],
  roles = false,
  activeElsewhere: ReadonlySet<string> = new Set(),
): PodLabelWrite[] {
  const writes: PodLabelWrite[] = [];
  for (const pod of candidates) {
    if (pod.deleting) continue;
    const pending = alreadyWritten.filter((w) => w.pod === pod.name).map((w) => w.labels);
    const current = (key: string): string | null | undefined => {
      for (const labels of pending) if (Object.hasOwn(labels, key)) return labels[key];
      return Object.hasOwn(pod.labels, key) ? pod.labels[key] : undefined;
    };
    const wanted: Record<string, string | null> = {
      [keys.podId]: pod.uid,
      [keys.role]: roles ? (pod.uid === activeUid || activeElsewhere.has(pod.uid) ? ROLE_ACTIVE : ROLE_STANDBY) : null,
    };
    const labels: Record<string, string | null> = {};
    for (const [key, value] of Object.entries(wanted)) if ((current(key) ?? null) !== value) labels[key] = value;
    if (Object.keys(labels).length > 0) writes.push(pod.resourceVersion ? { pod: pod.name, labels, resourceVersion: pod.resourceVersion } : { pod: pod.name, labels });
  }
  return writes.sort(byPodName);
}

/**
 * Candidates whose id label names some other pod: a copy of a live pod's labels
 * (`kubectl debug --copy-to --keep-labels`, a template taken from a running pod). Such
 * a pod is routed to beside the pod it names; its label is set to its own uid, guarded
 * by the version that was read, which takes it out of that Service's endpoints.
 */
export function impostorWrites(candidates: readonly PodView[], keys: Keys): PodLabelWrite[] {
  return candidates
    .filter((pod) => Object.hasOwn(pod.labels, keys.podId) && pod.labels[keys.podId] !== pod.uid && pod.uid !== '')
    .map((pod) => (pod.resourceVersion ? { pod: pod.name, labels: { [keys.podId]: pod.uid }, resourceVersion: pod.resourceVersion } : { pod: pod.name, labels: { [keys.podId]: pod.uid } }))
    .sort(byPodName);
}

/** Removes baton's labels from pods that carry either of them. */
export function releaseWrites(pods: readonly PodView[], keys: Keys): PodLabelWrite[] {
  return pods
    .filter((pod) => Object.hasOwn(pod.labels, keys.podId) || Object.hasOwn(pod.labels, keys.role))
    .map((pod) => {
      const labels = { [keys.podId]: null, [keys.role]: null };
      // Guarded: a pod that changed since it was read is looked at again on its own event.
      return pod.resourceVersion ? { pod: pod.name, labels, resourceVersion: pod.resourceVersion } : { pod: pod.name, labels };
    })
    .sort(byPodName);
}
