import { Command, Option } from 'commander';
import * as k8s from '@kubernetes/client-node';
import { connect } from '../functions/failover/cluster.js';
import { isHealthy } from '../functions/failover/core/health.js';
import { keysFor, MODE_VALUE } from '../shared/keys.js';
import { readRecord } from '../shared/record.js';
import { userSelector } from '../functions/failover/core/settings.js';
import { serviceMode } from '../functions/failover/core/direct.js';
import { positiveInt } from './cluster.js';
import { currentKubeconfig } from './tools.js';
import { say, sayTable } from './output.js';
import { FUNCTIONS, type FunctionName } from '../functions/names.js';

export function runCommand(): Command {
  return new Command('run')
    .description('run a function locally against the current kubeconfig (config from BATON_* variables; see README)')
    .addArgument(new Command().createArgument('<function>', 'which function').choices(FUNCTIONS))
    .addOption(new Option('--port <port>', 'HTTP port (PORT)').argParser(positiveInt('--port')))
    .option('--host <address>', 'bind address (BATON_HOST)', '127.0.0.1')
    .action(async (fn: FunctionName, opts: { port?: number; host: string }) => {
      const env = { ...process.env, KUBECONFIG: currentKubeconfig(), BATON_HOST: process.env.BATON_HOST ?? opts.host, ...(opts.port ? { PORT: String(opts.port) } : {}) };
      if (fn === 'failover') {
        const { startFailover } = await import('../functions/failover/main.js');
        await startFailover(env);
      } else if (fn === 'routes') {
        const { startRoutes } = await import('../functions/routes/main.js');
        await startRoutes(env);
      } else {
        const { startResync } = await import('../functions/failover/resync/main.js');
        await startResync(env, { tick: true });
      }
      await new Promise(() => {});
    });
}

function ago(t: number | undefined, now: number): string {
  if (t === undefined) return '-';
  const s = Math.max(0, Math.round((now - t) / 1000));
  return s < 120 ? `${s}s ago` : s < 7200 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
}

export function statusCommand(): Command {
  return new Command('status')
    .description('show each opted-in Service, its active pod, standbys, last switch and mode (selector or direct)')
    .option('-n, --namespace <ns>', 'one namespace (default: all)')
    .option('--prefix <prefix>', 'label/annotation prefix (BATON_PREFIX)', process.env.BATON_PREFIX ?? 'baton.dev')
    .action(async (opts: { namespace?: string; prefix: string }) => {
      const kubeConfig = new k8s.KubeConfig();
      kubeConfig.loadFromFile(currentKubeconfig());
      const cluster = await connect({ kubeConfig, timeoutMs: 10_000, component: 'baton-cli' });
      const keys = keysFor(opts.prefix);
      const services = await cluster.listServices(`${keys.mode}=${MODE_VALUE}`, opts.namespace);
      if (services.length === 0) {
        say(`no Service is labelled ${keys.mode}=${MODE_VALUE}${opts.namespace ? ` in ${opts.namespace}` : ''}.`);
        return;
      }
      const now = Date.now();
      const rows: string[][] = [['NAMESPACE', 'SERVICE', 'ACTIVE', 'TERM', 'STANDBYS (ready/total)', 'LAST SWITCH', 'REASON', 'MODE']];
      for (const s of services.sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`))) {
        const sel = userSelector(s, keys);
        const pods = sel.ok ? await cluster.listPods(s.namespace, sel.selector) : [];
        const record = readRecord(s, keys);
        const mode = serviceMode(s, keys).kind;
        // Selector mode routes to the pod-id in the selector; direct mode to the record's pod (its slice follows it).
        const activeUid = mode === 'direct' ? record.activeUid : s.selector[keys.podId];
        const active = pods.find((p) => p.uid === activeUid);
        const standbys = pods.filter((p) => p.uid !== activeUid);
        const activeText = active ? `${active.name}${isHealthy(active) ? '' : ' (NOT READY)'}` : activeUid ? '(gone)' : '(none yet)';
        rows.push([
          s.namespace,
          s.name,
          sel.ok ? activeText : '(invalid selector)',
          record.term === undefined ? '-' : String(record.term),
          `${standbys.filter(isHealthy).length}/${standbys.length}`,
          ago(record.switchedAt, now),
          record.reason ?? '-',
          mode === 'direct' ? 'direct' : mode === 'selector' ? 'selector' : 'invalid',
        ]);
      }
      sayTable(rows);
    });
}
