// The routes shell's control flow: lost races re-plan from a fresh list, a vanished
// Ingress is not an error, and problems are reported once, for the Services in focus.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConflictError, NotFoundError } from '../../../shared/k8s/errors.js';
import { reconcileRoutes, StillConflicting } from '../../../shared/routes/reconcile.js';
import { RecordingEmitter } from '../shell/world.js';
import { FakeRoutesApi, routesDeps } from './fake-api.js';
import { ingress, svc } from './fixtures.js';

describe('reconcileRoutes', () => {
  it('re-plans from a fresh list after losing a write race', async () => {
    const api = new FakeRoutesApi([svc('a', { 'baton.dev/host': 'a.example.com' })]);
    api.applyFaults.push(new ConflictError('someone else wrote it', 409));
    const result = await reconcileRoutes(routesDeps(api), new Set());
    assert.deepEqual([result.applied, result.attempts], [1, 2]);
    assert.deepEqual(api.calls.filter((c) => c.startsWith('list')).length, 4, 'two passes, each listing both');
  });

  it('gives up with a transient error after the configured retries', async () => {
    const api = new FakeRoutesApi([svc('a', { 'baton.dev/host': 'a.example.com' })]);
    api.applyFaults.push(...Array.from({ length: 3 }, () => new ConflictError('again', 409)));
    await assert.rejects(reconcileRoutes(routesDeps(api), new Set()), StillConflicting);
  });

  it('treats an Ingress that is already gone as removed by someone else', async () => {
    const s = svc('a');
    const api = new FakeRoutesApi([s], [ingress(s, 'a.example.com', 1)]);
    api.deleteFaults.push(new NotFoundError('gone', 404));
    const result = await reconcileRoutes(routesDeps(api), new Set());
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
    assert.ok(d.known.isEcho(written, false));
    assert.equal(d.known.routeOf('demo', 'a')?.uid, written.uid);
    assert.ok(d.known.unchanged(api.services[0]!));
    assert.ok(!d.known.unchanged(svc('a', { 'baton.dev/host': 'b.example.com' })));
  });
});
