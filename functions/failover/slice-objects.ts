// Direct mode's EndpointSlice, between the core's shapes (core/slice.ts) and the API's:
// the body baton sends, and the slice as the API server returns it.
import type * as k8s from '@kubernetes/client-node';
import type { Observed } from './core/model.js';
import type { DesiredSlice, ObservedSlice } from './core/slice.js';

/** The EndpointSlice baton writes, owned by its Service so that deleting the Service deletes it. */
export function sliceBody(slice: DesiredSlice, resourceVersion?: string): k8s.V1EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: slice.name,
      namespace: slice.namespace,
      labels: { ...slice.labels },
      annotations: { ...slice.annotations },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: slice.owner.name, uid: slice.owner.uid, controller: true, blockOwnerDeletion: true }],
      ...(resourceVersion !== undefined ? { resourceVersion } : {}),
    },
    addressType: slice.addressType,
    endpoints: slice.endpoints.map((e) => ({
      addresses: [...e.addresses],
      conditions: { ...e.conditions },
      ...(e.nodeName !== undefined ? { nodeName: e.nodeName } : {}),
      targetRef: { ...e.targetRef },
    })),
    ports: slice.ports.map((p) => ({ name: p.name, port: p.port, protocol: p.protocol, ...(p.appProtocol !== undefined ? { appProtocol: p.appProtocol } : {}) })),
  };
}

/** A slice the API server returned; the only place that vouches for one. */
export function observedSlice(slice: k8s.V1EndpointSlice): Observed<ObservedSlice> {
  const view: ObservedSlice = {
    name: slice.metadata?.name ?? '',
    uid: slice.metadata?.uid ?? '',
    resourceVersion: slice.metadata?.resourceVersion ?? '',
    labels: slice.metadata?.labels ?? {},
    annotations: slice.metadata?.annotations ?? {},
    controllerUids: (slice.metadata?.ownerReferences ?? []).filter((o) => o.controller === true).map((o) => o.uid),
    addressType: slice.addressType,
    endpoints: (slice.endpoints ?? []).map((e) => ({
      addresses: e.addresses,
      conditions: { ready: e.conditions?.ready, serving: e.conditions?.serving, terminating: e.conditions?.terminating },
      nodeName: e.nodeName,
      targetRef: e.targetRef ? { kind: e.targetRef.kind, namespace: e.targetRef.namespace, name: e.targetRef.name, uid: e.targetRef.uid } : undefined,
    })),
    ports: (slice.ports ?? []).map((p) => ({ name: p.name, port: p.port, protocol: p.protocol, appProtocol: p.appProtocol })),
  };
  return view as Observed<ObservedSlice>;
}
