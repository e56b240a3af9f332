// One real node beside the kwok ones: plans it, and starts containerd, the kubelet,
// kube-proxy and CoreDNS on a bridge of its own. Teardown is in teardown.ts.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeBinaryName, Progress } from '../components.js';
import { freePorts, isListening } from '../ports.js';
import { isAlive, startProcess, tail, type ProcessRecord } from '../processes.js';
import { waitFor } from '../wait.js';
import { buildImageArchive, ECHO_IMAGE, PAUSE_IMAGE } from './images.js';
import { CLUSTER_RANGE, nodeNames, REAL_NODE_GATEWAY, REAL_NODE_LABEL, REAL_NODE_NAME, REAL_NODE_SUBNET, REGISTRY_HOST, REGISTRY_PORT, type NodeNames } from './network.js';
import { cgroupHierarchies, enterCgroup, makeCgroup } from './cgroups.js';
import { exitHint } from './check-pod.js';
import { containerdConfig, cniConfig, corefile, kubeletConfig, registryConfig, registryHostsDir, registryHostsToml } from './configs.js';
import { assertIptablesFree, assertRangeFree, forwardChain, forwardRules, HOST_DIRS, IP_FORWARD, parseNftTables, RealNodeError, sh, trySh } from './host.js';

/** What the plane records about its real node, so that `cluster down` can undo all of it. */
export interface RealNodeState {
  readonly names: NodeNames;
  /** Folder holding the runtime's, the kubelet's and CNI's state (inside the plane folder). */
  readonly root: string;
  readonly containerdSocket: string;
  readonly kubeletRoot: string;
  readonly podLogsDir: string;
  readonly ports: Readonly<Record<string, number>>;
  /**
   * Machine-wide folders the node's programs write to whatever their settings (the kubelet's
   * device-plugin socket, libcni's result cache, containerd's shim sockets, the legacy log
   * links) that did not exist before the node started: teardown removes exactly these.
   */
  readonly createdHostDirs: readonly string[];
  /** nftables tables (`family name`) that existed before start; iptables-nft creates the others on first use. */
  readonly nftTablesBefore?: readonly string[];
  /** Value of net.ipv4.ip_forward before start, restored by teardown. */
  readonly ipForwardBefore?: string;
}

export function planNode(planeDir: string): RealNodeState {
  const names = nodeNames(planeDir);
  const root = join(planeDir, 'node');
  return {
    names,
    root,
    containerdSocket: join(root, 'containerd.sock'),
    kubeletRoot: join(root, 'kubelet'),
    podLogsDir: join(root, 'pod-logs'),
    ports: {},
    createdHostDirs: HOST_DIRS.filter((d) => !existsSync(d)),
    nftTablesBefore: parseNftTables(trySh('nft', ['list', 'tables']).out),
    ipForwardBefore: existsSync(IP_FORWARD) ? readFileSync(IP_FORWARD, 'utf8').trim() : '0',
  };
}

export interface StartNodeInput {
  readonly planeDir: string;
  readonly kubeconfig: string;
  readonly binaries: Readonly<Record<NodeBinaryName, string>>;
  /** The API server's loopback port; pods reach it on the bridge address through a relay. */
  readonly apiPort: number;
  readonly progress: Progress;
  /** Records a started process in the plane's state (so `cluster down` stops it by pid). */
  readonly record: (p: ProcessRecord) => void;
  /** Saves the node plan before any kernel object exists, so a failed start is undone too. */
  readonly savePlan: (s: RealNodeState) => void;
}

/**
 * Starts containerd, the kubelet and kube-proxy for one real node and returns once the
 * runtime answers and the images are imported. The Node's readiness is awaited by the caller.
 */
