// What the scenarios of `npm run bench` share: the options, namespaces and constants,
// the run's handle (Bench), and the stop actions that run however the bench ends.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import type { PlaneState } from '../plane/state.js';
import type { Api } from './api.js';
import { killRemaining, type RunningFunction } from './processes.js';
import type { SliceWatch } from './slices.js';
import { errorText, poll, sleep, within } from './util.js';
import { createService } from './workloads.js';

export const SCENARIOS = ['startup', 'single', 'noise', 'burst'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface Options {
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
  /** Adds the real node, Knative and the column of baton deployed on it (skaffold, Broker). */
  readonly knative: boolean;
  /** Failovers from zero pods in the Knative column; each waits for a scale to zero (about 40 s). */
  readonly coldReps: number;
}

export function options(): Options {
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
      knative: { type: 'boolean', default: false },
      'cold-reps': { type: 'string' },
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
    tag: [quick ? 'quick' : '', partial ? only.join('+') : '', values.knative === true ? 'with-knative' : ''].filter(Boolean).join('-'),
    logs: values.logs,
    cpuProf: values['cpu-prof'],
    knative: values.knative === true,
    coldReps: int('cold-reps', values['cold-reps'], quick ? 1 : 5, 50),
  };
}

export const NS = {
  ideal: 'bench-ideal',
  baton: 'bench-baton',
  loop1s: 'bench-loop1s',
  loop10s: 'bench-loop10s',
  noise: 'bench-noise',
  burstBaton: 'bench-burst-baton',
  burstIdeal: 'bench-burst-ideal',
  direct: 'bench-direct',
  burstDirect: 'bench-burst-direct',
  burstDirectBroker: 'bench-burst-direct-broker',
} as const;

export const SERVICE = 'app';
export const COMPLETED = 'dev.baton.failover.completed';
export const NOISE_CONCURRENCY = 64;
export const STARTUP_RUNS = 5;
export const SETTLE_MS = 300;

export function localDate(): string {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

export const say = (line: string): void => void process.stdout.write(`${line}\n`);

/** Stop actions, run last-in first-out exactly once, whether the run succeeds, fails or is interrupted. */
export class Cleanup {
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

/**
 * What every bench script sets up first: a teardown that runs on SIGINT and SIGTERM,
 * a last-resort kill of function processes at exit, and a fresh plane folder, which
 * test/e2e/support finds through BATON_TEST_PLANE.
 */
export function benchRun(name: string): { readonly cleanup: Cleanup; readonly dir: string } {
  const cleanup = new Cleanup();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      say(`\n${signal}: stopping everything this run started…`);
      void cleanup.run().finally(() => process.exit(130));
    });
  }
  process.once('exit', killRemaining);
  const dir = mkdtempSync(join(tmpdir(), `baton-${name}-plane-`));
  process.env.BATON_TEST_PLANE = dir;
  return { cleanup, dir };
}

export interface Bench {
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

/** A scenario that fails is reported and the others still run: one broken figure should not cost the rest. */
export async function guarded<T>(bench: Bench, name: string, run: () => Promise<T>): Promise<T | undefined> {
  try {
    return await run();
  } catch (error) {
    bench.errors.push(`${name}: ${errorText(error)}`);
    say(`\n${name} FAILED: ${errorText(error)}`);
    return undefined;
  }
}

/** The adapter starts its informers asynchronously: touch a canary until baton logs its event. */
export async function adapterDelivers(api: Api, fn: RunningFunction, namespace: string): Promise<void> {
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
