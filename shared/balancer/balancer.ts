// EndpointsBalancer: the shell around the pure core. It keeps a copy of one Service and
// its EndpointSlices (by one list, or by list+watch in the background), recomputes the
// endpoint list only when that copy or a failover hint changes, and hands endpoints out
// round robin. next() itself does no I/O and allocates nothing.
import * as k8s from '@kubernetes/client-node';
import { PROMOTED, RELEASED, SWITCHOVER, auditSubject, type AuditEvent } from '../audit/schemas.js';
import { connectApi, type BalancerApi } from './api.js';
import { BalancerClosedError, BalancerError, NoEndpointsError, ServiceNotFoundError } from './errors.js';
import { acceptHint, dropHint, NO_HINT, observeService, readServiceRecord, RELEASED_RECORD, type HintRejection, type HintState } from './hint.js';
import { endpointKey, RoundRobin, slicesFrom, withoutSlice, withSlice, type Endpoint, type PortSelector, type Slices } from './model.js';
import { DEFAULT_BACKOFF, runWatchLoop, type Backoff, type WatchTarget } from '../k8s/watch.js';
import { checkOptions, guardMetrics, hinted, loadKubeConfig, type BalancerMetrics, type BalancerOptions } from './options.js';
import { serving, type ServiceState } from './serving.js';

export type { BalancerOptions };

export type HintResult =
  | { readonly applied: true }
  | { readonly applied: false; readonly reason: HintRejection | 'not-a-transition' | 'closed' };

export interface BalancerStatus {
  readonly synced: boolean;
  readonly serviceUid: string | undefined;
  readonly endpoints: number;
  /** Last failed request of the background sync; cleared by the next successful list or event. */
  readonly lastError: BalancerError | undefined;
  /** The highest term a hint was taken for, since the Service record last started afresh (0: none). */
  readonly hintTerm: number;
  readonly awaiting: string | undefined;
}

interface ServiceMetadata {
  readonly uid?: string | undefined;
  readonly labels?: Record<string, string> | undefined;
  readonly annotations?: Record<string, string> | undefined;
}

export class EndpointsBalancer {
  readonly namespace: string;
  readonly service: string;
  readonly port: PortSelector;
  private readonly name: string;
  private readonly api: BalancerApi;
  private readonly stop = new AbortController();
  private readonly backoff: Backoff;
  private readonly hintTimeoutMs: number;
  private readonly prefix: string;
  private readonly metrics: BalancerMetrics;

  private slices: Slices = new Map();
  private slicesListed = false;
  private serviceState: ServiceState = { state: 'unknown' };
  private hint: HintState = NO_HINT;
  private readonly rr = new RoundRobin();
  private failure: (() => BalancerError) | undefined = () => new NoEndpointsError(this.name, 'not-synced');
  private lastError: BalancerError | undefined;
  private awaiting: string | undefined;
  private hintTimer: NodeJS.Timeout | undefined;
  private background: { readonly first: Promise<void>; readonly loops: Promise<void>; readonly abandon: (error: unknown) => void } | undefined;
  private closing: Promise<void> | undefined;
  private readonly changeListeners = new Set<(endpoints: readonly Endpoint[]) => void>();
  private readonly errorListeners = new Set<(error: BalancerError) => void>();

  constructor(options: BalancerOptions) {
    checkOptions(options);
    this.namespace = options.namespace;
    this.service = options.service;
    this.port = options.port;
    this.name = `${options.namespace}/${options.service}`;
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.hintTimeoutMs = options.hintTimeoutMs ?? 2_000;
    this.prefix = options.prefix ?? 'baton.dev';
    this.metrics = guardMetrics(options.metrics);
    const watchTimeoutSeconds = options.watchTimeoutSeconds ?? 300;
    this.api = connectApi(
      {
        kubeConfig: loadKubeConfig(options.kubeconfig),
        namespace: options.namespace,
        service: options.service,
        requestTimeoutMs: options.requestTimeoutMs ?? 5_000,
        watchTimeoutSeconds,
        watchIdleMs: options.watchIdleMs ?? 90_000,
      },
      this.stop.signal,
    );
  }

