// Promote is level-triggered: the record names the term whose promote the active
// acknowledged, and every look at a Service whose active lacks that acknowledgement calls
// the promote hook again, with a back-off between looks. A demote that failed under
// abort withdraws the acknowledgement, so the old active, still the active, is told so.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PodView } from '../../../../functions/failover/core/model.js';
import type { FetchLike } from '../../../../functions/failover/hooks.js';
import { reconcile } from '../../../../functions/failover/reconcile.js';
import { HOOK } from '../../../../shared/audit/schemas.js';
import { FakeCluster } from './fake-cluster.js';
import { TransientError } from '../../../../shared/k8s/errors.js';
import { CONTEXT, flush, KEYS, makePod, makeService, NS, podEvent, rig, serviceEvent, uidOf, type Rig } from './world.js';
import { createFailoverHandler } from '../../../../functions/failover/handler.js';

const REF = { namespace: NS, name: 'web' };
// Written literally: the key is new, and these tests were written before it existed.
const PROMOTED = 'baton.dev/promoted-term';
const withIp = (pod: PodView): PodView => ({ ...pod, ips: [`10.0.0.${Number(pod.name.slice(-1)) + 1}`] });

interface Hooks {
  /** Status each hook answers, by hook, changeable between looks. */
  status: { promote: number; demote: number };
  /** While set, every call waits for it before answering. */
  wait: Promise<void> | undefined;
  readonly calls: Array<{ hook: string; pod: string; term: number }>;
}

function world(annotations: Record<string, string>, web0Ready = true): { cluster: FakeCluster; r: Rig; hooks: Hooks; look: () => Promise<string> } {
  const cluster = new FakeCluster();
  cluster.putPod(withIp(makePod('web-0', { role: 'active', ready: web0Ready })));
  cluster.putPod(withIp(makePod('web-1', { role: 'standby', priority: '10' })));
  cluster.putService(makeService({ active: 'web-0', annotations: { [KEYS.promoteHook]: '8080/promote', [KEYS.demoteHook]: '8080/demote', [KEYS.hookRetries]: '0', ...annotations } }));
  const r = rig(cluster);
  const hooks: Hooks = { status: { promote: 200, demote: 200 }, wait: undefined, calls: [] };
  const fetch: FetchLike = (url, init) => {
    const hook = url.endsWith('/demote') ? 'demote' : 'promote';
    const body = JSON.parse(typeof init.body === 'string' ? init.body : '{}') as { term: number };
    const pod = url.includes('10.0.0.1:') ? 'web-0' : 'web-1';
    hooks.calls.push({ hook, pod, term: body.term });
    const status = hooks.status[hook];
    return (hooks.wait ?? Promise.resolve()).then(() => new Response(null, { status }));
  };
  const look = async (): Promise<string> => {
    const result = await reconcile({ ...r.deps, hooks: { fetch, sleep: () => Promise.resolve() } }, REF);
    await flush();
    return result.outcome;
  };
  return { cluster, r, hooks, look };
}

const promotes = (hooks: Hooks): string[] => hooks.calls.filter((c) => c.hook === 'promote').map((c) => `${c.pod}@${c.term}`);

