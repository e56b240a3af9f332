
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decide, NO_POD } from '../../../../../functions/failover/core/decide.js';
import type { ServiceView } from '../../../../../functions/failover/core/model.js';
import { keys, NOW, pod, service, uidOf } from './fixtures.js';
import { a, aDown, b } from './decide.shared.js';

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
