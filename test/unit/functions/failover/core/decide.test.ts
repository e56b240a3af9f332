import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { decide, NO_POD } from '../../../../../functions/failover/core/decide.js';
import type { Plan, PodView, ServiceView } from '../../../../../functions/failover/core/model.js';
import { keys, NOW, pod, service, uidOf } from './fixtures.js';

/** The parts of a plan a table row pins down; everything else has its own test below. */
function summary(plan: Plan): Record<string, unknown> {
  switch (plan.kind) {
    case 'switch':
      return { kind: plan.kind, to: plan.to.name, reason: plan.reason, term: plan.term, from: plan.from?.name };
    case 'steady':
      return { kind: plan.kind, active: plan.active };
    case 'hold':
      return { kind: plan.kind, retryAfterMs: plan.retryAfterMs };
    case 'unavailable':
      return { kind: plan.kind, active: plan.active, term: plan.term, reports: plan.service !== undefined };
    case 'refuse-switchover':
      return { kind: plan.kind, requested: plan.requested, why: plan.why };
    case 'invalid-config':
      return { kind: plan.kind, problems: plan.problems.map((p) => `${p.key}=${p.value}`) };
    case 'release':
    case 'ignore':
      return { kind: plan.kind };
  }
}

interface Row {
  readonly name: string;
  readonly service: ServiceView;
  readonly pods: readonly PodView[];
  readonly now?: number;
  readonly expect: Record<string, unknown>;
}

const a = pod('a', { role: 'active' });
const aDown = pod('a', { role: 'active', ready: false });
const b = pod('b', { role: 'standby' });
const bHigh = pod('b', { role: 'standby', priority: '10' });
const ago = (ms: number): string => new Date(NOW - ms).toISOString();
const failbackOn = { [keys.failback]: 'true' };

