import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { removeLeftoverLabels } from '../../../shared/failover/leftovers.js';
import { FakeCluster } from './fake-cluster.js';
import { KEYS, makePod, makeService, NS } from './world.js';

describe('removeLeftoverLabels', () => {
  it('removes baton\'s labels, guarded, from a pod no Service names', async () => {
    const cluster = new FakeCluster();
    cluster.putPod(makePod('web-0', { role: 'standby' }));
    // Opted out and released: the selector no longer names any pod.
    cluster.putService(makeService({ optedIn: false }));
    const pod = cluster.pod(NS, 'web-0')!;
    assert.match(await removeLeftoverLabels(cluster, pod, KEYS), /removed/);
    assert.deepEqual(Object.keys(cluster.pod(NS, 'web-0')!.labels).filter((k) => k.startsWith('baton.dev/')), []);
  });

  it('keeps them while any Service selector still names the pod (a release in progress)', async () => {
    const cluster = new FakeCluster();
    cluster.putPod(makePod('web-0', { role: 'active' }));
    cluster.putService(makeService({ active: 'web-0', optedIn: false }));
    const pod = cluster.pod(NS, 'web-0')!;
    assert.match(await removeLeftoverLabels(cluster, pod, KEYS), /still names/);
    assert.ok(KEYS.podId in cluster.pod(NS, 'web-0')!.labels);
    assert.equal(cluster.calls.filter((c) => c.method === 'patchPodLabels').length, 0);
  });

  it('leaves a pod alone that changed since the event was read', async () => {
    const cluster = new FakeCluster();
    cluster.putPod(makePod('web-0', { role: 'standby' }));
    const stale = { ...cluster.pod(NS, 'web-0')!, resourceVersion: '0' };
    assert.match(await removeLeftoverLabels(cluster, stale, KEYS), /changed or gone/);
    assert.ok(KEYS.podId in cluster.pod(NS, 'web-0')!.labels);
  });
});
