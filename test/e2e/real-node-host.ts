// What the real node can leave on the machine, read from the kernel and the file system,
// so a test can compare the machine before `cluster up --real-node` and after `cluster down`.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HOST_DIRS } from '../../plane/node/host.js';

export interface HostSnapshot {
  readonly links: readonly string[];
  readonly routes: readonly string[];
  readonly addresses: readonly string[];
  /** iptables-save and ip6tables-save without counters and comments. */
  readonly rules: readonly string[];
  readonly nftTables: readonly string[];
  readonly mounts: readonly string[];
  /** Top-level cgroups of every v1 hierarchy, as <hierarchy>/<name>. */
  readonly cgroups: readonly string[];
  readonly netns: readonly string[];
  readonly hostDirs: readonly string[];
  readonly ipForward: string;
}

function out(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0 ? r.stdout : '';
}

function lines(text: string): string[] {
  return text.split('\n').map((l) => l.trimEnd()).filter((l) => l !== '');
}

export function snapshotHost(): HostSnapshot {
  const links = (JSON.parse(out('ip', ['-j', 'link']) || '[]') as Array<{ ifname: string }>).map((l) => l.ifname).sort();
  const routes = lines(out('ip', ['-4', 'route', 'show', 'table', 'all'])).sort();
  const addresses = lines(out('ip', ['-4', '-o', 'addr'])).map((l) => l.replace(/\s+valid_lft.*$/, '')).sort();
  const rules = ['iptables-save', 'ip6tables-save']
    .flatMap((c) => lines(out(c, [])).map((l) => `${c}: ${l.replace(/ \[\d+:\d+\]$/, '')}`))
    .filter((l) => !/: #/.test(l));
  const nftTables = lines(out('nft', ['list', 'tables'])).sort();
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m !== '')
    .sort();
  const cgroups: string[] = [];
  const base = '/sys/fs/cgroup';
  for (const h of existsSync(base) ? readdirSync(base) : []) {
    const dir = join(base, h);
    if (!existsSync(join(dir, 'cgroup.procs'))) continue;
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) cgroups.push(`${h}/${e.name}`);
  }
  const netns = existsSync('/var/run/netns') ? readdirSync('/var/run/netns').sort() : [];
  const hostDirs = HOST_DIRS.filter((d) => existsSync(d));
  const ipForward = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
  return { links, routes, addresses, rules, nftTables, mounts, cgroups: cgroups.sort(), netns, hostDirs, ipForward };
}

/** Pids whose command line mentions `needle` (the plane folder: every process the node starts names it). */
export function processesMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) pids.push(Number(entry));
    } catch {
      // Exited meanwhile.
    }
  }
  return pids;
}
