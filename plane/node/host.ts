// The machine-wide state a real node touches: forwarding, iptables and nftables, the
// address ranges; checked before start and read back by teardown. Commands run as root.
import { spawnSync } from 'node:child_process';
import { conflicts, describeConflicts, parseInUse, type NodeNames } from './network.js';

export const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward';

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
export const IPTABLES_TABLES = ['filter', 'nat', 'mangle'] as const;
/** kube-proxy writes IPv4 and IPv6 rules whenever the kernel has IPv6. */
export const IPTABLES_TOOLS = [
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

export function sh(cmd: string, args: readonly string[], what: string): string {
  const r = spawnSync(cmd, [...args], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new RealNodeError(`${what} failed (${cmd} ${args.join(' ')}): ${(r.stderr || r.error?.message || '').trim()}`);
  return r.stdout;
}

export function trySh(cmd: string, args: readonly string[]): { ok: boolean; out: string } {
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
