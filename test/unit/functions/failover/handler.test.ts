import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import fc from 'fast-check';

import { createFailoverHandler } from '../../../../functions/failover/handler.js';
import { PROMOTED } from '../../../../shared/audit/schemas.js';
import { parseIncoming, type InboundEvent } from '../../../../shared/events/incoming.js';
import type { PodView, ServiceView } from '../../../../functions/failover/core/model.js';
import { REASONS } from '../../../../functions/failover/report.js';
import { listen } from '../../../../shared/http/listen.js';
import { createServer } from '../../../../shared/http/server.js';
import { ForbiddenError, TransientError } from '../../../../shared/k8s/errors.js';
import { loadEnvelope, structured, type FixtureName } from '../../../fixtures/apiserversource.js';
import { FakeCluster, type Call } from './fake-cluster.js';
import { CONTEXT, flush, KEYS, makePod, makeService, NS, podEvent, rig, serviceEvent, silentLogger, sliceEvent, SVC_UID, T0, uidOf, type Rig } from './world.js';

const methods = (calls: readonly Call[]): string[] => calls.map((c) => c.method);

function recorded(name: FixtureName): InboundEvent {
  const parsed = parseIncoming(structured(loadEnvelope(name)));
  if (!parsed.ok) throw new Error(`fixture ${name} does not parse: ${parsed.message}`);
  return parsed.event;
}

/** Service web with web-0 active (term 1, completed), web-0 and web-1 ready; index primed. */
function steadyWorld(options: { namespaces?: readonly string[] } = {}): Rig {
  const cluster = new FakeCluster();
  cluster.putPod(makePod('web-0', { role: 'active', priority: '100' }));
  cluster.putPod(makePod('web-1', { role: 'standby' }));
  cluster.putService(makeService({ active: 'web-0' }));
  // The pods carry role labels, and these tests count their writes: role labels on.
  const r = rig(cluster, { roleLabels: true, ...options });
  r.index.observe(cluster.service(NS, 'web'));
  return r;
}

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
      name: 'an EndpointSlice deletion, even of an opted-in Service',
      event: () => sliceEvent(NS, 'web', [], 'delete'),
      detail: 'slice of a service that is not opted in',
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

/** The recorded event: web-0 (active, pod-id label, priority 100) turned unready. */
function failoverWorld(standbyLabelled: boolean): Rig {
  const cluster = new FakeCluster();
  cluster.putPod(makePod('web-0', { role: 'active', priority: '100', ready: false }));
  cluster.putPod(standbyLabelled ? makePod('web-1', { role: 'standby' }) : makePod('web-1'));
  cluster.putService(makeService({ active: 'web-0' }));
  const r = rig(cluster, { roleLabels: true });
  r.index.observe(cluster.service(NS, 'web'));
  return r;
}

const isEvidence = (call: Call): boolean => call.method === 'recordEvent' || (call.method === 'patchPodLabels' && KEYS.role in call.labels);

