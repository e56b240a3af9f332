import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { removeLeftoverLabels } from '../../../../functions/failover/leftovers.js';
import { FakeCluster } from './fake-cluster.js';
import { KEYS, makePod, makeService, NS, T0 } from './world.js';

const batonLabels = (cluster: FakeCluster, pod: string): string[] => Object.keys(cluster.pod(NS, pod)!.labels).filter((k) => k.startsWith('baton.dev/'));

describe('removeLeftoverLabels', () => {
  it('removes baton\'s labels, guarded, from a pod no Service names', async () => {
    const cluster = new FakeCluster();
    cluster.putPod(makePod('web-0', { role: 'standby' }));
    // Opted out and released: the selector no longer names any pod.
    cluster.putService(makeService({ optedIn: false }));
    assert.match((await removeLeftoverLabels(cluster, NS, 'web-0', KEYS)).detail, /removed/);
    assert.deepEqual(batonLabels(cluster, 'web-0'), []);
  });

  it('keeps them while any Service selector still names the pod (a release in progress)', async () => {
    const cluster = new FakeCluster();
    cluster.putPod(makePod('web-0', { role: 'active' }));
    cluster.putService(makeService({ active: 'web-0', optedIn: false }));
    assert.match((await removeLeftoverLabels(cluster, NS, 'web-0', KEYS)).detail, /still selects or names/);
    assert.ok(KEYS.podId in cluster.pod(NS, 'web-0')!.labels);
    assert.equal(cluster.count('patchPodLabels'), 0);
  });

  it('keeps them while an opted-in Service selects the pod as read, whatever the event claimed', async () => {
    const cluster = new FakeCluster();
    cluster.putPod(makePod('web-0', { role: 'standby' }));
    cluster.putService(makeService({ name: 'db', active: 'web-1' }));
    assert.match((await removeLeftoverLabels(cluster, NS, 'web-0', KEYS)).detail, /still selects or names/);
    assert.equal(cluster.count('patchPodLabels'), 0);
  });

  it('does nothing for a pod that does not exist (a forged event)', async () => {
    const cluster = new FakeCluster();
    assert.deepEqual(await removeLeftoverLabels(cluster, NS, 'ghost', KEYS), { outcome: 'gone', detail: 'pod is gone' });
    assert.equal(cluster.count('patchPodLabels'), 0);
  });

  it('leaves a pod alone that changed between the read and the write', async () => {
    const cluster = new FakeCluster();
    cluster.putPod(makePod('web-0', { role: 'standby' }));
    cluster.inject({ method: 'patchPodLabels', action: { kind: 'before', run: (w) => w.setReady(NS, 'web-0', false, T0) } });
    assert.match((await removeLeftoverLabels(cluster, NS, 'web-0', KEYS)).detail, /changed or gone/);
    assert.ok(KEYS.podId in cluster.pod(NS, 'web-0')!.labels);
  });
});
