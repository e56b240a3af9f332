// The chaos script: which Services exist and which actions run, in which order, with
// which pauses. A pure function of (seed, steps, services); its digest lets two runs
// prove they played the same script. Which concrete pod an action hits is resolved at
// run time (e.g. "the active of svc-07"), and fault rolls depend on event arrival
// order, so two runs are the same script, not the same trace.
import { createHash } from 'node:crypto';
import { rng } from './random.js';

export const MODE = 'baton.dev/mode';
export const POD_ID = 'baton.dev/pod-id';
export const ACTIVE = 'baton.dev/active';
export const TERM = 'baton.dev/term';
export const SWITCHOVER_TO = 'baton.dev/switchover-to';

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
