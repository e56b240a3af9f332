// `baton demo`: the whole product on the local plane in one command. It starts (or
// reuses) the plane, runs the real adapter and the failover function, puts a
// 3-replica app behind an opted-in Service, breaks the active pod and prints what
// happened, millisecond by millisecond, as seen by independent observers.
// `--knative` runs the same on real Knative: the plane's real node and Knative, baton
// deployed by `skaffold run -p plane`, events through the Broker, and the audit events
// delivered to the demo by a Trigger of its own.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Command } from 'commander';
import * as k8s from '@kubernetes/client-node';
import { startAdapter, type RunningAdapter } from '../plane/adapter.js';
import { deployBaton, HOST_SINK_ADDRESS, LOCAL_APP_NAMESPACE, removeTrigger, subscribeHost } from '../plane/knative/baton.js';
import { repoRoot, stateDir } from '../plane/paths.js';
import { startPlane } from '../plane/plane.js';
import { readState, type PlaneState } from '../plane/state.js';
import { freePort } from '../plane/ports.js';
import { isAlive } from '../plane/processes.js';
import { waitFor } from '../plane/wait.js';
import { printable, startDemoSink } from './demo-sink.js';
import { say } from './output.js';

const strategic = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch);

interface Mark {
  readonly at: number;
  readonly what: string;
}

