// Direct mode in the bench: the same single failover and burst as selector mode, against
// the same adapter-fed baton-failover instance, with Services that have no selector and
// name their pods with `baton.dev/pods`, so that baton writes their EndpointSlice itself.
import { analyseBurst, analyseReps, batonTracer, requestLines } from './analysis.js';
import type { Api } from './api.js';
import { readAudit } from './audit.js';
import { createBurstPods, runBurst, type BurstResult } from './burst.js';
import { join } from 'node:path';
import { startAdapter } from '../plane/adapter.js';
import { startRelay } from '../test/chaos/relay.js';
import { serviceAccountKubeconfig } from '../test/e2e/support/baton.js';
import { adapterDelivers, COMPLETED, guarded, NS, say, SERVICE, SETTLE_MS, type Bench } from './context.js';
import { spawnFunction, type RunningFunction } from './processes.js';
import type { ApproachFigures } from './results.js';
import { runSingle } from './single.js';
import { subjectIs, type Sink } from './sink.js';
import { mapLimit, round, summarize } from './util.js';
import { createDeployment } from './workloads.js';

/** A Service in direct mode over the pods labelled app=<app>. */
async function createDirectService(api: Api, namespace: string, name: string, app: string): Promise<void> {
  await api.create(`/api/v1/namespaces/${namespace}/services`, {
    metadata: { name, labels: { 'baton.dev/mode': 'active-standby' }, annotations: { 'baton.dev/pods': `app=${app}` } },
    spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
  });
}

export async function singleDirect(bench: Bench, baton: RunningFunction, sink: Sink): Promise<ApproachFigures | undefined> {
  const { api, slices, opts } = bench;
  return guarded(bench, 'single failover: baton, direct mode', async () => {
    const pods = await createDeployment(api, NS.direct, 'app', 3);
    await createDirectService(api, NS.direct, SERVICE, 'app');
    await slices.until(NS.direct, SERVICE, 'one ready pod in baton\'s slice', (r) => r.length === 1, 0, 20_000);
    await sink.until('direct adoption completed (term 1)', (e) => e.type === COMPLETED && subjectIs(NS.direct, SERVICE)(e), 20_000);
    await baton.quiet(1_000, 30_000);
    say(`baton, direct mode (adapter → baton-failover → the record's CAS PATCH → baton's own slice write), ${opts.reps} reps; pods ${pods.join(', ')}`);
    const reps = await runSingle(
      { api, slices, auditLog: bench.auditLog, settleMs: SETTLE_MS, log: say },
      {
        label: 'direct',
        namespace: NS.direct,
        service: SERVICE,
        failoverTimeoutMs: 10_000,
        afterFailover: (rep) => sink.until(`completed after ${rep.old} failed`, (e) => e.type === COMPLETED && subjectIs(NS.direct, SERVICE)(e) && e.at >= rep.sentAt, 10_000).then(() => undefined),
      },
      opts.reps,
    );
    const lines = requestLines(baton.logLines());
    return {
      key: 'direct',
      label: 'baton, direct mode',
      latency: summarize(reps.map((r) => r.latencyMs)),
      samples: reps.map((r) => round(r.latencyMs, 2)),
      note: 'the same adapter-fed baton-failover; the Service has no selector and baton writes its EndpointSlice',
      analysis: analyseReps(reps, bench.auditLog, SERVICE, batonTracer(NS.direct, lines, 'direct')),
    };
  });
}

/** Direct-mode Services over two bare pods each, adopted, then all their actives fail at once. */
async function burstOf(bench: Bench, sink: Sink, baton: RunningFunction, namespace: string, names: readonly string[]): Promise<BurstResult> {
  const { api, slices, plane } = bench;
  const setupStarted = Date.now();
  await createBurstPods(api, namespace, names);
  await mapLimit(names, 16, (s) => createDirectService(api, namespace, s, s));
  await Promise.all(names.map((s) => sink.until(`baton to adopt ${namespace}/${s}`, (e) => e.type === COMPLETED && subjectIs(namespace, s)(e), 180_000)));
  await baton.quiet(2_000, 180_000);
  say(`  baton adopted ${names.length} Services in direct mode in ${namespace} and went quiet (${((Date.now() - setupStarted) / 1000).toFixed(1)} s of setup)`);
  const run = await runBurst(plane, slices, bench.auditLog, { namespace, services: names }, 60_000);
  const lines = requestLines(baton.logLines());
  const olds = new Set(run.traces.map((t) => `/namespaces/${namespace}/pods/${t.old}`));
  const handled = lines.filter((l) => l.arrivedAt >= Math.min(...run.traces.map((t) => t.sentAt)) - 5 && [...olds].some((o) => l.subject.endsWith(o)));
  return {
    ...run.result,
    breakdown: analyseBurst(run.traces, readAudit(bench.auditLog, run.auditFrom, run.auditTo), batonTracer(namespace, lines, 'direct')),
    handlerMs: summarize(handled.map((l) => l.durationMs)),
  };
}

export async function burstDirect(bench: Bench, sink: Sink, baton: RunningFunction, names: readonly string[]): Promise<BurstResult | undefined> {
  return guarded(bench, 'burst: baton, direct mode', () => burstOf(bench, sink, baton, NS.burstDirect, names));
}

/**
 * The same burst with a Broker's role played by a relay (test/chaos/relay.ts, faults
 * off): it accepts each event at once and delivers it on its own connection, as a
 * Broker's ingress and dispatcher do in a cluster. The adapter then no longer waits for
 * baton's reply to each pod event before it sends the next one. A function instance and
 * an adapter of its own, so that the adapter-fed figures stay as they are.
 */
export async function burstDirectBehindBroker(bench: Bench, sink: Sink, names: readonly string[]): Promise<BurstResult | undefined> {
  const { api, plane, cleanup } = bench;
  return guarded(bench, 'burst: baton, direct mode, behind a Broker stand-in', async () => {
    const relay = await startRelay({ seed: 16 });
    cleanup.defer('the Broker stand-in', () => relay.close());
    const fn = await spawnFunction({
      fn: 'failover',
      logFile: join(plane.dir, 'logs', 'baton-failover-broker.log'),
      env: { KUBECONFIG: bench.failoverKubeconfig, K_SINK: sink.url, BATON_INDEX_REFRESH_MS: '3600000' },
    });
    cleanup.defer('baton-failover behind the Broker stand-in', () => fn.stop());
    relay.setTargets([fn.url]);
    const adapter = await startAdapter({
      binary: plane.binaries.paths.apiserver_receive_adapter,
      kubeconfig: await serviceAccountKubeconfig('baton-source'),
      sink: relay.url,
      logDir: join(plane.dir, 'logs'),
      namespaces: [NS.burstDirectBroker],
      name: 'bench-broker-source',
    });
    cleanup.defer('the adapter in front of the Broker stand-in', () => adapter.stop());
    await adapterDelivers(api, fn, NS.burstDirectBroker);
    try {
      return await burstOf(bench, sink, fn, NS.burstDirectBroker, names);
    } finally {
      await fn.stop();
      await adapter.stop();
    }
  });
}
