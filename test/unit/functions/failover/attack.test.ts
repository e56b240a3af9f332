// Hostile review of the "events are hints" rework. Each test here states an invariant
// docs/security.md or knative/base/admission.yaml promises, and failed on the code it was written
// against; each was fixed in the design, and the test keeps it fixed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { createFailoverHandler } from '../../../../functions/failover/handler.js';
import { TransientError } from '../../../../shared/k8s/errors.js';
import { FakeCluster } from './fake-cluster.js';
import { matchesSelector } from '../../../../functions/failover/core/health.js';
import { CONTEXT, flush, KEYS, makePod, makeService, NS, podEvent, rig, serviceEvent, sliceEvent, uidOf } from './world.js';

const FLOOD = 40;

describe('attack: a flood of forged events costs a bounded number of reads', () => {
  // docs/security.md, What an event body may do: "a flood of forged events costs reads,
  // bounded per Service (one running, one queued), not writes". issue 12: "An event may
  // cause a read (bounded and coalesced)". A look at one Service costs a few requests; two looks'
  // worth is the most a burst of identical events may cost.
  const BOUND = 8;

  it('ATTACK-1: identical forged pod events that claim baton\'s pod-id label are not coalesced (leftover path)', async () => {
    // A namespace with no opted-in Service, one ordinary pod. The forged body claims
    // that the pod carries baton.dev/pod-id; the screen lets it through (the key is in
    // the body), the index knows nothing, so onPod lists the namespace's Services and
    // then removeLeftoverLabels reads the pod and lists every Service again: per event,
    // outside the per-Service coalescer.
    const world = new FakeCluster();
    world.putPod(makePod('web-0'));
    const r = rig(world);
    await r.index.refresh();
    const handle = createFailoverHandler(r.deps);
    const before = world.requestCount;
    const forged = podEvent(makePod('web-0', { idLabel: true }), 'update', '999');
    await Promise.all(Array.from({ length: FLOOD }, async () => handle(forged, CONTEXT)));
    await flush();
    const cost = world.requestCount - before;
    assert.ok(cost <= BOUND, `${FLOOD} copies of one forged pod event cost ${cost} API requests (${[...new Set(world.methods().slice(before))].join(', ')})`);
  });

  it('ATTACK-2: identical forged EndpointSlice events for an opted-in Service are not coalesced', async () => {
    // web is opted in and in the index (from a list, so not this instance's own copy).
    // Each forged slice showing one ready pod makes onSlice call checkCompletion, which
    // GETs the Service (and lists its slices while its term is not completed): one read
    // or two per event, none of it coalesced.
    const world = new FakeCluster();
    world.putPod(makePod('web-0', { idLabel: true }));
    world.putPod(makePod('web-1', { idLabel: true }));
    world.putService(makeService({ active: 'web-0', completed: false }));
    const r = rig(world);
    await r.index.refresh();
    const handle = createFailoverHandler(r.deps);
    const before = world.requestCount;
    const forged = sliceEvent(NS, 'web', [{ pod: 'web-1', ready: true }]);
    await Promise.all(Array.from({ length: FLOOD }, async () => handle(forged, CONTEXT)));
    await flush();
    const cost = world.requestCount - before;
    assert.ok(cost <= BOUND, `${FLOOD} copies of one forged slice event cost ${cost} API requests (${[...new Set(world.methods().slice(before))].join(', ')})`);
  });
});

describe('attack: baton\'s own writes pass baton\'s own admission policy', () => {
  it('ATTACK-3: a follower pinned to a pod is never written back to the placeholder (baton-pinned-selector refuses that)', async () => {
    // knative/base/admission.yaml, baton-pinned-selector: "baton's own switches change
    // one UID to another and pass; its placeholder pin is only ever written over a
    // selector without a pod-id." The policy denies an update of an opted-in Service
    // whose old selector names a pod and whose new one names none. decide.ts follow()
    // writes exactly that when the leader has chosen nothing yet (here: the leader was
    // re-created from a manifest with the documented zero-window placeholder, while the
    // follower still pins the pod it mirrored before). On a cluster with the policy the
    // write is refused (422), the handler logs "API refused the request" and answers
    // handled, and this repeats on every look at the follower.
    const world = new FakeCluster();
    world.putPod(makePod('web-0', { idLabel: true, ready: false }));
    world.putPod(makePod('web-1', { idLabel: true, ready: false }));
    world.putService(makeService({ name: 'db', selector: { app: 'web', [KEYS.podId]: 'none' } }));
    const twin = makeService({ name: 'db-twin', active: 'web-0' });
    world.putService({ ...twin, annotations: { ...twin.annotations, [KEYS.follow]: 'db' } });
    const r = rig(world);
    await r.index.refresh();
    const handle = createFailoverHandler(r.deps);
    const pod = world.pod(NS, 'web-0')!;
    await handle(podEvent(pod, 'update', pod.resourceVersion ?? '1'), CONTEXT);
    await flush();
    const refused = world.writes.filter(
      (w) => w.before.labels[KEYS.mode] === 'active-standby' && (w.before.selector[KEYS.podId] ?? 'none') !== 'none' && (w.after.selector[KEYS.podId] ?? 'none') === 'none',
    );
    assert.deepEqual(
      refused.map((w) => `${w.before.name}: ${w.before.selector[KEYS.podId]} -> ${w.after.selector[KEYS.podId] ?? '(no pod-id)'}`),
      [],
      'baton wrote a pinned, opted-in Service back to the placeholder: the shipped admission policy refuses this write',
    );
  });
});

