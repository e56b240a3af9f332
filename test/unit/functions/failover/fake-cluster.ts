// A recording, in-memory `Cluster` for the shell tests: Services, Pods and
// EndpointSlices with resourceVersions, the precondition and merge-patch semantics of
// the real API, every call recorded in order, and fault injection per call.
import { ConflictError, NotFoundError, TransientError } from '../../../../shared/k8s/errors.js';
import { selectorPatch, type Cluster } from '../../../../functions/failover/cluster.js';
import type { EventNote } from '../../../../shared/k8s/service-events.js';
import type { NodeView, SliceView } from '../../../../functions/failover/views.js';
import type { Labels, Observed, PodView, ServiceView, ServiceWrite } from '../../../../functions/failover/core/model.js';
import type { DesiredSlice, ObservedSlice } from '../../../../functions/failover/core/slice.js';

/** A slice as the fake API server stores it after a write of baton's. */
function storedSlice(slice: DesiredSlice, resourceVersion: string, uid: string): ObservedSlice {
  return {
    name: slice.name,
    uid,
    resourceVersion,
    labels: { ...slice.labels },
    annotations: { ...slice.annotations },
    controllerUids: [slice.owner.uid],
    addressType: slice.addressType,
    endpoints: slice.endpoints.map((e) => ({ ...e, conditions: { ...e.conditions }, targetRef: { ...e.targetRef } })),
    ports: slice.ports.map((p) => ({ ...p })),
  };
}

/** This fake plays the API server, so what it returns counts as observed. */
export const observed = <T>(value: T): Observed<T> => value as Observed<T>;

export type Method = 'getService' | 'listServices' | 'listPods' | 'findPod' | 'getNode' | 'listCordonedNodes' | 'listPodsOnNode' | 'listEndpointSlices' | 'patchService' | 'patchPodLabels' | 'evictPod' | 'recordEvent' | 'listSlices' | 'createSlice' | 'replaceSlice' | 'deleteSlice';

export type Call =
  | { readonly method: 'getService'; readonly namespace: string; readonly name: string }
  | { readonly method: 'listServices'; readonly labelSelector: string; readonly namespace: string | undefined }
  | { readonly method: 'listPods'; readonly namespace: string; readonly selector: Labels }
  | { readonly method: 'findPod'; readonly namespace: string; readonly name: string }
  | { readonly method: 'getNode'; readonly name: string }
  | { readonly method: 'listCordonedNodes' }
  | { readonly method: 'listPodsOnNode'; readonly node: string; readonly namespace: string | undefined }
  | { readonly method: 'listEndpointSlices'; readonly namespace: string; readonly service: string }
  | { readonly method: 'patchService'; readonly namespace: string; readonly name: string; readonly resourceVersion: string; readonly write: ServiceWrite }
  | { readonly method: 'patchPodLabels'; readonly namespace: string; readonly pod: string; readonly labels: Readonly<Record<string, string | null>> }
  | { readonly method: 'evictPod'; readonly namespace: string; readonly pod: string; readonly uid: string }
  | { readonly method: 'recordEvent'; readonly namespace: string; readonly name: string; readonly note: EventNote }
  | { readonly method: 'listSlices'; readonly namespace: string; readonly service: string }
  | { readonly method: 'createSlice' | 'replaceSlice' | 'deleteSlice'; readonly namespace: string; readonly name: string; readonly slice?: DesiredSlice };

/** What happens when a fault fires: throw, or run something against the world first. */
export type FaultAction = { readonly kind: 'throw'; readonly error: () => Error } | { readonly kind: 'before'; readonly run: (world: FakeCluster) => void };

export interface Fault {
  readonly method: Method;
  /** 1-based index among the calls of `method` that pass `when`; undefined: every such call. */
  readonly nth?: number;
  readonly when?: (call: Call) => boolean;
  readonly action: FaultAction;
}

export interface SuccessfulWrite {
  readonly before: Observed<ServiceView>;
  readonly after: Observed<ServiceView>;
  /** The resourceVersion the write carried. */
  readonly precondition: string;
}

const key = (namespace: string, name: string): string => `${namespace}/${name}`;

function merge(current: Labels, patch: Readonly<Record<string, string | null>>): Record<string, string> {
  const out: Record<string, string> = { ...current };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}

function copyService(s: ServiceView): Observed<ServiceView> {
  return observed({ ...s, labels: { ...s.labels }, annotations: { ...s.annotations }, selector: { ...s.selector } });
}

function copyPod(p: PodView): Observed<PodView> {
  return observed({ ...p, labels: { ...p.labels }, annotations: { ...p.annotations } });
}

function matches(labels: Labels, selector: Labels): boolean {
  return Object.entries(selector).every(([k, v]) => Object.hasOwn(labels, k) && labels[k] === v);
}

