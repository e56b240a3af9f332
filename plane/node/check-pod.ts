// The pod that proves the real node runs containers, and what its Events say when not.

import { PAUSE_IMAGE } from './images.js';
import { REAL_NODE_LABEL, REAL_NODE_SUBNET, REAL_NODE_TAINT } from './network.js';

/** The pod start-up runs to prove the node can run a container, not just report Ready. */
export const NODE_CHECK_POD = 'baton-node-check';

/** Advice for why the check pod did not start, from the kubelet's Events about it. */
export function nodeCheckHint(messages: readonly string[]): string {
  const all = messages.join('\n');
  if (/can't get final child's PID from pipe|oom_score_adj/.test(all)) {
    return 'runc could not set the container\'s oom_score_adj (the machine lacks CAP_SYS_RESOURCE): containerd\'s CRI config needs restrict_oom_score_adj = true, and the kubelet --oom-score-adj=0 (plane/node sets both; check that the containerd in PATH reads <plane>/node/containerd.toml)';
  }
  if (/failed to (setup|set up) network|plugin type="bridge"|CNI/i.test(all)) {
    return `the CNI bridge could not attach the pod: check that containernetworking-plugins is installed in /usr/lib/cni and that ${REAL_NODE_SUBNET} is free`;
  }
  if (/cgroup/i.test(all)) {
    return 'the container could not be placed in its cgroup: the real node needs cgroup v1 with the cpu, cpuacct, cpuset, memory and pids controllers mounted under /sys/fs/cgroup';
  }
  if (/ErrImageNeverPull|image .* not present|not found/i.test(all)) {
    return `the pause image ${PAUSE_IMAGE} is missing from containerd: the import at start-up failed`;
  }
  return 'see kubelet.log and containerd.log in the plane\'s logs folder';
}

/**
 * What to do when one of the node's processes exits during start-up, from the end of its
 * log; undefined when the log says nothing this knows.
 */
export function exitHint(log: string): string | undefined {
  const inUse = /listen tcp ([\d.]+:\d+): bind: address already in use/.exec(log);
  if (inUse) return `${inUse[1]} is taken by another process (one listening on all addresses, most likely): find it with \`ss -ltnp 'sport = :${inUse[1]!.split(':')[1]}'\`, stop it, and start the plane again`;
  if (/permission denied|operation not permitted/i.test(log)) return 'the real node needs root with the capabilities to make bridges, iptables rules, mounts and cgroups (a plain `docker run` container lacks them)';
  return undefined;
}

/** The check pod: the pause image (no network use, no token), on the real node only. */
export function nodeCheckPod(): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: NODE_CHECK_POD, namespace: 'kube-system' },
    spec: {
      nodeSelector: { [REAL_NODE_LABEL]: 'true' },
      tolerations: [{ key: REAL_NODE_TAINT.key, operator: 'Exists', effect: REAL_NODE_TAINT.effect }],
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 0,
      containers: [{ name: 'pause', image: PAUSE_IMAGE, imagePullPolicy: 'Never', resources: { limits: { memory: '8Mi', cpu: '10m' } } }],
    },
  };
}
