// Pod label writes in full (sorted, only what differs, pending writes honoured, copies
// corrected) and the release of a Service that opted out.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { PodView, ServiceView } from '../../../../../functions/failover/core/model.js';
import { impostorWrites, releaseWrites, roleWrites } from '../../../../../functions/failover/core/pod-labels.js';
import { batonAnnotationKeys, labelsStillNeeded, releaseOrIgnore } from '../../../../../functions/failover/core/release.js';
import { comparePreference, rank } from '../../../../../functions/failover/core/elect.js';
import { parseDuration } from '../../../../../functions/failover/core/duration.js';
import { decide } from '../../../../../functions/failover/core/decide.js';
import { keys, NS, pod, service } from './fixtures.js';

const names = (pods: readonly { pod: string }[]) => pods.map((p) => p.pod);

describe('roleWrites', () => {
  it('sorts by pod name and skips terminating pods', () => {
    const writes = roleWrites([pod('c'), pod('a'), pod('d', { deleting: true }), pod('b')], 'uid-a', keys, [], true);
    assert.deepEqual(names(writes), ['a', 'b', 'c']);
  });

  it('writes exactly the labels that differ, without a version when none was read', () => {
    const wrongRole = pod('a', { role: 'standby' });
    const right = pod('b', { role: 'standby' });
    assert.deepEqual(roleWrites([wrongRole, right], 'uid-a', keys, [], true), [{ pod: 'a', labels: { [keys.role]: 'active' } }]);
  });

  it('counts only the pending writes for the same pod', () => {
    const a = pod('a');
    const b = pod('b', { role: 'standby' });
    const pending = [{ pod: 'a', labels: { [keys.podId]: 'uid-a' } }];
    assert.deepEqual(roleWrites([a, b], 'uid-a', keys, pending, true), [{ pod: 'a', labels: { [keys.role]: 'active' } }]);
  });

  it('a pending write of another label does not hide the pod\'s own labels', () => {
    const a = pod('a', { role: 'active' });
    assert.deepEqual(roleWrites([a], 'uid-a', keys, [{ pod: 'a', labels: { other: 'x' } }], true), []);
  });

  it('labels a pod active for another Service as active', () => {
    assert.deepEqual(roleWrites([pod('a', { role: 'standby' })], 'uid-b', keys, [], true, new Set(['uid-a'])), [{ pod: 'a', labels: { [keys.role]: 'active' } }]);
    assert.deepEqual(roleWrites([pod('a', { role: 'active' })], 'uid-b', keys, [], true, new Set()), [{ pod: 'a', labels: { [keys.role]: 'standby' } }]);
  });
});

describe('impostorWrites and releaseWrites', () => {
  it('corrects a copied id label, sorted, and leaves pods without one or with an empty uid alone', () => {
    const copyB = { ...pod('b'), labels: { app: 'web', [keys.podId]: 'uid-a' } };
    const copyA = { ...pod('a2'), labels: { app: 'web', [keys.podId]: 'uid-a' }, resourceVersion: '9' };
    const noUid: PodView = { ...pod('c'), uid: '', labels: { app: 'web', [keys.podId]: 'uid-a' } };
    const own = pod('a', { role: 'active' });
    assert.deepEqual(impostorWrites([copyB, own, noUid, pod('d'), copyA], keys), [
      { pod: 'a2', labels: { [keys.podId]: 'uid-a2' }, resourceVersion: '9' },
      { pod: 'b', labels: { [keys.podId]: 'uid-b' } },
    ]);
  });

  it('removes labels from pods carrying either one, sorted; pods with neither are left alone', () => {
    const idOnly = { ...pod('z'), labels: { app: 'web', [keys.podId]: 'uid-z' } };
    const roleOnly = { ...pod('m'), labels: { app: 'web', [keys.role]: 'standby' } };
    const both = pod('a', { role: 'active' });
    assert.deepEqual(releaseWrites([idOnly, pod('n'), roleOnly, both], keys), [
      { pod: 'a', labels: { [keys.podId]: null, [keys.role]: null } },
      { pod: 'm', labels: { [keys.podId]: null, [keys.role]: null } },
      { pod: 'z', labels: { [keys.podId]: null, [keys.role]: null } },
    ]);
  });
});

