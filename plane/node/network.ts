import { createHash } from 'node:crypto';
import { z } from 'zod';

/**
 * The real node's addresses. Everything sits in 198.18.0.0/15 (RFC 2544, benchmarking:
 * never routed on the Internet and not used by anything here): pods in the lower half,
 * Services in the upper half. The kwok nodes keep 198.18.<i>.0/24 below 198.18.128.0.
 */
export const CLUSTER_RANGE = '198.18.0.0/15';
export const POD_RANGE = '198.18.0.0/16';
export const SERVICE_RANGE = '198.19.0.0/16';
/** Pod subnet of the real node: the first /24 of the upper half of the pod range. */
export const REAL_NODE_SUBNET = '198.18.128.0/24';
export const REAL_NODE_GATEWAY = '198.18.128.1';
/**
 * The local image registry, as containerd, buildah and skaffold name it: the bridge's own
 * address, so that it is reachable from the host and from pods alike and never from off
 * the machine. (Its process listens on loopback; a relay serves this address.)
 */
export const REGISTRY_PORT = 5000;
export const REGISTRY_HOST = `${REAL_NODE_GATEWAY}:${REGISTRY_PORT}`;
/** kwok hands out fake pod addresses from here, below the real node's subnet. */
export const KWOK_POD_RANGE = '198.18.0.0/17';
/** The highest kwok node count whose /24s stay below the real node's subnet. */
export const MAX_KWOK_NODES_WITH_REAL_NODE = 128;

export const REAL_NODE_NAME = 'baton-real-node';
/** Label and taint that keep ordinary pods off the real node: pods must select and tolerate it. */
export const REAL_NODE_LABEL = 'baton.dev/real-node';
export const REAL_NODE_TAINT = { key: 'baton.dev/real-node', value: 'true', effect: 'NoSchedule' } as const;

/** Short id of a plane folder; names every kernel object the node makes so teardown finds them by name. */
export function nodeId(planeDir: string): string {
  return createHash('sha256').update(planeDir).digest('hex').slice(0, 8);
}

export interface NodeNames {
  readonly id: string;
  /** Linux bridge; interface names are at most 15 bytes. */
  readonly bridge: string;
  /** cgroup (v1, every controller) holding the runtime, the node agents and every pod. */
  readonly cgroupRoot: string;
  /** CNI network name, also the host-local IPAM store's folder name. */
  readonly network: string;
}

export function nodeNames(planeDir: string): NodeNames {
  const id = nodeId(planeDir);
  return { id, bridge: `btn${id}`, cgroupRoot: `baton-${id}`, network: `baton-${id}` };
}

/** Parses a.b.c.d/n into a 32-bit base and prefix; throws on anything else. */
export function parseCidr(cidr: string): { base: number; prefix: number } {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  if (!m) throw new Error(`not an IPv4 CIDR: ${cidr}`);
  const octets = m.slice(1, 5).map(Number);
  const prefix = Number(m[5]);
  if (octets.some((o) => o > 255) || prefix > 32) throw new Error(`not an IPv4 CIDR: ${cidr}`);
  const addr = (((octets[0]! << 24) >>> 0) + (octets[1]! << 16) + (octets[2]! << 8) + octets[3]!) >>> 0;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return { base: (addr & mask) >>> 0, prefix };
}

/** True when two IPv4 CIDRs share at least one address. */
export function overlaps(a: string, b: string): boolean {
  const x = parseCidr(a);
  const y = parseCidr(b);
  const prefix = Math.min(x.prefix, y.prefix);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return ((x.base & mask) >>> 0) === ((y.base & mask) >>> 0);
}

/** An IPv4 address or route found on the machine. */
export interface InUse {
  readonly dev: string;
  readonly cidr: string;
  readonly kind: 'address' | 'route';
}

/**
 * Addresses and routes that collide with the cluster range, except those on our own
 * bridge (left over from this same plane, which teardown removes). Another plane's
 * bridge counts as a conflict: two real nodes on one machine would share the range.
 */
export function conflicts(inUse: readonly InUse[], ownBridge: string, range = CLUSTER_RANGE): InUse[] {
  return inUse.filter((u) => u.dev !== ownBridge && overlaps(u.cidr, range));
}

// `ip -j` output, parsed at the boundary: only the fields used here, others ignored.
const ipAddrJson = z.array(
  z.object({
    ifname: z.string(),
    addr_info: z.array(z.object({ family: z.string(), local: z.string(), prefixlen: z.number().int().min(0).max(128) })).default([]),
  }),
);
const ipRouteJson = z.array(z.object({ dst: z.string().optional(), dev: z.string().optional() }));

/** Reads `ip -j addr` and `ip -j route` output (IPv4 only) into InUse records. */
export function parseInUse(addrJson: string, routeJson: string): InUse[] {
  const out: InUse[] = [];
  for (const link of ipAddrJson.parse(JSON.parse(addrJson))) {
    for (const a of link.addr_info) {
      if (a.family === 'inet') out.push({ dev: link.ifname, cidr: `${a.local}/${a.prefixlen}`, kind: 'address' });
    }
  }
  for (const r of ipRouteJson.parse(JSON.parse(routeJson))) {
    if (r.dst === undefined) continue;
    const cidr = r.dst === 'default' ? '0.0.0.0/0' : r.dst.includes('/') ? r.dst : `${r.dst}/32`;
    // A default route covers every address; it is how packets would leave, not a collision.
    if (cidr === '0.0.0.0/0') continue;
    out.push({ dev: r.dev ?? '?', cidr, kind: 'route' });
  }
  return out;
}

export function describeConflicts(found: readonly InUse[], range = CLUSTER_RANGE): string {
  const list = found.map((f) => `${f.kind} ${f.cidr} on ${f.dev}`).join(', ');
  return (
    `the real node needs ${range} for pods and Services, but this machine already uses part of it (${list}). ` +
    'If it is a real node left over from another plane, stop that plane with `baton cluster down` (BATON_STATE_DIR names it); ' +
    'otherwise remove the address or route, or run without --real-node.'
  );
}
