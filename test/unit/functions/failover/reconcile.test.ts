import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { ServiceView } from '../../../../functions/failover/core/model.js';
import { reconcile, type Basis, type Result } from '../../../../functions/failover/reconcile.js';
import { ForbiddenError, TransientError } from '../../../../shared/k8s/errors.js';
import { FakeCluster, type Call } from './fake-cluster.js';
import { flush, KEYS, makePod, makeService, NS, rig, T0, uidOf, type Rig } from './world.js';

const REF = { namespace: NS, name: 'web' };

/** web-0 active but unready; web-1 and web-2 ready (web-1 preferred by name). */
function world(options: { labelled?: boolean } = {}): Rig {
  const labelled = options.labelled ?? true;
  const cluster = new FakeCluster();
  cluster.putPod(makePod('web-0', { role: 'active', ready: false }));
  cluster.putPod(labelled ? makePod('web-1', { role: 'standby' }) : makePod('web-1'));
  cluster.putPod(labelled ? makePod('web-2', { role: 'standby' }) : makePod('web-2'));
  cluster.putService(makeService({ active: 'web-0' }));
  return rig(cluster, { roleLabels: true });
}

const methods = (calls: readonly Call[]): string[] => calls.map((c) => (c.method === 'patchService' ? `patchService@${c.resourceVersion}` : c.method === 'patchPodLabels' ? `patchPodLabels:${c.pod}` : c.method));

/** What another writer (another instance) leaves behind after switching to `pod`. */
function switchedTo(pod: string, term: number): (s: ServiceView) => Partial<ServiceView> {
  return (s) => ({
    selector: { app: 'web', [KEYS.podId]: uidOf(pod) },
    annotations: { ...s.annotations, [KEYS.activePod]: pod, [KEYS.activeUid]: uidOf(pod), [KEYS.term]: String(term), [KEYS.reason]: 'failover' },
  });
}

describe('reconcile: conflicts', () => {
  it('a stale index hint gets 409, is read again and the switch succeeds on the fresh resourceVersion', async () => {
    const r = world();
    const stale = r.cluster.service(NS, 'web');
    // Someone else touched the Service (an unrelated annotation) since the index saw it.
    const fresh = r.cluster.bumpService(NS, 'web', (s) => ({ annotations: { ...s.annotations, 'example.com/owner': 'team-a' } }));
    const result = await reconcile(r.deps, REF, { service: stale, fresh: false });
    assert.deepEqual(result, { outcome: 'switched', detail: 'failover: web-0 -> web-1 (term 2)' });
    assert.deepEqual(methods(r.cluster.calls.filter((c) => c.method !== 'recordEvent' && c.method !== 'patchPodLabels')), [
      'listPods',
      `patchService@${stale.resourceVersion}`,
      'getService',
      'listPods',
      `patchService@${fresh.resourceVersion}`,
    ]);
    assert.equal(r.cluster.conflicts.length, 1);
    const after = r.cluster.service(NS, 'web');
    assert.equal(after.selector[KEYS.podId], uidOf('web-1'));
    assert.equal(after.annotations['example.com/owner'], 'team-a', 'a merge patch keeps annotations it does not name');
    assert.equal(Number(after.resourceVersion), Number(fresh.resourceVersion) + 1);
  });

  for (const retries of [0, 1, 3]) {
    for (const hinted of [false, true]) {
      it(`conflictRetries=${retries}, ${hinted ? 'index hint' : 'no hint'}: a Service that changes before every write gives up as conflicted after ${retries + 1} writes`, async () => {
        const r = world();
        r.cluster.inject({ method: 'patchService', action: { kind: 'before', run: (w) => void w.bumpService(NS, 'web') } });
        const deps = { ...r.deps, conflictRetries: retries };
        const result = await reconcile(deps, REF, hinted ? { service: r.cluster.service(NS, 'web'), fresh: false } : undefined);
        assert.deepEqual(result, { outcome: 'conflicted', detail: `service kept changing; gave up after ${retries + 1} attempts` });
        assert.equal(r.cluster.count('patchService'), retries + 1);
        assert.equal(r.cluster.conflicts.length, retries + 1);
        assert.equal(r.cluster.count('getService'), hinted ? retries : retries + 1);
        assert.equal(r.cluster.writes.length, 0);
        assert.equal(r.cluster.service(NS, 'web').selector[KEYS.podId], uidOf('web-0'));
        assert.equal(r.emitter.drafts.length, 0);
      });
    }
  }

  it('one conflict fewer than the limit still succeeds', async () => {
    const r = world();
    for (const nth of [1, 2]) r.cluster.inject({ method: 'patchService', nth, action: { kind: 'before', run: (w) => void w.bumpService(NS, 'web') } });
    const result = await reconcile({ ...r.deps, conflictRetries: 2 }, REF);
    assert.equal(result.outcome, 'switched');
    assert.equal(r.cluster.count('patchService'), 3);
    assert.equal(r.cluster.writes.length, 1);
  });

  for (const other of ['web-2', 'web-1']) {
    it(`a concurrent writer switched to ${other} first: the re-read decides steady and no second switch happens`, async () => {
      const r = world();
      r.cluster.inject({ method: 'patchService', nth: 1, action: { kind: 'before', run: (w) => void w.bumpService(NS, 'web', switchedTo(other, 2)) } });
      const result = await reconcile(r.deps, REF);
      await flush();
      assert.deepEqual(result, { outcome: 'steady', detail: `${other} is active and healthy` });
      assert.deepEqual(methods(r.cluster.calls.filter((c) => c.method !== 'patchPodLabels')), ['getService', 'listPods', `patchService@${r.cluster.conflicts[0]?.method === 'patchService' ? r.cluster.conflicts[0].resourceVersion : '?'}`, 'getService', 'listPods']);
      const attempted = r.cluster.calls.flatMap((c) => (c.method === 'patchService' ? [c.write.selector[KEYS.podId]] : []));
      assert.deepEqual(attempted, [uidOf('web-1')], 'our only write attempt, rejected');
      assert.equal(r.cluster.writes.length, 0);
      const after = r.cluster.service(NS, 'web');
      assert.equal(after.selector[KEYS.podId], uidOf(other));
      assert.equal(after.annotations[KEYS.term], '2', 'the term was not bumped a second time');
      assert.equal(r.emitter.drafts.length, 0);
    });
  }
});

