// baton's record on a Service, read once (shared/record.ts), and every reader agreeing
// with that one reading: failover's decisions, completion, the balancer's hints.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseTerm, readRecord } from '../../../shared/record.js';
import { keysFor, MODE_VALUE } from '../../../shared/keys.js';
import { readServiceRecord } from '../../../shared/balancer/hint.js';
import { decide } from '../../../functions/failover/core/decide.js';
import { completionDue, isCompleted } from '../../../functions/failover/completion.js';
import { keys, pod, service } from '../functions/failover/core/fixtures.js';

const K = keysFor('baton.dev');

/** Term texts that baton never writes but a hand edit can: each must read as "no term". */
const NOT_TERMS = ['', '0', '00', '01', '007', '1e3', '1E3', '0x10', '-2', '+3', ' 5', '5 ', '1.0', '1_000', 'seven', '９', '1000000000000000', '99999999999999999', 'Infinity', 'NaN'];

/** Anything a term annotation might hold: canonical terms of every length, and the rest. */
const termText = fc.oneof(
  fc.integer({ min: 1, max: 999_999_999_999_999 }).map(String),
  fc.bigInt({ min: 1_000_000_000n, max: 10n ** 20n }).map(String),
  fc.constantFrom(...NOT_TERMS),
  fc.integer({ min: -1000, max: 1000 }).map((n) => `0${Math.abs(n)}`),
  fc.string({ maxLength: 20 }),
);

describe('parseTerm', () => {
  it('reads every term baton can write back as itself', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 999_999_999_999_999 }), (n) => parseTerm(String(n)) === n));
  });
  for (const text of NOT_TERMS) it(`${JSON.stringify(text)} is no term`, () => assert.equal(parseTerm(text), undefined));
  it('a term is a positive integer whose text is exactly what baton writes', () => {
    fc.assert(
      fc.property(termText, (text) => {
        const term = parseTerm(text);
        return term === undefined || (Number.isSafeInteger(term) && term >= 1 && String(term) === text);
      }),
    );
  });
});

