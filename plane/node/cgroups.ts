// cgroup v1 placement of the node's processes, so that teardown can find every one of
// them (containers and shims included) by cgroup rather than by guessing.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeNames } from './network.js';
import { RealNodeError } from './host.js';

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

export function makeCgroup(hierarchy: string, path: string): void {
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
export function enterCgroup(pid: number, names: NodeNames, leaf: string): void {
  for (const h of cgroupHierarchies()) {
    makeCgroup(h, join(names.cgroupRoot, leaf));
    writeFileSync(join(h, names.cgroupRoot, leaf, 'cgroup.procs'), String(pid));
  }
}

export function cgroupTree(hierarchy: string, root: string): string[] {
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

export function pidsIn(cgroups: readonly string[]): number[] {
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
