// Where the time of a failover goes, and what it costs the API server, reconstructed
// after the fact from three independent clocks on one machine: the bench's own marks,
// the API server's audit timestamps and the function's log lines.
import { ADMIN_USER, FAILOVER_USER, SLICE_CONTROLLER_USER, countBy, isRead, readAudit, type AuditRecord } from './audit.js';
import type { IdealSwitch } from './ideal.js';
import type { LoopSwitch } from './label-loop.js';
import type { Rep } from './single.js';
import { median, percentile, round } from './util.js';

/** A point in one failover's timeline; the segment ending here carries `label`. */
export type Mark = readonly [label: string, at: number];

export interface SegmentFigure {
  readonly label: string;
  readonly p50: number;
  readonly p90: number;
}

export interface Breakdown {
  /** Repetitions whose every mark could be found. */
  readonly reps: number;
  readonly segments: readonly SegmentFigure[];
  /** For the others: how often each mark could not be found. */
  readonly missing: Readonly<Record<string, number>>;
}

export interface CostFigure {
  readonly failovers: number;
  /** Medians per failover. */
  readonly total: number;
  readonly reads: number;
  readonly writes: number;
  /** Requests up to and including the write that moved the traffic. */
  readonly critical: number;
  readonly criticalReads: number;
  readonly criticalWrites: number;
  readonly maxTotal: number;
  /** Mean count per failover of each kind of request. */
  readonly byKind: Readonly<Record<string, number>>;
  readonly criticalByKind: Readonly<Record<string, number>>;
}

export interface Analysis {
  readonly breakdown: Breakdown;
  readonly cost: CostFigure;
}

/** One failover of one Service, with the audit records that may explain it. */
export interface Trace {
  readonly service: string;
  readonly old: string;
  readonly sentAt: number;
  readonly seenAt: number;
  readonly audit: readonly AuditRecord[];
}

export interface FunctionRequestLine {
  /** When the request reached the function: log time minus its duration. */
  readonly arrivedAt: number;
  readonly durationMs: number;
  readonly subject: string;
  readonly outcome: string;
  readonly detail: string;
}

/** The function's one-line-per-request log, reduced to what the timeline needs. */
export function requestLines(lines: readonly string[]): FunctionRequestLine[] {
  const out: FunctionRequestLine[] = [];
  for (const line of lines) {
    if (!line.includes('"msg":"request"')) continue;
    try {
      const entry = JSON.parse(line) as { time?: string; durationMs?: number; subject?: string; outcome?: string; detail?: string };
      const time = Date.parse(entry.time ?? '');
      if (Number.isNaN(time) || typeof entry.durationMs !== 'number') continue;
      out.push({ arrivedAt: time - entry.durationMs, durationMs: entry.durationMs, subject: entry.subject ?? '', outcome: entry.outcome ?? '', detail: entry.detail ?? '' });
    } catch {
      continue;
    }
  }
  return out;
}

export function statusWriteOf(t: Trace, namespace: string): AuditRecord | undefined {
  return t.audit.find((r) => r.user === ADMIN_USER && r.verb === 'patch' && r.subresource === 'status' && r.namespace === namespace && r.name === t.old && r.received >= t.sentAt - 50);
}

/**
 * The EndpointSlice write the referee saw: the controller's last write of the Service's
 * slices received after the switch was sent and before the referee's observation.
 * (The first write after the switch may still be the one for the old pod's readiness.
 * A watch event can reach the referee a fraction of a millisecond before the server
 * logs the write as complete, hence "received", not "completed", before the observation.)
 */
export function sliceWriteSeen(audit: readonly AuditRecord[], namespace: string, service: string, after: number, seenAt: number): AuditRecord | undefined {
  return audit.findLast(
    (r) =>
      r.user === SLICE_CONTROLLER_USER &&
      r.resource === 'endpointslices' &&
      r.namespace === namespace &&
      (r.verb === 'update' || r.verb === 'create' || r.verb === 'patch') &&
      (r.name === undefined || r.name.startsWith(`${service}-`)) &&
      r.received >= after &&
      r.received <= seenAt,
  );
}

/** When the referee's slice write was stored, never later than the referee saw it. */
function storedBy(slice: AuditRecord | undefined, seenAt: number): number {
  return slice ? Math.min(slice.completed, seenAt) : Number.NaN;
}

