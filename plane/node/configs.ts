// The configuration files of the real node's programs, as text: containerd, CNI,
// CoreDNS and the kubelet. Plain functions of the node plan.
import { join } from 'node:path';
import { PAUSE_IMAGE } from './images.js';
import { CLUSTER_RANGE, REAL_NODE_GATEWAY, REAL_NODE_SUBNET, REAL_NODE_TAINT, REGISTRY_HOST } from './network.js';
import type { RealNodeState } from './node.js';

export function containerdConfig(s: RealNodeState): string {
  const q = (v: string): string => JSON.stringify(v);
  return `version = 2
root = ${q(join(s.root, 'containerd', 'root'))}
state = ${q(join(s.root, 'containerd', 'state'))}
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = ${q(s.containerdSocket)}

[ttrpc]
  address = ${q(`${s.containerdSocket}.ttrpc`)}

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = ${q(join(s.root, 'containerd', 'opt'))}

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = ${q(PAUSE_IMAGE)}
  # The machine lacks CAP_SYS_RESOURCE: runc cannot lower oom_score_adj below the parent's.
  restrict_oom_score_adj = true
  # Pod network namespaces live in the plane folder, not in /var/run/netns.
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = ${q(join(s.root, 'runc'))}
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = ${q(join(s.root, 'cni'))}
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = ${q(registryHostsDir(s))}
`;
}

/** Folder of containerd's per-registry settings (one sub-folder per host, as in /etc/containerd/certs.d). */
export function registryHostsDir(s: RealNodeState): string {
  return join(s.root, 'certs.d');
}

/** containerd's hosts.toml for the local registry: plain HTTP, on the bridge address only. */
export function registryHostsToml(): string {
  return `server = "http://${REGISTRY_HOST}"

[host."http://${REGISTRY_HOST}"]
  capabilities = ["pull", "resolve"]
`;
}

/** The registry's own configuration: loopback only, blobs in the plane folder (gone with `cluster down`). */
export function registryConfig(storage: string, port: number): string {
  return `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${JSON.stringify(storage)}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:${port}
  # One registry process: the secret only signs upload state between its own requests.
  secret: baton-local-plane
`;
}

export function cniConfig(s: RealNodeState): string {
  return JSON.stringify(
    {
      cniVersion: '0.4.0',
      name: s.names.network,
      plugins: [
        {
          type: 'bridge',
          bridge: s.names.bridge,
          isGateway: true,
          // No masquerade: pod traffic has no business leaving the machine.
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            ranges: [[{ subnet: REAL_NODE_SUBNET, gateway: REAL_NODE_GATEWAY }]],
            routes: [{ dst: CLUSTER_RANGE }],
            dataDir: join(s.root, 'ipam'),
          },
        },
      ],
    },
    null,
    2,
  );
}

/**
 * CoreDNS serves cluster.local from the API server, on the bridge address only, so pods
 * resolve <svc>.<ns>.svc.cluster.local. There is no forward plugin: other names get no
 * answer and no query leaves the machine.
 */
export function corefile(kubeconfig: string, healthPort: number, readyPort: number): string {
  return `cluster.local:53 {
    bind ${REAL_NODE_GATEWAY}
    errors
    health 127.0.0.1:${healthPort}
    ready 127.0.0.1:${readyPort}
    kubernetes cluster.local {
        kubeconfig ${kubeconfig} baton-local
    }
    cache 5
    loadbalance
}
`;
}

export function kubeletConfig(s: RealNodeState, healthzPort: number): string {
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# No kubelet API at all: nothing here needs exec or logs through the API server, and an
# open kubelet port would be reachable from every pod on the bridge.
enableServer: false
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: ${healthzPort}
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: false
authorization:
  mode: AlwaysAllow
cgroupDriver: cgroupfs
cgroupRoot: /${s.names.cgroupRoot}
cgroupsPerQOS: true
containerRuntimeEndpoint: unix://${s.containerdSocket}
failSwapOn: false
# Without CAP_SYS_RESOURCE the kubelet cannot lower its own score (default -999).
oomScoreAdj: 0
clusterDomain: cluster.local
clusterDNS:
- ${REAL_NODE_GATEWAY}
# Pods get only cluster DNS: the host's resolvers and search domains stay out of them.
resolvConf: ""
podLogsDir: ${s.podLogsDir}
# The images were imported here and cannot be pulled again: never garbage-collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 50Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
# kube-proxy owns the iptables rules; the kubelet's canary chains would outlive it.
makeIPTablesUtilChains: false
maxPods: 30
serializeImagePulls: false
registerWithTaints:
- key: ${REAL_NODE_TAINT.key}
  value: "${REAL_NODE_TAINT.value}"
  effect: ${REAL_NODE_TAINT.effect}
`;
}
