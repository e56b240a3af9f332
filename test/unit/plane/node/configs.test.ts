
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { overlaps, REAL_NODE_GATEWAY, REAL_NODE_SUBNET, REGISTRY_HOST } from '../../../../plane/node/network.js';
import { cniConfig, containerdConfig, corefile, kubeletConfig, registryConfig, registryHostsDir, registryHostsToml } from '../../../../plane/node/configs.js';
import { declaredChains, forwardRules, isPristine, parseNftTables, rulesJumpingTo } from '../../../../plane/node/host.js';
import { planNode } from '../../../../plane/node/node.js';
import { mountsUnder } from '../../../../plane/node/teardown.js';

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

  it('pulls from the plane registry over plain HTTP on the bridge address, which listens on loopback behind a relay', () => {
    assert.match(containerdConfig(s), new RegExp(`config_path = "${registryHostsDir(s)}"`));
    assert.ok(registryHostsDir(s).startsWith('/tmp/baton-plane-x/'));
    assert.ok(overlaps(`${REGISTRY_HOST.split(':')[0]}/32`, REAL_NODE_SUBNET), REGISTRY_HOST);
    const hosts = registryHostsToml();
    assert.match(hosts, new RegExp(`^server = "http://${REGISTRY_HOST.replace(/\./g, '\\.')}"$`, 'm'));
    assert.match(hosts, /capabilities = \["pull", "resolve"\]/);
    const config = registryConfig('/tmp/baton-plane-x/node/registry', 4321);
    assert.match(config, /^ {2}addr: 127\.0\.0\.1:4321$/m);
    assert.match(config, /rootdirectory: "\/tmp\/baton-plane-x\/node\/registry"/);
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