describe('failover handler: the active pod goes unready (recorded pod-update-not-ready)', () => {
  const variants = [
    // Labelling a pod is a write the Service's precondition does not guard, so the
    // index copy is confirmed by a GET first.
    { name: 'standby lacks its pod-id label', labelled: false, critical: 4, evidence: 3 },
    { name: 'standby already labelled', labelled: true, critical: 2, evidence: 3 },
  ];
  for (const v of variants) {
    it(`${v.name}: ${v.critical} requests before the reply, ${v.critical + v.evidence} in all`, async () => {
      const r = failoverWorld(v.labelled);
      const rv = r.cluster.service(NS, 'web').resourceVersion;
      r.cluster.hold = isEvidence; // evidence never completes until released: it must not be awaited
      const outcome = await createFailoverHandler(r.deps)(recorded('podUpdateNotReady'), CONTEXT);

      assert.deepEqual(outcome, { status: 'handled', detail: 'web: switched (failover: web-0 -> web-1 (term 2))' });
      const critical = r.cluster.calls.filter((c) => !isEvidence(c));
      assert.equal(critical.length, v.critical);
      assert.equal(r.cluster.heldCount, v.evidence, 'evidence was started but not awaited');
      const patch = critical.at(-1);
      assert.equal(patch?.method, 'patchService');
      assert.equal(patch.resourceVersion, rv, 'the write carries the resourceVersion of the hint');
      assert.deepEqual(patch.write.selector, { app: 'web', [KEYS.podId]: uidOf('web-1') });
      assert.equal(patch.write.annotations[KEYS.term], '2');

      const expected: Call[] = [
        { method: 'listPods', namespace: NS, selector: { app: 'web' } },
        ...(v.labelled ? [] : [{ method: 'getService' as const, namespace: NS, name: 'web' }, { method: 'patchPodLabels' as const, namespace: NS, pod: 'web-1', labels: { [KEYS.podId]: uidOf('web-1') } }]),
        patch,
        { method: 'recordEvent', namespace: NS, name: 'web', note: { type: 'Normal', reason: REASONS.failedOver, message: 'web-1 is now the active pod (was web-0); reason failover, term 2' } },
        { method: 'patchPodLabels', namespace: NS, pod: 'web-0', labels: { [KEYS.role]: 'standby' } },
        { method: 'patchPodLabels', namespace: NS, pod: 'web-1', labels: { [KEYS.role]: 'active' } },
      ];
      assert.deepEqual(r.cluster.calls, expected);

      r.cluster.release();
      await flush();
      assert.equal(r.cluster.requestCount, v.critical + v.evidence);
      const after = r.cluster.service(NS, 'web');
      assert.equal(after.selector[KEYS.podId], uidOf('web-1'));
      assert.equal(after.annotations[KEYS.activePod], 'web-1');
      assert.equal(after.annotations[KEYS.reason], 'failover');
      assert.equal(after.annotations[KEYS.term], '2');
      assert.deepEqual(r.cluster.pod(NS, 'web-1')?.labels, { app: 'web', [KEYS.podId]: uidOf('web-1'), [KEYS.role]: 'active' });
      assert.equal(r.cluster.pod(NS, 'web-0')?.labels[KEYS.role], 'standby');
      assert.equal(r.emitter.drafts.length, 1);
      const draft = r.emitter.drafts[0];
      assert.equal(draft?.type, PROMOTED);
      assert.equal(draft.id, `${SVC_UID}.2-${T0}.promoted`);
      assert.deepEqual(draft.data, {
        service: { namespace: NS, name: 'web', uid: SVC_UID },
        term: 2,
        from: { name: 'web-0', uid: uidOf('web-0') },
        to: { name: 'web-1', uid: uidOf('web-1') },
        reason: 'failover',
        decidedAt: new Date(r.clock.now).toISOString(),
      });
    });
  }

  it('the same event redelivered to the instance that switched: its index holds its own reply, so steady without a write', async () => {
    const r = failoverWorld(false);
    const handle = createFailoverHandler(r.deps);
    await handle(recorded('podUpdateNotReady'), CONTEXT);
    await flush();
    const again = await handle(recorded('podUpdateNotReady'), CONTEXT);
    await flush();
    assert.deepEqual(again, { status: 'handled', detail: 'web: steady (web-1 is active and healthy)' });
    assert.equal(r.cluster.conflicts.length, 0);
    assert.equal(r.cluster.writes.length, 1, 'one switch, no second write');
    assert.equal(r.emitter.drafts.length, 1);
  });

  it('the same event redelivered to another instance after the switch: its stale index copy gets 409, then steady', async () => {
    const r = failoverWorld(false);
    const other = rig(r.cluster, { roleLabels: true });
    other.index.observe(r.cluster.service(NS, 'web'));
    const staleRv = r.cluster.service(NS, 'web').resourceVersion;
    await createFailoverHandler(r.deps)(recorded('podUpdateNotReady'), CONTEXT);
    await flush();
    const before = r.cluster.calls.length;
    // The other instance's index still holds the pre-switch copy: a stale hint that decides "switch" again.
    const again = await createFailoverHandler(other.deps)(recorded('podUpdateNotReady'), CONTEXT);
    await flush();
    assert.deepEqual(again, { status: 'handled', detail: 'web: steady (web-1 is active and healthy)' });
    assert.deepEqual(r.cluster.calls.slice(before).map((c) => c.method), ['listPods', 'patchService', 'getService', 'listPods']);
    assert.equal(r.cluster.conflicts.length, 1);
    assert.equal(r.cluster.conflicts[0]?.method === 'patchService' && r.cluster.conflicts[0].resourceVersion, staleRv);
    assert.equal(r.cluster.writes.length, 1, 'one switch, no second write');
    assert.equal(r.emitter.drafts.length + other.emitter.drafts.length, 1);
  });

  it('the echoes of one failover at an instance that did not write them: Service update 2, pod label update 2, completion 4, re-check 0', async () => {
    const r = failoverWorld(false);
    // Instance b knows the Service as it was before a switched it.
    const b = rig(r.cluster, { roleLabels: true });
    b.index.observe(r.cluster.service(NS, 'web'));
    await createFailoverHandler(r.deps)(recorded('podUpdateNotReady'), CONTEXT);
    await flush();
    const handle = createFailoverHandler(b.deps);
    const since = (from: number): string[] => r.cluster.calls.slice(from).map((c) => c.method);

    // The Service event of a write this instance did not make: the Service is read, and
    // the read is the basis of the look.
    let from = r.cluster.calls.length;
    const svc = await handle(serviceEvent(r.cluster.service(NS, 'web')), CONTEXT);
    await flush();
    assert.deepEqual(svc, { status: 'handled', detail: 'web: steady (web-1 is active and healthy)' });
    assert.deepEqual(since(from), ['getService', 'listPods']);

    // A label update of the new active: the index copy (now current) is confirmed by one GET.
    from = r.cluster.calls.length;
    const pod = await handle(podEvent(r.cluster.pod(NS, 'web-1') ?? makePod('web-1')), CONTEXT);
    await flush();
    assert.deepEqual(pod, { status: 'handled', detail: 'web: steady (web-1 is active and healthy)' });
    assert.deepEqual(since(from), ['listPods', 'getService']);

    r.cluster.putSlices(NS, 'web', [{ name: 'web-x7k2p', endpoints: [{ podName: 'web-1', podUid: uidOf('web-1'), ready: true }] }]);
    from = r.cluster.calls.length;
    const slice = await handle(sliceEvent(NS, 'web', [{ pod: 'web-1', ready: true }]), CONTEXT);
    await flush();
    assert.deepEqual(slice, { status: 'handled', detail: 'web: completed' });
    assert.deepEqual(since(from), ['getService', 'listEndpointSlices', 'patchService', 'recordEvent']);

    // The same slice again: b recorded the completion itself, and knows it.
    from = r.cluster.calls.length;
    const again = await handle(sliceEvent(NS, 'web', [{ pod: 'web-1', ready: true }]), CONTEXT);
    assert.deepEqual(again, { status: 'handled', detail: 'web: already completed' });
    assert.deepEqual(since(from), []);
    // The transition event is replayed at completion under the same id (deduplicated by subscribers).
    assert.deepEqual(r.emitter.types(), [PROMOTED]);
    assert.deepEqual(b.emitter.types(), [PROMOTED, 'dev.baton.failover.completed']);
    assert.equal(new Set([...r.emitter.drafts, ...b.emitter.drafts].filter((d) => d.type === PROMOTED).map((d) => d.id)).size, 1);
    assert.equal(r.cluster.service(NS, 'web').annotations[KEYS.completedTerm], '2');
  });
});

