// What failover reads of pods, Services and EndpointSlices, from either an API object
// (Date timestamps) or an event's parsed `data` (string timestamps).
import { time, type MetaLike, type ServiceLike, type Time } from '../../shared/k8s/views.js';
import type { PodView, ServiceView } from './core/model.js';

export interface PodLike {
  readonly metadata?: MetaLike | undefined;
  readonly spec?:
    | {
        readonly nodeName?: string | undefined;
        readonly hostNetwork?: boolean | undefined;
        readonly containers?: ReadonlyArray<{ readonly ports?: ReadonlyArray<{ readonly name?: string | undefined; readonly containerPort: number; readonly protocol?: string | undefined }> | undefined }> | undefined;
      }
    | undefined;
  readonly status?:
    | {
        readonly phase?: string | undefined;
        readonly conditions?: ReadonlyArray<{ readonly type: string; readonly status: string; readonly lastTransitionTime?: Time }> | undefined;
        readonly podIP?: string | undefined;
        readonly podIPs?: ReadonlyArray<{ readonly ip: string }> | undefined;
      }
    | undefined;
}
export interface SliceSource {
  readonly metadata?: MetaLike | undefined;
  readonly endpoints?: ReadonlyArray<{
    readonly conditions?: { readonly ready?: boolean | undefined } | undefined;
    readonly targetRef?: { readonly kind?: string | undefined; readonly name?: string | undefined; readonly uid?: string | undefined } | undefined;
  }> | undefined;
}

export interface EndpointView {
  readonly podName: string | undefined;
  readonly podUid: string | undefined;
  readonly ready: boolean;
}

export interface SliceView {
  readonly name: string;
  readonly endpoints: readonly EndpointView[];
}

/** The parts of a Pod that decisions use; input is an API object or an event's `data`. */
export function podView(pod: PodLike): PodView {
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready');
  const isReady = ready?.status === 'True';
  return {
    name: pod.metadata?.name ?? '',
    namespace: pod.metadata?.namespace ?? '',
    uid: pod.metadata?.uid ?? '',
    resourceVersion: pod.metadata?.resourceVersion,
    labels: pod.metadata?.labels ?? {},
    annotations: pod.metadata?.annotations ?? {},
    phase: pod.status?.phase ?? '',
    ready: isReady,
    readySince: isReady ? time(ready?.lastTransitionTime) : undefined,
    readyChangedAt: time(ready?.lastTransitionTime),
    createdAt: time(pod.metadata?.creationTimestamp) ?? 0,
    deleting: pod.metadata?.deletionTimestamp !== undefined && pod.metadata?.deletionTimestamp !== null,
    ips: pod.status?.podIPs?.map((p) => p.ip) ?? (pod.status?.podIP ? [pod.status.podIP] : []),
    nodeName: pod.spec?.nodeName,
    hostNetwork: pod.spec?.hostNetwork === true,
    containerPorts: (pod.spec?.containers ?? []).flatMap((c) => (c.ports ?? []).map((p) => ({ name: p.name, containerPort: p.containerPort, protocol: p.protocol ?? 'TCP' }))),
  };
}

export function serviceView(service: ServiceLike): ServiceView {
  return {
    name: service.metadata?.name ?? '',
    namespace: service.metadata?.namespace ?? '',
    uid: service.metadata?.uid ?? '',
    resourceVersion: service.metadata?.resourceVersion ?? '',
    labels: service.metadata?.labels ?? {},
    annotations: service.metadata?.annotations ?? {},
    selector: service.spec?.selector ?? {},
    ports: (service.spec?.ports ?? []).map((p) => ({ name: p.name, port: p.port ?? 0, targetPort: p.targetPort, protocol: p.protocol ?? 'TCP', appProtocol: p.appProtocol })),
  };
}

export function sliceView(slice: SliceSource): SliceView {
  return {
    name: slice.metadata?.name ?? '',
    endpoints: (slice.endpoints ?? []).map((e) => ({
      podName: e.targetRef?.kind === 'Pod' ? e.targetRef.name : undefined,
      podUid: e.targetRef?.kind === 'Pod' ? e.targetRef.uid : undefined,
      // The API leaves `ready` unset to mean "unknown", which consumers treat as ready.
      ready: e.conditions?.ready !== false,
    })),
  };
}

/** What baton reads of a Node: whether it is cordoned (spec.unschedulable), and its version. */
export interface NodeView {
  readonly name: string;
  readonly resourceVersion: string;
  readonly unschedulable: boolean;
}

export interface NodeLike {
  readonly metadata?: { readonly name?: string | undefined; readonly resourceVersion?: string | undefined } | undefined;
  readonly spec?: { readonly unschedulable?: boolean | null | undefined } | undefined;
}

export function nodeView(node: NodeLike): NodeView {
  return { name: node.metadata?.name ?? '', resourceVersion: node.metadata?.resourceVersion ?? '', unschedulable: node.spec?.unschedulable === true };
}
