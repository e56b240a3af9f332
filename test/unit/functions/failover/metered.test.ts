import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { detectionMs, meteredReporter } from '../../../../functions/failover/metered.js';
import { createMetrics } from '../../../../shared/metrics/metrics.js';
import { FakeCluster } from './fake-cluster.js';
import { flush, KEYS, makeService, rig } from './world.js';
import type { Plan, PodView } from '../../../../functions/failover/core/model.js';
import { NOW, pod, uidOf } from './core/fixtures.js';

type SwitchPlan = Extract<Plan, { kind: 'switch' }>;

const plan = (reason: SwitchPlan['reason'], from: string | undefined, to: string): SwitchPlan => ({
  kind: 'switch',
  reason,
  from: from === undefined ? undefined : { name: from, uid: uidOf(from) },
  to: { name: to, uid: uidOf(to) },
  term: 2,
  prerequisites: [],
  service: { selector: {}, annotations: {} },
  podWrites: [],
  demote: undefined,
  promote: undefined,
});

const notReadySince = (name: string, at: number): PodView => ({ ...pod(name, { ready: false }), readyChangedAt: at });
const readySince = (name: string, at: number): PodView => ({ ...pod(name, { readySince: at }), readyChangedAt: at });

describe('detectionMs: no ready active while a healthy candidate existed, up to the decision', () => {
  const rows: Array<[string, SwitchPlan, PodView[], number | undefined]> = [
    ['old active not ready for 2 s, candidate ready long before', plan('failover', 'a', 'b'), [notReadySince('a', NOW - 2_000), readySince('b', NOW - 60_000)], 2_000],
    ['the candidate turned ready after the active failed: the span starts then', plan('failover', 'a', 'b'), [notReadySince('a', NOW - 5_000), readySince('b', NOW - 1_000)], 1_000],
    ['not a failover', plan('switchover', 'a', 'b'), [notReadySince('a', NOW - 2_000), readySince('b', NOW - 60_000)], undefined],
    ['the first active: nothing was lost', plan('initial', undefined, 'b'), [readySince('b', NOW - 60_000)], undefined],
    ['old active gone from the list (deleted)', plan('failover', 'a', 'b'), [readySince('b', NOW - 60_000)], undefined],
    ['old active still ready (deleting, failed phase)', plan('failover', 'a', 'b'), [readySince('a', NOW - 9_000), readySince('b', NOW - 60_000)], undefined],
    ['no transition time on the condition', plan('failover', 'a', 'b'), [pod('a', { ready: false }), readySince('b', NOW - 60_000)], undefined],
    ['a condition time ahead of the decision clock counts as 0, not negative', plan('failover', 'a', 'b'), [notReadySince('a', NOW + 700), readySince('b', NOW - 60_000)], 0],
  ];
  for (const [name, p, pods, want] of rows) {
    it(name, () => assert.equal(detectionMs(p, pods, NOW), want));
  }

  it('is never negative and never longer than since the old active turned not ready', () => {
    fc.assert(
      fc.property(fc.integer({ min: -100_000, max: 100_000 }), fc.integer({ min: -100_000, max: 100_000 }), (lost, ready) => {
        const ms = detectionMs(plan('failover', 'a', 'b'), [notReadySince('a', NOW + lost), readySince('b', NOW + ready)], NOW);
        assert.ok(ms !== undefined && ms >= 0 && ms <= Math.max(0, -lost));
      }),
    );
  });
});

describe('meteredReporter: hook calls', () => {
  it('counts each reported hook call once, by hook and outcome, and still reports it', async () => {
    const r = rig(new FakeCluster());
    const metrics = createMetrics({ function: 'failover', serviceLabels: false });
    const reporter = meteredReporter(r.reporter, metrics, KEYS);
    const call = (hook: 'promote' | 'demote') => ({ hook, pod: { name: 'web-1', uid: uidOf('web-1') }, ip: '10.0.0.2', unreachable: undefined, port: 8080, path: `/${hook}`, timeoutMs: 100, retries: 2, body: { service: 'demo/web', term: 2, role: hook === 'promote' ? ('active' as const) : ('standby' as const) } });
    await reporter.hook(makeService({ active: 'web-0' }), { call: call('promote'), result: { outcome: 'ok', status: 200, attempts: 1, detail: 'answered 200' }, decidedAt: NOW, aborted: false, effect: 'the switch stands' });
    await reporter.hook(makeService({ active: 'web-0' }), { call: call('demote'), result: { outcome: 'timeout', status: null, attempts: 3, detail: 'no answer' }, decidedAt: NOW, aborted: true, effect: 'held' });
    await flush();
    const text = await metrics.render();
    assert.match(text, /baton_hook_calls_total\{hook="promote",outcome="ok",function="failover"\} 1\n/);
    assert.match(text, /baton_hook_calls_total\{hook="demote",outcome="timeout",function="failover"\} 1\n/);
    assert.match(text, /baton_hook_calls_total\{hook="demote",outcome="ok",function="failover"\} 0\n/);
    assert.equal(r.emitter.types().filter((t) => t === 'dev.baton.failover.hook').length, 2);
  });
});
