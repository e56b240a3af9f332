// The Knative column of `npm run bench -- --knative`: baton deployed on the plane's real
// Knative by `skaffold run -p plane`, fed through ApiServerSource → Broker → Trigger →
// baton-failover, against the same kind of workload, the same EndpointSlice referee and the
// same audit log as the adapter-fed process and the ideal watcher of the same run. Its audit
// events reach the bench through a Trigger of its own, as a user's subscriber gets them.
// Last, the price of scale to zero: failovers while baton-failover has no pod.
import { join } from 'node:path';
import { BATON_SYSTEM, deployBaton, getKnative, HOST_SINK_ADDRESS, LOCAL_APP_NAMESPACE, readyKnative, removeTrigger, subscribeHost } from '../plane/knative/baton.js';
import { waitFor } from '../plane/wait.js';
import { analyseBurst, analyseReps, batonTracer } from './analysis.js';
import type { PodLike } from './api.js';
import { auditMark, FAILOVER_USER, readAudit } from './audit.js';
import { runBurst, setupBatonBurst, type BurstResult } from './burst.js';
import { COMPLETED, guarded, say, SERVICE, SETTLE_MS, type Bench } from './context.js';
import type { ApproachFigures } from './results.js';
import { runSingle, type Rep, type SingleTarget } from './single.js';
import { startSink, subjectIs, type Sink } from './sink.js';
import { mapLimit, ms, round, sleep, summarize } from './util.js';
import { createDeployment, createService } from './workloads.js';

/** knative/overlays/local scopes baton to this namespace; the column's Services live there. */
const NS = LOCAL_APP_NAMESPACE;
const FAILOVER_KSVC = `/apis/serving.knative.dev/v1/namespaces/${BATON_SYSTEM}/services/baton-failover`;

export interface KnativeFigures {
  /** `skaffold run -p plane` (build, push, apply) until everything it made is Ready. */
  readonly deploySeconds: number;
  readonly single?: ApproachFigures;
  readonly burst?: BurstResult;
  /** Failovers with baton-failover scaled to zero (min-scale 0): the activator wakes it. */
  readonly coldStart?: ApproachFigures;
}

/**
 * Waits until no request of the baton-failover ServiceAccount has reached the API server
 * about the column's namespace for `quietMs`. baton-resync runs as the same account (its
 * sweep every 30 s under the local overlay), so a sweep counts as noise here too.
 */
async function quiet(auditLog: string, quietMs: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const from = auditMark(auditLog);
    await sleep(quietMs);
    if (!readAudit(auditLog, from).some((r) => r.user === FAILOVER_USER && r.namespace === NS)) return;
    if (Date.now() > deadline) throw new Error(`baton-failover on Knative did not go quiet within ${timeoutMs} ms`);
  }
}

const completedAfter = (sink: Sink, service: string) => (rep: { old: string; sentAt: number }) =>
  sink.until(`completed through the Broker after ${rep.old} failed`, (e) => e.type === COMPLETED && subjectIs(NS, service)(e) && e.at >= rep.sentAt, 60_000).then(() => undefined);

function figures(bench: Bench, key: 'knative' | 'knativeCold', label: string, note: string, reps: readonly Rep[]): ApproachFigures {
  return { key, label, note, latency: summarize(reps.map((r) => r.latencyMs)), samples: reps.map((r) => round(r.latencyMs, 2)), analysis: analyseReps(reps, bench.auditLog, SERVICE, batonTracer(NS, [], 'broker')) };
}

async function single(bench: Bench, sink: Sink): Promise<ApproachFigures | undefined> {
  const { api, slices, opts } = bench;
  return guarded(bench, 'single failover: baton on Knative', async () => {
    const pods = await createDeployment(api, NS, SERVICE, 3);
    await createService(api, NS, SERVICE, { app: SERVICE, 'baton.dev/pod-id': 'none' }, { 'baton.dev/mode': 'active-standby' });
    await slices.until(NS, SERVICE, 'one ready pod chosen by baton on Knative', (r) => r.length === 1, 0, 120_000);
    await sink.until('adoption completed, through the Broker', (e) => e.type === COMPLETED && subjectIs(NS, SERVICE)(e), 120_000);
    await quiet(bench.auditLog, 2_000, 60_000);
    say(`baton on Knative (ApiServerSource → Broker → Trigger → baton-failover), ${opts.reps} reps; pods ${pods.join(', ')}`);
    const target: SingleTarget = { label: 'knative', namespace: NS, service: SERVICE, failoverTimeoutMs: 30_000, afterFailover: completedAfter(sink, SERVICE) };
    const reps = await runSingle({ api, slices, auditLog: bench.auditLog, settleMs: SETTLE_MS, log: say }, target, opts.reps);
    return figures(bench, 'knative', 'baton on Knative', 'skaffold run -p plane; in-cluster ApiServerSource → MT Broker (in-memory channel) → Trigger → Knative Service', reps);
  });
}