export function breakdownOf(timelines: ReadonlyArray<readonly Mark[]>): Breakdown {
  const complete = timelines.filter((t) => t.every(([, at]) => Number.isFinite(at)));
  const labels = complete[0]?.slice(1).map(([label]) => label) ?? [];
  const segments = labels.map((label, i) => {
    const values = complete.map((t) => t[i + 1]![1] - t[i]![1]).sort((a, b) => a - b);
    return { label, p50: round(percentile(values, 0.5)), p90: round(percentile(values, 0.9)) };
  });
  const missing: Record<string, number> = {};
  for (const t of timelines) for (const [label, at] of t) if (!Number.isFinite(at)) missing[label] = (missing[label] ?? 0) + 1;
  return { reps: complete.length, segments, missing };
}

function costOf(traces: readonly Trace[], mine: (r: AuditRecord) => boolean, switchOf: (t: Trace) => AuditRecord | undefined): CostFigure {
  const totals: number[] = [];
  const reads: number[] = [];
  const writes: number[] = [];
  const critical: number[] = [];
  const criticalReads: number[] = [];
  const criticalWrites: number[] = [];
  const byKind: Record<string, number> = {};
  const criticalByKind: Record<string, number> = {};
  for (const t of traces) {
    const own = t.audit.filter(mine);
    totals.push(own.length);
    reads.push(own.filter(isRead).length);
    writes.push(own.filter((r) => !isRead(r)).length);
    for (const [k, n] of Object.entries(countBy(own))) byKind[k] = (byKind[k] ?? 0) + n;
    const sw = switchOf(t);
    if (sw) {
      const path = own.filter((r) => r.received <= sw.received);
      critical.push(path.length);
      criticalReads.push(path.filter(isRead).length);
      criticalWrites.push(path.filter((r) => !isRead(r)).length);
      for (const [k, n] of Object.entries(countBy(path))) criticalByKind[k] = (criticalByKind[k] ?? 0) + n;
    }
  }
  const mean = (m: Record<string, number>, n: number): Record<string, number> => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, round(v / Math.max(1, n), 2)]));
  return {
    failovers: traces.length,
    total: median(totals),
    reads: median(reads),
    writes: median(writes),
    critical: median(critical),
    criticalReads: median(criticalReads),
    criticalWrites: median(criticalWrites),
    maxTotal: Math.max(...totals),
    byKind: mean(byKind, traces.length),
    criticalByKind: mean(criticalByKind, critical.length),
  };
}

const NaN_ = Number.NaN;

/** How each approach is traced: whose requests are its own, which one moved the traffic, and its timeline. */
export interface Tracer {
  mine(r: AuditRecord): boolean;
  switchOf(t: Trace): AuditRecord | undefined;
  marks(t: Trace): Mark[];
}

function analyse(traces: readonly Trace[], tracer: Tracer): Analysis {
  return { breakdown: breakdownOf(traces.map((t) => tracer.marks(t))), cost: costOf(traces, (r) => tracer.mine(r), (t) => tracer.switchOf(t)) };
}

/**
 * Where baton's failover time goes. Selector mode ends with the EndpointSlice controller;
 * direct mode with baton's own slice write, after the record's PATCH. On Knative
 * ('broker') the function's log is not read: the way in, through the Broker, ends at
 * baton's first read of the Service.
 */
export function batonTracer(namespace: string, logs: readonly FunctionRequestLine[], mode: 'selector' | 'direct' | 'broker' = 'selector'): Tracer {
  const mine = (r: AuditRecord): boolean => r.user === FAILOVER_USER;
  const switchOf = (t: Trace): AuditRecord | undefined => {
    const status = statusWriteOf(t, namespace);
    return status && t.audit.find((r) => mine(r) && r.verb === 'patch' && r.resource === 'services' && r.namespace === namespace && r.name === t.service && r.code === 200 && r.received >= status.received);
  };
  return {
    mine,
    switchOf,
    marks: (t) => {
      const status = statusWriteOf(t, namespace);
      const sw = switchOf(t);
      const subject = `/namespaces/${namespace}/pods/${t.old}`;
      const arrival = logs.find((l) => l.subject.endsWith(subject) && l.arrivedAt >= t.sentAt - 5);
      // In a burst many Services are read at once: the first read for this one names it
      // (its selector in the pod list's query, or its own path).
      const after = arrival?.arrivedAt ?? status?.completed ?? Number.POSITIVE_INFINITY;
      const firstRead = t.audit.find((r) => mine(r) && r.namespace === namespace && r.received >= after - 1 && decodeURIComponent(r.uri).includes(t.service));
      const direct = mode === 'direct';
      const slice = direct
        ? sw && t.audit.find((r) => mine(r) && r.resource === 'endpointslices' && (r.verb === 'update' || r.verb === 'create') && r.name === `${t.service}-baton` && r.received >= sw.completed - 1)
        : sw && sliceWriteSeen(t.audit, namespace, t.service, sw.received, t.seenAt);
      const wayIn: Mark[] =
        mode === 'broker'
          ? [['watch → adapter → Broker → Trigger → baton, first read sent', firstRead?.received ?? NaN_]]
          : [
              ['watch → adapter → HTTP → baton', arrival?.arrivedAt ?? NaN_],
              ['baton: parse, index, first read sent', firstRead?.received ?? NaN_],
            ];
      return [
        ['sent', t.sentAt],
        ['readiness write stored by the API server', status?.completed ?? NaN_],
        ...wayIn,
        [direct ? 'baton: list pods and slices + decide' : 'baton: list pods + decide', sw?.received ?? NaN_],
        [direct ? 'Service PATCH (CAS, the record) at the server' : 'Service PATCH (CAS) at the server', sw?.completed ?? NaN_],
        direct ? ['baton: slice write (guarded update) at the server', slice ? Math.min(slice.completed, t.seenAt) : NaN_] : ['EndpointSlice controller', storedBy(slice, t.seenAt)],
        ['slice watch → referee', t.seenAt],
      ];
    },
  };
}

