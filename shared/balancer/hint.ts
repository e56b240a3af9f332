// Failover hints: baton's promoted/switchover events tell the balancer which pod is the
// active one while the EndpointSlices catch up. Pure: the caller passes `now`.
//
// Anyone who can reach the events endpoint can send a well-formed event (the Service
// uid is no secret), so a hint is only ever an optimisation the slices would make
// anyway, and it is bounded:
//
// - It only narrows: it never adds an address the slices do not list.
// - It lasts at most `timeoutMs` from its arrival, narrowed or not. After that the
//   slices alone decide, so a hint cannot hold traffic on one pod, or hold it back,
//   for longer than that.
// - Its term must agree with the Service's own record, which the balancer reads from
//   the API server: baton writes the term and the active pod's uid on the Service
//   before it sends the event. A hint for the recorded term must name the recorded pod
//   ("verified"). A hint one term ahead (the event overtook the balancer's Service
//   watch) is "unverified": it may narrow to its pod while the slices list that pod,
//   never hold traffic back, and it is dropped as soon as the record disagrees. Any
//   other term is refused and leaves no trace, so a huge forged term locks nothing.
// - Each term hints at most once (or twice: unverified, then verified), so a replayed
//   event cannot restart the clock.
// - The term memory follows the record: a Service that is no longer opted in, or whose
//   recorded term went down (an opt-out and a new opt-in restart terms at 1), starts
//   afresh.
import { keysFor } from '../keys.js';
import { readRecord, type RecordSource } from '../record.js';
import type { Endpoint } from './model.js';
import type { PodRef } from '../audit/schemas.js';

/** What the Service itself says about baton's last decision. */
export interface ServiceRecord {
  /** Labelled for baton (`<prefix>/mode=active-standby`) and carrying a valid term. */
  readonly term: number | undefined;
  readonly activeUid: string | undefined;
}

export const RELEASED_RECORD: ServiceRecord = { term: undefined, activeUid: undefined };

/**
 * Reads the record from a Service's labels and annotations. Anything malformed reads as
 * "no term", which disables hints; so does a record copied from another Service (its
 * `record-of` names another uid). A record without `record-of` is read as it is: baton
 * versions before that annotation did not write it.
 */
export function readServiceRecord(
  metadata: RecordSource | undefined,
  prefix: string,
): ServiceRecord {
  const record = readRecord(metadata, keysFor(prefix));
  if (!record.optedIn || record.recordOf === 'other' || record.term === undefined) return RELEASED_RECORD;
  return { term: record.term, activeUid: record.activeUid };
}

export interface HintInput {
  readonly serviceUid: string;
  readonly term: number;
  readonly to: PodRef;
}

export interface LiveHint {
  readonly active: PodRef;
  readonly term: number;
  readonly receivedAt: number;
  /** The Service record names this pod for this term. Only a verified hint may hold traffic back. */
  readonly verified: boolean;
  /** The slices have listed the pod ready while the hint was live. */
  readonly seen: boolean;
}

export interface HintState {
  readonly serviceUid: string | undefined;
  /** The Service record as last read; undefined until the Service has been read. */
  readonly record: ServiceRecord | undefined;
  /** Highest term a hint was taken for since the record last started afresh; older terms are ignored. */
  readonly term: number;
  /**
   * That hint was verified (when taken, or since by the record). An unverified hint
   * leaves room for one verified hint of the same term, so a forged event one term
   * ahead cannot use up the genuine event's hint.
   */
  readonly termVerified: boolean;
  readonly live: LiveHint | undefined;
}

export const NO_HINT: HintState = { serviceUid: undefined, record: undefined, term: 0, termVerified: false, live: undefined };

export type HintRejection =
  | 'other-service'
  | 'not-synced'
  /** The Service is not opted in, or carries no valid term: baton makes no decisions for it. */
  | 'not-opted-in'
  | 'stale-term'
  /** More than one term ahead of the Service record: no genuine event can be. */
  | 'implausible-term'
  /** The recorded term names another pod. */
  | 'contradicts-service'
  | 'duplicate-term';

export type HintOutcome = { readonly applied: true; readonly state: HintState } | { readonly applied: false; readonly reason: HintRejection; readonly state: HintState };

