// Fencing in the pure core: the switch records the pod it leaves, the election keeps away
// from it until it is evicted, and fenceStep says what a record asks for now.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decide } from '../../../../../functions/failover/core/decide.js';
import { evictionCheck, fenceStep } from '../../../../../functions/failover/core/fence.js';
import { readSettings } from '../../../../../functions/failover/core/settings.js';
import type { ServiceView } from '../../../../../functions/failover/core/model.js';
import { keys, NOW, pod, service, uidOf } from './fixtures.js';
import { a, aDown, b, bHigh } from './decide.shared.js';

const FENCE = { [keys.fence]: 'evict' };
const c = pod('c', { role: 'standby' });

function completed(s: ServiceView, pending: string | undefined): ServiceView {
  const term = s.annotations[keys.term] ?? '1';
  return { ...s, annotations: { ...s.annotations, [keys.completedTerm]: term, ...(pending === undefined ? {} : { [keys.fencePending]: pending }) } };
}

describe('fencing: the setting', () => {
  it('reads "evict" and "off", and nothing else', () => {
    const read = (value: string | undefined): unknown => {
      const r = readSettings(service({ annotations: value === undefined ? {} : { [keys.fence]: value } }), keys);
      return r.ok ? r.settings.fence : r.problems.map((p) => `${p.key}=${p.value}: ${p.message}`);
    };
    assert.equal(read(undefined), 'off');
    assert.equal(read('off'), 'off');
    assert.equal(read('evict'), 'evict');
    for (const bad of ['Evict', 'true', 'delete', '', ' evict']) assert.deepEqual(read(bad), [`${keys.fence}=${bad}: expected "evict" or "off"`], bad);
  });
});

