// Echoes of baton's own writes (own-writes.ts): the events its Service patches and
// guarded pod label writes cause. They carry nothing a decision has not already seen, so
// they cost no request; anything that differs from what baton wrote is looked at as before.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { createFailoverHandler } from '../../../../functions/failover/handler.js';
import { createOwnWrites } from '../../../../functions/failover/own-writes.js';
import { createServiceIndex } from '../../../../functions/failover/service-index.js';
import type { Observed, PodView } from '../../../../functions/failover/core/model.js';
import { FakeCluster, observed } from './fake-cluster.js';
import { CONTEXT, flush, KEYS, makePod, makeService, NS, podEvent, rig, serviceEvent, silentLogger, sliceEvent, T0, uidOf, type Rig } from './world.js';

/** web-0 active and now unready, web-1 a labelled standby; index primed; wired as in main.ts. */
function world(options: { roleLabels?: boolean } = {}): Rig {
  const cluster = new FakeCluster();
  cluster.putPod(makePod('web-0', { role: 'active', priority: '100', ready: false }));
  cluster.putPod(makePod('web-1', { role: 'standby' }));
  cluster.putService(makeService({ active: 'web-0' }));
  const r = rig(cluster, options);
  r.index.observe(cluster.service(NS, 'web'));
  return r;
}

const podNow = (r: Rig, name: string) => {
  const pod = r.cluster.pod(NS, name);
  assert.ok(pod, `pod ${name}`);
  return podEvent(pod, 'update', pod.resourceVersion);
};

