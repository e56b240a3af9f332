// The level-triggered half of baton: the adapter sends nothing for objects that exist
// when it starts and drops events it cannot deliver, so a schedule reconciles every
// opted-in Service regardless of events.
import { checkCompletion } from '../completion.js';
import { MODE_VALUE } from '../../../shared/keys.js';
import { reconcile, type ReconcileDeps, type Result } from '../reconcile.js';
import type { Reporter } from '../report.js';
import type { Observed, ServiceView } from '../core/model.js';

export interface SweepDeps extends ReconcileDeps {
  readonly reporter: Reporter;
  readonly namespaces: readonly string[];
  readonly concurrency: number;
}

export interface SweepSummary {
  readonly services: number;
  readonly outcomes: Readonly<Record<string, number>>;
  readonly errors: readonly string[];
  readonly durationMs: number;
}

export async function sweep(deps: SweepDeps): Promise<SweepSummary> {
  const started = deps.now();
  const selector = `${deps.keys.mode}=${MODE_VALUE}`;
  const services: Array<Observed<ServiceView>> =
    deps.namespaces.length === 0 ? await deps.cluster.listServices(selector) : (await Promise.all(deps.namespaces.map((ns) => deps.cluster.listServices(selector, ns)))).flat();
  // Which Nodes are cordoned, once per sweep (not per Service): one request, and the
  // sweep is the backstop for a Node event the adapter dropped. If it cannot be read, the
  // sweep goes on without it (no cordon moves this time) and says so.
  const errors: string[] = [];
  const cordoned = await deps.cluster.listCordonedNodes().then(
    (nodes) => new Set(nodes.map((n) => n.name)),
    (error: unknown) => {
      errors.push(`cordoned nodes: ${error instanceof Error ? error.message : String(error)}`);
      return new Set<string>();
    },
  );
  // Role labels agree across Services over the same pods only if each reconcile knows the
  // others: this sweep's own list is the freshest account of them.
  const withPeers: ReconcileDeps = { ...deps, peers: (namespace) => services.filter((s) => s.namespace === namespace), cordoned: () => cordoned };
  const outcomes: Record<string, number> = {};
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < services.length; i = next++) {
      const s = services[i]!;
      try {
        // The list is a read made for this sweep: as good as a get of each Service.
        const result: Result = await reconcile(withPeers, s, { service: s, fresh: true });
        outcomes[result.outcome] = (outcomes[result.outcome] ?? 0) + 1;
        if (result.outcome === 'steady' || result.outcome === 'switched') await checkCompletion(deps, s);
      } catch (error) {
        errors.push(`${s.namespace}/${s.name}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, deps.concurrency) }, worker));
  return { services: services.length, outcomes, errors, durationMs: deps.now() - started };
}
