import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { sweep, type SweepDeps } from '../../../../../functions/failover/resync/sweep.js';
import { ForbiddenError, TransientError } from '../../../../../shared/k8s/errors.js';
import { FakeCluster } from '../fake-cluster.js';
import { flush, KEYS, makePod, makeService, NS, rig } from '../world.js';

const SERVICES = ['alpha', 'beta', 'gamma', 'delta'] as const;

/** Four opted-in Services, never adopted, each with one ready pod of its own. */
function world(): { cluster: FakeCluster; deps: (concurrency: number, namespaces?: readonly string[]) => SweepDeps } {
  const cluster = new FakeCluster();
  for (const name of SERVICES) {
    cluster.putService(makeService({ name, selector: { app: name } }));
    cluster.putPod(makePod(`${name}-0`, { labels: { app: name } }));
  }
  cluster.putService(makeService({ name: 'plain', optedIn: false, selector: { app: 'plain' } }));
  const r = rig(cluster);
  return { cluster, deps: (concurrency, namespaces = []) => ({ ...r.deps, namespaces, concurrency }) };
}

describe('sweep', () => {
  for (const concurrency of [1, 2, 8]) {
    it(`concurrency ${concurrency}: reconciles every opted-in Service and only those`, async () => {
      const { cluster, deps } = world();
      const summary = await sweep(deps(concurrency));
      await flush();
      assert.equal(summary.services, 4);
      assert.deepEqual(summary.outcomes, { switched: 4 });
      assert.deepEqual(summary.errors, []);
      for (const name of SERVICES) {
        const s = cluster.service(NS, name);
        assert.equal(s.annotations[KEYS.activePod], `${name}-0`, name);
        assert.equal(s.annotations[KEYS.reason], 'initial');
      }
      assert.deepEqual(cluster.service(NS, 'plain').annotations, {});
      // The list is the sweep's read of every Service; the only GETs are the completion
      // checks after each switch.
      assert.equal(cluster.count('getService'), SERVICES.length);
      const listed = cluster.calls.flatMap((c) => (c.method === 'listPods' ? [c.selector['app'] ?? ''] : []));
      assert.deepEqual([...new Set(listed)].sort(), [...SERVICES].sort());
      assert.equal(cluster.count('listServices'), 1);
    });
  }

  const failures = [
    { name: 'TransientError on the read', method: 'listPods' as const, error: () => new TransientError('list pods in demo: HTTP 503', 503), message: 'demo/beta: list pods in demo: HTTP 503' },
    { name: 'ForbiddenError on the write', method: 'patchService' as const, error: () => new ForbiddenError('patch service demo/beta: HTTP 403', 403), message: 'demo/beta: patch service demo/beta: HTTP 403' },
  ];
  for (const f of failures) {
    for (const concurrency of [1, 3]) {
      it(`${f.name} of one Service (concurrency ${concurrency}) does not stop the others; the error is collected`, async () => {
        const { cluster, deps } = world();
        cluster.inject({ method: f.method, when: (c) => ('name' in c && c.name === 'beta') || (c.method === 'listPods' && c.selector['app'] === 'beta'), action: { kind: 'throw', error: f.error } });
        const summary = await sweep(deps(concurrency));
        await flush();
        assert.equal(summary.services, 4);
        assert.deepEqual(summary.outcomes, { switched: 3 });
        assert.deepEqual(summary.errors, [f.message]);
        for (const name of ['alpha', 'gamma', 'delta']) assert.equal(cluster.service(NS, name).annotations[KEYS.activePod], `${name}-0`);
        assert.equal(cluster.service(NS, 'beta').annotations[KEYS.activePod], undefined);
      });
    }
  }

  it('every Service failing: all errors collected, no outcome', async () => {
    const { cluster, deps } = world();
    cluster.inject({ method: 'listPods', action: { kind: 'throw', error: () => new TransientError('list pods: HTTP 500', 500) } });
    const summary = await sweep(deps(2));
    assert.deepEqual(summary.outcomes, {});
    assert.equal(summary.errors.length, 4);
    assert.deepEqual(summary.errors.map((e) => e.split(':')[0]).sort(), SERVICES.map((n) => `demo/${n}`).sort());
  });

  it('a failing completion check is collected too, after the reconcile counted', async () => {
    const { cluster, deps } = world();
    cluster.inject({ method: 'listEndpointSlices', when: (c) => c.method === 'listEndpointSlices' && c.service === 'gamma', action: { kind: 'throw', error: () => new TransientError('list slices: HTTP 500', 500) } });
    const summary = await sweep(deps(1));
    assert.deepEqual(summary.outcomes, { switched: 4 });
    assert.deepEqual(summary.errors, ['demo/gamma: list slices: HTTP 500']);
  });

  it('one list per configured namespace', async () => {
    const { cluster, deps } = world();
    cluster.putService(makeService({ name: 'elsewhere', namespace: 'shop' }));
    const summary = await sweep(deps(2, [NS, 'empty']));
    assert.equal(summary.services, 4);
    assert.deepEqual(cluster.calls.flatMap((c) => (c.method === 'listServices' ? [c.namespace] : [])), [NS, 'empty']);
  });

  it('a failing list of Services fails the sweep (the caller retries)', async () => {
    const { cluster, deps } = world();
    cluster.inject({ method: 'listServices', action: { kind: 'throw', error: () => new TransientError('list services: HTTP 503', 503) } });
    await assert.rejects(sweep(deps(2)), TransientError);
  });
});