/**
 * The balancer read its Service (list, watch event or get). `serviceUid` undefined: the
 * Service does not exist.
 */
export function observeService(state: HintState, serviceUid: string | undefined, record: ServiceRecord): HintState {
  // A Service deleted and created again under the same name starts again at term 1.
  if (serviceUid !== state.serviceUid) return { ...NO_HINT, serviceUid, record: serviceUid === undefined ? undefined : record };
  const previous = state.record;
  // Released, or terms restarted (an opt-out and opt-in the watch did not show as two steps).
  if (record.term === undefined || (previous?.term !== undefined && record.term < previous.term)) return { ...NO_HINT, serviceUid, record };
  const live = state.live;
  if (live === undefined || live.term > record.term) return { ...state, record };
  if (live.term < record.term) return { ...state, record, live: undefined };
  if (live.active.uid !== record.activeUid) return { ...state, record, live: undefined };
  return { ...state, record, termVerified: state.termVerified || live.term === state.term, live: { ...live, verified: true } };
}

export function acceptHint(state: HintState, input: HintInput, now: number): HintOutcome {
  const record = state.record;
  if (state.serviceUid === undefined || record === undefined) return { applied: false, reason: 'not-synced', state };
  if (input.serviceUid !== state.serviceUid) return { applied: false, reason: 'other-service', state };
  if (record.term === undefined) return { applied: false, reason: 'not-opted-in', state };
  if (input.term < record.term) return { applied: false, reason: 'stale-term', state };
  if (input.term > record.term + 1) return { applied: false, reason: 'implausible-term', state };
  const verified = input.term === record.term;
  if (verified && input.to.uid !== record.activeUid) return { applied: false, reason: 'contradicts-service', state };
  if (input.term < state.term) return { applied: false, reason: 'stale-term', state };
  // baton re-sends a term's event under the same id; the copy must not restart the clock.
  if (input.term === state.term && (state.termVerified || !verified)) return { applied: false, reason: 'duplicate-term', state };
  return { applied: true, state: { ...state, term: input.term, termVerified: verified, live: { active: input.to, term: input.term, receivedAt: now, verified, seen: false } } };
}

/** A released event: drop the live hint. Safe from anyone, since it only hands the decision back to the slices. */
export function dropHint(state: HintState): HintState {
  return state.live ? { ...state, live: undefined } : state;
}

export interface Narrowed {
  readonly endpoints: readonly Endpoint[];
  readonly state: HintState;
  /** Set while a verified hint holds back every endpoint because its pod is not in the slices yet. */
  readonly awaiting: PodRef | undefined;
  /** When the live hint ends, so the caller can look again then. */
  readonly expiresAt: number | undefined;
}

/**
 * Applies the live hint to the slices' ready endpoints.
 *
 * - Past `timeoutMs` from its arrival the hint retires, whatever it did: slices rule.
 * - The hinted pod is among them: only its endpoints are used (this covers the moment
 *   when a multi-slice update shows old and new active at once).
 * - It is not, and was before: the slices have moved on (a later failover whose event
 *   has not arrived); the hint retires.
 * - It is not, and the hint is verified: nothing is used until it shows or the hint
 *   retires, because every other endpoint is one baton has moved away from.
 * - It is not, and the hint is unverified: the slices' endpoints are used.
 */
export function narrow(ready: readonly Endpoint[], state: HintState, now: number, timeoutMs: number): Narrowed {
  const live = state.live;
  if (!live) return { endpoints: ready, state, awaiting: undefined, expiresAt: undefined };
  const retired: Narrowed = { endpoints: ready, state: { ...state, live: undefined }, awaiting: undefined, expiresAt: undefined };
  const expiresAt = live.receivedAt + timeoutMs;
  if (now >= expiresAt) return retired;
  const mine = ready.filter((e) => e.pod?.uid === live.active.uid);
  if (mine.length > 0) {
    const seen = live.seen ? state : { ...state, live: { ...live, seen: true } };
    return { endpoints: mine, state: seen, awaiting: undefined, expiresAt };
  }
  if (live.seen) return retired;
  if (live.verified) return { endpoints: [], state, awaiting: live.active, expiresAt };
  return { endpoints: ready, state, awaiting: undefined, expiresAt };
}
