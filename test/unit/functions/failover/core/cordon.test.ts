// A cordoned Node: the active is moved off it to a healthy pod on a schedulable Node, as
// a planned switch, and no election lands on it while such a pod exists.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decide } from '../../../../../functions/failover/core/decide.js';
import type { Plan, PodView, ServiceView } from '../../../../../functions/failover/core/model.js';
import { keys, NOW, pod, service, type PodOptions } from './fixtures.js';
import { ago, failbackOn, summary } from './decide.shared.js';

const on = (name: string, node: string, options: PodOptions = {}): PodView => ({ ...pod(name, { role: 'standby', ...options }), nodeName: node });
const A = 'node-a';
const B = 'node-b';
const cordoned = (...nodes: string[]): ReadonlySet<string> => new Set(nodes);
const withDemote = { [keys.demoteHook]: '8080/demote' };

interface Row {
  readonly name: string;
  readonly service: ServiceView;
  readonly pods: readonly PodView[];
  readonly cordoned: ReadonlySet<string>;
  readonly expect: Record<string, unknown>;
}

const a = on('a', A, { role: 'active' });
const b = on('b', B);
const c = on('c', B, { priority: '5' });

const rows: Row[] = [
  { name: 'an active on a cordoned node moves to a healthy pod on a schedulable one', service: service({ active: a }), pods: [a, b], cordoned: cordoned(A), expect: { kind: 'switch', to: 'b', reason: 'cordon', term: 2, from: 'a' } },
  { name: 'the move picks the best pod off the cordoned nodes', service: service({ active: a }), pods: [a, b, c], cordoned: cordoned(A), expect: { kind: 'switch', to: 'c', reason: 'cordon', term: 2, from: 'a' } },
  { name: 'a higher-priority pod on a cordoned node is passed over', service: service({ active: a }), pods: [a, b, on('d', A, { priority: '9' })], cordoned: cordoned(A), expect: { kind: 'switch', to: 'b', reason: 'cordon', term: 2, from: 'a' } },
  { name: 'the only healthy candidate stays active on its cordoned node', service: service({ active: a }), pods: [a, on('b', B, { ready: false })], cordoned: cordoned(A), expect: { kind: 'steady', active: 'a' } },
  { name: 'every node cordoned: the active stays', service: service({ active: a }), pods: [a, b], cordoned: cordoned(A, B), expect: { kind: 'steady', active: 'a' } },
  { name: 'a cordon elsewhere changes nothing', service: service({ active: a }), pods: [a, b], cordoned: cordoned(B), expect: { kind: 'steady', active: 'a' } },
  { name: 'no cordon: the active stays', service: service({ active: a }), pods: [a, b], cordoned: cordoned(), expect: { kind: 'steady', active: 'a' } },
  {
    name: 'a move off a cordoned node is not held by min-switch-interval',
    service: service({ active: a, annotations: { [keys.minSwitchInterval]: '1h', [keys.switchedAt]: ago(1_000) } }),
    pods: [a, b],
    cordoned: cordoned(A),
    expect: { kind: 'switch', to: 'b', reason: 'cordon', term: 2, from: 'a' },
  },
  { name: 'a failover skips a healthy pod on a cordoned node', service: service({ active: on('a', B, { role: 'active', ready: false }) }), pods: [on('a', B, { role: 'active', ready: false }), on('d', A, { priority: '9' }), b], cordoned: cordoned(A), expect: { kind: 'switch', to: 'b', reason: 'failover', term: 2, from: 'a' } },
  { name: 'a failover takes a pod on a cordoned node when it is the only healthy one', service: service({ active: on('a', B, { role: 'active', ready: false }) }), pods: [on('a', B, { role: 'active', ready: false }), on('d', A)], cordoned: cordoned(A), expect: { kind: 'switch', to: 'd', reason: 'failover', term: 2, from: 'a' } },
  { name: 'adoption skips a pod on a cordoned node', service: service(), pods: [on('d', A, { priority: '9' }), b], cordoned: cordoned(A), expect: { kind: 'switch', to: 'b', reason: 'initial', term: 1, from: undefined } },
  { name: 'failback never goes to a pod on a cordoned node', service: service({ active: on('b', B, { role: 'active' }), annotations: failbackOn }), pods: [on('b', B, { role: 'active' }), on('d', A, { priority: '9' })], cordoned: cordoned(A), expect: { kind: 'steady', active: 'b' } },
  { name: 'failback goes back once the node is uncordoned', service: service({ active: on('b', B, { role: 'active' }), annotations: failbackOn }), pods: [on('b', B, { role: 'active' }), on('d', A, { priority: '9' })], cordoned: cordoned(), expect: { kind: 'switch', to: 'd', reason: 'failback', term: 2, from: 'b' } },
  {
    name: 'a switchover to a pod on a cordoned node is refused while one elsewhere is healthy',
    service: service({ active: on('b', B, { role: 'active' }), annotations: { [keys.switchoverTo]: 'd' } }),
    pods: [on('b', B, { role: 'active' }), on('d', A)],
    cordoned: cordoned(A),
    expect: { kind: 'refuse-switchover', requested: 'd', why: 'pod "d" runs on cordoned node node-a' },
  },
  { name: 'a pod with no node is never taken for cordoned', service: service({ active: pod('a', { role: 'active' }) }), pods: [pod('a', { role: 'active' }), b], cordoned: cordoned(A, ''), expect: { kind: 'steady', active: 'a' } },
];

