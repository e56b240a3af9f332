// The adversarial property of the failover handler: events are hints. Genuine changes
// of the world (readiness flips, relabels, copied pods) are interleaved with events whose
// bodies are drawn from arbitrary objects, not only from real historical copies, over
// several Services that select the same pods. After every step:
//   - no Service that is not opted in was written, except to release a record baton
//     itself wrote on that very Service;
//   - with the admission policy on (a pod whose id label is not its own uid is refused),
//     no opted-in Service selects more than one ready pod;
//   - after the genuine event of a change, every opted-in Service with a healthy
//     candidate routes to a healthy pod: nothing waits for a resync.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import fc from 'fast-check';

import { createFailoverHandler } from '../../../../functions/failover/handler.js';
import { isHealthy, matchesSelector } from '../../../../functions/failover/core/health.js';
import { type Labels, type PodView, type ServiceView } from '../../../../functions/failover/core/model.js';
import { MODE_VALUE } from '../../../../shared/keys.js';
import { ownsRecord, userSelector } from '../../../../functions/failover/core/settings.js';
import { FakeCluster } from './fake-cluster.js';
import { CONTEXT, flush, KEYS, makePod, makeService, NS, podEvent, rig, serviceEvent, sliceEvent, uidOf } from './world.js';

const PODS = ['db-0', 'db-1', 'db-2', 'db-3'] as const;
const DB = { app: 'db' };

/** Ready pods behind the Service as the EndpointSlice controller would list them. */
function behind(world: FakeCluster, service: ServiceView): PodView[] {
  return world.allPods().filter((p) => p.namespace === service.namespace && p.ready && !p.deleting && matchesSelector(p.labels, service.selector));
}

function optedIn(service: ServiceView): boolean {
  return service.labels[KEYS.mode] === MODE_VALUE;
}

/** Every opted-in Service with a healthy candidate routes to a healthy pod. */
function stranded(world: FakeCluster): string[] {
  const out: string[] = [];
  for (const name of ['a', 'b']) {
    const s = world.service(NS, name);
    if (!optedIn(s)) continue;
    const selector = userSelector(s, KEYS);
    if (!selector.ok) continue;
    const candidates = world.allPods().filter((p) => matchesSelector(p.labels, selector.selector) && isHealthy(p));
    const routed = world.allPods().find((p) => p.uid === s.selector[KEYS.podId]);
    if (candidates.length > 0 && !(routed && isHealthy(routed) && matchesSelector(routed.labels, selector.selector))) {
      out.push(`${name} routes to ${routed?.name ?? s.selector[KEYS.podId] ?? 'every pod'} while ${candidates.map((p) => p.name).join(', ')} are healthy`);
    }
  }
  return out;
}

const text = fc.oneof(fc.constantFrom('', 'db', 'none', MODE_VALUE, '999999999999', '{"app":"db"}', 'true', uidOf('db-0'), uidOf('db-1')), fc.string({ maxLength: 8 }));
const labelsArb: fc.Arbitrary<Labels> = fc.dictionary(fc.constantFrom('app', 'serving', KEYS.mode, KEYS.podId, KEYS.role), text, { maxKeys: 4 });
const annotationsArb: fc.Arbitrary<Labels> = fc.dictionary(
  fc.constantFrom(KEYS.term, KEYS.originalSelector, KEYS.activeUid, KEYS.activePod, KEYS.recordOf, KEYS.completedTerm, KEYS.switchoverTo, KEYS.failback),
  text,
  { maxKeys: 4 },
);
const nameArb = fc.constantFrom('a', 'b', 'plain', 'copy', 'ghost', ...PODS, 'db-9');

type Step =
  | { readonly kind: 'forge-service'; readonly name: string; readonly base: boolean; readonly labels: Labels; readonly annotations: Labels; readonly selector: Labels; readonly rv: string; readonly action: 'add' | 'update' | 'delete' }
  | { readonly kind: 'forge-pod'; readonly name: string; readonly labels: Labels; readonly ready: boolean; readonly uidOf: string; readonly action: 'add' | 'update' | 'delete' }
  | { readonly kind: 'forge-slice'; readonly name: string; readonly ready: readonly string[] }
  | { readonly kind: 'flip'; readonly pod: number; readonly ready: boolean }
  | { readonly kind: 'relabel'; readonly pod: number; readonly serving: boolean }
  | { readonly kind: 'impostor'; readonly of: 'a' | 'b' };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('forge-service' as const), name: nameArb, base: fc.boolean(), labels: labelsArb, annotations: annotationsArb, selector: labelsArb, rv: fc.constantFrom('1', '5', '999999999999', 'x'), action: fc.constantFrom('add' as const, 'update' as const, 'delete' as const) }),
  fc.record({ kind: fc.constant('forge-pod' as const), name: nameArb, labels: labelsArb, ready: fc.boolean(), uidOf: fc.constantFrom(...PODS, 'ghost'), action: fc.constantFrom('add' as const, 'update' as const, 'delete' as const) }),
  fc.record({ kind: fc.constant('forge-slice' as const), name: nameArb, ready: fc.subarray([...PODS]) }),
  fc.record({ kind: fc.constant('flip' as const), pod: fc.nat(PODS.length - 1), ready: fc.boolean() }),
  fc.record({ kind: fc.constant('relabel' as const), pod: fc.nat(PODS.length - 1), serving: fc.boolean() }),
  fc.record({ kind: fc.constant('impostor' as const), of: fc.constantFrom('a' as const, 'b' as const) }),
);

