import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mkdtempSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  CLUSTER_RANGE,
  conflicts,
  describeConflicts,
  KWOK_POD_RANGE,
  MAX_KWOK_NODES_WITH_REAL_NODE,
  nodeNames,
  overlaps,
  parseCidr,
  parseInUse,
  POD_RANGE,
  REAL_NODE_GATEWAY,
  REAL_NODE_SUBNET,
  SERVICE_RANGE,
} from '../../../../plane/node/network.js';
import { BootstrapError, ensureNodePackages, missingPackages, NODE_PACKAGES, type Runner } from '../../../../plane/node/packages.js';
import { buildImageArchive, imageConfig } from '../../../../plane/node/images.js';
import { dockerfileBases, nodeMajorOf, qualified } from '../../../../plane/node/project-image.js';
import { acquireNodeLock, NodeLockError, releaseNodeLock, writeLockFor } from '../../../../plane/node/lock.js';
import { nodeCheckHint, nodeCheckPod } from '../../../../plane/node/check-pod.js';
import { cniConfig, containerdConfig, corefile, kubeletConfig } from '../../../../plane/node/configs.js';
import { declaredChains, forwardRules, isPristine, parseNftTables, rulesJumpingTo } from '../../../../plane/node/host.js';
import { planNode } from '../../../../plane/node/node.js';
import { mountsUnder } from '../../../../plane/node/teardown.js';

const PRIVATE = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'];
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));
const cidr = fc.tuple(ipv4, fc.nat(32)).map(([a, p]) => `${a}/${p}`);

describe('address plan', () => {
  it('pods and Services sit in separate halves of 198.18.0.0/15, clear of the private ranges', () => {
    assert.ok(overlaps(POD_RANGE, CLUSTER_RANGE) && overlaps(SERVICE_RANGE, CLUSTER_RANGE));
    assert.equal(overlaps(POD_RANGE, SERVICE_RANGE), false);
    for (const r of [CLUSTER_RANGE, POD_RANGE, SERVICE_RANGE, REAL_NODE_SUBNET, KWOK_POD_RANGE, `${REAL_NODE_GATEWAY}/32`]) {
      for (const p of PRIVATE) assert.equal(overlaps(r, p), false, `${r} overlaps ${p}`);
    }
    assert.ok(overlaps(REAL_NODE_SUBNET, POD_RANGE));
    // kwok's fake pod addresses and the kwok nodes' /24s stay below the real node's subnet.
    assert.equal(overlaps(KWOK_POD_RANGE, REAL_NODE_SUBNET), false);
    assert.equal(overlaps(`198.18.${MAX_KWOK_NODES_WITH_REAL_NODE - 1}.0/24`, REAL_NODE_SUBNET), false);
  });

  it('parseCidr rejects what is not an IPv4 CIDR', () => {
    for (const bad of ['198.18.0.0', '198.18.0.256/24', '198.18.0.0/33', 'fd00::/64', '', '1.2.3.4/24 ']) assert.throws(() => parseCidr(bad), /not an IPv4 CIDR/);
    assert.deepEqual(parseCidr('198.18.128.7/24'), { base: ((198 << 24) >>> 0) + (18 << 16) + (128 << 8), prefix: 24 });
  });

  it('overlaps is symmetric, reflexive, and true exactly when one range contains the other', () => {
    fc.assert(
      fc.property(cidr, cidr, (a, b) => {
        assert.equal(overlaps(a, b), overlaps(b, a));
        assert.equal(overlaps(a, a), true);
        const x = parseCidr(a);
        const y = parseCidr(b);
        const containsFirst = (outer: typeof x, inner: typeof y): boolean =>
          outer.prefix <= inner.prefix && (outer.prefix === 0 || inner.base >>> (32 - outer.prefix) === outer.base >>> (32 - outer.prefix));
        assert.equal(overlaps(a, b), containsFirst(x, y) || containsFirst(y, x));
      }),
    );
  });

  it('names every kernel object after the plane folder, within interface-name limits', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), (dir) => {
        const n = nodeNames(`/tmp/${dir}`);
        assert.ok(n.bridge.length <= 15);
        assert.match(n.bridge, /^btn[0-9a-f]{8}$/);
        assert.equal(n.cgroupRoot, `baton-${n.id}`);
      }),
    );
    assert.notEqual(nodeNames('/tmp/a').bridge, nodeNames('/tmp/b').bridge);
  });

  it('finds addresses and routes that collide with the cluster range, except on our own bridge', () => {
    const addr = JSON.stringify([
      { ifname: 'lo', addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8 }] },
      { ifname: 'eth0', addr_info: [{ family: 'inet', local: '192.0.2.2', prefixlen: 24 }, { family: 'inet6', local: 'fd00::2', prefixlen: 64 }] },
      { ifname: 'btnown', addr_info: [{ family: 'inet', local: '198.18.128.1', prefixlen: 24 }] },
      { ifname: 'docker0', addr_info: [{ family: 'inet', local: '198.19.0.1', prefixlen: 16 }] },
    ]);
    const routes = JSON.stringify([{ dst: 'default', dev: 'eth0' }, { dst: '198.18.0.0/15', dev: 'btnown' }, { dst: '198.16.0.0/14', dev: 'tun0' }, { dst: '192.0.2.0/24', dev: 'eth0' }]);
    const found = conflicts(parseInUse(addr, routes), 'btnown');
    assert.deepEqual(found, [
      { dev: 'docker0', cidr: '198.19.0.1/16', kind: 'address' },
      { dev: 'tun0', cidr: '198.16.0.0/14', kind: 'route' },
    ]);
    const message = describeConflicts(found);
    assert.match(message, /198\.18\.0\.0\/15/);
    assert.match(message, /docker0/);
    assert.match(message, /baton cluster down/);
    assert.deepEqual(conflicts(parseInUse(addr, routes), 'btnown').length > 0, true);
    assert.deepEqual(conflicts(parseInUse('[]', JSON.stringify([{ dst: 'default', dev: 'eth0' }, { type: 'unreachable', dst: '203.0.113.0/24' }, { dev: 'lo' }])), 'x'), []);
    // Output of another shape is refused, not misread as "nothing in use".
    assert.throws(() => parseInUse(JSON.stringify([{ ifname: 'eth0', addr_info: [{ family: 'inet', local: 7 }] }]), '[]'));
  });
});

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

