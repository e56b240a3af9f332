// After the faults stop, everything must converge and every decision must be on record.
// Judged from the last action on, while held and delayed events still trickle in and
// re-created pods and the adapter come back: all of that is part of what must settle.
import type * as k8s from '@kubernetes/client-node';
import { keysFor } from '../../shared/keys.js';
import { readRecord } from '../../shared/record.js';
import { isHealthy } from './actions.js';
import { checkAudit, type AuditCheck } from './audit.js';
import type { Rig } from './rig.js';
import { MODE, POD_ID, TERM, type Layout } from './script.js';

export interface Convergence {
  /** Services already converged at the first check after the faults stopped. */
  readonly convergedAtStop: number;
  readonly worstConvergenceMs: number;
  readonly worstConvergenceService: string;
  readonly unconverged: readonly string[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const SETTLE_MS = 1_500;

/**
 * Converged: a Service with a healthy pod routes to exactly one of them, the one its
 * selector pins; one without routes to none. Each must have stayed so for SETTLE_MS,
 * after the relay drained and `background` settled.
 */
export async function awaitConvergence(rig: Rig, ns: string, layout: readonly Layout[], background: ReadonlyArray<Promise<void>>, timeoutMs: number): Promise<Convergence> {
  const quiet = Date.now();
  let drained = false;
  const draining = rig.relay.drain(30_000).then(() => void (drained = true));
  draining.catch(() => undefined);
  let settled = false;
  const finishing = Promise.all(background).then(() => void (settled = true));
  finishing.catch(() => undefined);
  const convergedSince = new Map<string, number>();
  let convergedAtStop = -1;
  const explain = new Map<string, string>();
  for (;;) {
    const now = Date.now();
    const [pods, services] = await Promise.all([rig.core.listNamespacedPod({ namespace: ns }), rig.core.listNamespacedService({ namespace: ns })]).catch(() => [undefined, undefined] as const);
    if (pods && services) {
      for (const s of layout) {
        const problem = judge(rig, s.name, services.items, pods.items);
        if (problem === undefined) {
          if (!convergedSince.has(s.name)) convergedSince.set(s.name, now);
          explain.delete(s.name);
        } else {
          convergedSince.delete(s.name);
          explain.set(s.name, problem);
        }
      }
      if (convergedAtStop < 0) convergedAtStop = convergedSince.size;
      const all = layout.every((s) => convergedSince.has(s.name));
      if (drained && settled && all && Math.max(...[...convergedSince.values()]) <= now - SETTLE_MS) break;
    }
    if (now - quiet > timeoutMs) break;
    await sleep(200);
  }
  await draining;
  await finishing;
  let worstConvergenceMs = 0;
  let worstConvergenceService = '-';
  for (const [name, since] of convergedSince) {
    if (since - quiet > worstConvergenceMs) {
      worstConvergenceMs = since - quiet;
      worstConvergenceService = name;
    }
  }
  const unconverged = layout.filter((s) => !convergedSince.has(s.name)).map((s) => explain.get(s.name) ?? s.name);
  return { convergedAtStop, worstConvergenceMs, worstConvergenceService, unconverged };
}

/** undefined when the Service is converged; otherwise what it looks like. */
function judge(rig: Rig, name: string, services: readonly k8s.V1Service[], pods: readonly k8s.V1Pod[]): string | undefined {
  const svc = services.find((x) => x.metadata?.name === name);
  const healthy = pods.filter((p) => p.metadata?.labels?.app === name && isHealthy(p));
  // Selector mode routes by the pod-id in the selector; direct mode by the record.
  const selected = svc?.spec?.selector?.[POD_ID] ?? (svc?.metadata?.annotations?.['baton.dev/pods'] !== undefined ? svc.metadata.annotations['baton.dev/active-uid'] : undefined);
  const ready = rig.watcher.ready(name);
  const ok = healthy.length === 0 ? ready.length === 0 : ready.length === 1 && ready[0]!.uid === selected && healthy.some((p) => p.metadata?.uid === selected);
  return ok ? undefined : `${name}: ready [${ready.map((e) => e.pod).join(',')}], selector pod-id ${selected ?? '-'}, healthy [${healthy.map((p) => p.metadata?.name).join(',')}]`;
}

export interface AuditOutcome {
  readonly audit: AuditCheck;
  /**
   * Lost audit events whose switching PATCH was applied while the proxy cut its answer
   * (the function saw a failure, re-read, found the switch done and stayed quiet).
   */
  readonly lostAfterLostResponse: readonly string[];
}

/** Evidence is sent after each write, so the last events get up to 10 s to arrive. */
export async function awaitAudit(rig: Rig, ns: string): Promise<AuditOutcome> {
  const finalTerms = async (): Promise<Array<{ name: string; uid: string; term: number }>> =>
    (await rig.core.listNamespacedService({ namespace: ns })).items
      .filter((s) => s.metadata?.labels?.[MODE] === 'active-standby')
      .map((s) => ({ name: s.metadata!.name!, uid: s.metadata!.uid!, term: readRecord(s.metadata, keysFor('baton.dev')).term ?? 0 }));
  const received = (): Array<{ id: string; type: string }> => rig.sink.events.map((e) => ({ id: e.id, type: e.type }));
  let audit = checkAudit(await finalTerms(), received());
  const deadline = Date.now() + 10_000;
  while (audit.lost.length > 0 && Date.now() < deadline) {
    await sleep(500);
    audit = checkAudit(await finalTerms(), received());
  }
  const lostAfterLostResponse = audit.lost.filter((entry) => {
    const [name, term] = entry.split('#');
    return rig.proxy.lostResponses.some((r) => r.method === 'PATCH' && r.status < 300 && r.path.endsWith(`/services/${name}`) && r.body.includes(`"${TERM}":"${term}"`));
  });
  return { audit, lostAfterLostResponse };
}
