// Planned maintenance: a Node marked unschedulable (`kubectl cordon`, the first step of
// `kubectl drain`) is about to lose its pods. An active there is moved, while it is still
// healthy, to a healthy candidate on a schedulable Node, as a planned switch (demote hook
// first); and no election chooses a pod on a cordoned Node while a healthy one elsewhere
// exists. Which Nodes are cordoned is what the API server said (a list or a watch of
// Nodes, or a get); the shell hands it in, never an event's claim.
import { isHealthy } from './health.js';
import type { PodView } from './model.js';

/** The pod runs on a Node in `cordoned` (by spec.nodeName; a pod not yet bound runs nowhere). */
export function onCordonedNode(pod: PodView, cordoned: ReadonlySet<string>): boolean {
  return pod.nodeName !== undefined && pod.nodeName !== '' && cordoned.has(pod.nodeName);
}

/**
 * The pods an election may choose, as far as cordons go: those on schedulable Nodes when
 * any of them is healthy, or else all of them. A pod on a cordoned Node is still better
 * than no pod at all: it serves until it is drained, and is moved away from as soon as a
 * healthy candidate on a schedulable Node appears.
 */
export function preferSchedulable(pods: readonly PodView[], cordoned: ReadonlySet<string>): readonly PodView[] {
  if (cordoned.size === 0) return pods;
  const elsewhere = pods.filter((p) => !onCordonedNode(p, cordoned));
  return elsewhere.some(isHealthy) ? elsewhere : pods;
}