describe('images made here', () => {
  it('a one-binary archive whose config names the layer by the digest of its bytes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'baton-image-'));
    const bin = join(dir, 'hello');
    writeFileSync(bin, '#!/bin/true\n');
    chmodSync(bin, 0o755);
    const archive = buildImageArchive({ ref: 'baton.local/hello:v1', binary: bin, user: '65534:65534' }, dir);
    const list = spawnSync('tar', ['-tf', archive], { encoding: 'utf8' }).stdout.trim().split('\n');
    assert.equal(list.length, 3);
    const read = (f: string): Buffer => spawnSync('tar', ['-xOf', archive, f]).stdout;
    const manifest = JSON.parse(read('manifest.json').toString()) as Array<{ Config: string; RepoTags: string[]; Layers: string[] }>;
    assert.deepEqual(manifest[0]!.RepoTags, ['baton.local/hello:v1']);
    const configBytes = read(manifest[0]!.Config);
    assert.equal(manifest[0]!.Config, `${createHash('sha256').update(configBytes).digest('hex')}.json`);
    const config = JSON.parse(configBytes.toString()) as { rootfs: { diff_ids: string[] }; config: { Entrypoint: string[]; User: string } };
    assert.deepEqual(config.rootfs.diff_ids, [`sha256:${createHash('sha256').update(read('layer.tar')).digest('hex')}`]);
    assert.deepEqual(config.config.Entrypoint, ['/hello']);
    assert.equal(config.config.User, '65534:65534');
    // Reproducible: the same binary gives the same archive.
    const again = buildImageArchive({ ref: 'baton.local/hello:v1', binary: bin, user: '65534:65534' }, dir);
    assert.deepEqual(readFileSync(again), readFileSync(archive));
  });

  it('imageConfig never runs as root', () => {
    assert.notEqual((imageConfig('/x', '65534:65534', 'sha256:00') as { config: { User: string } }).config.User, '0');
  });
});

