// Scenario 1: one Service, its active pod stops being ready, how long until the
// referee watch sees exactly one other pod ready. The same loop drives every
// approach; only what each does between the write and the referee differs.
import type { Api } from './api.js';
import { auditMark } from './audit.js';
import { exactly, exactlyOneOtherThan, type SliceWatch } from './slices.js';
import { ms, now, poll, sleep } from './util.js';

export interface Rep {
  readonly rep: number;
  readonly old: string;
  readonly next: string;
  /** Just before the status PATCH went out. */
  readonly sentAt: number;
  readonly ackAt: number;
  /** When the referee saw only the new pod ready. */
  readonly seenAt: number;
  readonly latencyMs: number;
  /** Audit log window of the failover: from the write to just before readiness is restored. */
  readonly auditFrom: number;
  readonly auditTo: number;
}

export interface SingleTarget {
  readonly label: string;
  readonly namespace: string;
  readonly service: string;
  /** Longest a correct failover may take (the loop's interval dominates its figure). */
  readonly failoverTimeoutMs: number;
  /**
   * A pause before each failure. A polling approach must meet failures at random
   * points of its period: a fixed repetition rhythm would lock onto one phase of the
   * loop and measure the same wait every time.
   */
  readonly randomDelayMs?: number;
  /** Runs before each failure, before the Service is checked: e.g. waiting for a scale to zero. */
  beforeFailure?(): Promise<void>;
  /** Waits for whatever trails a failover and must not overlap the next repetition. */
  afterFailover?(rep: Omit<Rep, 'auditTo'>): Promise<void>;
}

export interface SingleContext {
  readonly api: Api;
  readonly slices: SliceWatch;
  readonly auditLog: string;
  readonly settleMs: number;
  readonly log: (line: string) => void;
}

export async function runSingle(ctx: SingleContext, target: SingleTarget, reps: number): Promise<Rep[]> {
  const { api, slices, settleMs } = ctx;
  const { namespace, service } = target;
  const out: Rep[] = [];
  for (let rep = 1; rep <= reps; rep++) {
    if (target.randomDelayMs) await sleep(Math.random() * target.randomDelayMs);
    await target.beforeFailure?.();
    const current = await slices.until(namespace, service, 'exactly one ready pod', (r) => r.length === 1, 0, 10_000);
    const old = slices.ready(namespace, service)[0] ?? current.ready[0]!;
    const auditFrom = auditMark(ctx.auditLog);
    const sentAt = now();
    await api.setReady(namespace, old, false);
    const ackAt = now();
    const seen = await slices.until(namespace, service, `exactly one ready pod other than ${old}`, exactlyOneOtherThan(old), sentAt, target.failoverTimeoutMs);
    const next = seen.ready[0]!;
    const partial = { rep, old, next, sentAt, ackAt, seenAt: seen.at, latencyMs: seen.at - sentAt, auditFrom };
    await target.afterFailover?.(partial);
    await sleep(settleMs);
    const auditTo = auditMark(ctx.auditLog);
    out.push({ ...partial, auditTo });
    ctx.log(`  ${target.label} ${String(rep).padStart(3)}/${reps}: ${ms(partial.latencyMs).padStart(8)}  ${old} → ${next}`);

    // The broken pod recovers and becomes a standby; a sticky approach leaves the
    // traffic where it is. Confirm that before the next repetition starts.
    await api.setReady(namespace, old, true);
    await sleep(settleMs);
    await poll(`${namespace}/${service} to keep only ${next} ready after ${old} recovered (ready: [${slices.ready(namespace, service).join(', ')}])`, () => (exactly([next])(slices.ready(namespace, service)) ? true : undefined), 10_000, 10);
  }
  return out;
}
