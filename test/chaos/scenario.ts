// The chaos driver. It builds a namespace of opted-in Services, runs baton the way a
// cluster would (N failover instances behind a misbehaving Broker stand-in, one resync
// instance, the real ApiServerSource adapter, every function reaching the apiserver
// through a fault-injecting proxy), then plays a seeded sequence of actions: readiness
// flips, pod deletions and re-creations, manual switchovers, one kube-apiserver restart
// and one adapter restart. An independent watcher judges the result.
//
// Replay: the action sequence is a pure function of (seed, steps, services); printing
// its digest lets two runs prove they played the same sequence. Which concrete pod an
// action hits is resolved at run time (e.g. "the active of svc-07"), and fault rolls
// depend on event arrival order, so two runs are the same script, not the same trace.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { startAdapter, type AdapterOptions, type RunningAdapter } from '../../plane/adapter.js';
import { kubeconfigYaml } from '../../plane/plane.js';
import { waitFor } from '../../plane/wait.js';
import { installRbac, startFunction, type RunningFunction } from '../e2e/support/baton.js';
import { adminConfig, statusOf, testPlane } from '../e2e/support/plane.js';
import { startSink, type Sink } from '../e2e/support/sink.js';
import { annotateService, setPodReady } from '../e2e/support/workloads.js';
import { startApiProxy, type ApiCounts, type ApiFaults, type ApiProxy } from './apiproxy.js';
import { restartApiserver } from './apiserver.js';
import { checkAudit, watchInvariant, type AuditCheck, type InvariantWatcher, type Violation } from './invariant.js';
import { rng } from './random.js';
import { keysFor } from '../../shared/keys.js';
import { readRecord } from '../../shared/record.js';
import { startRelay, type Relay, type RelayCounts, type RelayFaults } from './relay.js';

const MODE = 'baton.dev/mode';
const POD_ID = 'baton.dev/pod-id';
const ACTIVE = 'baton.dev/active';
const TERM = 'baton.dev/term';
const SWITCHOVER_TO = 'baton.dev/switchover-to';

export type Action =
  | { readonly kind: 'fail-active'; readonly service: number }
  | { readonly kind: 'recover'; readonly service: number }
  | { readonly kind: 'flip'; readonly service: number; readonly pod: number }
  | { readonly kind: 'delete'; readonly service: number; readonly pod: number }
  | { readonly kind: 'switchover'; readonly service: number; readonly pod: number }
  | { readonly kind: 'restart-apiserver' }
  | { readonly kind: 'restart-adapter' };

export interface Step {
  readonly action: Action;
  /** Pause before the action. */
  readonly gapMs: number;
}

export interface Layout {
  readonly name: string;
  readonly workload: 'deployment' | 'pods';
  readonly replicas: number;
}

/** The seeded script: which Services exist and what happens to them, in order. */
export function plan(seed: number, steps: number, services: number, meanGapMs: number, { apiserverRestart = true, adapterRestart = true } = {}): { layout: Layout[]; steps: Step[]; digest: string } {
  const shape = rng(seed, 'layout');
  const layout: Layout[] = Array.from({ length: services }, (_, i) => ({
    name: `svc-${String(i).padStart(2, '0')}`,
    workload: i % 2 === 0 ? 'deployment' : 'pods',
    replicas: shape.int(2, 3),
  }));
  const script = rng(seed, 'actions');
  const apiserverAt = apiserverRestart ? Math.floor(steps * 0.4) : -1;
  const adapterAt = adapterRestart ? Math.floor(steps * 0.7) : -1;
  const out: Step[] = [];
  for (let i = 0; i < steps; i++) {
    const kind = script.weighted({ 'fail-active': 25, recover: 25, flip: 12, delete: 18, switchover: 20 });
    const service = script.int(0, services - 1);
    const pod = script.int(0, 2);
    const gapMs = script.int(Math.round(meanGapMs / 2), Math.round(meanGapMs * 1.5));
    let action: Action;
    if (i === apiserverAt) action = { kind: 'restart-apiserver' };
    else if (i === adapterAt) action = { kind: 'restart-adapter' };
    else if (kind === 'fail-active' || kind === 'recover') action = { kind, service };
    else action = { kind, service, pod };
    out.push({ action, gapMs });
  }
  const digest = createHash('sha256').update(JSON.stringify({ layout, out })).digest('hex').slice(0, 12);
  return { layout, steps: out, digest };
}

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
  readonly log?: (line: string) => void;
}

