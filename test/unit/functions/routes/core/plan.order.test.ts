// The parts of the routes plan whose order or exact content the shell relies on: the
// winner's verdict, the holder named to the losers, and moves applied before creations.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { POLICY_OFF } from '../../../../../shared/config/host-policy.js';
import { keyOf, planRoutes, winnerOf, type World } from '../../../../../functions/routes/core/plan.js';
import type { RouteIngress, RouteService } from '../../../../../functions/routes/core/model.js';
import { ingress, keys, svc } from './fixtures.js';

const world = (services: RouteService[], ingresses: RouteIngress[] = []): World => ({ services, ingresses, keys, ingressClass: undefined, policy: POLICY_OFF });
const route = (host: string) => ({ host, path: '/', port: { number: 8080 }, tlsSecret: undefined, ingressClass: undefined });

describe('routes plan: verdicts and order', () => {
  it('gives the winner a routed verdict with its route, and each loser a conflict naming the winner as a Service', () => {
    const winner = svc('a', { 'baton.dev/host': 'h.example.com' }, { createdAt: 1 });
    const loser = svc('b', { 'baton.dev/host': 'h.example.com' }, { createdAt: 2 });
    const loserIngress = ingress(loser, 'other.example.com', 50);
    const plan = planRoutes(world([loser, winner], [loserIngress]));
    assert.deepEqual(plan.verdicts.get(keyOf(winner)), { service: winner, kind: 'routed', route: route('h.example.com') });
    assert.deepEqual(plan.verdicts.get(keyOf(loser)), {
      service: loser,
      kind: 'conflict',
      route: route('h.example.com'),
      holder: { kind: 'Service', namespace: 'demo', name: 'a', uid: 'uid-a' },
    });
    assert.deepEqual(plan.removals, [{ ingress: loserIngress, service: loser, reason: 'conflict' }]);
    assert.deepEqual(plan.applies, [{ service: winner, route: route('h.example.com'), current: undefined }]);
  });

  it('an Ingress that serves another host of the claimant does not make it the incumbent: the older Service wins', () => {
    const older = svc('older', { 'baton.dev/host': 'h.example.com' }, { createdAt: 1 });
    const mover = svc('mover', { 'baton.dev/host': 'h.example.com' }, { createdAt: 5 });
    const plan = planRoutes(world([older, mover], [ingress(mover, 'previous.example.com', 2)]));
    assert.equal(plan.verdicts.get(keyOf(older))?.kind, 'routed');
    assert.equal(plan.verdicts.get(keyOf(mover))?.kind, 'conflict');
  });

  it('an Ingress on the same host but another path does not make its Service the incumbent', () => {
    const older = svc('older', { 'baton.dev/host': 'h.example.com' }, { createdAt: 1 });
    const mover = svc('mover', { 'baton.dev/host': 'h.example.com' }, { createdAt: 5 });
    const elsewhere = ingress(mover, 'h.example.com', 2, { route: { ...route('h.example.com'), path: '/other' } });
    const plan = planRoutes(world([older, mover], [elsewhere]));
    assert.equal(plan.verdicts.get(keyOf(older))?.kind, 'routed');
  });

  it('the serving Ingress keeps its claim against a claimant whose own, older Ingress serves something else', () => {
    const holder = svc('holder', { 'baton.dev/host': 'h.example.com' }, { createdAt: 9 });
    const mover = svc('mover', { 'baton.dev/host': 'h.example.com' }, { createdAt: 1 });
    const plan = planRoutes(world([holder, mover], [ingress(holder, 'h.example.com', 100), ingress(mover, 'other.example.com', 50)]));
    assert.equal(plan.verdicts.get(keyOf(holder))?.kind, 'routed');
    assert.equal(plan.verdicts.get(keyOf(mover))?.kind, 'conflict');
  });

  it('among claims nobody serves, equal creation times go to the first name, whatever the listing order', () => {
    const a = svc('a', { 'baton.dev/host': 'h.example.com' }, { namespace: 'x', createdAt: 1 });
    const b = svc('b', { 'baton.dev/host': 'h.example.com' }, { namespace: 'x', createdAt: 1 });
    const c = svc('a', { 'baton.dev/host': 'h.example.com' }, { namespace: 'y', createdAt: 1 });
    for (const listed of [[a, b, c], [c, b, a], [b, c, a]]) {
      const plan = planRoutes(world(listed));
      assert.deepEqual(plan.applies.map((x) => keyOf(x.service)), ['x/a'], JSON.stringify(listed.map(keyOf)));
    }
  });

  it('winnerOf: among serving Ingresses the oldest wins; among the rest the oldest Service, then the name', () => {
    const s = (name: string, createdAt: number) => svc(name, { 'baton.dev/host': 'h.example.com' }, { createdAt });
    const c = (service: RouteService, own?: RouteIngress) => ({ service, route: route('h.example.com'), own });
    const [x, y, z] = [s('x', 3), s('y', 2), s('z', 1)];
    assert.equal(winnerOf([c(x, ingress(x, 'h.example.com', 20)), c(y, ingress(y, 'h.example.com', 10)), c(z)]).service.name, 'y');
    assert.equal(winnerOf([c(x), c(y), c(z)]).service.name, 'z');
    assert.equal(winnerOf([c(s('n', 1)), c(s('m', 1))]).service.name, 'm');
    // A serving Ingress whose creation time is unknown comes last among the serving.
    assert.equal(winnerOf([c(x, ingress(x, 'h.example.com', undefined)), c(y, ingress(y, 'h.example.com', 99))]).service.name, 'y');
  });

  it('applies moves before creations, each group in name order', () => {
    const services = ['a', 'b', 'c', 'd'].map((n) => svc(n, { 'baton.dev/host': `${n}.example.com` }));
    const [, b, , d] = services;
    const plan = planRoutes(world(services, [ingress(b!, 'old-b.example.com', 1), ingress(d!, 'old-d.example.com', 2)]));
    assert.deepEqual(plan.applies.map((x) => [x.service.name, x.current?.name]), [['b', 'baton-b'], ['d', 'baton-d'], ['a', undefined], ['c', undefined]]);
  });

  it('lists removals in name order, whatever the listing order', () => {
    const a = svc('a', {});
    const b = svc('b', { 'baton.dev/host': 'b.example.com', 'baton.dev/path': 'bad' });
    const plan = planRoutes(world([b, a], [ingress(b, 'b.example.com', 1), ingress(a, 'a.example.com', 2)]));
    assert.deepEqual(plan.removals.map((r) => [r.ingress.name, r.reason]), [['baton-a', 'removed'], ['baton-b', 'invalid']]);
  });
});
