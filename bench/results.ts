// The shape of one bench run, as written to bench/results/<date>.json.
import type { Analysis } from './analysis.js';
import type { BurstResult } from './burst.js';
import type { Machine } from './machine.js';
import type { NoiseResult } from './noise.js';
import type { Summary } from './util.js';

export type ApproachKey = 'ideal' | 'baton' | 'direct' | 'knative' | 'knativeCold' | 'loop1s' | 'loop10s';

export interface ApproachFigures {
  readonly key: ApproachKey;
  readonly label: string;
  readonly latency: Summary;
  readonly samples: readonly number[];
  readonly note: string;
  readonly analysis: Analysis;
}

export interface NoiseFigures extends NoiseResult {
  readonly cpuSeconds: number;
  readonly cpuPerEventUs: number;
  /** Function CPU time over wall time. */
  readonly coresUsed: number;
  readonly generatorCpuSeconds: number;
  readonly peakRssMb: number;
  readonly apiRequests: number;
  readonly apiRequestKinds: Readonly<Record<string, number>>;
}

export interface StartupRun {
  /** Spawn → the index's first API request reaching the server: Node start, module loading, config. */
  readonly firstRequestMs: number;
  /** That request (the list of opted-in Services), at the server. */
  readonly indexListMs: number;
  readonly readyMs: number;
  readonly firstEventMs: number;
  readonly totalMs: number;
  readonly outcome: string;
}

export interface StartupFigures {
  readonly runs: readonly StartupRun[];
  /** `node -e ''`: spawn → exit, the floor for any Node process on this machine now. */
  readonly nodeBootMs: number;
  /** Spawn → exit of a Node process that only imports the failover function's modules. */
  readonly importMs: number;
  readonly ready: Summary;
  readonly firstEvent: Summary;
  readonly total: Summary;
  readonly peakRssMb: number;
}

export interface Ratios {
  readonly batonToIdealP50: number;
  readonly batonToIdealP99: number;
  readonly batonToLoop1sP50: number;
  readonly batonToLoop1sP99: number;
  readonly batonToLoop10sP50: number;
  /** Direct mode against the ideal watcher (the targets: p50 ≤ 0.9×, p99 < 1×). */
  readonly directToIdealP50?: number;
  readonly directToIdealP99?: number;
}

export interface TargetCheck {
  readonly target: string;
  readonly value: string;
  readonly met: boolean;
}

export interface Results {
  readonly date: string;
  readonly startedAt: string;
  readonly durationS: number;
  readonly options: {
    readonly reps: number;
    readonly loop10Reps: number;
    readonly burst: number;
    readonly noiseSeconds: number;
    readonly quick: boolean;
    readonly only: readonly string[];
    /** Suffix of the file names; empty for the full default run. */
    readonly tag: string;
    readonly knative?: boolean;
    readonly coldReps?: number;
  };
  readonly machine: Machine;
  /** 1-minute load average when the run ended (machine.loadAtStart is the other end). */
  readonly loadAtEnd: number;
  readonly single: readonly ApproachFigures[];
  readonly ratios: Ratios | undefined;
  /** directBroker: direct mode with a Broker stand-in between the adapter and baton. */
  readonly burst: { readonly baton?: BurstResult; readonly direct?: BurstResult; readonly directBroker?: BurstResult; readonly knative?: BurstResult; readonly ideal?: BurstResult };
  /** With --knative: `skaffold run -p plane` until everything it made was Ready. */
  readonly knative?: { readonly deploySeconds: number } | undefined;
  readonly noise: NoiseFigures | undefined;
  readonly startup: StartupFigures | undefined;
  /** Peak RSS of the adapter-fed failover instance over the whole run. */
  readonly batonPeakRssMb: number | undefined;
  readonly targets: readonly TargetCheck[];
  readonly errors: readonly string[];
}
