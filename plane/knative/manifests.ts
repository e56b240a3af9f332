// The release YAML as the plane applies it: upstream's documents with the `ko://`
// references and Kourier's Envoy image replaced by the pinned images pushed here, and the
// few settings a local cluster needs. Pure: documents in, documents out.
import { REAL_NODE_LABEL, REAL_NODE_TAINT, REGISTRY_HOST } from '../node/network.js';

export type Doc = Record<string, unknown> & { kind?: string; metadata?: { name?: string; namespace?: string; annotations?: Record<string, string> } };

/** The domain Knative Services get (`<name>.<namespace>.<domain>`): `.internal` never resolves publicly. */
export const KNATIVE_DOMAIN = 'knative.baton.internal';
export const KOURIER_INGRESS_CLASS = 'kourier.ingress.networking.knative.dev';
export const KNATIVE_NAMESPACES = ['knative-serving', 'knative-eventing', 'kourier-system'] as const;
/** Registries whose tags Serving does not resolve to digests (upstream's three, and ours). */
export const SKIP_TAG_RESOLVING = ['kind.local', 'ko.local', 'dev.local', 'baton.local', REGISTRY_HOST].join(',');

/**
 * Annotations that put every pod of a namespace on the real node: the API server's
 * PodNodeSelector and PodTolerationRestriction admission plugins add the node selector and
 * the toleration to each pod created there. Knative's own pods, the pods it makes for a
 * Knative Service or an ApiServerSource, all land there without editing upstream's specs.
 */
export function realNodeNamespaceAnnotations(): Record<string, string> {
  return {
    'scheduler.alpha.kubernetes.io/node-selector': `${REAL_NODE_LABEL}=true`,
    'scheduler.alpha.kubernetes.io/defaultTolerations': JSON.stringify([{ key: REAL_NODE_TAINT.key, operator: 'Exists', effect: REAL_NODE_TAINT.effect }]),
  };
}

export interface Images {
  /** `ko://<import path>` → pinned reference. */
  readonly ko: ReadonlyMap<string, string>;
  readonly envoy: string;
}

const UPSTREAM_ENVOY = /^docker\.io\/envoyproxy\/envoy:/;

function replaceImages(value: unknown, images: Images, missing: Set<string>): unknown {
  if (typeof value === 'string') {
    if (value.startsWith('ko://')) {
      const pinned = images.ko.get(value);
      if (!pinned) missing.add(value);
      return pinned ?? value;
    }
    return UPSTREAM_ENVOY.test(value) ? images.envoy : value;
  }
  if (Array.isArray(value)) return value.map((v) => replaceImages(v, images, missing));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, replaceImages(v, images, missing)]));
  return value;
}

function isObject(d: Doc, kind: string, namespace: string, name: string): boolean {
  return d.kind === kind && d.metadata?.namespace === namespace && d.metadata?.name === name;
}

function withData(d: Doc, data: Record<string, string>): Doc {
  return { ...d, data: { ...((d.data) ?? {}), ...data } };
}

/** Millicores of a CPU quantity ("300m", "1", "0.5"); undefined for anything else. */
export function cpuMillis(q: unknown): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(m?)$/.exec(String(q));
  if (!m) return undefined;
  return m[2] ? Number(m[1]) : Number(m[1]) * 1000;
}

interface PodTemplateOwner {
  spec?: { template?: { spec?: { containers?: Array<{ resources?: { requests?: Record<string, unknown> } }> } } };
}

/**
 * Upstream's CPU requests add up to 1.6 cores (the activator alone asks 0.3), which would
 * leave the real node's 2 cores almost nothing for the Services users deploy. Requests
 * only steer scheduling: a quarter of each (at least 10m) keeps every component placed
 * and leaves room; limits stay as upstream set them.
 */
function shrinkCpuRequests(d: Doc): Doc {
  const owner = d as PodTemplateOwner;
  const containers = owner.spec?.template?.spec?.containers;
  if (!containers) return d;
  const shrunk = containers.map((c) => {
    const cpu = cpuMillis(c.resources?.requests?.cpu);
    return cpu === undefined ? c : { ...c, resources: { ...c.resources, requests: { ...c.resources!.requests, cpu: `${Math.max(10, Math.round(cpu / 4))}m` } } };
  });
  return { ...d, spec: { ...owner.spec, template: { ...owner.spec!.template, spec: { ...owner.spec!.template!.spec, containers: shrunk } } } };
}

/** The local settings, each a change to one upstream document. */
function localise(d: Doc): Doc {
  if ((d.kind === 'Deployment' || d.kind === 'StatefulSet') && (KNATIVE_NAMESPACES as readonly string[]).includes(d.metadata?.namespace ?? '')) return shrinkCpuRequests(d);
  if (d.kind === 'Namespace' && (KNATIVE_NAMESPACES as readonly string[]).includes(d.metadata?.name ?? '')) {
    return { ...d, metadata: { ...d.metadata, annotations: { ...(d.metadata?.annotations ?? {}), ...realNodeNamespaceAnnotations() } } };
  }
  if (isObject(d, 'ConfigMap', 'knative-serving', 'config-network')) return withData(d, { 'ingress-class': KOURIER_INGRESS_CLASS });
  if (isObject(d, 'ConfigMap', 'knative-serving', 'config-domain')) return { ...d, data: { [KNATIVE_DOMAIN]: '' } };
  if (isObject(d, 'ConfigMap', 'knative-serving', 'config-deployment')) return withData(d, { 'registries-skipping-tag-resolving': SKIP_TAG_RESOLVING });
  // Upstream asks for a LoadBalancer. None exists here, and the NodePorts it would get
  // open on every address of the host; the ClusterIP is what the host uses.
  if (isObject(d, 'Service', 'kourier-system', 'kourier')) return { ...d, spec: { ...(d.spec as Record<string, unknown>), type: 'ClusterIP' } };
  return d;
}

/**
 * Upstream's documents ready to apply: images pinned, local settings made. Throws when a
 * `ko://` reference has no image (a command missing from modules.ts).
 */
export function prepareManifests(docs: readonly Doc[], images: Images): Doc[] {
  const missing = new Set<string>();
  const out = docs.filter((d) => d && typeof d === 'object' && d.kind).map((d) => localise(replaceImages(d, images, missing) as Doc));
  if (missing.size) throw new Error(`no image built for ${[...missing].sort().join(', ')}`);
  return out;
}

/** Namespaces and CRDs go first (and must be established) before anything that needs them. */
export function applyPhases(docs: readonly Doc[]): [Doc[], Doc[]] {
  const first = (d: Doc): boolean => d.kind === 'Namespace' || d.kind === 'CustomResourceDefinition';
  return [docs.filter(first), docs.filter((d) => !first(d))];
}