const rows: Row[] = [
  {
    name: 'adoption picks the highest priority',
    service: service(),
    pods: [pod('a'), pod('b', { priority: '10' })],
    expect: { kind: 'switch', to: 'b', reason: 'initial', term: 1, from: undefined },
  },
  {
    name: 'adoption with equal priority picks the longest ready',
    service: service(),
    pods: [pod('a', { readySince: NOW - 10_000 }), pod('b', { readySince: NOW - 100_000 })],
    expect: { kind: 'switch', to: 'b', reason: 'initial', term: 1, from: undefined },
  },
  {
    name: 'adoption with no healthy pod is unavailable at term 0',
    service: service(),
    pods: [pod('a', { ready: false })],
    expect: { kind: 'unavailable', active: undefined, term: 0, reports: true },
  },
  {
    name: 'a healthy active stays even when a higher priority exists (failback off)',
    service: service({ active: a }),
    pods: [a, bHigh],
    expect: { kind: 'steady', active: 'a' },
  },
  {
    name: 'failback "false" behaves like absent',
    service: service({ active: a, annotations: { [keys.failback]: 'false' } }),
    pods: [a, bHigh],
    expect: { kind: 'steady', active: 'a' },
  },
  {
    name: 'an unready active fails over',
    service: service({ active: aDown, term: 4 }),
    pods: [aDown, b],
    expect: { kind: 'switch', to: 'b', reason: 'failover', term: 5, from: 'a' },
  },
  {
    name: 'a Failed active fails over',
    service: service({ active: a }),
    pods: [pod('a', { role: 'active', phase: 'Failed' }), b],
    expect: { kind: 'switch', to: 'b', reason: 'failover', term: 2, from: 'a' },
  },
  {
    name: 'a vanished active fails over, from taken from the annotations',
    service: service({ active: a }),
    pods: [b],
    expect: { kind: 'switch', to: 'b', reason: 'failover', term: 2, from: 'a' },
  },
  {
    name: 'an active that no longer matches the edited selector fails over',
    service: service({ active: a, selector: { app: 'web', track: 'stable' } }),
    pods: [a, pod('b', { role: 'standby', labels: { app: 'web', track: 'stable' } })],
    expect: { kind: 'switch', to: 'b', reason: 'failover', term: 2, from: 'a' },
  },
  {
    name: 'failback on: a healthy higher priority pod takes over',
    service: service({ active: a, annotations: failbackOn }),
    pods: [a, bHigh],
    expect: { kind: 'switch', to: 'b', reason: 'failback', term: 2, from: 'a' },
  },
  {
    name: 'failback on: equal priority stays',
    service: service({ active: a, annotations: failbackOn }),
    pods: [a, pod('b', { role: 'standby', readySince: NOW - 999_999 })],
    expect: { kind: 'steady', active: 'a' },
  },
  {
    name: 'failback on: an unhealthy higher priority pod is not a reason to move',
    service: service({ active: a, annotations: failbackOn }),
    pods: [a, pod('b', { role: 'standby', priority: '10', ready: false })],
    expect: { kind: 'steady', active: 'a' },
  },
  {
    name: 'failback is held until min-switch-interval has passed',
    service: service({
      active: a,
      annotations: { ...failbackOn, [keys.minSwitchInterval]: '2m', [keys.switchedAt]: ago(30_000) },
    }),
    pods: [a, bHigh],
    expect: { kind: 'hold', retryAfterMs: 90_000 },
  },
  {
    name: 'failback proceeds once min-switch-interval has passed',
    service: service({
      active: a,
      annotations: { ...failbackOn, [keys.minSwitchInterval]: '2m', [keys.switchedAt]: ago(120_000) },
    }),
    pods: [a, bHigh],
    expect: { kind: 'switch', to: 'b', reason: 'failback', term: 2, from: 'a' },
  },
  {
    name: 'an unreadable switched-at never holds a failback',
    service: service({
      active: a,
      annotations: { ...failbackOn, [keys.minSwitchInterval]: '2m', [keys.switchedAt]: 'yesterday' },
    }),
    pods: [a, bHigh],
    expect: { kind: 'switch', to: 'b', reason: 'failback', term: 2, from: 'a' },
  },
  {
    name: 'failover is never held by min-switch-interval',
    service: service({
      active: aDown,
      annotations: { [keys.minSwitchInterval]: '10m', [keys.switchedAt]: ago(1_000) },
    }),
    pods: [aDown, b],
    expect: { kind: 'switch', to: 'b', reason: 'failover', term: 2, from: 'a' },
  },
  {
    name: 'switchover to a healthy lower priority pod is accepted, ignoring the interval',
    service: service({
      active: pod('a', { role: 'active', priority: '10' }),
      annotations: {
        [keys.switchoverTo]: 'b',
        [keys.minSwitchInterval]: '10m',
        [keys.switchedAt]: ago(1_000),
      },
    }),
    pods: [pod('a', { role: 'active', priority: '10' }), b],
    expect: { kind: 'switch', to: 'b', reason: 'switchover', term: 2, from: 'a' },
  },
  {
    name: 'switchover to an unknown pod is refused',
    service: service({ active: a, annotations: { [keys.switchoverTo]: 'zed' } }),
    pods: [a, b],
    expect: { kind: 'refuse-switchover', requested: 'zed', why: 'no pod named "zed" in namespace shop' },
  },
  {
    name: 'switchover to an unready pod is refused',
    service: service({ active: a, annotations: { [keys.switchoverTo]: 'b' } }),
    pods: [a, pod('b', { ready: false })],
    expect: { kind: 'refuse-switchover', requested: 'b', why: 'pod "b" is not ready' },
  },
  {
    name: 'switchover to a Pending pod is refused',
    service: service({ active: a, annotations: { [keys.switchoverTo]: 'b' } }),
    pods: [a, pod('b', { phase: 'Pending', ready: false })],
    expect: { kind: 'refuse-switchover', requested: 'b', why: 'pod "b" is Pending, not Running' },
  },
  {
    name: 'switchover to a deleting pod is refused',
    service: service({ active: a, annotations: { [keys.switchoverTo]: 'b' } }),
    pods: [a, pod('b', { deleting: true })],
    expect: { kind: 'refuse-switchover', requested: 'b', why: 'pod "b" is being deleted' },
  },
  {
    name: 'switchover to a pod outside the selector is refused',
    service: service({ active: a, annotations: { [keys.switchoverTo]: 'b' } }),
    pods: [a, pod('b', { labels: { app: 'db' } })],
    expect: {
      kind: 'refuse-switchover',
      requested: 'b',
      why: 'pod "b" does not match the selector of Service web',
    },
  },
  {
    name: 'switchover to a same-named pod in another namespace is refused',
    service: service({ active: a, annotations: { [keys.switchoverTo]: 'b' } }),
    pods: [a, pod('b', { namespace: 'elsewhere' })],
    expect: { kind: 'refuse-switchover', requested: 'b', why: 'no pod named "b" in namespace shop' },
  },
  {
    name: 'switchover to the current active is refused as already active',
    service: service({ active: a, annotations: { [keys.switchoverTo]: 'a' } }),
    pods: [a, b],
    expect: { kind: 'refuse-switchover', requested: 'a', why: 'pod "a" is already active' },
  },
  {
    name: 'no healthy candidate is reported as unavailable',
    service: service({ active: aDown, term: 3 }),
    pods: [aDown, pod('b', { phase: 'Pending', ready: false })],
    expect: { kind: 'unavailable', active: 'a', term: 3, reports: true },
  },
  {
    name: 'unavailable is reported only once per term',
    service: service({ active: aDown, term: 3, annotations: { [keys.unavailableTerm]: '3' } }),
    pods: [aDown],
    expect: { kind: 'unavailable', active: 'a', term: 3, reports: false },
  },
  {
    name: 'a stale unavailable-term from an earlier term is reported again',
    service: service({ active: aDown, term: 3, annotations: { [keys.unavailableTerm]: '2' } }),
    pods: [aDown],
    expect: { kind: 'unavailable', active: 'a', term: 3, reports: true },
  },
  {
    name: 'opting out releases the Service',
    service: service({ active: a, optedIn: false }),
    pods: [a, b],
    expect: { kind: 'release' },
  },
  {
    name: 'a Service baton never touched is ignored',
    service: service({ optedIn: false }),
    pods: [a, b],
    expect: { kind: 'ignore' },
  },
  {
    name: 'failback "yes" is invalid',
    service: service({ active: a, annotations: { [keys.failback]: 'yes' } }),
    pods: [a, b],
    expect: { kind: 'invalid-config', problems: [`${keys.failback}=yes`] },
  },
  {
    name: 'a negative interval is invalid',
    service: service({ active: a, annotations: { [keys.minSwitchInterval]: '-5s' } }),
    pods: [a, b],
    expect: { kind: 'invalid-config', problems: [`${keys.minSwitchInterval}=-5s`] },
  },
  {
    name: 'a 10 kB interval string is invalid',
    service: service({ active: a, annotations: { [keys.minSwitchInterval]: '1'.repeat(10_240) + 's' } }),
    pods: [a, b],
    expect: { kind: 'invalid-config', problems: [`${keys.minSwitchInterval}=${'1'.repeat(10_240)}s`] },
  },
  {
    name: 'a damaged original-selector does not stop a failover: the live selector is enough',
    service: service({ active: a, annotations: { [keys.originalSelector]: '{app: web' } }),
    pods: [pod('a', { ready: false }), b],
    expect: { kind: 'switch', to: 'b', reason: 'failover', term: 2, from: 'a' },
  },
  {
    name: 'a damaged original-selector is invalid when the live selector holds only baton\'s key',
    service: { ...service({ active: a, annotations: { [keys.originalSelector]: '{app: web' } }), selector: { [keys.podId]: a.uid } },
    pods: [a, b],
    expect: { kind: 'invalid-config', problems: [`${keys.originalSelector}={app: web`] },
  },
  {
    name: 'every problem is reported at once',
    service: service({
      active: a,
      annotations: { [keys.originalSelector]: '[]', [keys.failback]: 'True', [keys.switchoverTo]: 'Pod_B' },
    }),
    pods: [a, b],
    expect: {
      kind: 'invalid-config',
      problems: [`${keys.failback}=True`, `${keys.switchoverTo}=Pod_B`],
    },
  },
  {
    name: 'a bad priority ranks as 0',
    service: service(),
    pods: [pod('a', { priority: 'high' }), pod('b', { priority: '-5' })],
    expect: { kind: 'switch', to: 'a', reason: 'initial', term: 1, from: undefined },
  },
  {
    name: 'pods outside the selector or namespace are ignored',
    service: service(),
    pods: [
      pod('a'),
      pod('db', { labels: { app: 'db' }, priority: '100' }),
      pod('far', { namespace: 'elsewhere', priority: '100' }),
    ],
    expect: { kind: 'switch', to: 'a', reason: 'initial', term: 1, from: undefined },
  },
  {
    name: 'a deleting pod is not eligible, even if ready',
    service: service(),
    pods: [pod('a'), pod('b', { priority: '10', deleting: true })],
    expect: { kind: 'switch', to: 'a', reason: 'initial', term: 1, from: undefined },
  },
  {
    name: 'a deleting active fails over',
    service: service({ active: a }),
    pods: [pod('a', { role: 'active', deleting: true }), b],
    expect: { kind: 'switch', to: 'b', reason: 'failover', term: 2, from: 'a' },
  },
  {
    name: 'garbage term counts as 0',
    service: service({ active: aDown, annotations: { [keys.term]: 'seven' } }),
    pods: [aDown, b],
    expect: { kind: 'switch', to: 'b', reason: 'failover', term: 1, from: 'a' },
  },
  {
    name: 'a selector that lost the pod-id key is re-pinned to the same active',
    service: (() => {
      const s = service({ active: a, term: 6 });
      return { ...s, selector: { app: 'web' } };
    })(),
    pods: [a, bHigh],
    expect: { kind: 'switch', to: 'a', reason: 'initial', term: 7, from: 'a' },
  },
];

