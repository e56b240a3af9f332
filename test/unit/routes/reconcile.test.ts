// The routes shell's control flow: lost races re-plan from a fresh list, a vanished
// Ingress is not an error, and problems are reported once, for the Services in focus.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Ingress } from '@kubernetes/client-node';
import { ConflictError, NotFoundError } from '../../../shared/k8s/errors.js';
import type { RoutesApi } from '../../../shared/k8s/routes-api.js';
import { createKnown } from '../../../shared/routes/known.js';
import type { RouteIngress, RouteService } from '../../../shared/routes/model.js';
import { reconcileRoutes, StillConflicting, type RoutesDeps } from '../../../shared/routes/reconcile.js';
import { createRouteReporter } from '../../../shared/routes/report.js';
import { routeIngress } from '../../../shared/routes/views.js';
import { RecordingEmitter, silentLogger } from '../shell/world.js';
import { ingress, keys, svc } from './fixtures.js';

class FakeRoutesApi implements RoutesApi {
  calls: string[] = [];
  events: string[] = [];
  /** Thrown by the next applies, one per call, before anything is stored. */
  applyFaults: Error[] = [];
  deleteFaults: Error[] = [];
  version = 100;
  constructor(
    public services: RouteService[],
    public ingresses: RouteIngress[] = [],
  ) {}
  get requestCount(): number {
    return this.calls.length;
  }
  listServices = async (): Promise<RouteService[]> => (this.calls.push('list services'), [...this.services]);
  listIngresses = async (): Promise<RouteIngress[]> => (this.calls.push('list ingresses'), [...this.ingresses]);
  getIngress = async (namespace: string, name: string) => {
    this.calls.push('get ingress');
    const found = this.ingresses.find((i) => i.namespace === namespace && i.name === name);
    return found ? { managed: true, ownerUid: found.ownerUid, uid: found.uid } : undefined;
  };
  applyIngress = async (body: V1Ingress, resourceVersion?: string): Promise<RouteIngress> => {
    this.calls.push('apply ingress');
    const fault = this.applyFaults.shift();
    if (fault) throw fault;
    const existing = this.ingresses.find((i) => i.name === body.metadata!.name && i.namespace === body.metadata!.namespace);
    if (resourceVersion && existing?.resourceVersion !== resourceVersion) throw new ConflictError('changed', 409);
    const written = routeIngress({ ...body, metadata: { ...body.metadata, uid: existing?.uid ?? `ing-${this.version}`, resourceVersion: String(++this.version) } }, keys);
    this.ingresses = [...this.ingresses.filter((i) => i !== existing), written];
    return written;
  };
  deleteIngress = async (target: Pick<RouteIngress, 'namespace' | 'name' | 'uid' | 'resourceVersion'>): Promise<void> => {
    this.calls.push('delete ingress');
    const fault = this.deleteFaults.shift();
    if (fault) throw fault;
    this.ingresses = this.ingresses.filter((i) => i.uid !== target.uid);
  };
  recordEvent = async (service: { name: string }, note: { reason: string }): Promise<void> => void this.events.push(`${service.name}:${note.reason}`);
}

function deps(api: FakeRoutesApi, emitter = new RecordingEmitter()): RoutesDeps {
  const logger = silentLogger();
  return { api, keys, ingressClass: undefined, namespaces: [], known: createKnown(keys), reporter: createRouteReporter({ recordEvent: api.recordEvent, emitter, logger, now: () => 1_000 }), logger, conflictRetries: 2, now: () => 1_000 };
}

describe('reconcileRoutes', () => {
  it('re-plans from a fresh list after losing a write race', async () => {
    const api = new FakeRoutesApi([svc('a', { 'baton.dev/host': 'a.example.com' })]);
    api.applyFaults.push(new ConflictError('someone else wrote it', 409));
    const result = await reconcileRoutes(deps(api), new Set());
    assert.deepEqual([result.applied, result.attempts], [1, 2]);
    assert.deepEqual(api.calls.filter((c) => c.startsWith('list')).length, 4, 'two passes, each listing both');
  });

  it('gives up with a transient error after the configured retries', async () => {
    const api = new FakeRoutesApi([svc('a', { 'baton.dev/host': 'a.example.com' })]);
    api.applyFaults.push(...Array.from({ length: 3 }, () => new ConflictError('again', 409)));
    await assert.rejects(reconcileRoutes(deps(api), new Set()), StillConflicting);
  });

  it('treats an Ingress that is already gone as removed by someone else', async () => {
    const s = svc('a');
    const api = new FakeRoutesApi([s], [ingress(s, 'a.example.com', 1)]);
    api.deleteFaults.push(new NotFoundError('gone', 404));
    const result = await reconcileRoutes(deps(api), new Set());
    assert.deepEqual([result.removed, result.attempts], [0, 1]);
    assert.deepEqual(api.events, [], 'no RouteRemoved for a removal baton did not make');
  });

  it('reports a conflict for the Service in focus once, and not for others', async () => {
    const holder = svc('holder', { 'baton.dev/host': 'h.example.com' }, { createdAt: 1 });
    const rival = svc('rival', { 'baton.dev/host': 'h.example.com' }, { createdAt: 2 });
    const bystander = svc('bystander', { 'baton.dev/host': 'h.example.com' }, { createdAt: 3 });
    const api = new FakeRoutesApi([holder, rival, bystander]);
    const emitter = new RecordingEmitter();
    const d = deps(api, emitter);
    await reconcileRoutes(d, new Set(['demo/rival']));
    await reconcileRoutes(d, new Set(['demo/rival']));
    assert.deepEqual(api.events.sort(), ['holder:RouteApplied', 'rival:RouteConflict']);
    assert.deepEqual(emitter.types().sort(), ['dev.baton.route.applied', 'dev.baton.route.conflict']);
  });

  it('remembers its own writes, so their events are recognised as echoes', async () => {
    const api = new FakeRoutesApi([svc('a', { 'baton.dev/host': 'a.example.com' })]);
    const d = deps(api);
    await reconcileRoutes(d, new Set());
    const written = api.ingresses[0]!;
    assert.ok(d.known.isEcho(written, false));
    assert.equal(d.known.routeOf('demo', 'a')?.uid, written.uid);
    assert.ok(d.known.unchanged(api.services[0]!));
    assert.ok(!d.known.unchanged(svc('a', { 'baton.dev/host': 'b.example.com' })));
  });
});
