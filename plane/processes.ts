import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync, existsSync } from 'node:fs';

export interface ProcessRecord {
  readonly name: string;
  readonly pid: number;
  /** Field 22 of /proc/<pid>/stat: tells a live process from a recycled pid. */
  readonly startTime: string;
  readonly log: string;
}

/**
 * Starts a long-running child in its own process group with output to a log file, so
 * it survives the CLI that started it and can be stopped later by pid alone.
 */
export function startProcess(
  name: string,
  command: string,
  args: readonly string[],
  { log, env, cwd }: { log: string; env?: NodeJS.ProcessEnv; cwd?: string },
): ProcessRecord {
  const fd = openSync(log, 'a');
  try {
    const child = spawn(command, args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: env ?? process.env,
      cwd,
    });
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start ${name} (${command})`);
    return { name, pid: child.pid, startTime: procStartTime(child.pid) ?? '', log };
  } finally {
    closeSync(fd);
  }
}

function procStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces; fields after it are fixed.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19];
  } catch {
    return undefined;
  }
}

export function isAlive(record: ProcessRecord): boolean {
  if (!existsSync(`/proc/${record.pid}`)) return false;
  const start = procStartTime(record.pid);
  if (start === undefined) return false;
  if (record.startTime !== '' && start !== record.startTime) return false;
  try {
    const state = readFileSync(`/proc/${record.pid}/stat`, 'utf8');
    return !/\) Z /.test(state);
  } catch {
    return false;
  }
}

/** SIGTERM to the process group, then SIGKILL after the grace period. */
export async function stopProcess(record: ProcessRecord, graceMs = 10_000): Promise<void> {
  if (!isAlive(record)) return;
  signal(record.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(record)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  signal(record.pid, 'SIGKILL');
  const killDeadline = Date.now() + 5_000;
  while (isAlive(record) && Date.now() < killDeadline) await new Promise((r) => setTimeout(r, 50));
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      // Already gone.
    }
  }
}

/** The last lines of a process log, for error messages that point at the cause. */
export function tail(path: string, lines = 15): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
