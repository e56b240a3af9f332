import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'node:https';
import { ensureBinaries, ensureNodeBinaries, type Binaries } from './binaries.js';
import type { NodeBinaryName, Progress } from './components.js';
import { ensureNodePackages } from './node/packages.js';
import { KWOK_POD_RANGE, MAX_KWOK_NODES_WITH_REAL_NODE, REAL_NODE_GATEWAY, REAL_NODE_NAME, SERVICE_RANGE } from './node/network.js';
import { startRealNode, stopRealNode, planNode, assertRangeFree, nodeCheckHint, nodeCheckPod, NODE_CHECK_POD, type RealNodeState } from './node/node.js';
import { acquireNodeLock, releaseNodeLock } from './node/lock.js';
import { assertPortFree, freePorts, isListening } from './ports.js';
import { isAlive, startProcess, stopProcess, tail, type ProcessRecord } from './processes.js';
import { waitFor } from './wait.js';

export interface PlaneOptions {
  /** Folder for data, logs, certificates and state; created if missing. */
  readonly dir: string;
  /** Fake nodes managed by kwok. */
  readonly nodes?: number;
  /**
   * First address of the pod range; node i gets the /24 starting at base + i. Default
   * 198.18.0.0 (RFC 2544 benchmarking range: never routed, nothing here connects to it).
   * Loopback cannot work: EndpointSlice validation rejects 127.0.0.0/8 addresses.
   */
  readonly podCidrBase?: string;
  /** Fixed apiserver port instead of a free one. */
  readonly apiserverPort?: number;
  /** Write an apiserver audit log (every request, metadata level) to <dir>/logs/audit.log. */
  readonly auditLog?: boolean;
  /**
   * Also run one real node (containerd, runc, CNI bridge, kubelet, kube-proxy) beside the
   * kwok nodes. Needs root and cgroup v1; installs missing Debian packages with apt-get.
   * Services get addresses in 198.19.0.0/16 with or without it, pods in 198.18.0.0/16:
   * every cluster address stays in the benchmarking range.
   */
  readonly realNode?: boolean;
  readonly progress?: Progress;
}

export interface PlaneState {
  readonly version: 1;
  readonly dir: string;
  readonly server: string;
  readonly kubeconfig: string;
  readonly adminToken: string;
  readonly caFile: string;
  readonly ports: Readonly<Record<string, number>>;
  readonly processes: readonly ProcessRecord[];
  readonly binaries: Binaries;
  readonly startedAt: string;
  readonly readyMs: number;
  /** Present when the plane runs a real node; `stopPlane` undoes it from this record. */
  readonly realNode?: RealNodeState;
  readonly nodeBinaries?: Readonly<Record<NodeBinaryName, string>>;
}

const CONTROLLERS = [
  'deployment',
  'replicaset',
  'statefulset',
  'daemonset',
  'job',
  'endpoint',
  'endpointslice',
  'endpointslicemirroring',
  'namespace',
  'garbagecollector',
  'serviceaccount',
  'serviceaccount-token',
  'podgc',
  'clusterrole-aggregation',
];

export function statePath(dir: string): string {
  return join(dir, 'state.json');
}

export function readState(dir: string): PlaneState | undefined {
  const path = statePath(dir);
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as PlaneState;
  } catch {
    return undefined;
  }
}

export function kubeconfigYaml(server: string, caFile: string, token: string, user = 'admin'): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: baton-local',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority: ${caFile}`,
    'users:',
    `- name: ${user}`,
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: baton-local',
    '  context:',
    '    cluster: baton-local',
    `    user: ${user}`,
    '    namespace: default',
    'current-context: baton-local',
    '',
  ].join('\n');
}

