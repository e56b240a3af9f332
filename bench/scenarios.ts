// The scenarios of `npm run bench`: start-up, single failover, noise and burst, each
// against the ideal watcher and the label loop where they apply.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from '../plane/paths.js';
import { analyseBurst, analyseReps, batonTracer, idealTracer, loopTracer, requestLines } from './analysis.js';
import { FAILOVER_USER, auditMark, countBy, readAudit } from './audit.js';
import { burstNames, runBurst, setupBatonBurst, setupIdealBurst, type BurstResult } from './burst.js';
import { startIdeal, IDEAL_POD_LABEL } from './ideal.js';
import { startLabelLoop, ROLE_LABEL } from './label-loop.js';
import { offerNoise, wireEvent, type NoiseTemplate } from './noise.js';
import { deliver, spawnFunction, type Delivery, type RunningFunction } from './processes.js';
import type { ApproachFigures, NoiseFigures, StartupFigures, StartupRun } from './results.js';
import { runSingle, type SingleContext } from './single.js';
import { exactly } from './slices.js';
import { subjectIs, type Sink } from './sink.js';
import { median, ms, now, round, sleep, summarize, within } from './util.js';
import { createDeployment, createService, labelPod } from './workloads.js';
import { COMPLETED, guarded, NOISE_CONCURRENCY, NS, say, SERVICE, SETTLE_MS, STARTUP_RUNS, type Bench } from './context.js';

// ---------------------------------------------------------------- scenario 5

/** Spawn → exit of `node <args>`: what starting Node and loading modules costs on this machine, right now. */
async function timeSpawn(args: readonly string[]): Promise<number> {
  const started = now();
  const child = spawn(process.execPath, args, { stdio: 'ignore' });
  const code = await within(`node ${args.join(' ')} to exit`, 30_000, new Promise<number | null>((resolve) => child.once('exit', resolve))).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  });
  if (code !== 0) throw new Error(`node ${args.join(' ')} exited with ${code}`);
  return now() - started;
}

export async function startupScenario(bench: Bench, templates: readonly NoiseTemplate[]): Promise<StartupFigures> {
  say('\n— start-up: process start → /readyz 200 → first event handled');
  const entry = pathToFileURL(join(repoRoot(), 'dist', 'functions', 'failover', 'main.js')).href;
  const boots: number[] = [];
  const imports: number[] = [];
  for (let i = 0; i < 3; i++) {
    boots.push(await timeSpawn(['-e', '']));
    imports.push(await timeSpawn(['--input-type=module', '-e', `await import(${JSON.stringify(entry)})`]));
  }
  const nodeBootMs = round(median(boots));
  const importMs = round(median(imports));
  say(`  reference: node -e '' ${ms(nodeBootMs)}; node importing the failover modules ${ms(importMs)} (spawn → exit, medians of 3)`);
  const runs: StartupRun[] = [];
  let peak = 0;
  for (let i = 1; i <= STARTUP_RUNS; i++) {
    const from = auditMark(bench.auditLog);
    const fn = await spawnFunction({
      fn: 'failover',
      logFile: join(bench.plane.dir, 'logs', `baton-failover-startup-${i}.log`),
      env: { KUBECONFIG: bench.failoverKubeconfig, BATON_INDEX_REFRESH_MS: '3600000' },
    });
    let reply: Delivery;
    let done: number;
    try {
      reply = await deliver(fn.url, wireEvent(templates[i % templates.length]!, bench.plane.server));
      done = now();
      peak = Math.max(peak, fn.peakRssMb());
    } finally {
      await fn.stop();
    }
    const first = readAudit(bench.auditLog, from)
      .filter((r) => r.user === FAILOVER_USER)
      .sort((a, b) => a.received - b.received)[0];
    const run: StartupRun = {
      firstRequestMs: round(first ? first.received - fn.spawnedAt : Number.NaN),
      indexListMs: round(first ? first.completed - first.received : Number.NaN),
      readyMs: round(fn.readyAt - fn.spawnedAt),
      firstEventMs: round(done - fn.readyAt),
      totalMs: round(done - fn.spawnedAt),
      outcome: `${reply.status} ${reply.outcome ?? ''}`.trim(),
    };
    runs.push(run);
    say(`  run ${i}: first API request ${ms(run.firstRequestMs)} after spawn (index list ${ms(run.indexListMs)}), ready ${ms(run.readyMs)}, first event handled ${ms(run.firstEventMs)} later (${run.outcome}); total ${ms(run.totalMs)}`);
  }
  return {
    runs,
    nodeBootMs,
    importMs,
    ready: summarize(runs.map((r) => r.readyMs)),
    firstEvent: summarize(runs.map((r) => r.firstEventMs)),
    total: summarize(runs.map((r) => r.totalMs)),
    peakRssMb: round(peak),
  };
}

