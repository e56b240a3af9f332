// `npm run bench`: failover speed and cost of baton against the ideal watcher and the
// label-toggling loop, on one local control plane, in one run. Figures are printed as
// they come and written to bench/results/<date>.{json,md} and <date>-latency.svg.
//   node dist/bench/run.js [--reps N] [--burst N] [--noise-seconds S] [--loop10-reps N] [--quick]
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { startAdapter } from '../plane/adapter.js';
import { repoRoot } from '../plane/paths.js';
import { startPlane, stopPlane, type PlaneState } from '../plane/plane.js';
import { installRbac, serviceAccountKubeconfig } from '../test/e2e/support/baton.js';
import { analyseBurst, analyseReps, batonTracer, idealTracer, loopTracer, requestLines } from './analysis.js';
import { connectApi, type Api } from './api.js';
import { FAILOVER_USER, auditMark, countBy, readAudit } from './audit.js';
import { burstNames, runBurst, setupBatonBurst, setupIdealBurst, type BurstResult } from './burst.js';
import { startIdeal, IDEAL_POD_LABEL } from './ideal.js';
import { startLabelLoop, ROLE_LABEL } from './label-loop.js';
import { describeMachine } from './machine.js';
import { noiseTemplates, offerNoise, wireEvent, type NoiseTemplate, type PodObject } from './noise.js';
import { deliver, killRemaining, spawnFunction, type Delivery, type RunningFunction } from './processes.js';
import { checkTargets, writeResults } from './report.js';
import type { ApproachFigures, NoiseFigures, Ratios, Results, StartupFigures, StartupRun } from './results.js';
import { runSingle, type SingleContext } from './single.js';
import { watchSlices, exactly, type SliceWatch } from './slices.js';
import { startSink, subjectIs, type Sink } from './sink.js';
import { errorText, median, ms, now, poll, round, sleep, summarize, within } from './util.js';
import { createDeployment, createNamespace, createService, labelPod } from './workloads.js';

const SCENARIOS = ['startup', 'single', 'noise', 'burst'] as const;
type Scenario = (typeof SCENARIOS)[number];

interface Options {
  readonly reps: number;
  readonly loop10Reps: number;
  readonly burst: number;
  readonly noiseSeconds: number;
  readonly quick: boolean;
  readonly only: readonly Scenario[];
  /** Appended to the result file names of a run that is not the full default one. */
  readonly tag: string;
  /** Where to copy the plane's logs (audit log, function and adapter logs) before it stops. */
  readonly logs: string | undefined;
  /** Where the noise instance writes a V8 CPU profile. */
  readonly cpuProf: string | undefined;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      reps: { type: 'string' },
      burst: { type: 'string' },
      'noise-seconds': { type: 'string' },
      'loop10-reps': { type: 'string' },
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      logs: { type: 'string' },
      'cpu-prof': { type: 'string' },
    },
    strict: true,
  });
  const int = (name: string, text: string | undefined, fallback: number, max: number): number => {
    if (text === undefined) return fallback;
    if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > max) throw new Error(`--${name} takes a whole number from 1 to ${max} (got ${JSON.stringify(text)})`);
    return Number(text);
  };
  const only = (values.only ?? SCENARIOS.join(',')).split(',').map((s) => s.trim());
  const unknown = only.filter((s) => !(SCENARIOS as readonly string[]).includes(s));
  if (unknown.length > 0) throw new Error(`--only takes a comma-separated list of ${SCENARIOS.join(', ')} (got ${unknown.join(', ')})`);
  const partial = values.only !== undefined;
  const quick = values.quick === true;
  return {
    quick,
    reps: int('reps', values.reps, quick ? 5 : 50, 1000),
    burst: int('burst', values.burst, quick ? 20 : 200, 500),
    noiseSeconds: int('noise-seconds', values['noise-seconds'], quick ? 2 : 10, 120),
    // Each repetition of the 10 s loop costs up to 10 s of waiting for its tick.
    loop10Reps: int('loop10-reps', values['loop10-reps'], quick ? 1 : 5, 100),
    only: only as Scenario[],
    tag: [quick ? 'quick' : '', partial ? only.join('+') : ''].filter(Boolean).join('-'),
    logs: values.logs,
    cpuProf: values['cpu-prof'],
  };
}

const NS = {
  ideal: 'bench-ideal',
  baton: 'bench-baton',
  loop1s: 'bench-loop1s',
  loop10s: 'bench-loop10s',
  noise: 'bench-noise',
  burstBaton: 'bench-burst-baton',
  burstIdeal: 'bench-burst-ideal',
} as const;

const SERVICE = 'app';
const COMPLETED = 'dev.baton.failover.completed';
const NOISE_CONCURRENCY = 64;
const STARTUP_RUNS = 5;
const SETTLE_MS = 300;

