// Details of decide() that the table tests leave open: whom a switch says it came from,
// the follower's exact plans and copied reasons, steady explanations, role labels by
// default, and the order of pod problems.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decide, NO_POD } from '../../../../../functions/failover/core/decide.js';
import type { Plan, PodView, ServiceView } from '../../../../../functions/failover/core/model.js';
import { APP, keys, NOW, pod, service } from './fixtures.js';

const a = pod('a', { role: 'active' });
const b = pod('b', { role: 'standby' });
const planOf = (svc: ServiceView, pods: readonly PodView[], extra: { leader?: ServiceView; roleLabels?: boolean } = {}): Plan => decide({ service: svc, pods, keys, now: NOW, ...extra }).plan;
const fromOf = (plan: Plan) => {
  assert.equal(plan.kind, 'switch', JSON.stringify(plan));
  return plan.kind === 'switch' ? plan.from : undefined;
};

describe('decide: whom a switch comes from', () => {
  it('the recorded pod as it is now, when it still exists in the namespace but no longer matches', () => {
    const moved = { ...pod('a'), labels: { app: 'other', [keys.podId]: 'uid-a' } };
    const svc = service({ active: a, annotations: { [keys.activePod]: 'old-name-of-a' } });
    assert.deepEqual(fromOf(planOf(svc, [moved, b])), { name: 'a', uid: 'uid-a' });
  });

  it('the annotations, when the recorded pod is gone and both name and uid are recorded', () => {
    const gone = pod('gone', { role: 'active' });
    assert.deepEqual(fromOf(planOf(service({ active: gone }), [b])), { name: 'gone', uid: 'uid-gone' });
  });

  it('nobody, when the pod is gone and the annotations lack its uid or its name', () => {
    const gone = pod('gone', { role: 'active' });
    const noUid = service({ active: gone });
    const withoutUid: ServiceView = { ...noUid, annotations: Object.fromEntries(Object.entries(noUid.annotations).filter(([k]) => k !== keys.activeUid)) };
    assert.equal(fromOf(planOf(withoutUid, [b])), undefined);
    const withoutName: ServiceView = { ...noUid, annotations: Object.fromEntries(Object.entries(noUid.annotations).filter(([k]) => k !== keys.activePod)) };
    assert.equal(fromOf(planOf(withoutName, [b])), undefined);
  });
});

describe('decide: steady explanations and defaults', () => {
  it('says why it stays, with and without failback', () => {
    const steady = planOf(service({ active: a }), [a, b], { roleLabels: true });
    assert.deepEqual(steady, { kind: 'steady', active: 'a', why: 'a is active and healthy', record: undefined, podWrites: [] });
    const withFailback = planOf(service({ active: a, annotations: { [keys.failback]: 'true' } }), [a, b], { roleLabels: true });
    assert.deepEqual(withFailback, { kind: 'steady', active: 'a', why: 'a is active and healthy, and no healthy pod has a higher priority', record: undefined, podWrites: [] });
  });

  it('writes role labels when asked to, and by default only the pod-id label', () => {
    const fresh = [pod('a'), pod('b')];
    const on = planOf(service(), fresh, { roleLabels: true });
    assert.equal(on.kind, 'switch');
    assert.deepEqual(on.kind === 'switch' && on.podWrites.map((w) => w.labels[keys.role]), ['active', 'standby']);
    const off = planOf(service(), fresh);
    assert.deepEqual(off.kind === 'switch' && off.podWrites.map((w) => Object.keys(w.labels)), [[keys.podId]]);
  });

  it('sorts pod problems by pod, then by value', () => {
    const twice = [pod('q', { priority: 'x' }), pod('p', { priority: 'zz' }), pod('p', { priority: 'aa' }), pod('p', { priority: 'aa' })];
    const { podProblems } = decide({ service: service(), pods: twice, keys, now: NOW });
    assert.deepEqual(podProblems.map((p) => [p.pod, p.value]), [['p', 'aa'], ['p', 'zz'], ['q', 'x']]);
  });
});

