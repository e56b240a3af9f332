import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import fc from 'fast-check';

import { decide } from '../../../../../functions/failover/core/decide.js';
import { type Plan, type PodLabelWrite, type PodView, type ServiceView } from '../../../../../functions/failover/core/model.js';
import { MODE_VALUE } from '../../../../../shared/keys.js';
import { keys, NOW, NS } from './fixtures.js';

const RUNS = { numRuns: 300 };
const NAMES = ['a', 'b', 'c', 'd', 'e', 'f'] as const;
/** Every generated opted-in Service selects with exactly this, so the oracle can too. */
const USER_SELECTOR = { app: 'web' } as const;

// Oracles written independently of the code under test.
const healthy = (p: PodView): boolean => p.phase === 'Running' && p.ready && !p.deleting;
const candidate = (p: PodView): boolean => p.namespace === NS && p.labels.app === 'web';

function podArbs() {
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
const tied: Partial<ReturnType<typeof podArbs>> = {
  namespace: fc.constant(NS),
  app: fc.constant('web'),
  phase: fc.constant('Running'),
  ready: fc.constantFrom(true, true, true, false),
  deleting: fc.constantFrom(false, false, false, true),
  priority: fc.constantFrom(undefined, '5'),
  readySince: fc.constant(100),
  createdAt: fc.constant(0),
};

function arbPod(overrides: Partial<ReturnType<typeof podArbs>> = {}): fc.Arbitrary<PodView> {
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

interface World {
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
function shapeArbs(podCount: number) {
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

type Shape = ReturnType<typeof shapeArbs>;

interface WorldOptions {
  readonly shape?: Partial<Shape>;
  /** Make the recorded pod a healthy candidate (when one is recorded). */
  readonly healthyRecorded?: boolean;
  readonly minPods?: number;
  readonly tiedPods?: boolean;
}

function arbWorld(options: WorldOptions = {}): fc.Arbitrary<World> {
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

function makeHealthy(pods: readonly PodView[], index: number): PodView[] {
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

function run(world: World): ReturnType<typeof decide> {
  return decide({ service: world.service, pods: world.pods, keys, now: world.now, roleLabels: true });
}

/** Labels of each live candidate once the plan's pod writes are applied. */
function labelsAfter(world: World, writes: readonly PodLabelWrite[]): Map<string, Record<string, string>> {
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

function byPod(a: PodLabelWrite, b: PodLabelWrite): number {
  return a.pod < b.pod ? -1 : a.pod > b.pod ? 1 : 0;
}

function normalized(plan: Plan): Plan {
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

describe('decide: properties', () => {
  // Shapes that only produce valid, opted-in Services, so preconditions rarely reject.
  const managed: Partial<Shape> = {
    optedIn: fc.constant(true),
    failback: fc.constantFrom(undefined, 'true', 'false'),
    interval: fc.constantFrom(undefined, '0', '30s', '5m'),
    saved: fc.constantFrom('none', 'valid'),
  };

  it('(a) names at most one active, and a switch pins exactly one healthy candidate', () => {
    fc.assert(
      fc.property(arbWorld(), (world) => {
        const { plan } = run(world);
        if (plan.kind !== 'switch' && plan.kind !== 'steady') return;

        const activeWrites = plan.podWrites.filter((w) => w.labels[keys.role] === 'active');
        assert.ok(activeWrites.length <= 1, `${activeWrites.length} pods labelled active`);

        const writes = plan.kind === 'switch' ? [...plan.prerequisites, ...plan.podWrites] : plan.podWrites;
        const after = labelsAfter(world, writes);
        const actives = [...after.entries()]
          .filter(([, labels]) => labels[keys.role] === 'active')
          .map(([uid]) => uid);
        for (const [uid, labels] of after) assert.equal(labels[keys.podId], uid);

        if (plan.kind === 'steady') {
          const active = world.pods.find((p) => p.name === plan.active);
          assert.ok(active !== undefined && candidate(active) && healthy(active));
          assert.deepEqual(actives, [active.uid]);
          return;
        }

        const { selector } = plan.service;
        assert.equal(Object.keys(selector).filter((k) => k === keys.podId).length, 1);
        assert.deepEqual({ ...selector, [keys.podId]: undefined }, { ...USER_SELECTOR, [keys.podId]: undefined });
        const target = world.pods.filter((p) => p.uid === selector[keys.podId]);
        assert.equal(target.length, 1);
        const [to] = target;
        assert.ok(to !== undefined && candidate(to) && healthy(to), 'switch target must be a healthy candidate');
        assert.deepEqual(plan.to, { name: to.name, uid: to.uid });
        assert.deepEqual(actives, [to.uid]);
        // The Service must never select by a label the pod lacks after prerequisites.
        const prerequisite = plan.prerequisites.find((w) => w.pod === to.name);
        const idAfterPrereq = prerequisite?.labels[keys.podId] ?? to.labels[keys.podId];
        assert.equal(idAfterPrereq, to.uid);
      }),
      RUNS,
    );
  });

  it('(b) the plan does not depend on the order of pods', () => {
    const tiedManaged = arbWorld({ tiedPods: true, minPods: 2, shape: managed });
    const arbWorldAndOrder = fc.oneof(arbWorld(), tiedManaged).chain((world) =>
      fc
        .shuffledSubarray(world.pods, { minLength: world.pods.length, maxLength: world.pods.length })
        .map((shuffled) => ({ world, shuffled })),
    );
    fc.assert(
      fc.property(arbWorldAndOrder, ({ world, shuffled }) => {
        const first = run(world);
        const second = run({ ...world, pods: shuffled });
        assert.deepEqual(normalized(second.plan), normalized(first.plan));
        assert.deepEqual(second.podProblems, first.podProblems);
      }),
      RUNS,
    );
  });

  it('(c) a healthy selected active is never switched away without failback or a request', () => {
    const world = arbWorld({
      minPods: 1,
      healthyRecorded: true,
      shape: {
        ...managed,
        recorded: fc.constant('pod'),
        via: fc.constant('selector'),
        failback: fc.constantFrom(undefined, 'false'),
        switchover: fc.constant(undefined),
      },
    });
    fc.assert(
      fc.property(world, (world) => {
        const active = world.pods.find((p) => p.uid === world.selectedUid);
        // The generator guarantees the precondition; asserting it (rather than fc.pre)
        // keeps a broken generator from passing vacuously.
        assert.ok(world.optedIn && world.validConfig && !world.failback && !world.switchoverRequested);
        assert.ok(active !== undefined && candidate(active) && healthy(active));
        const { plan } = run(world);
        assert.notEqual(plan.kind, 'switch');
        assert.deepEqual(plan.kind === 'steady' ? plan.active : plan.kind, active.name);
      }),
      RUNS,
    );
  });

  it('(d) an unhealthy or missing active is replaced whenever a healthy candidate exists', () => {
    const world = arbWorld({ minPods: 1, shape: { ...managed, switchover: fc.constant(undefined) } });
    let checked = 0;
    fc.assert(
      fc.property(world, (world) => {
        const active = world.pods.find((p) => p.uid === world.selectedUid);
        const activeHealthy = active !== undefined && candidate(active) && healthy(active);
        const healthyCandidates = world.pods.filter((p) => candidate(p) && healthy(p));
        fc.pre(!activeHealthy && healthyCandidates.length > 0);
        checked += 1;
        const { plan } = run(world);
        assert.equal(plan.kind, 'switch');
        if (plan.kind !== 'switch') return;
        assert.ok(healthyCandidates.some((p) => p.uid === plan.to.uid));
        assert.notEqual(plan.reason, 'failback');
        assert.notEqual(plan.reason, 'switchover');
      }),
      RUNS,
    );
    assert.equal(checked, RUNS.numRuns);
  });

  it('a switchover request always ends in a switch or a refusal that clears it', () => {
    const world = arbWorld({ shape: { ...managed, switchover: fc.constantFrom(...NAMES, 'zzz') } });
    fc.assert(
      fc.property(world, (world) => {
        assert.ok(world.switchoverRequested && world.validConfig);
        const { plan } = run(world);
        assert.ok(plan.kind === 'switch' || plan.kind === 'refuse-switchover', plan.kind);
        assert.equal(plan.service.annotations[keys.switchoverTo], null);
        if (plan.kind === 'switch') assert.equal(plan.reason, 'switchover');
      }),
      RUNS,
    );
  });

  it('invalid config or an opted-out Service never switches', () => {
    fc.assert(
      fc.property(arbWorld(), (world) => {
        fc.pre(!world.optedIn || !world.validConfig);
        const { plan } = run(world);
        const expected = world.optedIn ? ['invalid-config'] : ['release', 'ignore'];
        assert.ok(expected.includes(plan.kind), plan.kind);
      }),
      RUNS,
    );
  });

  it('(e) decide never throws, whatever the annotations and labels say', () => {
    const text = fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.constantFrom('', 'true', '0', '30s', '{}', '[]', 'null', '{"app":"web"}'),
      fc.constantFrom('__proto__', 'constructor', MODE_VALUE, 'a'),
    );
    const annotationKeys = [
      keys.failback,
      keys.minSwitchInterval,
      keys.switchoverTo,
      keys.originalSelector,
      keys.activePod,
      keys.activeUid,
      keys.term,
      keys.switchedAt,
      keys.reason,
      keys.completedTerm,
      keys.unavailableTerm,
    ];
    const arbAnnotations = fc.record(
      Object.fromEntries(annotationKeys.map((k) => [k, fc.option(text, { nil: undefined })])),
    );
    const labelKey = fc.constantFrom('app', keys.podId, keys.role, keys.mode, 'constructor');
    const arbLabels = fc.dictionary(labelKey, text, { maxKeys: 4 });
    const arbAnyPod = fc.record({
      name: fc.constantFrom(...NAMES, ''),
      namespace: fc.constantFrom(NS, 'other', ''),
      uid: fc.constantFrom('u1', 'u2', 'u3', ''),
      labels: arbLabels,
      annotations: fc.record({ [keys.priority]: fc.option(text, { nil: undefined }) }),
      phase: fc.constantFrom('Running', 'Pending', 'Unknown', ''),
      ready: fc.boolean(),
      readySince: fc.option(fc.integer(), { nil: undefined }),
      createdAt: fc.integer(),
      deleting: fc.boolean(),
    });
    const clean = (r: Record<string, string | undefined>): Record<string, string> =>
      Object.fromEntries(Object.entries(r).filter((e): e is [string, string] => e[1] !== undefined));
    fc.assert(
      fc.property(
        arbLabels,
        arbLabels,
        arbAnnotations,
        fc.array(arbAnyPod, { maxLength: 6 }),
        fc.integer({ min: 0, max: 4_102_444_800_000 }),
        (labels, selector, annotations, pods, now) => {
          const service: ServiceView = {
            name: 'web',
            namespace: NS,
            uid: 's',
            resourceVersion: '1',
            labels,
            annotations: clean(annotations),
            selector,
          };
          const views: PodView[] = pods.map((p) => ({ ...p, annotations: clean(p.annotations) }));
          const { plan, podProblems } = decide({ service, pods: views, keys, now, roleLabels: true });
          assert.equal(typeof plan.kind, 'string');
          assert.ok(Array.isArray(podProblems));
        },
      ),
      RUNS,
    );
  });
});
