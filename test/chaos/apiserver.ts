// Restarts a running plane's kube-apiserver in place: same binary, same arguments
// (taken from /proc/<pid>/cmdline while it still runs), same port, certificates and
// audit log. The new process replaces the old one in the plane's state.json so that
// stopPlane() still finds and stops it.
import { readFileSync, writeFileSync } from 'node:fs';
import { apiGet } from '../../plane/api.js';
import { readState, statePath, type PlaneState } from '../../plane/state.js';
import { isAlive, startProcess, stopProcess, tail, type ProcessRecord } from '../../plane/processes.js';
import { waitFor } from '../../plane/wait.js';

const NAME = 'kube-apiserver';

export interface Restart {
  /** From the stop signal until /readyz answered 200 again. */
  readonly unavailableMs: number;
}

function commandLine(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((part) => part !== '');
}

function replaceRecord(dir: string, old: ProcessRecord, fresh: ProcessRecord): void {
  const state = readState(dir);
  if (!state) throw new Error(`no plane state in ${dir}`);
  const processes = state.processes.map((p) => (p.pid === old.pid && p.name === old.name ? fresh : p));
  const next: PlaneState = { ...state, processes };
  writeFileSync(statePath(dir), JSON.stringify(next, null, 2), { mode: 0o600 });
}

/** Stops the apiserver (SIGTERM, SIGKILL after `graceMs`), keeps it down `downMs`, starts it again. */
export async function restartApiserver(dir: string, { downMs = 500, graceMs = 5_000, readyTimeoutMs = 60_000 } = {}): Promise<Restart> {
  const state = readState(dir);
  const old = state?.processes.find((p) => p.name === NAME);
  if (!state || !old) throw new Error(`no ${NAME} recorded in ${statePath(dir)}`);
  if (!isAlive(old)) throw new Error(`${NAME} (pid ${old.pid}) is not running; nothing to restart`);
  const [binary, ...args] = commandLine(old.pid);
  if (!binary) throw new Error(`cannot read the command line of ${NAME} (pid ${old.pid})`);

  const started = Date.now();
  let fresh: ProcessRecord | undefined;
  try {
    await stopProcess(old, graceMs);
    await new Promise((r) => setTimeout(r, downMs));
  } finally {
    // Even if stopping misbehaved, the plane must end up with an apiserver that runs.
    fresh = startProcess(NAME, binary, args, { log: old.log });
    replaceRecord(dir, old, fresh);
  }
  const running = fresh;
  await waitFor(
    `${NAME} /readyz after the restart`,
    async () => {
      if (!isAlive(running)) throw new Error(`${NAME} exited after the restart:\n${tail(running.log)}`);
      return (await apiGet(state, '/readyz')).status === 200 ? true : undefined;
    },
    { timeoutMs: readyTimeoutMs, intervalMs: 100 },
  );
  return { unavailableMs: Date.now() - started };
}