describe('local stand-ins for the Dockerfile bases', () => {
  it('reads the FROM references, leaving out stage names', () => {
    const df = 'FROM node:20-slim AS build\nRUN x\nFROM --platform=linux/amd64 node:20-slim AS deps\nFROM build AS again\nfrom node:24-slim\n';
    assert.deepEqual(dockerfileBases(df), ['node:20-slim', 'node:24-slim']);
  });
  it('knows the Node.js major of official node references only', () => {
    assert.equal(nodeMajorOf('node:24-slim'), 24);
    assert.equal(nodeMajorOf('docker.io/library/node:20'), 20);
    assert.equal(nodeMajorOf('node:lts-slim'), undefined);
    assert.equal(nodeMajorOf('evil.example/node:24-slim'), undefined);
    assert.equal(qualified('node:24-slim'), 'docker.io/library/node:24-slim');
    assert.equal(qualified('ghcr.io/x/y:1'), 'ghcr.io/x/y:1');
  });
});

describe('node configuration', () => {
  const s = planNode('/tmp/baton-plane-x');

  it('keeps containerd, runc, CNI and the kubelet inside the plane folder, with the oom setting', () => {
    const toml = containerdConfig(s);
    assert.match(toml, /restrict_oom_score_adj = true/);
    assert.match(toml, /netns_mounts_under_state_dir = true/);
    for (const key of ['root', 'state', 'address', 'path', 'Root', 'conf_dir']) {
      for (const m of toml.matchAll(new RegExp(`^\\s*${key} = "([^"]*)"`, 'gm'))) assert.ok(m[1] === '' || m[1]!.startsWith('/tmp/baton-plane-x/'), `${key} = ${m[1]}`);
    }
    const cni = JSON.parse(cniConfig(s)) as { plugins: Array<{ bridge: string; ipMasq: boolean; ipam: { dataDir: string; ranges: Array<Array<{ subnet: string }>> } }> };
    assert.equal(cni.plugins[0]!.bridge, s.names.bridge);
    assert.equal(cni.plugins[0]!.ipMasq, false);
    assert.equal(cni.plugins[0]!.ipam.ranges[0]![0]!.subnet, REAL_NODE_SUBNET);
    assert.ok(cni.plugins[0]!.ipam.dataDir.startsWith('/tmp/baton-plane-x/'));
    const kubelet = kubeletConfig(s, 12345);
    assert.match(kubelet, /^oomScoreAdj: 0$/m);
    assert.match(kubelet, /^enableServer: false$/m);
    assert.match(kubelet, /^makeIPTablesUtilChains: false$/m);
    assert.match(kubelet, new RegExp(`^cgroupRoot: /${s.names.cgroupRoot}$`, 'm'));
  });

  it('serves cluster DNS on the bridge address only, with no upstream to forward to', () => {
    const c = corefile('/tmp/p/kubeconfig', 1001, 1002);
    assert.match(c, new RegExp(`bind ${REAL_NODE_GATEWAY.replace(/\./g, '\\.')}\n`));
    assert.doesNotMatch(c, /forward|proxy|\.:53/);
    assert.match(c, /health 127\.0\.0\.1:1001/);
    assert.match(c, /ready 127\.0\.0\.1:1002/);
    assert.match(kubeletConfig(s, 1), new RegExp(`clusterDNS:\n- ${REAL_NODE_GATEWAY.replace(/\./g, '\\.')}\n`));
  });

  it('forwards only between ports of the bridge, and nothing else when the machine did not forward before', () => {
    assert.deepEqual(forwardRules('br0', false), [
      ['-i', 'br0', '-o', 'br0', '-j', 'ACCEPT'],
      ['-i', 'br0', '-j', 'DROP'],
      ['-o', 'br0', '-j', 'DROP'],
      ['-j', 'DROP'],
    ]);
    // A machine that already forwarded keeps forwarding its own traffic; pods still cannot leave.
    assert.deepEqual(forwardRules('br0', true).at(-1), ['-o', 'br0', '-j', 'DROP']);
  });

  it('reads kube chains and the rules jumping to them from iptables-save', () => {
    const save = [
      '*filter',
      ':INPUT ACCEPT [0:0]',
      ':KUBE-FIREWALL - [0:0]',
      ':KUBE-SVC-ABC - [0:0]',
      ':MINE - [0:0]',
      '-A INPUT -j KUBE-FIREWALL',
      '-A INPUT -j KUBE-FIREWALL-NOT',
      '-A OUTPUT -m comment --comment x -j MINE',
      'COMMIT',
    ].join('\n');
    assert.deepEqual(declaredChains(save, ['KUBE-FIREWALL', 'KUBE-SERVICES']), ['KUBE-FIREWALL']);
    assert.deepEqual(rulesJumpingTo(save, ['KUBE-FIREWALL']), ['-A INPUT -j KUBE-FIREWALL']);
    assert.equal(isPristine(save), false);
    assert.equal(isPristine('*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT'), true);
    assert.deepEqual(parseNftTables('table ip nat\ntable ip6 filter\n'), ['ip nat', 'ip6 filter']);
  });

  it('lists mounts under a folder deepest first, and nothing outside it', () => {
    const info = [
      '22 1 0:21 / / rw - overlay overlay rw',
      '30 22 0:40 / /tmp/p/node/containerd/state/netns/cni-1 rw - nsfs nsfs rw',
      '31 22 0:41 / /tmp/p/node/a rw - tmpfs tmpfs rw',
      '32 22 0:42 / /tmp/p/node/a/b rw - tmpfs tmpfs rw',
      '33 22 0:43 / /tmp/p/node2 rw - tmpfs tmpfs rw',
    ].join('\n');
    assert.deepEqual(mountsUnder(info, '/tmp/p/node'), ['/tmp/p/node/containerd/state/netns/cni-1', '/tmp/p/node/a/b', '/tmp/p/node/a']);
  });
});

