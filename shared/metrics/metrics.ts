// The metrics every function exposes, in one place so that names, help texts, label sets
// and buckets are decided once (docs/observability.md lists them). Everything here only
// counts what the shells already know; nothing is read from the API to produce a figure.
//
// Label values are bounded by construction: kinds, outcomes, verbs and resources are
// closed sets (anything else reads "other"), and the only open-ended labels, namespace
// and service, exist only when BATON_METRICS_SERVICE_LABELS asks for them. No pod names
// or uids anywhere: a pod per failover would grow the series without end.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface MetricsOptions {
  /** failover | resync | routes: a constant label, so one dashboard can tell them apart. */
  readonly function: string;
  /** Add namespace and service labels to per-Service figures. */
  readonly serviceLabels: boolean;
  /** Node's process and event-loop figures (RSS, CPU, event-loop delay); on in the functions. */
  readonly processMetrics?: boolean;
}

export interface ServiceName {
  readonly namespace: string;
  readonly name: string;
}

export const SWITCH_KINDS = ['initial', 'failover', 'failback', 'switchover', 'cordon'] as const;
export type SwitchKind = (typeof SWITCH_KINDS)[number];

export const HOOKS = ['promote', 'demote'] as const;
/** A hook call's outcome as the audit event has it (functions/failover/hooks.ts). */
export const HOOK_OUTCOMES = ['ok', 'failed', 'timeout'] as const;

export const EVENT_KINDS = ['Pod', 'Service', 'EndpointSlice', 'Ingress', 'Node', 'Other'] as const;
/** What server.ts logs as a delivery's outcome; anything else reads "other". */
export const EVENT_OUTCOMES = ['handled', 'ignored', 'retry', 'rejected', 'error', 'unauthenticated', 'aborted'] as const;

export const API_VERBS = ['get', 'list', 'watch', 'create', 'update', 'patch', 'apply', 'delete'] as const;
export const API_RESOURCES = ['services', 'pods', 'endpointslices', 'ingresses', 'events', 'nodes', 'other'] as const;
export type ApiVerb = (typeof API_VERBS)[number] | 'other';
export type ApiResource = (typeof API_RESOURCES)[number];
/** 2xx … 5xx, or "error" when no reply came (timeout, reset, refused). */
export type StatusClass = '2xx' | '3xx' | '4xx' | '5xx' | 'error';

export interface ApiRequest {
  readonly verb: ApiVerb;
  readonly resource: ApiResource;
  /** The HTTP status, undefined when no reply came. */
  readonly status: number | undefined;
}

// From a loopback API call (a few ms) to a switch that waits on a slow controller (10 s+).
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
// Detection timestamps come from Ready conditions, which the API server keeps to the second.
const DETECTION_BUCKETS = [0.5, 1, 2, 5, 10, 30, 60, 120, 300];

export interface Metrics {
  readonly registry: Registry;
  /** The exposition text; prom-client's own format (text 0.0.4). */
  readonly render: () => Promise<string>;
  readonly contentType: string;

  readonly eventHandled: (kind: string | undefined, outcome: string, seconds: number) => void;
  /** Arrival minus the event's `time` attribute (the sender's clock; docs/observability.md). */
  readonly eventDelay: (seconds: number) => void;
  readonly eventStarted: () => () => void;

  readonly apiRequest: (request: ApiRequest) => void;

  readonly switched: (kind: SwitchKind, service: ServiceName) => void;
  readonly refused: (service: ServiceName) => void;
  readonly unavailable: (service: ServiceName) => void;
  /** Decision → the EndpointSlices show the new active alone. */
  readonly completed: (kind: SwitchKind | 'unknown', seconds: number, service: ServiceName) => void;
  /** Old active not ready and a healthy candidate ready → the switch decided. */
  readonly detected: (seconds: number, service: ServiceName) => void;
  /** One call of a pod hook (all its attempts), by hook and outcome. */
  readonly hookCalled: (hook: string, outcome: string) => void;
  /** Reads the index's size at scrape time. */
  readonly knownServices: (count: () => number) => void;

