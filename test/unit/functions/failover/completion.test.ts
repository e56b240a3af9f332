import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { COMPLETED, PROMOTED } from '../../../../shared/audit/schemas.js';
import { checkCompletion, completionDue } from '../../../../functions/failover/completion.js';
import { reconcile } from '../../../../functions/failover/reconcile.js';
import type { ServiceView } from '../../../../functions/failover/core/model.js';
import { REASONS } from '../../../../functions/failover/report.js';
import { TransientError } from '../../../../shared/k8s/errors.js';
import type { SliceView } from '../../../../functions/failover/views.js';
import { FakeCluster } from './fake-cluster.js';
import { flush, KEYS, makePod, makeService, NS, rig, slice, SVC_UID, T0, uidOf, type Rig } from './world.js';

const SWITCHED_AT = T0 - 3_600_000;
const OBSERVED = T0 + 1_234;
/** web-1 became active in term 2, not yet reported as completed. */
const switched = (extra: Partial<ServiceView> = {}): ServiceView => ({ ...makeService({ active: 'web-1', term: 2, completed: false }), ...extra });

describe('completionDue', () => {
  const expected = { term: 2, active: { name: 'web-1', uid: uidOf('web-1') }, decidedAt: SWITCHED_AT, observedAt: OBSERVED };
  const cases: ReadonlyArray<{ name: string; service: ServiceView; slices: SliceView[]; due: boolean }> = [
    { name: 'only the active is ready', service: switched(), slices: [slice([{ pod: 'web-1', ready: true }, { pod: 'web-0', ready: false }])], due: true },
    { name: 'only the active is ready, across several slices', service: switched(), slices: [slice([{ pod: 'web-0', ready: false }]), slice([{ pod: 'web-1', ready: true }]), slice([])], due: true },
    { name: 'two endpoints ready (old active still in)', service: switched(), slices: [slice([{ pod: 'web-1', ready: true }, { pod: 'web-0', ready: true }])], due: false },
    // A dual-stack Service has one slice per address family, each listing the same pod.
    { name: 'the active listed ready in an IPv4 and an IPv6 slice (dual-stack)', service: switched(), slices: [slice([{ pod: 'web-1', ready: true }]), slice([{ pod: 'web-1', ready: true }])], due: true },
    {
      name: 'dual-stack with the old active still ready in one family',
      service: switched(),
      slices: [slice([{ pod: 'web-1', ready: true }, { pod: 'web-0', ready: false }]), slice([{ pod: 'web-1', ready: true }, { pod: 'web-0', ready: true }])],
      due: false,
    },
    { name: 'a ready endpoint without a pod behind it besides the active', service: switched(), slices: [slice([{ pod: 'web-1', ready: true }]), { name: 'manual', endpoints: [{ podName: undefined, podUid: undefined, ready: true }] }], due: false },
    { name: 'no endpoint ready yet', service: switched(), slices: [slice([{ pod: 'web-1', ready: false }])], due: false },
    { name: 'no slices at all', service: switched(), slices: [], due: false },
    { name: 'the only ready endpoint is another pod (wrong uid)', service: switched(), slices: [slice([{ pod: 'web-0', ready: true }])], due: false },
    {
      name: 'the ready endpoint has the right name but another uid (pod re-created)',
      service: switched(),
      slices: [{ name: 's', endpoints: [{ podName: 'web-1', podUid: 'uid-of-a-new-web-1', ready: true }] }],
      due: false,
    },
    { name: 'this term was already reported', service: { ...switched(), annotations: { ...switched().annotations, [KEYS.completedTerm]: '2' } }, slices: [slice([{ pod: 'web-1', ready: true }])], due: false },
    { name: 'an older term was reported (this one not yet)', service: { ...switched(), annotations: { ...switched().annotations, [KEYS.completedTerm]: '1' } }, slices: [slice([{ pod: 'web-1', ready: true }])], due: true },
    { name: 'not opted in', service: switched({ labels: { app: 'web' } }), slices: [slice([{ pod: 'web-1', ready: true }])], due: false },
    { name: 'never switched (no term)', service: makeService(), slices: [slice([{ pod: 'web-1', ready: true }])], due: false },
    { name: 'unreadable term', service: { ...switched(), annotations: { ...switched().annotations, [KEYS.term]: 'two' } }, slices: [slice([{ pod: 'web-1', ready: true }])], due: false },
    { name: 'unreadable switched-at', service: { ...switched(), annotations: { ...switched().annotations, [KEYS.switchedAt]: 'yesterday' } }, slices: [slice([{ pod: 'web-1', ready: true }])], due: false },
    { name: 'the selector lost baton\u2019s key', service: { ...switched(), selector: { app: 'web' } }, slices: [slice([{ pod: 'web-1', ready: true }])], due: false },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.due ? 'completion' : 'none'}`, () => {
      assert.deepEqual(completionDue(c.service, c.slices, KEYS, OBSERVED), c.due ? expected : undefined);
    });
  }
});

function completionWorld(service: ServiceView = switched()): Rig {
  const cluster = new FakeCluster();
  cluster.putService(service);
  cluster.putSlices(NS, 'web', [slice([{ pod: 'web-1', ready: true }, { pod: 'web-0', ready: false }])]);
  const r = rig(cluster);
  r.clock.now = OBSERVED;
  return r;
}

describe('checkCompletion', () => {
  it('writes completed-term with the precondition, emits one completed and replays the transition', async () => {
    const r = completionWorld();
    const before = r.cluster.service(NS, 'web');
    assert.equal((await checkCompletion(r.deps, { namespace: NS, name: 'web' })).outcome, 'completed');
    await flush();
    assert.deepEqual(r.cluster.methods(), ['getService', 'listEndpointSlices', 'patchService', 'recordEvent']);
    const patch = r.cluster.calls[2];
    assert.equal(patch?.method, 'patchService');
    assert.equal(patch.resourceVersion, before.resourceVersion);
    assert.deepEqual(patch.write, { selector: before.selector, annotations: { [KEYS.completedTerm]: '2' } });
    const after = r.cluster.service(NS, 'web');
    assert.deepEqual(after.selector, before.selector, 'the selector is untouched');
    assert.equal(after.annotations[KEYS.completedTerm], '2');
    assert.equal(r.emitter.drafts.length, 2);
    // The term's own transition event again, under its original id: a switch whose
    // reply was lost is reported here at the latest.
    const replay = r.emitter.drafts.find((d) => d.type === PROMOTED);
    assert.equal(replay?.id, `${SVC_UID}.2-${T0 - 3_600_000}.promoted`);
    assert.deepEqual(replay?.data, {
      service: { namespace: NS, name: 'web', uid: SVC_UID },
      term: 2,
      from: null,
      to: { name: 'web-1', uid: uidOf('web-1') },
      reason: r.cluster.service(NS, 'web').annotations[KEYS.reason],
      decidedAt: new Date(SWITCHED_AT).toISOString(),
    });
    const draft = r.emitter.drafts.find((d) => d.type === COMPLETED);
    assert.equal(draft?.type, COMPLETED);
    assert.equal(draft.id, `${SVC_UID}.2-${T0 - 3_600_000}.completed`);
    assert.deepEqual(draft.data, {
      service: { namespace: NS, name: 'web', uid: SVC_UID },
      term: 2,
      active: { name: 'web-1', uid: uidOf('web-1') },
      decidedAt: new Date(SWITCHED_AT).toISOString(),
      observedAt: new Date(OBSERVED).toISOString(),
      latencyMs: OBSERVED - SWITCHED_AT,
    });
    const event = r.cluster.calls[3];
    assert.equal(event?.method === 'recordEvent' && event.note.reason, REASONS.completed);
  });

  it('a 409 (someone else recorded it, or a newer term) means not-yet and no emission', async () => {
    const r = completionWorld();
    r.cluster.inject({ method: 'patchService', nth: 1, action: { kind: 'before', run: (w) => void w.bumpService(NS, 'web') } });
    assert.equal((await checkCompletion(r.deps, { namespace: NS, name: 'web' })).outcome, 'not-yet');
    await flush();
    assert.deepEqual(r.cluster.methods(), ['getService', 'listEndpointSlices', 'patchService']);
    assert.equal(r.cluster.conflicts.length, 1);
    assert.equal(r.emitter.drafts.length, 0);
    assert.equal(r.cluster.service(NS, 'web').annotations[KEYS.completedTerm], undefined);
  });

  it('two instances seeing the same slice update: one completed, one not-yet, one emission of each', async () => {
    const r = completionWorld();
    const both = await Promise.all([checkCompletion(r.deps, { namespace: NS, name: 'web' }), checkCompletion(r.deps, { namespace: NS, name: 'web' })]);
    await flush();
    assert.deepEqual(both.map((b) => b.outcome).sort(), ['completed', 'not-yet']);
    assert.equal(r.cluster.writes.length, 1);
    assert.deepEqual(r.emitter.types().sort(), [COMPLETED, PROMOTED].sort());
    assert.equal(r.cluster.count('recordEvent'), 1);
  });

  it('already reported: one read, no slice list, not-yet', async () => {
    const r = completionWorld(makeService({ active: 'web-1', term: 2, completed: true }));
    assert.equal((await checkCompletion(r.deps, { namespace: NS, name: 'web' })).outcome, 'not-yet');
    assert.deepEqual(r.cluster.methods(), ['getService']);
  });

  it('slices not converged yet: not-yet without a write', async () => {
    const r = completionWorld();
    r.cluster.putSlices(NS, 'web', [slice([{ pod: 'web-1', ready: true }, { pod: 'web-0', ready: true }])]);
    assert.equal((await checkCompletion(r.deps, { namespace: NS, name: 'web' })).outcome, 'not-yet');
    assert.deepEqual(r.cluster.methods(), ['getService', 'listEndpointSlices']);
    assert.equal(r.emitter.drafts.length, 0);
  });

  it('the Service is gone: on the read, and between the read and the write', async () => {
    const a = completionWorld();
    a.cluster.deleteService(NS, 'web');
    assert.equal((await checkCompletion(a.deps, { namespace: NS, name: 'web' })).outcome, 'gone');
    const b = completionWorld();
    b.cluster.inject({ method: 'patchService', nth: 1, action: { kind: 'before', run: (w) => w.deleteService(NS, 'web') } });
    assert.equal((await checkCompletion(b.deps, { namespace: NS, name: 'web' })).outcome, 'gone');
    assert.equal(b.emitter.drafts.length, 0);
  });

  it('a TransientError propagates', async () => {
    const r = completionWorld();
    r.cluster.inject({ method: 'listEndpointSlices', action: { kind: 'throw', error: () => new TransientError('list endpointslices: HTTP 503', 503) } });
    await assert.rejects(checkCompletion(r.deps, { namespace: NS, name: 'web' }), TransientError);
    assert.equal(r.emitter.drafts.length, 0);
  });
});

describe('replaying a transition whose report may have been lost', () => {
  it('a switch that ends a term never seen completed re-sends that term\'s event under its own id', async () => {
    const cluster = new FakeCluster();
    cluster.putPod(makePod('web-0', { role: 'active', ready: false }));
    cluster.putPod(makePod('web-1', { role: 'standby' }));
    // Term 1 was written, but neither its completion nor (perhaps) its event was seen.
    cluster.putService(makeService({ active: 'web-0', completed: false }));
    const r = rig(cluster);
    const result = await reconcile(r.deps, { namespace: NS, name: 'web' });
    await flush();
    assert.equal(result.outcome, 'switched');
    const ids = r.emitter.drafts.filter((d) => d.type === PROMOTED).map((d) => d.id).sort();
    assert.deepEqual(ids, [`${SVC_UID}.1-${T0 - 3_600_000}.promoted`, `${SVC_UID}.2-${T0}.promoted`]);
    const replay = r.emitter.drafts.find((d) => d.id === `${SVC_UID}.1-${T0 - 3_600_000}.promoted`);
    assert.deepEqual(replay?.data, {
      service: { namespace: NS, name: 'web', uid: SVC_UID },
      term: 1,
      from: null,
      to: { name: 'web-0', uid: uidOf('web-0') },
      reason: 'initial',
      decidedAt: new Date(T0 - 3_600_000).toISOString(),
    });
  });

  it('a term seen completed is not replayed', async () => {
    const cluster = new FakeCluster();
    cluster.putPod(makePod('web-0', { role: 'active', ready: false }));
    cluster.putPod(makePod('web-1', { role: 'standby' }));
    cluster.putService(makeService({ active: 'web-0' }));
    const r = rig(cluster);
    await reconcile(r.deps, { namespace: NS, name: 'web' });
    await flush();
    assert.deepEqual(r.emitter.drafts.filter((d) => d.type === PROMOTED).map((d) => d.id), [`${SVC_UID}.2-${T0}.promoted`]);
  });
});