describe('decide: table', () => {
  for (const row of rows) {
    it(row.name, () => {
      const { plan } = decide({ service: row.service, pods: row.pods, keys, now: row.now ?? NOW });
      assert.deepEqual(summary(plan), row.expect);
    });
  }
});

describe('decide: writes', () => {
  it('adoption writes prerequisites, the pinned selector, the record and role labels', () => {
    const { plan, podProblems } = decide({
      service: service(),
      pods: [pod('a'), pod('b', { priority: '10' })],
      keys,
      now: NOW,
      roleLabels: true,
    });
    assert.deepEqual(podProblems, []);
    assert.deepEqual(plan, {
      kind: 'switch',
      reason: 'initial',
      from: undefined,
      to: { name: 'b', uid: 'uid-b' },
      term: 1,
      prerequisites: [{ pod: 'b', labels: { [keys.podId]: 'uid-b' } }],
      service: {
        selector: { app: 'web', [keys.podId]: 'uid-b' },
        annotations: {
          [keys.originalSelector]: '{"app":"web"}',
          [keys.activePod]: 'b',
          [keys.activeUid]: 'uid-b',
          [keys.term]: '1',
          [keys.switchedAt]: '2024-05-01T12:00:00.000Z',
          [keys.reason]: 'initial',
          [keys.unavailableTerm]: null,
          [keys.completedTerm]: null,
          [keys.recordOf]: 'svc-uid',
        },
      },
      podWrites: [
        { pod: 'a', labels: { [keys.podId]: 'uid-a', [keys.role]: 'standby' } },
        { pod: 'b', labels: { [keys.role]: 'active' } },
      ],
    });
  });

  it('the saved selector is written with sorted keys', () => {
    const { plan } = decide({
      service: service({ selector: { tier: 'front', app: 'web' } }),
      pods: [pod('a', { labels: { app: 'web', tier: 'front' } })],
      keys,
      now: NOW,
    });
    assert.equal(plan.kind, 'switch');
    if (plan.kind !== 'switch') return;
    assert.equal(plan.service.annotations[keys.originalSelector], '{"app":"web","tier":"front"}');
  });

  it('a failover re-labels roles and needs no prerequisite when the id label exists', () => {
    const { plan } = decide({ service: service({ active: aDown }), pods: [aDown, b], keys, now: NOW, roleLabels: true });
    assert.equal(plan.kind, 'switch');
    if (plan.kind !== 'switch') return;
    assert.deepEqual(plan.prerequisites, []);
    assert.deepEqual(plan.from, { name: 'a', uid: 'uid-a' });
    assert.deepEqual(plan.podWrites, [
      { pod: 'a', labels: { [keys.role]: 'standby' } },
      { pod: 'b', labels: { [keys.role]: 'active' } },
    ]);
  });

  it('a deleting standby gets no label writes', () => {
    const { plan } = decide({
      service: service({ active: a }),
      pods: [a, pod('b', { deleting: true, role: 'active' })],
      keys,
      now: NOW,
      roleLabels: true,
    });
    assert.deepEqual(plan, {
      kind: 'steady',
      active: 'a',
      why: 'a is active and healthy',
      record: undefined,
      podWrites: [],
    });
  });

  it('role labels are off unless asked for, as BATON_ROLE_LABELS is: a left-over one is removed', () => {
    const { plan } = decide({ service: service({ active: a }), pods: [a, b], keys, now: NOW });
    assert.equal(plan.kind, 'steady');
    if (plan.kind !== 'steady') return;
    assert.deepEqual(plan.podWrites.map((w) => w.labels), [{ [keys.role]: null }, { [keys.role]: null }]);
  });

  it('a converged world is steady with no writes', () => {
    const { plan } = decide({ service: service({ active: a }), pods: [a, b], keys, now: NOW, roleLabels: true });
    assert.deepEqual(plan, { kind: 'steady', active: 'a', why: 'a is active and healthy', record: undefined, podWrites: [] });
  });

  it('steady still labels a newly arrived standby', () => {
    const { plan } = decide({ service: service({ active: a }), pods: [a, b, pod('c')], keys, now: NOW, roleLabels: true });
    assert.equal(plan.kind, 'steady');
    if (plan.kind !== 'steady') return;
    assert.deepEqual(plan.podWrites, [{ pod: 'c', labels: { [keys.podId]: 'uid-c', [keys.role]: 'standby' } }]);
  });

  it('pod writes come sorted by pod name whatever the input order', () => {
    const { plan } = decide({
      service: service({ active: a }),
      pods: [pod('d'), pod('c'), a, pod('b')],
      keys,
      now: NOW,
      roleLabels: true,
    });
    assert.equal(plan.kind, 'steady');
    if (plan.kind !== 'steady') return;
    assert.deepEqual(
      plan.podWrites.map((w) => w.pod),
      ['b', 'c', 'd'],
    );
  });

  it('a switchover clears its request in the same Service write', () => {
    const svc = service({ active: a, annotations: { [keys.switchoverTo]: 'b' } });
    const { plan } = decide({ service: svc, pods: [a, b], keys, now: NOW });
    assert.equal(plan.kind, 'switch');
    if (plan.kind !== 'switch') return;
    assert.equal(plan.service.annotations[keys.switchoverTo], null);
    assert.equal(plan.service.annotations[keys.reason], 'switchover');
    assert.deepEqual(plan.service.selector, { app: 'web', [keys.podId]: 'uid-b' });
  });

  it('a refusal clears the request and leaves the selector as it is', () => {
    const svc = service({ active: a, annotations: { [keys.switchoverTo]: 'zed' } });
    const { plan } = decide({ service: svc, pods: [a, b], keys, now: NOW });
    assert.deepEqual(plan, {
      kind: 'refuse-switchover',
      requested: 'zed',
      why: 'no pod named "zed" in namespace shop',
      service: { selector: { app: 'web', [keys.podId]: 'uid-a' }, annotations: { [keys.switchoverTo]: null } },
    });
  });

  it('unavailable records the term without touching the selector', () => {
    const svc = service({ active: aDown, term: 3 });
    const { plan } = decide({ service: svc, pods: [aDown], keys, now: NOW });
    assert.deepEqual(plan, {
      kind: 'unavailable',
      active: 'a',
      term: 3,
      service: { selector: { app: 'web', [keys.podId]: 'uid-a' }, annotations: { [keys.unavailableTerm]: '3', [keys.recordOf]: 'svc-uid' } },
    });
  });

  it('a switch after an unavailable period clears unavailable-term', () => {
    const svc = service({ active: aDown, term: 3, annotations: { [keys.unavailableTerm]: '3' } });
    const { plan } = decide({ service: svc, pods: [aDown, b], keys, now: NOW });
    assert.equal(plan.kind, 'switch');
    if (plan.kind !== 'switch') return;
    assert.equal(plan.service.annotations[keys.unavailableTerm], null);
    assert.equal(plan.service.annotations[keys.term], '4');
  });

  it('release restores the selector, removes every baton annotation and unlabels own pods', () => {
    const svc = service({
      active: a,
      optedIn: false,
      annotations: {
        [keys.completedTerm]: '1',
        [keys.switchoverTo]: 'b',
        [keys.failback]: 'true',
        'team.example.com/owner': 'payments',
      },
    });
    const stranger = pod('z', { namespace: 'elsewhere', role: 'active' });
    const { plan, podProblems } = decide({
      service: svc,
      pods: [b, a, pod('c'), stranger],
      keys,
      now: NOW,
    });
    assert.deepEqual(podProblems, []);
    assert.deepEqual(plan, {
      kind: 'release',
      service: {
        selector: { app: 'web' },
        annotations: {
          [keys.originalSelector]: null,
          [keys.activePod]: null,
          [keys.activeUid]: null,
          [keys.term]: null,
          [keys.switchedAt]: null,
          [keys.reason]: null,
          [keys.completedTerm]: null,
          [keys.recordOf]: null,
          [keys.switchoverTo]: null,
        },
      },
      podWrites: [
        { pod: 'a', labels: { [keys.podId]: null, [keys.role]: null } },
        { pod: 'b', labels: { [keys.podId]: null, [keys.role]: null } },
      ],
    });
  });

  it('release with the selector reduced to the pod-id key restores the saved selector', () => {
    const svc: ServiceView = {
      ...service({ optedIn: false }),
      selector: { [keys.podId]: uidOf('a') },
      annotations: { [keys.originalSelector]: '{"app":"web"}', [keys.recordOf]: 'svc-uid' },
    };
    const { plan } = decide({ service: svc, pods: [a], keys, now: NOW });
    assert.equal(plan.kind, 'release');
    if (plan.kind !== 'release') return;
    assert.deepEqual(plan.service.selector, { app: 'web' });
  });

  it('a pod-id key alone in the selector is enough to trigger release', () => {
    const svc: ServiceView = { ...service({ optedIn: false, annotations: { [keys.recordOf]: 'svc-uid' } }), selector: { app: 'web', [keys.podId]: 'uid-a' } };
    const { plan } = decide({ service: svc, pods: [], keys, now: NOW });
    assert.deepEqual(plan, {
      kind: 'release',
      service: { selector: { app: 'web' }, annotations: { [keys.recordOf]: null } },
      podWrites: [],
    });
  });

  it('a copy of an adopted Service (its record names another uid) is never released', () => {
    const original = service({ active: a, optedIn: false });
    const copy: ServiceView = { ...original, name: 'web-copy', uid: 'copy-uid' };
    assert.deepEqual(decide({ service: copy, pods: [a, b], keys, now: NOW }).plan.kind, 'ignore');
    const noRecord: ServiceView = { ...original, annotations: { ...original.annotations, [keys.recordOf]: '' } };
    assert.deepEqual(decide({ service: noRecord, pods: [a, b], keys, now: NOW }).plan.kind, 'ignore');
  });

  it('steady completes a record that lacks the Service uid or a readable saved selector', () => {
    const legacy = service({ active: a, annotations: { [keys.recordOf]: 'someone-else', [keys.originalSelector]: '{bad' } });
    const { plan } = decide({ service: legacy, pods: [a, b], keys, now: NOW });
    assert.equal(plan.kind, 'steady');
    if (plan.kind !== 'steady') return;
    assert.deepEqual(plan.record, { selector: legacy.selector, annotations: { [keys.recordOf]: 'svc-uid', [keys.originalSelector]: '{"app":"web"}' } });
  });

  it('a pod carrying another pod\'s id is corrected: after a steady look, and before a switch', () => {
    const impostor = { ...pod('c'), labels: { app: 'web', [keys.podId]: 'uid-a' }, resourceVersion: '77' };
    const steady = decide({ service: service({ active: a }), pods: [a, b, impostor], keys, now: NOW }).plan;
    assert.equal(steady.kind, 'steady');
    if (steady.kind !== 'steady') return;
    assert.deepEqual(steady.podWrites.find((w) => w.pod === 'c'), { pod: 'c', labels: { [keys.podId]: 'uid-c' }, resourceVersion: '77' });
    const impostorOfB = { ...impostor, labels: { app: 'web', [keys.podId]: 'uid-b' } };
    const failover = decide({ service: service({ active: aDown }), pods: [aDown, b, impostorOfB], keys, now: NOW }).plan;
    assert.equal(failover.kind, 'switch');
    if (failover.kind !== 'switch') return;
    assert.equal(failover.to.name, 'b');
    assert.deepEqual(failover.prerequisites, [{ pod: 'c', labels: { [keys.podId]: 'uid-c' }, resourceVersion: '77' }]);
  });

  it('a term that someone damaged restarts the count; the switch clears any completion of an earlier count', () => {
    const svc = service({ active: aDown, annotations: { [keys.term]: 'x7', [keys.completedTerm]: '1' } });
    const { plan } = decide({ service: svc, pods: [aDown, b], keys, now: NOW });
    assert.equal(plan.kind, 'switch');
    if (plan.kind !== 'switch') return;
    assert.equal(plan.term, 1);
    assert.equal(plan.service.annotations[keys.completedTerm], null);
  });

  it('with role labels on, a pod active for another Service is labelled active too', () => {
    const { plan } = decide({ service: service({ active: a }), pods: [a, pod('b', { role: 'standby' })], keys, now: NOW, roleLabels: true, activeElsewhere: new Set(['uid-b']) });
    assert.equal(plan.kind, 'steady');
    if (plan.kind !== 'steady') return;
    assert.deepEqual(plan.podWrites, [{ pod: 'b', labels: { [keys.role]: 'active' }, ...(pod('b').resourceVersion ? { resourceVersion: pod('b').resourceVersion } : {}) }]);
  });

  it('a switchover request alone on an opted-out Service is left to its owner', () => {
    const svc = service({ optedIn: false, annotations: { [keys.switchoverTo]: 'a' } });
    const { plan } = decide({ service: svc, pods: [a], keys, now: NOW });
    assert.equal(plan.kind, 'ignore');
  });

  it('a user edit of the selector after adoption wins over the saved copy', () => {
    const svc: ServiceView = {
      ...service({ active: aDown }),
      selector: { app: 'web', track: 'canary', [keys.podId]: 'uid-a' },
    };
    const canary = pod('c', { labels: { app: 'web', track: 'canary' } });
    const { plan } = decide({ service: svc, pods: [aDown, b, canary], keys, now: NOW });
    assert.equal(plan.kind, 'switch');
    if (plan.kind !== 'switch') return;
    assert.equal(plan.to.name, 'c');
    assert.deepEqual(plan.service.selector, { app: 'web', track: 'canary', [keys.podId]: 'uid-c' });
    assert.equal(plan.service.annotations[keys.originalSelector], '{"app":"web","track":"canary"}');
  });

  it('an opted-in Service without a selector of its own is invalid', () => {
    const svc: ServiceView = { ...service(), selector: {} };
    const { plan } = decide({ service: svc, pods: [a], keys, now: NOW });
    assert.equal(plan.kind, 'invalid-config');
    if (plan.kind !== 'invalid-config') return;
    assert.deepEqual(
      plan.problems.map((p) => p.key),
      ['spec.selector'],
    );
  });

  it('invalid config carries the exact problem and pod problems still surface', () => {
    const svc = service({ active: a, annotations: { [keys.minSwitchInterval]: '-5s' } });
    const { plan, podProblems } = decide({
      service: svc,
      pods: [a, pod('b', { priority: '1.5' })],
      keys,
      now: NOW,
    });
    assert.equal(plan.kind, 'invalid-config');
    if (plan.kind !== 'invalid-config') return;
    assert.equal(plan.problems.length, 1);
    assert.equal(plan.problems[0]?.key, keys.minSwitchInterval);
    assert.equal(plan.problems[0]?.value, '-5s');
    assert.match(plan.problems[0]?.message ?? '', /negative/);
    assert.deepEqual(
      podProblems.map((p) => [p.pod, p.value]),
      [['b', '1.5']],
    );
  });

  it('pod problems are sorted by pod name and ignore pods outside the selector', () => {
    const { podProblems } = decide({
      service: service(),
      pods: [
        pod('c', { priority: 'top' }),
        pod('a', { priority: '2000000' }),
        pod('b', { priority: '7' }),
        pod('x', { priority: 'bad', labels: { app: 'db' } }),
      ],
      keys,
      now: NOW,
    });
    assert.deepEqual(
      podProblems.map((p) => ({ pod: p.pod, key: p.key, value: p.value })),
      [
        { pod: 'a', key: keys.priority, value: '2000000' },
        { pod: 'c', key: keys.priority, value: 'top' },
      ],
    );
  });

  it('hold explains which failback waits', () => {
    const svc = service({
      active: a,
      annotations: { ...failbackOn, [keys.minSwitchInterval]: '1m', [keys.switchedAt]: ago(10_000) },
    });
    const { plan } = decide({ service: svc, pods: [a, bHigh], keys, now: NOW });
    assert.deepEqual(plan, {
      kind: 'hold',
      why: `failback from a to b waits for ${keys.minSwitchInterval}`,
      retryAfterMs: 50_000,
    });
  });

  it('a switched-at in the future holds for the full interval, not longer', () => {
    const svc = service({
      active: a,
      annotations: {
        ...failbackOn,
        [keys.minSwitchInterval]: '1m',
        [keys.switchedAt]: new Date(NOW + 3_600_000).toISOString(),
      },
    });
    const { plan } = decide({ service: svc, pods: [a, bHigh], keys, now: NOW });
    assert.equal(plan.kind, 'hold');
    if (plan.kind !== 'hold') return;
    assert.equal(plan.retryAfterMs, 60_000);
  });
});

