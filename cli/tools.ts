import { spawn } from 'node:child_process';
import { Command } from 'commander';
import { join } from 'node:path';
import { isAlive } from '../plane/processes.js';
import { startAdapter } from '../plane/adapter.js';
import { ensureBinaries } from '../plane/binaries.js';
import { stateDir } from '../plane/paths.js';
import { readState } from '../plane/state.js';
import { fail, say } from './output.js';

/** The kubeconfig to use: $KUBECONFIG, else the local plane's. */
export function currentKubeconfig(): string {
  if (process.env.KUBECONFIG) return process.env.KUBECONFIG;
  const state = readState(stateDir());
  if (!state) fail('no kubeconfig: set KUBECONFIG or start the local plane with `baton cluster up`');
  return state.kubeconfig;
}

export function kubectlCommand(): Command {
  return new Command('kubectl')
    .description('run the pinned kubectl against the local plane (or $KUBECONFIG)')
    .argument('[args...]', 'kubectl arguments (put them after --)')
    .allowUnknownOption(true)
    .helpOption(false)
    .action(async (args: string[]) => {
      const { paths } = await ensureBinaries((m) => say(m));
      const child = spawn(paths.kubectl, args, { stdio: 'inherit', env: { ...process.env, KUBECONFIG: currentKubeconfig() } });
      await new Promise<void>((resolve) => child.on('close', (code) => ((process.exitCode = code ?? 1), resolve())));
    });
}

export function sourceCommand(): Command {
  return new Command('source')
    .description('run the real Knative ApiServerSource adapter (Resource mode: Pods, EndpointSlices, Services, Nodes) against the current kubeconfig')
    .requiredOption('--sink <url>', 'where to send CloudEvents (K_SINK)')
    .option('-n, --namespace <ns...>', 'namespaces to watch (default: all)')
    .action(async (opts: { sink: string; namespace?: string[] }) => {
      let url: URL;
      try {
        url = new URL(opts.sink);
      } catch {
        fail(`--sink must be an absolute http(s) URL (got "${opts.sink}")`);
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') fail(`--sink must be http or https (got "${opts.sink}")`);
      const { paths } = await ensureBinaries((m) => say(m));
      const kubeconfig = currentKubeconfig();
      const adapter = await startAdapter({
        binary: paths.apiserver_receive_adapter,
        kubeconfig,
        sink: opts.sink,
        logDir: join(stateDir(), '..', 'source-logs'),
        namespaces: opts.namespace ?? [],
      });
      say(`adapter running (pid ${adapter.record.pid}), sending to ${opts.sink}; log: ${adapter.record.log}. Ctrl-C stops it.`);
      // The adapter runs in its own process group (so that a stop reaches all of it) and
      // is not waited on by Node: this command stays in the foreground itself, until a
      // signal stops the adapter, or the adapter ends on its own.
      const code = await new Promise<number>((resolve) => {
        const watch = setInterval(() => {
          if (!isAlive(adapter.record)) finish(1, `the adapter exited; see ${adapter.record.log}`);
        }, 500);
        const finish = (exit: number, why: string): void => {
          clearInterval(watch);
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          say(why);
          void adapter.stop().then(() => resolve(exit), () => resolve(1));
        };
        const onSignal = (signal: NodeJS.Signals): void => finish(0, `${signal}: stopping the adapter`);
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
      });
      process.exitCode = code;
    });
}
