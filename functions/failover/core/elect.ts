import { isHealthy } from './health.js';
import type { PodView } from './model.js';
import type { Keys } from '../../../shared/keys.js';
import { readPriority } from './settings.js';

// Plain code-unit comparison: localeCompare depends on the runtime's ICU data, and
// two replicas of the function must never disagree about who wins.
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareReadySince(a: number | undefined, b: number | undefined): number {
  if (a === b) return 0;
  if (a === undefined) return 1;
  if (b === undefined) return -1;
  return a - b;
}

/** Negative when `a` is preferred over `b`. Total on (name, uid), so order of input never matters. */
export function comparePreference(a: PodView, b: PodView, keys: Keys): number {
  return (
    readPriority(b, keys).priority - readPriority(a, keys).priority ||
    compareReadySince(a.readySince, b.readySince) ||
    a.createdAt - b.createdAt ||
    compareText(a.name, b.name) ||
    compareText(a.uid, b.uid)
  );
}

/** The healthy pods among `pods`, most preferred first. */
export function rank(pods: readonly PodView[], keys: Keys): PodView[] {
  return pods.filter(isHealthy).sort((a, b) => comparePreference(a, b, keys));
}

export function best(pods: readonly PodView[], keys: Keys): PodView | undefined {
  return rank(pods, keys)[0];
}
