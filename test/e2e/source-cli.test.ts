// `baton source` and `baton run` as a user runs them: each stays in the foreground, and
// a signal stops it and what it started, leaving no process and no listening port.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../plane/paths.js';
import { freePort, isListening } from '../../plane/ports.js';
import { waitFor } from '../../plane/wait.js';
import { testPlane } from './support/plane.js';

/** A live process with this pid (a zombie waiting to be reaped does not count). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

test('baton source stays in the foreground and stops its adapter on SIGTERM', { timeout: 90_000 }, async (t) => {
  const sink = http.createServer((_req, res) => res.writeHead(202).end());
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => (sink.closeAllConnections(), sink.close(() => resolve()))));
  const address = sink.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  const env = { ...process.env, KUBECONFIG: testPlane().kubeconfig, BATON_STATE_DIR: mkdtempSync(join(tmpdir(), 'baton-source-')) };
  const cli = spawn(process.execPath, [join(repoRoot(), 'bin', 'baton.js'), 'source', '--sink', `http://127.0.0.1:${port}/`, '-n', 'default'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  cli.stdout.on('data', (d: Buffer) => (output += d.toString()));
  cli.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number>((resolve) => cli.on('close', (code) => resolve(code ?? 1)));
  t.after(() => void cli.kill('SIGKILL'));

  const pid = await waitFor('the adapter to start', () => {
    const m = /adapter running \(pid (\d+)\)/.exec(output);
    return m ? Number(m[1]) : undefined;
  }, { timeoutMs: 60_000, intervalMs: 100 });
  await new Promise((r) => setTimeout(r, 1_500));
  assert.equal(cli.exitCode, null, `baton source returned while its adapter runs: ${output}`);
  assert.ok(running(pid), 'the adapter runs');

  cli.kill('SIGTERM');
  assert.equal(await exited, 0, output);
  await waitFor(`adapter pid ${pid} to be gone`, () => (running(pid) ? undefined : true), { timeoutMs: 10_000, intervalMs: 100 });
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`baton run stays in the foreground and ${signal} stops it and frees its port`, { timeout: 90_000 }, async (t) => {
    const port = await freePort();
    const env = { ...process.env, KUBECONFIG: testPlane().kubeconfig, BATON_NAMESPACES: 'default' };
    const cli = spawn(process.execPath, [join(repoRoot(), 'bin', 'baton.js'), 'run', 'failover', '--port', String(port)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    cli.stdout.on('data', (d: Buffer) => (output += d.toString()));
    cli.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number>((resolve) => cli.on('close', (code) => resolve(code ?? 1)));
    t.after(() => void cli.kill('SIGKILL'));

    await waitFor('the function to listen', async () => ((await isListening(port)) ? true : undefined), { timeoutMs: 60_000, intervalMs: 100 });
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(cli.exitCode, null, `baton run returned while its function runs: ${output}`);

    cli.kill(signal);
    assert.equal(await exited, 0, output);
    assert.match(output, new RegExp(`shutting down.*${signal}|${signal}.*shutting down`), 'the function says why it stops');
    assert.equal(await isListening(port), false, `port ${port} is free again`);
  });
}