function parseSelector(text: string): Labels {
  const out: Record<string, string> = {};
  for (const part of text.split(',')) {
    if (part === '') continue;
    const at = part.indexOf('=');
    out[part.slice(0, at)] = part.slice(at + 1);
  }
  return out;
}

export class FakeCluster implements Cluster {
  readonly calls: Call[] = [];
  readonly writes: SuccessfulWrite[] = [];
  readonly conflicts: Call[] = [];
  /** Called after every successful Service patch, with the world already updated. */
  onWrite: ((write: SuccessfulWrite) => void) | undefined;
  /** Called after every successful slice create or replace, with the slice as stored. */
  onSliceWrite: ((slice: ObservedSlice) => void) | undefined;
  /** Calls matching this stay pending until `release()`: shows what is not awaited. */
  hold: ((call: Call) => boolean) | undefined;
  private readonly held: Array<() => void> = [];
  private readonly faults: Array<Fault & { seen: number }> = [];
  private readonly services = new Map<string, ServiceView>();
  private readonly pods = new Map<string, PodView>();
  private readonly nodes = new Map<string, NodeView>();
  private readonly slices = new Map<string, SliceView[]>();
  /** Full slices (direct mode), by namespace/name. */
  private readonly fullSlices = new Map<string, ObservedSlice>();
  private rv: number;

  constructor(startRv = 100) {
    this.rv = startRv;
  }

  get requestCount(): number {
    return this.calls.length;
  }

  methods(): Method[] {
    return this.calls.map((c) => c.method);
  }

  count(method: Method): number {
    return this.calls.filter((c) => c.method === method).length;
  }

  // ---- world set-up and inspection (no requests) ----

  /** Stores the Service with a fresh resourceVersion (its own is ignored) and returns it. */
  putService(service: ServiceView): Observed<ServiceView> {
    const stored = { ...copyService(service), resourceVersion: String(++this.rv) };
    this.services.set(key(service.namespace, service.name), stored);
    return copyService(stored);
  }

  service(namespace: string, name: string): Observed<ServiceView> {
    const s = this.services.get(key(namespace, name));
    if (!s) throw new Error(`no service ${namespace}/${name} in the fake world`);
    return copyService(s);
  }

  deleteService(namespace: string, name: string): void {
    this.services.delete(key(namespace, name));
  }

  /** Another writer changes the Service: new resourceVersion, optional edits. */
  bumpService(namespace: string, name: string, edit: (s: ServiceView) => Partial<ServiceView> = () => ({})): Observed<ServiceView> {
    const current = this.service(namespace, name);
    return this.putService({ ...current, ...edit(current) });
  }

  /** Stores a Node, cordoned or not, with a fresh resourceVersion; returns it as stored. */
  putNode(name: string, unschedulable: boolean): Observed<NodeView> {
    const node = { name, unschedulable, resourceVersion: String(++this.rv) };
    this.nodes.set(name, node);
    return observed({ ...node });
  }

  /** Stores the pod with a fresh resourceVersion, like any write to the API. */
  putPod(pod: PodView): void {
    this.pods.set(key(pod.namespace, pod.name), { ...copyPod(pod), resourceVersion: String(++this.rv) });
  }

  pod(namespace: string, name: string): Observed<PodView> | undefined {
    const p = this.pods.get(key(namespace, name));
    return p && copyPod(p);
  }

  allPods(): Array<Observed<PodView>> {
    return [...this.pods.values()].map(copyPod);
  }

  deletePod(namespace: string, name: string): void {
    this.pods.delete(key(namespace, name));
  }

  setReady(namespace: string, name: string, ready: boolean, at: number): void {
    const p = this.pods.get(key(namespace, name));
    if (!p || p.ready === ready) return;
    this.pods.set(key(namespace, name), { ...p, ready, readySince: ready ? at : undefined, resourceVersion: String(++this.rv) });
  }

  putSlices(namespace: string, service: string, slices: SliceView[]): void {
    this.slices.set(key(namespace, service), slices);
  }

  /** Stores a full slice as someone else would write it (a fresh resourceVersion). */
  putSlice(namespace: string, slice: ObservedSlice): void {
    this.fullSlices.set(key(namespace, slice.name), { ...slice, resourceVersion: String(++this.rv) });
  }

  /** The full slices of a Service, as stored. */
  slicesOf(namespace: string, service: string): ObservedSlice[] {
    return [...this.fullSlices.entries()].filter(([k, s]) => k.startsWith(`${namespace}/`) && s.labels['kubernetes.io/service-name'] === service).map(([, s]) => s);
  }

  inject(fault: Fault): void {
    this.faults.push({ ...fault, seen: 0 });
  }

  /** Lets every held call finish. */
  release(): void {
    for (const go of this.held.splice(0)) go();
  }