describe('decide: a Service not yet adopted routes to nothing, not everything', () => {
  it('with no healthy pod, the selector is pinned to a pod-id no pod carries and the user selector is saved', () => {
    const { plan } = decide({ service: service(), pods: [pod('a', { ready: false })], keys, now: NOW });
    assert.equal(plan.kind, 'unavailable');
    if (plan.kind !== 'unavailable') return;
    assert.deepEqual(plan.service?.selector, { app: 'web', [keys.podId]: NO_POD });
    assert.equal(plan.service?.annotations[keys.originalSelector], JSON.stringify({ app: 'web' }));
  });

  it('once pinned and reported, nothing more is written', () => {
    const pinned: ServiceView = { ...service(), selector: { app: 'web', [keys.podId]: NO_POD }, annotations: { [keys.unavailableTerm]: '0', [keys.originalSelector]: '{"app":"web"}' } };
    const { plan } = decide({ service: pinned, pods: [pod('a', { ready: false })], keys, now: NOW });
    assert.deepEqual(plan, { kind: 'unavailable', active: undefined, term: 0, service: undefined });
  });

  it('the first healthy pod after the placeholder is an initial election, not a failover', () => {
    const pinned: ServiceView = { ...service(), selector: { app: 'web', [keys.podId]: NO_POD }, annotations: { [keys.originalSelector]: '{"app":"web"}' } };
    const { plan } = decide({ service: pinned, pods: [pod('a')], keys, now: NOW });
    assert.equal(plan.kind, 'switch');
    if (plan.kind !== 'switch') return;
    assert.equal(plan.reason, 'initial');
    assert.equal(plan.from, undefined);
    assert.deepEqual(plan.service.selector, { app: 'web', [keys.podId]: uidOf('a') });
  });
});

