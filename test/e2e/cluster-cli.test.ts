// `baton cluster up|status|down` as a user runs them, on a plane of its own, plus the
// failures a user meets: a taken port, a corrupt cache, bad KUBEBUILDER_ASSETS.
import test from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, chmodSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheDir } from '../../plane/paths.js';
import { isListening } from '../../plane/ports.js';
import { isAlive } from '../../plane/processes.js';
import type { PlaneState } from '../../plane/state.js';
import { batonCli } from './support/cli.js';

const baton = batonCli;

test('cluster up prints a kubeconfig, status reports it, down leaves no process and no port', async (t) => {
  const stateDir = mkdtempSync(join(tmpdir(), 'baton-cli-'));
  const env = { BATON_STATE_DIR: stateDir };
  t.after(() => baton(['cluster', 'down'], env));

  const up = await baton(['cluster', 'up', '--nodes', '1'], env);
  assert.equal(up.code, 0, up.stderr);
  assert.match(up.stdout, new RegExp(`kubeconfig: ${join(stateDir, 'kubeconfig')}`));
  const state = JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')) as PlaneState;
  assert.equal(state.processes.length, 5);

  const again = await baton(['cluster', 'up'], env);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /already running .* reusing it/);

  const status = await baton(['cluster', 'status'], env);
  assert.equal(status.code, 0, status.stdout + status.stderr);
  assert.match(status.stdout, /apiserver: +https:\/\/127\.0\.0\.1:\d+ ready/);
  for (const name of ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok']) assert.match(status.stdout, new RegExp(`${name} +pid \\d+ +running`));

  const get = await baton(['kubectl', '--', 'get', 'nodes', '-o', 'name'], env);
  assert.equal(get.code, 0, get.stderr);
  assert.match(get.stdout, /node\/kwok-node-0/);

  const down = await baton(['cluster', 'down'], env);
  assert.equal(down.code, 0, down.stderr);
  assert.match(down.stdout, /stopped .*kube-apiserver/);
  // An exited child whose parent CLI is gone may linger as a zombie until PID 1 reaps it.
  for (const p of state.processes) assert.equal(isAlive(p), false, `${p.name} (pid ${p.pid}) still runs`);
  for (const [name, port] of Object.entries(state.ports)) assert.equal(await isListening(port), false, `${name} port ${port} still listening`);
  assert.equal(existsSync(stateDir), false);

  const after = await baton(['cluster', 'status'], env);
  assert.equal(after.code, 3);
  assert.match(after.stdout, /no local plane/);
});

test('cluster up on a taken port says so and starts nothing', async (t) => {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as net.AddressInfo).port;
  const stateDir = mkdtempSync(join(tmpdir(), 'baton-cli-'));
  const up = await baton(['cluster', 'up', '--apiserver-port', String(port)], { BATON_STATE_DIR: stateDir });
  assert.notEqual(up.code, 0);
  assert.match(up.stderr, new RegExp(`port ${port} .* already in use; stop whatever listens there`));
  assert.equal(existsSync(join(stateDir, 'state.json')), false);
});

test('a corrupt binary cache is reported with what to do', async () => {
  // A copy of the real cache's etcd entry (checked first) whose manifest no longer
  // matches the binary.
  const fake = mkdtempSync(join(tmpdir(), 'baton-cache-'));
  const etcdDir = readdirSync(join(cacheDir(), 'bin')).find((d) => d.startsWith('etcd-') && !d.includes('.tmp'));
  assert.ok(etcdDir, 'the real cache should hold an etcd build');
  cpSync(join(cacheDir(), 'bin', etcdDir), join(fake, 'bin', etcdDir), { recursive: true });
  const manifest = join(fake, 'bin', etcdDir, 'manifest.json');
  const parsed = JSON.parse(readFileSync(manifest, 'utf8')) as { files: Record<string, number> };
  parsed.files.etcd = 1;
  writeFileSync(manifest, JSON.stringify(parsed));
  const stateDir = mkdtempSync(join(tmpdir(), 'baton-cli-'));
  const up = await baton(['cluster', 'up'], { BATON_STATE_DIR: stateDir, BATON_CACHE_DIR: fake });
  assert.equal(up.code, 1);
  assert.match(up.stderr, /binary cache is corrupt: .*etcd has size \d+, expected 1\. Remove .* \(or run `baton cluster build --force`\)/);
  rmSync(fake, { recursive: true, force: true });
});

test('KUBEBUILDER_ASSETS that does not exist, or holds a non-executable binary, is named in the error', async () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'baton-cli-'));
  const missing = await baton(['cluster', 'up'], { BATON_STATE_DIR: stateDir, KUBEBUILDER_ASSETS: '/nonexistent/assets' });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /KUBEBUILDER_ASSETS=\/nonexistent\/assets does not exist/);

  const assets = mkdtempSync(join(tmpdir(), 'baton-assets-'));
  mkdirSync(assets, { recursive: true });
  writeFileSync(join(assets, 'etcd'), 'not a program');
  chmodSync(join(assets, 'etcd'), 0o644);
  const notExec = await baton(['cluster', 'up'], { BATON_STATE_DIR: stateDir, KUBEBUILDER_ASSETS: assets });
  assert.equal(notExec.code, 1);
  assert.match(notExec.stderr, /KUBEBUILDER_ASSETS: .*etcd is not executable/);
});