describe('echoes of baton\'s own writes', () => {
  it('one failover with role labels: the Service, label and completion echoes cost no request', async () => {
    const r = world({ roleLabels: true });
    const handle = createFailoverHandler(r.deps);
    await handle(podEvent(r.cluster.pod(NS, 'web-0')!, 'update', r.cluster.pod(NS, 'web-0')!.resourceVersion), CONTEXT);
    await flush();
    const since = (from: number): string[] => r.cluster.calls.slice(from).map((c) => c.method);
    assert.deepEqual(since(0), ['listPods', 'patchService', 'recordEvent', 'patchPodLabels', 'patchPodLabels']);

    let from = r.cluster.calls.length;
    assert.deepEqual(await handle(serviceEvent(r.cluster.service(NS, 'web')), CONTEXT), { status: 'ignored', detail: 'echo of baton\'s own write' });
    for (const pod of ['web-0', 'web-1']) {
      assert.deepEqual(await handle(podNow(r, pod), CONTEXT), { status: 'ignored', detail: 'echo of baton\'s own label write' });
    }
    assert.deepEqual(since(from), []);

    // The slice first shows both pods ready: no version of the Service is complete.
    from = r.cluster.calls.length;
    const both = await handle(sliceEvent(NS, 'web', [{ pod: 'web-0', ready: true }, { pod: 'web-1', ready: true }]), CONTEXT);
    assert.deepEqual(both, { status: 'handled', detail: 'web: not-yet (2 ready pods in this slice)' });
    assert.deepEqual(since(from), []);

    // Only the new active ready: our own switch reply is the basis, no GET.
    r.cluster.putSlices(NS, 'web', [{ name: 'web-x7k2p', endpoints: [{ podName: 'web-1', podUid: uidOf('web-1'), ready: true }] }]);
    from = r.cluster.calls.length;
    assert.deepEqual(await handle(sliceEvent(NS, 'web', [{ pod: 'web-1', ready: true }]), CONTEXT), { status: 'handled', detail: 'web: completed' });
    await flush();
    assert.deepEqual(since(from), ['listEndpointSlices', 'patchService', 'recordEvent']);
    assert.equal(r.cluster.service(NS, 'web').annotations[KEYS.completedTerm], '2');

    // The completion record's echo and the same slice again: nothing new.
    from = r.cluster.calls.length;
    assert.deepEqual(await handle(serviceEvent(r.cluster.service(NS, 'web')), CONTEXT), { status: 'ignored', detail: 'echo of baton\'s own write' });
    assert.deepEqual(await handle(sliceEvent(NS, 'web', [{ pod: 'web-1', ready: true }]), CONTEXT), { status: 'handled', detail: 'web: already completed' });
    assert.deepEqual(since(from), []);
  });

  it('role labels off (the default): left-over role labels go once, then a failover writes no pod', async () => {
    const r = world({ roleLabels: false });
    const handle = createFailoverHandler(r.deps);
    await handle(podNow(r, 'web-0'), CONTEXT);
    await flush();
    assert.deepEqual(r.cluster.calls.map((c) => c.method), ['listPods', 'patchService', 'recordEvent', 'patchPodLabels', 'patchPodLabels']);
    for (const pod of ['web-0', 'web-1']) {
      assert.equal(r.cluster.pod(NS, pod)?.labels[KEYS.role], undefined);
      assert.equal(r.cluster.pod(NS, pod)?.labels[KEYS.podId], uidOf(pod), 'the pod-id label stays');
    }
    // And back: web-0 ready again, web-1 unready.
    r.cluster.putPod({ ...r.cluster.pod(NS, 'web-0')!, ready: true });
    r.cluster.putPod({ ...r.cluster.pod(NS, 'web-1')!, ready: false });
    const from = r.cluster.calls.length;
    await handle(podNow(r, 'web-1'), CONTEXT);
    await flush();
    assert.deepEqual(r.cluster.calls.slice(from).map((c) => c.method), ['listPods', 'patchService', 'recordEvent']);
  });

  it('a readiness change of a pod baton just labelled is a new version: it is looked at', async () => {
    const r = world({ roleLabels: true });
    const handle = createFailoverHandler(r.deps);
    await handle(podNow(r, 'web-0'), CONTEXT);
    await flush();
    // web-1 (the new active) goes unready after our label write.
    const labelled = r.cluster.pod(NS, 'web-1')!;
    r.cluster.putPod({ ...labelled, ready: false });
    const from = r.cluster.calls.length;
    const outcome = await handle(podNow(r, 'web-1'), CONTEXT);
    assert.equal(outcome.status, 'handled');
    assert.equal(r.cluster.calls[from]?.method, 'listPods');
  });

  it('a Service event at a version baton did not write is reconciled as before', async () => {
    const r = world({ roleLabels: true });
    const handle = createFailoverHandler(r.deps);
    await handle(podNow(r, 'web-0'), CONTEXT);
    await flush();
    // Someone edits the Service after our write: a new version.
    const edited = r.cluster.putService({ ...r.cluster.service(NS, 'web'), annotations: { ...r.cluster.service(NS, 'web').annotations, note: 'x' } });
    const from = r.cluster.calls.length;
    const outcome = await handle(serviceEvent(edited), CONTEXT);
    assert.equal(outcome.status, 'handled');
    assert.equal(r.cluster.calls[from]?.method, 'getService');
  });

  it('a completion check on an overtaken copy of our own falls back to a fresh read', async () => {
    const r = world({ roleLabels: true });
    const handle = createFailoverHandler(r.deps);
    await handle(podNow(r, 'web-0'), CONTEXT);
    await flush();
    // Another writer moved the Service on (a label, so the index copy is still ours).
    r.cluster.putService({ ...r.cluster.service(NS, 'web'), labels: { ...r.cluster.service(NS, 'web').labels, team: 'a' } });
    r.cluster.putSlices(NS, 'web', [{ name: 'web-x7k2p', endpoints: [{ podName: 'web-1', podUid: uidOf('web-1'), ready: true }] }]);
    const from = r.cluster.calls.length;
    assert.deepEqual(await handle(sliceEvent(NS, 'web', [{ pod: 'web-1', ready: true }]), CONTEXT), { status: 'handled', detail: 'web: completed' });
    assert.deepEqual(
      r.cluster.calls.slice(from).map((c) => c.method).filter((m) => m !== 'recordEvent'),
      ['listEndpointSlices', 'patchService', 'getService', 'listEndpointSlices', 'patchService'],
    );
    assert.equal(r.cluster.conflicts.length, 1);
  });

  it('one ready pod that our copy does not name is checked on a fresh read', async () => {
    const r = world({ roleLabels: true });
    const handle = createFailoverHandler(r.deps);
    await handle(podNow(r, 'web-0'), CONTEXT);
    await flush();
    r.cluster.putSlices(NS, 'web', [{ name: 'web-x7k2p', endpoints: [{ podName: 'web-0', podUid: uidOf('web-0'), ready: true }] }]);
    const from = r.cluster.calls.length;
    assert.deepEqual(await handle(sliceEvent(NS, 'web', [{ pod: 'web-0', ready: true }]), CONTEXT), { status: 'handled', detail: 'web: not-yet' });
    assert.deepEqual(r.cluster.calls.slice(from).map((c) => c.method), ['listEndpointSlices', 'getService', 'listEndpointSlices']);
  });
});

