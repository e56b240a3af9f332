// What `namespaceSelector: {}` costs on a real Knative 1.20 ApiServerSource as the number of
// namespaces grows: the SubjectAccessReviews its controller makes per reconcile, the size of
// the adapter's K_SOURCE_CONFIG, and whether adding a namespace rolls the adapter. Then the
// same with the controller's permission check skipped
// (features.knative.dev/apiserversource-skip-permissions-check). Needs the real node.
//   node dist/bench/knative-namespaces.js [--namespaces N]
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { startPlane, stopPlane } from '../plane/plane.js';
import { realNodeNamespaceAnnotations } from '../plane/knative/manifests.js';
import { waitFor } from '../plane/wait.js';
import { auditLogPath, linesSince } from '../test/chaos/auditlog.js';
import { localDate, say } from './context.js';

const CONTROLLER = 'system:serviceaccount:knative-eventing:eventing-controller';
const SKIP = 'features.knative.dev/apiserversource-skip-permissions-check';
const RESOURCES = [
  { apiVersion: 'v1', kind: 'Pod' },
  { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice' },
  { apiVersion: 'v1', kind: 'Service' },
  { apiVersion: 'v1', kind: 'Node' },
  { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', selector: { matchLabels: { 'app.kubernetes.io/managed-by': 'baton' } } },
];

interface Adapter {
  readonly generation: number;
  readonly sourceConfigBytes: number;
  readonly pod: string;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { namespaces: { type: 'string', default: '200' } } });
  const count = Number(values.namespaces);
  const dir = mkdtempSync(join(tmpdir(), 'baton-bench-ns-'));
  const lines: string[] = [];
  const note = (s: string): void => {
    say(s);
    lines.push(s);
  };
  try {
    const plane = await startPlane({ dir, nodes: 1, realNode: true, knative: true, auditLog: true, progress: say });
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(plane.kubeconfig);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const ns = 'ns-cost';
    await core.createNamespace({ body: { metadata: { name: ns, annotations: realNodeNamespaceAnnotations() } } });
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'source' } } });
    await rbac.createClusterRole({ body: { metadata: { name: 'ns-cost-source' }, rules: [{ apiGroups: ['', 'discovery.k8s.io', 'networking.k8s.io'], resources: ['pods', 'services', 'nodes', 'endpointslices', 'ingresses'], verbs: ['get', 'list', 'watch'] }] } });
    await rbac.createClusterRoleBinding({ body: { metadata: { name: 'ns-cost-source' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'ns-cost-source' }, subjects: [{ kind: 'ServiceAccount', name: 'source', namespace: ns }] } });
    for (let i = 0; i < count; i++) await core.createNamespace({ body: { metadata: { name: `tenant-${String(i).padStart(3, '0')}` } } });
    const total = (await core.listNamespace()).items.length;
    note(`namespaces on the plane: ${total} (${count} made for this run)`);
    await custom.createNamespacedCustomObject({
      group: 'sources.knative.dev', version: 'v1', namespace: ns, plural: 'apiserversources',
      body: { apiVersion: 'sources.knative.dev/v1', kind: 'ApiServerSource', metadata: { name: 'all' }, spec: { mode: 'Resource', serviceAccountName: 'source', namespaceSelector: {}, resources: RESOURCES, sink: { uri: 'http://198.18.128.1:9/' } } },
    });
    const adapter = async (): Promise<Adapter | undefined> => {
      const list = await apps.listNamespacedDeployment({ namespace: ns });
      const d = list.items[0];
      // Rolled out: the controller saw the last change, and every pod is new and available.
      const want = d?.spec?.replicas ?? 1;
      if (!d || d.status?.observedGeneration !== d.metadata?.generation || d.status?.updatedReplicas !== want || d.status.availableReplicas !== want || d.status.replicas !== want) return undefined;
      const env = d.spec?.template.spec?.containers[0]?.env?.find((e) => e.name === 'K_SOURCE_CONFIG')?.value ?? '';
      const pods = await core.listNamespacedPod({ namespace: ns });
      const running = pods.items.filter((p) => p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp);
      if (running.length !== 1) return undefined;
      return { generation: d.metadata?.generation ?? 0, sourceConfigBytes: Buffer.byteLength(env), pod: running[0]!.metadata!.name! };
    };
    const first = await waitFor('the adapter', adapter, { timeoutMs: 180_000, intervalMs: 500 });
    note(`adapter K_SOURCE_CONFIG: ${first.sourceConfigBytes} bytes with ${total} namespaces`);

    const sars = (from: number): number => linesSince(readFileSync(auditLogPath(dir)), from)
      .map((l) => JSON.parse(l) as { verb?: string; user?: { username?: string }; objectRef?: { resource?: string }; stage?: string })
      .filter((e) => e.stage === 'ResponseComplete' && e.verb === 'create' && e.objectRef?.resource === 'subjectaccessreviews' && e.user?.username === CONTROLLER).length;
    // The reviews of one reconcile go one after another, for tens of seconds, and with this
    // many namespaces the controller never fell quiet in a first try: count over a fixed window.
    const windowSars = async (seconds: number): Promise<number> => {
      const from = readFileSync(auditLogPath(dir)).length;
      await new Promise((r) => setTimeout(r, seconds * 1000));
      return sars(from);
    };
    const perReconcile = RESOURCES.length * 3 * total;
    const on = await windowSars(60);
    note(`permission check on: ${on} SubjectAccessReviews by the eventing controller in 60 s after the adapter was up (${(on / 60).toFixed(0)}/s); one reconcile asks ${RESOURCES.length} resources × 3 verbs × ${total} namespaces = ${perReconcile}`);
    const addNamespace = async (name: string, previous: Adapter): Promise<{ after: Adapter; seconds: number }> => {
      const t0 = Date.now();
      await core.createNamespace({ body: { metadata: { name } } });
      const after = await waitFor('the source to take the namespace in', async () => {
        const a = await adapter();
        return a && a.sourceConfigBytes !== previous.sourceConfigBytes ? a : undefined;
      }, { timeoutMs: 600_000, intervalMs: 250 });
      return { after, seconds: (Date.now() - t0) / 1000 };
    };
    const checked = await addNamespace('tenant-new-1', first);
    note(`one namespace added, check on: adapter Deployment generation ${first.generation} → ${checked.after.generation}, pod ${first.pod === checked.after.pod ? 'kept' : 'replaced'}; the new adapter was serving ${checked.seconds.toFixed(1)} s after the namespace was created`);
    await custom.patchNamespacedCustomObject({ group: 'sources.knative.dev', version: 'v1', namespace: ns, plural: 'apiserversources', name: 'all', body: { metadata: { annotations: { [SKIP]: 'true' } } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
    // Let a reconcile already under way finish its reviews.
    await new Promise((r) => setTimeout(r, 60_000));
    const off = await windowSars(60);
    note(`permission check skipped (${SKIP}: "true"): ${off} SubjectAccessReviews in 60 s`);
    const skipped = await addNamespace('tenant-new-2', checked.after);
    note(`one namespace added, check skipped: adapter Deployment generation ${checked.after.generation} → ${skipped.after.generation}, pod ${checked.after.pod === skipped.after.pod ? 'kept' : 'replaced'}; the new adapter was serving ${skipped.seconds.toFixed(1)} s after the namespace was created`);

    const file = join('bench', 'results', `${localDate()}-knative-namespaces.md`);
    writeFileSync(file, [`# namespaceSelector: {} with ${total} namespaces, Knative Eventing 1.20 on the real node`, '', `\`node dist/bench/knative-namespaces.js --namespaces ${count}\`, ${new Date().toISOString()}.`, '', ...lines.map((l) => `- ${l}`), ''].join('\n'));
    say(`written: ${file}`);
  } finally {
    await stopPlane(dir).catch((e: unknown) => say(`stopping the plane failed: ${String(e)}`));
    rmSync(dir, { recursive: true, force: true });
  }
}

void main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
