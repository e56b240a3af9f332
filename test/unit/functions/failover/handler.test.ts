
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createFailoverHandler } from '../../../../functions/failover/handler.js';
import { type InboundEvent } from '../../../../shared/events/incoming.js';
import type { PodView, ServiceView } from '../../../../functions/failover/core/model.js';
import { CONTEXT, flush, KEYS, makePod, makeService, NS, podEvent, serviceEvent, sliceEvent, uidOf } from './world.js';
import { methods, steadyWorld } from './handler-fixtures.js';

describe('failover handler: events nobody cares about cost no API request', () => {
  const cases: ReadonlyArray<{ name: string; event: () => InboundEvent; namespaces?: readonly string[]; detail: string }> = [
    {
      name: 'a pod no opted-in Service selects, without a pod-id label',
      event: () => podEvent(makePod('db-0', { labels: { app: 'db' }, ready: false })),
      detail: 'no opted-in service selects this pod',
    },
    {
      name: 'a pod in a namespace without opted-in Services',
      event: () => podEvent(makePod('web-0', { namespace: 'shop', ready: false })),
      detail: 'no opted-in service selects this pod',
    },
    {
      name: 'an EndpointSlice of a Service that is not opted in',
      event: () => sliceEvent(NS, 'api', [{ pod: 'api-0', ready: true }]),
      detail: 'slice of a service that is not opted in',
    },
    {
      name: 'an EndpointSlice deletion of an opted-in Service in selector mode',
      event: () => sliceEvent(NS, 'web', [], 'delete'),
      detail: 'slice deleted',
    },
    {
      name: 'a Service that is not opted in and carries no baton state',
      event: () => serviceEvent(makeService({ name: 'api', optedIn: false })),
      detail: 'service not opted in',
    },
    {
      name: 'a Service the index does not hold, whose event shows nothing of baton\'s, deleted',
      event: () => serviceEvent(makeService({ name: 'api', optedIn: false }), 'delete'),
      detail: 'service not opted in',
    },
    {
      name: 'a baton-labelled pod in an out-of-scope namespace',
      event: () => podEvent(makePod('web-0', { namespace: 'elsewhere', role: 'active', ready: false })),
      namespaces: [NS],
      detail: 'namespace elsewhere is out of scope',
    },
    {
      name: 'an opted-in Service in an out-of-scope namespace',
      event: () => serviceEvent(makeService({ namespace: 'elsewhere', active: 'web-0' })),
      namespaces: [NS, 'shop'],
      detail: 'namespace elsewhere is out of scope',
    },
    {
      name: 'an event of another kind (Other)',
      event: () => ({ id: 'x', type: 'dev.knative.apiserver.ref.add', source: 'src', kind: 'Other', reason: 'Reference-mode ApiServerSource event; baton needs mode: Resource' }),
      detail: 'Reference-mode ApiServerSource event; baton needs mode: Resource',
    },
  ];

  for (const c of cases) {
    it(`${c.name}: ignored, zero calls`, async () => {
      const r = steadyWorld(c.namespaces ? { namespaces: c.namespaces } : {});
      const handle = createFailoverHandler(r.deps);
      const before = r.cluster.requestCount;
      const outcome = await handle(c.event(), CONTEXT);
      await flush();
      assert.deepEqual(outcome, { status: 'ignored', detail: c.detail });
      assert.deepEqual(r.cluster.calls, []);
      assert.equal(r.cluster.requestCount, before);
      assert.equal(before, 0);
    });
  }

  it('a Service deletion drops the Service from the index once a read confirms it', async () => {
    const r = steadyWorld();
    const copy = r.cluster.service(NS, 'web');
    r.cluster.deleteService(NS, 'web');
    await createFailoverHandler(r.deps)(serviceEvent(copy, 'delete'), CONTEXT);
    assert.equal(r.index.get(NS, 'web'), undefined);
    assert.deepEqual(methods(r.cluster.calls), ['getService']);
  });

  for (const [name, forge] of [
    ['deleted', (s: ServiceView) => serviceEvent(s, 'delete')],
    ['stripped of the mode label', (s: ServiceView) => serviceEvent({ ...s, labels: { app: 'web' } })],
    ['with a huge resourceVersion', (s: ServiceView) => serviceEvent({ ...s, resourceVersion: '99999999999' })],
  ] as const) {
    it(`an event claiming the indexed Service was ${name} changes nothing without a read that agrees`, async () => {
      const r = steadyWorld();
      const before = r.cluster.service(NS, 'web');
      await createFailoverHandler(r.deps)(forge(before), CONTEXT);
      await flush();
      assert.deepEqual(r.index.get(NS, 'web'), before, 'the index keeps what the API said');
      assert.deepEqual(r.cluster.writes, []);
      assert.equal(r.cluster.calls[0]?.method, 'getService');
    });
  }

  // ---- properties ----
  const labelKey = fc
    .oneof(
      fc.constantFrom('app', 'tier', KEYS.role, KEYS.mode, KEYS.priority, 'statefulset.kubernetes.io/pod-name'),
      fc.stringMatching(/^[a-z]([a-z0-9.-]{0,10}[a-z0-9])?(\/[a-z0-9]{1,8})?$/),
    )
    .filter((k) => k !== KEYS.podId);
  const labelValue = fc.oneof(fc.constantFrom('web', 'db', 'active', 'standby', 'active-standby'), fc.stringMatching(/^[a-z0-9]{0,8}$/));
  const labels = fc.dictionary(labelKey, labelValue, { maxKeys: 5 });
  const arbitraryPod = (namespace: fc.Arbitrary<string>, extra: fc.Arbitrary<Record<string, string>>) =>
    fc.record({ name: fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/), namespace, labels, extra, ready: fc.boolean(), deleting: fc.boolean(), action: fc.constantFrom('add' as const, 'update' as const, 'delete' as const) }).map((p) => ({
      pod: { ...makePod(p.name, { namespace: p.namespace, ready: p.ready, deleting: p.deleting }), labels: { ...p.labels, ...p.extra } } satisfies PodView,
      action: p.action,
    }));
  const emptyNamespaces = fc.constantFrom('shop', 'kube-system', 'ns-a');

  it('property: pods with any labels in namespaces without opted-in Services cost 0 requests', async () => {
    await fc.assert(
      fc.asyncProperty(arbitraryPod(emptyNamespaces, fc.constant({})), async ({ pod, action }) => {
        const r = steadyWorld();
        const outcome = await createFailoverHandler(r.deps)(podEvent(pod, action), CONTEXT);
        assert.deepEqual(outcome, { status: 'ignored', detail: 'no opted-in service selects this pod' });
        assert.deepEqual(r.cluster.calls, []);
      }),
      { numRuns: 300 },
    );
  });

  it('property: pods in the opted-in namespace that the Service does not select cost 0 requests', async () => {
    await fc.assert(
      fc.asyncProperty(
        arbitraryPod(fc.constant(NS), fc.constant({})).filter(({ pod }) => pod.labels['app'] !== 'web'),
        async ({ pod, action }) => {
          const r = steadyWorld();
          const outcome = await createFailoverHandler(r.deps)(podEvent(pod, action), CONTEXT);
          assert.equal(outcome.status, 'ignored');
          assert.deepEqual(r.cluster.calls, []);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('property: a baton-labelled pod no opted-in Service selects costs two lists and at most a guarded label removal', async () => {
    await fc.assert(
      fc.asyncProperty(arbitraryPod(emptyNamespaces, fc.string({ minLength: 1, maxLength: 36 }).map((id) => ({ [KEYS.podId]: id }))), async ({ pod, action }) => {
        const r = steadyWorld();
        const outcome = await createFailoverHandler(r.deps)(podEvent(pod, action), CONTEXT);
        assert.equal(outcome.status, 'handled');
        const [optedIn, ...rest] = r.cluster.calls;
        assert.deepEqual(optedIn, { method: 'listServices', labelSelector: `${KEYS.mode}=active-standby`, namespace: pod.namespace });
        // Then the pod itself is read; only what that read shows can lead to a write, and
        // only ever the guarded removal of baton's own labels from that very pod.
        assert.deepEqual(rest[0], { method: 'findPod', namespace: pod.namespace, name: pod.name });
        for (const call of rest.slice(1)) {
          if (call.method === 'listServices') assert.deepEqual(call, { method: 'listServices', labelSelector: '', namespace: pod.namespace });
          else assert.deepEqual(call, { method: 'patchPodLabels', namespace: pod.namespace, pod: pod.name, labels: { [KEYS.podId]: null, [KEYS.role]: null } });
        }
        assert.ok(rest.length <= 3);
      }),
      { numRuns: 200 },
    );
  });
});

describe('failover handler: Service events', () => {
  it('a Service event is not a read: one GET, then one list', async () => {
    const r = steadyWorld();
    const outcome = await createFailoverHandler(r.deps)(serviceEvent(r.cluster.service(NS, 'web')), CONTEXT);
    await flush();
    assert.deepEqual(outcome, { status: 'handled', detail: 'web: steady (web-0 is active and healthy)' });
    assert.deepEqual(r.cluster.methods(), ['getService', 'listPods']);
  });

  it('a reordered older Service event leads to a read: no role label from the old state', async () => {
    const r = steadyWorld();
    const handle = createFailoverHandler(r.deps);
    const old = r.cluster.service(NS, 'web');
    // A switchover to web-1 happened; its event arrives first, the older one after it.
    const current = r.cluster.bumpService(NS, 'web', (s) => ({
      selector: { app: 'web', [KEYS.podId]: uidOf('web-1') },
      annotations: { ...s.annotations, [KEYS.activePod]: 'web-1', [KEYS.activeUid]: uidOf('web-1'), [KEYS.term]: '2', [KEYS.completedTerm]: '2' },
    }));
    r.cluster.putPod(makePod('web-0', { role: 'standby', priority: '100' }));
    r.cluster.putPod(makePod('web-1', { role: 'active' }));
    await handle(serviceEvent(current), CONTEXT);
    const from = r.cluster.calls.length;
    const outcome = await handle(serviceEvent(old), CONTEXT);
    await flush();
    assert.deepEqual(outcome, { status: 'handled', detail: 'web: steady (web-1 is active and healthy)' });
    assert.deepEqual(r.cluster.calls.slice(from).map((c) => c.method), ['getService', 'listPods']);
    assert.equal(r.cluster.count('patchPodLabels'), 0);
    assert.equal(r.cluster.pod(NS, 'web-1')?.labels[KEYS.role], 'active');
    assert.equal(r.cluster.pod(NS, 'web-0')?.labels[KEYS.role], 'standby');
    assert.equal(r.index.get(NS, 'web')?.resourceVersion, current.resourceVersion, 'the index keeps the newer copy');
  });

  it('a Service that opted out but carries baton state is released, with one guarded write', async () => {
    const r = steadyWorld();
    const optedOut = r.cluster.bumpService(NS, 'web', () => ({ labels: { app: 'web' } }));
    const outcome = await createFailoverHandler(r.deps)(serviceEvent(optedOut), CONTEXT);
    await flush();
    assert.deepEqual(outcome, { status: 'handled', detail: 'web: released (original selector restored)' });
    const after = r.cluster.service(NS, 'web');
    assert.deepEqual(after.selector, { app: 'web' });
    assert.deepEqual(Object.keys(after.annotations).filter((k) => k.startsWith('baton.dev/')), []);
    assert.equal(r.cluster.writes[0]?.precondition, optedOut.resourceVersion);
    assert.equal(r.index.get(NS, 'web'), undefined);
    assert.deepEqual(r.cluster.pod(NS, 'web-0')?.labels, { app: 'web' });
  });
});
