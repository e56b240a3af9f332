// Installs Knative 1.20 (Serving with Kourier, Eventing with the in-memory channel and the
// MT channel-based Broker) on a plane with the real node, from the release YAML in the
// pinned modules and images built here. Ready means Knative's own signal: every
// Deployment Available and the webhooks answering admission.
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { apiGet, apiWrite } from '../api.js';
import type { Progress } from '../components.js';
import { REGISTRY_HOST } from '../node/network.js';
import type { PlaneState } from '../state.js';
import { waitFor } from '../wait.js';
import { ensureEnvoy, ensureKnativeBinaries, type BuiltModule } from './build.js';
import { binaryName, ENVOY, imageName, koReference } from './modules.js';
import { applyPhases, KNATIVE_NAMESPACES, prepareManifests, type Doc } from './manifests.js';
import { ensureImages, NONROOT, type ImageSpec } from './oci.js';
import { pushImage } from './push.js';

export interface KnativeInstall {
  /** Pinned image references, by `ko://` path (and `envoy`). */
  readonly images: Record<string, string>;
  readonly ms: { readonly build: number; readonly push: number; readonly apply: number; readonly ready: number };
}

function imageSpecs(built: readonly BuiltModule[], envoyDir: string): ImageSpec[] {
  const specs: ImageSpec[] = [];
  for (const { module: m, dir } of built) {
    for (const c of m.commands) specs.push({ name: imageName(m, c), layer: { binary: join(dir, binaryName(c)) }, user: String(NONROOT) });
  }
  // Kourier's gateway Deployment names its own command (/usr/local/bin/envoy) and user (65534).
  specs.push({ name: ENVOY.image, layer: { rootfs: join(envoyDir, 'rootfs'), entrypoint: ['/usr/local/bin/envoy'] }, user: '65534' });
  return specs;
}