describe('reconcile: gone, vanished pods and failures', () => {
  it('NotFound on the read: gone, after one request', async () => {
    const r = world();
    r.cluster.deleteService(NS, 'web');
    assert.deepEqual(await reconcile(r.deps, REF), { outcome: 'gone', detail: 'service demo/web no longer exists' });
    assert.deepEqual(methods(r.cluster.calls), ['getService']);
  });

  it('deleted after a conflict: the re-read answers gone', async () => {
    const r = world();
    r.cluster.inject({ method: 'patchService', nth: 1, action: { kind: 'before', run: (w) => void w.bumpService(NS, 'web') } });
    r.cluster.inject({ method: 'getService', nth: 2, action: { kind: 'before', run: (w) => w.deleteService(NS, 'web') } });
    assert.deepEqual(await reconcile(r.deps, REF), { outcome: 'gone', detail: 'service demo/web no longer exists' });
    assert.deepEqual(methods(r.cluster.calls).map((m) => m.split('@')[0]), ['getService', 'listPods', 'patchService', 'getService']);
  });

  it('deleted between the read and the write (NotFound on the patch): gone, not an error', async () => {
    const r = world();
    r.cluster.inject({ method: 'patchService', nth: 1, action: { kind: 'before', run: (w) => w.deleteService(NS, 'web') } });
    const result = await reconcile(r.deps, REF);
    assert.equal(result.outcome, 'gone');
    assert.equal(r.emitter.drafts.length, 0);
  });

  it('NotFound on the prerequisite pod label: the chosen pod vanished, so decide again on a fresh read', async () => {
    const r = world({ labelled: false });
    r.cluster.inject({ method: 'patchPodLabels', nth: 1, action: { kind: 'before', run: (w) => w.deletePod(NS, 'web-1') } });
    const result = await reconcile(r.deps, REF);
    await flush();
    assert.deepEqual(result, { outcome: 'switched', detail: 'failover: web-0 -> web-2 (term 2)' });
    const rv = r.cluster.writes[0]?.precondition;
    assert.deepEqual(methods(r.cluster.calls).slice(0, 7), ['getService', 'listPods', 'patchPodLabels:web-1', 'getService', 'listPods', 'patchPodLabels:web-2', `patchService@${rv}`]);
    assert.equal(r.cluster.writes.length, 1);
    assert.equal(r.cluster.service(NS, 'web').selector[KEYS.podId], uidOf('web-2'));
    assert.equal(r.cluster.pod(NS, 'web-2')?.labels[KEYS.podId], uidOf('web-2'), 'labelled before the Service selected it');
  });

  const failures: ReadonlyArray<{ method: 'listPods' | 'patchService' | 'getService' | 'patchPodLabels'; error: () => Error; type: new (...args: never[]) => Error }> = [
    { method: 'getService', error: () => new TransientError('get service demo/web: HTTP 500', 500), type: TransientError },
    { method: 'listPods', error: () => new TransientError('list pods in demo: HTTP 429', 429), type: TransientError },
    { method: 'patchService', error: () => new TransientError('patch service demo/web: timeout', undefined), type: TransientError },
    { method: 'patchPodLabels', error: () => new ForbiddenError('label pod demo/web-1: HTTP 403', 403), type: ForbiddenError },
  ];
  for (const f of failures) {
    it(`${f.type.name} on ${f.method} propagates and nothing is switched`, async () => {
      const r = world({ labelled: false });
      r.cluster.inject({ method: f.method, action: { kind: 'throw', error: f.error } });
      await assert.rejects(reconcile(r.deps, REF), f.type);
      assert.equal(r.cluster.writes.length, 0);
      assert.equal(r.cluster.service(NS, 'web').selector[KEYS.podId], uidOf('web-0'));
      assert.equal(r.emitter.drafts.length, 0);
    });
  }
});

