// The failover domain, independent of any Kubernetes client library. The shell maps
// API objects into these shapes; the decision core (decide.ts) sees nothing else.

import type { ConfigProblem, TransitionReason } from '../../../shared/audit/schemas.js';
import type { Labels } from '../../../shared/keys.js';
export type { Labels };

export interface PodView {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
  /** As read; role labels are written only if the pod has not changed since. */
  readonly resourceVersion?: string | undefined;
  readonly labels: Labels;
  readonly annotations: Labels;
  /** status.phase, e.g. "Running". */
  readonly phase: string;
  /** condition Ready == "True". */
  readonly ready: boolean;
  /** lastTransitionTime of the Ready condition (ms since epoch) when ready. */
  readonly readySince: number | undefined;
  /** lastTransitionTime of the Ready condition (ms since epoch), ready or not; for metrics only. */
  readonly readyChangedAt?: number | undefined;
  readonly createdAt: number;
  /** metadata.deletionTimestamp is set. */
  readonly deleting: boolean;
  /** status.podIPs (or status.podIP), in the API's order; direct mode's endpoint address. */
  readonly ips?: readonly string[] | undefined;
  /** spec.nodeName, copied to direct mode's endpoint. */
  readonly nodeName?: string | undefined;
  /** spec.hostNetwork: such a pod's IP is its node's, and baton calls no hook there. */
  readonly hostNetwork?: boolean | undefined;
  /** Every container's ports, for resolving a Service's named targetPort (direct mode). */
  readonly containerPorts?: readonly ContainerPort[] | undefined;
}

export interface ContainerPort {
  readonly name: string | undefined;
  readonly containerPort: number;
  /** As the API defaults it: TCP when unset. */
  readonly protocol: string;
}

/** One entry of a Service's spec.ports, as direct mode needs it. */
export interface ServicePort {
  readonly name: string | undefined;
  readonly port: number;
  /** A number, a container port's name, or undefined (the API then uses `port`). */
  readonly targetPort: number | string | undefined;
  readonly protocol: string;
  readonly appProtocol: string | undefined;
}

declare const fromApiServer: unique symbol;

/**
 * A view built from what the API server itself returned to baton: a get, a list, or the
 * reply to one of its writes. Only the API client (functions/failover/cluster.ts) makes these.
 * An event's body is not one: anyone who can reach a function can send any body, so it
 * may say where to look but is never a basis for a write or for the index. The brand
 * makes the compiler hold that line.
 */
export type Observed<T> = T & { readonly [fromApiServer]: true };

export interface ServiceView {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
  readonly resourceVersion: string;
  readonly labels: Labels;
  readonly annotations: Labels;
  /** spec.selector as it is now (may include baton's pod-identity key). */
  readonly selector: Labels;
  /** spec.ports; only direct mode reads them. Absent in views that did not carry them. */
  readonly ports?: readonly ServicePort[] | undefined;
}

/** A pod annotation that failed validation; the pod is ranked with the default. */
export interface PodProblem {
  readonly pod: string;
  readonly key: string;
  readonly value: string;
  readonly message: string;
}

export interface ServiceSettings {
  readonly failback: boolean;
  readonly minSwitchIntervalMs: number;
  readonly switchoverTo: string | undefined;
  /** The Service whose active this one mirrors, if any. */
  readonly follow: string | undefined;
  /** What happens to the pod a switch leaves: nothing, or an eviction once the switch completed. */
  readonly fence: 'off' | 'evict';
  /** The pod hooks (core/hooks.ts); none unless annotated. */
  readonly hooks: HookSettings;
}

/** Where a hook listens on the pod: a port and an absolute path; the host is always the pod's IP. */
export interface HookTarget {
  readonly port: number;
  readonly path: string;
}

export interface HookSettings {
  readonly promote: HookTarget | undefined;
  readonly demote: HookTarget | undefined;
  /** Per attempt. */
  readonly timeoutMs: number;
  /** Attempts after the first failed one. */
  readonly retries: number;
  /** A demote hook that failed: switch anyway (continue) or not (abort). */
  readonly demotePolicy: 'continue' | 'abort';
}

/** One hook call a plan asks for; the shell makes it (functions/failover/hooks.ts). */
export interface HookCall {
  readonly hook: 'promote' | 'demote';
  readonly pod: { readonly name: string; readonly uid: string };
  /** The pod's IP as the API server reported it; undefined when there is none to call (see `unreachable`). */
  readonly ip: string | undefined;
  readonly unreachable: string | undefined;
  readonly port: number;
  readonly path: string;
  readonly timeoutMs: number;
  readonly retries: number;
  /** The JSON body. The term lets the pod drop a repeated call: calls are at-least-once. */
  readonly body: { readonly service: string; readonly term: number; readonly role: 'active' | 'standby' };
}

