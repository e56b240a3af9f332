// The names baton writes and reads on Services and pods, all under one configurable
// prefix (BATON_PREFIX). The functions, the CLI and the balancer library read the same
// record, so the names live in one place.

/** A label or annotation map as the API returns it. */
export type Labels = Readonly<Record<string, string>>;

/** Every label and annotation key baton uses, derived from one configurable prefix. */
export interface Keys {
  /** Service label that opts in; value must be "active-standby". */
  readonly mode: string;
  /** Pod label carrying the pod's own UID; the Service selector names exactly one. */
  readonly podId: string;
  /** Pod label for humans: "active" | "standby". Never read for decisions. */
  readonly role: string;
  /** Pod annotation: integer, higher is preferred. */
  readonly priority: string;
  /** Service annotation: "true" to return to a higher-priority pod when it is healthy. */
  readonly failback: string;
  /**
   * Service annotation: minimum time from the last switch to an automatic failback (e.g.
   * "30s", "2m"). A failover and a manual switchover never wait for it.
   */
  readonly minSwitchInterval: string;
  /** Service annotation: request a manual switch to the named pod. */
  readonly switchoverTo: string;
  /**
   * Service annotation: the name of another opted-in Service in the namespace whose
   * active this Service routes to, instead of electing its own (a headless twin).
   */
  readonly follow: string;
  /**
   * Service annotation: "evict" to end the old active's connections after a switch, by
   * evicting it once the new active routes alone; "off" (the default) leaves it running.
   */
  readonly fence: string;
  /**
   * Service annotations of the pod hooks (core/hooks.ts): `<port>/<path>` of an HTTP
   * endpoint on the pod that baton POSTs to when the pod becomes the active (promote)
   * and, before a planned switch, when it stops being the active (demote); the timeout
   * of one call, the retries after a failed call, and what a failed demote does.
   */
  readonly promoteHook: string;
  readonly demoteHook: string;
  readonly hookTimeout: string;
  readonly hookRetries: string;
  readonly demotePolicy: string;
  /** Service annotation: JSON of the user's own selector, saved at adoption. */
  readonly originalSelector: string;
  /** Service annotations recording the decision. */
  readonly activePod: string;
  readonly activeUid: string;
  readonly term: string;
  readonly switchedAt: string;
  readonly reason: string;
  /** Service annotation: term whose EndpointSlice update was reported as completed. */
  readonly completedTerm: string;
  /** Service annotation: term for which "no healthy candidate" was reported. */
  readonly unavailableTerm: string;
  /**
   * Service annotation: the term whose promote hook the active answered with a 2xx.
   * Until it names the current term, every look calls the hook again (with a back-off).
   */
  readonly promotedTerm: string;
  /**
   * Service annotation: when a demote hook last failed under `demote-policy: abort`. An
   * automatic planned switch (failback, a move off a cordoned Node) waits a while after it.
   */
  readonly demoteFailedAt: string;
  /**
   * Service annotation: the uid of the pod the last switch left, still to be evicted
   * (fence=evict). Written with the switch, removed once the eviction was tried.
   */
  readonly fencePending: string;
  /**
   * Service annotation: the uid of the Service baton wrote its record on. A copy of the
   * Service (`kubectl get -o yaml` re-applied under another name) carries the record but
   * not this uid, and baton leaves such a copy alone.
   */
  readonly recordOf: string;
  /**
   * Service annotation: a label selector naming the candidate pods of a Service in
   * direct mode (no spec.selector; baton writes the Service's EndpointSlice itself).
   */
  readonly pods: string;
  /**
   * Service annotation: the name of the EndpointSlice baton keeps for a Service in direct
   * mode, written with the record before the slice exists, so that a Service leaving
   * direct mode is known to have a slice of baton's to remove.
   */
  readonly endpointSlice: string;
  /** The value of `endpointslice.kubernetes.io/managed-by` on baton's slices: the prefix itself. */
  readonly sliceManager: string;
}

export const MODE_VALUE = 'active-standby';

export function keysFor(prefix: string): Keys {
  const k = (name: string): string => `${prefix}/${name}`;
  return {
    mode: k('mode'),
    podId: k('pod-id'),
    role: k('role'),
    priority: k('priority'),
    failback: k('failback'),
    minSwitchInterval: k('min-switch-interval'),
    switchoverTo: k('switchover-to'),
    follow: k('follow'),
    fence: k('fence'),
    promoteHook: k('promote-hook'),
    demoteHook: k('demote-hook'),
    hookTimeout: k('hook-timeout'),
    hookRetries: k('hook-retries'),
    demotePolicy: k('demote-policy'),
    originalSelector: k('original-selector'),
    activePod: k('active'),
    activeUid: k('active-uid'),
    term: k('term'),
    switchedAt: k('switched-at'),
    reason: k('reason'),
    completedTerm: k('completed-term'),
    unavailableTerm: k('unavailable-term'),
    promotedTerm: k('promoted-term'),
    demoteFailedAt: k('demote-failed-at'),
    fencePending: k('fence-pending'),
    recordOf: k('record-of'),
    pods: k('pods'),
    endpointSlice: k('endpointslice'),
    sliceManager: prefix,
  };
}
