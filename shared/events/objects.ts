// Schemas for the Kubernetes objects that ApiServerSource (Resource mode) puts in `data`.
// Lenient on purpose: the API server adds fields with every release, and an event we
// reject is an event Knative retries and then drops. Only what baton reads is required;
// everything else passes through untouched.
import { z } from 'zod';

// metav1.Time marshals its zero value as `null`, so optional timestamps may be null;
// callers only ever need "set or not".
const optionalTime = z
  .string()
  .nullish()
  .transform((value) => value ?? undefined);

const stringMap = z.record(z.string(), z.string());

const objectMeta = z.looseObject({
  name: z.string().min(1),
  namespace: z.string().min(1),
  uid: z.string().min(1),
  resourceVersion: z.string().min(1),
  creationTimestamp: z.string().min(1),
  labels: stringMap.optional(),
  annotations: stringMap.optional(),
  deletionTimestamp: optionalTime,
});

const podCondition = z.looseObject({
  type: z.string(),
  status: z.string(),
  lastTransitionTime: optionalTime,
});

export const podSchema = z.looseObject({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: objectMeta,
  status: z
    .looseObject({
      phase: z.string().optional(),
      conditions: z.array(podCondition).optional(),
    })
    .optional(),
});

export const serviceSchema = z.looseObject({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: objectMeta,
  spec: z.looseObject({
    selector: stringMap.optional(),
    // Routes name one of these; a Service without ports (ExternalName) has none.
    ports: z.array(z.looseObject({ name: z.string().optional(), port: z.number().int() })).nullish().transform((value) => value ?? undefined),
  }),
});

const ownerReference = z.looseObject({
  kind: z.string(),
  name: z.string(),
  uid: z.string(),
  controller: z.boolean().optional(),
});

// Only baton's own Ingresses matter, and those are recognised by label and owner; the
// spec is read again from a list before anything is written, so it stays unparsed.
export const ingressSchema = z.looseObject({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: objectMeta.extend({ ownerReferences: z.array(ownerReference).optional() }),
});

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

const endpoint = z.looseObject({
  addresses: z.array(z.string()),
  conditions: z
    .looseObject({
      ready: z.boolean().optional(),
      serving: z.boolean().optional(),
      terminating: z.boolean().optional(),
    })
    .optional(),
  // uid/namespace are optional so a hand-made slice without them is skipped by the
  // caller instead of being answered with a 400 that Knative would retry forever.
  targetRef: z
    .looseObject({
      kind: z.string(),
      name: z.string(),
      uid: z.string().optional(),
      namespace: z.string().optional(),
    })
    .optional(),
});

export const endpointSliceSchema = z.looseObject({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: objectMeta.extend({
    // The only link from a slice back to its Service.
    labels: z.object({ [SERVICE_NAME_LABEL]: z.string().min(1) }).catchall(z.string()),
  }),
  // An empty slice marshals its endpoints as null, not [].
  endpoints: z.array(endpoint).nullish().transform((value) => value ?? undefined),
});

// A Node is cluster-scoped: no namespace. Only whether it claims to be cordoned is read,
// and that only to decide whether to look (the look gets the Node from the API server).
export const nodeSchema = z.looseObject({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: z.looseObject({ name: z.string().min(1), uid: z.string().min(1), resourceVersion: z.string().min(1) }),
  spec: z.looseObject({ unschedulable: z.boolean().nullish().transform((value) => value ?? undefined) }).optional(),
});

export type Pod = z.infer<typeof podSchema>;
export type Node = z.infer<typeof nodeSchema>;
export type PodCondition = z.infer<typeof podCondition>;
export type Service = z.infer<typeof serviceSchema>;
export type EndpointSlice = z.infer<typeof endpointSliceSchema>;
export type Ingress = z.infer<typeof ingressSchema>;

export const WATCHED_KINDS = ['Pod', 'Service', 'EndpointSlice', 'Ingress', 'Node'] as const;
export type WatchedKind = (typeof WATCHED_KINDS)[number];

export const objectSchemas = {
  Pod: podSchema,
  Service: serviceSchema,
  EndpointSlice: endpointSliceSchema,
  Ingress: ingressSchema,
  Node: nodeSchema,
} as const;

export function isWatchedKind(kind: string): kind is WatchedKind {
  return (WATCHED_KINDS as readonly string[]).includes(kind);
}