async function plane(log: (m: string) => void, knative: boolean): Promise<PlaneState> {
  const dir = stateDir();
  const existing = readState(dir);
  if (existing && existing.processes.some(isAlive)) {
    if (!existing.processes.every(isAlive)) throw new Error(`the local plane in ${dir} is only partly running; run \`baton cluster down\` and try again`);
    if (knative && !existing.knative) throw new Error(`the local plane in ${dir} runs without Knative; run \`baton cluster down\`, then \`baton demo --knative\` starts one with it`);
    log(`reusing the local plane that is already running (${existing.server})`);
    return existing;
  }
  const started = Date.now();
  return startPlane({ dir, nodes: 2, ...(knative ? { realNode: true, knative: true } : {}), progress: (m) => log(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${m}`) });
}

const DEMO_TRIGGER = 'baton-demo';

/** hhmmss (UTC): names that differ from one demo run to the next. */
function timeStamp(): string {
  return new Date().toISOString().slice(11, 19).replace(/:/g, '');
}

/** Where baton runs for the demo, and where its Service lives. */
interface Baton {
  readonly ns: string;
  /** The Deployment's and the Service's name. */
  readonly app: string;
  readonly path: string;
  stop(): Promise<void>;
}

/** baton-failover and the real adapter as processes of this machine, in a namespace of the demo's own. */
async function localBaton(state: PlaneState, core: k8s.CoreV1Api, sinkUrl: string, log: (m: string) => void): Promise<Baton> {
  const ns = `demo-${timeStamp()}`;
  await core.createNamespace({ body: { metadata: { name: ns } } });
  const port = await freePort();
  log(`starting baton-failover on 127.0.0.1:${port}…`);
  const fn = spawn(process.execPath, [join(repoRoot(), 'bin', 'baton.js'), 'run', 'failover', '--port', String(port)], {
    env: { ...process.env, KUBECONFIG: state.kubeconfig, K_SINK: sinkUrl, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  let adapter: RunningAdapter | undefined;
  const stop = async (): Promise<void> => {
    if (fn.exitCode === null) fn.kill('SIGTERM');
    await adapter?.stop();
  };
  try {
    await waitFor('baton-failover to be ready', async () => ((await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200 ? true : undefined), { timeoutMs: 20_000 });
    log('starting the Knative ApiServerSource adapter (Pods, EndpointSlices, Services → baton-failover)…');
    adapter = await startAdapter({ binary: state.binaries.paths.apiserver_receive_adapter, kubeconfig: state.kubeconfig, sink: `http://127.0.0.1:${port}`, logDir: join(state.dir, 'logs'), namespaces: [ns] });
  } catch (error) {
    await stop();
    throw error;
  }
  return { ns, app: 'web', path: 'the adapter posts to baton-failover directly', stop };
}

/**
 * baton as `skaffold run -p plane` deploys it on the plane's Knative, and a Trigger that
 * sends its failover events to the demo's sink. The local overlay scopes baton to one
 * namespace, so the demo's app goes there. baton stays deployed; the Trigger goes.
 */
async function knativeBaton(state: PlaneState, sinkUrl: string, log: (m: string) => void): Promise<Baton> {
  await deployBaton(state, log, { logFile: join(state.dir, 'logs', 'skaffold.log') });
  log('adding a Trigger on the Broker for dev.baton.failover.* events, delivered to this demo…');
  await subscribeHost(state, DEMO_TRIGGER, sinkUrl);
  const app = `web-${timeStamp()}`;
  return { ns: LOCAL_APP_NAMESPACE, app, path: 'ApiServerSource → Broker → Trigger → baton-failover, on Knative', stop: () => removeTrigger(state, DEMO_TRIGGER) };
}

function readyPods(slices: Map<string, string[]>): string[] {
  return [...slices.values()].flat().sort();
}

export function demoCommand(): Command {
  return new Command('demo')
    .description('run baton on a local plane: a 3-replica app, one active pod, a failure, and the failover timeline')
    .option('--no-wait', 'exit after the timeline instead of keeping baton running (the plane stays up)')
    .option('--knative', 'run baton on real Knative: the plane with its real node and Knative, baton (re)deployed by skaffold run -p plane over whatever ran there, events through the Broker (root, cgroup v1; minutes on the first run)')
    .action(async (opts: { wait: boolean; knative?: boolean }) => {
      const t0 = Date.now();
      const log = (m: string): void => say(m);
      const onKnative = opts.knative === true;
      log(`baton demo: active/standby failover on a real local control plane${onKnative ? ', with baton on real Knative' : ''}\n`);
      const state = await plane(log, onKnative);
      const kc = new k8s.KubeConfig();
      kc.loadFromFile(state.kubeconfig);
      const core = kc.makeApiClient(k8s.CoreV1Api);
      const apps = kc.makeApiClient(k8s.AppsV1Api);
      // Knative's Broker reaches the sink from a pod, over the real node's bridge.
      const sinkHost = onKnative ? HOST_SINK_ADDRESS : '127.0.0.1';

      // An audit sink: where dev.baton.* CloudEvents would reach a subscriber's Trigger.
      const sink = await startDemoSink(sinkHost);

      let baton: Baton | undefined;
      let ns = '';
      let app = '';
      const stopAll = async (): Promise<void> => {
        await baton?.stop();
        sink.close();
      };

      try {
        baton = onKnative ? await knativeBaton(state, sink.url, log) : await localBaton(state, core, sink.url, log);
        ({ ns, app } = baton);
        log(`events reach baton: ${baton.path}`);
        // Through the Broker the first event can wait for a revision's pod; locally it is instant.
        const patience = onKnative ? 120_000 : 20_000;

        // An independent observer of what traffic would do: the Service's EndpointSlices.
        const slices = new Map<string, string[]>();
        const sliceMarks: Mark[] = [];
        const watch = await new k8s.Watch(kc).watch(`/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, {}, (phase: string, slice: k8s.V1EndpointSlice) => {
          if (slice.metadata?.labels?.['kubernetes.io/service-name'] !== app) return;
          const before = readyPods(slices).join(',');
          if (phase === 'DELETED') slices.delete(slice.metadata.name!);
          else slices.set(slice.metadata.name!, (slice.endpoints ?? []).filter((e) => e.conditions?.ready !== false).map((e) => e.targetRef?.name ?? '?'));
          const after = readyPods(slices);
          if (after.join(',') !== before) sliceMarks.push({ at: Date.now(), what: `EndpointSlice: ready = [${after.join(', ')}]` });
        }, () => undefined);

        log(`creating Deployment ${app} (3 replicas) in namespace ${ns}…`);
        await apps.createNamespacedDeployment({
          namespace: ns,
          body: {
            metadata: { name: app },
            spec: { replicas: 3, selector: { matchLabels: { app } }, template: { metadata: { labels: { app } }, spec: { containers: [{ name: 'web', image: 'example.com/web:1' }] } } },
          },
        });
        await waitFor('3 running pods', async () => {
          const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: `app=${app}` });
          return pods.items.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length === 3 ? true : undefined;
        });
        log(`creating Service ${app}, labelled baton.dev/mode=active-standby…`);
        await core.createNamespacedService({
          namespace: ns,
          body: {
            metadata: { name: app, labels: { 'baton.dev/mode': 'active-standby' } },
            // The placeholder pod-id makes the Service route to nothing until baton picks a pod.
            spec: { selector: { app, 'baton.dev/pod-id': 'none' }, ports: [{ port: 80, targetPort: 8080 }] },
          },
        });
        const active = await waitFor('baton to pick an active pod', () => (readyPods(slices).length === 1 ? readyPods(slices)[0] : undefined), { timeoutMs: patience });
        const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: `app=${app}` });
        log(`\nactive: ${active}   standbys: ${pods.items.map((p) => p.metadata!.name!).filter((n) => n !== active).join(', ')}`);
        log(`(only the active is a ready endpoint of Service ${app}: [${readyPods(slices).join(', ')}])\n`);
        await new Promise((r) => setTimeout(r, 500));

        log(`breaking ${active}: setting its Ready condition to False, as a failing readiness probe would…`);
        const marks: Mark[] = [];
        const broken = Date.now();
        await core.patchNamespacedPodStatus({ name: active, namespace: ns, body: { status: { conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: new Date() }] } } }, strategic);
        marks.push({ at: broken, what: `PATCH pods/${active}/status Ready=False sent` });
        marks.push({ at: Date.now(), what: 'PATCH acknowledged by the API server' });
        const subject = `${ns}/${app}`;
        const completed = await waitFor('the failover to complete', () => sink.completed(subject, 2), { timeoutMs: patience }).catch((e: Error) => {
          const moved = sliceMarks.some((m) => m.at >= broken && readyPodsFrom(m.what).length === 1 && readyPodsFrom(m.what)[0] !== active);
          throw new Error(moved ? `${e.message}: the EndpointSlice shows a new active, but its audit event never reached ${sink.url}` : e.message);
        });
        const promoted = sink.promoted(subject, 2);
        if (promoted) {
          const { decidedAt, to, term } = promoted.data;
          marks.push({ at: Date.parse(decidedAt), what: `baton-failover decided: failover ${active} → ${printable(to.name)} (term ${term}), one CAS PATCH of the Service selector` });
          marks.push({ at: promoted.at, what: 'audit event dev.baton.failover.promoted received by the sink' });
        }
        for (const m of sliceMarks) if (m.at >= broken) marks.push(m);
        marks.push({ at: completed.at, what: `audit event dev.baton.failover.completed received (baton measured ${completed.data.latencyMs} ms from decision to EndpointSlice)` });
        log('\ntimeline (ms after the readiness write):');
        for (const m of marks.sort((a, b) => a.at - b.at)) log(`  +${String(m.at - broken).padStart(5)} ms  ${m.what}`);
        const switched = sliceMarks.find((m) => m.at >= broken && readyPodsFrom(m.what).length === 1 && readyPodsFrom(m.what)[0] !== active);
        if (switched) log(`\nfailover took ${switched.at - broken} ms (Ready=False written → EndpointSlice shows only the new active).`);
        watch.abort();
      } catch (error) {
        await stopAll();
        throw error;
      }

      log(`\nThe plane stays up. KUBECONFIG=${state.kubeconfig}`);
      log(`Try:  baton status -n ${ns}`);
      log(`      baton kubectl -- -n ${ns} get pods -L baton.dev/pod-id`);
      log(`      baton kubectl -- -n ${ns} annotate service ${app} baton.dev/switchover-to=<pod>`);
      log('Stop the plane with `baton cluster down`.');
      if (!opts.wait) {
        await stopAll();
        log(`(demo finished in ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
        return;
      }
      log('baton keeps running for you to play with; Ctrl-C stops baton and the plane.');
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          void stopAll()
            .then(async () => {
              const { stopPlane } = await import('../plane/plane.js');
              await stopPlane(stateDir());
              say('stopped baton and the local plane.');
            })
            .then(resolve);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}

function readyPodsFrom(what: string): string[] {
  const inside = /\[(.*)\]/.exec(what)?.[1] ?? '';
  return inside ? inside.split(', ') : [];
}
