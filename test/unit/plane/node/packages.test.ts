
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { BootstrapError, ensureNodePackages, missingPackages, NODE_PACKAGES, type Runner } from '../../../../plane/node/packages.js';

describe('Debian packages for the real node', () => {
  const present = new Set(NODE_PACKAGES.map((p) => p.provides));
  const recorder = (results: Array<{ status: number | null; output: string; install?: string[] }>): { run: Runner; calls: string[][] } => {
    const calls: string[][] = [];
    let i = 0;
    const run: Runner = (cmd, args) => {
      calls.push([cmd, ...args]);
      const r = results[Math.min(i++, results.length - 1)]!;
      if (r.install) for (const p of r.install) present.add(p);
      return r;
    };
    return { run, calls };
  };

  it('does nothing when every package is there', () => {
    const { run, calls } = recorder([{ status: 0, output: '' }]);
    assert.deepEqual(ensureNodePackages(() => {}, { exists: (p) => present.has(p), run, isRoot: true }), []);
    assert.deepEqual(calls, []);
  });

  it('installs only what is missing, says so, and retries once after apt-get update', () => {
    present.delete('/usr/sbin/runc');
    present.delete('/usr/lib/cni/bridge');
    const said: string[] = [];
    const { run, calls } = recorder([{ status: 100, output: 'E: Unable to locate package runc' }, { status: 0, output: '' }, { status: 0, output: '', install: ['/usr/sbin/runc', '/usr/lib/cni/bridge'] }]);
    const names = ensureNodePackages((m) => said.push(m), { exists: (p) => present.has(p), run, isRoot: true });
    assert.deepEqual(names, ['runc', 'containernetworking-plugins']);
    assert.deepEqual(calls, [
      ['apt-get', 'install', '-y', '--no-install-recommends', 'runc', 'containernetworking-plugins'],
      ['apt-get', 'update'],
      ['apt-get', 'install', '-y', '--no-install-recommends', 'runc', 'containernetworking-plugins'],
    ]);
    assert.ok(said.some((m) => m.startsWith('installing runc with apt-get')));
  });

  it('fails with the command to run by hand when a package cannot be installed', () => {
    const exists = (p: string): boolean => p !== '/usr/bin/containerd';
    const noCandidate = { status: 100, output: 'E: Package containerd has no installation candidate' };
    const { run } = recorder([noCandidate, { status: 0, output: '' }, noCandidate]);
    assert.throws(() => ensureNodePackages(() => {}, { exists, run, isRoot: true }), (e: Error) => {
      assert.ok(e instanceof BootstrapError);
      assert.match(e.message, /could not install containerd/);
      assert.match(e.message, /apt-get update && apt-get install -y --no-install-recommends containerd/);
      assert.match(e.message, /no installation candidate/);
      return true;
    });
  });

  it('says when apt-get update itself fails', () => {
    const { run } = recorder([{ status: 100, output: '' }, { status: 100, output: 'Temporary failure resolving deb.debian.org' }]);
    assert.throws(() => ensureNodePackages(() => {}, { exists: (p) => p !== '/usr/sbin/runc', run, isRoot: true }), /apt-get update failed, so runc cannot be installed[^]*Temporary failure/);
  });

  it('fails without running apt-get when not root', () => {
    const { run, calls } = recorder([{ status: 0, output: '' }]);
    assert.throws(() => ensureNodePackages(() => {}, { exists: () => false, run, isRoot: false }), /needs root/);
    assert.deepEqual(calls, []);
  });

  it('fails when apt-get claims success but the file is still missing', () => {
    const { run } = recorder([{ status: 0, output: '' }]);
    assert.throws(() => ensureNodePackages(() => {}, { exists: (p) => p !== '/usr/sbin/nft', run, isRoot: true }), /\/usr\/sbin\/nft \(nftables\) is still missing/);
  });

  it('missingPackages keeps the order of the list', () => {
    fc.assert(
      fc.property(fc.subarray(NODE_PACKAGES.map((p) => p.provides)), (have) => {
        const missing = missingPackages(NODE_PACKAGES, (p) => have.includes(p));
        assert.deepEqual(missing, NODE_PACKAGES.filter((p) => !have.includes(p.provides)));
      }),
    );
  });
});
