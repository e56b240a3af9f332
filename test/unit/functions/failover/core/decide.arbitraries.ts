// The generators the decide properties draw from: pods, Services, selectors and names.
import fc from 'fast-check';
import { decide } from '../../../../../functions/failover/core/decide.js';
import { type Plan, type PodLabelWrite, type PodView, type ServiceView } from '../../../../../functions/failover/core/model.js';
import { MODE_VALUE } from '../../../../../shared/keys.js';
import { keys, NOW, NS } from './fixtures.js';

export const RUNS = { numRuns: 300 };

export const NAMES = ['a', 'b', 'c', 'd', 'e', 'f'] as const;

/** Every generated opted-in Service selects with exactly this, so the oracle can too. */
export const USER_SELECTOR = { app: 'web' } as const;

// Oracles written independently of the code under test.
export const healthy = (p: PodView): boolean => p.phase === 'Running' && p.ready && !p.deleting;

export const candidate = (p: PodView): boolean => p.namespace === NS && p.labels.app === 'web';

export function podArbs() {
  return {
    name: fc.constantFrom(...NAMES),
    uidSuffix: fc.constantFrom('1', '2'),
    namespace: fc.constantFrom(NS, NS, NS, 'other'),
    app: fc.constantFrom('web', 'web', 'web', 'db', undefined),
    tier: fc.option(fc.constantFrom('front', 'back'), { nil: undefined }),
    idLabel: fc.constantFrom('none', 'own', 'wrong'),
    role: fc.option(fc.constantFrom('active', 'standby'), { nil: undefined }),
    priority: fc.option(fc.constantFrom('0', '5', '10', '-3', 'high', '99999999'), { nil: undefined }),
    phase: fc.constantFrom('Running', 'Running', 'Running', 'Pending', 'Failed'),
    ready: fc.constantFrom(true, true, false),
    deleting: fc.constantFrom(false, false, false, true),
    // Few distinct times, so ranking ties (and the name/uid tie-breaks) actually occur.
    readySince: fc.option(fc.constantFrom(100, 200), { nil: undefined }),
    createdAt: fc.constantFrom(0, 1),
  };
}

/**
 * Mostly healthy candidates with identical ranking keys: only the name/uid tie-breaks
 * separate them, which is where order dependence would hide.
 */
export const tied: Partial<ReturnType<typeof podArbs>> = {
  namespace: fc.constant(NS),
  app: fc.constant('web'),
  phase: fc.constant('Running'),
  ready: fc.constantFrom(true, true, true, false),
  deleting: fc.constantFrom(false, false, false, true),
  priority: fc.constantFrom(undefined, '5'),
  readySince: fc.constant(100),
  createdAt: fc.constant(0),
};

export function arbPod(overrides: Partial<ReturnType<typeof podArbs>> = {}): fc.Arbitrary<PodView> {
  return fc.record({ ...podArbs(), ...overrides }).map((r) => {
    const uid = `uid-${r.name}-${r.uidSuffix}`;
    const labels: Record<string, string> = {};
    if (r.app !== undefined) labels.app = r.app;
    if (r.tier !== undefined) labels.tier = r.tier;
    if (r.idLabel === 'own') labels[keys.podId] = uid;
    if (r.idLabel === 'wrong') labels[keys.podId] = 'uid-stale';
    if (r.role !== undefined) labels[keys.role] = r.role;
    const annotations: Record<string, string> = r.priority === undefined ? {} : { [keys.priority]: r.priority };
    return {
      name: r.name,
      namespace: r.namespace,
      uid,
      labels,
      annotations,
      phase: r.phase,
      ready: r.ready,
      readySince: r.ready ? (r.readySince === undefined ? undefined : NOW - r.readySince) : undefined,
      createdAt: NOW - 10_000 + r.createdAt,
      deleting: r.deleting,
    };
  });
}

export interface World {
  readonly service: ServiceView;
  readonly pods: PodView[];
  readonly now: number;
  readonly optedIn: boolean;
  readonly validConfig: boolean;
  readonly failback: boolean;
  readonly switchoverRequested: boolean;
  /** The uid the selector routes to, if any. */
  readonly selectedUid: string | undefined;
}

/** Field arbitraries for the Service; a property narrows some to build its precondition. */
export function shapeArbs(podCount: number) {
  return {
    optedIn: fc.constantFrom(true, true, true, false),
    recorded: fc.constantFrom('none', 'gone', 'pod', 'pod', 'pod'),
    recordedIndex: fc.nat({ max: Math.max(0, podCount - 1) }),
    via: fc.constantFrom('selector', 'selector', 'selector', 'annotation'),
    failback: fc.constantFrom(undefined, 'true', 'false', 'yes'),
    interval: fc.constantFrom(undefined, '0', '30s', '5m', '-5s'),
    switchedAgo: fc.option(fc.integer({ min: -60_000, max: 600_000 }), { nil: undefined }),
    switchover: fc.option(fc.constantFrom(...NAMES, 'zzz'), { freq: 4, nil: undefined }),
    term: fc.option(fc.constantFrom('0', '1', '7', 'x'), { nil: undefined }),
    unavailableTerm: fc.option(fc.constantFrom('0', '1', '7'), { nil: undefined }),
    saved: fc.constantFrom('none', 'valid', 'valid', 'invalid'),
  };
}

