import { Command } from 'commander';
import * as k8s from '@kubernetes/client-node';
import { connectRoutes } from '../shared/k8s/routes-api.js';
import { ingressNameFor, routeKeysFor, sameRoute } from '../shared/routes/model.js';
import { planRoutes } from '../shared/routes/plan.js';
import { describeRoute } from '../shared/routes/report.js';
import { currentKubeconfig } from './tools.js';
import { say, sayTable } from './output.js';

// Read-only: the same planner the routes function runs, over a fresh list, so the
// STATE column says what the function would decide now; "pending" means the Ingress
// does not yet say what the Service asks (the class is the function's setting, so it
// is not compared).
export function routesCommand(): Command {
  return new Command('routes')
    .description('show each Service that asks for a host, its Ingress and whether it holds the host')
    .option('-n, --namespace <ns>', 'one namespace (default: all)')
    .option('--prefix <prefix>', 'label/annotation prefix (BATON_PREFIX)', process.env.BATON_PREFIX ?? 'baton.dev')
    .action(async (opts: { namespace?: string; prefix: string }) => {
      const kubeConfig = new k8s.KubeConfig();
      kubeConfig.loadFromFile(currentKubeconfig());
      const keys = routeKeysFor(opts.prefix);
      const api = await connectRoutes({ kubeConfig, timeoutMs: 10_000, component: 'baton-cli', keys });
      const scope = opts.namespace ? [opts.namespace] : [];
      const [services, ingresses] = await Promise.all([api.listServices(scope), api.listIngresses(scope)]);
      const plan = planRoutes({ services, ingresses, keys, ingressClass: undefined, now: Date.now() });
      if (plan.verdicts.size === 0) {
        say(`no Service has a ${keys.host} (or ${keys.legacyHost}) annotation${opts.namespace ? ` in ${opts.namespace}` : ''}.`);
        return;
      }
      const rows: string[][] = [['NAMESPACE', 'SERVICE', 'ROUTE', 'INGRESS', 'STATE']];
      for (const [, verdict] of [...plan.verdicts].sort(([a], [b]) => a.localeCompare(b))) {
        const s = verdict.service;
        const own = ingresses.find((i) => i.namespace === s.namespace && i.name === ingressNameFor(s.name) && i.ownerUid === s.uid);
        // A pending route whose name someone else's Ingress holds stays pending forever: say so.
        const holder = verdict.kind === 'routed' && !own ? await api.getIngress(s.namespace, ingressNameFor(s.name)) : undefined;
        const foreign = holder !== undefined && !(holder.managed && holder.ownerUid === s.uid);
        const state =
          verdict.kind === 'routed'
            ? foreign
              ? `conflict: Ingress ${ingressNameFor(s.name)} is not baton's`
              : own?.route && sameRoute({ ...own.route, ingressClass: undefined }, { ...verdict.route, ingressClass: undefined })
                ? 'routed'
                : 'pending'
            : verdict.kind === 'conflict'
              ? `conflict: held by ${verdict.holder.namespace}/${verdict.holder.name}`
              : `invalid: ${verdict.problems.map((p) => `${p.key}: ${p.message}`).join('; ')}`;
        rows.push([s.namespace, s.name, verdict.kind === 'invalid' ? '-' : describeRoute(verdict.route), own?.name ?? '-', state]);
      }
      sayTable(rows);
    });
}
