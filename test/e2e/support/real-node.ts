// A real node beside the kwok nodes: a pod from an image built here runs in containerd,
// answers through a ClusterIP that kube-proxy programs in iptables, and `cluster down`
// leaves the machine as it found it. Needs root and cgroup v1, so it runs only with
// BATON_REAL_NODE=1 (e.g. `BATON_REAL_NODE=1 node scripts/test.mjs e2e --only=e2e/real-node`);
// it starts and stops a plane of its own because one machine holds one real node.
import { Agent, request } from 'node:http';
import * as k8s from '@kubernetes/client-node';
import { ECHO_IMAGE } from '../../../plane/node/images.js';
import { REAL_NODE_LABEL, REAL_NODE_TAINT } from '../../../plane/node/network.js';
import { waitFor } from '../../../plane/wait.js';

export const enabled = process.env.BATON_REAL_NODE === '1';

export function httpGet(host: string, port: number, path: string, agent?: Agent | false, method = 'GET'): Promise<{ status: number; body: string; localPort: number }> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, method, timeout: 3_000, ...(agent !== undefined ? { agent } : {}) }, (res) => {
      const localPort = res.socket?.localPort ?? 0;
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, localPort }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET http://${host}:${port}${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** A pod of the echo image; `onRealNode` adds the selector and toleration the real node asks for. */

export function echoPod(name: string, onRealNode: boolean): k8s.V1Pod {
  return {
    metadata: { name, labels: { app: 'echo' } },
    spec: {
      automountServiceAccountToken: false,
      ...(onRealNode
        ? { nodeSelector: { [REAL_NODE_LABEL]: 'true' }, tolerations: [{ key: REAL_NODE_TAINT.key, operator: 'Exists', effect: REAL_NODE_TAINT.effect }] }
        : {}),
      containers: [
        {
          name: 'echo',
          image: ECHO_IMAGE,
          imagePullPolicy: 'Never',
          env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
          ports: [{ containerPort: 8080 }],
          readinessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 1 },
          resources: { limits: { memory: '32Mi', cpu: '100m' } },
          securityContext: { runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true },
        },
      ],
    },
  };
}

/** A one-shot client pod on the real node: `echo-server get <url>`; resolves to its termination message. */

export async function fetchFromPod(core: k8s.CoreV1Api, ns: string, name: string, url: string, extra: Partial<k8s.V1Container> = {}, volumes: k8s.V1Volume[] = []): Promise<{ phase: string; message: string }> {
  const pod = echoPod(name, true);
  pod.metadata = { name, labels: { app: 'client' } };
  pod.spec!.restartPolicy = 'Never';
  pod.spec!.volumes = volumes;
  pod.spec!.containers = [{ ...pod.spec!.containers[0]!, args: ['get', url], readinessProbe: undefined, ports: [], ...extra }];
  await core.createNamespacedPod({ namespace: ns, body: pod });
  return waitFor(`${name} to finish`, async () => {
    const p = await core.readNamespacedPod({ name, namespace: ns });
    const phase = p.status?.phase ?? '';
    if (phase !== 'Succeeded' && phase !== 'Failed') return undefined;
    return { phase, message: p.status?.containerStatuses?.[0]?.state?.terminated?.message ?? '' };
  }, { timeoutMs: 60_000, intervalMs: 250 });
}