export async function startRealNode(input: StartNodeInput): Promise<RealNodeState> {
  const plan = planNode(input.planeDir);
  assertRangeFree(plan.names);
  assertIptablesFree();
  const [kubeletHealthz, proxyHealthz, proxyMetrics, dnsHealth, dnsReady, registryPort] = await freePorts(6);
  const s: RealNodeState = {
    ...plan,
    ports: { kubeletHealthz: kubeletHealthz!, kubeProxyHealthz: proxyHealthz!, kubeProxyMetrics: proxyMetrics!, corednsHealth: dnsHealth!, corednsReady: dnsReady!, registry: registryPort! },
  };
  input.savePlan(s);
  const logs = join(input.planeDir, 'logs');
  for (const d of [s.root, join(s.root, 'cni'), join(s.root, 'ipam'), s.kubeletRoot, s.podLogsDir, join(s.root, 'images')]) mkdirSync(d, { recursive: true });

  input.progress(`creating bridge ${s.names.bridge} (${REAL_NODE_GATEWAY}/24) and cgroup /${s.names.cgroupRoot}…`);
  sh('ip', ['link', 'add', 'name', s.names.bridge, 'type', 'bridge'], 'creating the bridge');
  sh('ip', ['addr', 'add', `${REAL_NODE_GATEWAY}/24`, 'dev', s.names.bridge], 'addressing the bridge');
  sh('ip', ['link', 'set', s.names.bridge, 'up'], 'bringing the bridge up');
  // Every cluster address (Services and fake kwok pods included) routes to the bridge, so
  // a packet for one of them never takes the default route off the machine.
  sh('ip', ['route', 'add', CLUSTER_RANGE, 'dev', s.names.bridge, 'proto', 'static'], 'routing the cluster range to the bridge');
  for (const h of cgroupHierarchies()) makeCgroup(h, s.names.cgroupRoot);
  const chain = forwardChain(s.names);
  sh('iptables', ['-t', 'filter', '-N', chain], 'creating the forward chain');
  for (const rule of forwardRules(s.names.bridge, s.ipForwardBefore === '1')) sh('iptables', ['-t', 'filter', '-A', chain, ...rule], 'filling the forward chain');
  sh('iptables', ['-t', 'filter', '-I', 'FORWARD', '1', '-j', chain], 'hooking the forward chain');
  if (s.ipForwardBefore !== '1') writeFileSync(IP_FORWARD, '1');

  writeFileSync(join(s.root, 'containerd.toml'), containerdConfig(s));
  writeFileSync(join(s.root, 'cni', '10-baton.conflist'), cniConfig(s));
  mkdirSync(join(registryHostsDir(s), REGISTRY_HOST), { recursive: true });
  writeFileSync(join(registryHostsDir(s), REGISTRY_HOST, 'hosts.toml'), registryHostsToml());
  input.progress('starting containerd…');
  const containerd = startProcess('containerd', '/usr/bin/containerd', ['--config', join(s.root, 'containerd.toml'), '--log-level', 'warn'], { log: join(logs, 'containerd.log') });
  input.record(containerd);
  enterCgroup(containerd.pid, s.names, 'runtime');
  await waitFor('containerd to answer', () => {
    if (!isAlive(containerd)) throw exited(containerd);
    return trySh('ctr', ['--address', s.containerdSocket, 'version']).ok ? true : undefined;
  }, { timeoutMs: 30_000, intervalMs: 200 });

  input.progress(`importing ${PAUSE_IMAGE} and ${ECHO_IMAGE} (built here)…`);
  for (const [ref, binary, user] of [[PAUSE_IMAGE, input.binaries.pause, '65535:65535'], [ECHO_IMAGE, input.binaries['echo-server'], '65534:65534']] as const) {
    const archive = buildImageArchive({ ref, binary, user }, join(s.root, 'images'));
    sh('ctr', ['--address', s.containerdSocket, '--namespace', 'k8s.io', 'images', 'import', archive], `importing ${ref}`);
  }

  const kubeletConfigPath = join(s.root, 'kubelet.yaml');
  writeFileSync(kubeletConfigPath, kubeletConfig(s, kubeletHealthz!));
  input.progress('starting the kubelet and kube-proxy…');
  const kubelet = startProcess('kubelet', input.binaries.kubelet, [
    `--config=${kubeletConfigPath}`,
    `--kubeconfig=${input.kubeconfig}`,
    `--root-dir=${s.kubeletRoot}`,
    `--cert-dir=${join(s.kubeletRoot, 'pki')}`,
    `--hostname-override=${REAL_NODE_NAME}`,
    `--node-ip=${REAL_NODE_GATEWAY}`,
    `--node-labels=${REAL_NODE_LABEL}=true`,
    '--v=1',
  ], { log: join(logs, 'kubelet.log') });
  input.record(kubelet);
  enterCgroup(kubelet.pid, s.names, 'agents');
  const proxy = startProcess('kube-proxy', input.binaries['kube-proxy'], [
    `--kubeconfig=${input.kubeconfig}`,
    `--hostname-override=${REAL_NODE_NAME}`,
    '--proxy-mode=iptables',
    `--bind-address=${REAL_NODE_GATEWAY}`,
    `--cluster-cidr=${REAL_NODE_SUBNET}`,
    `--healthz-bind-address=127.0.0.1:${proxyHealthz}`,
    `--metrics-bind-address=127.0.0.1:${proxyMetrics}`,
    `--nodeport-addresses=${REAL_NODE_GATEWAY}/32`,
    // Each of these would otherwise change a machine-wide sysctl.
    '--iptables-localhost-nodeports=false',
    '--conntrack-max-per-core=0',
    '--conntrack-tcp-timeout-established=0',
    '--conntrack-tcp-timeout-close-wait=0',
    '--oom-score-adj=0',
    // Without br_netfilter (not loadable here) a reply from a pod to a pod on the same
    // bridge skips the host; masquerading Service traffic sends the reply back through it.
    '--masquerade-all=true',
    '--v=1',
  ], { log: join(logs, 'kube-proxy.log') });
  input.record(proxy);
  enterCgroup(proxy.pid, s.names, 'agents');
  writeFileSync(join(s.root, 'Corefile'), corefile(input.kubeconfig, dnsHealth!, dnsReady!));
  const dns = startProcess('coredns', input.binaries.coredns, ['-conf', join(s.root, 'Corefile')], { log: join(logs, 'coredns.log'), cwd: s.root });
  input.record(dns);
  enterCgroup(dns.pid, s.names, 'agents');
  const relay = startProcess('api-relay', input.binaries.relay, [`${REAL_NODE_GATEWAY}:${input.apiPort}`, `127.0.0.1:${input.apiPort}`], { log: join(logs, 'api-relay.log') });
  input.record(relay);
  enterCgroup(relay.pid, s.names, 'agents');
  const registry = startRegistry(s, input, registryPort!, logs);
  await waitFor('the kubelet, kube-proxy, CoreDNS and registry health endpoints', async () => {
    for (const p of [kubelet, proxy, dns, relay, ...registry]) if (!isAlive(p)) throw exited(p);
    for (const port of [kubeletHealthz!, proxyHealthz!, dnsReady!, registryPort!]) if (!(await isListening(port))) return undefined;
    if (!(await isListening(REGISTRY_PORT, REAL_NODE_GATEWAY))) return undefined;
    return true;
  }, { timeoutMs: 60_000, intervalMs: 250 });
  return s;
}

