// The chaos driver. It builds a namespace of opted-in Services, runs baton the way a
// cluster would (rig.ts), then plays a seeded script of actions (script.ts, actions.ts):
// readiness flips, pod deletions and re-creations, manual switchovers, one
// kube-apiserver restart and one adapter restart. An independent watcher judges the
// result (invariant.ts), then convergence and the audit record are checked (converge.ts).
import { waitFor } from '../../plane/wait.js';
import { createActor, createPod } from './actions.js';
import type { ApiFaults } from './apiproxy.js';
import type { Cleanup } from './cleanup.js';
import { awaitAudit, awaitConvergence } from './converge.js';
import type { RelayFaults } from './relay.js';
import { dark, type ScenarioReport } from './report.js';
import { startRig, type Rig } from './rig.js';
import { MODE, plan, POD_ID, TERM, type Layout } from './script.js';

export interface ScenarioOptions {
  readonly seed: number;
  readonly steps: number;
  /** Opted-in Services (≥ 20 for the issue's figures). */
  readonly services: number;
  /** Failover function instances behind the relay (≥ 4). */
  readonly instances: number;
  /** Created by the caller; everything the run makes lives here. */
  readonly namespace: string;
  /** Mean pause between actions. */
  readonly meanGapMs?: number;
  /** Wall-clock budget for the action phase; stops early when spent. */
  readonly actionBudgetMs?: number;
  readonly relayFaults?: Partial<RelayFaults>;
  readonly apiFaults?: Partial<ApiFaults>;
  readonly apiTimeoutMs?: number;
  readonly resyncIntervalMs?: number;
  readonly apiserverRestart?: boolean;
  readonly adapterRestart?: boolean;
  readonly adapterDownMs?: number;
  readonly convergeTimeoutMs?: number;
  /** Every n-th Service (the 2nd, 4th, … for 2) in direct mode; undefined: none. */
  readonly directEvery?: number;
  readonly log?: (line: string) => void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Zero-window opt-in (placeholder selector first), so the invariant holds from creation.
 * A Service in direct mode has no selector: it routes to nothing until baton writes its slice.
 */
async function adoptAll(rig: Rig, ns: string, layout: readonly Layout[], directEvery: number | undefined): Promise<void> {
  for (const [i, s] of layout.entries()) {
    rig.watcher.guard(s.name);
    const direct = directEvery !== undefined && (i + 1) % directEvery === 0;
    const ports = [{ name: 'http', port: 80, targetPort: 8080 }];
    await rig.core.createNamespacedService({
      namespace: ns,
      body: direct
        ? { metadata: { name: s.name, labels: { [MODE]: 'active-standby' }, annotations: { 'baton.dev/pods': `app=${s.name}` } }, spec: { ports } }
        : { metadata: { name: s.name, labels: { [MODE]: 'active-standby' } }, spec: { selector: { app: s.name, [POD_ID]: 'none' }, ports } },
    });
  }
  for (const s of layout) {
    if (s.workload === 'deployment') {
      await rig.apps.createNamespacedDeployment({
        namespace: ns,
        body: {
          metadata: { name: s.name },
          spec: { replicas: s.replicas, selector: { matchLabels: { app: s.name } }, template: { metadata: { labels: { app: s.name } }, spec: { containers: [{ name: 'app', image: 'example.com/app:1', ports: [{ containerPort: 8080 }] }] } } },
        },
      });
    } else {
      for (let p = 0; p < s.replicas; p++) await createPod(rig.core, ns, s.name, `${s.name}-${p}`);
    }
  }
  await waitFor(
    `all ${layout.length} Services to be adopted (term 1, one ready endpoint)`,
    () => (layout.every((s) => rig.watcher.service(s.name)?.annotations[TERM] !== undefined && rig.watcher.ready(s.name).length === 1) ? true : undefined),
    { timeoutMs: 120_000, intervalMs: 200 },
  );
}

/** Everything the run starts is registered with `cleanup`; the caller runs it. */
export async function runScenario(options: ScenarioOptions, cleanup: Cleanup): Promise<ScenarioReport> {
  const log = options.log ?? (() => {});
  const ns = options.namespace;
  // Short, so that held requests really time out; not so short that a slow but
  // honest answer on a loaded machine does (see apiproxy.ts on lost answers).
  const apiTimeoutMs = options.apiTimeoutMs ?? 2_000;
  const script = plan(options.seed, options.steps, options.services, options.meanGapMs ?? 300, { apiserverRestart: options.apiserverRestart ?? true, adapterRestart: options.adapterRestart ?? true });
  log(`seed ${options.seed}: ${options.services} services${options.directEvery ? ` (every ${options.directEvery}. in direct mode)` : ''}, ${options.steps} steps, script digest ${script.digest}`);
  const rig = await startRig({ seed: options.seed, namespace: ns, instances: options.instances, apiTimeoutMs, relayFaults: options.relayFaults, apiFaults: options.apiFaults, resyncIntervalMs: options.resyncIntervalMs }, cleanup);

  const warmupStart = Date.now();
  await adoptAll(rig, ns, script.layout, options.directEvery);
  const warmupMs = Date.now() - warmupStart;
  log(`warm-up: all Services adopted in ${warmupMs} ms`);

  // The action phase, faults on.
  const actor = createActor(rig, { namespace: ns, layout: script.layout, adapterDownMs: options.adapterDownMs ?? 3_000, log });
  const actions: Record<string, number> = {};
  let skipped = 0;
  rig.relay.setFaults(true);
  rig.proxy.setFaults(true);
  const actionStart = Date.now();
  const budget = options.actionBudgetMs ?? Number.POSITIVE_INFINITY;
  let stepsRun = 0;
  for (const step of script.steps) {
    if (Date.now() - actionStart + step.gapMs > budget) break;
    await sleep(step.gapMs);
    stepsRun += 1;
    actions[step.action.kind] = (actions[step.action.kind] ?? 0) + 1;
    try {
      if (!(await actor.act(step.action))) skipped += 1;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      actor.actionErrors.push(`${step.action.kind}: ${message.slice(0, 200)}`);
      // A failed restart leaves nothing to judge: stop here rather than report noise.
      if (step.action.kind === 'restart-apiserver') throw error;
    }
    if (stepsRun % 50 === 0) log(`step ${stepsRun}/${script.steps.length}: ${rig.relay.counts.received} events relayed, ${rig.proxy.counts.requests} API requests proxied`);
  }
  const actionPhaseMs = Date.now() - actionStart;

  // Faults off: everything must converge and every decision must be on record.
  rig.proxy.setFaults(false);
  const convergence = await awaitConvergence(rig, ns, script.layout, actor.background, options.convergeTimeoutMs ?? 60_000);
  if (!rig.adapter.current) throw new Error('the adapter did not come back after its restart');
  await Promise.all(actor.timings);
  log(`converged: worst ${convergence.worstConvergenceMs} ms (${convergence.worstConvergenceService}); unconverged ${convergence.unconverged.length}`);
  const { audit, lostAfterLostResponse } = await awaitAudit(rig, ns);

  return {
    seed: options.seed,
    digest: script.digest,
    services: options.services,
    instances: options.instances,
    stepsPlanned: script.steps.length,
    stepsRun,
    actionPhaseMs,
    actions,
    actionsSkipped: skipped,
    actionErrors: actor.actionErrors,
    warmupMs,
    relay: { ...rig.relay.counts, statuses: { ...rig.relay.counts.statuses } },
    api: { ...rig.proxy.counts },
    apiserverRestarts: actor.apiserverRestarts,
    adapterRestarts: actor.adapterRestarts,
    sliceUpdates: rig.watcher.updates,
    watchReconnects: rig.watcher.reconnects,
    watchGaps: rig.watcher.gaps,
    violations: [...rig.watcher.violations()],
    failoverMs: [...actor.failovers].sort((a, b) => a - b),
    ...dark(rig.watcher.darkWindows()),
    failoversStuck: actor.stuck(),
    ...convergence,
    audit,
    lostAfterLostResponse,
    auditReceived: rig.sink.events.length,
    instancesCrashed: rig.functions.filter((i) => i.process.exitCode !== null).length,
  };
}
