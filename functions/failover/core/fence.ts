// What fencing asks of a Service now, from its record alone. kube-proxy steers only new
// connections, so the pod a switch left keeps serving those it holds until it goes; with
// `<prefix>/fence: evict` the switch records that pod (`<prefix>/fence-pending`), and once
// the term is completed — the new active routes alone — the pod is evicted. Waiting for
// completion keeps one ready endpoint throughout: the old pod leaves only after the new
// one took its place. Before evicting, an instance claims the pod in the mark (`!<uid>`)
// with a guarded write: an election decided on the record before the claim fails on its
// precondition, and one decided after it never chooses the pod.
import type { ServiceView } from './model.js';
import type { Keys } from '../../../shared/keys.js';
import { readRecord, type BatonRecord } from '../../../shared/record.js';
import { annotation, readSettings } from './settings.js';
import { isDirect } from './direct.js';

export type FenceStep =
  | { readonly kind: 'none' }
  /** The mark stays but no eviction is due: only remove it. */
  | { readonly kind: 'clear'; readonly why: string }
  /**
   * `claim`: pods to claim, then evict. `resume`: pods claimed already (an instance
   * stopped before it evicted them), evicted whatever changed since. `drop`: pods only
   * taken off the mark (the active; any pod not claimed yet when fencing was turned off).
   */
  | { readonly kind: 'evict'; readonly claim: readonly string[]; readonly resume: readonly string[]; readonly drop: readonly string[]; readonly term: number };

export function fenceStep(service: ServiceView, keys: Keys): FenceStep {
  if (annotation(service.annotations, keys.fencePending) === undefined) return { kind: 'none' };
  const record = readRecord(service, keys);
  // Not baton's record (a copy, or an opted-out Service): release removes the mark.
  if (!record.optedIn || record.recordOf !== 'this') return { kind: 'none' };
  const pending = record.fencePending;
  if (pending.length === 0) return { kind: 'clear', why: 'the mark is not a list of pod uids' };
  const active = routedUid(service, keys);
  const resume = record.fenceClaimed.filter((uid) => uid !== active);
  const open = pending.filter((uid) => !record.fenceClaimed.includes(uid));
  const due = dueness(record, service, keys);
  const claim = due === 'evict' ? open.filter((uid) => uid !== active) : [];
  const drop = pending.filter((uid) => uid === active || (due === 'off' && open.includes(uid)));
  if (claim.length === 0 && resume.length === 0) {
    if (drop.length === 0) return { kind: 'none' };
    if (drop.length === pending.length) return { kind: 'clear', why: due === 'off' ? 'fencing is off' : 'the pod is the active one' };
  }
  return { kind: 'evict', claim, resume, drop, term: record.term ?? 0 };
}

/** Whether the pods not claimed yet are due: after completion, with fencing on. */
function dueness(record: BatonRecord, service: ServiceView, keys: Keys): 'wait' | 'off' | 'evict' {
  // A bad annotation (this one or another) changes nothing: the mark waits until the
  // settings read again, and the reconcile reports the problem.
  const settings = readSettings(service, keys);
  if (!settings.ok) return 'wait';
  if (settings.settings.fence !== 'evict') return 'off';
  return record.term !== undefined && record.completed ? 'evict' : 'wait';
}

export type EvictionCheck = { readonly verdict: 'spared' | 'moved' } | { readonly verdict: 'evict'; readonly fresh: ServiceView };

/**
 * The last word before an eviction, on a list of the namespace's Services read just
 * before it. The mark is only a request written on a Service (anyone who may edit the
 * Service may write it), and other Services route to the same pods (a follower's
 * leader, a twin): `evict` only if this Service (`fresh`, to claim on) still asks to
 * fence this very pod and no Service names it as its active; `spared` if one does (it is
 * taken off the mark, nothing evicted); `moved` if this Service's record changed
 * meanwhile (the newer record decides).
 */
export function evictionCheck(service: { readonly namespace: string; readonly name: string }, uid: string, claimed: boolean, services: readonly ServiceView[], keys: Keys): EvictionCheck {
  const fresh = services.find((s) => s.namespace === service.namespace && s.name === service.name);
  const step = fresh === undefined ? undefined : fenceStep(fresh, keys);
  if (fresh === undefined || step?.kind !== 'evict' || !(claimed ? step.resume : step.claim).includes(uid)) return { verdict: 'moved' };
  const routed = services.some((s) => s.namespace === service.namespace && routedUid(s, keys) === uid);
  return routed ? { verdict: 'spared' } : { verdict: 'evict', fresh };
}

/** The pod a Service routes to: the pod-id in its selector, or in direct mode its record's pod. */
function routedUid(service: ServiceView, keys: Keys): string | undefined {
  return isDirect(service, keys) ? readRecord(service, keys).activeUid : annotation(service.selector, keys.podId);
}
