// Direct mode under several instances: a random interleaving of stale and duplicated
// looks at ONE Service in direct mode, while pods flip readiness and change IP. Every API
// call is a step of fast-check's scheduler. The world checks every slice write: at most
// one endpoint, never a lower term than a slice written before, and only a pod that the
// Service's record named for that very term.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { isHealthy } from '../../../../functions/failover/core/health.js';
import type { Observed, PodView, ServiceView } from '../../../../functions/failover/core/model.js';
import type { ObservedSlice } from '../../../../functions/failover/core/slice.js';
import { reconcile } from '../../../../functions/failover/reconcile.js';
import { createReporter } from '../../../../functions/failover/report.js';
import { NO_ECHOES } from '../../../../functions/failover/writes.js';
import { MODE_VALUE } from '../../../../shared/keys.js';
import { readRecord } from '../../../../shared/record.js';
import { FakeCluster } from './fake-cluster.js';
import { ScheduledCluster } from './scheduled-cluster.js';
import { KEYS, makePod, NS, RecordingEmitter, silentLogger, SVC_UID, T0 } from './world.js';

const PODS = ['web-0', 'web-1', 'web-2'] as const;

function directService(): ServiceView {
  return {
    name: 'web',
    namespace: NS,
    uid: SVC_UID,
    resourceVersion: '1',
    labels: { [KEYS.mode]: MODE_VALUE },
    annotations: { [KEYS.pods]: 'app=web' },
    selector: {},
    ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP', appProtocol: undefined }],
  };
}

const scenario = fc.record({
  ready: fc.array(fc.boolean(), { minLength: 2, maxLength: 3 }),
  instances: fc.integer({ min: 2, max: 3 }),
  conflictRetries: fc.integer({ min: 0, max: 2 }),
  events: fc.array(fc.record({ instance: fc.nat(2), hint: fc.constantFrom('none' as const, 'index' as const, 'read' as const), back: fc.nat(3) }), { minLength: 2, maxLength: 8 }),
  flips: fc.array(fc.record({ pod: fc.nat(2), ready: fc.boolean(), ip: fc.option(fc.nat(250), { nil: undefined }) }), { maxLength: 6 }),
});

describe('direct mode: safety under concurrent instances', () => {
  const totals = { runs: 0, sliceWrites: 0, sliceConflicts: 0 };
  after(() => {
    assert.ok(totals.sliceWrites > totals.runs, `only ${totals.sliceWrites} slice writes in ${totals.runs} runs`);
  });

  it('property: one endpoint at most, slice terms never go down, the slice names only what the record named for its term', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), scenario, async (s, sc) => {
        totals.runs += 1;
        const world = new FakeCluster();
        const pods: PodView[] = sc.ready.map((ready, i) => ({ ...makePod(PODS[i] ?? 'web-x', { ready }), ips: [`10.0.0.${i + 1}`] }));
        for (const p of pods) world.putPod(p);
        const initial = world.putService(directService());
        const history: Array<Observed<ServiceView>> = [initial];
        // What each term's record named: the slice may name only that pod for that term.
        const named = new Map<number, string>();
        const broken: string[] = [];
        world.onWrite = (w) => {
          history.push(w.after);
          const r = readRecord(w.after, KEYS);
          if (r.term !== undefined && r.activeUid !== undefined) {
            if (named.has(r.term) && named.get(r.term) !== r.activeUid) broken.push(`term ${r.term} named two pods`);
            named.set(r.term, r.activeUid);
          }
          if (Object.keys(w.after.selector).length > 0) broken.push(`a selector was written: ${JSON.stringify(w.after.selector)}`);
        };
        let lastTerm = 0;
        world.onSliceWrite = (slice: ObservedSlice) => {
          totals.sliceWrites += 1;
          const term = Number(slice.annotations[KEYS.term]);
          if (slice.endpoints.length > 1) broken.push(`${slice.endpoints.length} endpoints`);
          if (term < lastTerm) broken.push(`slice term went down: ${lastTerm} -> ${term}`);
          lastTerm = Math.max(lastTerm, term);
          const uid = slice.endpoints[0]?.targetRef?.uid;
          if (uid !== undefined && named.get(term) !== uid) broken.push(`slice of term ${term} names ${uid}, the record named ${named.get(term) ?? 'nothing'}`);
        };

        let clock = T0;
        const now = (): number => (clock += 1_000);
        const emitter = new RecordingEmitter();
        const logger = silentLogger();
        const reporter = createReporter({ cluster: world, emitter, logger, keys: KEYS, now });
        for (const f of sc.flips) {
          const pod = pods[f.pod % pods.length];
          if (!pod) continue;
          void s.schedule(Promise.resolve(`flip ${pod.name}`)).then(() => {
            world.setReady(NS, pod.name, f.ready, clock);
            const current = world.pod(NS, pod.name);
            if (current && f.ip !== undefined) world.putPod({ ...current, ips: [`10.1.0.${f.ip}`] });
          });
        }
        const runs = sc.events.map((e, n) => {
          const cluster = new ScheduledCluster(world, s, `i${e.instance % sc.instances} e${n}`);
          return s.schedule(Promise.resolve(`start e${n}`)).then(() => {
            const copy = history[Math.max(0, history.length - 1 - e.back)] ?? initial;
            const hint = e.hint === 'none' ? undefined : { service: copy, fresh: e.hint === 'read' };
            return reconcile({ cluster, keys: KEYS, logger, reporter, conflictRetries: sc.conflictRetries, now, ownWrites: NO_ECHOES }, { namespace: NS, name: 'web' }, hint).catch((error: unknown) => {
              // A look that ran out of conflict retries fails, and its event is redelivered.
              if (!(error instanceof Error && /conflict|modified|already exists|precondition/i.test(error.message))) throw error;
              totals.sliceConflicts += 1;
            });
          });
        });
        await s.waitFor(Promise.all(runs));
        await s.waitAll();
        assert.deepEqual(broken, []);

        // Converges: one quiet look leaves the slice on the record's pod, healthy if any is.
        await reconcile({ cluster: world, keys: KEYS, logger, reporter, conflictRetries: 2, now, ownWrites: NO_ECHOES }, { namespace: NS, name: 'web' });
        assert.deepEqual(broken, []);
        const record = readRecord(world.service(NS, 'web'), KEYS);
        const [slice] = world.slicesOf(NS, 'web');
        const healthy = world.allPods().filter(isHealthy);
        if (healthy.length > 0) {
          assert.ok(healthy.some((p) => p.uid === record.activeUid), 'the record names a healthy pod');
          const active = world.allPods().find((p) => p.uid === record.activeUid);
          assert.deepEqual(slice?.endpoints.map((e) => [e.targetRef?.uid, e.addresses[0], e.conditions.ready]), [[record.activeUid, active?.ips?.[0], true]]);
        }
      }),
      { numRuns: 150 },
    );
  });
});
