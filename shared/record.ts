// baton's record on a Service: the annotations its decisions write (term, active pod,
// switch time, completion and unavailability marks, whose record it is, the user's
// own selector). Failover, resync, the CLI and the balancer library all read it, and
// they must agree on what a value means, so it is parsed here once and only here. Pure.
//
// Anyone who may edit the Service can write anything into these annotations, so every
// field is read defensively: a value baton would not have written reads as absent (or,
// for the saved selector, as invalid with a reason), never as something close to it.
import { z } from 'zod';
import { transitionReasonSchema, type TransitionReason } from './audit/schemas.js';
import { MODE_VALUE, type Keys, type Labels } from './keys.js';

/** The user's selector as baton saved it at adoption. */
export type RecordedSelector =
  | { readonly kind: 'absent' }
  | { readonly kind: 'valid'; readonly selector: Labels }
  | { readonly kind: 'invalid'; readonly text: string; readonly message: string };

export interface BatonRecord {
  /** Labelled `<prefix>/mode=active-standby`. */
  readonly optedIn: boolean;
  /** The current term: a positive integer, or undefined when none is recorded or it is unreadable. */
  readonly term: number | undefined;
  /** The active pod as the annotations name it (the selector is what routes). */
  readonly activePod: string | undefined;
  readonly activeUid: string | undefined;
  /** When the last switch was decided, in ms since the epoch. */
  readonly switchedAt: number | undefined;
  /** Why the last switch happened. */
  readonly reason: TransitionReason | undefined;
  /** The term whose EndpointSlices were seen to route to its pod alone. */
  readonly completedTerm: number | undefined;
  /** The term for which "no healthy candidate" was reported (0 before any switch). */
  readonly unavailableTerm: number | undefined;
  /** The term whose promote hook the active acknowledged (answered with a 2xx). */
  readonly promotedTerm: number | undefined;
  /** When a demote hook last failed under `demote-policy: abort`, in ms since the epoch. */
  readonly demoteFailedAt: number | undefined;
  /**
   * Whose record this is: written on this very Service (`record-of` names its uid), on
   * another one (a copy re-applied under another name), or not said (baton versions
   * before `record-of`, or a Service baton has not written to).
   */
  readonly recordOf: 'this' | 'other' | 'absent';
  readonly originalSelector: RecordedSelector;
  /**
   * The uids of the pods switches left, still to be fenced (`<prefix>/fence-pending`,
   * comma-separated, oldest first): a switch before the last one's fence adds to them.
   * Empty when there is no mark or nothing in it is a uid.
   */
  readonly fencePending: readonly string[];
  /**
   * Those of them whose eviction is under way (written `!<uid>` in the mark): an instance
   * claimed it with a guarded write before evicting, so no election may choose them.
   */
  readonly fenceClaimed: readonly string[];
  /** The current term is recorded as completed. */
  readonly completed: boolean;
}

/** What the record is read from: a ServiceView, or the metadata of an API object. */
export interface RecordSource {
  readonly uid?: string | undefined;
  readonly labels?: Readonly<Record<string, string>> | undefined;
  readonly annotations?: Readonly<Record<string, string>> | undefined;
}

// Terms are what baton writes with String(n): decimal digits, no sign, no leading zero,
// no exponent, at most 15 digits so that Number() is exact. "0" is a count (a mark made
// before the first switch), never a term.
const countSchema = z.string().regex(/^(0|[1-9][0-9]{0,14})$/).transform(Number);
const termSchema = countSchema.pipe(z.number().min(1));

/** A term as baton writes it; undefined for anything else ("", "01", "1e3", "-2", 16+ digits). */
export function parseTerm(text: string | undefined): number | undefined {
  const parsed = termSchema.safeParse(text);
  return parsed.success ? parsed.data : undefined;
}

/** A term mark that may be 0 (completed-term, unavailable-term). */
function parseCount(text: string | undefined): number | undefined {
  const parsed = countSchema.safeParse(text);
  return parsed.success ? parsed.data : undefined;
}

// Object uids are UUIDs; anything else in the slot is not baton's and names no pod.
const UID = /^[0-9a-z][-0-9a-z]{0,62}[0-9a-z]$/;