  get heldCount(): number {
    return this.held.length;
  }

  // ---- the Cluster port ----

  /** Records the call and applies faults; the caller then does the work at once. */
  private enter(call: Call): void {
    this.calls.push(call);
    for (const fault of this.faults) {
      if (fault.method !== call.method || (fault.when && !fault.when(call))) continue;
      fault.seen += 1;
      if (fault.nth !== undefined && fault.seen !== fault.nth) continue;
      if (fault.action.kind === 'throw') throw fault.action.error();
      fault.action.run(this);
    }
  }

  /** The server did the work when called; a held call only delays the answer. */
  private async reply<T>(call: Call, value: T): Promise<T> {
    if (this.hold?.(call)) await new Promise<void>((resolve) => this.held.push(resolve));
    return value;
  }

  async getService(namespace: string, name: string): Promise<Observed<ServiceView>> {
    const call: Call = { method: 'getService', namespace, name };
    this.enter(call);
    const s = this.services.get(key(namespace, name));
    if (!s) throw new NotFoundError(`services "${name}" not found`, 404);
    return this.reply(call, copyService(s));
  }

  async listServices(labelSelector: string, namespace?: string): Promise<Array<Observed<ServiceView>>> {
    const call: Call = { method: 'listServices', labelSelector, namespace };
    this.enter(call);
    const wanted = parseSelector(labelSelector);
    return this.reply(call, [...this.services.values()].filter((s) => (namespace === undefined || s.namespace === namespace) && matches(s.labels, wanted)).map(copyService));
  }

  async listPods(namespace: string, selector: Labels): Promise<Array<Observed<PodView>>> {
    const call: Call = { method: 'listPods', namespace, selector: { ...selector } };
    this.enter(call);
    return this.reply(call, [...this.pods.values()].filter((p) => p.namespace === namespace && matches(p.labels, selector)).map(copyPod));
  }

  async getNode(name: string): Promise<Observed<NodeView>> {
    const call: Call = { method: 'getNode', name };
    this.enter(call);
    const node = this.nodes.get(name);
    if (!node) throw new NotFoundError(`nodes "${name}" not found`, 404);
    return this.reply(call, observed({ ...node }));
  }

  async listCordonedNodes(): Promise<Array<Observed<NodeView>>> {
    const call: Call = { method: 'listCordonedNodes' };
    this.enter(call);
    return this.reply(call, [...this.nodes.values()].filter((n) => n.unschedulable).map((n) => observed({ ...n })));
  }

  async listPodsOnNode(node: string, namespace?: string): Promise<Array<Observed<PodView>>> {
    const call: Call = { method: 'listPodsOnNode', node, namespace };
    this.enter(call);
    return this.reply(call, [...this.pods.values()].filter((p) => p.nodeName === node && (namespace === undefined || p.namespace === namespace)).map(copyPod));
  }

  async findPod(namespace: string, name: string): Promise<Observed<PodView> | undefined> {
    const call: Call = { method: 'findPod', namespace, name };
    this.enter(call);
    const found = this.pods.get(key(namespace, name));
    return this.reply(call, found ? copyPod(found) : undefined);
  }

  async listEndpointSlices(namespace: string, service: string): Promise<SliceView[]> {
    const call: Call = { method: 'listEndpointSlices', namespace, service };
    this.enter(call);
    const full: SliceView[] = this.slicesOf(namespace, service).map((s) => ({
      name: s.name,
      endpoints: s.endpoints.map((e) => ({ podName: e.targetRef?.name, podUid: e.targetRef?.uid, ready: e.conditions.ready !== false })),
    }));
    return this.reply(call, [...(this.slices.get(key(namespace, service)) ?? []).map((s) => ({ ...s, endpoints: s.endpoints.map((e) => ({ ...e })) })), ...full]);
  }

  async listSlices(namespace: string, service: string): Promise<Array<Observed<ObservedSlice>>> {
    const call: Call = { method: 'listSlices', namespace, service };
    this.enter(call);
    return this.reply(call, this.slicesOf(namespace, service).map((s) => observed(structuredClone(s))));
  }

  async createSlice(slice: DesiredSlice): Promise<Observed<ObservedSlice>> {
    const call: Call = { method: 'createSlice', namespace: slice.namespace, name: slice.name, slice };
    this.enter(call);
    const k = key(slice.namespace, slice.name);
    if (this.fullSlices.has(k)) throw new ConflictError(`endpointslices "${slice.name}" already exists`, 409);
    const stored = storedSlice(slice, String(++this.rv), `slice-${this.rv}`);
    this.fullSlices.set(k, stored);
    this.onSliceWrite?.(stored);
    return this.reply(call, observed(structuredClone(stored)));
  }