describe('reconcile: hints', () => {
  /** web-0 active and healthy, web-1 standby: nothing to do. */
  function steady(): Rig {
    const cluster = new FakeCluster();
    cluster.putPod(makePod('web-0', { role: 'active' }));
    cluster.putPod(makePod('web-1', { role: 'standby' }));
    cluster.putService(makeService({ active: 'web-0' }));
    return rig(cluster, { roleLabels: true });
  }
  const cases: ReadonlyArray<{ name: string; hint: (r: Rig) => Basis | undefined; calls: string[] }> = [
    { name: 'no hint: read, list', hint: () => undefined, calls: ['getService', 'listPods'] },
    { name: 'a copy read for this look: list only', hint: (r) => ({ service: r.cluster.service(NS, 'web'), fresh: true }), calls: ['listPods'] },
    { name: 'a current index copy: list, then one read to confirm', hint: (r) => ({ service: r.cluster.service(NS, 'web'), fresh: false }), calls: ['listPods', 'getService'] },
    {
      name: 'a stale index copy: list, read, list again',
      hint: (r) => {
        const old = r.cluster.service(NS, 'web');
        r.cluster.bumpService(NS, 'web');
        return { service: old, fresh: false };
      },
      calls: ['listPods', 'getService', 'listPods'],
    },
  ];
  for (const c of cases) {
    it(`steady with ${c.name}`, async () => {
      const r = steady();
      const result: Result = await reconcile(r.deps, REF, c.hint(r));
      await flush();
      assert.deepEqual(result, { outcome: 'steady', detail: 'web-0 is active and healthy' });
      assert.deepEqual(methods(r.cluster.calls), c.calls);
      assert.equal(r.cluster.writes.length, 0);
    });
  }

  it('a stale index copy that names a pod that since became active: the read prevents a wrong role label', async () => {
    const r = steady();
    const old = r.cluster.service(NS, 'web');
    r.cluster.bumpService(NS, 'web', switchedTo('web-1', 2));
    r.cluster.putPod(makePod('web-0', { role: 'standby' }));
    r.cluster.putPod(makePod('web-1', { role: 'active' }));
    const result = await reconcile(r.deps, REF, { service: old, fresh: false });
    await flush();
    assert.deepEqual(result, { outcome: 'steady', detail: 'web-1 is active and healthy' });
    assert.equal(r.cluster.count('patchPodLabels'), 0, 'no label written from the stale copy');
    assert.equal(r.cluster.pod(NS, 'web-1')?.labels[KEYS.role], 'active');
  });

  it('the clock is read for the decision: switched-at is the time of the write', async () => {
    const r = world();
    r.clock.now = T0 + 5_000;
    await reconcile(r.deps, REF);
    assert.equal(r.cluster.service(NS, 'web').annotations[KEYS.switchedAt], new Date(T0 + 5_000).toISOString());
  });
});

describe('reconcile: pod problems are reported on a Service known to exist', () => {
  it('an index copy of a Service deleted since leads to no Warning Event, only a refused guarded write', async () => {
    const cluster = new FakeCluster();
    cluster.putPod(makePod('web-0', { priority: 'not-a-number', ready: false }));
    // Labelled: the switch needs no pod write first, so nothing confirms the hint before it.
    cluster.putPod(makePod('web-1', { role: 'standby' }));
    const ghost = { ...makeService({ name: 'ghost', active: 'web-0' }), resourceVersion: '7' };
    const r = rig(cluster);
    const result = await reconcile(r.deps, { namespace: NS, name: 'ghost' }, { service: ghost, fresh: false });
    await flush();
    assert.equal(result.outcome, 'gone');
    assert.equal(cluster.count('recordEvent'), 0, JSON.stringify(cluster.calls));
  });
  it('on a hint, the Warning follows the guarded write that succeeded', async () => {
    const cluster = new FakeCluster();
    cluster.putPod(makePod('web-0', { priority: 'not-a-number', ready: false }));
    cluster.putPod(makePod('web-1', { role: 'standby' }));
    const stored = cluster.putService(makeService({ active: 'web-0' }));
    const r = rig(cluster);
    const result = await reconcile(r.deps, REF, { service: stored, fresh: false });
    await flush();
    assert.equal(result.outcome, 'switched');
    const notes = cluster.calls.flatMap((c) => (c.method === 'recordEvent' ? [c.note.reason] : []));
    assert.ok(notes.includes('InvalidPodAnnotation'), JSON.stringify(notes));
  });
});
