// Direct mode's EndpointSlice: what it must hold for a Service and its record, and the one
// write (or none) that brings the slice there. Pure; the shell (../direct.ts) reads the
// slices and pods and sends the write this chooses.
//
// The slice follows the record, never the other way round: the record (active, term) is
// decided and written on the Service first, guarded by its resourceVersion, exactly as in
// selector mode. The slice then names that record's active alone, or no pod, so at every
// instant it holds at most one endpoint. It carries the term it was written for, and a
// writer never replaces a slice stamped with a higher term than its own record: an
// instance acting on an older record cannot take traffic back to an older active.
import { SERVICE_NAME_LABEL } from '../../../shared/events/objects.js';
import type { Keys, Labels } from '../../../shared/keys.js';
import type { BatonRecord } from '../../../shared/record.js';
import { parseTerm } from '../../../shared/record.js';
import { serviceMode, sliceName } from './direct.js';
import { matchesSelector } from './health.js';
import type { PodView, ServicePort, ServiceView } from './model.js';

export const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';

export interface SliceEndpoint {
  readonly addresses: readonly string[];
  readonly conditions: { readonly ready: boolean; readonly serving: boolean; readonly terminating: boolean };
  readonly nodeName: string | undefined;
  readonly targetRef: { readonly kind: 'Pod'; readonly namespace: string; readonly name: string; readonly uid: string };
}

export interface SlicePort {
  readonly name: string;
  readonly port: number;
  readonly protocol: string;
  readonly appProtocol: string | undefined;
}

/** The slice as baton writes it. */
export interface DesiredSlice {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Labels;
  /** `<prefix>/term`: the term of the record it was written for ("0": none yet). */
  readonly annotations: Labels;
  readonly owner: { readonly name: string; readonly uid: string };
  readonly addressType: 'IPv4';
  readonly endpoints: readonly SliceEndpoint[];
  readonly ports: readonly SlicePort[];
}