describe('promote, level-triggered', () => {
  it('a promote that failed at the switch is called again at a later look, and not again once acknowledged', async () => {
    const { cluster, r, hooks, look } = world({}, false);
    hooks.status.promote = 500;
    assert.equal(await look(), 'switched');
    assert.deepEqual(promotes(hooks), ['web-1@2']);
    assert.equal(cluster.service(NS, 'web').annotations[PROMOTED], undefined);
    // The pod's hook works again; a look after the back-off calls it once more.
    hooks.status.promote = 200;
    r.clock.now += 60_000;
    assert.equal(await look(), 'steady');
    assert.deepEqual(promotes(hooks), ['web-1@2', 'web-1@2']);
    assert.equal(cluster.service(NS, 'web').annotations[PROMOTED], '2');
    r.clock.now += 60_000;
    assert.equal(await look(), 'steady');
    assert.deepEqual(promotes(hooks), ['web-1@2', 'web-1@2'], 'no call once the term is acknowledged');
  });

  it('a promote that answered at the switch is acknowledged on the record, and later looks leave the pod alone', async () => {
    const { cluster, r, hooks, look } = world({}, false);
    await look();
    assert.equal(cluster.service(NS, 'web').annotations[PROMOTED], '2');
    r.clock.now += 60_000;
    await look();
    assert.deepEqual(promotes(hooks), ['web-1@2']);
  });

  it('a broken promote hook is not hammered: looks within the back-off make no call, and the back-off grows', async () => {
    const { r, hooks, look } = world({}, false);
    hooks.status.promote = 500;
    await look();
    for (let i = 0; i < 5; i++) await look();
    assert.deepEqual(promotes(hooks), ['web-1@2'], 'looks at the same instant');
    const times: number[] = [];
    for (let t = 1; t <= 600; t++) {
      r.clock.now += 1_000;
      const before = promotes(hooks).length;
      await look();
      if (promotes(hooks).length > before) times.push(t);
    }
    assert.ok(times.length >= 3 && times.length <= 8, `calls at ${times.join(', ')} s`);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    assert.ok(gaps.every((g, i) => i === 0 || g >= gaps[i - 1]!), `gaps grow: ${gaps.join(', ')}`);
  });

  it('a demote that fails under abort promotes the old active again, for the current term', async () => {
    const { cluster, hooks, look } = world({ [KEYS.switchoverTo]: 'web-1', [KEYS.demotePolicy]: 'abort', [PROMOTED]: '1' });
    hooks.status.demote = 500;
    assert.equal(await look(), 'refused');
    assert.deepEqual(hooks.calls.map((c) => `${c.hook} ${c.pod}@${c.term}`), ['demote web-0@2', 'promote web-0@1']);
    // Withdrawn with the refusal (one write), then acknowledged again by the answer to that promote.
    assert.deepEqual(cluster.writes.map((w) => [w.after.annotations[KEYS.switchoverTo], w.after.annotations[PROMOTED]]), [[undefined, undefined], [undefined, '1']]);
    assert.equal(cluster.service(NS, 'web').annotations[PROMOTED], '1');
    assert.equal(cluster.service(NS, 'web').annotations[KEYS.term], '1');
  });

  it('a held failback whose demote failed under abort: the old active is promoted again, and acknowledged only when it answers', async () => {
    const { cluster, r, hooks, look } = world({ [KEYS.failback]: 'true', [KEYS.demotePolicy]: 'abort', [PROMOTED]: '1' });
    hooks.status.demote = 500;
    hooks.status.promote = 503;
    assert.equal(await look(), 'held');
    assert.deepEqual(hooks.calls.map((c) => `${c.hook} ${c.pod}@${c.term}`), ['demote web-0@2', 'promote web-0@1']);
    assert.equal(cluster.service(NS, 'web').annotations[PROMOTED], undefined, 'the acknowledgement is withdrawn');
    const events = r.emitter.drafts.filter((d) => d.type === HOOK).map((d) => [d.data.hook, d.data.outcome]);
    assert.deepEqual(events, [['demote', 'failed'], ['promote', 'failed']]);
  });

  it('a promote answered but not recorded (the write failed) is not called again at once, only after a pause', async () => {
    const { cluster, r, hooks, look } = world({}, false);
    // The second Service write, the acknowledgement, fails for good this time.
    cluster.inject({ method: 'patchService', nth: 2, action: { kind: 'throw', error: () => new TransientError('etcdserver: request timed out', 503) } });
    assert.equal(await look(), 'switched');
    assert.equal(cluster.service(NS, 'web').annotations[PROMOTED], undefined);
    await look();
    assert.deepEqual(promotes(hooks), ['web-1@2'], 'called again within the same instant');
    r.clock.now += 60_000;
    await look();
    assert.deepEqual(promotes(hooks), ['web-1@2', 'web-1@2']);
    assert.equal(cluster.service(NS, 'web').annotations[PROMOTED], '2');
  });

  it('an acknowledgement for a term the Service has left is not written', async () => {
    const { cluster, hooks, look } = world({}, false);
    let answer: () => void = () => undefined;
    hooks.wait = new Promise<void>((resolve) => (answer = resolve));
    assert.equal(await look(), 'switched');
    // While web-1's promote for term 2 is in flight, another writer moves the Service to term 3.
    cluster.bumpService(NS, 'web', (s) => ({ annotations: { ...s.annotations, [KEYS.term]: '3' } }));
    const writes = cluster.writes.length;
    answer();
    await flush();
    await flush();
    assert.deepEqual(promotes(hooks), ['web-1@2']);
    assert.equal(cluster.writes.length, writes, 'no acknowledgement written');
    assert.equal(cluster.service(NS, 'web').annotations[PROMOTED], undefined);
    // It read again after its guarded write lost, and found the term moved on.
    assert.ok(cluster.conflicts.some((c) => c.method === 'patchService'));
  });
});

describe('promote, level-triggered: two instances', () => {
  it('a failback held by a failed demote does not set off a loop of looks between instances', async () => {
    // Each Service write one instance makes reaches the other as an event (the adapter
    // sends each event to one instance). Before the fix, the withdrawal and the
    // acknowledgement were writes, each looked at by the other instance, whose look tried
    // the failback again: demote, fail, withdraw, promote, acknowledge, and so on.
    const cluster = new FakeCluster();
    cluster.putPod(withIp(makePod('web-0', { role: 'active' })));
    cluster.putPod(withIp(makePod('web-1', { role: 'standby', priority: '10' })));
    cluster.putService(makeService({ active: 'web-0', annotations: { [KEYS.promoteHook]: '8080/promote', [KEYS.demoteHook]: '8080/demote', [KEYS.hookRetries]: '0', [KEYS.failback]: 'true', [KEYS.demotePolicy]: 'abort', [PROMOTED]: '1' } }));
    let demotes = 0;
    const fetch: FetchLike = (url) => {
      if (url.endsWith('/demote')) demotes += 1;
      return Promise.resolve(new Response(null, { status: url.endsWith('/demote') ? 500 : 200 }));
    };
    const instances = [rig(cluster), rig(cluster)].map((r) => {
      r.index.observe(cluster.service(NS, 'web'));
      return { r, handle: createFailoverHandler({ ...r.deps, hooks: { fetch, sleep: () => Promise.resolve() } }) };
    });
    // The first look, by instance 0, prompted by the standby's priority change.
    await instances[0]!.handle(podEvent(cluster.pod(NS, 'web-1')!), CONTEXT);
    await flush();
    let seen = 0;
    for (let round = 1; round <= 12; round++) {
      const fresh = cluster.writes.slice(seen);
      seen = cluster.writes.length;
      if (fresh.length === 0) break;
      // Every write so far reaches the other instance of the one that made the last look.
      for (const w of fresh) await instances[round % 2]!.handle(serviceEvent(w.after), CONTEXT);
      await flush();
    }
    assert.ok(demotes <= 2, `${demotes} demote calls at one instant, ${cluster.writes.length} Service writes`);
    assert.equal(cluster.service(NS, 'web').selector[KEYS.podId], uidOf('web-0'));
  });
});