describe('one real node per machine', () => {
  const lockPath = (): string => join(mkdtempSync(join(tmpdir(), 'baton-lock-')), 'node.lock');

  it('is taken by the first plane, refused to a second while the first runs, and released only by its owner', () => {
    const path = lockPath();
    acquireNodeLock('/plane/a', () => true, path);
    acquireNodeLock('/plane/a', () => true, path); // the owner again: fine
    assert.throws(() => acquireNodeLock('/plane/b', (owner) => owner === '/plane/a', path), (e: Error) => e instanceof NodeLockError && /already runs from \/plane\/a/.test(e.message) && /BATON_STATE_DIR=\/plane\/a baton cluster down/.test(e.message));
    releaseNodeLock('/plane/b', path);
    assert.equal(readFileSync(path, 'utf8'), '/plane/a');
    releaseNodeLock('/plane/a', path);
    acquireNodeLock('/plane/b', () => true, path);
    assert.equal(readFileSync(path, 'utf8'), '/plane/b');
  });

  it('is taken over from a plane that no longer runs', () => {
    const path = lockPath();
    writeLockFor('/plane/gone', path);
    acquireNodeLock('/plane/c', () => false, path);
    assert.equal(readFileSync(path, 'utf8'), '/plane/c');
  });
});

describe('the start-up check pod', () => {
  it('names the oom setting when runc fails the way it does without it', () => {
    const hint = nodeCheckHint(['Failed to create pod sandbox: rpc error: code = Unknown desc = failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: can\'t get final child\'s PID from pipe: EOF: unknown']);
    assert.match(hint, /restrict_oom_score_adj = true/);
    assert.match(hint, /oom-score-adj=0/);
  });

  it('points at the bridge, the cgroups, the image, or the logs', () => {
    assert.match(nodeCheckHint(['Failed to create pod sandbox: plugin type="bridge" failed (add): failed to allocate for range 0']), /CNI bridge/);
    assert.match(nodeCheckHint(['failed to write 1 to cgroup.procs: invalid argument']), /cgroup v1/);
    assert.match(nodeCheckHint(['Container image "baton.local/pause:v1" is not present with pull policy of Never', 'ErrImageNeverPull']), /pause image/);
    assert.match(nodeCheckHint([]), /kubelet\.log and containerd\.log/);
  });

  it('runs only on the real node, with the image made here, never pulled', () => {
    const pod = nodeCheckPod() as { spec: { nodeSelector: Record<string, string>; tolerations: unknown[]; automountServiceAccountToken: boolean; containers: Array<{ image: string; imagePullPolicy: string }> } };
    assert.deepEqual(pod.spec.nodeSelector, { 'baton.dev/real-node': 'true' });
    assert.equal(pod.spec.automountServiceAccountToken, false);
    assert.equal(pod.spec.containers[0]!.imagePullPolicy, 'Never');
    assert.equal(pod.spec.containers[0]!.image, 'baton.local/pause:v1');
  });
});
