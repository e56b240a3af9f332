import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Progress } from '../components.js';

/** A Debian package the real node needs, and a file whose presence shows it is installed. */
export interface NodePackage {
  readonly name: string;
  readonly provides: string;
  readonly why: string;
}

/**
 * What the real node runs that is not built from Go modules. Debian's builds are used
 * because they are what was checked on this machine kind (containerd 1.6, runc 1.1).
 */
export const NODE_PACKAGES: readonly NodePackage[] = [
  { name: 'containerd', provides: '/usr/bin/containerd', why: 'the container runtime the kubelet talks CRI to' },
  { name: 'runc', provides: '/usr/sbin/runc', why: 'the OCI runtime containerd starts containers with' },
  { name: 'containernetworking-plugins', provides: '/usr/lib/cni/bridge', why: 'the bridge, host-local and loopback CNI plugins' },
  { name: 'iptables', provides: '/usr/sbin/iptables', why: 'kube-proxy (iptables mode) and the bridge plugin write rules with it' },
  { name: 'nftables', provides: '/usr/sbin/nft', why: '`kube-proxy --cleanup` checks for nftables rules too, and fails without nft' },
  { name: 'conntrack', provides: '/usr/sbin/conntrack', why: 'kube-proxy clears stale UDP conntrack entries with it' },
];

/** The packages whose marker file is absent; `exists` is injected so the decision is pure. */
export function missingPackages(packages: readonly NodePackage[], exists: (path: string) => boolean): NodePackage[] {
  return packages.filter((p) => !exists(p.provides));
}

export class BootstrapError extends Error {}

export type Runner = (cmd: string, args: readonly string[], env: NodeJS.ProcessEnv) => { status: number | null; output: string };

const defaultRunner: Runner = (cmd, args, env) => {
  const r = spawnSync(cmd, [...args], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) return { status: null, output: r.error.message };
  return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
};

/** The apt-get invocation that installs `names`; never installs recommends (keeps the node small). */
export function aptInstallArgs(names: readonly string[]): string[] {
  return ['install', '-y', '--no-install-recommends', ...names];
}

/**
 * Installs what the real node lacks with apt-get, saying so first. Fails with a message
 * that names the packages and the command to run by hand when apt-get cannot install them.
 */
export function ensureNodePackages(
  progress: Progress,
  { exists = existsSync, run = defaultRunner, packages = NODE_PACKAGES, isRoot = process.getuid?.() === 0 }: { exists?: (p: string) => boolean; run?: Runner; packages?: readonly NodePackage[]; isRoot?: boolean } = {},
): readonly string[] {
  const missing = missingPackages(packages, exists);
  if (missing.length === 0) return [];
  const names = missing.map((p) => p.name);
  const byHand = `apt-get update && apt-get ${aptInstallArgs(names).join(' ')}`;
  if (!isRoot) {
    throw new BootstrapError(`the real node needs the Debian packages ${names.join(', ')}, and installing them needs root. Run as root: ${byHand}`);
  }
  for (const p of missing) progress(`installing ${p.name} with apt-get (${p.why})…`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = run('apt-get', aptInstallArgs(names), env);
  if (r.status !== 0) {
    // A fresh machine often has no package lists yet; refresh once and retry.
    progress('apt-get install failed; refreshing the package lists (apt-get update) and retrying…');
    const u = run('apt-get', ['update'], env);
    if (u.status !== 0) throw new BootstrapError(`apt-get update failed, so ${names.join(', ')} cannot be installed. Fix the Debian mirror access, then run: ${byHand}\n${lastLines(u.output)}`);
    r = run('apt-get', aptInstallArgs(names), env);
  }
  if (r.status !== 0) throw new BootstrapError(`apt-get could not install ${names.join(', ')} (exit ${r.status ?? 'none'}). Install them by hand and retry: ${byHand}\n${lastLines(r.output)}`);
  const still = missingPackages(missing, exists);
  if (still.length > 0) {
    throw new BootstrapError(`apt-get reported success but ${still.map((p) => `${p.provides} (${p.name})`).join(', ')} is still missing; check the package contents with dpkg -L`);
  }
  return names;
}

function lastLines(text: string, n = 8): string {
  return text.trimEnd().split('\n').slice(-n).join('\n');
}
