// Fencing under attack: a mark a tenant wrote, a follower that lags its leader, an
// election racing the fence, failures that are not transient, a bad annotation while a
// fence is pending. The property throughout: baton never evicts a pod some Service
// routes to as its active, and a fence is dropped only when it was tried or asked off.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FENCED } from '../../../../shared/audit/schemas.js';
import { ConflictError, ForbiddenError, InvalidError, TransientError } from '../../../../shared/k8s/errors.js';
import { fence } from '../../../../functions/failover/fence.js';
import { checkCompletion } from '../../../../functions/failover/completion.js';
import { reconcile } from '../../../../functions/failover/reconcile.js';
import { REASONS } from '../../../../functions/failover/report.js';
import { FakeCluster } from './fake-cluster.js';
import { flush, KEYS, makePod, makeService, NS, rig, slice, uidOf, type Rig } from './world.js';

/** web-0, web-1, web-2 over app=web; web-0 lost its readiness a moment ago unless said otherwise. */
function pods(cluster: FakeCluster, readyWeb0 = false): void {
  cluster.putPod(makePod('web-0', { role: 'standby', ready: readyWeb0 }));
  cluster.putPod(makePod('web-1', { role: 'active' }));
  cluster.putPod(makePod('web-2', { role: 'standby' }));
}

/** web-1 active in term 2 (completed), web-0 the pod the switch left, awaiting its fence. */
function fenceWorld(extra: Record<string, string> = {}): Rig {
  const cluster = new FakeCluster();
  cluster.putService(makeService({ active: 'web-1', term: 2, annotations: { [KEYS.fence]: 'evict', [KEYS.fencePending]: uidOf('web-0'), ...extra } }));
  pods(cluster);
  cluster.putSlices(NS, 'web', [slice([{ pod: 'web-1', ready: true }, { pod: 'web-0', ready: false }])]);
  return rig(cluster);
}

const evictions = (r: Rig): number => r.cluster.count('evictPod');
const deleting = (r: Rig, pod: string): boolean | undefined => r.cluster.pod(NS, pod)?.deleting;

