import { Command, InvalidArgumentError } from 'commander';
import * as k8s from '@kubernetes/client-node';
import { connectRoutes } from '../functions/routes/api.js';
import { ingressNameFor, LEGACY_HOST_KEY, routeKeysFor, sameRoute } from '../functions/routes/core/model.js';
import { planRoutes, type Verdict } from '../functions/routes/core/plan.js';
import { DENY_ALL, parseHostPolicy, POLICY_VARIABLE, type HostPolicy } from '../shared/config/host-policy.js';
import { describeRoute } from '../functions/routes/report.js';
import { currentKubeconfig } from './tools.js';
import { say, sayTable } from './output.js';

function policyOption(text: string): HostPolicy {
  const parsed = parseHostPolicy(text);
  if (!parsed.ok) throw new InvalidArgumentError(parsed.message);
  return parsed.policy;
}

// Read-only: the same planner the routes function runs, over a fresh list, so the
// STATE column says what the function would decide now. The function's host policy is
// its own config, so it is given here the same way (--host-policy, or the variable);
// unset means what it means for the function: no namespace may claim a host.
// "pending" means the Ingress does not yet say what the Service asks.
export function routesCommand(): Command {
  return new Command('routes')
    .description('show each Service that asks for a host, the Ingress it became (or why not), and whether it holds the host')
    .option('-n, --namespace <ns>', 'one namespace (default: all)')
    .option('--prefix <prefix>', 'label/annotation prefix (BATON_PREFIX)', process.env.BATON_PREFIX ?? 'baton.dev')
    .option('--host-policy <policy>', `the routes function's ${POLICY_VARIABLE} (default: $${POLICY_VARIABLE}; unset: no host may be claimed)`, policyOption)
    .action(async (opts: { namespace?: string; prefix: string; hostPolicy?: HostPolicy }) => {
      const envPolicy = process.env[POLICY_VARIABLE]?.trim() ? policyOption(process.env[POLICY_VARIABLE]) : undefined;
      const policy = opts.hostPolicy ?? envPolicy ?? DENY_ALL;
      const kubeConfig = new k8s.KubeConfig();
      kubeConfig.loadFromFile(currentKubeconfig());
      const keys = routeKeysFor(opts.prefix);
      const api = await connectRoutes({ kubeConfig, timeoutMs: 10_000, component: 'baton-cli', keys });
      const scope = opts.namespace ? [opts.namespace] : [];
      const [services, ingresses] = await Promise.all([api.listServices(scope), api.listIngresses(scope)]);
      const plan = planRoutes({ services, ingresses, keys, ingressClass: undefined, policy });
      if (plan.verdicts.size === 0) {
        say(`no Service has a ${keys.host} (or ${keys.legacyHost}) annotation${opts.namespace ? ` in ${opts.namespace}` : ''}.`);
        return;
      }
      const rows: string[][] = [['NAMESPACE', 'SERVICE', 'ROUTE', 'INGRESS', 'STATE']];
      const notes: string[] = [];
      for (const [, verdict] of [...plan.verdicts].sort(([a], [b]) => a.localeCompare(b))) {
        const s = verdict.service;
        const own = ingresses.find((i) => i.namespace === s.namespace && i.name === ingressNameFor(s.name) && i.ownerUid === s.uid);
        // A pending route whose name someone else's (unlabelled) Ingress holds stays pending forever: say so.
        const holder = verdict.kind === 'routed' && !own ? await api.getIngress(s.namespace, ingressNameFor(s.name)) : undefined;
        const foreign = holder !== undefined && !(holder.managed && holder.ownerUid === s.uid);
        const state =
          verdict.kind === 'routed'
            ? foreign
              ? `conflict: Ingress ${ingressNameFor(s.name)} is not baton's`
              : own?.route && sameRoute(own.route, verdict.route)
                ? 'routed'
                : 'pending'
            : verdict.kind === 'conflict'
              ? verdict.holder.kind === 'Ingress'
                ? `conflict: Ingress ${verdict.holder.name} is not baton's`
                : `conflict: held by ${verdict.holder.namespace}/${verdict.holder.name}`
              : stateOfInvalid(verdict);
        rows.push([s.namespace, s.name, verdict.kind === 'invalid' ? '-' : describeRoute(verdict.route), own?.name ?? '-', state]);
        const legacy = s.annotations[LEGACY_HOST_KEY];
        if (legacy !== undefined && s.annotations[keys.host] === undefined) notes.push(legacyLine(s.namespace, s.name, legacy, verdict, own?.name));
      }
      sayTable(rows);
      if (notes.length > 0) {
        say('');
        say(`${LEGACY_HOST_KEY} (the retired load balancer's annotation):`);
        for (const line of notes) say(line);
        say('An Ingress host carries no port: the ingress controller\'s own ports now decide the port clients dial.');
      }
    });
}

/** Refusals by the host policy say so first, with the policy that refused. */
function stateOfInvalid(verdict: Extract<Verdict, { kind: 'invalid' }>): string {
  const refused = verdict.problems.find((p) => p.byPolicy);
  if (refused) return `refused by host policy: ${refused.message}`;
  return `invalid: ${verdict.problems.map((p) => `${p.key}: ${p.message}`).join('; ')}`;
}

function legacyLine(namespace: string, name: string, value: string, verdict: Verdict, ingress: string | undefined): string {
  const became =
    verdict.kind === 'invalid'
      ? 'no Ingress (see STATE)'
      : verdict.kind === 'conflict'
        ? `no Ingress (conflict)`
        : `Ingress ${ingress ?? ingressNameFor(name)}${ingress ? '' : ' (pending)'}: ${describeRoute(verdict.route)}`;
  return `  ${namespace}/${name}: ${value} → ${became}`;
}
