// The hooks around a switch, as reconcile does them: demote before the Service write,
// promote after it, and what a failed demote does under each policy.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PodView } from '../../../../functions/failover/core/model.js';
import type { FetchLike } from '../../../../functions/failover/hooks.js';
import { reconcile } from '../../../../functions/failover/reconcile.js';
import { HOOK, SWITCHOVER, SWITCHOVER_REFUSED } from '../../../../shared/audit/schemas.js';
import { FakeCluster } from './fake-cluster.js';
import { flush, KEYS, makePod, makeService, NS, rig, uidOf } from './world.js';

const REF = { namespace: NS, name: 'web' };
const ip = (name: string): string => `10.0.0.${Number(name.slice(-1)) + 1}`;
const withIp = (pod: PodView): PodView => ({ ...pod, ips: [ip(pod.name)] });

interface Setup {
  readonly annotations: Record<string, string>;
  /** Status the demote hook answers (every attempt). */
  readonly demoteStatus?: number;
  readonly web0Ready?: boolean;
}

async function run(setup: Setup) {
  const cluster = new FakeCluster();
  cluster.putPod(withIp(makePod('web-0', { role: 'active', ready: setup.web0Ready ?? true })));
  cluster.putPod(withIp(makePod('web-1', { role: 'standby', priority: '10' })));
  cluster.putService(makeService({ active: 'web-0', annotations: { [KEYS.promoteHook]: '8080/promote', [KEYS.demoteHook]: '8080/demote', ...setup.annotations } }));
  const r = rig(cluster);
  // Each call, with how many API calls had been made by then: the order against the writes.
  const calls: Array<{ url: string; body: unknown; apiCallsBefore: number }> = [];
  const fetch: FetchLike = (url, init) => {
    calls.push({ url, body: JSON.parse(typeof init.body === 'string' ? init.body : 'null'), apiCallsBefore: cluster.calls.length });
    const status = url.endsWith('/demote') ? (setup.demoteStatus ?? 200) : 200;
    return Promise.resolve(new Response(null, { status }));
  };
  const result = await reconcile({ ...r.deps, hooks: { fetch, sleep: () => Promise.resolve() } }, REF);
  await flush();
  const hooks = r.emitter.drafts.filter((d) => d.type === HOOK).map((d) => d.data);
  const serviceWrites = cluster.calls.map((c, i) => ({ c, i })).filter(({ c }) => c.method === 'patchService').map(({ i }) => i);
  return { cluster, r, result, calls, hooks, serviceWrites };
}