describe('an echo that overtakes the reply of the write it echoes', () => {
  it('waits for the reply, then costs no request', async () => {
    const r = world({ roleLabels: true });
    const handle = createFailoverHandler(r.deps);
    // The server has applied the writes, but their replies are late.
    r.cluster.hold = (c) => c.method === 'patchPodLabels' || c.method === 'patchService';
    const deciding = handle(podNow(r, 'web-0'), CONTEXT);
    await flush();
    r.cluster.release(); // the switch's reply
    await deciding;
    await flush();
    assert.ok(r.cluster.heldCount > 0, 'the label writes are still waiting for their replies');
    const from = r.cluster.calls.length;
    const echo = handle(podNow(r, 'web-1'), CONTEXT);
    await flush();
    r.cluster.release();
    assert.deepEqual(await echo, { status: 'ignored', detail: 'echo of baton\'s own label write' });
    assert.deepEqual(r.cluster.calls.slice(from), []);
  });
});

/** The memory alone, over an index of one Service. */
function memory(options: { limit?: number; maxWaitMs?: number } = {}) {
  const index = createServiceIndex({ cluster: new FakeCluster(), keys: KEYS, namespaces: [], logger: silentLogger(), now: () => T0 });
  return { index, own: createOwnWrites(index, options) };
}

describe('own writes: Services', () => {
  const at = (resourceVersion: string) => ({ ...makeService({ name: 'a', active: 'web-0' }), resourceVersion });
  it('the reply to its own write is an echo until a newer version is seen; older versions after a decision too', () => {
    const { index, own } = memory();
    index.observe(at('5'));
    assert.equal(own.isServiceEcho(NS, 'a', '5'), false, 'read, not written');
    assert.equal(own.ownCopy(NS, 'a'), undefined);
    own.serviceWritten(at('6'), true);
    assert.equal(index.get(NS, 'a')?.resourceVersion, '6', 'the reply is what the index holds now');
    assert.equal(own.isServiceEcho(NS, 'a', '6'), true);
    assert.equal(own.ownCopy(NS, 'a')?.resourceVersion, '6');
    index.observe(at('6'));
    assert.equal(own.isServiceEcho(NS, 'a', '6'), true, 'its own event does not make it someone else\'s');
    assert.equal(own.isServiceEcho(NS, 'a', '5'), true, 'an older version is subsumed: the write was guarded by what it read');
    index.observe(at('7'));
    assert.equal(own.isServiceEcho(NS, 'a', '6'), true, 'a later change by someone else does not make our own decision news');
    assert.equal(own.isServiceEcho(NS, 'a', '7'), false);
    assert.equal(own.ownCopy(NS, 'a'), undefined, 'the index holds a newer version');
  });
  it('an older reply replaces neither the index\'s newer version nor a newer reply', () => {
    const { index, own } = memory();
    index.observe(at('9'));
    own.serviceWritten(at('8'), true);
    assert.equal(index.get(NS, 'a')?.resourceVersion, '9');
    assert.equal(own.ownCopy(NS, 'a'), undefined);
    own.serviceWritten(at('10'), true);
    own.serviceWritten(at('8'), true);
    assert.equal(own.ownCopy(NS, 'a')?.resourceVersion, '10');
  });
  it('a refresh that lists the same version keeps it as our own', async () => {
    const cluster = new FakeCluster();
    const stored = cluster.putService(makeService({ name: 'a', active: 'web-0' }));
    const index = createServiceIndex({ cluster, keys: KEYS, namespaces: [], logger: silentLogger(), now: () => T0 });
    const own = createOwnWrites(index);
    own.serviceWritten(stored, true);
    await index.refresh();
    assert.equal(own.isServiceEcho(stored.namespace, stored.name, stored.resourceVersion), true);
  });
  it('a record-only write covers its own version alone; a decision covers what it read', () => {
    const { index, own } = memory();
    own.serviceWritten(at('6'), true);
    own.serviceWritten(at('9'), false);
    assert.equal(own.isServiceEcho(NS, 'a', '9'), true, 'the record\'s own echo');
    assert.equal(own.isServiceEcho(NS, 'a', '8'), false, 'a change the record read but did not decide on');
    assert.equal(own.isServiceEcho(NS, 'a', '6'), true, 'the decision\'s echo');
    assert.equal(own.isServiceEcho(NS, 'a', '5'), true, 'what the decision had read');
    index.forget(NS, 'a');
    assert.equal(own.isServiceEcho(NS, 'a', '5'), false, 'a Service the index does not hold is judged on its own');
  });
  it('versions that are not plain integers are never "at or before"', () => {
    const { own } = memory();
    own.serviceWritten(at('6'), true);
    for (const rv of ['', 'x', '5a', '-1', '05.0']) assert.equal(own.isServiceEcho(NS, 'a', rv), false, JSON.stringify(rv));
    assert.equal(own.isServiceEcho(NS, 'a', undefined), false);
  });
});