/** GET against the apiserver with the admin token; resolves to status and body. */
export async function apiGet(state: Pick<PlaneState, 'server' | 'adminToken' | 'caFile'>, path: string): Promise<{ status: number; body: string }> {
  const ca = readFileSync(state.caFile);
  return new Promise((resolve, reject) => {
    const req = request(
      `${state.server}${path}`,
      { method: 'GET', headers: { authorization: `Bearer ${state.adminToken}` }, agent: new Agent({ ca }), timeout: 5_000 },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

async function apiWrite(state: Pick<PlaneState, 'server' | 'adminToken' | 'caFile'>, method: string, path: string, body: unknown): Promise<{ status: number; body: string }> {
  const ca = readFileSync(state.caFile);
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      `${state.server}${path}`,
      {
        method,
        headers: { authorization: `Bearer ${state.adminToken}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
        agent: new Agent({ ca }),
        timeout: 10_000,
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(data);
  });
}

/**
 * Starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok on
 * 127.0.0.1, creates fake nodes, installs the Knative CRDs, and returns once pods
 * can be scheduled. Every process is recorded in <dir>/state.json so that another
 * process can stop them.
 */
export async function startPlane(options: PlaneOptions): Promise<PlaneState> {
  const started = Date.now();
  const progress = options.progress ?? (() => {});
  const dir = options.dir;
  const existing = readState(dir);
  if (existing && existing.processes.some(isAlive)) {
    throw new Error(`a control plane is already running from ${dir} (kubeconfig ${existing.kubeconfig}); stop it first with \`baton cluster down\``);
  }
  if (options.apiserverPort !== undefined) await assertPortFree(options.apiserverPort, 'kube-apiserver');

  const nodes = options.nodes ?? 2;
  let nodeBinaries: Readonly<Record<NodeBinaryName, string>> | undefined;
  if (options.realNode) {
    if (nodes > MAX_KWOK_NODES_WITH_REAL_NODE) throw new Error(`with --real-node at most ${MAX_KWOK_NODES_WITH_REAL_NODE} kwok nodes fit below the real node's pod subnet (got ${nodes})`);
    // Checked before anything starts: a clash found later would leave a half-made plane.
    if (process.getuid?.() !== 0) throw new Error('--real-node needs root (it makes a bridge, iptables rules, cgroups and mounts); run as root or without --real-node');
    // Two planes racing for the one real node a machine holds: the loser stops here,
    // before it could take the other's iptables chains or host folders for its own.
    acquireNodeLock(dir, (owner) => readState(owner)?.processes.some(isAlive) ?? false);
    try {
      assertRangeFree(planNode(dir).names);
    } catch (e) {
      releaseNodeLock(dir);
      throw e;
    }
    const installed = ensureNodePackages(progress);
    if (installed.length) progress(`installed ${installed.join(', ')}`);
    nodeBinaries = await ensureNodeBinaries(progress);
  }
  const binaries = await ensureBinaries(progress);
  rmSync(dir, { recursive: true, force: true });
  const pki = join(dir, 'pki');
  const logs = join(dir, 'logs');
  for (const d of [dir, pki, logs, join(dir, 'etcd')]) mkdirSync(d, { recursive: true });

  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(join(pki, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(join(pki, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
  const adminToken = randomBytes(24).toString('hex');
  // The admin identity is a static token in system:masters; components reuse it.
  writeFileSync(join(pki, 'tokens.csv'), `${adminToken},admin,admin,"system:masters"\n`, { mode: 0o600 });

  const [etcdClient, etcdPeer, free3, cmPort, schedPort, kwokPort] = await freePorts(6);
  const apiPort = options.apiserverPort ?? free3!;
  const ports = { etcd: etcdClient!, etcdPeer: etcdPeer!, apiserver: apiPort, controllerManager: cmPort!, scheduler: schedPort!, kwok: kwokPort! };
  const server = `https://127.0.0.1:${apiPort}`;
  const podBase = options.podCidrBase ?? '198.18.0.0';
  if (!/^\d{1,3}\.\d{1,3}\.\d{1,3}\.0$/.test(podBase) || podBase.startsWith('127.')) {
    throw new Error(`podCidrBase ${podBase} must look like a.b.c.0 and not be loopback (EndpointSlices reject 127.0.0.0/8)`);
  }
  const caFile = join(pki, 'apiserver.crt');
  const kubeconfig = join(dir, 'kubeconfig');
  const processes: ProcessRecord[] = [];
  let realNode: RealNodeState | undefined;
  const save = (readyMs = 0): PlaneState => {
    const state: PlaneState = {
      version: 1,
      dir,
      server,
      kubeconfig,
      adminToken,
      caFile,
      ports,
      processes,
      binaries,
      startedAt: new Date(started).toISOString(),
      readyMs,
      ...(realNode ? { realNode } : {}),
      ...(nodeBinaries ? { nodeBinaries } : {}),
    };
    writeFileSync(statePath(dir), JSON.stringify(state, null, 2), { mode: 0o600 });
    return state;
  };
  const fail = async (message: string, record?: ProcessRecord): Promise<never> => {
    const detail = record ? `\n--- last lines of ${record.log} ---\n${tail(record.log)}` : '';
    // A teardown problem must not hide why the start failed: report both.
    const teardown = await stopPlane(dir, { keepData: true }).then(
      () => '',
      (e: Error) => `\nand cleaning up failed too: ${e.message}`,
    );
    throw new Error(`${message}${detail}\n(logs kept in ${logs})${teardown}`);
  };
  const start = (name: string, bin: string, args: string[]): ProcessRecord => {
    const record = startProcess(name, bin, args, { log: join(logs, `${name}.log`) });
    processes.push(record);
    save();
    return record;
  };

  progress('starting etcd…');
  const etcd = start('etcd', binaries.paths.etcd, [
    '--name=baton',
    `--data-dir=${join(dir, 'etcd')}`,
    `--listen-client-urls=http://127.0.0.1:${ports.etcd}`,
    `--advertise-client-urls=http://127.0.0.1:${ports.etcd}`,
    `--listen-peer-urls=http://127.0.0.1:${ports.etcdPeer}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${ports.etcdPeer}`,
    `--initial-cluster=baton=http://127.0.0.1:${ports.etcdPeer}`,
    '--unsafe-no-fsync=true',
    '--log-level=warn',
  ]);
  await waitFor('etcd to listen', async () => ((await isListening(ports.etcd)) ? true : isAlive(etcd) ? undefined : fail('etcd exited during start-up', etcd)), { timeoutMs: 20_000 }).catch((e: Error) => fail(e.message, etcd));

  progress('starting kube-apiserver…');
  const apiArgs = [
    `--etcd-servers=http://127.0.0.1:${ports.etcd}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${apiPort}`,
    `--cert-dir=${pki}`,
    '--authorization-mode=RBAC',
    `--token-auth-file=${join(pki, 'tokens.csv')}`,
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${join(pki, 'sa.pub')}`,
    `--service-account-signing-key-file=${join(pki, 'sa.key')}`,
    `--service-cluster-ip-range=${SERVICE_RANGE}`,
    '--endpoint-reconciler-type=none',
    '--allow-privileged=true',
    // Pods here have no kubelet to mount tokens; skipping the plugin also avoids a
    // race with the serviceaccount controller in freshly created namespaces. No
    // node-lifecycle controller runs, so nothing would lift a not-ready taint.
    '--disable-admission-plugins=ServiceAccount,TaintNodesByCondition',
    '--profiling=false',
    '--v=0',
  ];
  if (options.auditLog) {
    const policy = join(pki, 'audit-policy.yaml');
    writeFileSync(policy, 'apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: ["RequestReceived"]\nrules:\n- level: Metadata\n');
    apiArgs.push(`--audit-policy-file=${policy}`, `--audit-log-path=${join(logs, 'audit.log')}`, '--audit-log-format=json', '--audit-log-mode=blocking');
  }
  const apiserver = start('kube-apiserver', binaries.paths['kube-apiserver'], apiArgs);
  const partial = { server, adminToken, caFile };
  await waitFor(
    'kube-apiserver /readyz',
    async () => {
      if (!isAlive(apiserver)) return fail('kube-apiserver exited during start-up', apiserver);
      if (!existsSync(caFile)) return undefined;
      const r = await apiGet(partial, '/readyz');
      return r.status === 200 ? true : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  ).catch((e: Error) => fail(e.message, apiserver));
  writeFileSync(kubeconfig, kubeconfigYaml(server, caFile, adminToken), { mode: 0o600 });

  progress('starting kube-controller-manager, kube-scheduler and kwok…');
  start('kube-controller-manager', binaries.paths['kube-controller-manager'], [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    `--service-account-private-key-file=${join(pki, 'sa.key')}`,
    `--root-ca-file=${caFile}`,
    '--use-service-account-credentials=true',
    '--leader-elect=false',
    `--controllers=${CONTROLLERS.join(',')}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${ports.controllerManager}`,
    '--cluster-name=baton-local',
    '--v=0',
  ]);
  start('kube-scheduler', binaries.paths['kube-scheduler'], [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    '--leader-elect=false',
    '--bind-address=127.0.0.1',
    `--secure-port=${ports.scheduler}`,
    '--v=0',
  ]);
  start('kwok', binaries.paths.kwok, [
    `--kubeconfig=${kubeconfig}`,
    '--manage-all-nodes=false',
    '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
    `--server-address=127.0.0.1:${ports.kwok}`,
    '--node-ip=127.0.0.1',
    // The lower half of 198.18.0.0/15 only: Services have the upper half.
    `--cidr=${options.realNode ? KWOK_POD_RANGE : `${podBase}/16`}`,
    '--node-lease-duration-seconds=40',
    '-v=WARN',
  ]);

  const state = save();
  const base = podBase.split('.').map(Number);
  for (let i = 0; i < nodes; i++) {
    const name = `kwok-node-${i}`;
    const r = await apiWrite(state, 'POST', '/api/v1/nodes', {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name,
        annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
        labels: { type: 'kwok', 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64' },
      },
      spec: { podCIDR: `${base[0]}.${base[1]}.${(base[2] ?? 0) + i}.0/24` },
    });
    if (r.status !== 201 && r.status !== 409) await fail(`could not create node ${name}: HTTP ${r.status} ${r.body}`);
  }

  progress('installing Knative CRDs…');
  await installCrds(state, binaries);

  if (options.realNode && nodeBinaries) {
    const nodeStarted = Date.now();
    try {
      realNode = await startRealNode({
        planeDir: dir,
        kubeconfig,
        binaries: nodeBinaries,
        apiPort,
        progress,
        record: (p) => {
          processes.push(p);
          save();
        },
        savePlan: (s) => {
          realNode = s;
          save();
        },
      });
    } catch (e) {
      await fail(`the real node did not start: ${(e as Error).message}`);
    }
    save();
    // No endpoint reconciler runs (its loopback address would be rejected), so the
    // `kubernetes` Service gets its endpoint here: the relay on the bridge address.
    const slice = await apiWrite(state, 'POST', '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices', {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'kubernetes', labels: { 'kubernetes.io/service-name': 'kubernetes', 'endpointslice.kubernetes.io/managed-by': 'real-node.baton.dev' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: [REAL_NODE_GATEWAY], conditions: { ready: true } }],
      ports: [{ name: 'https', port: apiPort, protocol: 'TCP' }],
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
  }

  await waitFor(
    'fake nodes to be Ready and the default ServiceAccount to exist',
    async () => {
      for (const p of processes) if (!isAlive(p)) return fail(`${p.name} exited during start-up`, p);
      const list = JSON.parse((await apiGet(state, '/api/v1/nodes')).body) as { items?: Array<{ status?: { conditions?: Array<{ type: string; status: string }> } }> };
      const ready = (list.items ?? []).filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
      if (ready < nodes) return undefined;
      const sa = await apiGet(state, '/api/v1/namespaces/default/serviceaccounts/default');
      return sa.status === 200 ? true : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  ).catch((e: Error) => fail(e.message));

  return save(Date.now() - started);
}

async function installCrds(state: PlaneState, binaries: Binaries): Promise<void> {
  const { readdirSync } = await import('node:fs');
  const { loadAllYaml } = await import('@kubernetes/client-node');
  const files = readdirSync(binaries.crdDir).filter((f) => f.endsWith('.yaml')).sort();
  const names: string[] = [];
  for (const f of files) {
    for (const doc of loadAllYaml(readFileSync(join(binaries.crdDir, f), 'utf8')) as Array<{ kind?: string; metadata?: { name?: string } }>) {
      if (doc?.kind !== 'CustomResourceDefinition') continue;
      const r = await apiWrite(state, 'POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', doc);
      if (r.status !== 201 && r.status !== 409) throw new Error(`installing CRD ${doc.metadata?.name} from ${f} failed: HTTP ${r.status} ${r.body.slice(0, 500)}`);
      names.push(doc.metadata?.name ?? '');
    }
  }
  await waitFor(
    'Knative CRDs to be established',
    async () => {
      for (const name of names) {
        const r = await apiGet(state, `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`);
        const crd = JSON.parse(r.body) as { status?: { conditions?: Array<{ type: string; status: string }> } };
        if (!crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) return undefined;
      }
      return true;
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  );
}

/** Stops every recorded process (by pid, process group first) and removes the data. */
export async function stopPlane(dir: string, { keepData = false }: { keepData?: boolean } = {}): Promise<{ stopped: string[] }> {
  const state = readState(dir);
  const stopped: string[] = [];
  let nodeError: Error | undefined;
  if (state?.realNode) {
    try {
      stopped.push(...(await stopRealNode(state.realNode, state.processes, state.nodeBinaries?.['kube-proxy'])));
    } catch (e) {
      nodeError = e as Error;
    }
  }
  if (state) {
    // Reverse start order: clients before the apiserver, the apiserver before etcd.
    for (const p of [...state.processes].reverse()) {
      if (isAlive(p)) {
        await stopProcess(p);
        stopped.push(p.name);
      }
    }
  }
  if (state?.realNode && !nodeError) releaseNodeLock(dir);
  // A mount left under the folder would make rm reach into it: keep the folder then.
  if (nodeError) throw new Error(`${nodeError.message}\n(the plane folder ${dir} was kept)`);
  if (!keepData) rmSync(dir, { recursive: true, force: true });
  return { stopped };
}

export interface PlaneStatus {
  readonly running: boolean;
  readonly state: PlaneState | undefined;
  readonly processes: ReadonlyArray<{ name: string; pid: number; alive: boolean }>;
  readonly apiserverReady: boolean;
}

export async function planeStatus(dir: string): Promise<PlaneStatus> {
  const state = readState(dir);
  if (!state) return { running: false, state: undefined, processes: [], apiserverReady: false };
  const processes = state.processes.map((p) => ({ name: p.name, pid: p.pid, alive: isAlive(p) }));
  let apiserverReady: boolean;
  try {
    apiserverReady = (await apiGet(state, '/readyz')).status === 200;
  } catch {
    apiserverReady = false;
  }
  return { running: processes.some((p) => p.alive), state, processes, apiserverReady };
}
