import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { acceptHint, narrow, NO_HINT, type HintState } from '../../../shared/balancer/hint.js';
import type { Endpoint } from '../../../shared/balancer/model.js';

const pod = (name: string) => ({ name, uid: `uid-${name}` });
const ep = (ip: string, name: string | undefined): Endpoint => ({ address: ip, port: 80, pod: name ? pod(name) : undefined, nodeName: undefined, zone: undefined });
const TIMEOUT = 1_000;

function hinted(to: string, term: number, now = 0, state: HintState = NO_HINT): HintState {
  const r = acceptHint(state, { serviceUid: 'svc', term, to: pod(to) }, 'svc', now);
  assert.ok(r.applied);
  return r.state;
}

describe('acceptHint', () => {
  it('ignores events of another Service uid, and any before the Service is known', () => {
    assert.equal(acceptHint(NO_HINT, { serviceUid: 'old', term: 3, to: pod('b') }, 'svc', 0).applied, false);
    const r = acceptHint(NO_HINT, { serviceUid: 'svc', term: 3, to: pod('b') }, undefined, 0);
    assert.deepEqual(r.applied ? 'applied' : r.reason, 'not-synced');
  });
  it('ignores an older term and a re-sent copy of the current one', () => {
    const s = hinted('b', 3);
    const older = acceptHint(s, { serviceUid: 'svc', term: 2, to: pod('a') }, 'svc', 5);
    const same = acceptHint(s, { serviceUid: 'svc', term: 3, to: pod('b') }, 'svc', 5);
    assert.deepEqual([older.applied ? '' : older.reason, same.applied ? '' : same.reason], ['stale-term', 'duplicate-term']);
    assert.equal(same.state.live?.receivedAt, 0, 'a duplicate must not restart the clock');
  });
  it('a recreated Service starts its terms again', () => {
    const s = hinted('b', 7);
    assert.ok(acceptHint(s, { serviceUid: 'svc2', term: 1, to: pod('c') }, 'svc2', 0).applied);
  });
});

describe('narrow', () => {
  const slices = [ep('10.0.0.1', 'a'), ep('10.0.0.2', 'b')];
  it('keeps only the promoted pod when the slices show it', () => {
    const n = narrow(slices, hinted('b', 2), 10, TIMEOUT);
    assert.deepEqual(n.endpoints.map((e) => e.address), ['10.0.0.2']);
    assert.equal(n.state.live?.confirmed, true);
  });
  it('holds everything back while the promoted pod is not in the slices yet, until the timeout', () => {
    const s = hinted('c', 2, 0);
    const waiting = narrow(slices, s, 500, TIMEOUT);
    assert.deepEqual(waiting.endpoints, []);
    assert.equal(waiting.awaiting?.name, 'c');
    assert.equal(waiting.expiresAt, TIMEOUT);
    const expired = narrow(slices, s, TIMEOUT, TIMEOUT);
    assert.equal(expired.endpoints.length, 2);
    assert.equal(expired.state.live, undefined);
    assert.equal(expired.state.term, 2, 'the term is remembered after the hint retires');
  });
  it('a confirmed hint retires when its pod leaves the slices: the slices have moved on', () => {
    const confirmed = narrow(slices, hinted('b', 2), 0, TIMEOUT).state;
    const later = narrow([ep('10.0.0.3', 'c')], confirmed, 1, TIMEOUT);
    assert.deepEqual(later.endpoints.map((e) => e.address), ['10.0.0.3']);
    assert.equal(later.state.live, undefined);
  });
  it('never returns an endpoint the slices do not list (property)', () => {
    const names = ['a', 'b', 'c', 'd'];
    fc.assert(
      fc.property(
        fc.array(fc.record({ ip: fc.constantFrom('1', '2', '3', '4'), name: fc.option(fc.constantFrom(...names), { nil: undefined }) }), { maxLength: 6 }),
        fc.constantFrom(...names),
        fc.boolean(),
        fc.nat(3_000),
        (list, to, confirmed, now) => {
          const ready = list.map((e) => ep(e.ip, e.name));
          const base = hinted(to, 1);
          const state: HintState = { ...base, live: { ...base.live!, confirmed } };
          const n = narrow(ready, state, now, TIMEOUT);
          for (const e of n.endpoints) assert.ok(ready.includes(e));
          if (n.endpoints.length > 0 && n.state.live) assert.ok(n.endpoints.every((e) => e.pod?.uid === `uid-${to}`));
        },
      ),
      { numRuns: 300 },
    );
  });
});
