// A ClusterIP Service and its headless twin over the same pods, the twin following the
// first: whatever readiness blips happen, whichever instance gets each event, and even
// when the twin's own look runs first, once an event has been handled both route to the
// same pod.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import fc from 'fast-check';

import { createFailoverHandler } from '../../../../functions/failover/handler.js';
import { FakeCluster } from './fake-cluster.js';
import { CONTEXT, flush, KEYS, makePod, makeService, NS, podEvent, rig, serviceEvent } from './world.js';

const PODS = ['db-0', 'db-1', 'db-2'] as const;

describe('failover handler: a follower names its leader\'s active', () => {
  it('after every handled event, whichever of two instances handled it', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ pod: fc.nat(PODS.length - 1), ready: fc.boolean(), instance: fc.nat(1), twinFirst: fc.boolean() }), { minLength: 1, maxLength: 20 }),
        async (blips) => {
          const world = new FakeCluster();
          for (const name of PODS) world.putPod(makePod(name, { labels: { app: 'web' }, idLabel: true }));
          world.putService(makeService({ name: 'db', active: 'db-0' }));
          const twin = makeService({ name: 'db-twin', active: 'db-0' });
          world.putService({ ...twin, annotations: { ...twin.annotations, [KEYS.follow]: 'db' } });
          const instances = [rig(world), rig(world)];
          for (const r of instances) await r.index.refresh();
          const handlers = instances.map((r) => createFailoverHandler(r.deps));
          for (const blip of blips) {
            const name = PODS[blip.pod]!;
            world.setReady(NS, name, blip.ready, 0);
            const pod = world.pod(NS, name)!;
            const handle = handlers[blip.instance]!;
            // The twin's own look may come first: it must not elect on its own.
            if (blip.twinFirst) await handle(serviceEvent(world.service(NS, 'db-twin')), CONTEXT);
            await handle(podEvent(pod, 'update', pod.resourceVersion ?? '1'), CONTEXT);
            await flush();
            const leader = world.service(NS, 'db').selector[KEYS.podId];
            const follower = world.service(NS, 'db-twin').selector[KEYS.podId];
            assert.equal(follower, leader, `after ${name} ready=${blip.ready}: db routes to ${leader}, db-twin to ${follower}`);
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});
