// Direct mode's shell on the fake API server: the order of its writes, and what a stale
// copy of the Service may not do.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Observed, PodView, ServiceView } from '../../../../functions/failover/core/model.js';
import { desiredSlice } from '../../../../functions/failover/core/slice.js';
import { reconcile } from '../../../../functions/failover/reconcile.js';
import { createReporter } from '../../../../functions/failover/report.js';
import { readRecord } from '../../../../shared/record.js';
import { FakeCluster } from './fake-cluster.js';
import { KEYS, makePod, makeService, NS, RecordingEmitter, reconcileDeps, silentLogger, T0 } from './world.js';

const withIp = (pod: PodView, ip: string): PodView => ({ ...pod, ips: [ip] });
const PORTS = [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP', appProtocol: undefined }];

/** A Service in direct mode that baton adopted (record on web-0), and its slice, in the fake world. */
function adoptedDirect(world: FakeCluster): Observed<ServiceView> {
  const selectorMode = makeService({ active: 'web-0' });
  const annotations = Object.fromEntries(Object.entries(selectorMode.annotations).filter(([k]) => k !== KEYS.originalSelector));
  const direct = world.putService({ ...selectorMode, selector: {}, ports: PORTS, annotations: { ...annotations, [KEYS.pods]: 'app=web', [KEYS.endpointSlice]: 'web-baton' } });
  const pods = world.allPods();
  void world.createSlice(desiredSlice(direct, readRecord(direct, KEYS), pods, KEYS));
  return direct;
}

function deps(world: FakeCluster): ReturnType<typeof reconcileDeps> {
  return reconcileDeps(world, createReporter({ cluster: world, emitter: new RecordingEmitter(), logger: silentLogger(), keys: KEYS, now: () => T0 }));
}

describe('direct mode shell', () => {
  it('a failover writes the record first, then the slice, each once', async () => {
    const world = new FakeCluster();
    world.putPod(withIp(makePod('web-0', { ready: false }), '10.0.0.1'));
    world.putPod(withIp(makePod('web-1'), '10.0.0.2'));
    adoptedDirect(world);
    const before = world.calls.length;
    const result = await reconcile(deps(world), { namespace: NS, name: 'web' });
    assert.equal(result.outcome, 'switched', result.detail);
    const writes = world.calls.slice(before).map((c) => c.method).filter((m) => m === 'patchService' || m === 'replaceSlice' || m === 'createSlice');
    assert.deepEqual(writes.slice(0, 2), ['patchService', 'replaceSlice']);
    const [slice] = world.slicesOf(NS, 'web');
    assert.deepEqual(slice?.endpoints.map((e) => [e.targetRef?.name, e.addresses[0], e.conditions.ready]), [['web-1', '10.0.0.2', true]]);
    assert.equal(slice?.annotations[KEYS.term], '2');
  });

  it('opting out deletes baton\'s slice before the record goes', async () => {
    const world = new FakeCluster();
    world.putPod(withIp(makePod('web-0'), '10.0.0.1'));
    const direct = adoptedDirect(world);
    world.bumpService(NS, 'web', () => ({ labels: { app: 'web' } }));
    const before = world.calls.length;
    const result = await reconcile(deps(world), { namespace: NS, name: 'web' });
    assert.equal(result.outcome, 'released', result.detail);
    const writes = world.calls.slice(before).map((c) => c.method).filter((m) => m === 'patchService' || m === 'deleteSlice');
    assert.deepEqual(writes, ['deleteSlice', 'patchService']);
    assert.deepEqual(world.slicesOf(NS, 'web'), []);
    const after = world.service(NS, 'web');
    assert.deepEqual(after.selector, {});
    assert.equal(after.annotations[KEYS.endpointSlice], undefined);
    assert.equal(direct.uid, after.uid);
  });

  it('a stale copy from a moment in selector mode does not delete the slice of a Service back in direct mode', async () => {
    const world = new FakeCluster();
    // web-0 carries its pod-id, so the copy's plan is a switch without prerequisites.
    world.putPod(withIp(makePod('web-0', { idLabel: true }), '10.0.0.1'));
    const current = adoptedDirect(world);
    // The copy: the user had set a selector and removed the pods annotation, then undid it.
    const staleAnnotations = Object.fromEntries(Object.entries(current.annotations).filter(([k]) => k !== KEYS.pods));
    const stale = { ...current, resourceVersion: '1', selector: { app: 'web' }, annotations: staleAnnotations } as Observed<ServiceView>;
    const result = await reconcile(deps(world), { namespace: NS, name: 'web' }, { service: stale, fresh: false });
    assert.equal(world.count('deleteSlice'), 0, `the slice was deleted on a stale copy (${result.outcome}: ${result.detail})`);
    assert.equal(world.slicesOf(NS, 'web').length, 1);
  });
});
