// `npm run bench`: failover speed and cost of baton against the ideal watcher and the
// label-toggling loop, on one local control plane, in one run. Figures are printed as
// they come and written to bench/results/<date>.{json,md} and <date>-latency.svg.
// --knative adds the real node, Knative 1.20 and baton deployed on it by skaffold: one
// more column, fed through the Broker (needs root and cgroup v1, like the real node).
//   node dist/bench/run.js [--reps N] [--burst N] [--noise-seconds S] [--loop10-reps N] [--quick] [--knative [--cold-reps N]]
import { cpSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { startAdapter } from '../plane/adapter.js';
import { startPlane, stopPlane } from '../plane/plane.js';
import { installRbac, serviceAccountKubeconfig } from '../test/e2e/support/baton.js';
import { connectApi } from './api.js';
import { describeMachine } from './machine.js';
import { noiseTemplates, type PodObject } from './noise.js';
import { spawnFunction } from './processes.js';
import { checkTargets, writeResults } from './report.js';
import type { Ratios, Results } from './results.js';
import { watchSlices } from './slices.js';
import { startSink } from './sink.js';
import { round } from './util.js';
import { createDeployment, createNamespace, createService } from './workloads.js';
import { adapterDelivers, benchRun, guarded, localDate, NS, options, say, type Bench } from './context.js';
import { burstScenario, noiseScenario, singleScenario, startupScenario } from './scenarios.js';
import { burstDirect, burstDirectBehindBroker, singleDirect } from './direct.js';
import { burstNames } from './burst.js';
import { knativeColumn } from './knative.js';
import { ms } from './util.js';

async function main(): Promise<void> {
  const opts = options();
  const started = Date.now();
  const { cleanup, dir } = benchRun('bench');
  let failed = false;
  try {
    say(`baton bench: ${opts.only.join(', ')}; reps ${opts.reps} (10 s loop: ${opts.loop10Reps}), burst ${opts.burst}, noise ${opts.noiseSeconds} s${opts.tag ? ` [${opts.tag}]` : ''}`);
    cleanup.defer('the control plane', async () => {
      if (failed) say(`plane logs kept in ${dir}/logs`);
      await stopPlane(dir, { keepData: failed });
    });
    if (opts.logs) {
      const target = opts.logs;
      // Runs before the plane stops (last in, first out), while every log is complete.
      cleanup.defer('copying the logs', () => {
        cpSync(join(dir, 'logs'), target, { recursive: true });
        say(`logs copied to ${target}`);
      });
    }
    const t0 = Date.now();
    const plane = await startPlane({ dir, nodes: 2, auditLog: true, ...(opts.knative ? { realNode: true, knative: true } : {}), progress: (m) => say(`[plane ${((Date.now() - t0) / 1000).toFixed(1)} s] ${m}`) });
    const api = connectApi(plane);
    cleanup.defer('the admin connection', () => api.close());
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(plane.kubeconfig);
    const slices = await watchSlices(kc);
    cleanup.defer('the EndpointSlice referee', () => slices.stop());
    const machine = await describeMachine(api);
    say(`machine: ${machine.nproc} CPU (${machine.cpuModel}), ${machine.memoryGb} GB, ${machine.node}, Kubernetes ${machine.kube}, load ${machine.loadAtStart}`);

    await installRbac();
    const failoverKubeconfig = await serviceAccountKubeconfig('baton-failover');
    const sourceKubeconfig = await serviceAccountKubeconfig('baton-source');
    for (const ns of Object.values(NS)) await createNamespace(api, ns);
    const bench: Bench = { opts, plane, api, kc, slices, auditLog: join(dir, 'logs', 'audit.log'), failoverKubeconfig, cleanup, errors: [] };

    // Pods nobody cares about, next to an opted-in Service that selects none of them,
    // so the index has something to look through in that namespace.
    const noisePods = await createDeployment(api, NS.noise, 'noise', 3);
    await createService(api, NS.noise, 'db', { app: 'db' }, { 'baton.dev/mode': 'active-standby' });
    const noisePod = await api.get<PodObject>(`/api/v1/namespaces/${NS.noise}/pods/${noisePods[0]!}`);
    const templates = noiseTemplates(noisePod, 256);

    const startup = opts.only.includes('startup') ? await guarded(bench, 'start-up', () => startupScenario(bench, templates)) : undefined;

    // The adapter-fed pipeline: adapter → baton-failover → audit sink.
    const sink = await startSink();
    cleanup.defer('the audit sink', () => sink.close());
    const baton = await spawnFunction({
      fn: 'failover',
      logFile: join(dir, 'logs', 'baton-failover-main.log'),
      // A long index refresh keeps the periodic re-list out of every counting window.
      env: { KUBECONFIG: failoverKubeconfig, K_SINK: sink.url, BATON_INDEX_REFRESH_MS: '3600000' },
    });
    cleanup.defer('baton-failover', () => baton.stop());
    const adapter = await startAdapter({
      binary: plane.binaries.paths.apiserver_receive_adapter,
      kubeconfig: sourceKubeconfig,
      sink: baton.url,
      logDir: join(dir, 'logs'),
      namespaces: [NS.baton, NS.burstBaton, NS.direct, NS.burstDirect],
    });
    cleanup.defer('the ApiServerSource adapter', () => adapter.stop());
    await adapterDelivers(api, baton, NS.baton);
    say('adapter → baton-failover pipeline is delivering events');

    const single = opts.only.includes('single') ? await singleScenario(bench, baton, sink) : [];
    // Direct mode, in the same run and against the same instance.
    const direct = opts.only.includes('single') ? await singleDirect(bench, baton, sink) : undefined;
    if (direct) {
      single.push(direct);
      const l = direct.latency;
      say(`  ${direct.label}: p50 ${ms(l.p50)}, p90 ${ms(l.p90)}, p99 ${ms(l.p99)}, max ${ms(l.max)} (n=${l.n})`);
      for (const seg of direct.analysis.breakdown.segments) say(`      ${seg.label.padEnd(44)} p50 ${ms(seg.p50).padStart(8)}  p90 ${ms(seg.p90).padStart(8)}`);
    }
    const noise = opts.only.includes('noise') ? await guarded(bench, 'noise', () => noiseScenario(bench, templates)) : undefined;
    const burst: Results['burst'] = opts.only.includes('burst') ? await burstScenario(bench, sink, baton) : {};
    const burstDirectResult = opts.only.includes('burst') ? await burstDirect(bench, sink, baton, burstNames(opts.burst)) : undefined;
    const burstBrokerResult = opts.only.includes('burst') ? await burstDirectBehindBroker(bench, sink, burstNames(opts.burst)) : undefined;
    for (const [label, r] of [['direct', burstDirectResult], ['direct, behind a Broker stand-in', burstBrokerResult]] as const) {
      if (!r) continue;
      say(`  ${label}: all ${r.services} converged ${ms(r.convergedMs)} after the first write (writes acknowledged within ${ms(r.writesDoneMs)}); per Service p50 ${ms(r.latency.p50)}, p90 ${ms(r.latency.p90)}, p99 ${ms(r.latency.p99)}, max ${ms(r.latency.max)}`);
      for (const seg of r.breakdown?.segments ?? []) say(`      ${seg.label.padEnd(44)} p50 ${ms(seg.p50).padStart(8)}  p90 ${ms(seg.p90).padStart(8)}`);
    }
    const batonPeakRssMb = round(baton.peakRssMb());
    // Last: Knative's pods would otherwise share the 2 cores with every other column's
    // measurements for longer than they must (they run from the plane's start regardless).
    const knative = opts.knative ? await knativeColumn(bench, opts.only.includes('burst') ? burstNames(opts.burst) : undefined, opts.coldReps) : undefined;
    if (knative?.single) single.push(knative.single);
    if (knative?.coldStart) single.push(knative.coldStart);

    const byKey = new Map(single.map((a) => [a.key, a]));
    const b = byKey.get('baton')?.latency;
    const d = byKey.get('direct')?.latency;
    const ideal = byKey.get('ideal')?.latency;
    const loop1 = byKey.get('loop1s')?.latency;
    const loop10 = byKey.get('loop10s')?.latency;
    const ratios: Ratios | undefined =
      b && ideal && loop1
        ? {
            batonToIdealP50: round(b.p50 / ideal.p50, 2),
            batonToIdealP99: round(b.p99 / ideal.p99, 2),
            batonToLoop1sP50: round(b.p50 / loop1.p50, 3),
            batonToLoop1sP99: round(b.p99 / loop1.p99, 3),
            batonToLoop10sP50: loop10 ? round(b.p50 / loop10.p50, 4) : Number.NaN,
            ...(d ? { directToIdealP50: round(d.p50 / ideal.p50, 2), directToIdealP99: round(d.p99 / ideal.p99, 2) } : {}),
          }
        : undefined;
    if (ratios) {
      if (ratios.directToIdealP50 !== undefined) say(`\nratios: direct/ideal p50 ${ratios.directToIdealP50}×, p99 ${ratios.directToIdealP99}×`);
      say(`\nratios: baton/ideal p50 ${ratios.batonToIdealP50}×, p99 ${ratios.batonToIdealP99}×; baton/loop-1s p50 ${ratios.batonToLoop1sP50}×, p99 ${ratios.batonToLoop1sP99}×; baton/loop-10s p50 ${ratios.batonToLoop10sP50}×`);
    }

    const partial = {
      date: localDate(),
      startedAt: new Date(started).toISOString(),
      durationS: Math.round((Date.now() - started) / 1000),
      options: { reps: opts.reps, loop10Reps: opts.loop10Reps, burst: opts.burst, noiseSeconds: opts.noiseSeconds, quick: opts.quick, only: opts.only, tag: opts.tag, knative: opts.knative, coldReps: opts.coldReps },
      machine,
      loadAtEnd: round(loadavg()[0]!, 2),
      single,
      ratios,
      burst: { ...burst, ...(burstDirectResult ? { direct: burstDirectResult } : {}), ...(burstBrokerResult ? { directBroker: burstBrokerResult } : {}), ...(knative?.burst ? { knative: knative.burst } : {}) },
      knative: knative ? { deploySeconds: knative.deploySeconds } : undefined,
      noise,
      startup,
      batonPeakRssMb,
      errors: bench.errors,
    };
    const results: Results = { ...partial, targets: checkTargets(partial) };
    say('\ntargets:');
    for (const t of results.targets) say(`  ${t.met ? 'met   ' : 'MISSED'}  ${t.target}: ${t.value}`);
    const files = writeResults(results);
    say(`\nwritten: ${files.join(', ')}`);
    if (bench.errors.length > 0) {
      failed = true;
      say(`\n${bench.errors.length} scenario(s) failed:\n${bench.errors.map((e) => `  - ${e}`).join('\n')}`);
      process.exitCode = 1;
    }
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    await cleanup.run();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
