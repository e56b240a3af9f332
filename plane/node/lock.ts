import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';

/**
 * One machine holds one real node: the node's iptables chains, the cluster range and a few
 * host folders have fixed names. The lock names the plane folder that owns them; /run is
 * emptied on reboot, so a lock cannot outlive the machine's state.
 */
export const NODE_LOCK = '/run/baton-real-node.lock';

export class NodeLockError extends Error {}

/**
 * Takes the lock for `dir`. A lock held by another plane folder that still runs (per
 * `isLive`) is refused with what to do; one left by a plane that no longer runs is taken over.
 */
export function acquireNodeLock(dir: string, isLive: (owner: string) => boolean, path = NODE_LOCK): void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      try {
        writeSync(fd, dir);
      } finally {
        closeSync(fd);
      }
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const owner = readOwner(path);
    if (owner === dir) return;
    if (owner !== undefined && isLive(owner)) {
      throw new NodeLockError(
        `a real node already runs from ${owner}, and one machine holds one real node. Stop it with \`BATON_STATE_DIR=${owner} baton cluster down\`, or run without --real-node.`,
      );
    }
    // Stale: its plane is gone. Replace it and try once more (another taker may win).
    rmSync(path, { force: true });
  }
  throw new NodeLockError(`could not take ${NODE_LOCK}: another plane took it at the same moment; try again`);
}

/** Releases the lock if `dir` holds it; never removes another plane's lock. */
export function releaseNodeLock(dir: string, path = NODE_LOCK): void {
  if (readOwner(path) === dir) rmSync(path, { force: true });
}

function readOwner(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return readFileSync(path, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** For tests: writes a lock as another plane would. */
export function writeLockFor(dir: string, path: string): void {
  writeFileSync(path, dir, { mode: 0o600 });
}
