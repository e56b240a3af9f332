// What the decide tests share: a summary of a plan, and the pods and settings they use.
import type { Plan, PodView, ServiceView } from '../../../../../functions/failover/core/model.js';
import { keys, NOW, pod } from './fixtures.js';

/** The parts of a plan a table row pins down; everything else has its own test below. */
export function summary(plan: Plan): Record<string, unknown> {
  switch (plan.kind) {
    case 'switch':
      return { kind: plan.kind, to: plan.to.name, reason: plan.reason, term: plan.term, from: plan.from?.name };
    case 'steady':
      return { kind: plan.kind, active: plan.active };
    case 'hold':
      return { kind: plan.kind, retryAfterMs: plan.retryAfterMs };
    case 'unavailable':
      return { kind: plan.kind, active: plan.active, term: plan.term, reports: plan.service !== undefined };
    case 'refuse-switchover':
      return { kind: plan.kind, requested: plan.requested, why: plan.why };
    case 'invalid-config':
      return { kind: plan.kind, problems: plan.problems.map((p) => `${p.key}=${p.value}`) };
    case 'release':
    case 'ignore':
      return { kind: plan.kind };
  }
}

export interface Row {
  readonly name: string;
  readonly service: ServiceView;
  readonly pods: readonly PodView[];
  readonly now?: number;
  readonly expect: Record<string, unknown>;
}

export const a = pod('a', { role: 'active' });

export const aDown = pod('a', { role: 'active', ready: false });

export const b = pod('b', { role: 'standby' });

export const bHigh = pod('b', { role: 'standby', priority: '10' });

export const ago = (ms: number): string => new Date(NOW - ms).toISOString();

export const failbackOn = { [keys.failback]: 'true' };
