// Deterministic ids of audit events: the same decision always gets the same id.
import { createHash } from 'node:crypto';
import type { ConfigProblem } from './schemas.js';
import { COMPLETED, CONFIG_INVALID, FENCED, HOOK, PROMOTED, RELEASED, ROUTE_APPLIED, ROUTE_CONFLICT, ROUTE_INVALID, ROUTE_REMOVED, SWITCHOVER, SWITCHOVER_REFUSED, UNAVAILABLE } from './names.js';

const FAILOVER_PREFIX = 'dev.baton.failover.';

type TermScopedType = typeof PROMOTED | typeof SWITCHOVER | typeof UNAVAILABLE | typeof COMPLETED | typeof RELEASED;

/**
 * A term alone does not name a decision: terms restart at 1 after an opt-out, and a term
 * annotation someone corrupted reads as 0. The time the Service records for the term's
 * switch (`switched-at`, ms; 0 before the first switch) does: the guarded write that
 * made the term was the only one to succeed from its basis, and a later term can only be
 * written after it.
 */
export interface TermMark {
  readonly term: number;
  readonly decidedAt: number;
}

export type AuditIdParts =
  | ({ readonly type: TermScopedType; readonly serviceUid: string } & TermMark)
  | ({
      readonly type: typeof SWITCHOVER_REFUSED;
      readonly serviceUid: string;
      readonly requested: string;
    } & TermMark)
  /** One completion can fence several pods (a switch came before the last one's fence). */
  | ({ readonly type: typeof FENCED; readonly serviceUid: string; readonly podUid: string } & TermMark)
  /**
   * A hook call of one decision: its term (the one the switch writes, or would have
   * written when a demote aborted it) and the decision's time, the hook and the pod.
   */
  | ({ readonly type: typeof HOOK; readonly serviceUid: string; readonly hook: 'promote' | 'demote'; readonly podUid: string } & TermMark)
  | { readonly type: typeof CONFIG_INVALID | typeof ROUTE_INVALID; readonly serviceUid: string; readonly problems: readonly ConfigProblem[] }
  /** Each write of an Ingress is its own event: the version it produced names it. */
  | { readonly type: typeof ROUTE_APPLIED; readonly serviceUid: string; readonly ingressResourceVersion: string }
  /** An Ingress is removed once. */
  | { readonly type: typeof ROUTE_REMOVED; readonly serviceUid: string; readonly ingressUid: string }
  | { readonly type: typeof ROUTE_CONFLICT; readonly serviceUid: string; readonly host: string; readonly path: string; readonly holderUid: string };

// Ids are derived, never random: a retried or duplicated decision re-sends the same id,
// which lets a subscriber (or the Broker's dedup) drop the copy. Released and refused
// events carry no term in their data, so the caller supplies the term they happened in.
export function auditId(parts: AuditIdParts): string {
  switch (parts.type) {
    case SWITCHOVER_REFUSED:
      return `${parts.serviceUid}.${digest16(['switchover.refused', parts.requested, parts.term, parts.decidedAt])}`;
    case CONFIG_INVALID:
      return `${parts.serviceUid}.${digest16(['config.invalid', canonicalProblems(parts.problems)])}`;
    case ROUTE_INVALID:
      return `${parts.serviceUid}.${digest16(['route.invalid', canonicalProblems(parts.problems)])}`;
    case FENCED:
      return `${parts.serviceUid}.${parts.term}-${parts.decidedAt}.fenced.${parts.podUid}`;
    case HOOK:
      return `${parts.serviceUid}.${parts.term}-${parts.decidedAt}.hook.${parts.hook}.${parts.podUid}`;
    case ROUTE_APPLIED:
      return `${parts.serviceUid}.route.applied.${parts.ingressResourceVersion}`;
    case ROUTE_REMOVED:
      return `${parts.serviceUid}.route.removed.${parts.ingressUid}`;
    case ROUTE_CONFLICT:
      return `${parts.serviceUid}.${digest16(['route.conflict', parts.host, parts.path, parts.holderUid])}`;
    default:
      return `${parts.serviceUid}.${parts.term}-${parts.decidedAt}.${parts.type.slice(FAILOVER_PREFIX.length)}`;
  }
}

// Order and repetition of problems depend on how annotations were iterated, not on
// what is wrong; neither may change the id.
function canonicalProblems(problems: readonly ConfigProblem[]): string[][] {
  const unique = new Map<string, string[]>();
  for (const p of problems) {
    const tuple = [p.key, p.value, p.message];
    unique.set(JSON.stringify(tuple), tuple);
  }
  return [...unique.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, tuple]) => tuple);
}

function digest16(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}
