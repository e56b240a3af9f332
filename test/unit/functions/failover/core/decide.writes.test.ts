
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decide } from '../../../../../functions/failover/core/decide.js';
import type { ServiceView } from '../../../../../functions/failover/core/model.js';
import { keys, NOW, pod, service, uidOf } from './fixtures.js';
import { a, aDown, b } from './decide.shared.js';

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
      demote: undefined,
      promote: undefined,
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

});