async function burst(bench: Bench, sink: Sink, names: readonly string[]): Promise<BurstResult | undefined> {
  const { api, slices, plane } = bench;
  return guarded(bench, 'burst: baton on Knative', async () => {
    const setupStarted = Date.now();
    await setupBatonBurst(api, NS, names);
    await mapLimit(names, 64, (s) => sink.until(`baton on Knative to adopt ${NS}/${s}`, (e) => e.type === COMPLETED && subjectIs(NS, s)(e), 300_000));
    await quiet(bench.auditLog, 3_000, 300_000);
    say(`  baton on Knative adopted ${names.length} Services and went quiet (${((Date.now() - setupStarted) / 1000).toFixed(1)} s of setup)`);
    const run = await runBurst(plane, slices, bench.auditLog, { namespace: NS, services: names }, 120_000);
    return { ...run.result, breakdown: analyseBurst(run.traces, readAudit(bench.auditLog, run.auditFrom, run.auditTo), batonTracer(NS, [], 'broker')) };
  });
}

/** Pods of baton-failover, terminating ones included: none means the next event starts one. */
async function failoverPods(bench: Bench): Promise<number> {
  const list = await bench.api.get<{ items: PodLike[] }>(`/api/v1/namespaces/${BATON_SYSTEM}/pods?labelSelector=${encodeURIComponent('serving.knative.dev/service=baton-failover')}`);
  return list.items.length;
}

const FAILOVER_TRIGGER = `/apis/eventing.knative.dev/v1/namespaces/${BATON_SYSTEM}/triggers/baton-failover`;

interface Filter {
  readonly any?: ReadonlyArray<{ readonly exact?: { readonly kind?: string } }>;
}

/**
 * Every Node status update is an event for baton-failover (it watches cordons), and the
 * plane's kwok nodes report every ~20 s, as a real cluster's kubelets (one report per
 * Node every 5 minutes) do once it has a dozen Nodes: the function would never stay idle
 * long enough to scale to zero. For the cold start alone, the Trigger drops Node events.
 */
async function dropNodeEvents(bench: Bench): Promise<void> {
  const trigger = await bench.api.get<{ spec: { filters: Filter[] } }>(FAILOVER_TRIGGER);
  const filters = trigger.spec.filters.map((f) => (f.any ? { ...f, any: f.any.filter((a) => a.exact?.kind !== 'Node') } : f));
  await bench.api.patch(FAILOVER_TRIGGER, { spec: { filters } }, 'merge');
  await readyKnative(bench.plane, 'eventing.knative.dev', 'triggers', 'baton-failover');
}

/**
 * Failovers of the single Service while baton-failover has scaled to zero. The function is
 * given min-scale 0 and Knative's shortest stable window (6 s) as a new revision, and its
 * Trigger stops passing Node events (dropNodeEvents); each repetition first waits until
 * no pod of it is left, so the event goes through the activator, which holds it until a
 * new pod is ready. Both changes stay: this runs last.
 */