describe('failover handler: API failures', () => {
  it('a TransientError becomes a retry outcome, and HTTP 503 with Retry-After', async () => {
    const r = failoverWorld(false);
    r.cluster.inject({ method: 'listPods', action: { kind: 'throw', error: () => new TransientError('list pods in demo: HTTP 503: etcd leader changed', 503) } });
    const handle = createFailoverHandler(r.deps);
    const outcome = await handle(recorded('podUpdateNotReady'), CONTEXT);
    assert.deepEqual(outcome, { status: 'retry', retryAfterSeconds: 1, detail: 'list pods in demo: HTTP 503: etcd leader changed' });
    assert.equal(r.cluster.writes.length, 0);

    const server = await listen(createServer({ handle, logger: silentLogger(), bodyLimit: 1 << 20 }), { host: '127.0.0.1', port: 0 });
    try {
      const wire = structured(loadEnvelope('podUpdateNotReady'));
      const response = await fetch(server.url, { method: 'POST', headers: wire.headers, body: wire.body });
      assert.equal(response.status, 503);
      assert.equal(response.headers.get('retry-after'), '1');
      await response.arrayBuffer();
    } finally {
      await server.close();
    }
    assert.equal(r.cluster.writes.length, 0);
  });

  it('a ForbiddenError on the write is handled (no redelivery) and nothing is written', async () => {
    const r = failoverWorld(true);
    r.cluster.inject({ method: 'patchService', action: { kind: 'throw', error: () => new ForbiddenError('patch service demo/web: HTTP 403: forbidden', 403) } });
    const outcome = await createFailoverHandler(r.deps)(recorded('podUpdateNotReady'), CONTEXT);
    assert.deepEqual(outcome, { status: 'handled', detail: 'failed: patch service demo/web: HTTP 403: forbidden' });
    assert.equal(r.cluster.service(NS, 'web').selector[KEYS.podId], uidOf('web-0'));
    assert.equal(r.emitter.drafts.length, 0);
  });

  it('a Service that keeps changing yields conflicted, which the handler answers with a retry', async () => {
    const r = failoverWorld(true);
    r.cluster.inject({ method: 'patchService', action: { kind: 'before', run: (w) => void w.bumpService(NS, 'web') } });
    const outcome = await createFailoverHandler({ ...r.deps, conflictRetries: 1 })(recorded('podUpdateNotReady'), CONTEXT);
    assert.equal(outcome.status, 'retry');
    assert.equal(r.cluster.count('patchService'), 2);
    assert.equal(r.cluster.writes.length, 0);
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