describe('releaseOrIgnore', () => {
  const optedOut = (s: ServiceView): ServiceView => ({ ...s, labels: {} });

  it('ignores a Service without baton\'s changes, naming the label', () => {
    assert.deepEqual(releaseOrIgnore(optedOut(service()), [], keys), { kind: 'ignore', why: `Service is not labelled ${keys.mode}=active-standby` });
    // A switchover request alone is the user's, not baton's.
    assert.equal(releaseOrIgnore(optedOut(service({ annotations: { [keys.switchoverTo]: 'a' } })), [], keys).kind, 'ignore');
  });

  it('releases a Service whose selector alone carries baton\'s key', () => {
    const s = optedOut({ ...service({ annotations: { [keys.recordOf]: 'svc-uid' } }), selector: { app: 'web', [keys.podId]: 'uid-a' } });
    const plan = releaseOrIgnore(s, [pod('a', { role: 'active' })], keys);
    assert.deepEqual(plan, {
      kind: 'release',
      service: { selector: { app: 'web' }, annotations: { [keys.recordOf]: null } },
      podWrites: [{ pod: 'a', labels: { [keys.podId]: null, [keys.role]: null } }],
    });
  });

  it('ignores a record copied from another Service', () => {
    const s = optedOut({ ...service({ active: pod('a') }), annotations: { ...service({ active: pod('a') }).annotations, [keys.recordOf]: 'other-uid' } });
    assert.deepEqual(releaseOrIgnore(s, [], keys), { kind: 'ignore', why: `Service is not labelled ${keys.mode}=active-standby, and the baton record it carries was not written on it` });
  });

  it('hands back the saved selector when the live one has nothing of the user\'s, clears every baton annotation, and unlabels only its own pods', () => {
    const active = pod('a', { role: 'active' });
    const base = service({ active, annotations: { [keys.switchoverTo]: 'b', [keys.unavailableTerm]: '1', [keys.completedTerm]: '1', [keys.promotedTerm]: '1', [keys.demoteFailedAt]: '2024-05-01T11:00:00.000Z', [keys.fencePending]: 'uid-b' } });
    const s = optedOut({ ...base, selector: { [keys.podId]: active.uid } });
    const elsewhere = pod('x', { role: 'active', namespace: 'other' });
    const unselected = { ...pod('y', { role: 'standby' }), labels: { app: 'db', [keys.podId]: 'uid-y', [keys.role]: 'standby' } };
    const plan = releaseOrIgnore(s, [active, elsewhere, unselected], keys);
    assert.equal(plan.kind, 'release');
    if (plan.kind !== 'release') return;
    assert.deepEqual(plan.service.selector, { app: 'web' });
    // A selector-mode Service carries no slice name, so the release has none to remove.
    assert.deepEqual(Object.keys(plan.service.annotations).sort(), batonAnnotationKeys(keys).filter((k) => k !== keys.endpointSlice).sort());
    assert.ok(Object.values(plan.service.annotations).every((v) => v === null));
    assert.deepEqual(names(plan.podWrites), ['a']);
  });

  it('with a damaged saved copy and nothing live, hands back the empty selector', () => {
    const s = optedOut({ ...service({ annotations: { [keys.recordOf]: 'svc-uid', [keys.originalSelector]: '{bad' } }), selector: { [keys.podId]: 'uid-a' } });
    const plan = releaseOrIgnore(s, [pod('a', { role: 'active' })], keys);
    assert.equal(plan.kind === 'release' && Object.keys(plan.service.selector).length, 0);
    assert.deepEqual(plan.kind === 'release' && plan.podWrites, []);
  });

  it('lists baton\'s annotations', () => {
    assert.deepEqual(batonAnnotationKeys(keys), [keys.originalSelector, keys.activePod, keys.activeUid, keys.term, keys.switchedAt, keys.reason, keys.completedTerm, keys.unavailableTerm, keys.promotedTerm, keys.demoteFailedAt, keys.fencePending, keys.recordOf, keys.endpointSlice, keys.switchoverTo]);
  });
});