describe('attack: two instances, one of them with its index watch down', () => {
  it('ATTACK-4: the active relabelled out of rotation is looked at even when another Service also selects it and this instance\'s index lags', async () => {
    // a (app=db, serving=true) and b (app=db) are opted in over the same pods: the
    // README's headline case. Instance A fails a over from db-0 to db-1; the echo of that
    // write is delivered to A (ignored there as its own), and B's index watch is down
    // (reconnecting after a 410 or a broken stream, up to 5 s of backoff), so B's index
    // still shows a pinned to db-0. Then db-1 is taken out of rotation the usual way
    // (kubectl label pod db-1 serving=false, issue 12 finding 3), and that genuine event
    // reaches B. B finds b (its selector matches the new labels), so
    // the namespace is not listed, and a is never looked at: a selects db-1's id plus
    // serving=true, which no pod matches, and has zero endpoints until the resync while
    // db-2 and db-3 are healthy. docs/security.md's "a pod that carries baton's id label
    // but that no indexed Service pins also costs one list" holds only when the index
    // knows no Service for the pod at all.
    const world = new FakeCluster();
    for (const name of ['db-0', 'db-1', 'db-2', 'db-3']) world.putPod(makePod(name, { labels: { app: 'db', serving: 'true' }, idLabel: true }));
    world.putService(makeService({ name: 'a', active: 'db-0', selector: { app: 'db', serving: 'true' } }));
    world.putService(makeService({ name: 'b', active: 'db-0', selector: { app: 'db' } }));
    const A = rig(world);
    const B = rig(world);
    await A.index.refresh();
    await B.index.refresh();
    const [onA, onB] = [createFailoverHandler(A.deps), createFailoverHandler(B.deps)];

    world.setReady(NS, 'db-0', false, 0);
    const down = world.pod(NS, 'db-0')!;
    await onA(podEvent(down, 'update', down.resourceVersion ?? '1'), CONTEXT);
    await flush();
    const failedOver = world.service(NS, 'a').selector[KEYS.podId];
    assert.notEqual(failedOver, uidOf('db-0'), 'set-up: instance A failed a over');
    const active = world.allPods().find((p) => p.uid === failedOver)!;

    const relabelled = world.pod(NS, active.name)!;
    world.putPod({ ...relabelled, labels: { ...relabelled.labels, serving: 'false' } });
    const after = world.pod(NS, active.name)!;
    await onB(podEvent(after, 'update', after.resourceVersion ?? '1'), CONTEXT);
    await flush();

    const a = world.service(NS, 'a');
    const routed = world.allPods().filter((p) => p.ready && matchesSelector(p.labels, a.selector));
    assert.ok(routed.length === 1, `a routes to ${routed.length} ready pods (selector ${JSON.stringify(a.selector)}) after ${active.name}'s genuine relabel event was handled by B`);
  });
});

describe('attack: a redelivered event is not mistaken for an echo', () => {
  it('ATTACK-5: a switchover whose follower write failed once still reaches the follower when the event is redelivered', async () => {
    // db leads, db-twin follows it; both route to web-0. The user asks db for a
    // switchover to web-1. The instance switches db, then its follower look fails once
    // (a timeout on the twin's PATCH), so the event is answered "retry" and Knative
    // redelivers it. The redelivered copy carries db's version from before baton's own
    // switch, and onService takes any version at or before its own last write as the
    // echo of that write: ignored, and the twin is never looked at again. Until another
    // event or the resync, the ClusterIP Service routes to web-1 and its headless twin
    // to web-0, which is what baton.dev/follow exists to prevent (a client of the twin
    // keeps writing to the old primary after a switchover).
    const world = new FakeCluster();
    world.putPod(makePod('web-0', { idLabel: true }));
    world.putPod(makePod('web-1', { idLabel: true }));
    world.putService(makeService({ name: 'db', active: 'web-0' }));
    const twin = makeService({ name: 'db-twin', active: 'web-0' });
    world.putService({ ...twin, annotations: { ...twin.annotations, [KEYS.follow]: 'db' } });
    const r = rig(world);
    await r.index.refresh();
    const handle = createFailoverHandler(r.deps);
    const asked = world.bumpService(NS, 'db', (s) => ({ annotations: { ...s.annotations, [KEYS.switchoverTo]: 'web-1' } }));
    world.inject({ method: 'patchService', nth: 1, when: (c) => c.method === 'patchService' && c.name === 'db-twin', action: { kind: 'throw', error: () => new TransientError('request timed out', 504) } });
    const event = serviceEvent(asked);
    const outcomes: string[] = [];
    for (let delivery = 0; delivery < 4; delivery++) {
      const outcome = await handle(event, CONTEXT);
      outcomes.push(`${outcome.status}${outcome.detail ? `: ${outcome.detail}` : ''}`);
      await flush();
      if (outcome.status !== 'retry') break;
    }
    assert.equal(world.service(NS, 'db').selector[KEYS.podId], uidOf('web-1'), 'set-up: db was switched over');
    assert.equal(world.service(NS, 'db-twin').selector[KEYS.podId], uidOf('web-1'), `db-twin still routes to web-0 after the event was redelivered; replies: ${outcomes.join(' | ')}`);
  });
});