describe('fencing: what a switch records', () => {
  const cases: ReadonlyArray<{ name: string; s: ServiceView; pods: readonly ReturnType<typeof pod>[]; pending: string | null | undefined }> = [
    { name: 'a failover with fencing on records the pod it leaves', s: service({ active: aDown, annotations: FENCE }), pods: [aDown, b], pending: uidOf('a') },
    { name: 'a failover with fencing off records nothing', s: service({ active: aDown }), pods: [aDown, b], pending: undefined },
    { name: 'a failover with fencing off removes a mark left from before', s: service({ active: aDown, annotations: { [keys.fencePending]: uidOf('c') } }), pods: [aDown, b], pending: null },
    { name: 'a failback records the pod it leaves', s: service({ active: a, annotations: { ...FENCE, [keys.failback]: 'true' } }), pods: [a, bHigh], pending: uidOf('a') },
    { name: 'the old active gone from the list: nothing to fence', s: service({ active: aDown, annotations: FENCE }), pods: [b], pending: undefined },
    { name: 'a first adoption leaves no pod', s: service({ annotations: FENCE }), pods: [a, b], pending: undefined },
    // A switch before the last one's fence: the earlier pod still holds its connections.
    { name: 'a second switch keeps the pod the first left on the mark, oldest first', s: service({ active: pod('b', { role: 'active', ready: false }), term: 2, annotations: { ...FENCE, [keys.fencePending]: uidOf('a') } }), pods: [pod('a', { role: 'standby' }), pod('b', { role: 'active', ready: false }), c], pending: `${uidOf('a')},${uidOf('b')}` },
    { name: 'a pod on the mark that is gone drops off it', s: service({ active: pod('b', { role: 'active', ready: false }), term: 2, annotations: { ...FENCE, [keys.fencePending]: uidOf('a') } }), pods: [pod('b', { role: 'active', ready: false }), c], pending: uidOf('b') },
    { name: 'a copy does not take over the record’s mark', s: { ...service({ active: pod('b', { role: 'active', ready: false }), term: 2, annotations: { ...FENCE, [keys.fencePending]: uidOf('a') } }), uid: 'copy-uid' }, pods: [pod('a', { role: 'standby' }), pod('b', { role: 'active', ready: false }), c], pending: uidOf('b') },
  ];
  for (const row of cases) {
    it(row.name, () => {
      const { plan } = decide({ service: row.s, pods: row.pods, keys, now: NOW });
      assert.equal(plan.kind, 'switch');
      if (plan.kind !== 'switch') return;
      assert.equal(plan.service.annotations[keys.fencePending], row.pending);
    });
  }

  it('a pod waiting to be fenced is not elected, even when it is the best, unless it is the only healthy one', () => {
    // a is healthy and best (priority), but the last switch left it and it awaits eviction.
    const aBest = pod('a', { role: 'standby', priority: '100' });
    const bDown = pod('b', { role: 'active', ready: false });
    const s = service({ active: bDown, term: 2, annotations: { ...FENCE, [keys.fencePending]: uidOf('a') } });
    const { plan } = decide({ service: s, pods: [aBest, bDown, c], keys, now: NOW });
    assert.equal(plan.kind, 'switch');
    if (plan.kind === 'switch') assert.equal(plan.to.name, 'c');
    // Nobody else healthy: back to it rather than to nothing, and the mark moves off it.
    const back = decide({ service: s, pods: [aBest, bDown], keys, now: NOW }).plan;
    assert.equal(back.kind, 'switch');
    if (back.kind !== 'switch') return;
    assert.equal(back.to.name, 'a');
    assert.equal(back.service.annotations[keys.fencePending], uidOf('b'));
  });

  it('a pod claimed for eviction is never elected, not even as the only healthy one, and a switch keeps its claim', () => {
    const aBest = pod('a', { role: 'standby', priority: '100' });
    const bDown = pod('b', { role: 'active', ready: false });
    const s = service({ active: bDown, term: 2, annotations: { ...FENCE, [keys.fencePending]: `!${uidOf('a')}` } });
    assert.equal(decide({ service: s, pods: [aBest, bDown], keys, now: NOW }).plan.kind, 'unavailable');
    const { plan } = decide({ service: s, pods: [aBest, bDown, c], keys, now: NOW });
    assert.equal(plan.kind, 'switch');
    if (plan.kind !== 'switch') return;
    assert.equal(plan.to.name, 'c');
    assert.equal(plan.service.annotations[keys.fencePending], `!${uidOf('a')},${uidOf('b')}`);
  });

  it('a switchover to the pod waiting to be fenced is refused', () => {
    const s = service({ active: b, term: 2, annotations: { ...FENCE, [keys.fencePending]: uidOf('a'), [keys.switchoverTo]: 'a' } });
    const { plan } = decide({ service: s, pods: [pod('a', { role: 'standby' }), b], keys, now: NOW });
    assert.equal(plan.kind, 'refuse-switchover');
    if (plan.kind === 'refuse-switchover') assert.match(plan.why, /about to be evicted/);
  });
});