const run = (row: Pick<Row, 'service' | 'pods' | 'cordoned'>): Plan => decide({ service: row.service, pods: row.pods, keys, now: NOW, cordoned: row.cordoned }).plan;

describe('decide: cordoned nodes (table)', () => {
  for (const row of rows) it(row.name, () => assert.deepEqual(summary(run(row)), row.expect));

  it('the move off a cordoned node is planned: the demote hook of the old active first, the node named', () => {
    const plan = run({ service: service({ active: { ...a, ips: ['10.0.0.1'] }, annotations: withDemote }), pods: [{ ...a, ips: ['10.0.0.1'] }, b], cordoned: cordoned(A) });
    assert.equal(plan.kind, 'switch');
    if (plan.kind !== 'switch') return;
    assert.deepEqual([plan.demote?.call.pod.name, plan.demote?.call.body.role, plan.demote?.onAbort.kind], ['a', 'standby', 'hold']);
    assert.equal(plan.note, 'node node-a of a is cordoned');
  });

  it('a failed demote under abort holds the move, with a reason that names it', () => {
    const plan = run({ service: service({ active: { ...a, ips: ['10.0.0.1'] }, annotations: { ...withDemote, [keys.demotePolicy]: 'abort' } }), pods: [{ ...a, ips: ['10.0.0.1'] }, b], cordoned: cordoned(A) });
    assert.ok(plan.kind === 'switch' && plan.demote?.onAbort.kind === 'hold');
    assert.match(plan.demote.onAbort.why, /move off the cordoned node from a to b waits/);
  });

  it('the steady plan says why an active stays on a cordoned node', () => {
    const plan = run({ service: service({ active: a }), pods: [a], cordoned: cordoned(A) });
    assert.ok(plan.kind === 'steady');
    assert.match(plan.why, /cordoned node node-a.*no healthy candidate runs on a schedulable node/);
    assert.equal(plan.cordonedNode, 'node-a');
    const elsewhere = run({ service: service({ active: a }), pods: [a], cordoned: cordoned(B) });
    assert.ok(elsewhere.kind === 'steady' && elsewhere.cordonedNode === undefined);
  });
});

// ---- properties ----

const NODES = ['n1', 'n2', 'n3'] as const;
const arbPod = (name: string): fc.Arbitrary<PodView> =>
  fc.record({ node: fc.constantFrom(...NODES, undefined), ready: fc.constantFrom(true, true, false), deleting: fc.constantFrom(false, false, false, true), priority: fc.constantFrom(undefined, '0', '5') }).map((r) => ({
    ...pod(name, { role: 'standby', ready: r.ready, deleting: r.deleting, ...(r.priority !== undefined ? { priority: r.priority } : {}) }),
    ...(r.node !== undefined ? { nodeName: r.node } : {}),
  }));
const arbWorld = fc.record({
  pods: fc.tuple(arbPod('a'), arbPod('b'), arbPod('c'), arbPod('d')),
  activeIndex: fc.option(fc.nat({ max: 3 }), { nil: undefined }),
  cordoned: fc.subarray([...NODES]),
  failback: fc.boolean(),
});