describe('attack: only a write that decided on a state makes that state an echo', () => {
  it('ATTACK-7: a switchover requested just before baton records completion is not dropped as an echo', async () => {
    // web switched to web-0 (term 1), completion not yet recorded. The user asks for a
    // switchover to web-1 (kubectl annotate ... switchover-to=web-1): version R. The
    // adapter sends Services and EndpointSlices on separate watches, so the slice event
    // showing web-0 alone may arrive first: checkCompletion GETs the Service (version R,
    // request included), records completed-term guarded by R, and the reply (R+1) is
    // remembered as this instance's own write. The user's event (version R) then
    // arrives and onService takes R <= R+1 as the echo of that write: ignored. But the
    // completion write decided nothing about the request; isServiceEcho's premise
    // ("a state baton decided on") does not hold for it. The switchover waits for the
    // next event or the resync.
    const world = new FakeCluster();
    world.putPod(makePod('web-0', { idLabel: true }));
    world.putPod(makePod('web-1', { idLabel: true }));
    world.putService(makeService({ active: 'web-0', completed: false }));
    world.putSlices(NS, 'web', [{ name: 'web-x7k2p', endpoints: [{ podName: 'web-0', podUid: uidOf('web-0'), ready: true }] }]);
    const r = rig(world);
    await r.index.refresh();
    const handle = createFailoverHandler(r.deps);
    const asked = world.bumpService(NS, 'web', (s) => ({ annotations: { ...s.annotations, [KEYS.switchoverTo]: 'web-1' } }));
    const replies: string[] = [];
    for (const event of [sliceEvent(NS, 'web', [{ pod: 'web-0', ready: true }]), serviceEvent(asked)]) {
      const outcome = await handle(event, CONTEXT);
      replies.push(`${event.kind}: ${outcome.status}${outcome.detail ? ` (${outcome.detail})` : ''}`);
      await flush();
    }
    assert.equal(world.service(NS, 'web').selector[KEYS.podId], uidOf('web-1'), `the switchover to web-1 was not made; replies: ${replies.join(' | ')}`);
  });

  it('ATTACK-7b: the same with a selector edit leaves the Service with no endpoint while a candidate is healthy', async () => {
    // As ATTACK-7, but the user's change is `kubectl edit` of the selector's app label
    // (web -> web2; baton's pod-id key left as it is). The completion write is based on
    // that version, the edit's own event is dropped as its echo, and the Service now
    // selects app=web2 plus web-0's id: no pod, while web2-0 is healthy, until a resync.
    const world = new FakeCluster();
    world.putPod(makePod('web-0', { idLabel: true }));
    world.putPod(makePod('web2-0', { labels: { app: 'web2' } }));
    world.putService(makeService({ active: 'web-0', completed: false }));
    world.putSlices(NS, 'web', [{ name: 'web-x7k2p', endpoints: [{ podName: 'web-0', podUid: uidOf('web-0'), ready: true }] }]);
    const r = rig(world);
    await r.index.refresh();
    const handle = createFailoverHandler(r.deps);
    const edited = world.bumpService(NS, 'web', (s) => ({ selector: { ...s.selector, app: 'web2' } }));
    const replies: string[] = [];
    for (const event of [sliceEvent(NS, 'web', [{ pod: 'web-0', ready: true }]), serviceEvent(edited)]) {
      const outcome = await handle(event, CONTEXT);
      replies.push(`${event.kind}: ${outcome.status}${outcome.detail ? ` (${outcome.detail})` : ''}`);
      await flush();
    }
    const web = world.service(NS, 'web');
    const routed = world.allPods().filter((p) => p.ready && matchesSelector(p.labels, web.selector));
    assert.equal(routed.length, 1, `web selects ${JSON.stringify(web.selector)}: ${routed.length} ready pods; replies: ${replies.join(' | ')}`);
  });
});