describe('fencing: fenceStep', () => {
  const base = service({ active: b, term: 2, annotations: FENCE });
  const rows: ReadonlyArray<[string, ServiceView, unknown]> = [
    ['no mark: nothing', completed(base, undefined), { kind: 'none' }],
    ['a mark on a term not completed yet: wait', { ...base, annotations: { ...base.annotations, [keys.fencePending]: uidOf('a') } }, { kind: 'none' }],
    ['a mark on a completed term: evict', completed(base, uidOf('a')), { kind: 'evict', claim: [uidOf('a')], resume: [], drop: [], term: 2 }],
    ['two pods on the mark, one of them the active: evict the other, drop the active', completed(base, `${uidOf('a')},${uidOf('b')}`), { kind: 'evict', claim: [uidOf('a')], resume: [], drop: [uidOf('b')], term: 2 }],
    ['a claimed pod is evicted even before completion, with fencing off since, or settings bad', { ...base, annotations: { ...base.annotations, [keys.fence]: 'bad', [keys.fencePending]: `!${uidOf('a')}` } }, { kind: 'evict', claim: [], resume: [uidOf('a')], drop: [], term: 2 }],
    ['a claimed pod this Service routes to again is only dropped', completed(base, `!${uidOf('b')}`), { kind: 'clear', why: 'the pod is the active one' }],
    ['the mark names the active: only clear it', completed(base, uidOf('b')), { kind: 'clear', why: 'the pod is the active one' }],
    ['fencing turned off since: only clear it', completed(service({ active: b, term: 2 }), uidOf('a')), { kind: 'clear', why: 'fencing is off' }],
    // Bad input changes nothing: the mark waits for settings that read again.
    ['an invalid fence setting: wait', completed(service({ active: b, term: 2, annotations: { [keys.fence]: 'yes' } }), uidOf('a')), { kind: 'none' }],
    ['another invalid setting: wait', completed(service({ active: b, term: 2, annotations: { ...FENCE, [keys.minSwitchInterval]: 'soon' } }), uidOf('a')), { kind: 'none' }],
    ['a mark that is no uid: only clear it', completed(base, 'not a uid!'), { kind: 'clear', why: 'the mark is not a list of pod uids' }],
    ['a copy of another Service\'s record: not ours', { ...completed(base, uidOf('a')), uid: 'copy-uid' }, { kind: 'none' }],
    ['opted out: release removes it', { ...completed(base, uidOf('a')), labels: {} }, { kind: 'none' }],
  ];
  for (const [name, s, want] of rows) it(name, () => assert.deepEqual(fenceStep(s, keys), want));
});

describe('fencing: evictionCheck, on the namespace\'s Services read just before the eviction', () => {
  const asking = completed(service({ active: b, term: 2, annotations: FENCE }), uidOf('a'));
  const other = (name: string, active: typeof a): ServiceView => ({ ...service({ active, term: 1 }), name, uid: `uid-${name}` });
  const rows: ReadonlyArray<[string, readonly ServiceView[], string, unknown]> = [
    ['still asked, routed to by nobody: evict', [asking, other('db', c)], uidOf('a'), 'evict'],
    ['another Service routes to the pod (a leader, a twin): spared', [asking, other('web-admin', a)], uidOf('a'), 'spared'],
    ['this Service routes to it again: moved', [{ ...asking, selector: { ...asking.selector, [keys.podId]: uidOf('a') } }], uidOf('a'), 'moved'],
    ['the mark names another pod now: moved', [completed(asking, uidOf('c'))], uidOf('a'), 'moved'],
    ['a new term, not completed yet: moved', [{ ...asking, annotations: { ...asking.annotations, [keys.term]: '3' } }], uidOf('a'), 'moved'],
    ['the Service is gone: moved', [other('db', c)], uidOf('a'), 'moved'],
    ['opted out since: moved', [{ ...asking, labels: {} }], uidOf('a'), 'moved'],
    ['fencing turned off since: moved', [{ ...asking, annotations: { ...asking.annotations, [keys.fence]: 'off' } }], uidOf('a'), 'moved'],
    ['a Service of the same name elsewhere does not count', [{ ...asking, namespace: 'other' }], uidOf('a'), 'moved'],
  ];
  for (const [name, services, uid, want] of rows) it(name, () => assert.equal(evictionCheck(asking, uid, false, services, keys).verdict, want));
  it('a claimed pod is checked as claimed: an open one of the same uid does not count', () => {
    assert.equal(evictionCheck(asking, uidOf('a'), true, [asking], keys).verdict, 'moved');
    const claimed = completed(asking, `!${uidOf('a')}`);
    assert.equal(evictionCheck(claimed, uidOf('a'), true, [claimed], keys).verdict, 'evict');
    assert.equal(evictionCheck(claimed, uidOf('a'), false, [claimed], keys).verdict, 'moved');
  });
});