describe('fence, attacked', () => {
  it('a follower that lags its leader does not evict the pod the leader routes to now', async () => {
    const cluster = new FakeCluster();
    // The leader failed back to web-0 (its fencing is off); the follower completed its
    // own switch web-0 → web-1 and has not followed the failback yet.
    cluster.putService(makeService({ active: 'web-0', term: 4 }));
    cluster.putService(makeService({ name: 'web-dns', active: 'web-1', term: 3, annotations: { [KEYS.follow]: 'web', [KEYS.fence]: 'evict', [KEYS.fencePending]: uidOf('web-0') } }));
    pods(cluster, true);
    const r = rig(cluster);
    await fence(r.deps, r.cluster.service(NS, 'web-dns'), true);
    await flush();
    assert.equal(evictions(r), 0, 'web-0 is the leader’s active');
    assert.equal(deleting(r, 'web-0'), false);
  });

  it('a mark a tenant wrote naming the active of another Service over the same pods evicts nothing', async () => {
    const cluster = new FakeCluster();
    cluster.putService(makeService({ active: 'web-1', term: 2, annotations: { [KEYS.fence]: 'evict', [KEYS.fencePending]: uidOf('web-2') } }));
    cluster.putService(makeService({ name: 'web-admin', active: 'web-2', term: 1 }));
    pods(cluster, true);
    const r = rig(cluster);
    await fence(r.deps, r.cluster.service(NS, 'web'), true);
    await flush();
    assert.equal(evictions(r), 0, 'web-2 is web-admin’s active');
    assert.equal(deleting(r, 'web-2'), false);
    assert.equal(r.emitter.drafts.filter((d) => d.type === FENCED).length, 0);
  });

  it('an election that takes the pending pod back while the fence looks for it: the new active is not evicted', async () => {
    const r = fenceWorld();
    // Another instance: web-1 failed, web-0 (ready again) is the only healthy pod and is
    // elected back (term 3), between this fence's read of the Service and its eviction.
    r.cluster.inject({
      method: 'listPods',
      nth: 1,
      action: {
        kind: 'before',
        run: (world) => {
          world.setReady(NS, 'web-1', false, 0);
          world.setReady(NS, 'web-0', true, 0);
          world.bumpService(NS, 'web', (s) => {
            const { [KEYS.fencePending]: _moved, ...rest } = s.annotations;
            return {
              selector: { ...s.selector, [KEYS.podId]: uidOf('web-0') },
              annotations: { ...rest, [KEYS.term]: '3', [KEYS.activePod]: 'web-0', [KEYS.activeUid]: uidOf('web-0'), [KEYS.fencePending]: uidOf('web-1') },
            };
          });
        },
      },
    });
    await fence(r.deps, r.cluster.service(NS, 'web'), true);
    await flush();
    assert.equal(deleting(r, 'web-0'), false, 'web-0 is the active of term 3');
    assert.equal(r.cluster.service(NS, 'web').annotations[KEYS.fencePending], uidOf('web-1'), 'term 3’s own mark stays');
  });

  it('an election decided before the claim cannot land between the claim and the eviction', async () => {
    const r = fenceWorld();
    // Another instance read the Service before this fence claimed web-0, saw web-1 fail
    // and web-0 as the only healthy pod, and sends its guarded switch while the eviction
    // is on its way.
    const before = r.cluster.service(NS, 'web');
    let late: Promise<unknown> = Promise.resolve();
    r.cluster.inject({
      method: 'evictPod',
      nth: 1,
      action: {
        kind: 'before',
        run: (world) => {
          late = world.patchService(before, { selector: { ...before.selector, [KEYS.podId]: uidOf('web-0') }, annotations: { [KEYS.activePod]: 'web-0', [KEYS.activeUid]: uidOf('web-0'), [KEYS.term]: '3' } });
          late.catch(() => undefined);
        },
      },
    });
    await fence(r.deps, r.cluster.service(NS, 'web'), true);
    await assert.rejects(late, ConflictError);
    assert.equal(r.cluster.service(NS, 'web').selector[KEYS.podId], uidOf('web-1'));
    assert.equal(deleting(r, 'web-0'), true);
  });

  it('a pod claimed for eviction is not elected, even as the only healthy one, and a later look finishes its eviction', async () => {
    const r = fenceWorld();
    r.cluster.inject({ method: 'evictPod', nth: 1, action: { kind: 'throw', error: () => new TransientError('evict: HTTP 503', 503) } });
    await assert.rejects(fence(r.deps, r.cluster.service(NS, 'web'), true), TransientError);
    assert.equal(r.cluster.service(NS, 'web').annotations[KEYS.fencePending], `!${uidOf('web-0')}`, 'claimed, not evicted');
    r.cluster.setReady(NS, 'web-0', true, 0);
    r.cluster.setReady(NS, 'web-1', false, 0);
    r.cluster.setReady(NS, 'web-2', false, 0);
    assert.equal((await reconcile(r.deps, { namespace: NS, name: 'web' })).outcome, 'unavailable');
    assert.equal(r.cluster.service(NS, 'web').selector[KEYS.podId], uidOf('web-1'));
    await flush();
    await flush();
    assert.equal(deleting(r, 'web-0'), true, 'the unavailable look finished the claimed eviction');
    assert.equal(r.cluster.service(NS, 'web').annotations[KEYS.fencePending], undefined);
  });

  for (const [status, error] of [
    [403, () => new ForbiddenError('evict pod demo/web-0: HTTP 403: pods "web-0" is forbidden: cannot create resource "pods/eviction"', 403)],
    [422, () => new InvalidError('evict pod demo/web-0: HTTP 422: denied by an admission webhook', 422)],
  ] as const) {
    it(`an eviction refused for good (HTTP ${status}) is reported once as FenceRefused and the mark goes; no request loop`, async () => {
      const r = fenceWorld();
      r.cluster.inject({ method: 'evictPod', action: { kind: 'throw', error } });
      const result = await fence(r.deps, r.cluster.service(NS, 'web'), true);
      await flush();
      assert.equal(result?.[0]?.outcome, 'refused');
      assert.equal(r.cluster.service(NS, 'web').annotations[KEYS.fencePending], undefined);
      assert.ok(r.cluster.calls.some((c) => c.method === 'recordEvent' && c.note.type === 'Warning' && c.note.reason === REASONS.fenceRefused));
      // The next look has nothing left to try.
      const before = r.cluster.calls.length;
      assert.equal((await reconcile(r.deps, { namespace: NS, name: 'web' })).outcome, 'steady');
      await flush();
      assert.equal(r.cluster.calls.slice(before).filter((c) => c.method === 'evictPod').length, 0);
    });
  }

  it('a second switch before the first switch’s fence: both pods it left are fenced, neither is forgotten', async () => {
    // Term 2 left web-0 (the mark) and has not completed when its new active, web-1,
    // fails: term 3 moves to web-2 and leaves web-1. web-0 still holds the connections
    // it had as term 1's active; it must not drop out of the record.
    const cluster = new FakeCluster();
    cluster.putService(makeService({ active: 'web-1', term: 2, completed: false, annotations: { [KEYS.fence]: 'evict', [KEYS.fencePending]: uidOf('web-0') } }));
    pods(cluster, true);
    cluster.setReady(NS, 'web-1', false, 0);
    const r = rig(cluster);
    assert.equal((await reconcile(r.deps, { namespace: NS, name: 'web' })).outcome, 'switched');
    assert.equal(r.cluster.service(NS, 'web').selector[KEYS.podId], uidOf('web-2'));
    r.cluster.putSlices(NS, 'web', [slice([{ pod: 'web-2', ready: true }])]);
    assert.equal((await checkCompletion(r.deps, { namespace: NS, name: 'web' })).outcome, 'completed');
    await flush();
    await flush();
    assert.equal(deleting(r, 'web-1'), true, 'the pod term 3 left');
    assert.equal(deleting(r, 'web-0'), true, 'the pod term 2 left');
    assert.equal(deleting(r, 'web-2'), false);
    assert.equal(r.cluster.service(NS, 'web').annotations[KEYS.fencePending], undefined);
    const reports = r.emitter.drafts.filter((d) => d.type === FENCED);
    assert.equal(reports.length, 2);
    assert.equal(new Set(reports.map((d) => d.id)).size, 2, 'one id per pod');
  });

  it('a Service copied with kubectl get -o yaml does not act on the mark it copied', async () => {
    const cluster = new FakeCluster();
    // The original's record, mark and all, re-applied under another name: the copy never
    // switched away from web-0, and web-0 is a healthy standby that nobody routes to.
    const original = makeService({ active: 'web-1', term: 2, annotations: { [KEYS.fence]: 'evict', [KEYS.fencePending]: uidOf('web-0') } });
    cluster.putService({ ...original, name: 'web-copy', uid: 'svc-uid-web-copy' });
    pods(cluster, true);
    cluster.putSlices(NS, 'web-copy', [slice([{ pod: 'web-1', ready: true }])]);
    const r = rig(cluster);
    assert.equal((await reconcile(r.deps, { namespace: NS, name: 'web-copy' })).outcome, 'steady');
    await flush();
    await flush();
    assert.equal(r.cluster.service(NS, 'web-copy').annotations[KEYS.recordOf], 'svc-uid-web-copy', 'the copy took the record over');
    assert.equal(evictions(r), 0);
    assert.equal(r.cluster.service(NS, 'web-copy').annotations[KEYS.fencePending], undefined, 'and not the mark');
  });

  it('a bad annotation while a fence is pending changes nothing; the fence happens once it is fixed', async () => {
    const r = fenceWorld({ [KEYS.minSwitchInterval]: 'soon' });
    await fence(r.deps, r.cluster.service(NS, 'web'), true);
    await flush();
    assert.equal(evictions(r), 0);
    assert.equal(r.cluster.service(NS, 'web').annotations[KEYS.fencePending], uidOf('web-0'), 'the mark stays');
    assert.equal(r.cluster.count('patchService'), 0, 'bad input writes nothing');
    r.cluster.bumpService(NS, 'web', (s) => ({ annotations: { ...s.annotations, [KEYS.minSwitchInterval]: '10s' } }));
    await fence(r.deps, r.cluster.service(NS, 'web'), true);
    await flush();
    assert.equal(deleting(r, 'web-0'), true);
    assert.equal(r.cluster.service(NS, 'web').annotations[KEYS.fencePending], undefined);
  });
});
