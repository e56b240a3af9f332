// The routes shell's control flow: lost races re-plan from a fresh list, a vanished
// Ingress is not an error, and problems are reported once, for the Services in focus.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConflictError, ForbiddenError, NotFoundError, TransientError } from '../../../../shared/k8s/errors.js';
import { createRoutesHandler } from '../../../../functions/routes/handler.js';
import { silentLogger } from '../failover/world.js';
import { reconcileRoutes, reconcileService, type Gone, type PassResult, type RoutesResult } from '../../../../functions/routes/reconcile.js';
import { RecordingEmitter } from '../failover/world.js';
import { FakeRoutesApi, routesDeps } from './fake-api.js';
import { ingress, svc } from './core/fixtures.js';

/** The pass ran to the end (did not give up, found its Service). */
function passed(result: RoutesResult | Gone): PassResult {
  if (result.outcome !== 'passed') assert.fail(`the pass ended ${JSON.stringify(result)}`);
  return result;
}

describe('reconcileRoutes', () => {
  it('re-plans from a fresh list after losing a write race', async () => {
    const api = new FakeRoutesApi([svc('a', { 'baton.dev/host': 'a.example.com' })]);
    api.applyFaults.push(new ConflictError('someone else wrote it', 409));
    const result = passed(await reconcileRoutes(routesDeps(api), new Set()));
    assert.deepEqual([result.applied, result.attempts], [1, 2]);
    assert.deepEqual(api.calls.filter((c) => c.startsWith('list')).length, 4, 'two passes, each listing both');
  });

  it('gives up as conflicted after the configured retries, as failover does, and the handler asks for redelivery', async () => {
    const api = new FakeRoutesApi([svc('a', { 'baton.dev/host': 'a.example.com' })]);
    api.applyFaults.push(...Array.from({ length: 3 }, () => new ConflictError('again', 409)));
    const d = routesDeps(api);
    assert.deepEqual(await reconcileRoutes(d, new Set()), { outcome: 'conflicted', detail: `routes kept changing; gave up after ${d.conflictRetries + 1} attempts` });
    assert.equal(api.calls.filter((c) => c === 'list services').length, d.conflictRetries + 1);
  });

  it('treats an Ingress that is already gone as removed by someone else', async () => {
    const s = svc('a');
    const api = new FakeRoutesApi([s], [ingress(s, 'a.example.com', 1)]);
    api.deleteFaults.push(new NotFoundError('gone', 404));
    const result = passed(await reconcileRoutes(routesDeps(api), new Set()));
    assert.deepEqual([result.removed, result.attempts], [0, 1]);
    assert.deepEqual(api.events, [], 'no RouteRemoved for a removal baton did not make');
  });

  it('reports a conflict for the Service in focus once, and not for others', async () => {
    const holder = svc('holder', { 'baton.dev/host': 'h.example.com' }, { createdAt: 1 });
    const rival = svc('rival', { 'baton.dev/host': 'h.example.com' }, { createdAt: 2 });
    const bystander = svc('bystander', { 'baton.dev/host': 'h.example.com' }, { createdAt: 3 });
    const api = new FakeRoutesApi([holder, rival, bystander]);
    const emitter = new RecordingEmitter();
    const d = routesDeps(api, emitter);
    await reconcileRoutes(d, new Set(['demo/rival']));
    await reconcileRoutes(d, new Set(['demo/rival']));
    assert.deepEqual(api.events.sort(), ['holder:RouteApplied', 'rival:RouteConflict']);
    assert.deepEqual(emitter.types().sort(), ['dev.baton.route.applied', 'dev.baton.route.conflict']);
  });

  it('remembers its own writes, so their events are recognised as echoes', async () => {
    const api = new FakeRoutesApi([svc('a', { 'baton.dev/host': 'a.example.com' })]);
    const d = routesDeps(api);
    await reconcileRoutes(d, new Set());
    const written = api.ingresses[0]!;
    assert.ok(d.index.isEcho(written, false));
    assert.equal(d.index.routeOf('demo', 'a')?.uid, written.uid);
    assert.ok(d.index.unchanged(api.services[0]!));
    assert.ok(!d.index.unchanged(svc('a', { 'baton.dev/host': 'b.example.com' })));
  });

  it('a refused removal is reported on its Service and the rest proceed', async () => {
    const gone = svc('a');
    const other = svc('b', { 'baton.dev/host': 'b.example.com' });
    const api = new FakeRoutesApi([gone, other], [ingress(gone, 'a.example.com', 1)]);
    api.deleteFaults.push(new ForbiddenError('delete ingress demo/baton-a: HTTP 403: namespace is being terminated', 403));
    const result = passed(await reconcileRoutes(routesDeps(api), 'all'));
    assert.deepEqual([result.applied, result.removed, result.problems], [1, 0, 1]);
    assert.ok(api.events.includes('a:RouteFailed'));
  });

  it('says it has listed before any write, so readiness never waits for a pass\'s writes', async () => {
    const api = new FakeRoutesApi([svc('a', { 'baton.dev/host': 'a.example.com' })]);
    const seen: string[] = [];
    await reconcileRoutes(routesDeps(api), 'all', () => void seen.push(api.calls.join(',')));
    assert.deepEqual(seen, ['list services,list ingresses']);
  });

  it('asks for a redelivery when a write failed for a passing reason, and not when it was refused', async () => {
    const event = (name: string) =>
      ({
        id: name,
        source: 'test',
        type: 'dev.knative.apiserver.resource.update',
        kind: 'Service',
        action: 'update',
        object: { kind: 'Service', metadata: { namespace: 'demo', name, uid: `uid-${name}`, annotations: { 'baton.dev/host': `${name}.example.com` } }, spec: { ports: [{ port: 8080 }] } },
      }) as unknown as Parameters<ReturnType<typeof createRoutesHandler>>[0];
    const context = { requestId: 'r', logger: silentLogger() };
    const api = new FakeRoutesApi([svc('a', { 'baton.dev/host': 'a.example.com' })]);
    api.applyFaults.push(new TransientError('apply ingress: HTTP 503', 503));
    assert.equal((await createRoutesHandler(routesDeps(api))(event('a'), context)).status, 'retry');
    // Another route's passing trouble is not this event's.
    const elsewhere = new FakeRoutesApi([svc('a', { 'baton.dev/host': 'a.example.com' }), svc('b', { 'baton.dev/host': 'b.example.com' })]);
    elsewhere.applyFaults.push(new TransientError('apply ingress: HTTP 503', 503));
    assert.equal((await createRoutesHandler(routesDeps(elsewhere))(event('b'), context)).status, 'handled');
    const refused = new FakeRoutesApi([svc('a', { 'baton.dev/host': 'a.example.com' })]);
    refused.applyFaults.push(new ForbiddenError('apply ingress: HTTP 403', 403));
    assert.equal((await createRoutesHandler(routesDeps(refused))(event('a'), context)).status, 'handled');
  });

  describe('a focused pass (one Service\'s claims)', () => {
    // A thousand Services, a tenth of them routed; the last full pass indexed them.
    const crowd = (): FakeRoutesApi =>
      new FakeRoutesApi(Array.from({ length: 1000 }, (_, i) => svc(`s${i}`, i % 10 === 0 ? { 'baton.dev/host': `s${i}.example.com` } : {}, { createdAt: 10 + i })));

    it('costs a number of requests that does not grow with the Services in scope', async () => {
      const api = crowd();
      const d = routesDeps(api);
      await reconcileRoutes(d, 'all');
      api.calls = [];
      api.services = api.services.map((s) => (s.name === 's500' ? { ...s, annotations: { 'baton.dev/host': 'moved.example.com' }, resourceVersion: '2' } : s));
      const result = passed(await reconcileService(d, 'demo', 's500'));
      assert.equal(result.applied, 1);
      assert.deepEqual(api.calls, ['get service', 'get ingress', 'apply ingress']);
      assert.equal(api.ingresses.find((i) => i.name === 'baton-s500')?.route?.host, 'moved.example.com');
    });

    it('hands a host given up to the next claimant the index knows, in the same pass', async () => {
      const api = crowd();
      const waiting = svc('waiting', { 'baton.dev/host': 's0.example.com' }, { createdAt: 5_000 });
      api.services.push(waiting);
      const d = routesDeps(api);
      await reconcileRoutes(d, 'all');
      assert.equal(api.ingresses.find((i) => i.name === 'baton-waiting'), undefined, 's0 is older and serves; the newer claimant waits');
      api.calls = [];
      api.services = api.services.map((s) => (s.name === 's0' ? { ...s, annotations: {} } : s));
      await reconcileService(d, 'demo', 's0');
      assert.equal(api.ingresses.find((i) => i.name === 'baton-waiting')?.route?.host, 's0.example.com');
      assert.equal(api.ingresses.find((i) => i.name === 'baton-s0'), undefined);
      assert.ok(api.calls.length <= 8, api.calls.join(', '));
    });

    it('never takes a served host from a holder: the holder is read fresh, and wins', async () => {
      const api = crowd();
      const d = routesDeps(api);
      await reconcileRoutes(d, 'all');
      // An older Service now asks for s10's host: s10 serves it and keeps it.
      api.services.push(svc('ancient', { 'baton.dev/host': 's10.example.com' }, { createdAt: 0 }));
      passed(await reconcileService(d, 'demo', 'ancient'));
      // 'ancient' is not in the index, but the holder is (it claims that host), so it is
      // read fresh and keeps the host.
      assert.equal(api.ingresses.filter((i) => i.route?.host === 's10.example.com').length, 1);
    });

    it('answers gone for a Service that does not exist, and writes nothing', async () => {
      const api = crowd();
      const d = routesDeps(api);
      await reconcileRoutes(d, 'all');
      api.calls = [];
      assert.equal((await reconcileService(d, 'demo', 'ghost')).outcome, 'gone');
      assert.deepEqual(api.calls, ['get service']);
    });
  });
});
