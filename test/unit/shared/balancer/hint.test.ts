import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { acceptHint, narrow, NO_HINT, observeService, readServiceRecord, RELEASED_RECORD, type HintState, type ServiceRecord } from '../../../../shared/balancer/hint.js';
import type { Endpoint } from '../../../../shared/balancer/model.js';

const pod = (name: string) => ({ name, uid: `uid-${name}` });
const ep = (ip: string, name: string | undefined): Endpoint => ({ address: ip, port: 80, pod: name ? pod(name) : undefined, nodeName: undefined, zone: undefined });
const TIMEOUT = 1_000;
const record = (term: number, active: string): ServiceRecord => ({ term, activeUid: `uid-${active}` });
/** The balancer has read Service `svc` with this record. */
const synced = (r: ServiceRecord = record(3, 'a')): HintState => observeService(NO_HINT, 'svc', r);

function hinted(to: string, term: number, now = 0, state: HintState = synced()): HintState {
  const r = acceptHint(state, { serviceUid: 'svc', term, to: pod(to) }, now);
  assert.ok(r.applied, `hint ${to}@${term} refused: ${r.applied ? '' : r.reason}`);
  return r.state;
}

const outcome = (state: HintState, term: number, to: string, serviceUid = 'svc'): string => {
  const r = acceptHint(state, { serviceUid, term, to: pod(to) }, 0);
  return r.applied ? 'applied' : r.reason;
};

describe('readServiceRecord', () => {
  const meta = (labels: Record<string, string>, annotations: Record<string, string>) => ({ uid: 'svc', labels, annotations });
  const opted = { 'baton.dev/mode': 'active-standby' };
  const rows: Array<[string, ReturnType<typeof meta> | undefined, string, ServiceRecord]> = [
    ['opted in, with term and active', meta(opted, { 'baton.dev/term': '7', 'baton.dev/active-uid': 'u1' }), 'baton.dev', { term: 7, activeUid: 'u1' }],
    ['opted in, no term yet', meta(opted, {}), 'baton.dev', RELEASED_RECORD],
    ['not labelled (released), annotations left over', meta({}, { 'baton.dev/term': '7' }), 'baton.dev', RELEASED_RECORD],
    ['labelled with another mode', meta({ 'baton.dev/mode': 'other' }, { 'baton.dev/term': '7' }), 'baton.dev', RELEASED_RECORD],
    ['term 0', meta(opted, { 'baton.dev/term': '0' }), 'baton.dev', RELEASED_RECORD],
    ['term not a number', meta(opted, { 'baton.dev/term': '1e3' }), 'baton.dev', RELEASED_RECORD],
    ['term negative', meta(opted, { 'baton.dev/term': '-2' }), 'baton.dev', RELEASED_RECORD],
    ['term beyond a safe integer', meta(opted, { 'baton.dev/term': '99999999999999999' }), 'baton.dev', RELEASED_RECORD],
    ['another prefix', meta({ 'x.io/mode': 'active-standby' }, { 'x.io/term': '2', 'x.io/active-uid': 'u' }), 'x.io', { term: 2, activeUid: 'u' }],
    ['no metadata', undefined, 'baton.dev', RELEASED_RECORD],
    ['a record written on this Service', meta(opted, { 'baton.dev/term': '4', 'baton.dev/active-uid': 'u', 'baton.dev/record-of': 'svc' }), 'baton.dev', { term: 4, activeUid: 'u' }],
    ['a record copied from another Service', meta(opted, { 'baton.dev/term': '4', 'baton.dev/active-uid': 'u', 'baton.dev/record-of': 'other' }), 'baton.dev', RELEASED_RECORD],
  ];
  for (const [name, metadata, prefix, want] of rows) it(name, () => assert.deepEqual(readServiceRecord(metadata, prefix), want));
});