  readonly routes: (count: number) => void;
  readonly routeApplied: () => void;
  readonly routeRemoved: () => void;
  readonly routeConflict: (service: ServiceName) => void;
  readonly routeInvalid: (service: ServiceName) => void;
}

const oneOf = <T extends string>(set: readonly T[], value: string | undefined, other: T | 'other' = 'other'): T | 'other' => (value !== undefined && (set as readonly string[]).includes(value) ? (value as T) : other);

export function statusClass(status: number | undefined): StatusClass {
  if (status === undefined || status < 200 || status > 599) return 'error';
  return `${Math.floor(status / 100)}xx` as StatusClass;
}

export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ function: options.function });
  if (options.processMetrics ?? false) collectDefaultMetrics({ register: registry });
  const perService = options.serviceLabels ? (['namespace', 'service'] as const) : ([] as const);
  const where = (s: ServiceName): Record<string, string> => (options.serviceLabels ? { namespace: s.namespace, service: s.name } : {});

  const events = new Counter({ name: 'baton_events_total', help: 'CloudEvent deliveries answered, by resource kind and outcome.', labelNames: ['kind', 'outcome'], registers: [registry] });
  const handling = new Histogram({ name: 'baton_event_handling_seconds', help: 'Time from a delivery arriving to its reply, by resource kind.', labelNames: ['kind'], buckets: LATENCY_BUCKETS, registers: [registry] });
  const delay = new Histogram({
    name: 'baton_event_delivery_delay_seconds',
    help: "Arrival time minus the CloudEvent's time attribute (the adapter's clock): how far event delivery runs behind.",
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const inFlight = new Gauge({ name: 'baton_events_in_flight', help: 'Deliveries being handled now.', registers: [registry] });
  const api = new Counter({ name: 'baton_api_requests_total', help: 'Kubernetes API requests, by verb, resource and status class.', labelNames: ['verb', 'resource', 'code'], registers: [registry] });
  const conflicts = new Counter({
    name: 'baton_api_conflicts_total',
    help: 'Writes refused with 409 (a resourceVersion precondition lost a race); each is followed by a fresh read and a retry, up to BATON_CONFLICT_RETRIES.',
    labelNames: ['resource'],
    registers: [registry],
  });
  const switches = new Counter({ name: 'baton_switches_total', help: 'Switches of the active pod written by this instance, by kind.', labelNames: ['kind', ...perService], registers: [registry] });
  const refusals = new Counter({ name: 'baton_switchovers_refused_total', help: 'Switchover requests refused.', labelNames: [...perService], registers: [registry] });
  const unavailable = new Counter({ name: 'baton_unavailable_total', help: 'Terms in which no healthy candidate was found (reported once per term).', labelNames: [...perService], registers: [registry] });
  const completion = new Histogram({
    name: 'baton_switch_completion_seconds',
    help: 'From the decision to a switch to the EndpointSlices showing the new active as the only ready pod, by kind.',
    labelNames: ['kind', ...perService],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const detection = new Histogram({
    name: 'baton_failover_detection_seconds',
    help: 'Failovers: from the later of "the old active turned not ready" and "the new active turned ready" (Ready conditions, whole seconds) to the decision.',
    labelNames: [...perService],
    buckets: DETECTION_BUCKETS,
    registers: [registry],
  });
  // One count per call, however many attempts it took: per pod or Service labels would
  // grow without end, and the audit event names both.
  const hookCalls = new Counter({ name: 'baton_hook_calls_total', help: 'Pod hook calls (each with its retries), by hook (promote, demote) and outcome (ok, failed, timeout).', labelNames: ['hook', 'outcome'], registers: [registry] });
  for (const hook of HOOKS) for (const outcome of HOOK_OUTCOMES) hookCalls.inc({ hook, outcome }, 0);
  let known: () => number = () => 0;
  new Gauge({
    name: 'baton_services_known',
    help: 'Opted-in Services in this instance\'s index.',
    registers: [registry],
    collect() {
      this.set(known());
    },
  });
  const routes = new Gauge({ name: 'baton_routes', help: 'Ingresses baton manages, as the last full routes pass listed them.', registers: [registry] });
  const routeWrites = new Counter({ name: 'baton_route_writes_total', help: 'Route Ingresses applied or removed.', labelNames: ['action'], registers: [registry] });
  const routeConflicts = new Counter({ name: 'baton_route_conflicts_total', help: 'Host/path claims refused because another Service holds them (each pass that finds one counts).', labelNames: [...perService], registers: [registry] });
  const routeInvalid = new Counter({ name: 'baton_route_invalid_claims_total', help: 'Services with invalid route annotations (each pass that finds one counts).', labelNames: [...perService], registers: [registry] });
  // Without per-Service labels every series is known up front: export them at 0, so that
  // the first switch of a kind is an increase a rate() sees, not a series appearing at 1.
  if (!options.serviceLabels) {
    for (const kind of SWITCH_KINDS) switches.inc({ kind }, 0);
    for (const counter of [refusals, unavailable, routeConflicts, routeInvalid]) counter.inc(0);
  }

  return guarded({
    registry,
    contentType: registry.contentType,
    render: () => registry.metrics(),
    eventHandled: (kind, outcome, seconds) => {
      const k = oneOf(EVENT_KINDS, kind, 'Other');
      events.inc({ kind: kind === undefined ? 'none' : k, outcome: oneOf(EVENT_OUTCOMES, outcome) });
      if (kind !== undefined) handling.observe({ kind: k }, seconds);
    },
    eventDelay: (seconds) => delay.observe(Math.max(0, seconds)),
    eventStarted: () => {
      inFlight.inc();
      let done = false;
      return () => {
        if (done) return;
        done = true;
        inFlight.dec();
      };
    },
    apiRequest: ({ verb, resource, status }) => {
      api.inc({ verb, resource, code: statusClass(status) });
      if (status === 409) conflicts.inc({ resource });
    },
    switched: (kind, s) => switches.inc({ kind, ...where(s) }),
    refused: (s) => refusals.inc(where(s)),
    unavailable: (s) => unavailable.inc(where(s)),
    completed: (kind, seconds, s) => completion.observe({ kind, ...where(s) }, Math.max(0, seconds)),
    detected: (seconds, s) => detection.observe(where(s), Math.max(0, seconds)),
    hookCalled: (hook, outcome) => hookCalls.inc({ hook: oneOf(HOOKS, hook), outcome: oneOf(HOOK_OUTCOMES, outcome) }),
    knownServices: (count) => {
      known = count;
    },
    routes: (count) => routes.set(count),
    routeApplied: () => routeWrites.inc({ action: 'applied' }),
    routeRemoved: () => routeWrites.inc({ action: 'removed' }),
    routeConflict: (s) => routeConflicts.inc(where(s)),
    routeInvalid: (s) => routeInvalid.inc(where(s)),
  });
}

/**
 * Every recording method made unable to throw: a figure that cannot be recorded must not
 * fail the switch, the report or the reply it was taken on (some run inside a response's
 * 'finish' handler, where a throw would end the process). render() still rejects.
 */
function guarded(metrics: Metrics): Metrics {
  const safe = <A extends unknown[], R>(fn: (...args: A) => R, fallback: R) => (...args: A): R => {
    try {
      return fn(...args);
    } catch {
      return fallback;
    }
  };
  return {
    ...metrics,
    eventHandled: safe(metrics.eventHandled, undefined),
    eventDelay: safe(metrics.eventDelay, undefined),
    eventStarted: safe(metrics.eventStarted, () => {}),
    apiRequest: safe(metrics.apiRequest, undefined),
    switched: safe(metrics.switched, undefined),
    refused: safe(metrics.refused, undefined),
    unavailable: safe(metrics.unavailable, undefined),
    completed: safe(metrics.completed, undefined),
    detected: safe(metrics.detected, undefined),
    hookCalled: safe(metrics.hookCalled, undefined),
    knownServices: safe(metrics.knownServices, undefined),
    routes: safe(metrics.routes, undefined),
    routeApplied: safe(metrics.routeApplied, undefined),
    routeRemoved: safe(metrics.routeRemoved, undefined),
    routeConflict: safe(metrics.routeConflict, undefined),
    routeInvalid: safe(metrics.routeInvalid, undefined),
  };
}