describe('decide: a follower\'s exact plans', () => {
  const follower = (over: Partial<ServiceView> = {}): ServiceView => ({
    ...service({ active: a, annotations: { [keys.follow]: 'db', [keys.recordOf]: 'twin-uid' } }),
    name: 'db-headless',
    uid: 'twin-uid',
    ...over,
  });
  const leaderOn = (p: PodView, annotations: Record<string, string> = {}): ServiceView => ({ ...service({ active: p, annotations }), name: 'db' });

  for (const [recorded, expected] of [['failover', 'failover'], ['failback', 'failback'], ['switchover', 'switchover'], ['cordon', 'cordon'], ['initial', 'initial'], ['bogus', 'initial']] as const) {
    it(`copies the leader's reason "${recorded}" as ${expected}`, () => {
      const plan = planOf(follower(), [a, b], { leader: leaderOn(b, { [keys.reason]: recorded }) });
      assert.equal(plan.kind === 'switch' && plan.reason, expected);
    });
  }

  it('steady on the leader\'s active, correcting copied id labels', () => {
    const copy = { ...pod('c'), labels: { ...APP, [keys.podId]: 'uid-a' } };
    const plan = planOf(follower(), [a, b, copy], { leader: leaderOn(a) });
    assert.deepEqual(plan, { kind: 'steady', active: 'a', why: 'a is the active of db', record: undefined, podWrites: [{ pod: 'c', labels: { [keys.podId]: 'uid-c' } }] });
  });

  it('while the leader has chosen nothing, keeps its pin with no writes, even when its pod is gone', () => {
    const undecided: ServiceView = { ...service(), name: 'db' };
    assert.deepEqual(planOf(follower(), [a, b], { leader: undecided }), {
      kind: 'steady',
      active: 'a',
      why: 'db has no active yet; keeping what this Service routes to until it chooses',
      record: undefined,
      podWrites: [],
    });
    const gone = planOf(follower(), [b], { leader: { ...undecided, selector: { ...APP, [keys.podId]: NO_POD } } });
    assert.equal(gone.kind === 'steady' && gone.active, undefined);
  });

  it('while the leader has chosen nothing, an unpinned follower is pinned to nothing, recording the report', () => {
    const unpinned: ServiceView = { ...follower(), selector: { ...APP }, annotations: { [keys.follow]: 'db', [keys.recordOf]: 'twin-uid' } };
    assert.deepEqual(planOf(unpinned, [a, b], { leader: { ...service(), name: 'db' } }), {
      kind: 'unavailable',
      active: undefined,
      term: 0,
      service: {
        selector: { app: 'web', [keys.podId]: NO_POD },
        annotations: { [keys.unavailableTerm]: '0', [keys.originalSelector]: '{"app":"web"}', [keys.recordOf]: 'twin-uid' },
      },
    });
  });

  it('names the leader\'s active by its recorded name, or by its uid when the name is not recorded', () => {
    const z = pod('z', { role: 'active' });
    const message = (leader: ServiceView) => {
      const plan = planOf(follower(), [a, b], { leader });
      return plan.kind === 'invalid-config' ? plan.problems : [];
    };
    assert.deepEqual(message(leaderOn(z)), [{ key: keys.follow, value: 'db', message: 'the active of db (z) is not one of the pods this Service selects' }]);
    const unnamed = leaderOn(z);
    const withoutName: ServiceView = { ...unnamed, annotations: Object.fromEntries(Object.entries(unnamed.annotations).filter(([k]) => k !== keys.activePod)) };
    assert.deepEqual(message(withoutName), [{ key: keys.follow, value: 'db', message: 'the active of db (uid-z) is not one of the pods this Service selects' }]);
  });

  it('gives each refusal of a leader its exact message', () => {
    const problem = (leader: ServiceView | undefined) => {
      const plan = planOf(follower(), [a, b], { leader });
      return plan.kind === 'invalid-config' ? plan.problems[0]?.message : plan.kind;
    };
    assert.equal(problem(undefined), 'no Service named db in namespace shop');
    assert.equal(problem({ ...leaderOn(a), labels: {} }), `db is not labelled ${keys.mode}=active-standby`);
    assert.equal(problem({ ...leaderOn(a), annotations: { ...leaderOn(a).annotations, [keys.follow]: 'x' } }), 'db follows another Service itself; follow the Service that elects');
  });
});
