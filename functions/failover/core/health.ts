import type { Labels, PodView } from './model.js';

// A pod that is terminating may still report Ready for a while; sending it traffic
// would only move the outage to the moment it exits.
export function isHealthy(pod: PodView): boolean {
  return pod.phase === 'Running' && pod.ready && !pod.deleting;
}

// An empty selector would match every pod in the namespace; a Service without a
// selector is not one baton manages, so it matches nothing instead.
export function matchesSelector(labels: Labels, selector: Labels): boolean {
  const entries = Object.entries(selector);
  if (entries.length === 0) return false;
  return entries.every(([key, value]) => Object.hasOwn(labels, key) && labels[key] === value);
}
