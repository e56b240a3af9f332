// Direct mode's shell: after the record is decided and written on the Service (as in
// selector mode), baton's one EndpointSlice for the Service is brought to match it, and
// removed when the Service leaves direct mode. What the slice holds and which write gets
// it there are decided in core/slice.ts; this file only reads, writes and reports.
//
// Every write rests on what the API server returned: the Service as its guarded write
// left it (or as read for this look), the pods as listed, the slices as listed. A create
// fails if the name is taken, a replace or delete carries the slice's resourceVersion, and
// on 409 the slices are listed again and the plan made again.
import type { Cluster } from './cluster.js';
import { ConflictError, NotFoundError } from '../../shared/k8s/errors.js';
import type { Keys } from '../../shared/keys.js';
import type { Logger } from '../../shared/log.js';
import { readRecord } from '../../shared/record.js';
import { completionDue, recordCompletion } from './completion.js';
import { isDirect, serviceMode } from './core/direct.js';
import { MODE_VALUE } from '../../shared/keys.js';
import type { Observed, PodView, ServiceView } from './core/model.js';
import { desiredSlice, planSlice, slicesToRemove, type ObservedSlice } from './core/slice.js';
import type { Reporter } from './report.js';
import type { SliceView } from './views.js';
import type { WriteObserver } from './writes.js';

export interface SliceDeps {
  readonly cluster: Cluster;
  readonly keys: Keys;
  readonly logger: Logger;
  readonly reporter: Reporter;
  readonly conflictRetries: number;
  readonly now: () => number;
  readonly ownWrites: WriteObserver;
}

/** A look reads the Service's slices: in direct mode, and while a slice of baton's may be left to remove. */
export function slicesConcern(service: ServiceView, keys: Keys): boolean {
  return isDirect(service, keys) || Object.hasOwn(service.annotations, keys.endpointSlice);
}

/** Opted in, and `<prefix>/pods` in force (valid, and no selector of the user's beside it). */
export function directInForce(service: ServiceView, keys: Keys): boolean {
  return service.labels[keys.mode] === MODE_VALUE && isDirect(service, keys);
}

/**
 * baton's slice has to go: the Service opted out, or is back in selector mode. Not while
 * `<prefix>/pods` is merely invalid or beside a selector: a bad annotation changes nothing.
 */
export function sliceUnwanted(service: ServiceView, keys: Keys): boolean {
  return service.labels[keys.mode] !== MODE_VALUE || serviceMode(service, keys).kind === 'selector';
}

/**
 * Deletes baton's own slices of the Service (its name, manager label and owner; nothing
 * anyone else wrote), each guarded by the uid and version listed. A 409 goes up: the
 * look starts again on fresh reads.
 */
export async function removeOwnSlices(deps: SliceDeps, service: ServiceView, slices: readonly ObservedSlice[]): Promise<number> {
  let removed = 0;
  for (const slice of slicesToRemove(slices, service, deps.keys)) {
    try {
      await deps.cluster.deleteSlice(service.namespace, slice);
    } catch (error) {
      if (error instanceof NotFoundError) continue;
      throw error;
    }
    removed += 1;
    deps.reporter.sliceRemoved(service, slice.name);
  }
  return removed;
}

function views(slices: readonly ObservedSlice[]): SliceView[] {
  return slices.map((s) => ({
    name: s.name,
    endpoints: s.endpoints.map((e) => ({
      podName: e.targetRef?.kind === 'Pod' ? e.targetRef.name : undefined,
      podUid: e.targetRef?.kind === 'Pod' ? e.targetRef.uid : undefined,
      ready: e.conditions.ready !== false,
    })),
  }));
}

/**
 * The slices as listed or written show the record's pod alone: the term is recorded as
 * completed, as selector mode does when the EndpointSlice controller's write shows it.
 * Sent without waiting: the reply that lets the next event in must not wait for it, and
 * a lost race (409) leaves it to the next look or sweep.
 */
function completeIfDue(deps: SliceDeps, service: Observed<ServiceView>, slices: readonly ObservedSlice[]): void {
  const due = completionDue(service, views(slices), deps.keys, deps.now());
  if (due === undefined) return;
  recordCompletion(deps, service, due).catch((error: unknown) => {
    if (error instanceof ConflictError || error instanceof NotFoundError) return;
    deps.logger.warn({ service: `${service.namespace}/${service.name}`, err: error instanceof Error ? error.message : String(error) }, 'could not record completion');
  });
}

/**
 * Brings baton's slice to what the Service's record asks for (`service`: as the record's
 * write left it, or as read), from the pods listed for this decision. Returns what it did.
 */
export async function syncSlice(deps: SliceDeps, service: Observed<ServiceView>, pods: readonly PodView[], listed: readonly ObservedSlice[]): Promise<string> {
  const { cluster, keys } = deps;
  const desired = desiredSlice(service, readRecord(service, keys), pods, keys);
  let slices = listed;
  for (let attempt = 1; ; attempt += 1) {
    const plan = planSlice(desired, slices, service, keys);
    if (plan.foreign.length > 0) deps.reporter.foreignSlices(service, plan.foreign);
    const write = plan.write;
    if (write.kind === 'none') {
      completeIfDue(deps, service, slices);
      return write.why;
    }
    if (write.kind === 'blocked') {
      deps.reporter.sliceBlocked(service, write.why);
      return write.why;
    }
    try {
      const pending = write.kind === 'create' ? cluster.createSlice(write.slice) : cluster.replaceSlice(write.slice, write.resourceVersion);
      deps.ownWrites.writing(service.namespace, 'EndpointSlice', write.slice.name, pending);
      const written = await pending;
      deps.ownWrites.sliceWritten(service.namespace, written.name, written.resourceVersion);
      completeIfDue(deps, service, [...slices.filter((s) => s.name !== written.name), written]);
      const verb = write.kind === 'create' ? 'created' : 'updated';
      return `slice ${verb}: ${desired.endpoints[0]?.targetRef.name ?? 'no pod'} (term ${desired.annotations[keys.term]})`;
    } catch (error) {
      // Taken, changed or deleted since it was listed: list again and plan again.
      if (!(error instanceof ConflictError || error instanceof NotFoundError) || attempt > deps.conflictRetries) throw error;
      slices = await cluster.listSlices(service.namespace, service.name);
    }
  }
}