function kubectl(state: PlaneState, args: string[], what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(state.binaries.paths.kubectl, ['--kubeconfig', state.kubeconfig, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${what} failed (exit ${code}): ${err.trim().split('\n').slice(-10).join('\n')}`))));
  });
}

/**
 * Plain YAML parsing: client-node's loadAllYaml maps documents onto its built-in models by
 * kind alone, renaming fields (x-kubernetes-* to x_kubernetes_*) and dropping what its
 * model of that kind lacks.
 */
function loadDocs(built: readonly BuiltModule[]): Doc[] {
  const docs: Doc[] = [];
  for (const { dir } of built) {
    for (const f of readdirSync(join(dir, 'yaml')).sort()) docs.push(...(loadAll(readFileSync(join(dir, 'yaml', f), 'utf8')) as Doc[]));
  }
  return docs;
}

interface Deployment {
  metadata?: { name?: string; namespace?: string; generation?: number };
  status?: { observedGeneration?: number; conditions?: Array<{ type: string; status: string }> };
}

/** Deployments of Knative's namespaces that are not yet Available, by namespace/name. */
export function unavailable(deployments: readonly Deployment[]): string[] {
  return deployments
    .filter((d) => d.status?.observedGeneration !== d.metadata?.generation || !d.status?.conditions?.some((c) => c.type === 'Available' && c.status === 'True'))
    .map((d) => `${d.metadata?.namespace}/${d.metadata?.name}`);
}

/**
 * The webhooks answer when a dry-run create comes back defaulted by them: Serving's sets
 * a revision timeout, Eventing's sets the Broker class. A webhook that is not serving
 * fails the request instead (failurePolicy: Fail).
 */
async function webhooksServe(state: PlaneState): Promise<string | undefined> {
  const ksvc = await apiWrite(state, 'POST', '/apis/serving.knative.dev/v1/namespaces/default/services?dryRun=All', {
    apiVersion: 'serving.knative.dev/v1',
    kind: 'Service',
    metadata: { name: 'webhook-check' },
    spec: { template: { spec: { containers: [{ image: 'baton.local/echo-server:v1' }] } } },
  });
  if (ksvc.status !== 201) return `serving webhook: HTTP ${ksvc.status} ${ksvc.body.slice(0, 200)}`;
  const served = JSON.parse(ksvc.body) as { spec?: { template?: { spec?: { timeoutSeconds?: number } } } };
  if (served.spec?.template?.spec?.timeoutSeconds === undefined) return 'serving webhook: the Service came back without defaults';
  const broker = await apiWrite(state, 'POST', '/apis/eventing.knative.dev/v1/namespaces/default/brokers?dryRun=All', { apiVersion: 'eventing.knative.dev/v1', kind: 'Broker', metadata: { name: 'webhook-check' } });
  if (broker.status !== 201) return `eventing webhook: HTTP ${broker.status} ${broker.body.slice(0, 200)}`;
  const b = JSON.parse(broker.body) as { metadata?: { annotations?: Record<string, string> } };
  if (!b.metadata?.annotations?.['eventing.knative.dev/broker.class']) return 'eventing webhook: the Broker came back without its class';
  return undefined;
}

/** Installs Knative on a running plane with the real node and waits for its readiness. */
export async function installKnative(state: PlaneState, progress: Progress = () => {}): Promise<KnativeInstall> {
  if (!state.realNode) throw new Error('Knative needs the real node: start the plane with --real-node');
  const t0 = Date.now();
  const built = await ensureKnativeBinaries(progress);
  const envoyDir = ensureEnvoy(progress);
  const work = join(state.dir, 'knative');
  mkdirSync(work, { recursive: true });
  const { store, images } = ensureImages(built.map((b) => b.dir).concat(envoyDir).join('\n'), imageSpecs(built, envoyDir), progress);
  const t1 = Date.now();
  progress(`pushing ${images.length} Knative images to ${REGISTRY_HOST}…`);
  const pinned = new Map<string, string>();
  for (const image of images) pinned.set(image.name, await pushImage(REGISTRY_HOST, store, image, 'knative'));
  const ko = new Map<string, string>();
  for (const { module: m } of built) for (const c of m.commands) ko.set(koReference(m, c), pinned.get(imageName(m, c))!);
  const envoy = pinned.get(ENVOY.image)!;
  const t2 = Date.now();

  progress('applying the Knative release YAML…');
  const [first, rest] = applyPhases(prepareManifests(loadDocs(built), { ko, envoy }));
  const write = (name: string, docs: Doc[]): string => {
    const file = join(work, name);
    // JSON is YAML: one document each, as kubectl reads a stream.
    writeFileSync(file, docs.map((d) => JSON.stringify(d)).join('\n---\n'));
    return file;
  };
  await kubectl(state, ['apply', '--server-side', '--force-conflicts', '-f', write('00-namespaces-crds.yaml', first)], 'applying Knative namespaces and CRDs');
  await kubectl(state, ['wait', '--for=condition=Established', '--timeout=60s', 'crd', '--all'], 'waiting for the CRDs');
  await kubectl(state, ['apply', '--server-side', '--force-conflicts', '-f', write('10-knative.yaml', rest)], 'applying Knative');
  const t3 = Date.now();

  progress('waiting for Knative: every Deployment Available, the webhooks serving…');
  let lastProblem = '';
  await waitFor(
    'Knative to be ready',
    async () => {
      const waiting: string[] = [];
      for (const ns of KNATIVE_NAMESPACES) {
        const r = await apiGet(state, `/apis/apps/v1/namespaces/${ns}/deployments`);
        waiting.push(...unavailable((JSON.parse(r.body) as { items?: Deployment[] }).items ?? []));
      }
      lastProblem = waiting.length ? `not Available: ${waiting.join(', ')}` : ((await webhooksServe(state)) ?? '');
      return lastProblem ? undefined : true;
    },
    { timeoutMs: 300_000, intervalMs: 1_000 },
  ).catch((e: Error) => {
    throw new Error(`${e.message} (${lastProblem}); see \`baton kubectl -- get pods -A\`, the pods' Events, and their logs under ${join(state.dir, 'node', 'pod-logs')}`);
  });
  const t4 = Date.now();
  progress(`Knative ready ${Math.round((t4 - t0) / 1000)} s after the start of its install`);
  return { images: Object.fromEntries([...ko, ['envoy', envoy]]), ms: { build: t1 - t0, push: t2 - t1, apply: t3 - t2, ready: t4 - t3 } };
}
