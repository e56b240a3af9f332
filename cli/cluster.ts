import { Command, Option } from 'commander';
import { ensureBinaries, ensureNodeBinaries, clearCache } from '../plane/binaries.js';
import { cacheDir, stateDir } from '../plane/paths.js';
import { planeStatus, startPlane, stopPlane } from '../plane/plane.js';
import { readState } from '../plane/state.js';
import { isAlive } from '../plane/processes.js';
import { fail, say } from './output.js';

function elapsed(start: number): string {
  return `${((Date.now() - start) / 1000).toFixed(1)} s`;
}

export function clusterCommand(): Command {
  const cluster = new Command('cluster').description('run a local Kubernetes control plane (etcd, kube-apiserver, controllers, scheduler, kwok nodes, Knative CRDs)');

  cluster
    .command('up')
    .description('start the plane on 127.0.0.1 and print its kubeconfig path')
    .addOption(new Option('--nodes <n>', 'fake nodes managed by kwok').default('2').argParser(positiveInt('--nodes')))
    .addOption(new Option('--apiserver-port <port>', 'fixed kube-apiserver port (default: a free one)').argParser(positiveInt('--apiserver-port')))
    .option('--audit-log', 'write an apiserver audit log (every request) into the plane folder')
    .option('--real-node', 'also run one real node (containerd, kubelet, kube-proxy, CoreDNS, an image registry; needs root, installs Debian packages when missing)')
    .option('--knative', 'with --real-node: also install Knative 1.20 (Serving with Kourier, Eventing with the in-memory channel and the MT Broker) from images built here')
    .action(async (opts: { nodes: number | string; apiserverPort?: number; auditLog?: boolean; realNode?: boolean; knative?: boolean }) => {
      const dir = stateDir();
      const existing = readState(dir);
      if (existing && existing.processes.some(isAlive)) {
        say(`a local plane is already running (kubeconfig ${existing.kubeconfig}); reusing it. Stop it with \`baton cluster down\`.`);
        say(`export KUBECONFIG=${existing.kubeconfig}`);
        return;
      }
      const start = Date.now();
      const state = await startPlane({
        dir,
        nodes: Number(opts.nodes),
        ...(opts.apiserverPort !== undefined ? { apiserverPort: opts.apiserverPort } : {}),
        auditLog: opts.auditLog === true,
        realNode: opts.realNode === true,
        knative: opts.knative === true,
        progress: (m) => say(`[${elapsed(start)}] ${m}`),
      });
      say(`local plane ready in ${elapsed(start)}: ${state.server}`);
      say(`kubeconfig: ${state.kubeconfig}`);
      say(`export KUBECONFIG=${state.kubeconfig}`);
    });

  cluster
    .command('down')
    .description('stop every process the plane started and remove its data')
    .action(async () => {
      const dir = stateDir();
      if (!readState(dir)) {
        say('no local plane is recorded; nothing to stop.');
        return;
      }
      const { stopped } = await stopPlane(dir);
      say(stopped.length ? `stopped ${stopped.join(', ')}; removed ${dir}` : `nothing was running; removed ${dir}`);
    });

  cluster
    .command('status')
    .description('show what runs')
    .action(async () => {
      const status = await planeStatus(stateDir());
      if (!status.state) {
        say('no local plane (start one with `baton cluster up`).');
        process.exitCode = 3;
        return;
      }
      say(`plane:      ${status.running ? 'running' : 'stopped'} (${status.state.dir})`);
      say(`apiserver:  ${status.state.server} ${status.apiserverReady ? 'ready' : 'not ready'}`);
      say(`kubeconfig: ${status.state.kubeconfig}`);
      for (const p of status.processes) say(`  ${p.name.padEnd(24)} pid ${String(p.pid).padEnd(8)} ${p.alive ? 'running' : 'exited'}`);
      if (!status.running || !status.apiserverReady) process.exitCode = 3;
    });

  cluster
    .command('build')
    .description('build (or verify) the pinned control-plane binaries in the cache')
    .option('--force', 'discard the cache and rebuild')
    .option('--real-node', "also the real node's binaries (kubelet, kube-proxy, CoreDNS, the image registry, pause, echo-server, relay)")
    .action(async (opts: { force?: boolean; realNode?: boolean }) => {
      if (opts.force) say(`removed ${clearCache()}`);
      const start = Date.now();
      const b = await ensureBinaries((m) => say(`[${elapsed(start)}] ${m}`));
      const node = opts.realNode ? await ensureNodeBinaries((m) => say(`[${elapsed(start)}] ${m}`)) : {};
      say(`binaries ready in ${elapsed(start)} (cache ${cacheDir()}):`);
      for (const [name, path] of Object.entries({ ...b.paths, ...node })) say(`  ${name.padEnd(26)} ${path}`);
    });

  return cluster;
}

export function positiveInt(flag: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0 || n > 65535) fail(`${flag} must be a positive integer (got "${value}")`);
    return n;
  };
}