async function run(steps: readonly Step[], policy: boolean): Promise<void> {
  const world = new FakeCluster();
  for (const name of PODS) world.putPod(makePod(name, { labels: { ...DB, serving: 'true' }, idLabel: name === 'db-0' || name === 'db-1' }));
  // a: adopted, routing to db-0. b: adopted over the same pods, routing to db-1.
  world.putService(makeService({ name: 'a', active: 'db-0', selector: { ...DB, serving: 'true' } }));
  world.putService(makeService({ name: 'b', active: 'db-1', selector: DB }));
  // plain: never opted in. copy: a's record copied onto another Service, never opted in.
  world.putService(makeService({ name: 'plain', optedIn: false, selector: DB }));
  const a = world.service(NS, 'a');
  world.putService({ ...a, name: 'copy', uid: 'copy-uid', labels: { app: 'web' } });
  const r = rig(world);
  await r.index.refresh();
  const handle = createFailoverHandler(r.deps);
  const before = new Map(['plain', 'copy'].map((n) => [n, world.service(NS, n)]));
  let impostors = 0;

  for (const step of steps) {
    switch (step.kind) {
      case 'forge-service': {
        const real = step.base && ['a', 'b', 'plain', 'copy'].includes(step.name) ? world.service(NS, step.name) : makeService({ name: step.name });
        const body: ServiceView = { ...real, labels: step.labels, annotations: step.annotations, selector: step.selector, resourceVersion: step.rv };
        await handle(serviceEvent(body, step.action), CONTEXT);
        break;
      }
      case 'forge-pod': {
        const claimed: PodView = { ...makePod(step.name, { labels: step.labels, ready: step.ready }), uid: uidOf(step.uidOf) };
        await handle(podEvent(claimed, step.action), CONTEXT);
        break;
      }
      case 'forge-slice':
        await handle(sliceEvent(NS, step.name, step.ready.map((pod) => ({ pod, ready: true }))), CONTEXT);
        break;
      case 'flip': {
        const name = PODS[step.pod]!;
        world.setReady(NS, name, step.ready, 0);
        const pod = world.pod(NS, name)!;
        await handle(podEvent(pod, 'update', pod.resourceVersion ?? '1'), CONTEXT);
        break;
      }
      case 'relabel': {
        const name = PODS[step.pod]!;
        const pod = world.pod(NS, name)!;
        world.putPod({ ...pod, labels: { ...pod.labels, serving: String(step.serving) } });
        const after = world.pod(NS, name)!;
        await handle(podEvent(after, 'update', after.resourceVersion ?? '1'), CONTEXT);
        break;
      }
      case 'impostor': {
        // A copy of the active pod's labels (kubectl debug --copy-to --keep-labels).
        const active = world.service(NS, step.of).selector[KEYS.podId];
        if (active === undefined || active === 'none' || policy) break; // the policy refuses it at admission
        const name = `copy-${impostors++}`;
        world.putPod({ ...makePod(name, { labels: { ...DB, serving: 'true' } }), labels: { ...DB, serving: 'true', [KEYS.podId]: active } });
        const pod = world.pod(NS, name)!;
        await handle(podEvent(pod, 'add', pod.resourceVersion ?? '1'), CONTEXT);
        break;
      }
    }
    await flush();

    for (const w of world.writes) {
      if (!optedIn(w.before)) assert.ok(ownsRecord(w.before, KEYS), `${w.before.name}, not opted in and not carrying its own record, was written`);
    }
    for (const [name, was] of before) assert.equal(world.service(NS, name).resourceVersion, was.resourceVersion, `${name} was written`);
    for (const name of ['a', 'b']) {
      const n = behind(world, world.service(NS, name)).length;
      assert.ok(n <= 1, `${name} selects ${n} ready pods after ${step.kind}`);
    }
    if (step.kind === 'flip' || step.kind === 'relabel' || step.kind === 'impostor') assert.deepEqual(stranded(world), []);
  }
}

describe('failover handler: events are hints (adversarial)', () => {
  it('with the admission policy: no write on a forged say-so, one pod per Service, no healthy candidate left waiting', async () => {
    await fc.assert(fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 25 }), (steps) => run(steps, true)), { numRuns: 150 });
  });
  it('without it: a pod carrying the active\'s id is taken out by its own event', async () => {
    await fc.assert(fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 25 }), (steps) => run(steps, false)), { numRuns: 150 });
  });
});