describe('acceptHint: terms are judged against the Service record (term 3, active a)', () => {
  const rows: Array<[string, HintState, number, string, string, string?]> = [
    ['before the Service was read', NO_HINT, 3, 'a', 'not-synced'],
    ['another Service uid', synced(), 3, 'a', 'other-service', 'old'],
    ['a Service not opted in', synced(RELEASED_RECORD), 1, 'a', 'not-opted-in'],
    ['the recorded term and pod', synced(), 3, 'a', 'applied'],
    ['the recorded term, another pod', synced(), 3, 'b', 'contradicts-service'],
    ['one term ahead (the event overtook the watch)', synced(), 4, 'b', 'applied'],
    ['two terms ahead', synced(), 5, 'b', 'implausible-term'],
    ['a huge term', synced(), 2_000_000_000, 'a', 'implausible-term'],
    ['an older term', synced(), 2, 'a', 'stale-term'],
    ['a re-sent copy of a taken term', hinted('a', 3), 3, 'a', 'duplicate-term'],
    ['an unverified repeat of a term ahead', hinted('b', 4), 4, 'c', 'duplicate-term'],
    ['a term older than one taken', hinted('b', 4), 3, 'a', 'stale-term'],
  ];
  for (const [name, state, term, to, want, uid] of rows) it(name, () => assert.equal(outcome(state, term, to, uid), want));

  it('a forged term ahead leaves room for the genuine event once the record confirms its term', () => {
    const forged = hinted('ghost', 4);
    const recorded = observeService(forged, 'svc', record(4, 'b'));
    assert.equal(recorded.live, undefined, 'the record names another pod: the forged hint is dropped');
    assert.equal(outcome(recorded, 4, 'b'), 'applied');
    assert.equal(outcome(hinted('b', 4, 0, recorded), 4, 'b'), 'duplicate-term');
  });
  it('a hint the record later confirms counts as verified: its copy is a duplicate', () => {
    const confirmed = observeService(hinted('b', 4), 'svc', record(4, 'b'));
    assert.equal(confirmed.live?.verified, true);
    assert.equal(outcome(confirmed, 4, 'b'), 'duplicate-term');
  });
});

describe('observeService: the record rules the term memory', () => {
  it('a release forgets every term (opt-out)', () => {
    const s = observeService(hinted('b', 4), 'svc', RELEASED_RECORD);
    assert.deepEqual([s.term, s.live], [0, undefined]);
  });
  it('opt-out and opt-in again: terms restart at 1 and hints work again (issue 19.3)', () => {
    let s = hinted('c', 7, 0, synced(record(7, 'c')));
    s = observeService(s, 'svc', RELEASED_RECORD);
    s = observeService(s, 'svc', record(1, 'a'));
    assert.equal(outcome(s, 1, 'a'), 'applied');
    assert.equal(outcome(s, 2, 'b'), 'applied');
  });
  it('a recorded term that went down without a release being seen also starts afresh', () => {
    const s = observeService(hinted('c', 7, 0, synced(record(7, 'c'))), 'svc', record(1, 'a'));
    assert.equal(s.term, 0);
    assert.equal(outcome(s, 2, 'b'), 'applied');
  });
  it('a recreated Service (new uid) starts afresh', () => {
    const s = observeService(hinted('a', 3), 'svc2', record(1, 'x'));
    assert.deepEqual([s.serviceUid, s.term, s.live], ['svc2', 0, undefined]);
  });
  it('a live hint is dropped when the record moves past its term or names another pod', () => {
    assert.equal(observeService(hinted('a', 3), 'svc', record(4, 'b')).live, undefined);
    assert.equal(observeService(hinted('b', 4), 'svc', record(4, 'c')).live, undefined);
    assert.equal(observeService(hinted('b', 4), 'svc', record(3, 'a')).live?.active.name, 'b', 'the record has not caught up yet');
  });
});

describe('narrow', () => {
  const slices = [ep('10.0.0.1', 'a'), ep('10.0.0.2', 'b'), ep('10.0.0.3', 'c')];
  it('keeps only the hinted pod while the hint is fresh', () => {
    const n = narrow(slices, hinted('a', 3), 10, TIMEOUT);
    assert.deepEqual(n.endpoints.map((e) => e.address), ['10.0.0.1']);
    assert.equal(n.expiresAt, TIMEOUT);
  });
  it('pinning ends at the timeout even though the pod stays in the slices (issue 19.1)', () => {
    const seen = narrow(slices, hinted('a', 3), 10, TIMEOUT).state;
    const later = narrow(slices, seen, TIMEOUT, TIMEOUT);
    assert.equal(later.endpoints.length, 3);
    assert.equal(later.state.live, undefined);
    assert.equal(later.state.term, 3, 'the term stays taken, so a copy cannot restart the clock');
  });
  it('a verified hint holds traffic back while its pod is not in the slices, until the timeout', () => {
    const s = hinted('d', 3, 0, synced(record(3, 'd')));
    const waiting = narrow(slices, s, 500, TIMEOUT);
    assert.deepEqual([waiting.endpoints.length, waiting.awaiting?.name, waiting.expiresAt], [0, 'd', TIMEOUT]);
    assert.equal(narrow(slices, s, TIMEOUT, TIMEOUT).endpoints.length, 3);
  });
  it('an unverified hint never holds traffic back (no black hole from a forged term)', () => {
    const n = narrow(slices, hinted('ghost', 4), 1, TIMEOUT);
    assert.deepEqual([n.endpoints.length, n.awaiting], [3, undefined]);
  });
  it('a hint whose pod was listed and left retires: the slices have moved on', () => {
    const seen = narrow(slices, hinted('a', 3), 0, TIMEOUT).state;
    const later = narrow([ep('10.0.0.3', 'c')], seen, 1, TIMEOUT);
    assert.deepEqual(later.endpoints.map((e) => e.address), ['10.0.0.3']);
    assert.equal(later.state.live, undefined);
  });
});