describe('decide: a Service that follows another', () => {
  const follower = (extra: Partial<ServiceView> = {}, annotations: Record<string, string> = {}): ServiceView => ({
    ...service({ active: a, annotations: { [keys.follow]: 'db', ...annotations } }),
    name: 'db-headless',
    uid: 'twin-uid',
    ...extra,
  });
  const leaderOn = (pod: typeof a, reason = 'failover'): ServiceView => ({ ...service({ active: pod, annotations: { [keys.reason]: reason } }), name: 'db' });

  it('mirrors the leader: switches to its active even when its own pin is healthy', () => {
    const { plan } = decide({ service: { ...follower(), annotations: { ...follower().annotations, [keys.recordOf]: 'twin-uid' } }, pods: [a, b], keys, now: NOW, leader: leaderOn(b) });
    assert.equal(plan.kind, 'switch');
    if (plan.kind !== 'switch') return;
    assert.equal(plan.to.name, 'b');
    assert.equal(plan.reason, 'failover', 'the leader\'s reason');
    assert.equal(plan.service.selector[keys.podId], 'uid-b');
  });

  it('stays where the leader is, whatever the health of that pod: the leader judges health', () => {
    const { plan } = decide({ service: follower({}, { [keys.recordOf]: 'twin-uid' }), pods: [aDown, b], keys, now: NOW, leader: leaderOn(aDown) });
    assert.equal(plan.kind, 'steady');
  });

  it('routes to nothing while the leader has chosen nothing, if it routed to every pod', () => {
    const leader: ServiceView = { ...service(), name: 'db', selector: { app: 'web', [keys.podId]: 'none' } };
    const unpinned: ServiceView = { ...follower({}, { [keys.recordOf]: 'twin-uid' }), selector: { app: 'web' } };
    const { plan } = decide({ service: unpinned, pods: [a, b], keys, now: NOW, leader });
    assert.equal(plan.kind, 'unavailable');
    if (plan.kind !== 'unavailable') return;
    assert.equal(plan.service?.selector[keys.podId], 'none');
  });

  it('keeps its pinned pod while the leader has chosen nothing (never back to the placeholder)', () => {
    const leader: ServiceView = { ...service(), name: 'db', selector: { app: 'web', [keys.podId]: 'none' } };
    const { plan } = decide({ service: follower({}, { [keys.recordOf]: 'twin-uid' }), pods: [a, b], keys, now: NOW, leader });
    assert.equal(plan.kind, 'steady');
  });

  const invalid: ReadonlyArray<[string, ServiceView | undefined, RegExp]> = [
    ['a leader that does not exist', undefined, /no Service named db/],
    ['a leader that is not opted in', { ...leaderOn(b), labels: {} }, /is not labelled/],
    ['a leader that follows another Service', { ...leaderOn(b), annotations: { ...leaderOn(b).annotations, [keys.follow]: 'other' } }, /follows another Service itself/],
    ['a leader whose active this Service does not select', leaderOn(pod('z', { role: 'active' })), /is not one of the pods this Service selects/],
  ];
  for (const [name, leader, message] of invalid) {
    it(`${name}: invalid config, the Service left as it is`, () => {
      const { plan } = decide({ service: follower(), pods: [a, b], keys, now: NOW, leader });
      assert.equal(plan.kind, 'invalid-config');
      if (plan.kind !== 'invalid-config') return;
      assert.match(plan.problems.map((p) => p.message).join('; '), message);
    });
  }

  it('a follower cannot follow itself, or take a switchover request', () => {
    const self = decide({ service: { ...follower(), annotations: { ...follower().annotations, [keys.follow]: 'db-headless' } }, pods: [a, b], keys, now: NOW, leader: leaderOn(a) }).plan;
    assert.equal(self.kind, 'invalid-config');
    const request = decide({ service: follower({}, { [keys.switchoverTo]: 'b' }), pods: [a, b], keys, now: NOW, leader: leaderOn(a) }).plan;
    assert.equal(request.kind, 'invalid-config');
    const bad = decide({ service: follower({}, { [keys.follow]: 'Not_A_Name' }), pods: [a, b], keys, now: NOW, leader: leaderOn(a) }).plan;
    assert.equal(bad.kind, 'invalid-config');
  });
});
