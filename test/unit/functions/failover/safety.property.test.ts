// Several function instances handle a random interleaving of stale, duplicated and
// reordered events for ONE Service, while pods flip readiness in between. Every API
// call is a step the fast-check scheduler orders, so reads, decisions and guarded
// writes of different instances interleave arbitrarily. The world checks, at every
// successful Service write, what must never be false.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';

import fc from 'fast-check';

import { PROMOTED } from '../../../../shared/audit/schemas.js';
import { NO_POD } from '../../../../functions/failover/core/decide.js';
import { isHealthy } from '../../../../functions/failover/core/health.js';
import type { Observed, ServiceView } from '../../../../functions/failover/core/model.js';
import { reconcile, type Result } from '../../../../functions/failover/reconcile.js';
import { NO_ECHOES } from '../../../../functions/failover/writes.js';
import { createReporter } from '../../../../functions/failover/report.js';
import { FakeCluster, type SuccessfulWrite } from './fake-cluster.js';
import { ScheduledCluster } from './scheduled-cluster.js';
import { KEYS, makePod, makeService, NS, RecordingEmitter, silentLogger, T0 } from './world.js';
import { readRecord } from '../../../../shared/record.js';

const termOf = (s: ServiceView): number => readRecord(s, KEYS).term ?? 0;

/** Everything that must hold after each successful write; returns what does not. */
function violations(world: FakeCluster, w: SuccessfulWrite): string[] {
  const out: string[] = [];
  const id = w.after.selector[KEYS.podId];
  const before = w.before.selector[KEYS.podId];
  const { [KEYS.podId]: _id, ...user } = w.after.selector;
  if (id === undefined) out.push('the selector carries no pod-id');
  if (JSON.stringify(user) !== JSON.stringify({ app: 'web' })) out.push(`the user's selector changed: ${JSON.stringify(user)}`);
  if (id !== undefined && id !== NO_POD) {
    const carriers = world.allPods().filter((p) => p.labels[KEYS.podId] === id);
    if (carriers.length !== 1 || carriers[0]?.uid !== id) out.push(`selects pod-id ${id}, carried by [${carriers.map((p) => p.name).join(', ')}]`);
    if (w.after.annotations[KEYS.activeUid] !== id) out.push(`active-uid ${w.after.annotations[KEYS.activeUid]} disagrees with the selector ${id}`);
  }
  if (before !== undefined && before !== NO_POD && id === NO_POD) out.push('an active pod was replaced by nothing');
  if (termOf(w.after) < termOf(w.before)) out.push(`term went down: ${termOf(w.before)} -> ${termOf(w.after)}`);
  if (id !== before && id !== NO_POD && termOf(w.after) !== termOf(w.before) + 1) out.push(`pod-id changed without term+1: ${termOf(w.before)} -> ${termOf(w.after)}`);
  if (w.precondition !== w.before.resourceVersion) out.push(`write at ${w.precondition} succeeded over ${w.before.resourceVersion}`);
  if (Number(w.after.resourceVersion) <= Number(w.before.resourceVersion)) out.push('resourceVersion did not increase');
  return out;
}

const PODS = ['web-0', 'web-1', 'web-2', 'web-3'] as const;
const OUTCOMES: ReadonlySet<Result['outcome']> = new Set(['steady', 'switched', 'unavailable', 'conflicted']);

const scenario = fc.record({
  pods: fc.array(fc.record({ ready: fc.boolean(), idLabel: fc.boolean(), priority: fc.constantFrom(undefined, '0', '10') }), { minLength: 2, maxLength: 4 }),
  adopted: fc.option(fc.record({ pod: fc.nat(3), term: fc.integer({ min: 1, max: 3 }) }), { nil: undefined }),
  failback: fc.boolean(),
  instances: fc.integer({ min: 2, max: 4 }),
  conflictRetries: fc.integer({ min: 0, max: 3 }),
  // index: the index's copy (confirmed unless written); read: a copy read for this
  // look that other writers may have overtaken since; none: a resync. `back` picks how
  // stale the copy is.
  events: fc.array(fc.record({ instance: fc.nat(3), hint: fc.constantFrom('none' as const, 'index' as const, 'read' as const), back: fc.nat(3) }), { minLength: 1, maxLength: 10 }),
  flips: fc.array(fc.record({ pod: fc.nat(3), ready: fc.boolean() }), { maxLength: 8 }),
});

