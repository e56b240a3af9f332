// Joins the real node to a starting plane: starts it (plane/node/node.ts), gives the
// `kubernetes` Service its endpoint, and waits until a first pod runs there.
import type { ProcessRecord } from './processes.js';
import { isAlive } from './processes.js';
import { apiGet, apiWrite } from './api.js';
import type { NodeBinaryName, Progress } from './components.js';
import { REAL_NODE_GATEWAY, REAL_NODE_NAME } from './node/network.js';
import { nodeCheckHint, nodeCheckPod, NODE_CHECK_POD } from './node/check-pod.js';
import { startRealNode, type RealNodeState } from './node/node.js';
import type { PlaneState } from './state.js';
import { waitFor } from './wait.js';

export interface JoinOptions {
  readonly planeDir: string;
  readonly kubeconfig: string;
  readonly binaries: Readonly<Record<NodeBinaryName, string>>;
  readonly apiPort: number;
  readonly state: PlaneState;
  /** The plane's processes so far; the node's are added through `record`. */
  readonly processes: readonly ProcessRecord[];
  readonly progress: Progress;
  readonly record: (process: ProcessRecord) => void;
  readonly savePlan: (node: RealNodeState) => void;
  /** Stops what started and throws, with the log of `record` when given. */
  readonly fail: (message: string, record?: ProcessRecord) => Promise<never>;
}

export async function joinRealNode(o: JoinOptions): Promise<RealNodeState> {
  const { state, processes, fail, progress } = o;
  const nodeStarted = Date.now();
  let node: RealNodeState;
  try {
    node = await startRealNode({ planeDir: o.planeDir, kubeconfig: o.kubeconfig, binaries: o.binaries, apiPort: o.apiPort, progress: o.progress, record: o.record, savePlan: o.savePlan });
  } catch (e) {
    return fail(`the real node did not start: ${(e as Error).message}`);
  }
  // Recorded at once, so that a failure below still undoes the whole node.
  o.savePlan(node);
  // No endpoint reconciler runs (its loopback address would be rejected), so the
  // `kubernetes` Service gets its endpoint here: the relay on the bridge address.
  const slice = await apiWrite(state, 'POST', '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices', {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'kubernetes', labels: { 'kubernetes.io/service-name': 'kubernetes', 'endpointslice.kubernetes.io/managed-by': 'real-node.baton.dev' } },
    addressType: 'IPv4',
    endpoints: [{ addresses: [REAL_NODE_GATEWAY], conditions: { ready: true } }],
    ports: [{ name: 'https', port: o.apiPort, protocol: 'TCP' }],
  });
  if (slice.status !== 201) await fail(`could not create the kubernetes EndpointSlice: HTTP ${slice.status} ${slice.body.slice(0, 300)}`);
  await waitFor(
    `node ${REAL_NODE_NAME} to be Ready`,
    async () => {
      for (const p of processes) if (!isAlive(p)) return fail(`${p.name} exited during start-up`, p);
      const r = await apiGet(state, `/api/v1/nodes/${REAL_NODE_NAME}`);
      if (r.status !== 200) return undefined;
      const node = JSON.parse(r.body) as { status?: { conditions?: Array<{ type: string; status: string }> } };
      return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? true : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 500 },
  ).catch((e: Error) => fail(e.message, processes.find((p) => p.name === 'kubelet')));
  // Ready only says the kubelet talks to containerd; a pod shows that runc, the cgroups
  // and the bridge work too, and its Events say why when they do not.
  const checkPath = `/api/v1/namespaces/kube-system/pods/${NODE_CHECK_POD}`;
  const created = await apiWrite(state, 'POST', '/api/v1/namespaces/kube-system/pods', nodeCheckPod());
  if (created.status !== 201) await fail(`could not create the node check pod: HTTP ${created.status} ${created.body.slice(0, 300)}`);
  await waitFor(
    'a first pod to run on the real node',
    async () => {
      const pod = JSON.parse((await apiGet(state, checkPath)).body) as { status?: { phase?: string } };
      return pod.status?.phase === 'Running' ? true : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 250 },
  ).catch(async (e: Error) => {
    const events = JSON.parse((await apiGet(state, `/api/v1/namespaces/kube-system/events?fieldSelector=involvedObject.name%3D${NODE_CHECK_POD}`)).body) as { items?: Array<{ message?: string }> };
    const messages = (events.items ?? []).map((ev) => ev.message ?? '');
    return fail(`the real node is Ready but cannot run a pod (${e.message}): ${nodeCheckHint(messages)}\n--- its Events ---\n${messages.slice(-5).join('\n')}`, processes.find((p) => p.name === 'kubelet'));
  });
  await apiWrite(state, 'DELETE', checkPath, { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0 });
  progress(`real node ${REAL_NODE_NAME} Ready (${REAL_NODE_GATEWAY}) after ${Math.round((Date.now() - nodeStarted) / 100) / 10} s`);
  return node;
}
