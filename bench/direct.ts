// Direct mode in the bench: the same single failover and burst as selector mode, against
// the same adapter-fed baton-failover instance, with Services that have no selector and
// name their pods with `baton.dev/pods`, so that baton writes their EndpointSlice itself.
import { analyseBurst, analyseReps, requestLines, statusWriteOf, type FunctionRequestLine, type Trace, type Tracer } from './analysis.js';
import type { Api } from './api.js';
import { FAILOVER_USER, readAudit, type AuditRecord } from './audit.js';
import { createBurstPods, runBurst, type BurstResult } from './burst.js';
import { COMPLETED, guarded, NS, say, SERVICE, SETTLE_MS, type Bench } from './context.js';
import type { RunningFunction } from './processes.js';
import type { ApproachFigures } from './results.js';
import { runSingle } from './single.js';
import { subjectIs, type Sink } from './sink.js';
import { mapLimit, round, summarize } from './util.js';
import { createDeployment } from './workloads.js';

/** A Service in direct mode over the pods labelled app=<app>. */
async function createDirectService(api: Api, namespace: string, name: string, app: string): Promise<void> {
  await api.create(`/api/v1/namespaces/${namespace}/services`, {
    metadata: { name, labels: { 'baton.dev/mode': 'active-standby' }, annotations: { 'baton.dev/pods': `app=${app}` } },
    spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
  });
}

/** Where a direct-mode failover's time goes: as selector mode up to the Service PATCH, then baton's own slice write. */
export function directTracer(namespace: string, logs: readonly FunctionRequestLine[]): Tracer {
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
      const after = arrival?.arrivedAt ?? status?.completed ?? Number.POSITIVE_INFINITY;
      const firstRead = t.audit.find((r) => mine(r) && r.namespace === namespace && r.received >= after - 1 && decodeURIComponent(r.uri).includes(t.service));
      const slice = sw && t.audit.find((r) => mine(r) && r.resource === 'endpointslices' && (r.verb === 'update' || r.verb === 'create') && r.name === `${t.service}-baton` && r.received >= sw.completed - 1);
      const NaN_ = Number.NaN;
      return [
        ['sent', t.sentAt],
        ['readiness write stored by the API server', status?.completed ?? NaN_],
        ['watch → adapter → HTTP → baton', arrival?.arrivedAt ?? NaN_],
        ['baton: parse, index, first read sent', firstRead?.received ?? NaN_],
        ['baton: list pods and slices + decide', sw?.received ?? NaN_],
        ['Service PATCH (CAS, the record) at the server', sw?.completed ?? NaN_],
        ['baton: slice write (guarded update) at the server', slice ? Math.min(slice.completed, t.seenAt) : NaN_],
        ['slice watch → referee', t.seenAt],
      ];
    },
  };
}

export async function singleDirect(bench: Bench, baton: RunningFunction, sink: Sink): Promise<ApproachFigures | undefined> {
  const { api, slices, opts } = bench;
  return guarded(bench, 'single failover: baton, direct mode', async () => {
    const pods = await createDeployment(api, NS.direct, 'app', 3);
    await createDirectService(api, NS.direct, SERVICE, 'app');
    await slices.until(NS.direct, SERVICE, 'one ready pod in baton\'s slice', (r) => r.length === 1, 0, 20_000);
    await sink.until('direct adoption completed (term 1)', (e) => e.type === COMPLETED && subjectIs(NS.direct, SERVICE)(e), 20_000);
    await baton.quiet(1_000, 30_000);
    say(`baton, direct mode (adapter → baton-failover → the record's CAS PATCH → baton's own slice write), ${opts.reps} reps; pods ${pods.join(', ')}`);
    const reps = await runSingle(
      { api, slices, auditLog: bench.auditLog, settleMs: SETTLE_MS, log: say },
      {
        label: 'direct',
        namespace: NS.direct,
        service: SERVICE,
        failoverTimeoutMs: 10_000,
        afterFailover: (rep) => sink.until(`completed after ${rep.old} failed`, (e) => e.type === COMPLETED && subjectIs(NS.direct, SERVICE)(e) && e.at >= rep.sentAt, 10_000).then(() => undefined),
      },
      opts.reps,
    );
    const lines = requestLines(baton.logLines());
    return {
      key: 'direct',
      label: 'baton, direct mode',
      latency: summarize(reps.map((r) => r.latencyMs)),
      samples: reps.map((r) => round(r.latencyMs, 2)),
      note: 'the same adapter-fed baton-failover; the Service has no selector and baton writes its EndpointSlice',
      analysis: analyseReps(reps, bench.auditLog, SERVICE, directTracer(NS.direct, lines)),
    };
  });
}

export async function burstDirect(bench: Bench, sink: Sink, baton: RunningFunction, names: readonly string[]): Promise<BurstResult | undefined> {
  const { api, slices, plane } = bench;
  return guarded(bench, 'burst: baton, direct mode', async () => {
    const setupStarted = Date.now();
    await createBurstPods(api, NS.burstDirect, names);
    await mapLimit(names, 16, (s) => createDirectService(api, NS.burstDirect, s, s));
    await Promise.all(names.map((s) => sink.until(`baton to adopt ${NS.burstDirect}/${s}`, (e) => e.type === COMPLETED && subjectIs(NS.burstDirect, s)(e), 180_000)));
    await baton.quiet(2_000, 180_000);
    say(`  baton adopted ${names.length} Services in direct mode and went quiet (${((Date.now() - setupStarted) / 1000).toFixed(1)} s of setup)`);
    const run = await runBurst(plane, slices, bench.auditLog, { namespace: NS.burstDirect, services: names }, 60_000);
    const lines = requestLines(baton.logLines());
    const olds = new Set(run.traces.map((t) => `/namespaces/${NS.burstDirect}/pods/${t.old}`));
    const handled = lines.filter((l) => l.arrivedAt >= Math.min(...run.traces.map((t) => t.sentAt)) - 5 && [...olds].some((o) => l.subject.endsWith(o)));
    return {
      ...run.result,
      breakdown: analyseBurst(run.traces, readAudit(bench.auditLog, run.auditFrom, run.auditTo), directTracer(NS.burstDirect, lines)),
      handlerMs: summarize(handled.map((l) => l.durationMs)),
    };
  });
}