describe('labelsStillNeeded', () => {
  const labelled = pod('a', { role: 'active' });
  const other = (over: Partial<ServiceView>): ServiceView => ({ ...service(), name: 'other', uid: 'other-uid', ...over });

  it('a Service that pins the pod\'s id needs them, opted in or not', () => {
    assert.equal(labelsStillNeeded(labelled, [other({ labels: {}, selector: { x: 'y', [keys.podId]: 'uid-a' } })], keys), true);
  });

  it('a Service that pins another id, or none, does not; a pod without an id is not pinned by a placeholder-free selector', () => {
    assert.equal(labelsStillNeeded(labelled, [other({ labels: {}, selector: { app: 'web', [keys.podId]: 'uid-b' } })], keys), false);
    assert.equal(labelsStillNeeded(pod('a'), [other({ labels: {}, selector: { app: 'web' } })], keys), false);
  });

  it('an opted-in Service that selects the pod needs them; one that selects other pods, or has no usable selector, does not', () => {
    assert.equal(labelsStillNeeded(labelled, [other({ selector: { app: 'web' } })], keys), true);
    assert.equal(labelsStillNeeded(labelled, [other({ selector: { app: 'db' } })], keys), false);
    assert.equal(labelsStillNeeded(labelled, [other({ selector: {} })], keys), false);
  });

  it('ignores Services of other namespaces and the excepted one', () => {
    const same = other({ selector: { app: 'web' } });
    assert.equal(labelsStillNeeded(labelled, [{ ...same, namespace: 'elsewhere' }], keys), false);
    assert.equal(labelsStillNeeded(labelled, [same], keys, { namespace: NS, name: 'other' }), false);
    assert.equal(labelsStillNeeded(labelled, [same], keys, { namespace: 'elsewhere', name: 'other' }), true);
  });
});

describe('elect tie-breaks', () => {
  it('compares names and uids by code unit, both ways', () => {
    const a = { ...pod('a'), readySince: 1, createdAt: 1 };
    const b = { ...pod('b'), readySince: 1, createdAt: 1 };
    assert.ok(comparePreference(a, b, keys) < 0);
    assert.ok(comparePreference(b, a, keys) > 0);
    assert.equal(comparePreference(a, { ...a }, keys), 0);
    const sameName = { ...a, uid: 'uid-0' };
    assert.ok(comparePreference(sameName, a, keys) < 0);
    assert.ok(comparePreference(a, sameName, keys) > 0);
  });

  it('two pods never ready since a known time compare equal on it; a known time goes first both ways', () => {
    const never = { ...pod('b'), readySince: undefined, createdAt: 1 };
    const known = { ...pod('c'), readySince: 5, createdAt: 1 };
    assert.ok(comparePreference(known, never, keys) < 0);
    assert.ok(comparePreference(never, known, keys) > 0);
    assert.ok(comparePreference(never, { ...never, name: 'c', uid: 'uid-c' }, keys) < 0);
  });

  it('property: the ranking does not depend on input order', () => {
    const arb = fc.array(fc.record({ p: fc.integer({ min: -2, max: 2 }), r: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }), c: fc.integer({ min: 0, max: 3 }) }), { maxLength: 6 });
    fc.assert(
      fc.property(arb, (specs) => {
        const pods = specs.map((s, i) => ({ ...pod(`p${i}`, { priority: String(s.p) }), readySince: s.r, createdAt: s.c }));
        assert.deepEqual(rank(pods, keys).map((p) => p.name), rank([...pods].reverse(), keys).map((p) => p.name));
      }),
    );
  });
});