export interface ScenarioReport {
  readonly seed: number;
  readonly digest: string;
  readonly services: number;
  readonly instances: number;
  readonly stepsPlanned: number;
  readonly stepsRun: number;
  readonly actionPhaseMs: number;
  readonly actions: Readonly<Record<string, number>>;
  /** Actions that found nothing to do (e.g. no unready pod to recover). */
  readonly actionsSkipped: number;
  readonly actionErrors: readonly string[];
  readonly warmupMs: number;
  readonly relay: Readonly<RelayCounts>;
  readonly api: Readonly<ApiCounts>;
  readonly apiserverRestarts: readonly number[];
  readonly adapterRestarts: readonly number[];
  readonly sliceUpdates: number;
  readonly watchReconnects: number;
  readonly watchGaps: number;
  readonly violations: readonly Violation[];
  /** Failover times under faults (Ready=False written → one other pod ready), sorted. */
  readonly failoverMs: readonly number[];
  /**
   * Each stretch in which an adopted Service had no ready endpoint while one of its
   * candidates was healthy, in ms, sorted (windows still open at the end count up to then).
   */
  readonly darkMs: readonly number[];
  readonly darkWorstService: string;
  /**
   * Failovers of an active that had a healthy standby, not done 30 s later. Not by
   * itself a fault: a later action may have failed the standby too (the convergence
   * check after the faults is the judge).
   */
  readonly failoversStuck: number;
  /** Services already converged at the first check after the faults stopped. */
  readonly convergedAtStop: number;
  readonly worstConvergenceMs: number;
  readonly worstConvergenceService: string;
  readonly unconverged: readonly string[];
  readonly audit: AuditCheck;
  /**
   * Lost audit events whose switching PATCH was applied while the proxy cut its
   * answer (the function saw a failure, re-read, found the switch done and stayed quiet).
   */
  readonly lostAfterLostResponse: readonly string[];
  readonly auditReceived: number;
  readonly instancesCrashed: number;
}

