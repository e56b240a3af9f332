import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { readClaim } from '../../../../../functions/routes/core/claim.js';
import { ingressNameFor, matchedPath, type RouteIngress, type RouteService } from '../../../../../functions/routes/core/model.js';
import { parseHostPolicy, POLICY_OFF } from '../../../../../shared/config/host-policy.js';
import { keyOf, planRoutes, type RoutePlan, type World } from '../../../../../functions/routes/core/plan.js';
import { ingress, keys, svc } from './fixtures.js';

const world = (services: RouteService[], ingresses: RouteIngress[] = []): World => ({ services, ingresses, keys, ingressClass: undefined, policy: POLICY_OFF });

/** What the cluster looks like after the shell carried the plan out. */
function carryOut(w: World, plan: RoutePlan): World {
  const gone = new Set(plan.removals.map((r) => r.ingress.uid));
  const ingresses = w.ingresses.filter((i) => !gone.has(i.uid));
  for (const a of plan.applies) {
    const name = ingressNameFor(a.service.name);
    const at = ingresses.findIndex((i) => i.namespace === a.service.namespace && i.name === name);
    const written: RouteIngress = { namespace: a.service.namespace, name, uid: at >= 0 ? ingresses[at]!.uid : `new-${a.service.name}`, resourceVersion: 'w', ownerUid: a.service.uid, route: a.route, createdAt: at >= 0 ? ingresses[at]!.createdAt : 99_999 };
    if (at >= 0) ingresses[at] = written;
    else ingresses.push(written);
  }
  return { ...w, ingresses };
}