/**
 * The local image registry: containerd pulls from it, buildah and skaffold push to it.
 * It listens on loopback; a relay serves it on the bridge address (REGISTRY_HOST).
 */
function startRegistry(s: RealNodeState, input: StartNodeInput, port: number, logs: string): ProcessRecord[] {
  const config = join(s.root, 'registry.yml');
  mkdirSync(join(s.root, 'registry'), { recursive: true });
  writeFileSync(config, registryConfig(join(s.root, 'registry'), port));
  // No tracing collector runs here; without this the registry would keep dialling one.
  const registry = startProcess('registry', input.binaries.registry, ['serve', config], { log: join(logs, 'registry.log'), env: { ...process.env, OTEL_TRACES_EXPORTER: 'none' } });
  input.record(registry);
  enterCgroup(registry.pid, s.names, 'agents');
  const relay = startProcess('registry-relay', input.binaries.relay, [REGISTRY_HOST, `127.0.0.1:${port}`], { log: join(logs, 'registry-relay.log') });
  input.record(relay);
  enterCgroup(relay.pid, s.names, 'agents');
  return [registry, relay];
}

function exited(p: ProcessRecord): RealNodeError {
  const log = tail(p.log);
  const hint = exitHint(log);
  return new RealNodeError(`${p.name} exited during start-up${hint ? `: ${hint}` : ''}\n${log}`);
}
