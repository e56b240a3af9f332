// baton functions as their own processes, started the way the container starts them
// (node dist/functions/serve.js <fn>), with output to a file so that a stream of
// thousands of log lines per second costs the bench nothing, and with the figures
// only the kernel knows: CPU time and peak resident memory.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { functionNodeOptions } from '../plane/node-options.js';
import { repoRoot } from '../plane/paths.js';
import { freePort } from '../plane/ports.js';
import { now, poll, sleep } from './util.js';

export interface RunningFunction {
  readonly fn: 'failover' | 'resync';
  readonly url: string;
  readonly pid: number;
  readonly logFile: string;
  /** Just before spawn(). */
  readonly spawnedAt: number;
  /** First 200 from /readyz. */
  readonly readyAt: number;
  cpuSeconds(): number;
  peakRssMb(): number;
  logLines(): string[];
  /** Resolves once the log has not grown for `quietMs`: nothing is being delivered to the function. */
  quiet(quietMs: number, timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

let clockTicks: number | undefined;
const live = new Set<ChildProcess>();

/** SIGKILL to every function process still running; synchronous, for process 'exit'. */
export function killRemaining(): void {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
}

function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** utime + stime of a live process, in seconds. */
export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may hold spaces; after its closing parenthesis, field 3 comes first.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond();
}

export function peakRssMbOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmHWM:\s+(\d+)\s+kB/m.exec(status)?.[1];
  return kb ? Number(kb) / 1024 : Number.NaN;
}

function getStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: 1_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

export interface SpawnOptions {
  readonly fn: 'failover' | 'resync';
  readonly env: Readonly<Record<string, string>>;
  readonly logFile: string;
  readonly readyTimeoutMs?: number;
  /** Flags for node itself (some, like --cpu-prof, are refused in NODE_OPTIONS). */
  readonly nodeArgs?: readonly string[];
}

export async function spawnFunction(options: SpawnOptions): Promise<RunningFunction> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const fd = openSync(options.logFile, 'a');
  let child: ChildProcess;
  const spawnedAt = now();
  try {
    child = spawn(process.execPath, [...(options.nodeArgs ?? []), join(repoRoot(), 'dist', 'functions', 'serve.js'), options.fn], {
      // NODE_OPTIONS as the image sets them: the heap caps, and the flags the code cache was made under.
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'info', NODE_OPTIONS: functionNodeOptions(), ...options.env, PORT: String(port), BATON_HOST: '127.0.0.1' },
      stdio: ['ignore', fd, fd],
    });
  } finally {
    closeSync(fd);
  }
  const pid = child.pid;
  live.add(child);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      live.delete(child);
      resolve();
    }),
  );
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const gone = await Promise.race([exited.then(() => true), sleep(5_000).then(() => false)]);
    if (!gone) {
      child.kill('SIGKILL');
      await Promise.race([exited, sleep(2_000)]);
    }
  };
  const logLines = (): string[] => readFileSync(options.logFile, 'utf8').split('\n').filter(Boolean);
  if (pid === undefined) throw new Error(`could not start baton ${options.fn}`);

  // Tight polling: start-up is one of the figures, and a coarse interval would be
  // measured instead of the process.
  const deadline = Date.now() + (options.readyTimeoutMs ?? 20_000);
  let readyAt: number | undefined;
  while (readyAt === undefined) {
    if (child.exitCode !== null) throw new Error(`baton ${options.fn} exited with ${child.exitCode}:\n${logLines().slice(-15).join('\n')}`);
    if ((await getStatus(`${url}/readyz`)) === 200) readyAt = now();
    else if (Date.now() > deadline) {
      await stop();
      throw new Error(`baton ${options.fn} did not answer /readyz with 200 within ${options.readyTimeoutMs ?? 20_000} ms:\n${logLines().slice(-15).join('\n')}`);
    } else await sleep(2);
  }
  return {
    fn: options.fn,
    url,
    pid,
    logFile: options.logFile,
    spawnedAt,
    readyAt,
    cpuSeconds: () => cpuSecondsOf(pid),
    peakRssMb: () => peakRssMbOf(pid),
    logLines,
    quiet: async (quietMs, timeoutMs) => {
      let size = -1;
      let since = Date.now();
      await poll(
        `baton ${options.fn} to go quiet for ${quietMs} ms (its log kept growing)`,
        () => {
          const current = statSync(options.logFile).size;
          if (current !== size) {
            size = current;
            since = Date.now();
          }
          return Date.now() - since >= quietMs ? true : undefined;
        },
        timeoutMs,
        100,
      );
    },
    stop,
  };
}

export interface WireEvent {
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

export interface Delivery {
  readonly status: number;
  readonly outcome: string | undefined;
  readonly ms: number;
}

/** One CloudEvent POSTed the way the adapter does it; resolves with the reply's status and outcome header. */
export function deliver(url: string, event: WireEvent, agent: http.Agent | false = false): Promise<Delivery> {
  const started = now();
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, timeout: 10_000, headers: { ...event.headers, 'content-length': String(event.body.length) } }, (res) => {
      res.resume();
      res.on('end', () => {
        const outcome = res.headers['baton-outcome'];
        resolve({ status: res.statusCode ?? 0, outcome: typeof outcome === 'string' ? outcome : undefined, ms: now() - started });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`POST ${url} timed out`)));
    req.on('error', reject);
    req.end(event.body);
  });
}