// ---------------------------------------------------------------- scenarios 1 and 4

export async function singleScenario(bench: Bench, baton: RunningFunction, sink: Sink): Promise<ApproachFigures[]> {
  const { api, kc, slices, opts, cleanup } = bench;
  const ctx: SingleContext = { api, slices, auditLog: bench.auditLog, settleMs: SETTLE_MS, log: say };
  const out: ApproachFigures[] = [];
  say('\n— single failover: Ready=False written → referee sees only the new pod ready');

  // Every approach gets the same workload: a 3-replica Deployment behind one Service.
  const [idealPods, batonPods, loop1Pods, loop10Pods] = await Promise.all([NS.ideal, NS.baton, NS.loop1s, NS.loop10s].map((ns) => createDeployment(api, ns, 'app', 3)));

  const report = (figures: ApproachFigures): void => {
    out.push(figures);
    const l = figures.latency;
    say(`  ${figures.label}: p50 ${ms(l.p50)}, p90 ${ms(l.p90)}, p99 ${ms(l.p99)}, max ${ms(l.max)} (n=${l.n})`);
    for (const s of figures.analysis.breakdown.segments) say(`      ${s.label.padEnd(44)} p50 ${ms(s.p50).padStart(8)}  p90 ${ms(s.p90).padStart(8)}`);
    const c = figures.analysis.cost;
    say(`      API requests per failover (median): ${c.total} total (${c.reads} reads, ${c.writes} writes); critical path ${c.critical} (${c.criticalReads} reads, ${c.criticalWrites} writes)`);
  };

  await guarded(bench, 'single failover: ideal', async () => {
    for (const p of idealPods!) await labelPod(api, NS.ideal, p, { [IDEAL_POD_LABEL]: p });
    await createService(api, NS.ideal, SERVICE, { app: 'app' });
    const ideal = await startIdeal(kc, api, NS.ideal);
    cleanup.defer('the ideal watcher', () => ideal.stop());
    await ideal.adopt(SERVICE, 'app', idealPods![0]!);
    await slices.until(NS.ideal, SERVICE, `only ${idealPods![0]!} ready`, exactly([idealPods![0]!]), 0, 15_000);
    say(`ideal (in-process pod watch → one Service PATCH), ${opts.reps} reps`);
    const reps = await runSingle(ctx, { label: 'ideal', namespace: NS.ideal, service: SERVICE, failoverTimeoutMs: 10_000 }, opts.reps);
    ideal.stop();
    if (ideal.errors.length > 0) bench.errors.push(`ideal watcher: ${ideal.errors.join('; ')}`);
    report({ key: 'ideal', label: 'ideal', latency: summarize(reps.map((r) => r.latencyMs)), samples: reps.map((r) => round(r.latencyMs, 2)), note: 'in-process watch, one PATCH, no reads', analysis: analyseReps(reps, bench.auditLog, SERVICE, idealTracer(NS.ideal, ideal.switches)) });
  });

  await guarded(bench, 'single failover: baton', async () => {
    // Zero-window opt-in: the Service routes to nothing until baton has chosen.
    await createService(api, NS.baton, SERVICE, { app: 'app', 'baton.dev/pod-id': 'none' }, { 'baton.dev/mode': 'active-standby' });
    await slices.until(NS.baton, SERVICE, 'one ready pod chosen by baton', (r) => r.length === 1, 0, 20_000);
    await sink.until('baton adoption completed (term 1)', (e) => e.type === COMPLETED && subjectIs(NS.baton, SERVICE)(e), 20_000);
    await baton.quiet(1_000, 30_000);
    say(`baton (adapter → baton-failover → one CAS PATCH), ${opts.reps} reps; pods ${batonPods!.join(', ')}`);
    const reps = await runSingle(
      ctx,
      {
        label: 'baton',
        namespace: NS.baton,
        service: SERVICE,
        failoverTimeoutMs: 10_000,
        // "completed" is baton's own last write of a failover; the next repetition must not overlap it.
        afterFailover: (rep) => sink.until(`completed after ${rep.old} failed`, (e) => e.type === COMPLETED && subjectIs(NS.baton, SERVICE)(e) && e.at >= rep.sentAt, 10_000).then(() => undefined),
      },
      opts.reps,
    );
    const lines = requestLines(baton.logLines());
    report({ key: 'baton', label: 'baton', latency: summarize(reps.map((r) => r.latencyMs)), samples: reps.map((r) => round(r.latencyMs, 2)), note: 'real ApiServerSource adapter → baton-failover (ServiceAccount RBAC)', analysis: analyseReps(reps, bench.auditLog, SERVICE, batonTracer(NS.baton, lines)) });
  });

  const loop = async (key: 'loop1s' | 'loop10s', ns: string, pods: readonly string[], intervalMs: number, reps: number): Promise<void> => {
    await createService(api, ns, SERVICE, { app: 'app', [ROLE_LABEL]: 'active' });
    const runFor = (reps + 2) * (intervalMs + 15_000);
    const l = await startLabelLoop(api, { namespace: ns, pods, intervalMs, maxRunMs: runFor });
    cleanup.defer(`the ${intervalMs / 1000} s label loop`, () => l.stop());
    try {
      await slices.until(ns, SERVICE, `only ${pods[0]!} ready`, exactly([pods[0]!]), 0, 15_000);
      say(`label loop every ${intervalMs / 1000} s (GET each pod; PATCH old role=passive, then new role=active), ${reps} reps`);
      const done = await runSingle(ctx, { label: `loop ${intervalMs / 1000} s`, namespace: ns, service: SERVICE, failoverTimeoutMs: intervalMs * 2 + 5_000, randomDelayMs: intervalMs }, reps);
      await l.stop();
      if (l.errors.length > 0) bench.errors.push(`label loop ${intervalMs / 1000} s: ${l.errors.slice(0, 3).join('; ')}`);
      const note = key === 'loop10s' ? `the published interval; only ${reps} rep${reps === 1 ? '' : 's'} (each waits up to 10 s)` : 'the loop at 1 s';
      report({ key, label: `label loop ${intervalMs / 1000} s`, latency: summarize(done.map((r) => r.latencyMs)), samples: done.map((r) => round(r.latencyMs, 2)), note, analysis: analyseReps(done, bench.auditLog, SERVICE, loopTracer(ns, l.switches)) });
    } finally {
      await l.stop();
    }
  };
  await guarded(bench, 'single failover: label loop 1 s', () => loop('loop1s', NS.loop1s, loop1Pods!, 1_000, opts.reps));
  await guarded(bench, 'single failover: label loop 10 s', () => loop('loop10s', NS.loop10s, loop10Pods!, 10_000, opts.loop10Reps));
  return out;
}