describe('safety under concurrent instances, stale hints and readiness changes', () => {
  const totals = { runs: 0, conflicts: 0, writes: 0, switchesInOneRun: 0 };
  after(() => {
    // The interleavings must actually contend, or the property proves little.
    assert.ok(totals.conflicts > 0, `no 409 in ${totals.runs} runs`);
    assert.ok(totals.switchesInOneRun > 0, 'no run switched twice');
  });

  it('property: one pod-id at a time, always labelled, terms only increase, writes form one chain', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), scenario, async (s, sc) => {
        totals.runs += 1;
        const world = new FakeCluster();
        const pods = sc.pods.map((p, i) => {
          const name = PODS[i] ?? 'web-x';
          const active = sc.adopted !== undefined && sc.adopted.pod === i;
          return makePod(name, { ready: p.ready, idLabel: p.idLabel || active, ...(p.priority !== undefined ? { priority: p.priority } : {}) });
        });
        for (const p of pods) world.putPod(p);
        const adoptedPod = sc.adopted === undefined ? undefined : pods[sc.adopted.pod];
        const base = makeService(adoptedPod ? { active: adoptedPod.name, term: sc.adopted?.term ?? 1 } : {});
        const initial: Observed<ServiceView> = world.putService({ ...base, annotations: { ...base.annotations, ...(sc.failback ? { [KEYS.failback]: 'true' } : {}) } });

        const history: Array<Observed<ServiceView>> = [initial];
        const broken: string[] = [];
        world.onWrite = (w) => {
          history.push(w.after);
          broken.push(...violations(world, w));
        };

        let clock = T0;
        const now = (): number => (clock += 1_000);
        const emitter = new RecordingEmitter();
        const logger = silentLogger();
        const reporters = Array.from({ length: sc.instances }, (_, i) => createReporter({ cluster: new ScheduledCluster(world, s, `i${i} evidence`), emitter, logger, keys: KEYS, now }));

        for (const f of sc.flips) {
          const pod = pods[f.pod % pods.length];
          if (pod) void s.schedule(Promise.resolve(`flip ${pod.name} ${f.ready}`)).then(() => world.setReady(NS, pod.name, f.ready, clock));
        }
        const perReconcile: ScheduledCluster[] = [];
        const runs = sc.events.map((e, n) => {
          const instance = e.instance % sc.instances;
          const cluster = new ScheduledCluster(world, s, `i${instance} e${n}`);
          perReconcile.push(cluster);
          const reporter = reporters[instance];
          if (!reporter) throw new Error('no reporter');
          return s.schedule(Promise.resolve(`start e${n}`)).then(() => {
            const copy = history[Math.max(0, history.length - 1 - e.back)] ?? initial;
            const hint = e.hint === 'none' ? undefined : { service: copy, fresh: e.hint === 'read' };
            return reconcile({ cluster, keys: KEYS, logger, reporter, conflictRetries: sc.conflictRetries, now, ownWrites: NO_ECHOES }, { namespace: NS, name: 'web' }, hint);
          });
        });
        const results = await s.waitFor(Promise.all(runs));
        await s.waitAll();

        assert.deepEqual(broken, []);
        for (const r of results) assert.ok(OUTCOMES.has(r.outcome), `unexpected outcome ${r.outcome}: ${r.detail}`);
        for (const c of perReconcile) {
          assert.ok(c.written.length <= 1, `one reconcile wrote ${c.written.length} times`);
        }
        // One chain: each write was based on the state the previous one left.
        world.writes.forEach((w, i) => assert.equal(w.precondition, i === 0 ? initial.resourceVersion : world.writes[i - 1]?.after.resourceVersion));
        // Audit ids are per term: never two different targets under one id.
        const promoted = new Map<string, string>();
        for (const d of emitter.drafts) {
          if (d.type !== PROMOTED) continue;
          const to = JSON.stringify(d.data.to);
          assert.equal(promoted.get(d.id) ?? to, to, `audit id ${d.id} names two targets`);
          promoted.set(d.id, to);
        }
        const switches = world.writes.filter((w) => w.after.selector[KEYS.podId] !== w.before.selector[KEYS.podId] && w.after.selector[KEYS.podId] !== NO_POD).length;
        assert.equal(promoted.size, switches, 'one promoted audit event per switch');

        // Converges: one more quiet reconcile leaves traffic on a healthy pod if there is one.
        const final = await reconcile({ cluster: world, keys: KEYS, logger, reporter: reporters[0] ?? createReporter({ cluster: world, emitter, logger, keys: KEYS, now }), conflictRetries: 0, now, ownWrites: NO_ECHOES }, { namespace: NS, name: 'web' });
        assert.deepEqual(broken, []);
        const selected = world.service(NS, 'web').selector[KEYS.podId];
        const healthy = world.allPods().filter(isHealthy);
        if (healthy.length > 0) {
          assert.ok(['steady', 'switched'].includes(final.outcome), final.detail);
          assert.ok(healthy.some((p) => p.uid === selected), `selects ${selected}, healthy: ${healthy.map((p) => p.name).join(', ')}`);
        } else {
          assert.equal(final.outcome, 'unavailable');
        }

        totals.conflicts += world.conflicts.length;
        totals.writes += world.writes.length;
        if (switches >= 2) totals.switchesInOneRun += 1;
      }),
      { numRuns: 200 },
    );
  });
});