/** Runs registered teardown steps in reverse order, each at most once, never throwing. */
export class Cleanup {
  private readonly steps: Array<() => Promise<unknown> | unknown> = [];
  add(step: () => Promise<unknown> | unknown): void {
    this.steps.push(step);
  }
  async run(): Promise<void> {
    for (let step = this.steps.pop(); step; step = this.steps.pop()) {
      try {
        await step();
      } catch (error) {
        process.stderr.write(`chaos cleanup: ${error instanceof Error ? error.message : String(error)}\n`);
      }
    }
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function isHealthy(pod: k8s.V1Pod): boolean {
  return pod.status?.phase === 'Running' && !pod.metadata?.deletionTimestamp && (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** A token for a baton-system ServiceAccount that outlives the longest soak. */
async function longToken(core: k8s.CoreV1Api, name: string): Promise<string> {
  const review = await core.createNamespacedServiceAccountToken({ name, namespace: 'baton-system', body: { spec: { audiences: [], expirationSeconds: 24 * 3600 } } });
  const token = review.status?.token;
  if (!token) throw new Error(`no token issued for ServiceAccount ${name}`);
  return token;
}

/** Everything the run starts is registered with `cleanup`; the caller runs it. */
export async function runScenario(options: ScenarioOptions, cleanup: Cleanup): Promise<ScenarioReport> {
  const log = options.log ?? (() => {});
  const ns = options.namespace;
  const meanGapMs = options.meanGapMs ?? 300;
  // Short, so that held requests really time out; not so short that a slow but
  // honest answer on a loaded machine does (see apiproxy.ts on lost answers).
  const apiTimeoutMs = options.apiTimeoutMs ?? 2_000;
  const script = plan(options.seed, options.steps, options.services, meanGapMs, { apiserverRestart: options.apiserverRestart ?? true, adapterRestart: options.adapterRestart ?? true });
  log(`seed ${options.seed}: ${options.services} services, ${options.steps} steps, script digest ${script.digest}`);

  const plane = testPlane();
  const kc = adminConfig();
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);

  // --- baton, wired as in a cluster, with the fault injectors in the paths ---------
  await installRbac();
  const sink: Sink = await startSink();
  cleanup.add(() => sink.close());
  const proxy: ApiProxy = await startApiProxy({ server: plane.server, caFile: plane.caFile, seed: options.seed, faults: { holdMs: apiTimeoutMs + 1_000, ...options.apiFaults } });
  cleanup.add(() => proxy.close());
  const accounts = join(plane.dir, 'accounts');
  mkdirSync(accounts, { recursive: true });
  const proxyKubeconfig = proxy.writeKubeconfig(join(accounts, `chaos-${ns}-failover.kubeconfig`), await longToken(core, 'baton-failover'), 'baton-failover');
  const sourceKubeconfig = join(accounts, `chaos-${ns}-source.kubeconfig`);
  writeFileSync(sourceKubeconfig, kubeconfigYaml(plane.server, plane.caFile, await longToken(core, 'baton-source'), 'baton-source'), { mode: 0o600 });
  const watcher: InvariantWatcher = await watchInvariant(kc, ns);
  cleanup.add(() => watcher.close());
  const relay: Relay = await startRelay({ seed: options.seed, faults: options.relayFaults ?? {} });
  cleanup.add(() => relay.close());

  const env = {
    KUBECONFIG: proxyKubeconfig,
    K_SINK: sink.url,
    BATON_NAMESPACES: ns,
    BATON_API_TIMEOUT_MS: String(apiTimeoutMs),
    BATON_INDEX_REFRESH_MS: '5000',
    LOG_LEVEL: 'info',
  };
  const instances: RunningFunction[] = [];
  const starting = Array.from({ length: options.instances }, () => startFunction('failover', env));
  // Register every instance that did start, even if another one failed.
  for (const result of await Promise.allSettled(starting)) {
    if (result.status === 'fulfilled') {
      instances.push(result.value);
      cleanup.add(() => result.value.stop());
    }
  }
  if (instances.length !== options.instances) throw new Error(`only ${instances.length} of ${options.instances} failover instances started`);
  relay.setTargets(instances.map((i) => i.url));
  const resync = await startFunction('resync', { ...env, BATON_RESYNC_INTERVAL_MS: String(options.resyncIntervalMs ?? 2_000) });
  cleanup.add(() => resync.stop());

  const adapterOptions: AdapterOptions = {
    binary: plane.binaries.paths.apiserver_receive_adapter,
    kubeconfig: sourceKubeconfig,
    sink: relay.url,
    logDir: join(plane.dir, 'logs'),
    namespaces: [ns],
    name: `chaos-source-${ns}`,
  };
  let adapter: RunningAdapter | undefined = await startAdapter(adapterOptions);
  cleanup.add(() => adapter?.stop());
  await core.createNamespacedService({ namespace: ns, body: { metadata: { name: 'canary' }, spec: { ports: [{ port: 1 }] } } });
  let touch = 0;
  await waitFor(
    'the adapter to deliver a first event to the relay',
    async () => {
      await annotateService(kc, ns, 'canary', { touch: String(touch++) });
      await sleep(200);
      return relay.seen(`/namespaces/${ns}/services/canary`) > 0 ? true : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 50 },
  );

  // --- the Services: zero-window opt-in, so the invariant holds from creation ------
  const warmupStart = Date.now();
  for (const s of script.layout) {
    watcher.guard(s.name);
    await core.createNamespacedService({
      namespace: ns,
      body: { metadata: { name: s.name, labels: { [MODE]: 'active-standby' } }, spec: { selector: { app: s.name, [POD_ID]: 'none' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } },
    });
  }
  const createPod = (service: string, name: string): Promise<k8s.V1Pod> =>
    core.createNamespacedPod({ namespace: ns, body: { metadata: { name, labels: { app: service } }, spec: { containers: [{ name: 'app', image: 'example.com/app:1', ports: [{ containerPort: 8080 }] }] } } });
  for (const s of script.layout) {
    if (s.workload === 'deployment') {
      await apps.createNamespacedDeployment({
        namespace: ns,
        body: {
          metadata: { name: s.name },
          spec: { replicas: s.replicas, selector: { matchLabels: { app: s.name } }, template: { metadata: { labels: { app: s.name } }, spec: { containers: [{ name: 'app', image: 'example.com/app:1', ports: [{ containerPort: 8080 }] }] } } },
        },
      });
    } else {
      for (let p = 0; p < s.replicas; p++) await createPod(s.name, `${s.name}-${p}`);
    }
  }
  await waitFor(
    `all ${script.layout.length} Services to be adopted (term 1, one ready endpoint)`,
    () => (script.layout.every((s) => watcher.service(s.name)?.annotations[TERM] !== undefined && watcher.ready(s.name).length === 1) ? true : undefined),
    { timeoutMs: 120_000, intervalMs: 200 },
  );
  const warmupMs = Date.now() - warmupStart;
  log(`warm-up: all Services adopted in ${warmupMs} ms`);

  // --- the action phase, faults on ---------------------------------------------------
  const podsOf = async (service: string): Promise<k8s.V1Pod[]> =>
    (await core.listNamespacedPod({ namespace: ns, labelSelector: `app=${service}` })).items
      .filter((p) => !p.metadata?.deletionTimestamp)
      .sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  const actions: Record<string, number> = {};
  const actionErrors: string[] = [];
  let skipped = 0;
  const apiserverRestarts: number[] = [];
  const adapterRestarts: number[] = [];
  const background: Array<Promise<void>> = [];

  const recreate = async (service: string, name: string): Promise<void> => {
    await waitFor(`pod ${name} to be gone before it is created again`, async () => {
      try {
        await core.readNamespacedPod({ name, namespace: ns });
        return undefined;
      } catch (error) {
        return statusOf(error) === 404 ? true : undefined;
      }
    }, { timeoutMs: 60_000, intervalMs: 200 });
    // The apiserver may be restarting right now; a pod that never comes back would
    // shrink the Service for the rest of the run.
    await waitFor(`pod ${name} to be created again`, async () => {
      try {
        await createPod(service, name);
        return true;
      } catch (error) {
        if (statusOf(error) === 409) return undefined;
        throw error;
      }
    }, { timeoutMs: 60_000, intervalMs: 250 });
  };

  // Failover time under faults: from the Ready=False write to the first slice update
  // that routes to exactly one other pod. Other actions may strike the same Service
  // meanwhile; that is part of the chaos, and a move that never comes is counted.
  const failovers: number[] = [];
  // Kept apart from `background`: waiting for these before the faults stop would let
  // everything settle under faults and leave nothing for the convergence check to time.
  const timings: Array<Promise<void>> = [];
  let failoversStuck = 0;
  const timeFailover = async (service: string, failedUid: string, written: number): Promise<void> => {
    const deadline = written + 30_000;
    while (Date.now() < deadline) {
      const moved = watcher.history(service).find((o) => o.at >= written && o.ready.length === 1 && o.ready[0]!.uid !== failedUid);
      if (moved) {
        failovers.push(moved.at - written);
        return;
      }
      await sleep(100);
    }
    failoversStuck += 1;
  };

  const act = async (action: Action): Promise<boolean> => {
    if (action.kind === 'restart-apiserver') {
      const { unavailableMs } = await restartApiserver(plane.dir, { downMs: 1_000 });
      apiserverRestarts.push(unavailableMs);
      log(`kube-apiserver restarted: unavailable for ${unavailableMs} ms`);
      return true;
    }
    if (action.kind === 'restart-adapter') {
      const down = Date.now();
      await adapter?.stop();
      adapter = undefined;
      // Actions go on while it is down: their events are never sent, only resync sees them.
      background.push(
        sleep(options.adapterDownMs ?? 3_000).then(async () => {
          adapter = await startAdapter(adapterOptions);
          adapterRestarts.push(Date.now() - down);
          log(`adapter restarted: down for ${Date.now() - down} ms`);
        }),
      );
      return true;
    }
    const layout = script.layout[action.service]!;
    const service = layout.name;
    switch (action.kind) {
      case 'fail-active': {
        const active = (await core.readNamespacedService({ name: service, namespace: ns })).metadata?.annotations?.[ACTIVE];
        const pods = await podsOf(service);
        const pod = pods.find((p) => p.metadata?.name === active);
        if (!pod || !isHealthy(pod)) return false;
        const standbys = pods.filter((p) => p !== pod && isHealthy(p)).length;
        const written = Date.now();
        await setPodReady(kc, ns, pod.metadata!.name!, false);
        if (standbys > 0) timings.push(timeFailover(service, pod.metadata!.uid!, written));
        return true;
      }
      case 'recover': {
        const pod = (await podsOf(service)).find((p) => !isHealthy(p));
        if (!pod) return false;
        await setPodReady(kc, ns, pod.metadata!.name!, true);
        return true;
      }
      case 'flip': {
        const pods = await podsOf(service);
        const pod = pods[action.pod % Math.max(1, pods.length)];
        if (!pod) return false;
        await setPodReady(kc, ns, pod.metadata!.name!, !isHealthy(pod));
        return true;
      }
      case 'delete': {
        const pods = await podsOf(service);
        // Never the last pod: a Service without candidates tests nothing for the rest of the run.
        if (pods.length < 2) return false;
        const name = pods[action.pod % pods.length]!.metadata!.name!;
        await core.deleteNamespacedPod({ name, namespace: ns });
        if (layout.workload === 'pods') background.push(recreate(service, name).catch((e: Error) => void actionErrors.push(`recreate ${name}: ${e.message}`)));
        return true;
      }
      case 'switchover': {
        const pods = await podsOf(service);
        const pod = pods[action.pod % Math.max(1, pods.length)];
        if (!pod) return false;
        await annotateService(kc, ns, service, { [SWITCHOVER_TO]: pod.metadata!.name! });
        return true;
      }
    }
  };

  relay.setFaults(true);
  proxy.setFaults(true);
  const actionStart = Date.now();
  const budget = options.actionBudgetMs ?? Number.POSITIVE_INFINITY;
  let stepsRun = 0;
  for (const step of script.steps) {
    if (Date.now() - actionStart + step.gapMs > budget) break;
    await sleep(step.gapMs);
    stepsRun += 1;
    actions[step.action.kind] = (actions[step.action.kind] ?? 0) + 1;
    try {
      if (!(await act(step.action))) skipped += 1;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      actionErrors.push(`${step.action.kind}: ${message.slice(0, 200)}`);
      // A failed restart leaves nothing to judge: stop here rather than report noise.
      if (step.action.kind === 'restart-apiserver') throw error;
    }
    if (stepsRun % 50 === 0) log(`step ${stepsRun}/${script.steps.length}: ${relay.counts.received} events relayed, ${proxy.counts.requests} API requests proxied`);
  }
  const actionPhaseMs = Date.now() - actionStart;

  // --- faults off: everything must converge and every decision must be on record ----
  // Judged from the last action on, while held and delayed events still trickle in and
  // re-created pods and the adapter come back: all of that is part of what must settle.
  const quiet = Date.now();
  proxy.setFaults(false);
  let drained = false;
  const draining = relay.drain(30_000).then(() => void (drained = true));
  draining.catch(() => undefined);
  let settled = false;
  const finishing = Promise.all(background).then(() => void (settled = true));
  finishing.catch(() => undefined);
  const convergedSince = new Map<string, number>();
  let convergedAtStop = -1;
  const explain = new Map<string, string>();
  const settleMs = 1_500;
  const convergeTimeoutMs = options.convergeTimeoutMs ?? 60_000;
  for (;;) {
    const now = Date.now();
    const [pods, services] = await Promise.all([core.listNamespacedPod({ namespace: ns }), core.listNamespacedService({ namespace: ns })]).catch(() => [undefined, undefined] as const);
    if (pods && services) {
      for (const s of script.layout) {
        const svc = services.items.find((x) => x.metadata?.name === s.name);
        const healthy = pods.items.filter((p) => p.metadata?.labels?.app === s.name && isHealthy(p));
        const selected = svc?.spec?.selector?.[POD_ID];
        const ready = watcher.ready(s.name);
        const ok = healthy.length === 0 ? ready.length === 0 : ready.length === 1 && ready[0]!.uid === selected && healthy.some((p) => p.metadata?.uid === selected);
        if (ok) {
          if (!convergedSince.has(s.name)) convergedSince.set(s.name, now);
          explain.delete(s.name);
        } else {
          convergedSince.delete(s.name);
          explain.set(s.name, `${s.name}: ready [${ready.map((e) => e.pod).join(',')}], selector pod-id ${selected ?? '-'}, healthy [${healthy.map((p) => p.metadata?.name).join(',')}]`);
        }
      }
      if (convergedAtStop < 0) convergedAtStop = convergedSince.size;
      const all = script.layout.every((s) => convergedSince.has(s.name));
      if (drained && settled && all && Math.max(...[...convergedSince.values()]) <= now - settleMs) break;
    }
    if (now - quiet > convergeTimeoutMs) break;
    await sleep(200);
  }
  await draining;
  await finishing;
  if (!adapter) throw new Error('the adapter did not come back after its restart');
  await Promise.all(timings);
  let worstConvergenceMs = 0;
  let worstConvergenceService = '-';
  for (const [name, since] of convergedSince) {
    if (since - quiet > worstConvergenceMs) {
      worstConvergenceMs = since - quiet;
      worstConvergenceService = name;
    }
  }
  const unconverged = script.layout.filter((s) => !convergedSince.has(s.name)).map((s) => explain.get(s.name) ?? s.name);
  log(`converged: worst ${worstConvergenceMs} ms (${worstConvergenceService}); unconverged ${unconverged.length}`);

  // Evidence is sent after each write, so give the last ones a moment to arrive.
  const finalTerms = async (): Promise<Array<{ name: string; uid: string; term: number }>> =>
    (await core.listNamespacedService({ namespace: ns })).items
      .filter((s) => s.metadata?.labels?.[MODE] === 'active-standby')
      .map((s) => ({ name: s.metadata!.name!, uid: s.metadata!.uid!, term: readRecord(s.metadata, keysFor('baton.dev')).term ?? 0 }));
  let audit = checkAudit(await finalTerms(), sink.events.map((e) => ({ id: e.id, type: e.type })));
  const auditDeadline = Date.now() + 10_000;
  while (audit.lost.length > 0 && Date.now() < auditDeadline) {
    await sleep(500);
    audit = checkAudit(await finalTerms(), sink.events.map((e) => ({ id: e.id, type: e.type })));
  }

  const lostAfterLostResponse = audit.lost.filter((entry) => {
    const [name, term] = entry.split('#');
    return proxy.lostResponses.some((r) => r.method === 'PATCH' && r.status < 300 && r.path.endsWith(`/services/${name}`) && r.body.includes(`"${TERM}":"${term}"`));
  });

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
    actionErrors,
    warmupMs,
    relay: { ...relay.counts, statuses: { ...relay.counts.statuses } },
    api: { ...proxy.counts },
    apiserverRestarts,
    adapterRestarts,
    sliceUpdates: watcher.updates,
    watchReconnects: watcher.reconnects,
    watchGaps: watcher.gaps,
    violations: [...watcher.violations()],
    failoverMs: [...failovers].sort((a, b) => a - b),
    ...dark(watcher.darkWindows()),
    failoversStuck,
    convergedAtStop,
    worstConvergenceMs,
    worstConvergenceService,
    unconverged,
    audit,
    lostAfterLostResponse,
    auditReceived: sink.events.length,
    instancesCrashed: [...instances, resync].filter((i) => i.process.exitCode !== null).length,
  };
}

function dark(windows: ReadonlyArray<{ service: string; from: number; to: number | undefined }>): { darkMs: number[]; darkWorstService: string } {
  const end = Date.now();
  const timed = windows.map((w) => ({ service: w.service, ms: (w.to ?? end) - w.from }));
  const worst = timed.reduce<{ service: string; ms: number } | undefined>((a, b) => (a === undefined || b.ms > a.ms ? b : a), undefined);
  return { darkMs: timed.map((w) => w.ms).sort((a, b) => a - b), darkWorstService: worst?.service ?? '-' };
}

function percentile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

/** The closing-note table. */
export function formatReport(r: ScenarioReport): string {
  const rows: Array<[string, string]> = [
    ['seed / script digest', `${r.seed} / ${r.digest}`],
    ['services / failover instances', `${r.services} / ${r.instances} (+1 resync)`],
    ['steps run', `${r.stepsRun} of ${r.stepsPlanned} in ${(r.actionPhaseMs / 1000).toFixed(1)} s (${r.actionsSkipped} found nothing to do, ${r.actionErrors.length} failed)`],
    ['actions', Object.entries(r.actions).map(([k, v]) => `${k} ${v}`).join(', ')],
    ['events: relay faults', `dropped ${r.relay.dropped}, duplicated ${r.relay.duplicated}, reordered ${r.relay.reordered}, delayed ${r.relay.delayed} (max ${(r.relay.maxDelayMs / 1000).toFixed(1)} s) of ${r.relay.received} received`],
    ['events: redeliveries', `${r.relay.redelivered} retried, ${r.relay.gaveUp} given up; answers ${Object.entries(r.relay.statuses).map(([k, v]) => `${k}×${v}`).join(' ')}`],
    ['API faults', `409 ${r.api.conflict}, 429 ${r.api.tooManyRequests}, 500 ${r.api.serverError}, timeout ${r.api.timeout}, reset ${r.api.reset}, lost response ${r.api.lostResponse} of ${r.api.requests} requests`],
    ['kube-apiserver restarts', `${r.apiserverRestarts.length} (unavailable ${r.apiserverRestarts.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(', ') || '-'}; ${r.api.upstreamDown} requests found it down)`],
    ['adapter restarts', `${r.adapterRestarts.length} (down ${r.adapterRestarts.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(', ') || '-'})`],
    ['slice updates watched', `${r.sliceUpdates} (watch reconnects ${r.watchReconnects}, re-lists ${r.watchGaps})`],
    ['violations (>1 ready endpoint)', String(r.violations.length)],
    ['failover under faults', r.failoverMs.length ? `${r.failoverMs.length} timed: median ${percentile(r.failoverMs, 0.5)} ms, p95 ${percentile(r.failoverMs, 0.95)} ms, worst ${r.failoverMs[r.failoverMs.length - 1]} ms; ${r.failoversStuck} not moved in 30 s (standby lost too)` : `none timed; ${r.failoversStuck} not moved in 30 s`],
    ['no ready endpoint, a candidate healthy', r.darkMs.length ? `${r.darkMs.length} windows: median ${percentile(r.darkMs, 0.5)} ms, p95 ${percentile(r.darkMs, 0.95)} ms, longest ${r.darkMs[r.darkMs.length - 1]} ms (${r.darkWorstService})` : 'none'],
    ['convergence after faults stop', `worst ${(r.worstConvergenceMs / 1000).toFixed(2)} s (${r.worstConvergenceService}); ${Math.max(0, r.convergedAtStop)} of ${r.services} converged at the first check; unconverged ${r.unconverged.length}`],
    ['changes of active (terms)', String(r.audit.termChanges)],
    ['audit events', `${r.auditReceived} received, ${r.audit.unique} unique ids`],
    ['lost / conflicting / phantom', `${r.audit.lost.length} / ${r.audit.conflicting.length} / ${r.audit.phantom.length}${r.audit.lost.length ? ` (${r.lostAfterLostResponse.length} of the lost follow a switching PATCH whose answer was cut)` : ''}`],
    ['function processes crashed', String(r.instancesCrashed)],
    ['warm-up (adoption of all)', `${(r.warmupMs / 1000).toFixed(1)} s`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}