describe('parseDuration limits', () => {
  const ACCEPTED = 'expected "0" or a whole number of h, m, s and/or ms in that order, e.g. "500ms", "30s", "2m", "1h", "1m30s", at most 24h';
  it('accepts 64 characters and refuses 65 with the length message', () => {
    const at64 = `${'0'.repeat(62)}ms`;
    assert.deepEqual(parseDuration(at64), { ok: true, value: 0 });
    assert.deepEqual(parseDuration(`0${at64}`), { ok: false, message: `duration longer than 64 characters; ${ACCEPTED}` });
  });

  it('gives each refusal its exact message', () => {
    assert.deepEqual(parseDuration(''), { ok: false, message: `empty duration; ${ACCEPTED}` });
    assert.deepEqual(parseDuration('-1s'), { ok: false, message: `negative duration "-1s"; ${ACCEPTED}` });
    assert.deepEqual(parseDuration('1x'), { ok: false, message: `invalid duration "1x"; ${ACCEPTED}` });
    assert.deepEqual(parseDuration('1s1m'), { ok: false, message: `invalid duration "1s1m": units out of order or repeated; ${ACCEPTED}` });
    assert.deepEqual(parseDuration('24h1ms'), { ok: false, message: `duration "24h1ms" exceeds 24h; ${ACCEPTED}` });
    assert.deepEqual(parseDuration('24h'), { ok: true, value: 86_400_000 });
  });

  it('property: h, m, s and ms in order add up; in any other order they are refused', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 }), fc.integer({ min: 0, max: 59 }), fc.integer({ min: 0, max: 999 }), (h, m, s, ms) => {
        assert.deepEqual(parseDuration(`${h}h${m}m${s}s${ms}ms`), { ok: true, value: ((h * 60 + m) * 60 + s) * 1000 + ms });
        assert.equal(parseDuration(`${ms}ms${s}s`).ok, false);
      }),
    );
  });
});

describe('release: which Services count', () => {
  const optedOut = (s: ServiceView): ServiceView => ({ ...s, labels: {} });
  const labelled = pod('a', { role: 'active' });
  const other = (name: string, over: Partial<ServiceView>): ServiceView => ({ ...service(), name, uid: `${name}-uid`, ...over });

  it('a pod is needed when any one of several Services needs it', () => {
    const needs = other('needs', { selector: { app: 'web' } });
    const not = other('not', { selector: { app: 'db' } });
    assert.equal(labelsStillNeeded(labelled, [not, needs], keys), true);
  });

  it('an exception names one Service, not every Service of its namespace', () => {
    assert.equal(labelsStillNeeded(labelled, [other('needs', { selector: { app: 'web' } })], keys, { namespace: NS, name: 'someone-else' }), true);
  });

  it('a pinned selector alone, without a record, is a copy: ignored with the copy message', () => {
    const s = optedOut({ ...service(), selector: { app: 'web', [keys.podId]: 'uid-a' } });
    assert.deepEqual(releaseOrIgnore(s, [labelled], keys), { kind: 'ignore', why: `Service is not labelled ${keys.mode}=active-standby, and the baton record it carries was not written on it` });
  });

  it('a switchover request alone is not baton\'s change: ignored with the plain message', () => {
    const s = optedOut(service({ annotations: { [keys.switchoverTo]: 'a' } }));
    assert.deepEqual(releaseOrIgnore(s, [], keys), { kind: 'ignore', why: `Service is not labelled ${keys.mode}=active-standby` });
  });

  it('a record alone, with the selector already handed back, is still released', () => {
    const s = optedOut(service({ annotations: { [keys.recordOf]: 'svc-uid' } }));
    assert.deepEqual(releaseOrIgnore(s, [], keys), { kind: 'release', service: { selector: { app: 'web' }, annotations: { [keys.recordOf]: null } }, podWrites: [] });
  });

  it('hands back the live selector when the user edited it, not the saved copy', () => {
    const s = optedOut({ ...service({ active: labelled }), selector: { app: 'web2', [keys.podId]: 'uid-a' } });
    const plan = releaseOrIgnore(s, [], keys);
    assert.deepEqual(plan.kind === 'release' && plan.service.selector, { app: 'web2' });
  });
});

describe('decide: pod problems in either input order', () => {
  it('sorts values of one pod whichever comes first', () => {
    for (const values of [['aa', 'zz', 'mm'], ['zz', 'aa', 'mm'], ['mm', 'zz', 'aa']]) {
      const pods = values.map((v) => pod('p', { priority: v }));
      const { podProblems } = decide({ service: service(), pods: [pod('q', { priority: 'x' }), ...pods], keys, now: 0 });
      assert.deepEqual(podProblems.map((p) => [p.pod, p.value]), [['p', 'aa'], ['p', 'mm'], ['p', 'zz'], ['q', 'x']], values.join());
    }
  });
});