describe('hooks around a switch', () => {
  it('a switchover: demote the old active, then the Service write, then promote the new one', async () => {
    const { result, calls, hooks, serviceWrites, cluster, r } = await run({ annotations: { [KEYS.switchoverTo]: 'web-1' } });
    assert.equal(result.outcome, 'switched');
    assert.deepEqual(calls.map((c) => [c.url, c.body]), [
      [`http://${ip('web-0')}:8080/demote`, { service: `${NS}/web`, term: 2, role: 'standby' }],
      [`http://${ip('web-1')}:8080/promote`, { service: `${NS}/web`, term: 2, role: 'active' }],
    ]);
    // The switch, then (after the promote's answer) its acknowledgement on the record.
    assert.equal(serviceWrites.length, 2);
    assert.ok(calls[0]!.apiCallsBefore <= serviceWrites[0]!, 'demote came after the Service write');
    assert.ok(calls[1]!.apiCallsBefore > serviceWrites[0]!, 'promote came before the Service write');
    assert.ok(calls[1]!.apiCallsBefore <= serviceWrites[1]!, 'the acknowledgement came before the promote');
    assert.equal(cluster.service(NS, 'web').annotations[KEYS.promotedTerm], '2');
    assert.deepEqual(hooks.map((h) => [h.hook, h.pod.name, h.outcome, h.status, h.attempts, h.aborted, h.term]), [
      ['demote', 'web-0', 'ok', 200, 1, false, 2],
      ['promote', 'web-1', 'ok', 200, 1, false, 2],
    ]);
    assert.equal(cluster.service(NS, 'web').selector[KEYS.podId], uidOf('web-1'));
    assert.ok(r.emitter.types().includes(SWITCHOVER));
  });

  it('a failing demote under abort refuses the switchover: nothing routed elsewhere, the request consumed, no promote of the target', async () => {
    const { result, calls, hooks, cluster, r } = await run({ annotations: { [KEYS.switchoverTo]: 'web-1', [KEYS.demotePolicy]: 'abort' }, demoteStatus: 500 });
    assert.equal(result.outcome, 'refused');
    assert.match(result.detail, /demote hook of web-0 failed .*answered 500/);
    // One attempt and two retries; then the old active, which stays, is promoted again
    // for its own term (the demote may have reached it: promotions.ts).
    assert.deepEqual(calls.map((c) => [c.url.split('/').pop(), c.body]), [
      ...Array.from({ length: 3 }, () => ['demote', { service: `${NS}/web`, term: 2, role: 'standby' }]),
      ['promote', { service: `${NS}/web`, term: 1, role: 'active' }],
    ]);
    assert.ok(calls[3]!.url.startsWith(`http://${ip('web-0')}:`));
    const after = cluster.service(NS, 'web');
    assert.equal(after.selector[KEYS.podId], uidOf('web-0'));
    assert.equal(after.annotations[KEYS.switchoverTo], undefined);
    assert.equal(after.annotations[KEYS.term], '1');
    assert.deepEqual(hooks.map((h) => [h.hook, h.outcome, h.status, h.attempts, h.aborted]), [['demote', 'failed', 500, 3, true], ['promote', 'ok', 200, 1, false]]);
    assert.ok(r.emitter.types().includes(SWITCHOVER_REFUSED));
    assert.ok(!r.emitter.types().includes(SWITCHOVER));
  });

  it('a failing demote under continue (the default) switches anyway and says so', async () => {
    const { result, calls, hooks, cluster } = await run({ annotations: { [KEYS.switchoverTo]: 'web-1' }, demoteStatus: 503 });
    assert.equal(result.outcome, 'switched');
    assert.deepEqual(calls.map((c) => c.url.split('/').pop()), ['demote', 'demote', 'demote', 'promote']);
    assert.deepEqual(hooks.map((h) => [h.hook, h.outcome, h.aborted]), [['demote', 'failed', false], ['promote', 'ok', false]]);
    assert.equal(cluster.service(NS, 'web').selector[KEYS.podId], uidOf('web-1'));
  });

  it('a failback whose demote fails under abort is held, routes nothing elsewhere, and tells the old active it stays', async () => {
    const { result, hooks, cluster } = await run({ annotations: { [KEYS.failback]: 'true', [KEYS.demotePolicy]: 'abort' }, demoteStatus: 500 });
    assert.equal(result.outcome, 'held');
    // The failure recorded (automatic planned switches wait after it), then the
    // acknowledgement of web-0's renewed promote for term 1; web-0 routed throughout.
    assert.deepEqual(cluster.writes.map((w) => [w.after.selector[KEYS.podId], w.after.annotations[KEYS.term], w.after.annotations[KEYS.promotedTerm], typeof w.after.annotations[KEYS.demoteFailedAt]]), [
      [uidOf('web-0'), '1', undefined, 'string'],
      [uidOf('web-0'), '1', '1', 'string'],
    ]);
    assert.deepEqual(hooks.map((h) => [h.hook, h.pod.name, h.aborted]), [['demote', 'web-0', true], ['promote', 'web-0', false]]);
  });

  it('a failover never calls demote, and promotes after the write', async () => {
    const { result, calls, serviceWrites } = await run({ annotations: { [KEYS.demotePolicy]: 'abort' }, web0Ready: false, demoteStatus: 500 });
    assert.equal(result.outcome, 'switched');
    assert.deepEqual(calls.map((c) => c.url), [`http://${ip('web-1')}:8080/promote`]);
    assert.ok(calls[0]!.apiCallsBefore > serviceWrites[0]!);
  });

  it('a failing promote is reported and changes nothing', async () => {
    const cluster = new FakeCluster();
    cluster.putPod(withIp(makePod('web-0', { role: 'active', ready: false })));
    cluster.putPod(withIp(makePod('web-1', { role: 'standby' })));
    cluster.putService(makeService({ active: 'web-0', annotations: { [KEYS.promoteHook]: '8080/promote', [KEYS.hookRetries]: '1' } }));
    const r = rig(cluster);
    const fetch: FetchLike = () => Promise.reject(new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) }));
    const result = await reconcile({ ...r.deps, hooks: { fetch, sleep: () => Promise.resolve() } }, REF);
    await flush();
    assert.equal(result.outcome, 'switched');
    const hooks = r.emitter.drafts.filter((d) => d.type === HOOK).map((d) => d.data);
    assert.deepEqual(hooks.map((h) => [h.hook, h.outcome, h.status, h.attempts, h.detail]), [['promote', 'failed', null, 2, `POST http://${ip('web-1')}:8080/promote failed: ECONNREFUSED`]]);
    assert.equal(cluster.service(NS, 'web').selector[KEYS.podId], uidOf('web-1'));
  });
});
