
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createFailoverHandler } from '../../../../functions/failover/handler.js';
import { PROMOTED } from '../../../../shared/audit/schemas.js';
import { REASONS } from '../../../../functions/failover/report.js';
import { type Call } from './fake-cluster.js';
import { CONTEXT, flush, KEYS, makePod, NS, podEvent, rig, serviceEvent, sliceEvent, SVC_UID, T0, uidOf } from './world.js';
import { recorded, failoverWorld, isEvidence } from './handler-fixtures.js';

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
