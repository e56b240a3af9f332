// Hint edges the main table leaves open: records with parts missing, states built by
// hand, the record moving on under a live hint, dropHint, and endpoints without a pod.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { acceptHint, dropHint, narrow, NO_HINT, observeService, readServiceRecord, RELEASED_RECORD, type HintState } from '../../../../shared/balancer/hint.js';
import type { Endpoint } from '../../../../shared/balancer/model.js';

const pod = (name: string) => ({ name, uid: `uid-${name}` });
const opted = { 'baton.dev/mode': 'active-standby' };

describe('readServiceRecord with parts missing', () => {
  it('no metadata, no labels, or no annotations read as released', () => {
    assert.equal(readServiceRecord(undefined, 'baton.dev'), RELEASED_RECORD);
    assert.equal(readServiceRecord({ uid: 'svc' }, 'baton.dev'), RELEASED_RECORD);
    assert.equal(readServiceRecord({ uid: 'svc', annotations: { 'baton.dev/term': '3' } }, 'baton.dev'), RELEASED_RECORD);
    assert.equal(readServiceRecord({ uid: 'svc', labels: opted }, 'baton.dev'), RELEASED_RECORD);
  });

  it('a term that is not a positive whole number of at most 15 digits reads as released', () => {
    for (const term of ['0', '01', '-1', '1.5', 'x', '1000000000000000', ' 3', '']) {
      assert.equal(readServiceRecord({ uid: 'svc', labels: opted, annotations: { 'baton.dev/term': term, 'baton.dev/active-uid': 'u' } }, 'baton.dev'), RELEASED_RECORD, term);
    }
  });

  it('property: terms of 1 to 15 digits without a leading zero are read, ten digits and more included', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 999_999_999_999_999n }), (n) => {
        assert.deepEqual(readServiceRecord({ uid: 'svc', labels: opted, annotations: { 'baton.dev/term': String(n), 'baton.dev/active-uid': 'u' } }, 'baton.dev'), { term: Number(n), activeUid: 'u' });
      }),
    );
  });

  it('an empty or missing active uid reads as none', () => {
    assert.deepEqual(readServiceRecord({ uid: 'svc', labels: opted, annotations: { 'baton.dev/term': '2', 'baton.dev/active-uid': '' } }, 'baton.dev'), { term: 2, activeUid: undefined });
    assert.deepEqual(readServiceRecord({ uid: 'svc', labels: opted, annotations: { 'baton.dev/term': '2' } }, 'baton.dev'), { term: 2, activeUid: undefined });
  });

  it('a record-of naming this Service is read; one naming another is not', () => {
    const annotations = { 'baton.dev/term': '2', 'baton.dev/active-uid': 'u' };
    assert.deepEqual(readServiceRecord({ uid: 'svc', labels: opted, annotations: { ...annotations, 'baton.dev/record-of': 'svc' } }, 'baton.dev'), { term: 2, activeUid: 'u' });
    assert.equal(readServiceRecord({ uid: 'svc', labels: opted, annotations: { ...annotations, 'baton.dev/record-of': 'other' } }, 'baton.dev'), RELEASED_RECORD);
  });
});

describe('the starting values', () => {
  it('a released record has no term and no active; no hint state has nothing at all', () => {
    assert.deepEqual(RELEASED_RECORD, { term: undefined, activeUid: undefined });
    assert.deepEqual(NO_HINT, { serviceUid: undefined, record: undefined, term: 0, termVerified: false, live: undefined });
  });
});

describe('hint state edges', () => {
  const synced = observeService(NO_HINT, 'svc', { term: 3, activeUid: 'uid-a' });

  it('a Service that is gone forgets everything, including the record', () => {
    assert.deepEqual(observeService(synced, undefined, { term: 3, activeUid: 'uid-a' }), NO_HINT);
  });

  it('a record observed before any Service was seen is kept, without failing', () => {
    assert.deepEqual(observeService(NO_HINT, undefined, { term: 3, activeUid: 'uid-a' }), { ...NO_HINT, record: { term: 3, activeUid: 'uid-a' } });
  });

  it('observing "gone" twice, then a record, does not fail', () => {
    const gone = observeService(observeService(NO_HINT, undefined, RELEASED_RECORD), undefined, RELEASED_RECORD);
    assert.deepEqual(observeService(gone, undefined, { term: 3, activeUid: 'uid-a' }), { ...NO_HINT, record: { term: 3, activeUid: 'uid-a' } });
  });

  it('states with only half of the sync are not synced', () => {
    const hint = { serviceUid: 'svc', term: 3, to: pod('a') };
    for (const state of [{ ...NO_HINT, serviceUid: 'svc' }, { ...NO_HINT, record: { term: 3, activeUid: 'uid-a' } }] satisfies HintState[]) {
      const r = acceptHint(state, hint, 0);
      assert.equal(r.applied ? 'applied' : r.reason, 'not-synced');
    }
  });

  it('an unverified hint is dropped when the record moves past its term, even naming the same pod', () => {
    const r = acceptHint(synced, { serviceUid: 'svc', term: 4, to: pod('b') }, 0);
    assert.ok(r.applied);
    const moved = observeService(r.state, 'svc', { term: 5, activeUid: 'uid-b' });
    assert.equal(moved.live, undefined);
  });

  it('dropHint drops a live hint and keeps everything else; without one it changes nothing', () => {
    const r = acceptHint(synced, { serviceUid: 'svc', term: 3, to: pod('a') }, 0);
    assert.ok(r.applied);
    assert.deepEqual(dropHint(r.state), { ...r.state, live: undefined });
    assert.equal(dropHint(synced), synced);
  });

  it('narrow without a live hint returns the slices as they are, with nothing awaited and no expiry', () => {
    const ready: Endpoint[] = [{ address: '10.0.0.1', port: 80, pod: pod('a'), nodeName: undefined, zone: undefined }];
    assert.deepEqual(narrow(ready, synced, 0, 1000), { endpoints: ready, state: synced, awaiting: undefined, expiresAt: undefined });
  });

  it('narrow passes over endpoints that name no pod', () => {
    const r = acceptHint(synced, { serviceUid: 'svc', term: 3, to: pod('a') }, 0);
    assert.ok(r.applied);
    const anonymous: Endpoint = { address: '10.0.0.9', port: 80, pod: undefined, nodeName: undefined, zone: undefined };
    const mine: Endpoint = { address: '10.0.0.1', port: 80, pod: pod('a'), nodeName: undefined, zone: undefined };
    assert.deepEqual(narrow([anonymous, mine], r.state, 10, 1000).endpoints, [mine]);
    const held = narrow([anonymous], r.state, 10, 1000);
    assert.deepEqual([held.endpoints, held.awaiting, held.expiresAt], [[], pod('a'), 1000]);
  });
});