  /**
   * One read of the Service and one list of its EndpointSlices. Throws
   * ServiceNotFoundError, ApiUnreachableError or ApiRejectedError. With the background
   * sync running it only waits for that sync's first list, so there is one writer of
   * the copy and versions are applied in order.
   */
  async sync(): Promise<void> {
    if (this.stop.signal.aborted) throw new BalancerClosedError(this.name);
    if (this.background) return this.background.first;
    let service: Awaited<ReturnType<BalancerApi['readService']>>;
    let listed: Awaited<ReturnType<BalancerApi['slices']['list']>>;
    try {
      [service, listed] = await Promise.all([this.api.readService(this.stop.signal), this.api.slices.list(this.stop.signal)]);
    } catch (error) {
      if (this.stop.signal.aborted) throw new BalancerClosedError(this.name);
      throw this.reportError(error);
    }
    if (this.stop.signal.aborted) throw new BalancerClosedError(this.name);
    this.observeService(service);
    this.slices = slicesFrom(listed.items);
    this.slicesListed = true;
    this.lastError = undefined;
    this.recompute();
    if (!service) throw new ServiceNotFoundError(this.name);
  }

  /** The next ready endpoint, round robin. Throws the reason there is none. */
  next(): Endpoint {
    const e = this.failure === undefined ? this.rr.next() : undefined;
    this.metrics.picked?.(e !== undefined);
    if (e === undefined) throw this.failure?.() ?? new NoEndpointsError(this.name, 'none-ready');
    return e;
  }

  /** The endpoints next() rotates over, in order; empty when next() would throw. */
  endpoints(): readonly Endpoint[] {
    return this.failure === undefined ? this.rr.endpoints : [];
  }

  /**
   * Lists, then watches the Service and its EndpointSlices until shutdown(), resuming
   * from the last resourceVersion after a broken connection and listing again after 410
   * Gone. Resolves after the first list; rejects with the first attempt's error, while
   * the loop keeps retrying with backoff (next() throws that error until it succeeds).
   */
  startBackgroundSync(): Promise<void> {
    if (this.stop.signal.aborted) return Promise.reject(new BalancerClosedError(this.name));
    if (this.background) return this.background.first;
    let settle: { resolve: () => void; reject: (e: unknown) => void } | undefined;
    const first = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    const pending = new Set(['slices', 'service']);
    const listed = (which: string): void => {
      pending.delete(which);
      if (pending.size === 0) settle?.resolve();
    };
    const failedFirst = (error: unknown): void => {
      if (pending.size > 0) settle?.reject(error);
    };

    const sliceTarget: WatchTarget<k8s.V1EndpointSlice> = {
      replace: (items) => {
        this.slices = slicesFrom(items);
        this.slicesListed = true;
        this.lastError = undefined;
        this.recompute();
      },
      apply: (event) => {
        const name = event.object.metadata?.name;
        this.slices = event.type === 'DELETED' ? (name ? withoutSlice(this.slices, name) : this.slices) : withSlice(this.slices, event.object);
        this.lastError = undefined;
        this.recompute();
      },
      failed: (error) => {
        failedFirst(error);
        this.reportError(error);
      },
    };
    const serviceTarget: WatchTarget<k8s.V1Service> = {
      replace: (items) => {
        this.observeService(items.find((i) => i.metadata?.name === this.service)?.metadata);
        this.recompute();
      },
      apply: (event) => {
        if (event.object.metadata?.name !== this.service) return;
        this.observeService(event.type === 'DELETED' ? undefined : event.object.metadata);
        this.recompute();
      },
      failed: (error) => {
        failedFirst(error);
        this.reportError(error);
      },
    };
    const signal = this.stop.signal;
    const loops = Promise.all([
      runWatchLoop(this.api.slices, sliceTarget, { signal, backoff: this.backoff, onListed: () => listed('slices') }),
      runWatchLoop(this.api.service, serviceTarget, { signal, backoff: this.backoff, onListed: () => listed('service') }),
    ]).then(() => undefined);
    this.background = { first, loops, abandon: (error) => settle?.reject(error) };
    // A caller that never awaits must not get an unhandled rejection for a retried error.
    first.catch(() => undefined);
    return first;
  }

  /**
   * Applies a failover hint from one of baton's audit events (see events.ts for the
   * HTTP handler). The event is not trusted: see hint.ts for what a hint may do and
   * how its term is checked against the Service's own record. Released drops a live
   * hint (handing the decision back to the slices, which anyone may ask for).
   */
  applyEvent(event: AuditEvent, now = Date.now()): HintResult {
    return hinted(this.metrics, this.takeEvent(event, now));
  }

