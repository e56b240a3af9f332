// Fencing's shell against the fake API server: the eviction, the guarded removal of the
// mark, one report per fence however many instances look, and what each failure leaves.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FENCED } from '../../../../shared/audit/schemas.js';
import { TransientError } from '../../../../shared/k8s/errors.js';
import { checkCompletion } from '../../../../functions/failover/completion.js';
import { fence } from '../../../../functions/failover/fence.js';
import { reconcile } from '../../../../functions/failover/reconcile.js';
import { REASONS } from '../../../../functions/failover/report.js';
import { FakeCluster } from './fake-cluster.js';
import { flush, KEYS, makePod, makeService, NS, rig, slice, uidOf, type Rig } from './world.js';

const REF = { namespace: NS, name: 'web' };

/** web-1 active in term 2 (completed), web-0 the pod the switch left, awaiting its fence. */
function fenceWorld(options: { completed?: boolean; fenceSetting?: string; pending?: string } = {}): Rig {
  const cluster = new FakeCluster();
  cluster.putService(
    makeService({
      active: 'web-1',
      term: 2,
      completed: options.completed ?? true,
      annotations: { [KEYS.fence]: options.fenceSetting ?? 'evict', [KEYS.fencePending]: options.pending ?? uidOf('web-0') },
    }),
  );
  cluster.putPod(makePod('web-0', { role: 'standby', ready: false }));
  cluster.putPod(makePod('web-1', { role: 'active' }));
  cluster.putPod(makePod('web-2', { role: 'standby' }));
  cluster.putSlices(NS, 'web', [slice([{ pod: 'web-1', ready: true }, { pod: 'web-0', ready: false }])]);
  return rig(cluster);
}

const pending = (r: Rig): string | undefined => r.cluster.service(NS, 'web').annotations[KEYS.fencePending];

describe('fence', () => {
  it('evicts the pod the switch left, by uid, then removes the mark and reports once', async () => {
    const r = fenceWorld();
    const result = await fence(r.deps, r.cluster.service(NS, 'web'), true);
    await flush();
    assert.equal(result?.[0]?.outcome, 'evicted');
    assert.deepEqual(r.cluster.calls.filter((c) => c.method === 'evictPod'), [{ method: 'evictPod', namespace: NS, pod: 'web-0', uid: uidOf('web-0') }]);
    assert.equal(r.cluster.pod(NS, 'web-0')?.deleting, true);
    assert.equal(r.cluster.pod(NS, 'web-1')?.deleting, false, 'the active is never touched');
    assert.equal(pending(r), undefined);
    const drafts = r.emitter.drafts.filter((d) => d.type === FENCED);
    assert.equal(drafts.length, 1);
    assert.deepEqual(drafts[0]?.data, { service: { namespace: NS, name: 'web', uid: r.cluster.service(NS, 'web').uid }, term: 2, pod: { name: 'web-0', uid: uidOf('web-0') }, outcome: 'evicted', detail: 'evicted; it ends its connections as it shuts down' });
    assert.ok(r.cluster.calls.some((c) => c.method === 'recordEvent' && c.note.reason === REASONS.fenced));
  });

  it('a copy that is not just written is read again first: a mark gone since evicts nothing', async () => {
    const r = fenceWorld();
    const copy = r.cluster.service(NS, 'web');
    r.cluster.bumpService(NS, 'web', (s) => ({ annotations: { ...s.annotations, [KEYS.fencePending]: '' } }));
    r.cluster.bumpService(NS, 'web', (s) => {
      const { [KEYS.fencePending]: _gone, ...rest } = s.annotations;
      return { annotations: rest };
    });
    assert.equal(await fence(r.deps, copy), undefined);
    assert.equal(r.cluster.count('evictPod'), 0);
  });

  it('a PodDisruptionBudget refusal is reported as a Warning, and the mark goes (no retry loop)', async () => {
    const r = fenceWorld();
    r.cluster.protectedPods.add('web-0');
    const result = await fence(r.deps, r.cluster.service(NS, 'web'), true);
    await flush();
    assert.equal(result?.[0]?.outcome, 'refused');
    assert.equal(r.cluster.pod(NS, 'web-0')?.deleting, false);
    assert.equal(pending(r), undefined);
    assert.ok(r.cluster.calls.some((c) => c.method === 'recordEvent' && c.note.type === 'Warning' && c.note.reason === REASONS.fenceRefused));
  });

  it('a pod replaced under the same name is not evicted (uid precondition): gone', async () => {
    const r = fenceWorld();
    r.cluster.putPod({ ...makePod('web-0', { role: 'standby' }), uid: 'uid-of-a-new-web-0' });
    const result = await fence(r.deps, r.cluster.service(NS, 'web'), true);
    assert.equal(result?.[0]?.outcome, 'gone');
    assert.equal(r.cluster.count('evictPod'), 0, 'no pod the Service selects has the uid');
    assert.equal(r.cluster.pod(NS, 'web-0')?.deleting, false);
    assert.equal(pending(r), undefined);
  });

  it('an API failure leaves the mark for a later look, and throws', async () => {
    const r = fenceWorld();
    r.cluster.inject({ method: 'evictPod', nth: 1, action: { kind: 'throw', error: () => new TransientError('evict: HTTP 503', 503) } });
    await assert.rejects(fence(r.deps, r.cluster.service(NS, 'web'), true), TransientError);
    // Claimed before the eviction was tried: it stays claimed until one succeeds.
    assert.equal(pending(r), `!${uidOf('web-0')}`);
    // The next steady look finishes it.
    assert.equal((await reconcile(r.deps, REF)).outcome, 'steady');
    await flush();
    assert.equal(r.cluster.pod(NS, 'web-0')?.deleting, true);
    assert.equal(pending(r), undefined);
  });

  it('nothing happens before the term completes; the completion itself fences', async () => {
    const r = fenceWorld({ completed: false });
    assert.equal(await fence(r.deps, r.cluster.service(NS, 'web'), true), undefined);
    assert.equal(r.cluster.count('evictPod'), 0);
    assert.equal((await checkCompletion(r.deps, REF)).outcome, 'completed');
    await flush();
    assert.equal(r.cluster.pod(NS, 'web-0')?.deleting, true);
    assert.equal(pending(r), undefined);
  });

  it('fencing turned off while pending: the mark is removed, nothing evicted or reported', async () => {
    const r = fenceWorld({ fenceSetting: 'off' });
    assert.equal(await fence(r.deps, r.cluster.service(NS, 'web'), true), undefined);
    await flush();
    assert.equal(r.cluster.count('evictPod'), 0);
    assert.equal(pending(r), undefined);
    assert.equal(r.emitter.drafts.filter((d) => d.type === FENCED).length, 0);
  });

  it('two instances fencing at once: one claim, one eviction, one mark removal, one report', async () => {
    const r = fenceWorld();
    const copy = r.cluster.service(NS, 'web');
    const [x, y] = await Promise.all([fence(r.deps, copy, true), fence(r.deps, copy, true)]);
    await flush();
    assert.ok(x && y);
    // Both checked the same version; only one claim's precondition held, and the other
    // instance left the pod to it.
    assert.deepEqual([...x, ...y].map((f) => f.outcome), ['evicted']);
    assert.equal(r.cluster.count('evictPod'), 1);
    assert.equal(pending(r), undefined);
    assert.equal(r.emitter.drafts.filter((d) => d.type === FENCED).length, 1);
    assert.equal(r.cluster.pod(NS, 'web-1')?.deleting, false);
  });
});