describe('planRoutes', () => {
  it('creates an Ingress for a new claim and then leaves it alone', () => {
    const w = world([svc('a', { 'baton.dev/host': 'a.example.com' })]);
    const plan = planRoutes(w);
    assert.equal(plan.applies.length, 1);
    const after = planRoutes(carryOut(w, plan));
    assert.deepEqual([after.applies, after.removals], [[], []]);
  });

  it('gives a contested host to the older Service when nobody serves it yet', () => {
    const older = svc('zz', { 'baton.dev/host': 'h.example.com' }, { createdAt: 1 });
    const newer = svc('aa', { 'baton.dev/host': 'h.example.com' }, { createdAt: 2 });
    const plan = planRoutes(world([newer, older]));
    assert.deepEqual(plan.applies.map((a) => a.service.name), ['zz']);
    const verdict = plan.verdicts.get(keyOf(newer));
    assert.equal(verdict?.kind, 'conflict');
    assert.equal(verdict?.kind === 'conflict' && verdict.holder.name, 'zz');
  });

  it('never takes a served host from its holder, however old the newcomer', () => {
    const holder = svc('holder', { 'baton.dev/host': 'h.example.com' }, { createdAt: 900 });
    const ancient = svc('ancient', { 'baton.dev/host': 'h.example.com' }, { createdAt: 1 });
    const plan = planRoutes(world([holder, ancient], [ingress(holder, 'h.example.com', 5_000)]));
    assert.deepEqual([plan.applies, plan.removals], [[], []]);
    assert.equal(plan.verdicts.get(keyOf(ancient))?.kind, 'conflict');
  });

  it('hands the host on when the holder lets go, in the same pass', () => {
    const holder = svc('holder', {}, { createdAt: 900 });
    const waiting = svc('waiting', { 'baton.dev/host': 'h.example.com' }, { createdAt: 1 });
    const plan = planRoutes(world([holder, waiting], [ingress(holder, 'h.example.com', 5_000)]));
    assert.deepEqual(plan.removals.map((r) => [r.ingress.name, r.reason]), [['baton-holder', 'removed']]);
    assert.deepEqual(plan.applies.map((a) => a.service.name), ['waiting']);
  });

  it('removes the Ingress of a Service whose annotations turned invalid', () => {
    const s = svc('a', { 'baton.dev/host': 'a.example.com', 'baton.dev/path': 'nope' });
    const plan = planRoutes(world([s], [ingress(s, 'a.example.com', 1)]));
    assert.deepEqual(plan.removals.map((r) => r.reason), ['invalid']);
    assert.equal(plan.verdicts.get(keyOf(s))?.kind, 'invalid');
  });

  it('waits for the garbage collector to remove an Ingress left behind by an earlier Service of the same name', () => {
    const s = svc('a', { 'baton.dev/host': 'a.example.com' });
    const stale = ingress(s, 'a.example.com', 1, { ownerUid: 'uid-of-the-old-one' });
    const plan = planRoutes(world([s], [stale]));
    assert.deepEqual([plan.removals, plan.applies], [[], []]);
    const verdict = plan.verdicts.get(keyOf(s));
    assert.deepEqual(verdict?.kind === 'conflict' && verdict.holder, { kind: 'Ingress', namespace: 'demo', name: 'baton-a', uid: stale.uid });
  });

  it('rewrites a hand-edited route in place', () => {
    const s = svc('a', { 'baton.dev/host': 'a.example.com' });
    const edited = ingress(s, 'a.example.com', 777, { route: { host: 'a.example.com', path: '/', port: { number: 9999 }, tlsSecret: undefined, ingressClass: undefined } });
    const plan = planRoutes(world([s], [edited]));
    assert.equal(plan.applies.length, 1);
    assert.equal(plan.applies[0]!.current, edited);
  });

  it('rewrites a class someone changed when a class is configured', () => {
    const s = svc('a', { 'baton.dev/host': 'a.example.com' });
    const current = ingress(s, 'a.example.com', 1);
    const other = { ...current, route: { ...current.route!, ingressClass: 'other' } };
    assert.equal(planRoutes({ ...world([s], [other]), ingressClass: 'edge' }).applies.length, 1);
  });

  it('among two Ingresses serving one claim, keeps the one the API server created first', () => {
    const a = svc('a', { 'baton.dev/host': 'h.example.com' }, { namespace: 'one', createdAt: 1 });
    const b = svc('b', { 'baton.dev/host': 'h.example.com' }, { namespace: 'two', createdAt: 2 });
    const plan = planRoutes(world([a, b], [ingress(a, 'h.example.com', 900), ingress(b, 'h.example.com', 100)]));
    assert.deepEqual(plan.removals.map((r) => r.ingress.name), ['baton-a']);
    assert.equal(plan.verdicts.get(keyOf(b))?.kind, 'routed');
  });

  it('refuses a claim outside the namespace\'s host policy, naming the policy, and removes its Ingress', () => {
    const parsed = parseHostPolicy('shop=*.shop.example.com;*=*.{namespace}.apps.example.com');
    assert.ok(parsed.ok);
    const inside = svc('web', { 'baton.dev/host': 'www.shop.example.com' }, { namespace: 'shop' });
    const own = svc('api', { 'baton.dev/host': 'api.team.apps.example.com' }, { namespace: 'team' });
    const outside = svc('grab', { 'baton.dev/host': 'www.shop.example.com', 'baton.dev/path': '/x' }, { namespace: 'team' });
    const plan = planRoutes({ ...world([inside, own, outside], [ingress(outside, 'www.shop.example.com', 1)]), policy: parsed.policy });
    assert.deepEqual(plan.applies.map((a) => keyOf(a.service)).sort(), ['shop/web', 'team/api']);
    assert.deepEqual(plan.removals.map((r) => [keyOf(r.ingress), r.reason]), [['team/baton-grab', 'invalid']]);
    const verdict = plan.verdicts.get(keyOf(outside));
    assert.equal(verdict?.kind, 'invalid');
    assert.equal(verdict?.kind === 'invalid' && verdict.problems[0]!.byPolicy, true);
    assert.match(verdict?.kind === 'invalid' ? verdict.problems[0]!.message : '', /outside the host policy for namespace team \(BATON_ROUTE_HOSTS allows \*\.team\.apps\.example\.com\)/);
  });

  it('lets two Services share a host on different paths', () => {
    const a = svc('a', { 'baton.dev/host': 'h.example.com', 'baton.dev/path': '/a' });
    const b = svc('b', { 'baton.dev/host': 'h.example.com', 'baton.dev/path': '/b' });
    assert.equal(planRoutes(world([a, b])).applies.length, 2);
  });
});

// Property tests over small worlds: few hosts and few names, so contests, stale
// Ingresses and ties actually happen.
const HOSTS = ['x.example.com', 'y.example.com'];
const NAMES = ['a', 'b', 'c', 'd'];

const serviceArb = fc.record({
  name: fc.constantFrom(...NAMES),
  namespace: fc.constantFrom('n1', 'n2'),
  host: fc.option(fc.constantFrom(...HOSTS, 'BAD_HOST'), { nil: undefined }),
  path: fc.constantFrom(undefined, '/', '/api', '/api/'),
  createdAt: fc.constantFrom(1, 2, 3),
  generation: fc.constantFrom('1', '2'),
});
const ingressArb = fc.record({
  name: fc.constantFrom(...NAMES),
  namespace: fc.constantFrom('n1', 'n2'),
  host: fc.constantFrom(...HOSTS),
  path: fc.constantFrom('/', '/api', '/api/'),
  ownerGeneration: fc.constantFrom('1', '2', 'other'),
  createdAt: fc.option(fc.constantFrom(10, 20, 30), { nil: undefined }),
});