  private takeEvent(event: AuditEvent, now: number): HintResult {
    if (this.stop.signal.aborted) return { applied: false, reason: 'closed' };
    if (event.subject !== auditSubject({ namespace: this.namespace, name: this.service })) return { applied: false, reason: 'other-service' };
    const known = this.serviceState.state === 'present' ? this.serviceState.uid : undefined;
    if (event.type === RELEASED) {
      if (event.data.service.uid !== known) return { applied: false, reason: known ? 'other-service' : 'not-synced' };
      this.hint = dropHint(this.hint);
      this.recompute(now);
      return { applied: true };
    }
    if (event.type !== PROMOTED && event.type !== SWITCHOVER) return { applied: false, reason: 'not-a-transition' };
    if (known === undefined) return { applied: false, reason: 'not-synced' };
    const outcome = acceptHint(this.hint, { serviceUid: event.data.service.uid, term: event.data.term, to: event.data.to }, now);
    this.hint = outcome.state;
    if (!outcome.applied) return { applied: false, reason: outcome.reason };
    this.recompute(now);
    return { applied: true };
  }

  /** Called with the new list whenever the endpoints next() rotates over change. Returns an unsubscribe function. */
  onChange(listener: (endpoints: readonly Endpoint[]) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** Called with each failed request of the background sync (it retries on its own). */
  onError(listener: (error: BalancerError) => void): () => void {
    this.errorListeners.add(listener);
    return () => this.errorListeners.delete(listener);
  }

  status(): BalancerStatus {
    return {
      synced: this.slicesListed && this.serviceState.state !== 'unknown',
      serviceUid: this.serviceState.state === 'present' ? this.serviceState.uid : undefined,
      endpoints: this.endpoints().length,
      lastError: this.lastError,
      hintTerm: this.hint.term,
      awaiting: this.awaiting,
    };
  }

  /** Stops the watches and timers and aborts requests in flight. Safe to call any number of times. */
  shutdown(): Promise<void> {
    if (this.closing) return this.closing;
    this.stop.abort();
    // A caller still waiting for the first list learns why it will never come.
    this.background?.abandon(new BalancerClosedError(this.name));
    clearTimeout(this.hintTimer);
    this.failure = () => new BalancerClosedError(this.name);
    this.rr.replace([]);
    const loops = this.background?.loops ?? Promise.resolve();
    this.closing = loops.then(() => {
      this.changeListeners.clear();
      this.errorListeners.clear();
    });
    return this.closing;
  }

  /** The Service as the API server returned it (undefined: it does not exist); the only source of its uid and record. */
  private observeService(metadata: ServiceMetadata | undefined): void {
    this.serviceState = metadata ? { state: 'present', uid: metadata.uid ?? '' } : { state: 'missing' };
    this.hint = observeService(this.hint, metadata ? (metadata.uid ?? '') : undefined, metadata ? readServiceRecord(metadata, this.prefix) : RELEASED_RECORD);
  }

  /** Records the failure for status(), the error listeners and waiting callers; returns it typed. */
  private reportError(error: unknown): BalancerError {
    const typed = error instanceof BalancerError ? error : new BalancerError(error instanceof Error ? error.message : String(error), { cause: error });
    this.lastError = typed;
    if (!this.slicesListed || this.serviceState.state === 'unknown') this.failure = () => typed;
    for (const l of this.errorListeners) l(typed);
    return typed;
  }

  private recompute(now = Date.now()): void {
    if (this.stop.signal.aborted) return;
    const before = this.endpoints();
    this.awaiting = undefined;
    this.apply(now);
    const after = this.endpoints();
    if (before.length !== after.length || before.some((e, i) => endpointKey(e) !== endpointKey(after[i]!))) {
      for (const l of this.changeListeners) l(after);
    }
  }

  private apply(now: number): void {
    const next = serving({ name: this.name, slicesListed: this.slicesListed, service: this.serviceState, lastError: this.lastError, slices: this.slices, port: this.port, hint: this.hint, hintTimeoutMs: this.hintTimeoutMs }, now);
    this.failure = next.failure;
    this.rr.replace(next.endpoints);
    if (next.kind === 'blocked') return;
    this.hint = next.hint;
    clearTimeout(this.hintTimer);
    if (next.expiresAt !== undefined) {
      this.hintTimer = setTimeout(() => this.recompute(), Math.max(0, next.expiresAt - now) + 1);
      this.hintTimer.unref();
    }
    this.awaiting = next.awaiting;
  }
}
