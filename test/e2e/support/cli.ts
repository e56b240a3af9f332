// The `baton` command as a user runs it: bin/baton.js in a child process, with extra
// environment, its output collected.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../../../plane/paths.js';

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout and stderr interleaved as they came. */
  readonly out: string;
}

export function batonCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(repoRoot(), 'bin', 'baton.js'), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let out = '';
    child.stdout.on('data', (d: Buffer) => ((stdout += d.toString()), (out += d.toString())));
    child.stderr.on('data', (d: Buffer) => ((stderr += d.toString()), (out += d.toString())));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr, out }));
  });
}