  async replaceSlice(slice: DesiredSlice, resourceVersion: string): Promise<Observed<ObservedSlice>> {
    const call: Call = { method: 'replaceSlice', namespace: slice.namespace, name: slice.name, slice };
    this.enter(call);
    const k = key(slice.namespace, slice.name);
    const current = this.fullSlices.get(k);
    if (!current) throw new NotFoundError(`endpointslices "${slice.name}" not found`, 404);
    if (current.resourceVersion !== resourceVersion) throw new ConflictError(`endpointslices "${slice.name}": the object has been modified`, 409);
    const stored = storedSlice(slice, String(++this.rv), current.uid);
    this.fullSlices.set(k, stored);
    this.onSliceWrite?.(stored);
    return this.reply(call, observed(structuredClone(stored)));
  }

  async deleteSlice(namespace: string, slice: Pick<ObservedSlice, 'name' | 'uid' | 'resourceVersion'>): Promise<void> {
    const call: Call = { method: 'deleteSlice', namespace, name: slice.name };
    this.enter(call);
    const k = key(namespace, slice.name);
    const current = this.fullSlices.get(k);
    if (!current) throw new NotFoundError(`endpointslices "${slice.name}" not found`, 404);
    if (current.uid !== slice.uid || current.resourceVersion !== slice.resourceVersion) throw new ConflictError(`endpointslices "${slice.name}": precondition failed`, 409);
    this.fullSlices.delete(k);
    return this.reply(call, undefined);
  }

  async patchService(service: ServiceView, write: ServiceWrite): Promise<Observed<ServiceView>> {
    const call: Call = {
      method: 'patchService',
      namespace: service.namespace,
      name: service.name,
      resourceVersion: service.resourceVersion,
      write: { selector: { ...write.selector }, annotations: { ...write.annotations } },
    };
    this.enter(call);
    const k = key(service.namespace, service.name);
    const stored = this.services.get(k);
    if (!stored) throw new NotFoundError(`services "${service.name}" not found`, 404);
    if (stored.resourceVersion !== service.resourceVersion) {
      this.conflicts.push(call);
      throw new ConflictError(`Operation cannot be fulfilled on services "${service.name}": the object has been modified`, 409);
    }
    // The same body the real client sends: a merge patch computed against the caller's copy.
    const next: ServiceView = {
      ...stored,
      resourceVersion: String(++this.rv),
      annotations: merge(stored.annotations, write.annotations),
      selector: merge(stored.selector, selectorPatch(service.selector, write.selector)),
    };
    this.services.set(k, next);
    const done: SuccessfulWrite = { before: copyService(stored), after: copyService(next), precondition: service.resourceVersion };
    this.writes.push(done);
    this.onWrite?.(done);
    return this.reply(call, copyService(next));
  }

  async patchPodLabels(namespace: string, pod: string, labels: Readonly<Record<string, string | null>>, resourceVersion?: string): Promise<Observed<PodView>> {
    const call: Call = { method: 'patchPodLabels', namespace, pod, labels: { ...labels } };
    this.enter(call);
    const k = key(namespace, pod);
    const current = this.pods.get(k);
    if (!current) throw new NotFoundError(`pods "${pod}" not found`, 404);
    if (resourceVersion !== undefined && current.resourceVersion !== resourceVersion) {
      throw new ConflictError(`pods "${pod}": the object has been modified (have ${current.resourceVersion}, write carried ${resourceVersion})`, 409);
    }
    const next: PodView = { ...current, labels: merge(current.labels, labels), resourceVersion: String(++this.rv) };
    this.pods.set(k, next);
    return this.reply(call, copyPod(next));
  }

  /** Pods whose eviction a PodDisruptionBudget forbids (429), by name. */
  readonly protectedPods = new Set<string>();

  async evictPod(namespace: string, pod: string, uid: string): Promise<void> {
    const call: Call = { method: 'evictPod', namespace, pod, uid };
    this.enter(call);
    const k = key(namespace, pod);
    const current = this.pods.get(k);
    if (!current) throw new NotFoundError(`pods "${pod}" not found`, 404);
    if (current.uid !== uid) throw new ConflictError(`pods "${pod}": precondition failed: UID in precondition: ${uid}, UID in object meta: ${current.uid}`, 409);
    if (this.protectedPods.has(pod)) throw new TransientError('Cannot evict pod as it would violate the pod\'s disruption budget.', 429);
    // The pod starts its graceful shutdown: it is deleting, and no longer ready.
    this.pods.set(k, { ...current, deleting: true, ready: false, readySince: undefined, resourceVersion: String(++this.rv) });
    return this.reply(call, undefined);
  }

  async recordEvent(service: ServiceView, note: EventNote): Promise<void> {
    const call: Call = { method: 'recordEvent', namespace: service.namespace, name: service.name, note };
    this.enter(call);
    return this.reply(call, undefined);
  }
}