const isOn = (p: PodView, nodes: ReadonlySet<string>): boolean => p.nodeName !== undefined && nodes.has(p.nodeName);
const healthy = (p: PodView): boolean => p.phase === 'Running' && p.ready && !p.deleting;

function worldService(active: PodView | undefined, failback: boolean): ServiceView {
  return service({ ...(active ? { active } : {}), annotations: failback ? failbackOn : {} });
}

/** The Service as a switch plan's write leaves it. */
function applied(before: ServiceView, plan: Extract<Plan, { kind: 'switch' }>): ServiceView {
  const annotations: Record<string, string> = { ...before.annotations };
  for (const [k, v] of Object.entries(plan.service.annotations)) {
    if (v === null) delete annotations[k];
    else annotations[k] = v;
  }
  return { ...before, resourceVersion: String(Number(before.resourceVersion) + 1), selector: plan.service.selector, annotations };
}

describe('decide: cordoned nodes (properties)', () => {
  it('never switches to a pod on a cordoned node while a healthy candidate runs on a schedulable one, and never to an unhealthy pod', () => {
    fc.assert(
      fc.property(arbWorld, (w) => {
        const nodes = new Set(w.cordoned);
        const active = w.activeIndex === undefined ? undefined : w.pods[w.activeIndex];
        const plan = run({ service: worldService(active, w.failback), pods: w.pods, cordoned: nodes });
        if (plan.kind !== 'switch') return;
        const to = w.pods.find((p) => p.uid === plan.to.uid);
        assert.ok(to && healthy(to), 'a switch goes to a healthy pod');
        const elsewhere = w.pods.some((p) => healthy(p) && !isOn(p, nodes));
        if (elsewhere) assert.ok(!isOn(to, nodes), `switched to ${to.name} on cordoned ${to.nodeName ?? ''} though a healthy pod runs elsewhere`);
      }),
      { numRuns: 500 },
    );
  });

  it('a move off a cordoned node happens exactly when the active is healthy there and a healthy pod runs elsewhere', () => {
    fc.assert(
      fc.property(arbWorld, (w) => {
        const nodes = new Set(w.cordoned);
        const active = w.activeIndex === undefined ? undefined : w.pods[w.activeIndex];
        fc.pre(active !== undefined && healthy(active));
        const plan = run({ service: worldService(active, w.failback), pods: w.pods, cordoned: nodes });
        const due = isOn(active, nodes) && w.pods.some((p) => healthy(p) && !isOn(p, nodes));
        assert.equal(plan.kind === 'switch' && plan.reason === 'cordon', due);
      }),
      { numRuns: 500 },
    );
  });

  it('after the move, an uncordon brings no switch back unless failback prefers a pod of higher priority', () => {
    fc.assert(
      fc.property(arbWorld, (w) => {
        const nodes = new Set(w.cordoned);
        const active = w.activeIndex === undefined ? undefined : w.pods[w.activeIndex];
        const before = worldService(active, w.failback);
        const plan = run({ service: before, pods: w.pods, cordoned: nodes });
        fc.pre(plan.kind === 'switch' && plan.reason === 'cordon');
        if (plan.kind !== 'switch') return;
        const next = run({ service: applied(before, plan), pods: w.pods, cordoned: new Set() });
        if (next.kind === 'steady') return;
        const prio = (uid: string): number => Number(w.pods.find((p) => p.uid === uid)?.annotations[keys.priority] ?? '0');
        assert.ok(w.failback && next.kind === 'switch' && next.reason === 'failback' && prio(next.to.uid) > prio(plan.to.uid), `flapped: ${JSON.stringify(summary(next))}`);
      }),
      { numRuns: 1000 },
    );
  });

  it('the decision is the same whatever the order of the cordoned set and of the pods', () => {
    fc.assert(
      fc.property(arbWorld, (w) => {
        const nodes = [...w.cordoned];
        const active = w.activeIndex === undefined ? undefined : w.pods[w.activeIndex];
        const svc = worldService(active, w.failback);
        const one = run({ service: svc, pods: w.pods, cordoned: new Set(nodes) });
        const two = run({ service: svc, pods: [...w.pods].reverse(), cordoned: new Set(nodes.reverse()) });
        assert.deepEqual(summary(one), summary(two));
      }),
      { numRuns: 300 },
    );
  });
});
