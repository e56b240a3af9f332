// The hook annotations, read (tables and properties), and the hook calls a switch plans.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decide } from '../../../../../functions/failover/core/decide.js';
import { MAX_HOOK_PATH_LENGTH, parseHookTarget } from '../../../../../functions/failover/core/hooks.js';
import type { Plan, PodView } from '../../../../../functions/failover/core/model.js';
import { readSettings } from '../../../../../functions/failover/core/settings.js';
import { arbWorld, RUNS } from './decide.arbitraries.js';
import { NO_HOOKS } from './hooks.fixtures.js';
import { keys, NOW, pod, service } from './fixtures.js';

const settingsOf = (annotations: Record<string, string>) => readSettings(service({ annotations }), keys);

describe('hook annotations', () => {
  it('a Service without them has no hooks, a 2 s timeout, 2 retries and policy continue', () => {
    const read = settingsOf({});
    assert.ok(read.ok);
    assert.deepEqual(read.settings.hooks, NO_HOOKS);
  });

  it('reads every hook setting', () => {
    const read = settingsOf({ [keys.promoteHook]: '8080/promote', [keys.demoteHook]: '9000/admin/demote%20now', [keys.hookTimeout]: '1500ms', [keys.hookRetries]: '0', [keys.demotePolicy]: 'abort' });
    assert.ok(read.ok);
    assert.deepEqual(read.settings.hooks, { promote: { port: 8080, path: '/promote' }, demote: { port: 9000, path: '/admin/demote%20now' }, timeoutMs: 1_500, retries: 0, demotePolicy: 'abort' });
  });

  const targets: ReadonlyArray<readonly [string, { port: number; path: string } | undefined]> = [
    ['8080/promote', { port: 8080, path: '/promote' }],
    ['1/', { port: 1, path: '/' }],
    ['65535/a/b;c=d', { port: 65535, path: '/a/b;c=d' }],
    [`80/${'x'.repeat(MAX_HOOK_PATH_LENGTH - 1)}`, { port: 80, path: `/${'x'.repeat(MAX_HOOK_PATH_LENGTH - 1)}` }],
    [`80/${'x'.repeat(MAX_HOOK_PATH_LENGTH)}`, undefined],
    ['', undefined],
    ['/promote', undefined],
    ['8080', undefined],
    ['0/x', undefined],
    ['65536/x', undefined],
    ['08080/x', undefined],
    ['-1/x', undefined],
    [' 8080/x', undefined],
    ['http://10.0.0.1:8080/x', undefined],
    ['10.0.0.1:8080/x', undefined],
    ['8080/a?b=1', undefined],
    ['8080/a#b', undefined],
    ['8080/a b', undefined],
    ['8080/%zz', undefined],
    ['8080/%2', undefined],
    ['8080/a\\b', undefined],
    ['8080/é', undefined],
  ];
  for (const [text, expected] of targets) {
    it(`target ${JSON.stringify(text.length > 40 ? `${text.slice(0, 20)}… (${text.length})` : text)} → ${expected ? `${expected.port} ${expected.path.slice(0, 20)}` : 'refused'}`, () => {
      assert.deepEqual(parseHookTarget(text), expected);
      const read = settingsOf({ [keys.promoteHook]: text });
      assert.equal(read.ok, expected !== undefined);
      if (!read.ok) assert.deepEqual(read.problems.map((p) => [p.key, p.value]), [[keys.promoteHook, text]]);
    });
  }

  const others: ReadonlyArray<readonly [string, string, boolean]> = [
    [keys.hookTimeout, '30s', true],
    [keys.hookTimeout, '1ms', true],
    [keys.hookTimeout, '31s', false],
    [keys.hookTimeout, '0', false],
    [keys.hookTimeout, '2', false],
    [keys.hookTimeout, 'soon', false],
    [keys.hookRetries, '5', true],
    [keys.hookRetries, '6', false],
    [keys.hookRetries, '-1', false],
    [keys.hookRetries, '01', false],
    [keys.hookRetries, '', false],
    [keys.demotePolicy, 'continue', true],
    [keys.demotePolicy, 'Abort', false],
    [keys.demotePolicy, '', false],
  ];
  for (const [key, value, ok] of others) {
    it(`${key.split('/')[1]} ${JSON.stringify(value)} is ${ok ? 'accepted' : 'refused'}`, () => {
      const read = settingsOf({ [key]: value });
      assert.equal(read.ok, ok);
      if (!read.ok) assert.deepEqual(read.problems.map((p) => [p.key, p.value]), [[key, value]]);
    });
  }

  it('every bad hook annotation is reported at once, beside the other settings', () => {
    const read = settingsOf({ [keys.promoteHook]: 'x', [keys.demoteHook]: '80', [keys.hookRetries]: '9', [keys.failback]: 'yes' });
    assert.equal(read.ok, false);
    if (!read.ok) assert.deepEqual(read.problems.map((p) => p.key).sort(), [keys.demoteHook, keys.failback, keys.hookRetries, keys.promoteHook].sort());
  });

  it('a follower may not have hooks (its leader calls them)', () => {
    const read = settingsOf({ [keys.follow]: 'db', [keys.demoteHook]: '8080/demote' });
    assert.equal(read.ok, false);
    if (!read.ok) assert.deepEqual(read.problems.map((p) => p.key), [keys.demoteHook]);
  });

  it('property: a target is accepted exactly when it is <1..65535>/<path chars>, at most 256 of them, and reads back as written', () => {
    const pathChar = fc.constantFrom(...'abcXYZ019-._~!$&\'()*+,;=:@/'.split(''), '%2F', '%aa');
    const anyChar = fc.constantFrom('a', '/', '?', '#', ' ', '%', '%g0', '\\', '"', '<', 'é', '\n');
    fc.assert(
      fc.property(fc.integer({ min: -5, max: 70_000 }), fc.array(fc.oneof(pathChar, anyChar), { maxLength: 300 }), (port, parts) => {
        const path = `/${parts.join('')}`;
        const text = `${port}${path}`;
        const parsed = parseHookTarget(text);
        const valid = port >= 1 && port <= 65535 && path.length <= MAX_HOOK_PATH_LENGTH && /^\/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*$/.test(path);
        assert.equal(parsed !== undefined, valid, text);
        if (parsed) assert.equal(`${parsed.port}${parsed.path}`, text);
      }),
      RUNS,
    );
  });
});