// ---------------------------------------------------------------- scenario 3

export async function noiseScenario(bench: Bench, templates: readonly NoiseTemplate[]): Promise<NoiseFigures> {
  const { opts, plane } = bench;
  say(`\n— noise: irrelevant pod events, ${NOISE_CONCURRENCY} in flight, ${opts.noiseSeconds} s, to a dedicated baton-failover instance`);
  const fn = await spawnFunction({
    fn: 'failover',
    logFile: join(plane.dir, 'logs', 'baton-failover-noise.log'),
    env: { KUBECONFIG: bench.failoverKubeconfig, BATON_INDEX_REFRESH_MS: '3600000' },
    ...(opts.cpuProf ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProf}`] } : {}),
  });
  bench.cleanup.defer('the noise instance', () => fn.stop());
  try {
    // A warm instance is the steady state worth measuring; the first second includes JIT warm-up.
    await offerNoise(fn.url, templates, plane.server, 1, NOISE_CONCURRENCY);
    await sleep(500);
    const from = auditMark(bench.auditLog);
    const cpuBefore = fn.cpuSeconds();
    const benchCpuBefore = process.cpuUsage();
    const result = await offerNoise(fn.url, templates, plane.server, opts.noiseSeconds, NOISE_CONCURRENCY);
    const cpuSeconds = fn.cpuSeconds() - cpuBefore;
    const benchCpu = process.cpuUsage(benchCpuBefore);
    // Anything the instance might still send because of the stream would land here.
    await sleep(1_000);
    const requests = readAudit(bench.auditLog, from).filter((r) => r.user === FAILOVER_USER);
    const figures: NoiseFigures = {
      ...result,
      perSecond: round(result.perSecond),
      seconds: round(result.seconds, 2),
      cpuSeconds: round(cpuSeconds, 2),
      cpuPerEventUs: round((cpuSeconds / Math.max(1, result.ignored)) * 1e6),
      coresUsed: round(cpuSeconds / result.seconds, 2),
      generatorCpuSeconds: round((benchCpu.user + benchCpu.system) / 1e6, 2),
      peakRssMb: round(fn.peakRssMb()),
      apiRequests: requests.length,
      apiRequestKinds: countBy(requests),
    };
    say(`  handled ${figures.ignored} events in ${figures.seconds} s = ${figures.perSecond} events/s (all "ignored": ${Object.keys(figures.otherOutcomes).length === 0 && figures.errors === 0 ? 'yes' : `no: ${JSON.stringify(figures.otherOutcomes)}, ${figures.errors} errors`})`);
    say(`  reply p50 ${ms(figures.replyMs.p50)}, p99 ${ms(figures.replyMs.p99)}; function CPU ${figures.cpuSeconds} s (${figures.coresUsed} cores, ${figures.cpuPerEventUs} µs/event); load generator CPU ${figures.generatorCpuSeconds} s`);
    say(`  peak RSS ${figures.peakRssMb} MB; API requests by baton-failover in the window (audit log): ${figures.apiRequests}`);
    return figures;
  } finally {
    await fn.stop();
  }
}

// ---------------------------------------------------------------- scenario 2

export async function burstScenario(bench: Bench, sink: Sink, batonFn: RunningFunction): Promise<{ baton?: BurstResult; ideal?: BurstResult }> {
  const { api, kc, slices, opts, plane, cleanup } = bench;
  const names = burstNames(opts.burst);
  say(`\n— burst: ${opts.burst} Services (2 bare pods each) lose their active at once`);
  const out: { baton?: BurstResult; ideal?: BurstResult } = {};
  const print = (label: string, r: BurstResult): void => {
    say(`  ${label}: all ${r.services} converged ${ms(r.convergedMs)} after the first write (writes acknowledged within ${ms(r.writesDoneMs)}${r.throttled ? `, ${r.throttled} throttled and retried` : ''}); per Service p50 ${ms(r.latency.p50)}, p90 ${ms(r.latency.p90)}, p99 ${ms(r.latency.p99)}, max ${ms(r.latency.max)}`);
    for (const seg of r.breakdown?.segments ?? []) say(`      ${seg.label.padEnd(44)} p50 ${ms(seg.p50).padStart(8)}  p90 ${ms(seg.p90).padStart(8)}`);
    if (r.handlerMs) say(`      baton's reply time per pod event (the adapter sends the next one only after it): p50 ${ms(r.handlerMs.p50)}, p90 ${ms(r.handlerMs.p90)}`);
  };

  const baton = await guarded(bench, 'burst: baton', async () => {
    const setupStarted = Date.now();
    await setupBatonBurst(api, NS.burstBaton, names);
    await Promise.all(names.map((s) => sink.until(`baton to adopt ${NS.burstBaton}/${s}`, (e) => e.type === COMPLETED && subjectIs(NS.burstBaton, s)(e), 180_000)));
    // Adoption labels every pod, and each label is another pod event in the adapter's
    // queue: let that queue drain, or the burst would wait behind the setup.
    await batonFn.quiet(2_000, 180_000);
    say(`  baton adopted ${names.length} Services and went quiet (${((Date.now() - setupStarted) / 1000).toFixed(1)} s of setup)`);
    const run = await runBurst(plane, slices, bench.auditLog, { namespace: NS.burstBaton, services: names }, 60_000);
    const lines = requestLines(batonFn.logLines());
    const olds = new Set(run.traces.map((t) => `/namespaces/${NS.burstBaton}/pods/${t.old}`));
    const handled = lines.filter((l) => l.arrivedAt >= Math.min(...run.traces.map((t) => t.sentAt)) - 5 && [...olds].some((o) => l.subject.endsWith(o)));
    return {
      ...run.result,
      breakdown: analyseBurst(run.traces, readAudit(bench.auditLog, run.auditFrom, run.auditTo), batonTracer(NS.burstBaton, lines)),
      handlerMs: summarize(handled.map((l) => l.durationMs)),
    };
  });
  if (baton) {
    out.baton = baton;
    print('baton', baton);
  }

  const ideal = await guarded(bench, 'burst: ideal', async () => {
    const watcher = await startIdeal(kc, api, NS.burstIdeal);
    cleanup.defer('the burst ideal watcher', () => watcher.stop());
    try {
      await setupIdealBurst(api, NS.burstIdeal, names, watcher);
      await sleep(1_000);
      const run = await runBurst(plane, slices, bench.auditLog, { namespace: NS.burstIdeal, services: names }, 60_000);
      return { ...run.result, breakdown: analyseBurst(run.traces, readAudit(bench.auditLog, run.auditFrom, run.auditTo), idealTracer(NS.burstIdeal, watcher.switches)) };
    } finally {
      watcher.stop();
    }
  });
  if (ideal) {
    out.ideal = ideal;
    print('ideal', ideal);
  }
  return out;
}
