// What the figures were measured on; they mean little without it.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { Api } from './api.js';

export interface Machine {
  readonly nproc: number;
  readonly cpuModel: string;
  readonly memoryGb: number;
  readonly os: string;
  readonly node: string;
  readonly kube: string;
  /** 1-minute load average when the bench started: other work on the machine shows here. */
  readonly loadAtStart: number;
}

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m?.[1]) return m[1].trim();
  } catch {
    // Not Linux, or /proc hidden: fall back to what Node knows.
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

export async function describeMachine(api: Api): Promise<Machine> {
  const version = await api.get<{ gitVersion?: string }>('/version').catch(() => ({ gitVersion: 'unknown' }));
  return {
    nproc: os.availableParallelism(),
    cpuModel: cpuModel(),
    memoryGb: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    kube: version.gitVersion ?? 'unknown',
    loadAtStart: Math.round(os.loadavg()[0]! * 100) / 100,
  };
}
