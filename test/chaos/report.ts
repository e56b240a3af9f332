// What a chaos run found, and the table the closing notes quote.
import type { ApiCounts } from './apiproxy.js';
import type { AuditCheck } from './audit.js';
import type { Violation } from './invariant.js';
import type { RelayCounts } from './relay.js';

export interface ScenarioReport {
  readonly seed: number;
  readonly digest: string;
  readonly services: number;
  readonly instances: number;
  readonly stepsPlanned: number;
  readonly stepsRun: number;
  readonly actionPhaseMs: number;
  readonly actions: Readonly<Record<string, number>>;
  /** Actions that found nothing to do (e.g. no unready pod to recover). */
  readonly actionsSkipped: number;
  readonly actionErrors: readonly string[];
  readonly warmupMs: number;
  readonly relay: Readonly<RelayCounts>;
  readonly api: Readonly<ApiCounts>;
  readonly apiserverRestarts: readonly number[];
  readonly adapterRestarts: readonly number[];
  readonly sliceUpdates: number;
  readonly watchReconnects: number;
  readonly watchGaps: number;
  readonly violations: readonly Violation[];
  /** Failover times under faults (Ready=False written → one other pod ready), sorted. */
  readonly failoverMs: readonly number[];
  /**
   * Each stretch in which an adopted Service had no ready endpoint while one of its
   * candidates was healthy, in ms, sorted (windows still open at the end count up to then).
   */
  readonly darkMs: readonly number[];
  readonly darkWorstService: string;
  /**
   * Failovers of an active that had a healthy standby, not done 30 s later. Not by
   * itself a fault: a later action may have failed the standby too (the convergence
   * check after the faults is the judge).
   */
  readonly failoversStuck: number;
  /** Services already converged at the first check after the faults stopped. */
  readonly convergedAtStop: number;
  readonly worstConvergenceMs: number;
  readonly worstConvergenceService: string;
  readonly unconverged: readonly string[];
  readonly audit: AuditCheck;
  /**
   * Lost audit events whose switching PATCH was applied while the proxy cut its
   * answer (the function saw a failure, re-read, found the switch done and stayed quiet).
   */
  readonly lostAfterLostResponse: readonly string[];
  readonly auditReceived: number;
  readonly instancesCrashed: number;
}

export function dark(windows: ReadonlyArray<{ service: string; from: number; to: number | undefined }>): { darkMs: number[]; darkWorstService: string } {
  const end = Date.now();
  const timed = windows.map((w) => ({ service: w.service, ms: (w.to ?? end) - w.from }));
  const worst = timed.reduce<{ service: string; ms: number } | undefined>((a, b) => (a === undefined || b.ms > a.ms ? b : a), undefined);
  return { darkMs: timed.map((w) => w.ms).sort((a, b) => a - b), darkWorstService: worst?.service ?? '-' };
}

function percentile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

/** The closing-note table. */
export function formatReport(r: ScenarioReport): string {
  const rows: Array<[string, string]> = [
    ['seed / script digest', `${r.seed} / ${r.digest}`],
    ['services / failover instances', `${r.services} / ${r.instances} (+1 resync)`],
    ['steps run', `${r.stepsRun} of ${r.stepsPlanned} in ${(r.actionPhaseMs / 1000).toFixed(1)} s (${r.actionsSkipped} found nothing to do, ${r.actionErrors.length} failed)`],
    ['actions', Object.entries(r.actions).map(([k, v]) => `${k} ${v}`).join(', ')],
    ['events: relay faults', `dropped ${r.relay.dropped}, duplicated ${r.relay.duplicated}, reordered ${r.relay.reordered}, delayed ${r.relay.delayed} (max ${(r.relay.maxDelayMs / 1000).toFixed(1)} s) of ${r.relay.received} received`],
    ['events: redeliveries', `${r.relay.redelivered} retried, ${r.relay.gaveUp} given up; answers ${Object.entries(r.relay.statuses).map(([k, v]) => `${k}×${v}`).join(' ')}`],
    ['API faults', `409 ${r.api.conflict}, 429 ${r.api.tooManyRequests}, 500 ${r.api.serverError}, timeout ${r.api.timeout}, reset ${r.api.reset}, lost response ${r.api.lostResponse} of ${r.api.requests} requests`],
    ['kube-apiserver restarts', `${r.apiserverRestarts.length} (unavailable ${r.apiserverRestarts.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(', ') || '-'}; ${r.api.upstreamDown} requests found it down)`],
    ['adapter restarts', `${r.adapterRestarts.length} (down ${r.adapterRestarts.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(', ') || '-'})`],
    ['slice updates watched', `${r.sliceUpdates} (watch reconnects ${r.watchReconnects}, re-lists ${r.watchGaps})`],
    ['violations (>1 ready endpoint)', String(r.violations.length)],
    ['failover under faults', r.failoverMs.length ? `${r.failoverMs.length} timed: median ${percentile(r.failoverMs, 0.5)} ms, p95 ${percentile(r.failoverMs, 0.95)} ms, worst ${r.failoverMs[r.failoverMs.length - 1]} ms; ${r.failoversStuck} not moved in 30 s (standby lost too)` : `none timed; ${r.failoversStuck} not moved in 30 s`],
    ['no ready endpoint, a candidate healthy', r.darkMs.length ? `${r.darkMs.length} windows: median ${percentile(r.darkMs, 0.5)} ms, p95 ${percentile(r.darkMs, 0.95)} ms, longest ${r.darkMs[r.darkMs.length - 1]} ms (${r.darkWorstService})` : 'none'],
    ['convergence after faults stop', `worst ${(r.worstConvergenceMs / 1000).toFixed(2)} s (${r.worstConvergenceService}); ${Math.max(0, r.convergedAtStop)} of ${r.services} converged at the first check; unconverged ${r.unconverged.length}`],
    ['changes of active (terms)', String(r.audit.termChanges)],
    ['audit events', `${r.auditReceived} received, ${r.audit.unique} unique ids`],
    ['lost / conflicting / phantom', `${r.audit.lost.length} / ${r.audit.conflicting.length} / ${r.audit.phantom.length}${r.audit.lost.length ? ` (${r.lostAfterLostResponse.length} of the lost follow a switching PATCH whose answer was cut)` : ''}`],
    ['function processes crashed', String(r.instancesCrashed)],
    ['warm-up (adoption of all)', `${(r.warmupMs / 1000).toFixed(1)} s`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}