const withIp = (p: PodView, ip: string): PodView => ({ ...p, ips: [ip] });
type Switch = Extract<Plan, { kind: 'switch' }>;
const asSwitch = (plan: Plan): Switch => {
  assert.equal(plan.kind, 'switch', JSON.stringify(plan));
  return plan;
};

describe('the hook calls a switch plans', () => {
  const hooks = { [keys.promoteHook]: '8080/promote', [keys.demoteHook]: '8080/demote' };
  const a = withIp(pod('a', { role: 'active' }), '10.0.0.1');
  const b = withIp(pod('b', { role: 'standby', priority: '10' }), '10.0.0.2');

  it('a switchover from a healthy active: demote the old active, promote the new, both naming the new term', () => {
    const plan = asSwitch(decide({ service: service({ active: a, term: 4, annotations: { ...hooks, [keys.switchoverTo]: 'b', [keys.demotePolicy]: 'abort' } }), pods: [a, b], keys, now: NOW }).plan);
    assert.equal(plan.term, 5);
    assert.deepEqual(plan.demote?.call, { hook: 'demote', pod: { name: 'a', uid: a.uid }, ip: '10.0.0.1', unreachable: undefined, port: 8080, path: '/demote', timeoutMs: 2_000, retries: 2, body: { service: 'shop/web', term: 5, role: 'standby' } });
    assert.equal(plan.demote?.policy, 'abort');
    assert.equal(plan.demote?.onAbort.kind, 'refuse-switchover');
    assert.deepEqual(plan.demote?.onAbort.kind === 'refuse-switchover' && plan.demote.onAbort.service.annotations, { [keys.switchoverTo]: null });
    assert.deepEqual(plan.promote, { hook: 'promote', pod: { name: 'b', uid: b.uid }, ip: '10.0.0.2', unreachable: undefined, port: 8080, path: '/promote', timeoutMs: 2_000, retries: 2, body: { service: 'shop/web', term: 5, role: 'active' } });
  });

  it('a failback demotes too, and under abort is held instead', () => {
    const plan = asSwitch(decide({ service: service({ active: a, annotations: { ...hooks, [keys.failback]: 'true' } }), pods: [a, b], keys, now: NOW }).plan);
    assert.equal(plan.reason, 'failback');
    assert.equal(plan.demote?.call.pod.name, 'a');
    assert.equal(plan.demote?.policy, 'continue');
    assert.equal(plan.demote?.onAbort.kind, 'hold');
  });

  it('a failover never demotes (the old active is unhealthy), and still promotes', () => {
    const sick = { ...a, ready: false, readySince: undefined };
    const plan = asSwitch(decide({ service: service({ active: sick, annotations: hooks }), pods: [sick, b], keys, now: NOW }).plan);
    assert.equal(plan.reason, 'failover');
    assert.equal(plan.demote, undefined);
    assert.equal(plan.promote?.pod.name, 'b');
  });

  it('a switchover away from an unhealthy active does not demote it', () => {
    const sick = { ...a, ready: false, readySince: undefined };
    const plan = asSwitch(decide({ service: service({ active: sick, annotations: { ...hooks, [keys.switchoverTo]: 'b' } }), pods: [sick, b], keys, now: NOW }).plan);
    assert.equal(plan.reason, 'switchover');
    assert.equal(plan.demote, undefined);
  });

  it('adoption promotes and demotes nobody; no annotations, no calls', () => {
    const fresh = [withIp(pod('a'), '10.0.0.1'), withIp(pod('b'), '10.0.0.2')];
    const plan = asSwitch(decide({ service: service({ annotations: hooks }), pods: fresh, keys, now: NOW }).plan);
    assert.equal(plan.demote, undefined);
    assert.equal(plan.promote?.body.term, 1);
    const bare = asSwitch(decide({ service: service({ active: a, annotations: { [keys.switchoverTo]: 'b' } }), pods: [a, b], keys, now: NOW }).plan);
    assert.deepEqual([bare.demote, bare.promote], [undefined, undefined]);
  });

  it('a pod on the host network or without an IP gets no address, and the plan says why', () => {
    const host = { ...b, hostNetwork: true };
    const plan = asSwitch(decide({ service: service({ active: a, annotations: { ...hooks, [keys.switchoverTo]: 'b' } }), pods: [a, host], keys, now: NOW }).plan);
    assert.equal(plan.promote?.ip, undefined);
    assert.match(plan.promote?.unreachable ?? '', /host network/);
    const bare = { ...b, ips: [] };
    const plan2 = asSwitch(decide({ service: service({ active: a, annotations: { ...hooks, [keys.switchoverTo]: 'b' } }), pods: [a, bare], keys, now: NOW }).plan);
    assert.match(plan2.promote?.unreachable ?? '', /no IP/);
  });

  it('property: promote always targets the new active, demote only a healthy old active of a planned switch, both with the plan\'s term', () => {
    fc.assert(
      fc.property(arbWorld(), fc.constantFrom('continue', 'abort'), (world, policy) => {
        const annotations = { ...world.service.annotations, ...hooks, [keys.demotePolicy]: policy };
        const pods = world.pods.map((p, i) => withIp(p, `10.0.0.${i + 1}`));
        const { plan } = decide({ service: { ...world.service, annotations }, pods, keys, now: world.now });
        if (plan.kind !== 'switch') return;
        assert.deepEqual([plan.promote?.pod, plan.promote?.body], [plan.to, { service: `${world.service.namespace}/${world.service.name}`, term: plan.term, role: 'active' }]);
        assert.equal(plan.promote?.ip, pods.find((p) => p.uid === plan.to.uid)?.ips?.[0]);
        if (plan.demote === undefined) return;
        assert.ok(plan.reason === 'switchover' || plan.reason === 'failback', plan.reason);
        const old = pods.find((p) => p.uid === plan.demote?.call.pod.uid);
        assert.ok(old && old.uid !== plan.to.uid && old.phase === 'Running' && old.ready && !old.deleting);
        assert.equal(plan.demote.call.pod.uid, plan.from?.uid);
        assert.deepEqual(plan.demote.call.body, { service: `${world.service.namespace}/${world.service.name}`, term: plan.term, role: 'standby' });
        assert.equal(plan.demote.policy, policy);
        assert.equal(plan.demote.onAbort.kind, plan.reason === 'switchover' ? 'refuse-switchover' : 'hold');
      }),
      RUNS,
    );
  });
});