/**
 * Pods left by switches in a row without a completed term between them: a handful at
 * most. A longer list is not baton's, and would make one write cost as many reports.
 */
export const MAX_FENCE_PENDING = 8;

/** The mark's entries, `uid` or `!uid` (claimed), oldest first; none if any is not one. */
function parseFenceMark(text: string | undefined): { readonly uids: readonly string[]; readonly claimed: readonly string[] } {
  const none = { uids: [], claimed: [] };
  if (text === undefined) return none;
  const entries = text.split(',');
  if (entries.length > MAX_FENCE_PENDING || !entries.every((e) => UID.test(e.startsWith('!') ? e.slice(1) : e))) return none;
  const claimed = entries.filter((e) => e.startsWith('!')).map((e) => e.slice(1));
  return { uids: [...new Set(entries.map((e) => (e.startsWith('!') ? e.slice(1) : e)))], claimed: [...new Set(claimed)] };
}

/** Writes the mark back: `uids` oldest first, those in `claimed` as `!uid`; null when empty. */
export function fenceMark(uids: readonly string[], claimed: readonly string[]): string | null {
  return uids.length > 0 ? uids.map((u) => (claimed.includes(u) ? `!${u}` : u)).join(',') : null;
}

function parseTime(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? ms : undefined;
}

function parseSelector(text: string | undefined, podIdKey: string): RecordedSelector {
  if (text === undefined) return { kind: 'absent' };
  const invalid = (message: string): RecordedSelector => ({ kind: 'invalid', text, message });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return invalid('not valid JSON; expected a JSON object of string label values');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return invalid('expected a JSON object of string label values');
  const selector: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed)) {
    if (typeof v !== 'string') return invalid(`label "${k}" must have a string value`);
    // baton's own key in the saved copy would pin every future switch to one pod.
    if (k !== podIdKey) selector[k] = v;
  }
  if (Object.keys(selector).length === 0) return invalid('expected a non-empty selector');
  return { kind: 'valid', selector };
}

/** Reads baton's record from a Service. Total: any input gives a record. */
export function readRecord(service: RecordSource | undefined, keys: Keys): BatonRecord {
  const labels = service?.labels ?? {};
  const annotations = service?.annotations ?? {};
  // Plain records from the API; hasOwn keeps inherited names such as "constructor" out.
  const get = (key: string): string | undefined => (Object.hasOwn(annotations, key) ? annotations[key] : undefined);
  const nonEmpty = (key: string): string | undefined => {
    const value = get(key);
    return value === '' ? undefined : value;
  };
  const uid = service?.uid;
  const recordOf = get(keys.recordOf);
  const reason = transitionReasonSchema.safeParse(get(keys.reason));
  const term = parseTerm(get(keys.term));
  const completedTerm = parseCount(get(keys.completedTerm));
  const mark = parseFenceMark(get(keys.fencePending));
  return {
    optedIn: Object.hasOwn(labels, keys.mode) && labels[keys.mode] === MODE_VALUE,
    term,
    activePod: nonEmpty(keys.activePod),
    activeUid: nonEmpty(keys.activeUid),
    switchedAt: parseTime(get(keys.switchedAt)),
    reason: reason.success ? reason.data : undefined,
    completedTerm,
    unavailableTerm: parseCount(get(keys.unavailableTerm)),
    promotedTerm: parseTerm(get(keys.promotedTerm)),
    demoteFailedAt: parseTime(get(keys.demoteFailedAt)),
    // A Service without a uid (never read from the API) owns no record, even an empty one.
    recordOf: recordOf === undefined ? 'absent' : uid && recordOf === uid ? 'this' : 'other',
    originalSelector: parseSelector(get(keys.originalSelector), keys.podId),
    fencePending: mark.uids,
    fenceClaimed: mark.claimed,
    completed: term !== undefined && completedTerm === term,
  };
}

/** The pods this Service's own record still asks to fence; a copied record asks nothing. */
export function pendingFence(service: RecordSource | undefined, keys: Keys): { readonly uids: readonly string[]; readonly claimed: readonly string[] } {
  const record = readRecord(service, keys);
  return record.recordOf === 'this' ? { uids: record.fencePending, claimed: record.fenceClaimed } : { uids: [], claimed: [] };
}
