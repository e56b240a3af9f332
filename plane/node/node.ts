import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeBinaryName, Progress } from '../components.js';
import { freePorts, isListening } from '../ports.js';
import { isAlive, startProcess, stopProcess, tail, type ProcessRecord } from '../processes.js';
import { waitFor } from '../wait.js';
import { buildImageArchive, ECHO_IMAGE, PAUSE_IMAGE } from './images.js';
import {
  CLUSTER_RANGE,
  conflicts,
  describeConflicts,
  nodeNames,
  parseInUse,
  REAL_NODE_GATEWAY,
  REAL_NODE_LABEL,
  REAL_NODE_NAME,
  REAL_NODE_SUBNET,
  REAL_NODE_TAINT,
  type NodeNames,
} from './network.js';

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

const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward';

/** The filter chain (in FORWARD) that confines forwarding to the node's bridge. */
export function forwardChain(names: NodeNames): string {
  return `BATON-${names.id}`;
}

/**
 * Rules of the forward chain. Pods reach Services through the host (DNAT, then back out
 * the bridge), which needs forwarding on; these rules keep it to bridge-to-bridge so no
 * pod packet is routed off the machine and nothing from outside is routed in. When the
 * machine did not forward before, it forwards nothing else now either.
 */
export function forwardRules(bridge: string, forwardedBefore: boolean): string[][] {
  const rules = [
    ['-i', bridge, '-o', bridge, '-j', 'ACCEPT'],
    ['-i', bridge, '-j', 'DROP'],
    ['-o', bridge, '-j', 'DROP'],
  ];
  if (!forwardedBefore) rules.push(['-j', 'DROP']);
  return rules;
}

/** Fixed paths the kubelet, libcni and containerd 1.6 use no matter where their state is configured. */
export const HOST_DIRS = ['/var/lib/kubelet', '/var/lib/cni', '/run/containerd', '/var/log/containers', '/var/log/pods'] as const;

/**
 * Chains with fixed names that kube-proxy (iptables mode) and the kubelet create. Per-Service
 * chains (KUBE-SVC-…, KUBE-SEP-…) hang off these and go with `kube-proxy --cleanup`. The
 * node refuses to start when one of them exists: another kube-proxy owns this machine's rules.
 */
export const KUBE_FIXED_CHAINS = [
  'KUBE-SERVICES',
  'KUBE-EXTERNAL-SERVICES',
  'KUBE-NODEPORTS',
  'KUBE-POSTROUTING',
  'KUBE-MARK-MASQ',
  'KUBE-FORWARD',
  'KUBE-PROXY-FIREWALL',
  'KUBE-PROXY-CANARY',
  'KUBE-FIREWALL',
  'KUBE-KUBELET-CANARY',
  'KUBE-IPTABLES-HINT',
] as const;
const IPTABLES_TABLES = ['filter', 'nat', 'mangle'] as const;
/** kube-proxy writes IPv4 and IPv6 rules whenever the kernel has IPv6. */
const IPTABLES_TOOLS = [
  { save: 'iptables-save', cmd: 'iptables', family: 'ip' },
  { save: 'ip6tables-save', cmd: 'ip6tables', family: 'ip6' },
] as const;

/** `family name` of every nftables table, from `nft list tables`. */
export function parseNftTables(text: string): string[] {
  return text
    .split('\n')
    .map((l) => /^table (\S+) (\S+)/.exec(l.trim()))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => `${m[1]} ${m[2]}`);
}

/** True when iptables-save output of one table holds only built-in chains and no rule. */
export function isPristine(save: string): boolean {
  const builtin = new Set(['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING']);
  return save.split('\n').every((l) => !l.startsWith('-A ') && !(l.startsWith(':') && !builtin.has(l.slice(1).split(' ')[0]!)));
}

/** Chains declared in iptables-save output that are in `wanted`. */
export function declaredChains(save: string, wanted: readonly string[]): string[] {
  const found = new Set<string>();
  for (const line of save.split('\n')) {
    const m = /^:(\S+) /.exec(line);
    if (m && wanted.includes(m[1]!)) found.add(m[1]!);
  }
  return [...found];
}