export type Shape = ReturnType<typeof shapeArbs>;

export interface WorldOptions {
  readonly shape?: Partial<Shape>;
  /** Make the recorded pod a healthy candidate (when one is recorded). */
  readonly healthyRecorded?: boolean;
  readonly minPods?: number;
  readonly tiedPods?: boolean;
}

export function arbWorld(options: WorldOptions = {}): fc.Arbitrary<World> {
  const pods = fc.uniqueArray(arbPod(options.tiedPods ? tied : {}), {
    selector: (p) => p.name,
    minLength: options.minPods ?? 0,
    maxLength: NAMES.length,
  });
  return pods.chain((generated) =>
    fc.record({ ...shapeArbs(generated.length), ...options.shape }).map((s): World => {
      const pods = options.healthyRecorded ? makeHealthy(generated, s.recordedIndex) : generated;
      const recordedPod = s.recorded === 'pod' ? pods[s.recordedIndex] : undefined;
      const recordedUid = recordedPod?.uid ?? (s.recorded === 'gone' ? 'uid-gone' : undefined);
      const selector: Record<string, string> = { ...USER_SELECTOR };
      const annotations: Record<string, string> = {};
      if (recordedUid !== undefined) {
        if (s.via === 'selector') selector[keys.podId] = recordedUid;
        annotations[keys.activeUid] = recordedUid;
        annotations[keys.activePod] = recordedPod?.name ?? 'gone';
      }
      if (s.failback !== undefined) annotations[keys.failback] = s.failback;
      if (s.interval !== undefined) annotations[keys.minSwitchInterval] = s.interval;
      if (s.switchedAgo !== undefined) annotations[keys.switchedAt] = new Date(NOW - s.switchedAgo).toISOString();
      if (s.switchover !== undefined) annotations[keys.switchoverTo] = s.switchover;
      if (s.term !== undefined) annotations[keys.term] = s.term;
      if (s.unavailableTerm !== undefined) annotations[keys.unavailableTerm] = s.unavailableTerm;
      if (s.saved === 'valid') annotations[keys.originalSelector] = JSON.stringify(USER_SELECTOR);
      if (s.saved === 'invalid') annotations[keys.originalSelector] = '{"app":';
      return {
        service: {
          name: 'web',
          namespace: NS,
          uid: 'svc-uid',
          resourceVersion: '1',
          labels: s.optedIn ? { [keys.mode]: MODE_VALUE } : { [keys.mode]: 'off' },
          annotations,
          selector,
        },
        pods,
        now: NOW,
        optedIn: s.optedIn,
        validConfig: s.failback !== 'yes' && s.interval !== '-5s',
        failback: s.failback === 'true',
        switchoverRequested: s.switchover !== undefined,
        selectedUid: s.via === 'selector' ? recordedUid : undefined,
      };
    }),
  );
}

export function makeHealthy(pods: readonly PodView[], index: number): PodView[] {
  return pods.map((p, i) =>
    i === index
      ? {
          ...p,
          namespace: NS,
          labels: { ...p.labels, app: 'web' },
          phase: 'Running',
          ready: true,
          readySince: p.readySince ?? NOW - 5_000,
          deleting: false,
        }
      : p,
  );
}

export function run(world: World): ReturnType<typeof decide> {
  return decide({ service: world.service, pods: world.pods, keys, now: world.now, roleLabels: true });
}

/** Labels of each live candidate once the plan's pod writes are applied. */
export function labelsAfter(world: World, writes: readonly PodLabelWrite[]): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  for (const pod of world.pods.filter((p) => candidate(p) && !p.deleting)) {
    const labels: Record<string, string> = { ...pod.labels };
    for (const write of writes.filter((w) => w.pod === pod.name)) {
      for (const [key, value] of Object.entries(write.labels)) {
        if (value === null) delete labels[key];
        else labels[key] = value;
      }
    }
    out.set(pod.uid, labels);
  }
  return out;
}

export function byPod(a: PodLabelWrite, b: PodLabelWrite): number {
  return a.pod < b.pod ? -1 : a.pod > b.pod ? 1 : 0;
}

export function normalized(plan: Plan): Plan {
  switch (plan.kind) {
    case 'switch':
      return {
        ...plan,
        prerequisites: [...plan.prerequisites].sort(byPod),
        podWrites: [...plan.podWrites].sort(byPod),
      };
    case 'steady':
    case 'release':
      return { ...plan, podWrites: [...plan.podWrites].sort(byPod) };
    default:
      return plan;
  }
}