describe('readRecord', () => {
  const meta = (annotations: Record<string, string>, labels: Record<string, string> = { [K.mode]: MODE_VALUE }) => ({ uid: 'svc', labels, annotations });
  it('a full record written on this Service', () => {
    const r = readRecord(
      meta({
        [K.term]: '12',
        [K.activePod]: 'web-1',
        [K.activeUid]: 'u1',
        [K.switchedAt]: '2025-03-14T09:27:00.000Z',
        [K.reason]: 'failover',
        [K.completedTerm]: '12',
        [K.unavailableTerm]: '0',
        [K.promotedTerm]: '11',
        [K.demoteFailedAt]: '2025-03-14T09:28:00.000Z',
        [K.recordOf]: 'svc',
        [K.originalSelector]: JSON.stringify({ app: 'web', [K.podId]: 'x' }),
      }),
      K,
    );
    assert.deepEqual(r, {
      optedIn: true,
      term: 12,
      activePod: 'web-1',
      activeUid: 'u1',
      switchedAt: Date.parse('2025-03-14T09:27:00.000Z'),
      reason: 'failover',
      completedTerm: 12,
      unavailableTerm: 0,
      promotedTerm: 11,
      demoteFailedAt: Date.parse('2025-03-14T09:28:00.000Z'),
      recordOf: 'this',
      originalSelector: { kind: 'valid', selector: { app: 'web' } },
      fencePending: [],
      fenceClaimed: [],
      completed: true,
    });
  });
  it('nothing recorded', () => {
    assert.deepEqual(readRecord(undefined, K), {
      optedIn: false,
      term: undefined,
      activePod: undefined,
      activeUid: undefined,
      switchedAt: undefined,
      reason: undefined,
      completedTerm: undefined,
      unavailableTerm: undefined,
      promotedTerm: undefined,
      demoteFailedAt: undefined,
      recordOf: 'absent',
      originalSelector: { kind: 'absent' },
      fencePending: [],
      fenceClaimed: [],
      completed: false,
    });
  });
  const rows: Array<[string, Record<string, string>, Partial<ReturnType<typeof readRecord>>]> = [
    ['a record copied from another Service', { [K.recordOf]: 'other' }, { recordOf: 'other' }],
    ['an unreadable switch time', { [K.switchedAt]: 'yesterday' }, { switchedAt: undefined }],
    ['an unknown reason', { [K.reason]: 'whim' }, { reason: undefined }],
    ['completed-term of another term', { [K.term]: '3', [K.completedTerm]: '2' }, { term: 3, completedTerm: 2, completed: false }],
    ['completed-term equal to an unreadable term', { [K.term]: '03', [K.completedTerm]: '03' }, { term: undefined, completedTerm: undefined, completed: false }],
    ['a damaged saved selector', { [K.originalSelector]: '{app: web}' }, { originalSelector: { kind: 'invalid', text: '{app: web}', message: 'not valid JSON; expected a JSON object of string label values' } }],
    ['a fence mark naming a pod uid', { [K.fencePending]: '0b5e2c1a-1f2e-4c3d-9a8b-7c6d5e4f3a2b' }, { fencePending: ['0b5e2c1a-1f2e-4c3d-9a8b-7c6d5e4f3a2b'] }],
    ['a fence mark naming two pods, oldest first, a repeat once', { [K.fencePending]: 'uid-a,uid-b,uid-a' }, { fencePending: ['uid-a', 'uid-b'] }],
    ['a fence mark with a claimed pod', { [K.fencePending]: '!uid-a,uid-b' }, { fencePending: ['uid-a', 'uid-b'], fenceClaimed: ['uid-a'] }],
    ['a fence mark that is no uid', { [K.fencePending]: 'web-0; rm -rf' }, { fencePending: [] }],
    ['a fence mark with one part that is no uid', { [K.fencePending]: 'uid-a,,uid-b' }, { fencePending: [] }],
    ['a fence mark longer than baton writes', { [K.fencePending]: Array.from({ length: 9 }, (_, i) => `uid-${i}`).join(',') }, { fencePending: [] }],
    ['an empty fence mark', { [K.fencePending]: '' }, { fencePending: [] }],
    ['a saved selector of baton\'s key alone', { [K.originalSelector]: JSON.stringify({ [K.podId]: 'x' }) }, { originalSelector: { kind: 'invalid', text: JSON.stringify({ [K.podId]: 'x' }), message: 'expected a non-empty selector' } }],
  ];
  for (const [name, annotations, want] of rows) {
    it(name, () => {
      const r = readRecord(meta(annotations), K);
      for (const [field, value] of Object.entries(want)) assert.deepEqual(r[field as keyof typeof r], value, field);
    });
  }
  it('an empty record-of on a Service read without uid is not "this"', () => assert.equal(readRecord({ annotations: { [K.recordOf]: '' } }, K).recordOf, 'other'));
  it('an empty uid owns no record, not even an empty record-of', () => assert.equal(readRecord({ uid: '', annotations: { [K.recordOf]: '' } }, K).recordOf, 'other'));
  it('another mode is not opted in', () => assert.equal(readRecord(meta({}, { [K.mode]: 'other' }), K).optedIn, false));
});

describe('every reader of the term agrees with readRecord', () => {
  it('the balancer, failover\'s decisions and completion read the same term from any text', () => {
    fc.assert(
      fc.property(termText, (text) => {
        const expected = readRecord({ annotations: { [keys.term]: text } }, keys).term;
        // The balancer's hint check (a record naming an active, written on the Service).
        const balancer = readServiceRecord({ uid: 'svc-uid', labels: { [keys.mode]: MODE_VALUE }, annotations: { [keys.term]: text, [keys.activeUid]: 'uid-a', [keys.recordOf]: 'svc-uid' } }, 'baton.example.com');
        assert.equal(balancer.term, expected, 'balancer');
        // Failover: the active is down and b is healthy, so the switch writes the next term.
        const a = pod('a', { ready: false });
        const b = pod('b');
        const svc = service({ active: a, annotations: { [keys.term]: text } });
        const { plan } = decide({ service: svc, pods: [a, b], keys, now: Date.parse('2024-05-01T12:00:00.000Z'), roleLabels: false });
        assert.equal(plan.kind, 'switch');
        assert.equal(plan.kind === 'switch' && plan.term, (expected ?? 0) + 1, 'failover');
        // Completion: a term recorded complete is complete only if it is a term at all.
        const done = service({ active: b, annotations: { [keys.term]: text, [keys.completedTerm]: text } });
        assert.equal(isCompleted(done, keys), expected !== undefined, 'completion');
        const slices = [{ name: 's', endpoints: [{ podName: 'b', podUid: b.uid, ready: true }] }];
        const open = service({ active: b, annotations: { [keys.term]: text } });
        assert.equal(completionDue(open, slices, keys, 0)?.term, expected, 'completion due');
      }),
      { numRuns: 300 },
    );
  });
});