describe('promote until acknowledged', () => {
  const hooked = { [keys.promoteHook]: '8080/promote' };
  const active = { ...pod('a', { role: 'active' }), ips: ['10.0.0.1'] };
  const standby = pod('b', { role: 'standby', priority: '10' });
  const planFor = (annotations: Record<string, string>, pods: readonly PodView[] = [active, standby]): Plan => decide({ service: service({ active, term: 3, annotations }), pods, keys, now: NOW }).plan;
  const promoteOf = (plan: Plan) => (plan.kind === 'steady' || plan.kind === 'hold' ? plan.promote : undefined);

  const rows: ReadonlyArray<readonly [string, Record<string, string>, string | undefined]> = [
    ['no acknowledgement on the record: promote the active for the current term', hooked, 'a@3'],
    ['an acknowledgement of an older term', { ...hooked, [keys.promotedTerm]: '2' }, 'a@3'],
    ['the current term acknowledged: nothing', { ...hooked, [keys.promotedTerm]: '3' }, undefined],
    ['an unreadable acknowledgement counts as none', { ...hooked, [keys.promotedTerm]: '03' }, 'a@3'],
    ['no promote hook: nothing', {}, undefined],
    ['a held failback still promotes the active it keeps', { ...hooked, [keys.failback]: 'true', [keys.minSwitchInterval]: '1h', [keys.switchedAt]: new Date(NOW - 1_000).toISOString() }, 'a@3'],
  ];
  for (const [name, annotations, want] of rows) {
    it(name, () => {
      const call = promoteOf(planFor(annotations));
      assert.equal(call === undefined ? undefined : `${call.pod.name}@${call.body.term}`, want);
      if (call) assert.equal(call.body.role, 'active');
    });
  }

  it('a record that names another pod as the active of the term asks for no promote (a hand edit is not a term of this pod)', () => {
    const plan = decide({ service: service({ active, term: 3, annotations: { ...hooked, [keys.activeUid]: 'uid-zzz' } }), pods: [active, standby], keys, now: NOW }).plan;
    assert.equal(promoteOf(plan), undefined);
  });

  it('a switch removes an older acknowledgement; an aborting demote plans the old active\'s promote for the current term', () => {
    const plan = planFor({ ...hooked, [keys.demoteHook]: '8080/demote', [keys.demotePolicy]: 'abort', [keys.switchoverTo]: 'b', [keys.promotedTerm]: '3' });
    assert.ok(plan.kind === 'switch');
    assert.equal(plan.service.annotations[keys.promotedTerm], null);
    assert.deepEqual([plan.demote?.restore?.pod.name, plan.demote?.restore?.body.term, plan.demote?.restore?.body.role], ['a', 3, 'active']);
    const continuing = planFor({ ...hooked, [keys.demoteHook]: '8080/demote', [keys.switchoverTo]: 'b' });
    assert.ok(continuing.kind === 'switch' && continuing.demote?.restore === undefined);
  });
});