/** Rules (as -A specs, table-local) whose target is one of `chains`, so they can be deleted by spec. */
export function rulesJumpingTo(save: string, chains: readonly string[]): string[] {
  return save
    .split('\n')
    .filter((l) => l.startsWith('-A ') && chains.some((c) => new RegExp(`\\s-j ${c}(\\s|$)`).test(l)));
}

export class RealNodeError extends Error {}

function sh(cmd: string, args: readonly string[], what: string): string {
  const r = spawnSync(cmd, [...args], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new RealNodeError(`${what} failed (${cmd} ${args.join(' ')}): ${(r.stderr || r.error?.message || '').trim()}`);
  return r.stdout;
}

function trySh(cmd: string, args: readonly string[]): { ok: boolean; out: string } {
  const r = spawnSync(cmd, [...args], { encoding: 'utf8' });
  return { ok: !r.error && r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/** Fails with what to do when the cluster range is already used on this machine. */
export function assertRangeFree(names: NodeNames): void {
  const inUse = parseInUse(sh('ip', ['-j', '-4', 'addr'], 'listing addresses'), sh('ip', ['-j', '-4', 'route', 'show', 'table', 'all'], 'listing routes'));
  const found = conflicts(inUse, names.bridge);
  if (found.length > 0) throw new RealNodeError(describeConflicts(found));
}

/** Fails when another kube-proxy or kubelet already has its chains on this machine. */
export function assertIptablesFree(): void {
  const taken: string[] = [];
  for (const tool of IPTABLES_TOOLS) {
    for (const t of IPTABLES_TABLES) {
      const r = trySh(tool.save, ['-t', t]);
      if (r.ok) taken.push(...declaredChains(r.out, KUBE_FIXED_CHAINS).map((c) => `${tool.cmd} ${t}/${c}`));
    }
  }
  if (taken.length) {
    throw new RealNodeError(
      `iptables already has kube-proxy/kubelet chains (${taken.join(', ')}): another node runs on this machine, or one was not cleaned up. ` +
        'Stop that plane with `baton cluster down`; if none runs, remove the chains (iptables -t <table> -F/-X <chain>) and retry.',
    );
  }
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

/** cgroup v1 hierarchies mounted under /sys/fs/cgroup (one folder per controller set). */
export function cgroupHierarchies(): string[] {
  const base = '/sys/fs/cgroup';
  if (existsSync(join(base, 'cgroup.controllers'))) {
    throw new RealNodeError('this machine uses cgroup v2; the real node is only set up for cgroup v1 (cgroupfs driver) so far');
  }
  return readdirSync(base)
    .map((d) => join(base, d))
    .filter((p) => existsSync(join(p, 'cgroup.procs')) && !statSync(p).isSymbolicLink());
}

function makeCgroup(hierarchy: string, path: string): void {
  const full = join(hierarchy, path);
  mkdirSync(full, { recursive: true });
  // A new cpuset cgroup starts with no CPUs and no memory nodes; nothing can join it then.
  if (existsSync(join(full, 'cpuset.cpus'))) {
    let dir = full;
    const chain: string[] = [];
    while (dir !== hierarchy) {
      chain.unshift(dir);
      dir = join(dir, '..');
    }
    for (const d of chain) {
      for (const f of ['cpuset.cpus', 'cpuset.mems']) {
        if (readFileSync(join(d, f), 'utf8').trim() === '') writeFileSync(join(d, f), readFileSync(join(d, '..', f), 'utf8').trim());
      }
    }
  }
}

/** Moves a process into <cgroupRoot>/<leaf> in every hierarchy, so teardown finds it (and its children) there. */
function enterCgroup(pid: number, names: NodeNames, leaf: string): void {
  for (const h of cgroupHierarchies()) {
    makeCgroup(h, join(names.cgroupRoot, leaf));
    writeFileSync(join(h, names.cgroupRoot, leaf, 'cgroup.procs'), String(pid));
  }
}

export function containerdConfig(s: RealNodeState): string {
  const q = (v: string): string => JSON.stringify(v);
  return `version = 2
root = ${q(join(s.root, 'containerd', 'root'))}
state = ${q(join(s.root, 'containerd', 'state'))}
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = ${q(s.containerdSocket)}

[ttrpc]
  address = ${q(`${s.containerdSocket}.ttrpc`)}

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = ${q(join(s.root, 'containerd', 'opt'))}

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = ${q(PAUSE_IMAGE)}
  # The machine lacks CAP_SYS_RESOURCE: runc cannot lower oom_score_adj below the parent's.
  restrict_oom_score_adj = true
  # Pod network namespaces live in the plane folder, not in /var/run/netns.
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = ${q(join(s.root, 'runc'))}
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = ${q(join(s.root, 'cni'))}
    max_conf_num = 1
`;
}

export function cniConfig(s: RealNodeState): string {
  return JSON.stringify(
    {
      cniVersion: '0.4.0',
      name: s.names.network,
      plugins: [
        {
          type: 'bridge',
          bridge: s.names.bridge,
          isGateway: true,
          // No masquerade: pod traffic has no business leaving the machine.
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            ranges: [[{ subnet: REAL_NODE_SUBNET, gateway: REAL_NODE_GATEWAY }]],
            routes: [{ dst: CLUSTER_RANGE }],
            dataDir: join(s.root, 'ipam'),
          },
        },
      ],
    },
    null,
    2,
  );
}

/**
 * CoreDNS serves cluster.local from the API server, on the bridge address only, so pods
 * resolve <svc>.<ns>.svc.cluster.local. There is no forward plugin: other names get no
 * answer and no query leaves the machine.
 */
export function corefile(kubeconfig: string, healthPort: number, readyPort: number): string {
  return `cluster.local:53 {
    bind ${REAL_NODE_GATEWAY}
    errors
    health 127.0.0.1:${healthPort}
    ready 127.0.0.1:${readyPort}
    kubernetes cluster.local {
        kubeconfig ${kubeconfig} baton-local
    }
    cache 5
    loadbalance
}
`;
}

export function kubeletConfig(s: RealNodeState, healthzPort: number): string {
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# No kubelet API at all: nothing here needs exec or logs through the API server, and an
# open kubelet port would be reachable from every pod on the bridge.
enableServer: false
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: ${healthzPort}
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: false
authorization:
  mode: AlwaysAllow
cgroupDriver: cgroupfs
cgroupRoot: /${s.names.cgroupRoot}
cgroupsPerQOS: true
containerRuntimeEndpoint: unix://${s.containerdSocket}
failSwapOn: false
# Without CAP_SYS_RESOURCE the kubelet cannot lower its own score (default -999).
oomScoreAdj: 0
clusterDomain: cluster.local
clusterDNS:
- ${REAL_NODE_GATEWAY}
# Pods get only cluster DNS: the host's resolvers and search domains stay out of them.
resolvConf: ""
podLogsDir: ${s.podLogsDir}
# The images were imported here and cannot be pulled again: never garbage-collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 50Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
# kube-proxy owns the iptables rules; the kubelet's canary chains would outlive it.
makeIPTablesUtilChains: false
maxPods: 30
serializeImagePulls: false
registerWithTaints:
- key: ${REAL_NODE_TAINT.key}
  value: "${REAL_NODE_TAINT.value}"
  effect: ${REAL_NODE_TAINT.effect}
`;
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
  const [kubeletHealthz, proxyHealthz, proxyMetrics, dnsHealth, dnsReady] = await freePorts(5);
  const s: RealNodeState = {
    ...plan,
    ports: { kubeletHealthz: kubeletHealthz!, kubeProxyHealthz: proxyHealthz!, kubeProxyMetrics: proxyMetrics!, corednsHealth: dnsHealth!, corednsReady: dnsReady! },
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
  input.progress('starting containerd…');
  const containerd = startProcess('containerd', '/usr/bin/containerd', ['--config', join(s.root, 'containerd.toml'), '--log-level', 'warn'], { log: join(logs, 'containerd.log') });
  input.record(containerd);
  enterCgroup(containerd.pid, s.names, 'runtime');
  await waitFor('containerd to answer', () => {
    if (!isAlive(containerd)) throw new RealNodeError(`containerd exited during start-up:\n${tail(containerd.log)}`);
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
  await waitFor('the kubelet, kube-proxy and CoreDNS health endpoints', async () => {
    for (const p of [kubelet, proxy, dns, relay]) if (!isAlive(p)) throw new RealNodeError(`${p.name} exited during start-up:\n${tail(p.log)}`);
    for (const port of [kubeletHealthz!, proxyHealthz!, dnsReady!]) if (!(await isListening(port))) return undefined;
    return true;
  }, { timeoutMs: 60_000, intervalMs: 250 });
  return s;
}

/** Mount points at or below `dir`, deepest first, read from this process's mount table. */
export function mountsUnder(mountinfo: string, dir: string): string[] {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return mountinfo
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => m !== undefined && (m === dir || m.startsWith(prefix)))
    .map((m) => m.replace(/\\040/g, ' '))
    .sort((a, b) => b.length - a.length);
}

function cgroupTree(hierarchy: string, root: string): string[] {
  const top = join(hierarchy, root);
  if (!existsSync(top)) return [];
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name));
    out.push(d);
  };
  walk(top);
  return out; // children before parents
}

function pidsIn(cgroups: readonly string[]): number[] {
  const pids = new Set<number>();
  for (const c of cgroups) {
    try {
      for (const l of readFileSync(join(c, 'cgroup.procs'), 'utf8').split('\n')) if (l.trim()) pids.add(Number(l));
    } catch {
      // The cgroup went away meanwhile.
    }
  }
  return [...pids];
}

/**
 * Undoes everything startRealNode made, by name and pid: the agents, every process in the
 * node's cgroup (containers and shims included), kube-proxy's iptables chains, mounts under
 * the node folder (network namespaces, rootfs, shm), veths on the bridge, the bridge, the
 * cgroups and the kubelet's /var/log/containers links. Returns what it removed; never throws
 * before trying every step.
 */
export async function stopRealNode(s: RealNodeState, processes: readonly ProcessRecord[], kubeProxyBinary: string | undefined): Promise<string[]> {
  const done: string[] = [];
  const problems: string[] = [];
  const byName = (n: string): ProcessRecord | undefined => processes.find((p) => p.name === n);
  for (const n of ['kubelet', 'kube-proxy', 'coredns', 'api-relay']) {
    const p = byName(n);
    if (p && isAlive(p)) {
      await stopProcess(p);
      done.push(`process ${n}`);
    }
  }
  // Only a node whose kube-proxy ran has kube-proxy rules to remove; the fixed chain
  // names would otherwise be another node's.
  const ranProxy = byName('kube-proxy') !== undefined;
  if (ranProxy && kubeProxyBinary && existsSync(kubeProxyBinary)) {
    // --cleanup removes the KUBE-* chains and the jumps into them, then exits.
    const r = trySh(kubeProxyBinary, ['--cleanup', '--proxy-mode=iptables', '--v=0']);
    // It also tries IPVS (ipset) and nftables and reports failure when those tools are
    // missing; what counts is the check of the tables below.
    if (r.ok) done.push('kube-proxy rules');
  }
  const chain = forwardChain(s.names);
  // The chain goes in right before forwarding is switched on: no chain, nothing of ours to undo.
  const forwardingWasOurs = trySh('iptables', ['-t', 'filter', '-S', chain]).ok;
  if (forwardingWasOurs) {
    while (trySh('iptables', ['-t', 'filter', '-D', 'FORWARD', '-j', chain]).ok) done.push(`iptables FORWARD jump to ${chain}`);
    trySh('iptables', ['-t', 'filter', '-F', chain]);
    const r = trySh('iptables', ['-t', 'filter', '-X', chain]);
    if (r.ok) done.push(`iptables filter/${chain}`);
    else problems.push(`iptables -X ${chain}: ${r.out.trim()}`);
  }
  if (forwardingWasOurs && s.ipForwardBefore !== undefined && s.ipForwardBefore !== '1' && existsSync(IP_FORWARD)) {
    writeFileSync(IP_FORWARD, s.ipForwardBefore);
    done.push(`net.ipv4.ip_forward=${s.ipForwardBefore}`);
  }
  // Whatever --cleanup left of the fixed chains (it keeps the canaries and the firewall chain).
  for (const tool of IPTABLES_TOOLS) {
    for (const t of IPTABLES_TABLES) {
      const save = trySh(tool.save, ['-t', t]);
      if (!save.ok) continue;
      const chains = ranProxy ? declaredChains(save.out, KUBE_FIXED_CHAINS) : [];
      for (const rule of rulesJumpingTo(save.out, chains)) {
        const r = trySh(tool.cmd, ['-t', t, '-D', ...rule.slice(3).split(' ')]);
        if (!r.ok) problems.push(`${tool.cmd} -t ${t} -D ${rule.slice(3)}: ${r.out.trim()}`);
      }
      for (const c of chains) trySh(tool.cmd, ['-t', t, '-F', c]);
      for (const c of chains) {
        const r = trySh(tool.cmd, ['-t', t, '-X', c]);
        if (r.ok) done.push(`${tool.cmd} ${t}/${c}`);
        else problems.push(`${tool.cmd} -t ${t} -X ${c}: ${r.out.trim()}`);
      }
      const after = trySh(tool.save, ['-t', t]);
      // The table itself was made by iptables-nft on first use; drop it only when it is
      // ours (absent before) and empty, so nobody else's rule goes with it.
      if (after.ok && s.nftTablesBefore && !s.nftTablesBefore.includes(`${tool.family} ${t}`) && isPristine(after.out)) {
        if (trySh('nft', ['delete', 'table', tool.family, t]).ok) done.push(`nft table ${tool.family} ${t}`);
      } else if (after.ok && /^:KUBE-/m.test(after.out)) {
        problems.push(`${tool.cmd} table ${t} still has KUBE- chains after kube-proxy --cleanup`);
      }
    }
  }
  // Containers through containerd first, so the shims exit and remove their sockets.
  const containerIds: string[] = [];
  const containerd = byName('containerd');
  if (containerd && isAlive(containerd)) {
    const ctr = (...args: string[]): { ok: boolean; out: string } => trySh('ctr', ['--address', s.containerdSocket, '--namespace', 'k8s.io', ...args]);
    const ids = ctr('containers', 'ls', '-q');
    if (ids.ok) containerIds.push(...ids.out.split('\n').filter((l) => /^[0-9a-f]{64}$/.test(l.trim())).map((l) => l.trim()));
    for (const id of containerIds) {
      ctr('tasks', 'kill', '--signal', 'SIGKILL', id);
    }
    for (const id of containerIds) {
      for (let i = 0; i < 20 && !ctr('tasks', 'delete', '--force', id).out.includes('not found'); i++) await new Promise((r) => setTimeout(r, 100));
    }
    if (containerIds.length) done.push(`${containerIds.length} containers`);
  }
  // Anything still in the node's cgroup (a shim that did not exit), then containerd.
  const hierarchies = existsSync('/sys/fs/cgroup') ? cgroupHierarchies() : [];
  const pidsHierarchy = hierarchies.find((h) => h.endsWith('/pids')) ?? hierarchies[0];
  for (let round = 0; round < 20; round++) {
    const pids = pidsHierarchy ? pidsIn(cgroupTree(pidsHierarchy, s.names.cgroupRoot)).filter((p) => p !== containerd?.pid) : [];
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
    if (round === 0) done.push(`${pids.length} processes left in the node's cgroup`);
    await new Promise((r) => setTimeout(r, 100));
  }
  if (containerd && isAlive(containerd)) {
    await stopProcess(containerd);
    done.push('process containerd');
  }
  // Mounts: network namespaces, overlay rootfs, shm and volumes all sit under the node folder.
  for (const m of mountsUnder(readFileSync('/proc/self/mountinfo', 'utf8'), s.root)) {
    const r = trySh('umount', [m]);
    if (!r.ok && !trySh('umount', ['--lazy', m]).ok) problems.push(`umount ${m}: ${r.out.trim()}`);
    else done.push(`mount ${m}`);
  }
  // Veths whose bridge end is ours; removing one end removes its pair.
  const links = trySh('ip', ['-j', 'link', 'show', 'master', s.names.bridge]);
  if (links.ok && links.out.trim().startsWith('[')) {
    for (const l of JSON.parse(links.out) as Array<{ ifname: string }>) {
      if (trySh('ip', ['link', 'del', l.ifname]).ok) done.push(`veth ${l.ifname}`);
    }
  }
  if (trySh('ip', ['link', 'show', s.names.bridge]).ok) {
    const r = trySh('ip', ['link', 'del', s.names.bridge]);
    if (r.ok) done.push(`bridge ${s.names.bridge} (and its routes)`);
    else problems.push(`ip link del ${s.names.bridge}: ${r.out.trim()}`);
  }
  let cgroupsRemoved = 0;
  for (const h of hierarchies) {
    for (const c of cgroupTree(h, s.names.cgroupRoot)) {
      cgroupsRemoved++;
      let removed = false;
      for (let i = 0; i < 50 && !removed; i++) {
        try {
          rmdirSync(c);
          removed = true;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      if (!removed) problems.push(`rmdir ${c}`);
    }
  }
  if (cgroupsRemoved) done.push(`cgroup /${s.names.cgroupRoot}`);
  // The kubelet links container logs into /var/log/containers; only links into our folder go.
  const legacy = '/var/log/containers';
  if (existsSync(legacy)) {
    for (const f of readdirSync(legacy)) {
      try {
        if (readlinkSync(join(legacy, f)).startsWith(`${s.podLogsDir}/`)) unlinkSync(join(legacy, f));
      } catch {
        // Not a link.
      }
    }
  }
  // libcni caches each attachment's result by network name and container id.
  const cniCache = '/var/lib/cni/results';
  if (existsSync(cniCache)) {
    for (const f of readdirSync(cniCache)) {
      if (f.startsWith(`${s.names.network}-`) || containerIds.some((id) => f === `cni-loopback-${id}-lo`)) rmSync(join(cniCache, f), { force: true });
    }
  }
  for (const d of s.createdHostDirs ?? []) {
    if (existsSync(d)) {
      rmSync(d, { recursive: true, force: true });
      done.push(`folder ${d}`);
    }
  }
  // With a mount still in place, deleting the folder would reach into it: keep it then.
  if (problems.length === 0) rmSync(s.root, { recursive: true, force: true });
  if (problems.length) throw new RealNodeError(`the real node was not fully removed:\n  ${problems.join('\n  ')}`);
  return done;
}

/** The pod start-up runs to prove the node can run a container, not just report Ready. */
export const NODE_CHECK_POD = 'baton-node-check';

/** Advice for why the check pod did not start, from the kubelet's Events about it. */
export function nodeCheckHint(messages: readonly string[]): string {
  const all = messages.join('\n');
  if (/can't get final child's PID from pipe|oom_score_adj/.test(all)) {
    return 'runc could not set the container\'s oom_score_adj (the machine lacks CAP_SYS_RESOURCE): containerd\'s CRI config needs restrict_oom_score_adj = true, and the kubelet --oom-score-adj=0 (node.ts sets both; check that the containerd in PATH reads <plane>/node/containerd.toml)';
  }
  if (/failed to (setup|set up) network|plugin type="bridge"|CNI/i.test(all)) {
    return `the CNI bridge could not attach the pod: check that containernetworking-plugins is installed in /usr/lib/cni and that ${REAL_NODE_SUBNET} is free`;
  }
  if (/cgroup/i.test(all)) {
    return 'the container could not be placed in its cgroup: the real node needs cgroup v1 with the cpu, cpuacct, cpuset, memory and pids controllers mounted under /sys/fs/cgroup';
  }
  if (/ErrImageNeverPull|image .* not present|not found/i.test(all)) {
    return `the pause image ${PAUSE_IMAGE} is missing from containerd: the import at start-up failed`;
  }
  return 'see kubelet.log and containerd.log in the plane\'s logs folder';
}

/** The check pod: the pause image (no network use, no token), on the real node only. */
export function nodeCheckPod(): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: NODE_CHECK_POD, namespace: 'kube-system' },
    spec: {
      nodeSelector: { [REAL_NODE_LABEL]: 'true' },
      tolerations: [{ key: REAL_NODE_TAINT.key, operator: 'Exists', effect: REAL_NODE_TAINT.effect }],
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 0,
      containers: [{ name: 'pause', image: PAUSE_IMAGE, imagePullPolicy: 'Never', resources: { limits: { memory: '8Mi', cpu: '10m' } } }],
    },
  };
}