export function idealTracer(namespace: string, switches: readonly IdealSwitch[]): Tracer {
  const mine = (r: AuditRecord): boolean => r.user === ADMIN_USER && r.namespace === namespace && r.subresource !== 'status';
  const switchOf = (t: Trace): AuditRecord | undefined => {
    const status = statusWriteOf(t, namespace);
    return status && t.audit.find((r) => mine(r) && r.verb === 'patch' && r.resource === 'services' && r.name === t.service && r.received >= status.received);
  };
  return {
    mine,
    switchOf,
    marks: (t) => {
      const status = statusWriteOf(t, namespace);
      const sw = switchOf(t);
      const own = switches.find((s) => s.service === t.service && s.from === t.old && s.seenAt >= t.sentAt);
      const slice = sw && sliceWriteSeen(t.audit, namespace, t.service, sw.received, t.seenAt);
      return [
        ['sent', t.sentAt],
        ['readiness write stored by the API server', status?.completed ?? NaN_],
        ['pod watch → ideal watcher', own?.seenAt ?? NaN_],
        ['ideal: pick a pod, send PATCH', own?.patchSentAt ?? NaN_],
        ['Service PATCH at the server', sw?.completed ?? NaN_],
        ['EndpointSlice controller', storedBy(slice, t.seenAt)],
        ['slice watch → referee', t.seenAt],
      ];
    },
  };
}

export function loopTracer(namespace: string, switches: readonly LoopSwitch[]): Tracer {
  const mine = (r: AuditRecord): boolean => r.user === ADMIN_USER && r.namespace === namespace && r.subresource !== 'status';
  const own = (t: Trace): LoopSwitch | undefined => switches.find((s) => s.from === t.old && s.promotedAt >= t.sentAt);
  // The traffic moves with the second of the two label patches, the promotion.
  const switchOf = (t: Trace): AuditRecord | undefined => {
    const status = statusWriteOf(t, namespace);
    const to = own(t)?.to;
    return status && to !== undefined ? t.audit.find((r) => mine(r) && r.verb === 'patch' && r.resource === 'pods' && r.name === to && r.received >= status.received) : undefined;
  };
  return {
    mine,
    switchOf,
    marks: (t) => {
      const status = statusWriteOf(t, namespace);
      const sw = switchOf(t);
      const s = own(t);
      const slice = sw && sliceWriteSeen(t.audit, namespace, t.service, sw.received, t.seenAt);
      return [
        ['sent', t.sentAt],
        ['readiness write stored by the API server', status?.completed ?? NaN_],
        ['waiting for the next tick', s?.tickStartedAt ?? NaN_],
        ['GET each pod, PATCH old role=passive', s?.demotedAt ?? NaN_],
        ['PATCH new role=active at the server', sw?.completed ?? NaN_],
        ['EndpointSlice controller', storedBy(slice, t.seenAt)],
        ['slice watch → referee', t.seenAt],
      ];
    },
  };
}

/** Single-failover repetitions: each has its own audit window. */
export function analyseReps(reps: readonly Rep[], auditLog: string, service: string, tracer: Tracer): Analysis {
  return analyse(
    reps.map((r) => ({ service, old: r.old, sentAt: r.sentAt, seenAt: r.seenAt, audit: readAudit(auditLog, r.auditFrom, r.auditTo) })),
    tracer,
  );
}

/** Burst failovers share one audit window; each trace picks its own Service's records. */
export function analyseBurst(traces: readonly Omit<Trace, 'audit'>[], audit: readonly AuditRecord[], tracer: Tracer): Breakdown {
  return breakdownOf(traces.map((t) => tracer.marks({ ...t, audit })));
}
