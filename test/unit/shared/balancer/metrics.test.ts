import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { EndpointsBalancer } from '../../../../shared/balancer/balancer.js';
import { guardMetrics, type BalancerMetrics } from '../../../../shared/balancer/metrics.js';
import { promBalancerMetrics } from '../../../../shared/metrics/balancer.js';
import { complete, drafts } from '../audit/samples.js';
import { parseSamples, valueOf } from '../../../fixtures/prom-text.js';

function offlineConfig(): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  // Nothing listens on port 1: these tests never reach the API.
  kc.loadFromOptions({ clusters: [{ name: 'c', server: 'https://127.0.0.1:1' }], users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
  return kc;
}

describe('balancer metrics hook', () => {
  it('passes calls through, and swallows what a broken callback throws', () => {
    const seen: unknown[] = [];
    const m = guardMetrics({
      picked: (ok) => seen.push(ok),
      hint: () => {
        throw new Error('broken');
      },
    });
    m.picked?.(true);
    assert.doesNotThrow(() => m.hint?.('applied'));
    assert.deepEqual(seen, [true]);
    assert.deepEqual(Object.keys(guardMetrics({ picked: () => {} })), ['picked'], 'an absent callback stays absent');
    assert.deepEqual(guardMetrics(undefined), {});
  });

  it('the balancer calls it: a pick that finds nothing, a hint it cannot take yet', async (t) => {
    const calls: string[] = [];
    const metrics: BalancerMetrics = {
      picked: (ok) => calls.push(`picked ${ok}`),
      hint: (result) => calls.push(`hint ${result}`),
    };
    const balancer = new EndpointsBalancer({ namespace: 'demo', service: 'web', kubeconfig: offlineConfig(), metrics });
    t.after(() => balancer.shutdown());
    assert.throws(() => balancer.next());
    balancer.applyEvent(complete(drafts[0]!));
    assert.deepEqual(calls, ['picked false', 'hint not-synced']);
  });

  it('a callback that throws does not break next()', async (t) => {
    const balancer = new EndpointsBalancer({
      namespace: 'demo',
      service: 'web',
      kubeconfig: offlineConfig(),
      metrics: {
        picked: () => {
          throw new Error('broken metrics');
        },
      },
    });
    t.after(() => balancer.shutdown());
    // The balancer's own error (not synced), not the callback's.
    assert.throws(() => balancer.next(), (e: unknown) => e instanceof Error && !e.message.includes('broken metrics'));
  });

  it('prom-client wiring: one set of series per Service, in one registry', async (t) => {
    const registry = new Registry();
    const a = promBalancerMetrics(registry, { namespace: 'demo', name: 'web' });
    const b = promBalancerMetrics(registry, { namespace: 'demo', name: 'db' });
    a.hooks.picked?.(true);
    a.hooks.picked?.(true);
    b.hooks.picked?.(false);
    const balancer = new EndpointsBalancer({ namespace: 'demo', service: 'db', kubeconfig: offlineConfig(), metrics: b.hooks });
    t.after(() => balancer.shutdown());
    const unfollow = b.follow(balancer);
    assert.throws(() => balancer.next());
    unfollow();
    const samples = parseSamples(await registry.metrics());
    assert.equal(valueOf(samples, 'baton_balancer_picks_total', { namespace: 'demo', service: 'web', result: 'endpoint' }), 2);
    assert.equal(valueOf(samples, 'baton_balancer_picks_total', { namespace: 'demo', service: 'db', result: 'none' }), 2);
  });
});
