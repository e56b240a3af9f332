// What fencing asks of a Service now, from its record alone. kube-proxy steers only new
// connections, so the pod a switch left keeps serving those it holds until it goes; with
// `<prefix>/fence: evict` the switch records that pod (`<prefix>/fence-pending`), and once
// the term is completed — the new active routes alone — the pod is evicted. Waiting for
// completion keeps one ready endpoint throughout: the old pod leaves only after the new
// one took its place.
import type { ServiceView } from './model.js';
import type { Keys } from '../../../shared/keys.js';
import { readRecord } from '../../../shared/record.js';
import { annotation, readSettings } from './settings.js';

export type FenceStep =
  | { readonly kind: 'none' }
  /** The mark stays but no eviction is due: only remove it. */
  | { readonly kind: 'clear'; readonly why: string }
  /** Evict `uids`; `drop`: pods in the mark that are the active, only taken off it. */
  | { readonly kind: 'evict'; readonly uids: readonly string[]; readonly drop: readonly string[]; readonly term: number };

export function fenceStep(service: ServiceView, keys: Keys): FenceStep {
  if (annotation(service.annotations, keys.fencePending) === undefined) return { kind: 'none' };
  const record = readRecord(service, keys);
  // Not baton's record (a copy, or an opted-out Service): release removes the mark.
  if (!record.optedIn || record.recordOf !== 'this') return { kind: 'none' };
  const pending = record.fencePending;
  if (pending.length === 0) return { kind: 'clear', why: 'the mark is not a list of pod uids' };
  if (record.term === undefined || !record.completed) return { kind: 'none' };
  const active = annotation(service.selector, keys.podId);
  const uids = pending.filter((uid) => uid !== active);
  if (uids.length === 0) return { kind: 'clear', why: 'the pod is the active one' };
  // A bad annotation (this one or another) changes nothing: the mark waits until the
  // settings read again, and the reconcile reports the problem.
  const settings = readSettings(service, keys);
  if (!settings.ok) return { kind: 'none' };
  if (settings.settings.fence !== 'evict') return { kind: 'clear', why: 'fencing is off' };
  return { kind: 'evict', uids, drop: pending.filter((uid) => uid === active), term: record.term };
}

/**
 * The last word before an eviction, on a list of the namespace's Services read just
 * before it. The mark is only a request written on a Service (anyone who may edit the
 * Service may write it), and other Services route to the same pods (a follower's
 * leader, a twin): `evict` only if this Service still asks to fence this very pod and no
 * Service names it as its active; `spared` if one does (the mark is removed, nothing
 * evicted); `moved` if this Service's record changed meanwhile (the newer record decides).
 */
export function evictionCheck(service: { readonly namespace: string; readonly name: string }, uid: string, services: readonly ServiceView[], keys: Keys): 'evict' | 'spared' | 'moved' {
  const fresh = services.find((s) => s.namespace === service.namespace && s.name === service.name);
  const step = fresh === undefined ? undefined : fenceStep(fresh, keys);
  if (step?.kind !== 'evict' || !step.uids.includes(uid)) return 'moved';
  const routed = services.some((s) => s.namespace === service.namespace && annotation(s.selector, keys.podId) === uid);
  return routed ? 'spared' : 'evict';
}
