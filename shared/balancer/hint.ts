// Failover hints: baton's promoted/switchover events tell the balancer which pod is the
// active one before (or while) the EndpointSlices catch up. Pure: the caller passes
// `now`.
//
// The EndpointSlices stay the truth. A hint can only narrow the slices' ready endpoints
// to the promoted pod; it never adds an address the slices do not list, so a late or
// forged event cannot send traffic to a pod the cluster has removed.
import type { Endpoint, PodRef } from './model.js';

export interface HintInput {
  readonly serviceUid: string;
  readonly term: number;
  readonly to: PodRef;
}

export interface LiveHint {
  readonly active: PodRef;
  readonly receivedAt: number;
  /** The slices have shown the promoted pod ready at least once. */
  readonly confirmed: boolean;
}

export interface HintState {
  readonly serviceUid: string | undefined;
  /** Highest term applied for this Service uid; older and equal terms are ignored. */
  readonly term: number;
  readonly live: LiveHint | undefined;
}

export const NO_HINT: HintState = { serviceUid: undefined, term: 0, live: undefined };

export type HintOutcome =
  | { readonly applied: true; readonly state: HintState }
  | { readonly applied: false; readonly reason: 'other-service' | 'not-synced' | 'stale-term' | 'duplicate-term'; readonly state: HintState };

/** `knownServiceUid`: the uid of the Service the balancer follows, once it has read it. */
export function acceptHint(state: HintState, input: HintInput, knownServiceUid: string | undefined, now: number): HintOutcome {
  if (knownServiceUid === undefined) return { applied: false, reason: 'not-synced', state };
  // A Service deleted and created again under the same name starts again at term 1.
  if (input.serviceUid !== knownServiceUid) return { applied: false, reason: 'other-service', state };
  const current = state.serviceUid === knownServiceUid ? state : { ...NO_HINT, serviceUid: knownServiceUid };
  if (input.term < current.term) return { applied: false, reason: 'stale-term', state: current };
  // baton re-sends a term's event under the same id; the copy must not restart the clock.
  if (input.term === current.term) return { applied: false, reason: 'duplicate-term', state: current };
  return { applied: true, state: { serviceUid: knownServiceUid, term: input.term, live: { active: input.to, receivedAt: now, confirmed: false } } };
}

/** The Service's uid changed or it vanished: hints about the old one mean nothing. */
export function forServiceUid(state: HintState, serviceUid: string | undefined): HintState {
  return state.serviceUid === serviceUid ? state : { ...NO_HINT, serviceUid };
}

export interface Narrowed {
  readonly endpoints: readonly Endpoint[];
  readonly state: HintState;
  /** Set while the hint holds back every endpoint because its pod is not in the slices yet. */
  readonly awaiting: PodRef | undefined;
  /** When an unconfirmed hint expires, so the caller can look again then. */
  readonly expiresAt: number | undefined;
}

/**
 * Applies the live hint to the slices' ready endpoints.
 *
 * - The promoted pod is among them: only its endpoints are used (also covers the moment
 *   when a multi-slice update shows old and new active at once).
 * - It is not, and the hint was confirmed before: the slices have moved on since (a
 *   later failover whose event has not arrived); the hint retires, slices rule.
 * - It is not, and the hint is unconfirmed: nothing is used until it shows or
 *   `timeoutMs` passes, because every other endpoint is one baton has moved away from.
 *   A lost or bogus event therefore costs at most `timeoutMs` of no endpoints.
 */
export function narrow(ready: readonly Endpoint[], state: HintState, now: number, timeoutMs: number): Narrowed {
  const live = state.live;
  if (!live) return { endpoints: ready, state, awaiting: undefined, expiresAt: undefined };
  const mine = ready.filter((e) => e.pod?.uid === live.active.uid);
  if (mine.length > 0) {
    const confirmed = live.confirmed ? state : { ...state, live: { ...live, confirmed: true } };
    return { endpoints: mine, state: confirmed, awaiting: undefined, expiresAt: undefined };
  }
  const retired: HintState = { ...state, live: undefined };
  if (live.confirmed) return { endpoints: ready, state: retired, awaiting: undefined, expiresAt: undefined };
  const expiresAt = live.receivedAt + timeoutMs;
  if (now >= expiresAt) return { endpoints: ready, state: retired, awaiting: undefined, expiresAt: undefined };
  return { endpoints: [], state, awaiting: live.active, expiresAt };
}