describe('after a demote failed under abort', () => {
  const active = { ...pod('a', { role: 'active' }), ips: ['10.0.0.1'], nodeName: 'n1' };
  const standby = { ...pod('b', { role: 'standby', priority: '10' }), nodeName: 'n2' };
  const failedAgo = (ms: number) => ({ [keys.demoteHook]: '8080/demote', [keys.demotePolicy]: 'abort', [keys.demoteFailedAt]: new Date(NOW - ms).toISOString() });
  const kindOf = (annotations: Record<string, string>, cordoned: readonly string[] = []): string => {
    const plan = decide({ service: service({ active, annotations }), pods: [active, standby], keys, now: NOW, cordoned: new Set(cordoned) }).plan;
    return plan.kind === 'hold' ? `hold ${plan.retryAfterMs}` : plan.kind === 'switch' ? `switch ${plan.reason}` : plan.kind;
  };
  const rows: ReadonlyArray<readonly [string, Record<string, string>, readonly string[], string]> = [
    ['a failback waits out the rest of the 10 s', { ...failedAgo(4_000), [keys.failback]: 'true' }, [], 'hold 6000'],
    ['a failback is tried again after it', { ...failedAgo(10_000), [keys.failback]: 'true' }, [], 'switch failback'],
    ['a move off a cordoned node waits as well', failedAgo(1_000), ['n1'], 'hold 9000'],
    ['a mark from the future counts as just now, never longer', { ...failedAgo(-60_000), [keys.failback]: 'true' }, [], 'hold 10000'],
    ['once the policy is continue, a failback is not held', { ...failedAgo(1_000), [keys.demotePolicy]: 'continue', [keys.failback]: 'true' }, [], 'switch failback'],
    ['a manual switchover is not held (it is consumed either way)', { ...failedAgo(1_000), [keys.switchoverTo]: 'b' }, [], 'switch switchover'],
    ['with nothing to move, the mark changes nothing', failedAgo(1_000), [], 'steady'],
  ];
  for (const [name, annotations, cordoned, want] of rows) it(name, () => assert.equal(kindOf(annotations, cordoned), want));

  it('a switch clears the mark', () => {
    const plan = decide({ service: service({ active, annotations: { ...failedAgo(60_000), [keys.failback]: 'true' } }), pods: [active, standby], keys, now: NOW }).plan;
    assert.ok(plan.kind === 'switch');
    assert.equal(plan.service.annotations[keys.demoteFailedAt], null);
  });
});
