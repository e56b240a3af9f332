// Undoes a real node: stops its programs and everything in its cgroups, and removes what
// it made on the machine (iptables chains, mounts, veths, the bridge, folders).
import { existsSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive, stopProcess, type ProcessRecord } from '../processes.js';
import type { RealNodeState } from './node.js';
import { cgroupHierarchies, cgroupTree, pidsIn } from './cgroups.js';
import { forwardChain, IPTABLES_TOOLS, KUBE_FIXED_CHAINS, RealNodeError, trySh, declaredChains, rulesJumpingTo, IP_FORWARD, isPristine, IPTABLES_TABLES } from './host.js';

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