describe('own writes: pods', () => {
  const web = { namespace: NS, name: 'web' };
  const api = { namespace: NS, name: 'api' };
  const at = (name: string, resourceVersion: string, ready = true): Observed<PodView> => observed({ ...makePod(name, { ready }), resourceVersion });
  it('matches only the version and content the write returned, for the Service that wrote it', () => {
    const { own } = memory();
    own.podLabelled(web, at('web-0', '7'));
    assert.equal(own.isPodEcho(at('web-0', '7'), [web]), true);
    assert.equal(own.isPodEcho(at('web-0', '8'), [web]), false, 'a later version');
    assert.equal(own.isPodEcho({ ...at('web-0', '7'), resourceVersion: undefined }, [web]), false);
    assert.equal(own.isPodEcho(at('web-1', '7'), [web]), false, 'another pod');
    assert.equal(own.isPodEcho(at('web-0', '7'), [web, api]), false, 'another Service selects it too');
    assert.equal(own.isPodEcho({ ...at('web-0', '7'), namespace: 'other' }, [web]), false, 'another namespace');
    assert.equal(own.isPodEcho(at('web-0', '7', false), [web]), false, 'the same version claiming other content (forged)');
  });
  it('forgets the oldest beyond its limit', () => {
    const { own } = memory({ limit: 2 });
    own.podLabelled(web, at('a', '1'));
    own.podLabelled(web, at('b', '2'));
    own.podLabelled(web, at('c', '3'));
    assert.equal(own.size, 2);
    assert.equal(own.isPodEcho(at('a', '1'), [web]), false);
    assert.equal(own.isPodEcho(at('c', '3'), [web]), true);
  });
});

describe('own writes: replies not in yet', () => {
  it('waits for the replies of the object\'s writes, and no longer than its bound', async () => {
    const { own } = memory({ maxWaitMs: 30 });
    assert.equal(own.settled(NS, 'Pod', 'web-0'), undefined, 'nothing in flight');
    let reply!: () => void;
    let replied = false;
    own.writing(NS, 'Pod', 'web-0', new Promise<void>((r) => (reply = r)).then(() => void (replied = true)));
    assert.equal(own.settled(NS, 'Service', 'web-0'), undefined, 'another kind');
    const waiting = own.settled(NS, 'Pod', 'web-0');
    assert.ok(waiting, 'a write is out');
    reply();
    await waiting;
    assert.equal(replied, true, 'settled by the reply');
    await new Promise((r) => setImmediate(r));
    assert.equal(own.settled(NS, 'Pod', 'web-0'), undefined, 'forgotten once replied');
    own.writing(NS, 'Pod', 'web-1', new Promise(() => {}));
    const hung = own.settled(NS, 'Pod', 'web-1');
    assert.ok(hung, 'a hung write is out');
    await hung; // resolves through the bound, or this test would time out
  });
});

describe('the unit rig is wired as production is', () => {
  it('with no options, the echoes of its own switch cost no request, as in main.ts', async () => {
    const cluster = new FakeCluster();
    cluster.putPod(makePod('web-0', { idLabel: true, priority: '100', ready: false }));
    cluster.putPod(makePod('web-1', { idLabel: true }));
    cluster.putService(makeService({ active: 'web-0' }));
    const r = rig(cluster);
    r.index.observe(cluster.service(NS, 'web'));
    const handle = createFailoverHandler(r.deps);
    await handle(podNow(r, 'web-0'), CONTEXT);
    await flush();
    assert.equal(r.cluster.writes.length, 1, 'one switch');
    const from = r.cluster.calls.length;
    assert.deepEqual(await handle(serviceEvent(r.cluster.service(NS, 'web')), CONTEXT), { status: 'ignored', detail: 'echo of baton\'s own write' });
    assert.deepEqual(r.cluster.calls.slice(from).map((c) => c.method), []);
  });
});
