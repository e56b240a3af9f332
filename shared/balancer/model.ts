// The pure core of the balancer: EndpointSlices in, the endpoints to rotate over out.
// No I/O and no clock, so every rule here is a table or property test away.
import type { PortInfo } from './errors.js';
import type { PodRef } from '../audit/schemas.js';

/**
 * `undefined`: the Service's only port. A string: the Service port's name (the name
 * EndpointSlices carry). A number: the port on the endpoints themselves, i.e. what is
 * dialled (the Service's targetPort), not the Service's own port.
 */
export type PortSelector = string | number | undefined;

// Structural, so client-node's V1EndpointSlice and hand-built test objects both fit.
export interface SliceLike {
  readonly metadata?: { readonly name?: string | undefined; readonly resourceVersion?: string | undefined } | undefined;
  readonly ports?: ReadonlyArray<{ readonly name?: string | undefined; readonly port?: number | undefined }> | null | undefined;
  readonly endpoints?: ReadonlyArray<{
    readonly addresses: readonly string[];
    readonly conditions?: { readonly ready?: boolean | undefined } | undefined;
    readonly targetRef?: { readonly name?: string | undefined; readonly uid?: string | undefined } | undefined;
    readonly nodeName?: string | undefined;
    readonly zone?: string | undefined;
  }> | null | undefined;
}

export interface Endpoint {
  readonly address: string;
  readonly port: number;
  /** The pod behind the address, when the slice says (it does for Services with a selector). */
  readonly pod: PodRef | undefined;
  readonly nodeName: string | undefined;
  readonly zone: string | undefined;
}

export type Slices = ReadonlyMap<string, SliceLike>;

export type Resolution =
  | { readonly kind: 'ok'; readonly endpoints: readonly Endpoint[] }
  | { readonly kind: 'unknown-port'; readonly available: readonly PortInfo[] };

export function endpointKey(e: Pick<Endpoint, 'address' | 'port'>): string {
  return `${e.address}|${e.port}`;
}

/** `host:port` with IPv6 addresses bracketed, ready for a URL or net.connect. */
export function hostPort(e: Pick<Endpoint, 'address' | 'port'>): string {
  return e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

// Slices are keyed by name because a watch reports a slice's whole new state under its
// name: an update replaces the old copy, a deletion drops it with everything it listed.
// Keeping endpoints per slice (never in one merged list) is what stops a deleted
// slice's endpoints from lingering.
export function withSlice(slices: Slices, slice: SliceLike): Slices {
  const name = slice.metadata?.name;
  if (!name) return slices;
  const next = new Map(slices);
  next.set(name, slice);
  return next;
}

export function withoutSlice(slices: Slices, name: string): Slices {
  if (!slices.has(name)) return slices;
  const next = new Map(slices);
  next.delete(name);
  return next;
}

export function slicesFrom(list: readonly SliceLike[]): Slices {
  let slices: Slices = new Map();
  for (const s of list) slices = withSlice(slices, s);
  return slices;
}

function portMatches(port: { readonly name?: string | undefined; readonly port?: number | undefined }, selector: PortSelector): boolean {
  if (typeof selector === 'number') return port.port === selector;
  if (typeof selector === 'string') return (port.name ?? '') === selector;
  return true;
}

function availablePorts(slices: Slices): PortInfo[] {
  const seen = new Map<string, PortInfo>();
  for (const slice of slices.values()) {
    for (const p of slice.ports ?? []) {
      if (p.port === undefined) continue;
      const info = { name: p.name ?? '', port: p.port };
      seen.set(`${info.name}|${info.port}`, info);
    }
  }
  return [...seen.values()].sort((a, b) => a.name.localeCompare(b.name) || a.port - b.port);
}

/**
 * Ready endpoints of every slice for the port, deduplicated and in a stable order.
 *
 * Each slice is matched on its own: a named targetPort can resolve to different
 * numbers on different pods, and the controller then puts them in different slices.
 */
export function resolve(slices: Slices, selector: PortSelector): Resolution {
  const available = availablePorts(slices);
  if (selector === undefined && new Set(available.map((p) => p.name)).size > 1) return { kind: 'unknown-port', available };
  const byKey = new Map<string, Endpoint>();
  let anyPortMatched = false;
  for (const slice of slices.values()) {
    const port = (slice.ports ?? []).find((p) => p.port !== undefined && portMatches(p, selector));
    if (port?.port === undefined) continue;
    anyPortMatched = true;
    for (const e of slice.endpoints ?? []) {
      // The API defines a missing ready condition as "unknown, treat as ready";
      // terminating endpoints always carry ready=false.
      if (e.conditions?.ready === false) continue;
      const address = e.addresses[0];
      if (address === undefined) continue;
      const endpoint: Endpoint = {
        address,
        port: port.port,
        pod: e.targetRef?.name && e.targetRef.uid ? { name: e.targetRef.name, uid: e.targetRef.uid } : undefined,
        nodeName: e.nodeName,
        zone: e.zone,
      };
      // While the controller moves an endpoint between slices it can be listed twice.
      const key = endpointKey(endpoint);
      if (!byKey.has(key)) byKey.set(key, endpoint);
    }
  }
  // Slices without ports (a Service that selects nothing yet) say nothing about port
  // names, so only slices that do list ports can make a port unknown.
  if (!anyPortMatched && available.length > 0) return { kind: 'unknown-port', available };
  return { kind: 'ok', endpoints: [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, e]) => e) };
}

/**
 * Round robin that stays fair across changes: after the list changes it continues with
 * the first endpoint ordered after the last one it returned, instead of restarting at
 * the front (which would favour the lowest addresses whenever slices churn).
 */
export class RoundRobin {
  private list: readonly Endpoint[] = [];
  private index = 0;
  // The object, not its key: next() stays two array reads, and the key is only
  // computed when the list changes.
  private lastReturned: Endpoint | undefined;

  get endpoints(): readonly Endpoint[] {
    return this.list;
  }

  replace(list: readonly Endpoint[]): void {
    this.list = list;
    if (this.lastReturned === undefined || list.length === 0) {
      this.index = 0;
      return;
    }
    const last = endpointKey(this.lastReturned);
    const after = list.findIndex((e) => endpointKey(e) > last);
    this.index = after < 0 ? 0 : after;
  }

  next(): Endpoint | undefined {
    const list = this.list;
    if (list.length === 0) return undefined;
    if (this.index >= list.length) this.index = 0;
    const e = list[this.index]!;
    this.index += 1;
    this.lastReturned = e;
    return e;
  }
}
