
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decide } from '../../../../../functions/failover/core/decide.js';
import type { ServiceView } from '../../../../../functions/failover/core/model.js';
import { keys, NOW, pod, service } from './fixtures.js';
import { a, aDown, b, bHigh, ago, failbackOn } from './decide.shared.js';

describe('decide: records, guards and problems', () => {
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
