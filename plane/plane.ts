// The local control plane: real etcd, kube-apiserver, controller-manager, scheduler and
// kwok fake nodes (optionally one real node) on loopback, started and stopped by pid.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { apiGet, apiWrite } from './api.js';
import { ensureBinaries, ensureNodeBinaries } from './binaries.js';
import type { NodeBinaryName, Progress } from './components.js';
import { apiserverArgs, AUDIT_POLICY, controllerManagerArgs, etcdArgs, kwokArgs, schedulerArgs } from './flags.js';
import { installCrds } from './crds.js';
import { joinRealNode } from './join-node.js';
import { installKnative, type KnativeInstall } from './knative/install.js';
import { ensureNodePackages } from './node/packages.js';
import { KWOK_POD_RANGE, MAX_KWOK_NODES_WITH_REAL_NODE } from './node/network.js';
import { assertRangeFree } from './node/host.js';
import { planNode, type RealNodeState } from './node/node.js';
import { stopRealNode } from './node/teardown.js';
import { acquireNodeLock, releaseNodeLock } from './node/lock.js';
import { assertPortFree, freePorts, isListening } from './ports.js';
import { isAlive, startProcess, stopProcess, tail, type ProcessRecord } from './processes.js';
import { kubeconfigYaml, readState, statePath, type PlaneState } from './state.js';
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
  /**
   * Also install Knative 1.20 (Serving with Kourier, Eventing with the in-memory channel
   * and the MT channel-based Broker) on the real node; implies `realNode`.
   */
  readonly knative?: boolean;
  readonly progress?: Progress;
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
  if (options.knative && !options.realNode) throw new Error('Knative runs on the real node: add --real-node');
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
  let knative: KnativeInstall | undefined;
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
      ...(knative ? { knative } : {}),
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
  const etcd = start('etcd', binaries.paths.etcd, etcdArgs(dir, ports));
  await waitFor('etcd to listen', async () => ((await isListening(ports.etcd)) ? true : isAlive(etcd) ? undefined : fail('etcd exited during start-up', etcd)), { timeoutMs: 20_000 }).catch((e: Error) => fail(e.message, etcd));

  progress('starting kube-apiserver…');
  const auditPolicy = options.auditLog ? join(pki, 'audit-policy.yaml') : undefined;
  if (auditPolicy) writeFileSync(auditPolicy, AUDIT_POLICY);
  const apiArgs = apiserverArgs({ pki, logs, apiPort, etcdPort: ports.etcd, auditPolicy, serviceAccounts: options.knative === true });
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
  start('kube-controller-manager', binaries.paths['kube-controller-manager'], controllerManagerArgs(kubeconfig, pki, caFile, ports.controllerManager, options.knative === true));
  start('kube-scheduler', binaries.paths['kube-scheduler'], schedulerArgs(kubeconfig, ports.scheduler));
  // The lower half of 198.18.0.0/15 only: Services have the upper half.
  start('kwok', binaries.paths.kwok, kwokArgs(kubeconfig, ports.kwok, options.realNode ? KWOK_POD_RANGE : `${podBase}/16`));

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
    realNode = await joinRealNode({
      planeDir: dir,
      kubeconfig,
      binaries: nodeBinaries,
      apiPort,
      state,
      processes,
      progress,
      record: (p) => {
        processes.push(p);
        save();
      },
      savePlan: (s) => {
        realNode = s;
        save();
      },
      fail,
    });
    save();
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

  if (options.knative) {
    progress('installing Knative…');
    knative = await installKnative(save(), progress).catch((e: Error) => fail(`installing Knative failed: ${e.message}`));
  }
  return save(Date.now() - started);
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