describe('properties', () => {
  const names = ['a', 'b', 'c', 'd', 'ghost'];
  const arbReady = fc
    .uniqueArray(fc.constantFrom(...names.slice(0, 4)), { maxLength: 4 })
    .map((ps) => ps.map((p, i) => ep(`10.0.0.${i + 1}`, p)));
  const arbEvent = fc.record({
    gap: fc.nat(600),
    term: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.constant(2_000_000_000)),
    to: fc.constantFrom(...names),
    uid: fc.constantFrom('svc', 'svc', 'svc', 'other'),
  });

  it('never returns an endpoint the slices do not list, and nothing but the slices once the hint is past its time', () => {
    fc.assert(
      fc.property(arbReady, fc.constantFrom(...names), fc.integer({ min: 3, max: 4 }), fc.nat(3_000), (ready, to, term, now) => {
        const r = acceptHint(synced(record(3, 'a')), { serviceUid: 'svc', term, to: pod(to) }, 0);
        const n = narrow(ready, r.state, now, TIMEOUT);
        for (const e of n.endpoints) assert.ok(ready.includes(e));
        if (now >= TIMEOUT) assert.deepEqual(n.endpoints, ready);
      }),
      { numRuns: 500 },
    );
  });

  it('any stream of forged events, against a fixed record: at most one hold-back window and two narrowing windows', () => {
    fc.assert(
      fc.property(arbReady, fc.constantFrom(...names.slice(0, 4)), fc.array(arbEvent, { maxLength: 40 }), (ready, active, events) => {
        let state = synced(record(3, active));
        let now = 0;
        let held = 0;
        let altered = 0;
        // Step time in 10 ms ticks between events and measure how long the output differs from the slices.
        const run = (until: number): void => {
          for (; now < until; now += 10) {
            const n = narrow(ready, state, now, TIMEOUT);
            state = n.state;
            if (n.endpoints.length === 0 && ready.length > 0) held += 10;
            if (n.endpoints.length !== ready.length) altered += 10;
            // Narrowing only ever to the recorded active, or to an unverified term-4 hint.
            if (n.endpoints.length !== ready.length && n.endpoints.length > 0) assert.ok(n.endpoints.every((e) => e.pod?.uid === `uid-${active}` || state.live?.verified === false));
          }
        };
        for (const e of events) {
          run(now + e.gap);
          state = acceptHint(state, { serviceUid: e.uid, term: e.term, to: pod(e.to) }, now).state;
        }
        run(now + 2 * TIMEOUT);
        assert.ok(held <= TIMEOUT, `held back for ${held} ms`);
        assert.ok(altered <= 2 * TIMEOUT, `altered for ${altered} ms`);
        assert.ok(state.term <= 4, `term memory ran ahead of the record: ${state.term}`);
      }),
      { numRuns: 300 },
    );
  });

  it('after any forged stream, the genuine event of the next term is taken once the record shows it (no term lock)', () => {
    fc.assert(
      fc.property(fc.array(arbEvent, { maxLength: 30 }), fc.constantFrom('b', 'c'), (events, next) => {
        let state = synced(record(3, 'a'));
        for (const [i, e] of events.entries()) state = acceptHint(state, { serviceUid: e.uid, term: e.term, to: pod(e.to) }, i).state;
        state = observeService(state, 'svc', record(4, next));
        const genuine = acceptHint(state, { serviceUid: 'svc', term: 4, to: pod(next) }, 1_000);
        // Either taken now, or an earlier event already named the same pod for that term and the record verified it.
        assert.ok(genuine.applied || (state.live?.verified === true && state.live.active.name === next), genuine.applied ? '' : genuine.reason);
      }),
      { numRuns: 500 },
    );
  });
});
