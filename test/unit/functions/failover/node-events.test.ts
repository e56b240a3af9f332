// Node events: a cordon moves the active off its Node; a Node event is only a hint, and
// what it claims is never taken for a fact (docs/security.md).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createFailoverHandler, failoverScreen } from '../../../../functions/failover/handler.js';
import { createCordons } from '../../../../functions/failover/cordons.js';
import { sweep } from '../../../../functions/failover/resync/sweep.js';
import { ForbiddenError } from '../../../../shared/k8s/errors.js';
import type { ResourceEvent } from '../../../../shared/events/incoming.js';
import { objectSchemas } from '../../../../shared/events/objects.js';
import type { PodView } from '../../../../functions/failover/core/model.js';
import { FakeCluster, observed } from './fake-cluster.js';
import { CONTEXT, flush, KEYS, makePod, makeService, NS, rig, uidOf, type Rig } from './world.js';

const on = (pod: PodView, node: string): PodView => ({ ...pod, nodeName: node });

function nodeEvent(name: string, unschedulable: boolean, resourceVersion = '900'): ResourceEvent {
  const object = objectSchemas.Node.parse({ apiVersion: 'v1', kind: 'Node', metadata: { name, uid: `node-uid-${name}`, resourceVersion }, spec: unschedulable ? { unschedulable: true } : {} });
  return { id: `ev-${name}-${resourceVersion}`, type: 'dev.knative.apiserver.resource.update', source: 'https://10.96.0.1:443', action: 'update', kind: 'Node', object };
}

/** web-0 active on node-a, web-1 standby on node-b; web indexed. */
function world(cordonA: boolean): FakeCluster {
  const cluster = new FakeCluster();
  cluster.putNode('node-a', cordonA);
  cluster.putNode('node-b', false);
  cluster.putPod(on(makePod('web-0', { idLabel: true }), 'node-a'));
  cluster.putPod(on(makePod('web-1', { idLabel: true }), 'node-b'));
  cluster.putService(makeService({ active: 'web-0' }));
  return cluster;
}

function instance(cluster: FakeCluster): Rig {
  const r = rig(cluster);
  r.index.observe(cluster.service(NS, 'web'));
  return r;
}

const reasons = (cluster: FakeCluster): string[] => cluster.writes.map((w) => w.after.annotations[KEYS.reason] ?? '');

describe('node events', () => {
  it('a cordon of the active\'s Node switches to the standby on a schedulable Node, reason cordon', async () => {
    const cluster = world(true);
    const r = instance(cluster);
    const reply = await createFailoverHandler(r.deps)(nodeEvent('node-a', true), CONTEXT);
    await flush();
    assert.equal(reply.status, 'handled', reply.detail);
    assert.equal(cluster.service(NS, 'web').selector[KEYS.podId], uidOf('web-1'));
    assert.deepEqual(reasons(cluster), ['cordon']);
    // The facts came from the API: the Node read, the pods on it listed.
    assert.deepEqual(cluster.methods().slice(0, 2), ['getNode', 'listPodsOnNode']);
    assert.ok(r.deps.cordons.has('node-a'));
  });

  it('a forged cordon (the Node is schedulable) costs one read and writes nothing, nor is it kept', async () => {
    const cluster = world(false);
    const r = instance(cluster);
    const reply = await createFailoverHandler(r.deps)(nodeEvent('node-a', true), CONTEXT);
    await flush();
    assert.equal(reply.status, 'ignored');
    assert.deepEqual(cluster.methods(), ['getNode']);
    assert.deepEqual(cluster.writes, []);
    assert.equal(r.deps.cordons.has('node-a'), false);
    // A later look at the Service does not move it either: nothing of the event remains.
    assert.equal(r.deps.cordoned?.().size, 0);
  });

  it('a forged cordon of a Node that does not exist costs one read', async () => {
    const cluster = world(false);
    const r = instance(cluster);
    const reply = await createFailoverHandler(r.deps)(nodeEvent('no-such-node', true), CONTEXT);
    assert.deepEqual([reply.status, cluster.methods()], ['ignored', ['getNode']]);
  });

  it('an event that does not say cordoned costs nothing', async () => {
    const cluster = world(true);
    const r = instance(cluster);
    const reply = await createFailoverHandler(r.deps)(nodeEvent('node-a', false), CONTEXT);
    assert.deepEqual([reply.status, cluster.methods()], ['ignored', []]);
  });

  it('a flood of one Node\'s events (forged or not) costs at most two looks', async () => {
    for (const cordoned of [false, true]) {
      const cluster = world(cordoned);
      const r = instance(cluster);
      const handle = createFailoverHandler(r.deps);
      await Promise.all(Array.from({ length: 40 }, async () => handle(nodeEvent('node-a', true), CONTEXT)));
      await flush();
      assert.ok(cluster.count('getNode') <= 2, `${cluster.count('getNode')} gets`);
      assert.ok(cluster.count('listPodsOnNode') <= 2, `${cluster.count('listPodsOnNode')} lists`);
      assert.ok(cluster.writes.length <= 1, `${cluster.writes.length} Service writes`);
    }
  });

  it('two instances racing on one cordon: one switch, the loser reads again and stays', async () => {
    const cluster = world(true);
    const [one, two] = [instance(cluster), instance(cluster)];
    await Promise.all([createFailoverHandler(one.deps)(nodeEvent('node-a', true), CONTEXT), createFailoverHandler(two.deps)(nodeEvent('node-a', true), CONTEXT)]);
    await flush();
    assert.deepEqual(reasons(cluster), ['cordon']);
    assert.equal(cluster.service(NS, 'web').annotations[KEYS.term], '2');
    assert.equal(cluster.service(NS, 'web').selector[KEYS.podId], uidOf('web-1'));
  });

  it('a tenant\'s pod on the cordoned Node that copies another Service\'s pod-id label brings no look at that Service', async () => {
    // The victim's active runs on node-b; the tenant's pod on node-a claims its id by label.
    const cluster = new FakeCluster();
    cluster.putNode('node-a', true);
    cluster.putPod(on(makePod('web-0', { idLabel: true }), 'node-b'));
    cluster.putPod(on(makePod('web-1', { idLabel: true }), 'node-b'));
    cluster.putPod(on(makePod('copy', { namespace: NS, labels: { tenant: 'x', [KEYS.podId]: uidOf('web-0') } }), 'node-a'));
    cluster.putService(makeService({ active: 'web-0' }));
    const r = instance(cluster);
    const reply = await createFailoverHandler(r.deps)(nodeEvent('node-a', true), CONTEXT);
    assert.match(reply.detail ?? '', /no opted-in service routes to a pod on it/);
    assert.equal(cluster.count('listPods'), 0);
  });

  it('with no opted-in Service known, a Node event is screened before it is parsed', () => {
    const cluster = world(true);
    const empty = rig(cluster);
    const body = (text: string): Uint8Array => new TextEncoder().encode(text);
    assert.equal(failoverScreen(empty.deps)({ kind: 'Node', namespace: '', body: body('{"spec":{"unschedulable":true}}') }), 'no opted-in service is known');
    const r = instance(cluster);
    assert.equal(failoverScreen(r.deps)({ kind: 'Node', namespace: '', body: body('{"spec":{"taints":[{"key":"node.kubernetes.io/unschedulable"}]}}') }), 'the node is not said to be cordoned');
    assert.equal(failoverScreen(r.deps)({ kind: 'Node', namespace: '', body: body('{"spec":{"unschedulable":true}}') }), undefined);
  });

  it('the resync sweep moves an active off a cordoned Node with one list of Nodes per sweep', async () => {
    const cluster = world(true);
    cluster.putService(makeService({ name: 'api', active: 'web-0' }));
    const r = rig(cluster);
    const summary = await sweep({ ...r.deps, namespaces: [], concurrency: 2 });
    await flush();
    assert.deepEqual(summary.outcomes, { switched: 2 });
    assert.deepEqual(reasons(cluster), ['cordon', 'cordon']);
    assert.equal(cluster.count('listCordonedNodes'), 1);
  });
});

