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
      endpoints: () => {
        throw new Error('broken');
      },
    });
    m.picked?.(true);
    assert.doesNotThrow(() => m.endpoints?.(3));
    assert.deepEqual(seen, [true]);
    assert.equal(m.hint, undefined, 'an absent callback stays absent');
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

  it('prom-client wiring: one set of series per Service, in one registry', async () => {
    const registry = new Registry();
    const a = promBalancerMetrics(registry, { namespace: 'demo', name: 'web' });
    const b = promBalancerMetrics(registry, { namespace: 'demo', name: 'db' });
    a.picked?.(true);
    a.picked?.(true);
    b.picked?.(false);
    a.endpoints?.(2);
    const samples = parseSamples(await registry.metrics());
    assert.equal(valueOf(samples, 'baton_balancer_picks_total', { namespace: 'demo', service: 'web', result: 'endpoint' }), 2);
    assert.equal(valueOf(samples, 'baton_balancer_picks_total', { namespace: 'demo', service: 'db', result: 'none' }), 1);
    assert.equal(valueOf(samples, 'baton_balancer_endpoints', { namespace: 'demo', service: 'web' }), 2);
  });
});
