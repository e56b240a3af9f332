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
import { isDirect } from './direct.js';

export type FenceStep =
  | { readonly kind: 'none' }
  /** The mark stays but no eviction is due: only remove it. */
  | { readonly kind: 'clear'; readonly uid: string | undefined; readonly why: string }
  | { readonly kind: 'evict'; readonly uid: string; readonly term: number };

export function fenceStep(service: ServiceView, keys: Keys): FenceStep {
  if (annotation(service.annotations, keys.fencePending) === undefined) return { kind: 'none' };
  const record = readRecord(service, keys);
  // Not baton's record (a copy, or an opted-out Service): release removes the mark.
  if (!record.optedIn || record.recordOf !== 'this') return { kind: 'none' };
  const uid = record.fencePending;
  if (uid === undefined) return { kind: 'clear', uid, why: 'the mark is not a pod uid' };
  if (record.term === undefined || !record.completed) return { kind: 'none' };
  // Selector mode routes to the pod-id in the selector; direct mode to the record's pod.
  const active = isDirect(service, keys) ? record.activeUid : annotation(service.selector, keys.podId);
  if (uid === active) return { kind: 'clear', uid, why: 'the pod is the active one' };
  const settings = readSettings(service, keys);
  if (!settings.ok || settings.settings.fence !== 'evict') return { kind: 'clear', uid, why: 'fencing is off' };
  return { kind: 'evict', uid, term: record.term };
}