const worldArb = fc
  .tuple(fc.uniqueArray(serviceArb, { selector: (s) => `${s.namespace}/${s.name}`, maxLength: 6 }), fc.uniqueArray(ingressArb, { selector: (i) => `${i.namespace}/${i.name}`, maxLength: 6 }))
  .map(([ss, is]): World => {
    const services = ss.map((s) =>
      svc(s.name, { ...(s.host ? { 'baton.dev/host': s.host } : {}), ...(s.path && s.host ? { 'baton.dev/path': s.path } : {}) }, { namespace: s.namespace, uid: `${s.namespace}-${s.name}-${s.generation}`, createdAt: s.createdAt }),
    );
    const ingresses = is.map((i, n): RouteIngress => ({
      namespace: i.namespace,
      name: ingressNameFor(i.name),
      uid: `ing-${n}`,
      resourceVersion: '5',
      ownerUid: `${i.namespace}-${i.name}-${i.ownerGeneration}`,
      route: { host: i.host, path: i.path, port: { number: 8080 }, tlsSecret: undefined, ingressClass: undefined },
      createdAt: i.createdAt,
    }));
    return world(services, ingresses);
  });

/** Ingresses that route for a Service that exists: what an ingress controller would serve. */
function served(w: World): Map<string, string[]> {
  const byUid = new Map(w.services.map((s) => [s.uid, s]));
  const out = new Map<string, string[]>();
  for (const i of w.ingresses) {
    const owner = i.ownerUid ? byUid.get(i.ownerUid) : undefined;
    if (!owner || !i.route) continue;
    const k = `${i.route.host}${matchedPath(i.route.path)}`;
    out.set(k, [...(out.get(k) ?? []), keyOf(owner)]);
  }
  return out;
}

describe('planRoutes properties', () => {
  it('after one pass, every host and path is served by at most one Service', () => {
    fc.assert(
      fc.property(worldArb, (w) => {
        for (const [route, owners] of served(carryOut(w, planRoutes(w)))) assert.ok(owners.length <= 1, `${route} served by ${owners.join(', ')}`);
      }),
      { numRuns: 500 },
    );
  });

  it('one pass converges: planning again changes nothing', () => {
    fc.assert(
      fc.property(worldArb, (w) => {
        const again = planRoutes(carryOut(w, planRoutes(w)));
        assert.deepEqual([again.applies.length, again.removals.length], [0, 0]);
      }),
      { numRuns: 500 },
    );
  });

  it('the answer does not depend on the order things were listed in', () => {
    fc.assert(
      fc.property(worldArb, fc.integer(), (w, seed) => {
        const shuffle = <T>(xs: readonly T[]): T[] => [...xs].sort((a, b) => ((JSON.stringify(a).length * seed) % 7) - ((JSON.stringify(b).length * seed) % 7));
        const a = planRoutes(w);
        const b = planRoutes({ ...w, services: shuffle(w.services).reverse(), ingresses: shuffle(w.ingresses).reverse() });
        const summary = (p: RoutePlan) => ({
          applies: p.applies.map((x) => keyOf(x.service)).sort(),
          removals: p.removals.map((x) => x.ingress.uid).sort(),
          verdicts: [...p.verdicts].map(([k, v]) => `${k}:${v.kind}`).sort(),
        });
        assert.deepEqual(summary(a), summary(b));
      }),
      { numRuns: 300 },
    );
  });

  it('every Service that is served asks for exactly that route, and valid claims are never left without a verdict', () => {
    fc.assert(
      fc.property(worldArb, (w) => {
        const plan = planRoutes(w);
        const after = carryOut(w, plan);
        const byKey = new Map(w.services.map((s) => [keyOf(s), s]));
        for (const [route, owners] of served(after)) {
          for (const owner of owners) {
            const claim = readClaim(byKey.get(owner)!, keys, undefined);
            assert.equal(claim.kind, 'route', `${owner} serves ${route} without asking`);
            if (claim.kind === 'route') assert.equal(`${claim.route.host}${matchedPath(claim.route.path)}`, route);
          }
        }
        for (const s of w.services) if (readClaim(s, keys, undefined).kind !== 'none') assert.ok(plan.verdicts.has(keyOf(s)));
      }),
      { numRuns: 500 },
    );
  });

  it('a Service that alone serves its route keeps it while its claim stands', () => {
    fc.assert(
      fc.property(worldArb, (w) => {
        const before = served(w);
        const after = served(carryOut(w, planRoutes(w)));
        for (const [route, owners] of before) {
          if (owners.length !== 1) continue;
          const s = w.services.find((x) => keyOf(x) === owners[0])!;
          const claim = readClaim(s, keys, undefined);
          const own = w.ingresses.find((i) => i.ownerUid === s.uid && i.name === ingressNameFor(s.name) && i.namespace === s.namespace);
          const rivals = w.ingresses.some((i) => i !== own && i.route && `${i.route.host}${matchedPath(i.route.path)}` === route && w.services.some((x) => x.uid === i.ownerUid && i.name === ingressNameFor(x.name)));
          if (claim.kind !== 'route' || `${claim.route.host}${matchedPath(claim.route.path)}` !== route || !own || rivals) continue;
          assert.deepEqual(after.get(route), owners, `${route} moved from ${owners[0]}`);
        }
      }),
      { numRuns: 500 },
    );
  });
});
