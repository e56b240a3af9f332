// Helpers of the real-node e2e tests: when they run, pods of images built here, clients
// inside and outside the cluster, and `skaffold build` against the plane's registry.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import * as k8s from '@kubernetes/client-node';
import { runSkaffold } from '../../../plane/knative/baton.js';
import { ECHO_IMAGE } from '../../../plane/node/images.js';
import { REAL_NODE_LABEL, REAL_NODE_TAINT, REGISTRY_HOST } from '../../../plane/node/network.js';
import { waitFor } from '../../../plane/wait.js';

/**
 * Whether the real-node tests run, or why not. They need root and cgroup v1. By default
 * they run wherever the machine can, and in CI always (a machine that cannot then fails
 * with the bootstrap's own message rather than passing by skipping); BATON_REAL_NODE=1
 * demands them, BATON_REAL_NODE=0 leaves them out.
 */
export function realNodeSkip(env: NodeJS.ProcessEnv, machine: { root: boolean; cgroupV1: boolean }): string | false {
  const setting = env.BATON_REAL_NODE;
  if (setting === '0') return 'BATON_REAL_NODE=0';
  if (setting === '1' || env.CI === 'true') return false;
  if (!machine.root) return 'the real node needs root (set BATON_REAL_NODE=1 to run anyway and see why it fails)';
  if (!machine.cgroupV1) return 'the real node needs cgroup v1 (set BATON_REAL_NODE=1 to run anyway and see why it fails)';
  return false;
}

export const skip = realNodeSkip(process.env, { root: process.getuid?.() === 0, cgroupV1: process.platform === 'linux' && !existsSync('/sys/fs/cgroup/cgroup.controllers') });

const buildOutput = z.object({ builds: z.array(z.object({ imageName: z.string(), tag: z.string() })).min(1) });

/**
 * `skaffold build -p plane` of the project, as a user of the plane runs it: the
 * skaffold built here, the repository's skaffold.yaml, pushed to the plane's registry.
 * Resolves to the reference skaffold reports (tag@digest).
 */
export async function skaffoldBuild(progress: (m: string) => void): Promise<string> {
  const work = mkdtempSync(join(tmpdir(), 'baton-skaffold-'));
  try {
    const out = join(work, 'build.json');
    await runSkaffold(['build', '-p', 'plane', `--default-repo=${REGISTRY_HOST}`, `--file-output=${out}`, '--cache-artifacts=false'], progress);
    return buildOutput.parse(JSON.parse(readFileSync(out, 'utf8'))).builds[0]!.tag;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export { runSkaffold };

export function httpGet(host: string, port: number, path: string, agent?: Agent | false, method = 'GET'): Promise<{ status: number; body: string; localPort: number }> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, method, timeout: 3_000, ...(agent !== undefined ? { agent } : {}) }, (res) => {
      const localPort = res.socket?.localPort ?? 0;
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, localPort }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET http://${host}:${port}${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** A pod of the echo image; `onRealNode` adds the selector and toleration the real node asks for. */
export function echoPod(name: string, onRealNode: boolean): k8s.V1Pod {
  return {
    metadata: { name, labels: { app: 'echo' } },
    spec: {
      automountServiceAccountToken: false,
      ...(onRealNode
        ? { nodeSelector: { [REAL_NODE_LABEL]: 'true' }, tolerations: [{ key: REAL_NODE_TAINT.key, operator: 'Exists', effect: REAL_NODE_TAINT.effect }] }
        : {}),
      containers: [
        {
          name: 'echo',
          image: ECHO_IMAGE,
          imagePullPolicy: 'Never',
          env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
          ports: [{ containerPort: 8080 }],
          readinessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 1 },
          resources: { limits: { memory: '32Mi', cpu: '100m' } },
          securityContext: { runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true },
        },
      ],
    },
  };
}

/** A one-shot client pod on the real node: `echo-server get <url>`; resolves to its termination message. */
export async function fetchFromPod(core: k8s.CoreV1Api, ns: string, name: string, url: string, extra: Partial<k8s.V1Container> = {}, volumes: k8s.V1Volume[] = []): Promise<{ phase: string; message: string }> {
  const pod = echoPod(name, true);
  pod.metadata = { name, labels: { app: 'client' } };
  pod.spec!.restartPolicy = 'Never';
  pod.spec!.volumes = volumes;
  pod.spec!.containers = [{ ...pod.spec!.containers[0]!, args: ['get', url], readinessProbe: undefined, ports: [], ...extra }];
  await core.createNamespacedPod({ namespace: ns, body: pod });
  return waitFor(`${name} to finish`, async () => {
    const p = await core.readNamespacedPod({ name, namespace: ns });
    const phase = p.status?.phase ?? '';
    if (phase !== 'Succeeded' && phase !== 'Failed') return undefined;
    return { phase, message: p.status?.containerStatuses?.[0]?.state?.terminated?.message ?? '' };
  }, { timeoutMs: 60_000, intervalMs: 250 });
}

/** A hook call as the echo server recorded it (GET /calls); times are the pod's clock, in ms. */
export interface SeenHookCall {
  readonly path: string;
  readonly body: { readonly service: string; readonly term: number; readonly role: string } | null;
  readonly at: number;
  /** 0 for a call that was never answered (DEMOTE_MODE=hang). */
  readonly answeredAt: number;
  readonly status: number;
}

const seenCalls = z.array(z.object({ path: z.string(), body: z.object({ service: z.string(), term: z.number(), role: z.string() }).nullable(), at: z.number(), answeredAt: z.number(), status: z.number() }));

/** The hook calls an echo pod recorded, read from the pod's own IP. */
export async function hookCallsOf(core: k8s.CoreV1Api, ns: string, pod: string): Promise<SeenHookCall[]> {
  const p = await core.readNamespacedPod({ name: pod, namespace: ns });
  const r = await httpGet(p.status?.podIP ?? '', 8080, '/calls', false);
  assert.equal(r.status, 200, r.body);
  return seenCalls.parse(JSON.parse(r.body));
}

/**
 * Two echo pods on the real node (`<app>-0`, `<app>-1`, with `env`) behind an opted-in
 * Service of the same name with `annotations`; resolves once baton chose one of them,
 * with the other, once both are Ready.
 */
export async function hookedPair(core: k8s.CoreV1Api, ns: string, app: string, env: k8s.V1EnvVar[], annotations: Record<string, string>): Promise<{ active: string; other: string }> {
  for (const name of [`${app}-0`, `${app}-1`]) {
    const pod = echoPod(name, true);
    pod.metadata = { name, labels: { app } };
    const container = pod.spec!.containers[0]!;
    container.env = [...(container.env ?? []), ...env];
    await core.createNamespacedPod({ namespace: ns, body: pod });
  }
  await core.createNamespacedService({ namespace: ns, body: { metadata: { name: app, labels: { 'baton.dev/mode': 'active-standby' }, annotations }, spec: { selector: { app }, ports: [{ port: 80, targetPort: 8080 }] } } });
  await waitFor(`${app}'s pods to be Ready`, async () => {
    const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: `app=${app}` });
    return pods.items.length === 2 && pods.items.every((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) ? true : undefined;
  }, { timeoutMs: 90_000, intervalMs: 250 });
  const active = await waitFor('baton to choose an active', async () => {
    const s = await core.readNamespacedService({ name: app, namespace: ns });
    return s.spec?.selector?.['baton.dev/pod-id'] ? s.metadata?.annotations?.['baton.dev/active'] : undefined;
  }, { timeoutMs: 90_000, intervalMs: 200 });
  return { active, other: active === `${app}-0` ? `${app}-1` : `${app}-0` };
}
