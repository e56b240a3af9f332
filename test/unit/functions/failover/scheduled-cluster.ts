// A Cluster that routes every call of one reconcile through fast-check's scheduler, so
// that property tests explore the interleavings of several instances; it keeps the
// Service writes that succeeded.
import type fc from 'fast-check';
import type { Cluster } from '../../../../functions/failover/cluster.js';
import type { Labels, Observed, PodView, ServiceView, ServiceWrite } from '../../../../functions/failover/core/model.js';
import type { DesiredSlice, ObservedSlice } from '../../../../functions/failover/core/slice.js';
import type { EventNote } from '../../../../shared/k8s/service-events.js';
import type { NodeView, SliceView } from '../../../../functions/failover/views.js';
import type { FakeCluster } from './fake-cluster.js';

/** Routes every call of one reconcile through the scheduler, and keeps its successful writes. */
export class ScheduledCluster implements Cluster {
  readonly written: Array<Observed<ServiceView>> = [];
  constructor(
    private readonly world: FakeCluster,
    private readonly s: fc.Scheduler,
    private readonly tag: string,
  ) {}
  get requestCount(): number {
    return this.world.requestCount;
  }
  private at<T>(label: string, run: () => Promise<T>): Promise<T> {
    return this.s.schedule(Promise.resolve(label), `${this.tag} ${label}`).then(run);
  }
  getService(namespace: string, name: string): Promise<Observed<ServiceView>> {
    return this.at('getService', () => this.world.getService(namespace, name));
  }
  listServices(labelSelector: string, namespace?: string): Promise<Array<Observed<ServiceView>>> {
    return this.at('listServices', () => this.world.listServices(labelSelector, namespace));
  }
  listPods(namespace: string, selector: Labels): Promise<Array<Observed<PodView>>> {
    return this.at('listPods', () => this.world.listPods(namespace, selector));
  }
  getNode(name: string): Promise<Observed<NodeView>> {
    return this.at('getNode', () => this.world.getNode(name));
  }
  listCordonedNodes(): Promise<Array<Observed<NodeView>>> {
    return this.at('listCordonedNodes', () => this.world.listCordonedNodes());
  }
  listPodsOnNode(node: string, namespace?: string): Promise<Array<Observed<PodView>>> {
    return this.at('listPodsOnNode', () => this.world.listPodsOnNode(node, namespace));
  }
  findPod(namespace: string, name: string): Promise<Observed<PodView> | undefined> {
    return this.at('findPod', () => this.world.findPod(namespace, name));
  }
  listEndpointSlices(namespace: string, service: string): Promise<SliceView[]> {
    return this.at('listEndpointSlices', () => this.world.listEndpointSlices(namespace, service));
  }
  patchService(service: ServiceView, write: ServiceWrite): Promise<Observed<ServiceView>> {
    return this.at(`patchService@${service.resourceVersion}`, async () => {
      const out = await this.world.patchService(service, write);
      this.written.push(out);
      return out;
    });
  }
  patchPodLabels(namespace: string, pod: string, labels: Readonly<Record<string, string | null>>, resourceVersion?: string): Promise<Observed<PodView>> {
    return this.at(`patchPodLabels ${pod}`, () => this.world.patchPodLabels(namespace, pod, labels, resourceVersion));
  }
  evictPod(namespace: string, pod: string, uid: string): Promise<void> {
    return this.at(`evictPod ${pod}`, () => this.world.evictPod(namespace, pod, uid));
  }
  recordEvent(service: ServiceView, note: EventNote): Promise<void> {
    return this.at('recordEvent', () => this.world.recordEvent(service, note));
  }
  listSlices(namespace: string, service: string): Promise<Array<Observed<ObservedSlice>>> {
    return this.at('listSlices', () => this.world.listSlices(namespace, service));
  }
  createSlice(slice: DesiredSlice): Promise<Observed<ObservedSlice>> {
    return this.at('createSlice', () => this.world.createSlice(slice));
  }
  replaceSlice(slice: DesiredSlice, resourceVersion: string): Promise<Observed<ObservedSlice>> {
    return this.at(`replaceSlice@${resourceVersion}`, () => this.world.replaceSlice(slice, resourceVersion));
  }
  deleteSlice(namespace: string, slice: Pick<ObservedSlice, 'name' | 'uid' | 'resourceVersion'>): Promise<void> {
    return this.at('deleteSlice', () => this.world.deleteSlice(namespace, slice));
  }
}

