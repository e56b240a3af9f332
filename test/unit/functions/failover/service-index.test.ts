import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { Observed, ServiceView } from '../../../../functions/failover/core/model.js';
import { createServiceIndex, type ServiceIndex } from '../../../../functions/failover/service-index.js';
import { FakeCluster } from './fake-cluster.js';
import { KEYS, makeService, NS, silentLogger, T0 } from './world.js';

function indexOf(cluster: FakeCluster, namespaces: readonly string[] = []): ServiceIndex {
  return createServiceIndex({ cluster, keys: KEYS, namespaces, logger: silentLogger(), now: () => T0 });
}

const names = (r: ServiceIndex, namespace: string, labels: Readonly<Record<string, string>>): string[] => r.selecting(namespace, labels).map((s) => s.name).sort();

describe('service index: refresh', () => {
  it('replaces the content: opted-out and deleted Services disappear, new ones appear', async () => {
    const cluster = new FakeCluster();
    cluster.putService(makeService({ name: 'a' }));
    cluster.putService(makeService({ name: 'b' }));
    cluster.putService(makeService({ name: 'plain', optedIn: false }));
    const r = indexOf(cluster);
    await r.refresh();
    assert.equal(r.size, 2);
    assert.deepEqual(names(r, NS, { app: 'web' }), ['a', 'b']);
    assert.equal(r.refreshedAt, T0);

    cluster.bumpService(NS, 'a', () => ({ labels: { app: 'web' } }));
    cluster.deleteService(NS, 'b');
    cluster.putService(makeService({ name: 'c' }));
    await r.refresh();
    assert.deepEqual(names(r, NS, { app: 'web' }), ['c']);
    assert.equal(r.get(NS, 'a'), undefined);
    assert.equal(r.get(NS, 'b'), undefined);
    assert.equal(r.size, 1);
  });

  it('lists once for all namespaces, or once per configured namespace, with the mode selector', async () => {
    const cluster = new FakeCluster();
    cluster.putService(makeService({ name: 'a' }));
    cluster.putService(makeService({ name: 'x', namespace: 'other' }));
    const all = indexOf(cluster);
    await all.refresh();
    assert.deepEqual(cluster.calls, [{ method: 'listServices', labelSelector: `${KEYS.mode}=active-standby`, namespace: undefined }]);
    assert.equal(all.size, 2);

    const scoped = new FakeCluster();
    scoped.putService(makeService({ name: 'a' }));
    scoped.putService(makeService({ name: 'x', namespace: 'other' }));
    scoped.putService(makeService({ name: 'y', namespace: 'third' }));
    const some = indexOf(scoped, [NS, 'other']);
    await some.refresh();
    assert.deepEqual(scoped.calls.map((c) => (c.method === 'listServices' ? c.namespace : c.method)), [NS, 'other']);
    assert.equal(some.size, 2);
    assert.equal(some.has('third'), false);
  });

  it('a stale refresh result does not overwrite a newer resourceVersion learned from an event meanwhile', async () => {
    const cluster = new FakeCluster();
    cluster.putService(makeService({ name: 'a' }));
    const r = indexOf(cluster);
    cluster.hold = (c) => c.method === 'listServices';
    const refreshing = r.refresh();
    // The list was taken; meanwhile an event brings a newer copy.
    const newer = cluster.bumpService(NS, 'a', (s) => ({ annotations: { ...s.annotations, note: 'newer' } }));
    r.observe(newer);
    cluster.release();
    await refreshing;
    assert.equal(r.get(NS, 'a')?.resourceVersion, newer.resourceVersion);
    assert.equal(r.get(NS, 'a')?.annotations['note'], 'newer');
  });

  it('a newer refresh result does replace an older copy', async () => {
    const cluster = new FakeCluster();
    const old = cluster.putService(makeService({ name: 'a' }));
    const r = indexOf(cluster);
    r.observe(old);
    const current = cluster.bumpService(NS, 'a');
    await r.refresh();
    assert.equal(r.get(NS, 'a')?.resourceVersion, current.resourceVersion);
  });

  it('a Service opted in by an event during a refresh is not dropped by the older list', async () => {
    const cluster = new FakeCluster();
    cluster.putService(makeService({ name: 'a' }));
    const r = indexOf(cluster);
    cluster.hold = (c) => c.method === 'listServices';
    const refreshing = r.refresh();
    const added = cluster.putService(makeService({ name: 'late' }));
    r.observe(added);
    cluster.release();
    await refreshing;
    assert.equal(r.get(NS, 'late')?.resourceVersion, added.resourceVersion);
    assert.deepEqual(names(r, NS, { app: 'web' }), ['a', 'late']);
  });

  it('a Service opted out or deleted by an event during a refresh is not brought back by the older list', async () => {
    const cluster = new FakeCluster();
    cluster.putService(makeService({ name: 'a' }));
    cluster.putService(makeService({ name: 'b' }));
    cluster.putService(makeService({ name: 'c' }));
    const r = indexOf(cluster);
    await r.refresh();
    cluster.hold = (c) => c.method === 'listServices';
    const refreshing = r.refresh();
    r.observe(cluster.bumpService(NS, 'a', () => ({ labels: { app: 'web' } })));
    cluster.deleteService(NS, 'b');
    r.forget(NS, 'b');
    cluster.release();
    await refreshing;
    assert.deepEqual(names(r, NS, { app: 'web' }), ['c']);
  });
});

