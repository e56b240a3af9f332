// `baton demo`: the whole product on the local plane in one command. It starts (or
// reuses) the plane, runs the real adapter and the failover function, puts a
// 3-replica app behind an opted-in Service, breaks the active pod and prints what
// happened, millisecond by millisecond, as seen by independent observers.
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { join } from 'node:path';
import { Command } from 'commander';
import * as k8s from '@kubernetes/client-node';
import { HTTP } from 'cloudevents';
import { startAdapter, type RunningAdapter } from '../plane/adapter.js';
import { repoRoot, stateDir } from '../plane/paths.js';
import { startPlane } from '../plane/plane.js';
import { readState, type PlaneState } from '../plane/state.js';
import { freePort } from '../plane/ports.js';
import { isAlive } from '../plane/processes.js';
import { waitFor } from '../plane/wait.js';
import { say } from './output.js';

const strategic = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch);

interface Mark {
  readonly at: number;
  readonly what: string;
}

async function plane(log: (m: string) => void): Promise<PlaneState> {
  const dir = stateDir();
  const existing = readState(dir);
  if (existing && existing.processes.some(isAlive)) {
    if (!existing.processes.every(isAlive)) throw new Error(`the local plane in ${dir} is only partly running; run \`baton cluster down\` and try again`);
    log(`reusing the local plane that is already running (${existing.server})`);
    return existing;
  }
  const started = Date.now();
  return startPlane({ dir, nodes: 2, progress: (m) => log(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${m}`) });
}

function readyPods(slices: Map<string, string[]>): string[] {
  return [...slices.values()].flat().sort();
}

export function demoCommand(): Command {
  return new Command('demo')
    .description('run baton on a local plane: a 3-replica app, one active pod, a failure, and the failover timeline')
    .option('--no-wait', 'exit after the timeline instead of keeping baton running (the plane stays up)')
    .action(async (opts: { wait: boolean }) => {
      const t0 = Date.now();
      const log = (m: string): void => say(m);
      log('baton demo: active/standby failover on a real local control plane\n');
      const state = await plane(log);
      const kc = new k8s.KubeConfig();
      kc.loadFromFile(state.kubeconfig);
      const core = kc.makeApiClient(k8s.CoreV1Api);
      const apps = kc.makeApiClient(k8s.AppsV1Api);
      const ns = `demo-${new Date().toISOString().slice(11, 19).replace(/:/g, '')}`;
      await core.createNamespace({ body: { metadata: { name: ns } } });

      // An audit sink: where dev.baton.* CloudEvents would reach a subscriber's Trigger.
      const audit: Array<{ at: number; type: string; data: Record<string, unknown> }> = [];
      const sink = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          try {
            const e = HTTP.toEvent({ headers: req.headers, body: Buffer.concat(chunks).toString() });
            for (const one of Array.isArray(e) ? e : [e]) audit.push({ at: Date.now(), type: one.type, data: one.data as Record<string, unknown> });
          } catch {
            // Not for us.
          }
          res.writeHead(202).end();
        });
      });
      await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
      const sinkUrl = `http://127.0.0.1:${(sink.address() as { port: number }).port}/`;

      const children: ChildProcess[] = [];
      let adapter: RunningAdapter | undefined;
      const stopAll = async (): Promise<void> => {
        for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
        await adapter?.stop();
        sink.close();
      };

      try {
        const port = await freePort();
        log(`starting baton-failover on 127.0.0.1:${port}…`);
        const fn = spawn(process.execPath, [join(repoRoot(), 'bin', 'baton.js'), 'run', 'failover', '--port', String(port)], {
          env: { ...process.env, KUBECONFIG: state.kubeconfig, K_SINK: sinkUrl, LOG_LEVEL: 'warn' },
          stdio: ['ignore', 'inherit', 'inherit'],
        });
        children.push(fn);
        await waitFor('baton-failover to be ready', async () => ((await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200 ? true : undefined), { timeoutMs: 20_000 });
        log('starting the Knative ApiServerSource adapter (Pods, EndpointSlices, Services → baton-failover)…');
        adapter = await startAdapter({ binary: state.binaries.paths.apiserver_receive_adapter, kubeconfig: state.kubeconfig, sink: `http://127.0.0.1:${port}`, logDir: join(state.dir, 'logs'), namespaces: [ns] });

        // An independent observer of what traffic would do: the Service's EndpointSlices.
        const slices = new Map<string, string[]>();
        const sliceMarks: Mark[] = [];
        const watch = await new k8s.Watch(kc).watch(`/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, {}, (phase: string, slice: k8s.V1EndpointSlice) => {
          if (slice.metadata?.labels?.['kubernetes.io/service-name'] !== 'web') return;
          const before = readyPods(slices).join(',');
          if (phase === 'DELETED') slices.delete(slice.metadata.name!);
          else slices.set(slice.metadata.name!, (slice.endpoints ?? []).filter((e) => e.conditions?.ready !== false).map((e) => e.targetRef?.name ?? '?'));
          const after = readyPods(slices);
          if (after.join(',') !== before) sliceMarks.push({ at: Date.now(), what: `EndpointSlice: ready = [${after.join(', ')}]` });
        }, () => undefined);

        log(`creating Deployment web (3 replicas) in namespace ${ns}…`);
        await apps.createNamespacedDeployment({
          namespace: ns,
          body: {
            metadata: { name: 'web' },
            spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'example.com/web:1' }] } } },
          },
        });
        await waitFor('3 running pods', async () => {
          const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=web' });
          return pods.items.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length === 3 ? true : undefined;
        });
        log('creating Service web, labelled baton.dev/mode=active-standby…');
        await core.createNamespacedService({
          namespace: ns,
          body: {
            metadata: { name: 'web', labels: { 'baton.dev/mode': 'active-standby' } },
            // The placeholder pod-id makes the Service route to nothing until baton picks a pod.
            spec: { selector: { app: 'web', 'baton.dev/pod-id': 'none' }, ports: [{ port: 80, targetPort: 8080 }] },
          },
        });
        const active = await waitFor('baton to pick an active pod', () => (readyPods(slices).length === 1 ? readyPods(slices)[0] : undefined), { timeoutMs: 20_000 });
        const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=web' });
        log(`\nactive: ${active}   standbys: ${pods.items.map((p) => p.metadata!.name!).filter((n) => n !== active).join(', ')}`);
        log(`(only the active is a ready endpoint of Service web: [${readyPods(slices).join(', ')}])\n`);
        await new Promise((r) => setTimeout(r, 500));

        log(`breaking ${active}: setting its Ready condition to False, as a failing readiness probe would…`);
        const marks: Mark[] = [];
        const broken = Date.now();
        await core.patchNamespacedPodStatus({ name: active, namespace: ns, body: { status: { conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: new Date() }] } } }, strategic);
        marks.push({ at: broken, what: `PATCH pods/${active}/status Ready=False sent` });
        marks.push({ at: Date.now(), what: 'PATCH acknowledged by the API server' });
        const completed = await waitFor('the failover to complete', () => audit.find((e) => e.type === 'dev.baton.failover.completed' && Number(e.data.term) >= 2), { timeoutMs: 20_000 });
        const promoted = audit.find((e) => e.type === 'dev.baton.failover.promoted' && Number(e.data.term) >= 2);
        if (promoted) {
          const decidedAt = Date.parse(String(promoted.data.decidedAt));
          const to = (promoted.data.to as { name: string }).name;
          marks.push({ at: decidedAt, what: `baton-failover decided: failover ${active} → ${to} (term ${String(promoted.data.term)}), one CAS PATCH of the Service selector` });
          marks.push({ at: promoted.at, what: 'audit event dev.baton.failover.promoted received by the sink' });
        }
        for (const m of sliceMarks) if (m.at >= broken) marks.push(m);
        marks.push({ at: completed.at, what: `audit event dev.baton.failover.completed received (baton measured ${String(completed.data.latencyMs)} ms from decision to EndpointSlice)` });
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
      log(`      baton kubectl -- -n ${ns} annotate service web baton.dev/switchover-to=<pod>`);
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