function localDate(): string {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

const say = (line: string): void => void process.stdout.write(`${line}\n`);

/** Stop actions, run last-in first-out exactly once, whether the run succeeds, fails or is interrupted. */
class Cleanup {
  private readonly stack: Array<{ what: string; run: () => Promise<void> | void }> = [];
  private done: Promise<void> | undefined;
  defer(what: string, run: () => Promise<void> | void): void {
    // Registered after tear-down began (an interrupt mid-start): stop it at once.
    if (this.done) void within(`stopping ${what}`, 20_000, Promise.resolve(run())).catch(() => undefined);
    else this.stack.push({ what, run });
  }
  run(): Promise<void> {
    this.done ??= (async () => {
      while (this.stack.length > 0) {
        const { what, run } = this.stack.pop()!;
        try {
          await within(`stopping ${what}`, 20_000, Promise.resolve(run()));
        } catch (error) {
          say(`warning: could not stop ${what}: ${errorText(error)}`);
        }
      }
    })();
    return this.done;
  }
}

interface Bench {
  readonly opts: Options;
  readonly plane: PlaneState;
  readonly api: Api;
  readonly kc: k8s.KubeConfig;
  readonly slices: SliceWatch;
  readonly auditLog: string;
  readonly failoverKubeconfig: string;
  readonly cleanup: Cleanup;
  readonly errors: string[];
}

async function main(): Promise<void> {
  const opts = options();
  const started = Date.now();
  const cleanup = new Cleanup();
  let failed = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      say(`\n${signal}: stopping everything the bench started…`);
      void cleanup.run().finally(() => process.exit(130));
    });
  }
  // Last resort for a function process started while the run was being torn down.
  process.once('exit', killRemaining);
  const dir = mkdtempSync(join(tmpdir(), 'baton-bench-plane-'));
  // test/e2e/support finds the plane through this variable.
  process.env.BATON_TEST_PLANE = dir;
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
    const plane = await startPlane({ dir, nodes: 2, auditLog: true, progress: (m) => say(`[plane ${((Date.now() - t0) / 1000).toFixed(1)} s] ${m}`) });
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
      namespaces: [NS.baton, NS.burstBaton],
    });
    cleanup.defer('the ApiServerSource adapter', () => adapter.stop());
    await adapterDelivers(api, baton, NS.baton);
    say('adapter → baton-failover pipeline is delivering events');

    const single = opts.only.includes('single') ? await singleScenario(bench, baton, sink) : [];
    const noise = opts.only.includes('noise') ? await guarded(bench, 'noise', () => noiseScenario(bench, templates)) : undefined;
    const burst = opts.only.includes('burst') ? await burstScenario(bench, sink, baton) : {};
    const batonPeakRssMb = round(baton.peakRssMb());

    const byKey = new Map(single.map((a) => [a.key, a]));
    const b = byKey.get('baton')?.latency;
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
          }
        : undefined;
    if (ratios) {
      say(`\nratios: baton/ideal p50 ${ratios.batonToIdealP50}×, p99 ${ratios.batonToIdealP99}×; baton/loop-1s p50 ${ratios.batonToLoop1sP50}×, p99 ${ratios.batonToLoop1sP99}×; baton/loop-10s p50 ${ratios.batonToLoop10sP50}×`);
    }

    const partial = {
      date: localDate(),
      startedAt: new Date(started).toISOString(),
      durationS: Math.round((Date.now() - started) / 1000),
      options: { reps: opts.reps, loop10Reps: opts.loop10Reps, burst: opts.burst, noiseSeconds: opts.noiseSeconds, quick: opts.quick, only: opts.only, tag: opts.tag },
      machine,
      loadAtEnd: round(loadavg()[0]!, 2),
      single,
      ratios,
      burst,
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

/** A scenario that fails is reported and the others still run: one broken figure should not cost the rest. */
async function guarded<T>(bench: Bench, name: string, run: () => Promise<T>): Promise<T | undefined> {
  try {
    return await run();
  } catch (error) {
    bench.errors.push(`${name}: ${errorText(error)}`);
    say(`\n${name} FAILED: ${errorText(error)}`);
    return undefined;
  }
}

/** The adapter starts its informers asynchronously: touch a canary until baton logs its event. */
async function adapterDelivers(api: Api, fn: RunningFunction, namespace: string): Promise<void> {
  await createService(api, namespace, 'canary', { app: 'canary' });
  let n = 0;
  await poll(
    'the adapter to deliver events to baton-failover',
    async () => {
      await api.patch(`/api/v1/namespaces/${namespace}/services/canary`, { metadata: { annotations: { touch: String(n++) } } }, 'merge');
      await sleep(150);
      return fn.logLines().some((l) => l.includes(`/namespaces/${namespace}/services/canary`)) ? true : undefined;
    },
    30_000,
    50,
  );
}

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

async function startupScenario(bench: Bench, templates: readonly NoiseTemplate[]): Promise<StartupFigures> {
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

async function singleScenario(bench: Bench, baton: RunningFunction, sink: Sink): Promise<ApproachFigures[]> {
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

async function noiseScenario(bench: Bench, templates: readonly NoiseTemplate[]): Promise<NoiseFigures> {
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

async function burstScenario(bench: Bench, sink: Sink, batonFn: RunningFunction): Promise<{ baton?: BurstResult; ideal?: BurstResult }> {
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

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});