describe('cordons', () => {
  const node = (name: string, resourceVersion: string, unschedulable: boolean) => observed({ name, resourceVersion, unschedulable });

  it('an older copy of a Node does not undo a newer one', () => {
    const c = createCordons();
    c.observe(node('n', '10', true));
    c.observe(node('n', '9', false));
    assert.equal(c.has('n'), true);
    c.observe(node('n', '11', false));
    assert.equal(c.has('n'), false);
    c.observe(node('n', '10', true));
    assert.equal(c.has('n'), false);
  });

  it('follows the watch: a Node that stops matching spec.unschedulable=true is uncordoned; a re-list is the whole truth', async () => {
    const c = createCordons();
    const stop = new AbortController();
    const events: Array<(event: { type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: ReturnType<typeof node>; resourceVersion: string }) => void> = [];
    let lists = 0;
    const listed = c.follow(
      {
        list: async () => {
          lists += 1;
          return { items: lists === 1 ? [node('a', '5', true), node('b', '6', true)] : [node('b', '20', true)], resourceVersion: lists === 1 ? '6' : '20' };
        },
        watch: (_rv, onEvent, signal) =>
          new Promise<void>((resolve) => {
            events.push(onEvent);
            signal.addEventListener('abort', () => resolve(), { once: true });
          }),
      },
      stop.signal,
      () => undefined,
    );
    await listed;
    assert.deepEqual([...c.names()].sort(), ['a', 'b']);
    await new Promise((r) => setTimeout(r, 10));
    events[0]?.({ type: 'DELETED', object: node('a', '7', false), resourceVersion: '7' });
    assert.deepEqual([...c.names()], ['b']);
    stop.abort();
  });
});

describe('the sweep without Node access', () => {
  it('goes on without cordons when Nodes cannot be listed, and says why', async () => {
    const cluster = world(true);
    cluster.inject({ method: 'listCordonedNodes', action: { kind: 'throw', error: () => new ForbiddenError('nodes is forbidden', 403) } });
    const r = rig(cluster);
    const summary = await sweep({ ...r.deps, namespaces: [], concurrency: 1 });
    assert.deepEqual(summary.outcomes, { steady: 1 });
    assert.equal(summary.errors.length, 1);
    assert.match(summary.errors[0] ?? '', /^cordoned nodes: nodes is forbidden/);
  });
});

describe('an active that stays on a cordoned Node', () => {
  it('is reported once as a Warning Event, however many looks find it there', async () => {
    const cluster = new FakeCluster();
    cluster.putNode('node-a', true);
    cluster.putPod(on(makePod('web-0', { idLabel: true }), 'node-a'));
    cluster.putPod(on(makePod('web-1', { idLabel: true, ready: false }), 'node-b'));
    cluster.putService(makeService({ active: 'web-0' }));
    const r = instance(cluster);
    const handle = createFailoverHandler(r.deps);
    for (let i = 0; i < 3; i++) await handle(nodeEvent('node-a', true, String(900 + i)), CONTEXT);
    await flush();
    const warnings = cluster.calls.filter((c) => c.method === 'recordEvent' && c.note.reason === 'ActiveOnCordonedNode');
    assert.equal(warnings.length, 1);
    assert.deepEqual(cluster.writes, []);
  });
});