describe('service index: observe and forget', () => {
  const cases: ReadonlyArray<{ name: string; steps: (r: ServiceIndex) => void; expected: string[] }> = [
    { name: 'an opted-in Service is added', steps: (r) => r.observe({ ...makeService({ name: 'a' }), resourceVersion: '5' }), expected: ['a'] },
    { name: 'a Service without the mode label is not added', steps: (r) => r.observe({ ...makeService({ name: 'a', optedIn: false }), resourceVersion: '5' }), expected: [] },
    {
      name: 'a Service whose mode label has another value is not added',
      steps: (r) => r.observe({ ...makeService({ name: 'a' }), labels: { app: 'web', [KEYS.mode]: 'active-active' }, resourceVersion: '5' }),
      expected: [],
    },
    {
      name: 'removing the label removes it',
      steps: (r) => {
        r.observe({ ...makeService({ name: 'a' }), resourceVersion: '5' });
        r.observe({ ...makeService({ name: 'a', optedIn: false }), resourceVersion: '6' });
      },
      expected: [],
    },
    {
      name: 'an older event does not undo a newer one (reordered delivery)',
      steps: (r) => {
        r.observe({ ...makeService({ name: 'a' }), resourceVersion: '6' });
        r.observe({ ...makeService({ name: 'a', optedIn: false }), resourceVersion: '5' });
      },
      expected: ['a'],
    },
    {
      name: 'forget removes it',
      steps: (r) => {
        r.observe({ ...makeService({ name: 'a' }), resourceVersion: '5' });
        r.observe({ ...makeService({ name: 'b' }), resourceVersion: '5' });
        r.forget(NS, 'a');
      },
      expected: ['b'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const cluster = new FakeCluster();
      const r = indexOf(cluster);
      c.steps(r);
      assert.deepEqual(names(r, NS, { app: 'web' }), c.expected);
      assert.equal(r.size, c.expected.length);
      assert.equal(r.has(NS), c.expected.length > 0);
      assert.equal(cluster.requestCount, 0);
    });
  }
});

describe('service index: selecting', () => {
  const withPodId = (s: Observed<ServiceView>, id: string): Observed<ServiceView> => ({ ...s, selector: { ...s.selector, [KEYS.podId]: id } });
  const r = indexOf(new FakeCluster());
  r.observe({ ...withPodId(makeService({ name: 'web', active: 'web-0' }), 'uid-web-0'), resourceVersion: '5' });
  r.observe({ ...makeService({ name: 'api', selector: { app: 'api', tier: 'back' } }), resourceVersion: '5' });
  // A Service whose live selector is only baton's key: its saved selector is the user's.
  r.observe({
    ...makeService({ name: 'saved', selector: {} }),
    selector: { [KEYS.podId]: 'uid-x' },
    annotations: { [KEYS.originalSelector]: JSON.stringify({ app: 'cache' }) },
    resourceVersion: '5',
  });
  r.observe({ ...makeService({ name: 'other-ns', namespace: 'shop' }), resourceVersion: '5' });

  const cases: ReadonlyArray<{ name: string; namespace: string; labels: Readonly<Record<string, string>>; expected: string[] }> = [
    { name: 'a standby without baton labels matches by the user selector', namespace: NS, labels: { app: 'web' }, expected: ['web'] },
    { name: 'a pod with another pod-id still matches (pod-id is not part of the match)', namespace: NS, labels: { app: 'web', [KEYS.podId]: 'uid-web-1' }, expected: ['web'] },
    { name: 'the pod-id alone does not match', namespace: NS, labels: { [KEYS.podId]: 'uid-web-0' }, expected: [] },
    { name: 'a subset of a multi-label selector does not match', namespace: NS, labels: { app: 'api' }, expected: [] },
    { name: 'all labels of a multi-label selector match, extra labels allowed', namespace: NS, labels: { app: 'api', tier: 'back', zone: 'a' }, expected: ['api'] },
    { name: 'the saved selector is used when the live one is only baton\u2019s key', namespace: NS, labels: { app: 'cache' }, expected: ['saved'] },
    { name: 'namespaces are separate', namespace: 'shop', labels: { app: 'web' }, expected: ['other-ns'] },
    { name: 'an unknown namespace selects nothing', namespace: 'nowhere', labels: { app: 'web' }, expected: [] },
    { name: 'no labels select nothing', namespace: NS, labels: {}, expected: [] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(names(r, c.namespace, c.labels), c.expected);
    });
  }
});