/** A slice of the Service as the API server returned it, reduced to what baton compares. */
export interface ObservedSlice {
  readonly name: string;
  readonly uid: string;
  readonly resourceVersion: string;
  readonly labels: Labels;
  readonly annotations: Labels;
  /** uids of the controller owner references. */
  readonly controllerUids: readonly string[];
  readonly addressType: string;
  readonly endpoints: ReadonlyArray<{
    readonly addresses: readonly string[];
    readonly conditions: { readonly ready: boolean | undefined; readonly serving: boolean | undefined; readonly terminating: boolean | undefined };
    readonly nodeName: string | undefined;
    readonly targetRef: { readonly kind: string | undefined; readonly namespace: string | undefined; readonly name: string | undefined; readonly uid: string | undefined } | undefined;
  }>;
  readonly ports: ReadonlyArray<{ readonly name: string | undefined; readonly port: number | undefined; readonly protocol: string | undefined; readonly appProtocol: string | undefined }>;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/**
 * The port a Service port reaches on this pod, as the EndpointSlice controller resolves
 * it: a number as is, no targetPort as the Service port, a name through the pod's
 * container ports of the same protocol; undefined when no container port has that name.
 */
export function resolvePort(port: ServicePort, pod: PodView): number | undefined {
  const target = port.targetPort;
  if (target === undefined || target === '' || target === 0) return port.port;
  if (typeof target === 'number') return target;
  return (pod.containerPorts ?? []).find((c) => c.name === target && c.protocol === port.protocol)?.containerPort;
}

function endpointOf(pod: PodView, ip: string): SliceEndpoint {
  // As the EndpointSlice controller: a terminating pod is never ready, it may still serve.
  const serving = pod.phase === 'Running' && pod.ready;
  return {
    addresses: [ip],
    conditions: { ready: serving && !pod.deleting, serving, terminating: pod.deleting },
    nodeName: pod.nodeName === '' ? undefined : pod.nodeName,
    targetRef: { kind: 'Pod', namespace: pod.namespace, name: pod.name, uid: pod.uid },
  };
}

/** The pod the record names, if it is still a candidate of the Service (matches `<prefix>/pods`). */
function recordedActive(service: ServiceView, record: BatonRecord, pods: readonly PodView[], keys: Keys): PodView | undefined {
  const mode = serviceMode(service, keys);
  if (mode.kind !== 'direct' || record.activeUid === undefined) return undefined;
  return pods.find((p) => p.uid === record.activeUid && p.namespace === service.namespace && matchesSelector(p.labels, mode.selector));
}

/**
 * The whole slice for the Service as its record stands. One endpoint, the recorded
 * active, whatever its health: while no candidate is healthy the slice keeps naming the
 * last active (not ready), as a selector pinned to it would. No endpoint when no active
 * is recorded, when the recorded pod is no candidate any more, or has no IPv4 address
 * yet. A named targetPort the pod does not declare leaves that port out, as upstream.
 */
export function desiredSlice(service: ServiceView, record: BatonRecord, pods: readonly PodView[], keys: Keys): DesiredSlice {
  const active = recordedActive(service, record, pods, keys);
  const ip = active?.ips?.find((a) => IPV4.test(a));
  const endpoints = active !== undefined && ip !== undefined ? [endpointOf(active, ip)] : [];
  const ports: SlicePort[] = [];
  if (active !== undefined && ip !== undefined) {
    for (const p of service.ports ?? []) {
      const port = resolvePort(p, active);
      if (port !== undefined) ports.push({ name: p.name ?? '', port, protocol: p.protocol, appProtocol: p.appProtocol });
    }
  }
  return {
    name: sliceName(service),
    namespace: service.namespace,
    labels: { [SERVICE_NAME_LABEL]: service.name, [MANAGED_BY_LABEL]: keys.sliceManager },
    annotations: { [keys.term]: String(record.term ?? 0) },
    owner: { name: service.name, uid: service.uid },
    addressType: 'IPv4',
    endpoints,
    ports,
  };
}

/** The slice is baton's own for this Service: its name, its manager label, its controller owner. */
export function isOwnSlice(slice: ObservedSlice, service: Pick<ServiceView, 'name' | 'uid'>, keys: Keys): boolean {
  return slice.name === sliceName(service) && slice.labels[MANAGED_BY_LABEL] === keys.sliceManager && slice.controllerUids.includes(service.uid);
}

/** What baton compares: only the fields it writes, in one canonical form. */
function content(slice: DesiredSlice | ObservedSlice, keys: Keys): string {
  const labels = [slice.labels[SERVICE_NAME_LABEL], slice.labels[MANAGED_BY_LABEL]];
  const endpoints = slice.endpoints.map((e) => [
    [...e.addresses],
    e.conditions.ready ?? null,
    e.conditions.serving ?? null,
    e.conditions.terminating ?? null,
    e.nodeName ?? null,
    e.targetRef ? [e.targetRef.kind, e.targetRef.namespace, e.targetRef.name, e.targetRef.uid] : null,
  ]);
  const ports = slice.ports.map((p) => [p.name ?? '', p.port ?? null, p.protocol ?? 'TCP', p.appProtocol ?? null]);
  return JSON.stringify([labels, slice.annotations[keys.term] ?? null, slice.addressType, endpoints, ports]);
}

export type SliceWrite =
  | { readonly kind: 'create'; readonly slice: DesiredSlice }
  | { readonly kind: 'update'; readonly slice: DesiredSlice; readonly resourceVersion: string }
  | { readonly kind: 'none'; readonly why: string }
  /** baton must not write: the name is taken by a slice it did not make, or a newer term wrote it. */
  | { readonly kind: 'blocked'; readonly why: string };

export interface SlicePlan {
  readonly write: SliceWrite;
  /** Other slices of the Service (written by someone else): reported, never changed. */
  readonly foreign: readonly string[];
}

/** The write that brings the Service's slices to `desired`, from the slices as listed. */
export function planSlice(desired: DesiredSlice, slices: readonly ObservedSlice[], service: Pick<ServiceView, 'name' | 'uid'>, keys: Keys): SlicePlan {
  // Named with their manager, so that the report says whose they are.
  const foreign = slices
    .filter((s) => !isOwnSlice(s, service, keys))
    .map((s) => `${s.name} (managed by ${s.labels[MANAGED_BY_LABEL] ?? 'nobody'})`)
    .sort();
  const named = slices.find((s) => s.name === desired.name);
  if (named === undefined) return { write: { kind: 'create', slice: desired }, foreign };
  if (!isOwnSlice(named, service, keys)) {
    return { write: { kind: 'blocked', why: `an EndpointSlice named ${named.name} exists that baton did not write for this Service; it is left alone` }, foreign };
  }
  const theirs = parseTerm(named.annotations[keys.term]) ?? 0;
  const ours = parseTerm(desired.annotations[keys.term]) ?? 0;
  if (theirs > ours) return { write: { kind: 'blocked', why: `the slice was written for term ${theirs}, newer than this record's term ${ours}` }, foreign };
  if (content(named, keys) === content(desired, keys)) return { write: { kind: 'none', why: 'the slice already matches the record' }, foreign };
  return { write: { kind: 'update', slice: desired, resourceVersion: named.resourceVersion }, foreign };
}

/** baton's own slices of a Service leaving direct mode (by name, manager and owner), to delete. */
export function slicesToRemove(slices: readonly ObservedSlice[], service: Pick<ServiceView, 'name' | 'uid'>, keys: Keys): ObservedSlice[] {
  return slices.filter((s) => isOwnSlice(s, service, keys));
}

/** The highest term baton's own slice of the Service was written for (0: none). */
export function sliceTerm(slices: readonly ObservedSlice[], service: Pick<ServiceView, 'name' | 'uid'>, keys: Keys): number {
  const own = slices.find((s) => isOwnSlice(s, service, keys));
  return own ? (parseTerm(own.annotations[keys.term]) ?? 0) : 0;
}
