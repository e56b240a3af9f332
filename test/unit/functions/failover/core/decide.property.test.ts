
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decide } from '../../../../../functions/failover/core/decide.js';
import { type PodView, type ServiceView } from '../../../../../functions/failover/core/model.js';
import { MODE_VALUE } from '../../../../../shared/keys.js';
import { keys, NS } from './fixtures.js';
import { RUNS, healthy, candidate, Shape, arbWorld, run, labelsAfter, normalized, NAMES, USER_SELECTOR } from './decide.arbitraries.js';

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
      keys.fence,
      keys.fencePending,
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