/** A planned switch's demote call, and what happens when it fails under `abort`. */
export interface DemoteStep {
  readonly call: HookCall;
  readonly policy: 'continue' | 'abort';
  /** Under `abort`: a switchover is refused (the request consumed), a failback is held. */
  readonly onAbort: RefuseSwitchoverPlan | HoldPlan;
  /**
   * Under `abort`, after the failure: the promote call for the current term that tells
   * the old active it still is (the failed demote may have reached it). Undefined without
   * a promote hook.
   */
  readonly restore: HookCall | undefined;
}

export interface RefuseSwitchoverPlan {
  readonly kind: 'refuse-switchover';
  readonly requested: string;
  readonly why: string;
  /** Clears the switchover annotation. */
  readonly service: ServiceWrite;
}

export interface HoldPlan {
  /** A failback waits: for the anti-flap interval (min-switch-interval), or after a demote hook failed under `abort`. */
  readonly kind: 'hold';
  readonly why: string;
  readonly retryAfterMs: number;
  /** The active's promote for the current term, not yet acknowledged (core/hooks.ts promoteDue). */
  readonly promote?: HookCall | undefined;
}

/** The desired Service change, as a merge of selector and annotations. */
export interface ServiceWrite {
  /** Full desired selector (user's selector + pod-id key), or the user's selector on release. */
  readonly selector: Labels;
  /** Annotations to set (string) or remove (null). */
  readonly annotations: Readonly<Record<string, string | null>>;
}

export interface PodLabelWrite {
  readonly pod: string;
  /**
   * Precondition: write only if the pod is still at this resourceVersion. Role labels
   * carry it, so a write decided on an older view (e.g. before an opt-out removed the
   * labels) fails instead of undoing a newer decision.
   */
  readonly resourceVersion?: string;
  /** Labels to set (string) or remove (null). */
  readonly labels: Readonly<Record<string, string | null>>;
}

/** What a decision asks the shell to do, plus why. The shell never decides. */
export type Plan =
  | { readonly kind: 'ignore'; readonly why: string }
  | {
      readonly kind: 'invalid-config';
      readonly problems: readonly ConfigProblem[];
    }
  | {
      /** Nothing to change on the Service; pod label hygiene may still be due. */
      readonly kind: 'steady';
      readonly active: string | undefined;
      readonly why: string;
      /** baton's record on the Service is incomplete: this guarded write completes it. */
      readonly record: ServiceWrite | undefined;
      readonly podWrites: readonly PodLabelWrite[];
      /** The active's promote for the current term, not yet acknowledged (core/hooks.ts promoteDue). */
      readonly promote?: HookCall | undefined;
      /** The active runs on this cordoned Node, and no healthy candidate elsewhere: warned about. */
      readonly cordonedNode?: string;
    }
  | {
      readonly kind: 'switch';
      readonly reason: TransitionReason;
      readonly from: { readonly name: string; readonly uid: string } | undefined;
      readonly to: { readonly name: string; readonly uid: string };
      readonly term: number;
      /** Pod labels that must exist BEFORE the Service write (the chosen pod's id label). */
      readonly prerequisites: readonly PodLabelWrite[];
      readonly service: ServiceWrite;
      /** Cosmetic role labels, applied after the Service write. */
      readonly podWrites: readonly PodLabelWrite[];
      /** Before the Service write, only for a planned switch away from a healthy active. */
      readonly demote: DemoteStep | undefined;
      /** After the Service write (in direct mode, after the slice's). */
      readonly promote: HookCall | undefined;
      /** Why, in words, beyond the reason (a move off a cordoned Node names the Node). */
      readonly note?: string;
    }
  | {
      /** No healthy candidate: keep pointing at the last active, report once per term. */
      readonly kind: 'unavailable';
      readonly active: string | undefined;
      readonly term: number;
      /** Annotation write that records the report (null when already reported). */
      readonly service: ServiceWrite | undefined;
    }
  | RefuseSwitchoverPlan
  | HoldPlan
  | {
      /** The Service is no longer opted in but still carries baton's changes. */
      readonly kind: 'release';
      readonly service: ServiceWrite;
      readonly podWrites: readonly PodLabelWrite[];
    };
