// The six defects of issue 18, each as the smallest world that shows it. Written
// before the fix and run against the old code first (see the branch's report).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidError } from '../../../../shared/k8s/errors.js';
import { keyOf, planRoutes, type World } from '../../../../functions/routes/core/plan.js';
import { reconcileRoutes } from '../../../../functions/routes/reconcile.js';
import { createRoutesHandler } from '../../../../functions/routes/handler.js';
import type { RouteIngress, RouteService } from '../../../../functions/routes/core/model.js';
import { POLICY_OFF } from '../../../../shared/config/host-policy.js';
import { RecordingEmitter, silentLogger } from '../failover/world.js';
import { FakeRoutesApi, routesDeps } from './fake-api.js';
import { ingress, keys, svc } from './core/fixtures.js';

const world = (services: RouteService[], ingresses: RouteIngress[] = [], ingressClass?: string): World => ({ services, ingresses, keys, ingressClass, policy: POLICY_OFF });

describe('issue 18 defects', () => {
  it('one failed Ingress write fails only its own route', async () => {
    const a = svc('a', { 'baton.dev/host': 'a.example.com' });
    const b = svc('b', { 'baton.dev/host': 'b.example.com' });
    const api = new FakeRoutesApi([a, b]);
    api.applyFaults.push(new InvalidError('apply ingress demo/baton-a: HTTP 422: Ingress.networking.k8s.io "baton-a" is invalid', 422));
    const result = await reconcileRoutes(routesDeps(api), 'all');
    assert.deepEqual(api.ingresses.map((i) => i.name), ['baton-b'], 'b is routed although a failed');
    assert.equal(result.outcome === 'passed' && result.problems, 1);
    assert.ok(api.events.includes('a:RouteFailed'), `a hears why: ${api.events.join(', ')}`);
  });

  it('a hand-made Ingress with a forged old claim time does not take a served host', () => {
    const victim = svc('web', { 'baton.dev/host': 'shop.example.com' }, { namespace: 'victims', createdAt: 1_000 });
    const thief = svc('web', { 'baton.dev/host': 'shop.example.com' }, { namespace: 'evil', uid: 'uid-thief', createdAt: 9_000 });
    const served = ingress(victim, 'shop.example.com', 5_000);
    // Made by hand in the thief's own namespace: baton's label, owned by the thief's
    // Service, baton.dev/claimed-at from long ago (which baton no longer reads). What it
    // cannot choose is its creationTimestamp: now.
    const forged = ingress(thief, 'shop.example.com', 9_500, { uid: 'ing-forged' });
    const plan = planRoutes(world([victim, thief], [served, forged]));
    assert.deepEqual(plan.removals.map((r) => r.ingress.uid), ['ing-forged']);
    assert.equal(plan.verdicts.get(keyOf(victim))?.kind, 'routed');
    assert.equal(plan.verdicts.get(keyOf(thief))?.kind, 'conflict');
  });

  it('/api and /api/ on one host are one claim', () => {
    const first = svc('first', { 'baton.dev/host': 'h.example.com', 'baton.dev/path': '/api' }, { createdAt: 1 });
    const second = svc('second', { 'baton.dev/host': 'h.example.com', 'baton.dev/path': '/api/' }, { createdAt: 2 });
    const plan = planRoutes(world([first, second]));
    assert.deepEqual(plan.applies.map((a) => a.service.name), ['first']);
    assert.equal(plan.verdicts.get(keyOf(second))?.kind, 'conflict');
  });

  it('an Ingress the API server gave the default class is not re-applied', () => {
    const s = svc('a', { 'baton.dev/host': 'a.example.com' });
    const current = ingress(s, 'a.example.com', 1_000);
    const defaulted: RouteIngress = { ...current, route: { ...current.route!, ingressClass: 'cluster-default' } };
    const plan = planRoutes(world([s], [defaulted], undefined));
    assert.deepEqual(plan.applies, []);
    assert.deepEqual(plan.removals, []);
  });

  it('a forged Service delete with a made-up uid puts nothing on the audit record', async () => {
    const s = svc('web', { 'baton.dev/host': 'web.example.com' });
    const api = new FakeRoutesApi([s]);
    const emitter = new RecordingEmitter();
    const deps = routesDeps(api, emitter);
    await reconcileRoutes(deps, 'all');
    const before = emitter.types().length;
    const handler = createRoutesHandler(deps);
    await handler(
      {
        id: 'forged',
        source: 'forged',
        type: 'dev.knative.apiserver.resource.delete',
        kind: 'Service',
        action: 'delete',
        object: { kind: 'Service', metadata: { namespace: 'demo', name: 'web', uid: 'made-up', annotations: { 'baton.dev/host': 'web.example.com' } }, spec: { ports: [{ port: 8080 }] } },
      } as unknown as Parameters<typeof handler>[0],
      { requestId: 'r', logger: silentLogger() },
    );
    assert.deepEqual(emitter.types().slice(before), [], 'no route.removed for a Service that still exists');
  });

  it('an Ingress named baton-<svc> with baton\'s label but another owner is never deleted', () => {
    const s = svc('web', { 'baton.dev/host': 'web.example.com' });
    // Exported to a GitOps repository and applied back: the owner uid is the old Service's.
    const exported = ingress(s, 'web.example.com', 1_000, { uid: 'ing-gitops', ownerUid: 'uid-of-a-service-long-gone' });
    const plan = planRoutes(world([s], [exported]));
    assert.deepEqual(plan.removals, []);
    assert.deepEqual(plan.applies, []);
    assert.equal(plan.verdicts.get(keyOf(s))?.kind, 'conflict');
  });
});