async function coldStart(bench: Bench, sink: Sink, reps: number): Promise<ApproachFigures | undefined> {
  const { api, slices, plane } = bench;
  return guarded(bench, 'cold start: baton on Knative scaled to zero', async () => {
    await dropNodeEvents(bench);
    const before = await getKnative(plane, 'serving.knative.dev', 'services', 'baton-failover');
    await api.patch(FAILOVER_KSVC, { spec: { template: { metadata: { annotations: { 'autoscaling.knative.dev/min-scale': '0', 'autoscaling.knative.dev/window': '6s' } } } } }, 'merge');
    await waitFor('a new baton-failover revision with min-scale 0 to be Ready', async () => {
      const s = (await readyKnative(plane, 'serving.knative.dev', 'services', 'baton-failover')).status;
      return s?.latestReadyRevisionName && s.latestReadyRevisionName === s.latestCreatedRevisionName && s.latestReadyRevisionName !== before?.status?.latestReadyRevisionName ? true : undefined;
    }, { timeoutMs: 180_000, intervalMs: 500 });
    const zero = async (): Promise<void> => {
      const t0 = Date.now();
      await waitFor('baton-failover to scale to zero', async () => ((await failoverPods(bench)) === 0 ? true : undefined), { timeoutMs: 300_000, intervalMs: 250 });
      say(`  baton-failover has no pod (waited ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    };
    say(`baton on Knative, scaled to zero before each failure, ${reps} reps`);
    const target: SingleTarget = { label: 'knative, from zero', namespace: NS, service: SERVICE, failoverTimeoutMs: 60_000, beforeFailure: zero, afterFailover: completedAfter(sink, SERVICE) };
    const done = await runSingle({ api, slices, auditLog: bench.auditLog, settleMs: SETTLE_MS, log: say }, target, reps);
    return figures(bench, 'knativeCold', 'baton on Knative, scaled to zero', 'min-scale 0 (not the default): the activator holds the event until a new pod is ready', done);
  });
}

export async function knativeColumn(bench: Bench, names: readonly string[] | undefined, coldReps: number): Promise<KnativeFigures | undefined> {
  const { plane, cleanup, opts } = bench;
  say('\n— baton on real Knative: skaffold run -p plane, then the same failovers through the Broker');
  const t0 = Date.now();
  const deployed = await guarded(bench, 'deploying baton on Knative', async () => {
    await deployBaton(plane, say, { logFile: join(plane.dir, 'logs', 'skaffold.log') });
    return true;
  });
  if (!deployed) return undefined;
  const deploySeconds = round((Date.now() - t0) / 1000, 1);
  say(`  deployed and Ready in ${deploySeconds} s`);
  const sink = await guarded(bench, 'subscribing to baton on Knative', async () => {
    const s = await startSink(HOST_SINK_ADDRESS);
    cleanup.defer('the Knative column\'s audit sink', () => s.close());
    await subscribeHost(plane, 'bench-audit', s.url);
    cleanup.defer('the bench\'s Trigger', () => removeTrigger(plane, 'bench-audit'));
    return s;
  });
  if (!sink) return { deploySeconds };

  const one = opts.only.includes('single') ? await single(bench, sink) : undefined;
  if (one) say(`  ${one.label}: p50 ${ms(one.latency.p50)}, p90 ${ms(one.latency.p90)}, p99 ${ms(one.latency.p99)}, max ${ms(one.latency.max)} (n=${one.latency.n})`);
  const many = names ? await burst(bench, sink, names) : undefined;
  if (many) say(`  baton on Knative: all ${many.services} converged ${ms(many.convergedMs)} after the first write; per Service p50 ${ms(many.latency.p50)}, p99 ${ms(many.latency.p99)}`);
  const cold = one ? await coldStart(bench, sink, coldReps) : undefined;
  if (cold) say(`  ${cold.label}: p50 ${ms(cold.latency.p50)}, max ${ms(cold.latency.max)} (n=${cold.latency.n})`);
  return { deploySeconds, ...(one ? { single: one } : {}), ...(many ? { burst: many } : {}), ...(cold ? { coldStart: cold } : {}) };
}

/** What the report says about the Knative column, after the machine line. */
export function knativeNote(deploySeconds: number): string {
  return (
    'With `--knative` the plane also ran its real node (containerd, kubelet, kube-proxy, bridge CNI) and Knative 1.20 (Serving with Kourier, Eventing with the in-memory channel and the MT Broker) for the whole run, so every column shared the 2 cores with Knative\'s pods. ' +
    `"baton on Knative" is baton as \`skaffold run -p plane\` deploys it (${deploySeconds} s from the command to everything Ready): the in-cluster ApiServerSource adapter → Broker ingress → in-memory channel → Broker filter → baton-failover's queue-proxy → baton, with knative/overlays/local's settings (debug logs, 500m CPU limit). ` +
    'Its failover breakdown has no separate arrival mark (the function\'s log in the pod is not read); the way in ends at baton\'s first read of the Service. baton-resync runs as the same ServiceAccount, so a sweep in a window counts as baton-failover\'s requests. "scaled to zero" gives baton-failover min-scale 0, which is not the default (the default keeps one pod), and a 6 s stable window, takes Node events out of its Trigger (the kwok nodes\' status reports would wake it every ~20 s), and waits before each failure until no pod is left.'
  );
}
