// The flags each process of the local plane runs with. Everything listens on 127.0.0.1.
import { join } from 'node:path';
import { SERVICE_RANGE } from './node/network.js';

const CONTROLLERS = [
  'deployment',
  'replicaset',
  'statefulset',
  'daemonset',
  'job',
  'endpoint',
  'endpointslice',
  'endpointslicemirroring',
  'namespace',
  'garbagecollector',
  'serviceaccount',
  'serviceaccount-token',
  'podgc',
  'clusterrole-aggregation',
  // PodDisruptionBudgets: without it every eviction is refused as "still being processed".
  'disruption',
];

/** The apiserver's audit policy when an audit log is asked for: every request, metadata only. */
export const AUDIT_POLICY = 'apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: ["RequestReceived"]\nrules:\n- level: Metadata\n';

export function etcdArgs(dir: string, ports: { readonly etcd: number; readonly etcdPeer: number }): string[] {
  return [
    '--name=baton',
    `--data-dir=${join(dir, 'etcd')}`,
    `--listen-client-urls=http://127.0.0.1:${ports.etcd}`,
    `--advertise-client-urls=http://127.0.0.1:${ports.etcd}`,
    `--listen-peer-urls=http://127.0.0.1:${ports.etcdPeer}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${ports.etcdPeer}`,
    `--initial-cluster=baton=http://127.0.0.1:${ports.etcdPeer}`,
    '--unsafe-no-fsync=true',
    '--log-level=warn',
  ];
}

/**
 * `serviceAccounts`: pods get their ServiceAccount's token and CA mounted, as on a real
 * cluster (the ServiceAccount admission plugin, and the controller that publishes
 * kube-root-ca.crt). Knative's components need it to reach the API server from their pods.
 */
export function apiserverArgs(o: { pki: string; logs: string; apiPort: number; etcdPort: number; auditPolicy: string | undefined; serviceAccounts?: boolean }): string[] {
  return [
    `--etcd-servers=http://127.0.0.1:${o.etcdPort}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${o.apiPort}`,
    `--cert-dir=${o.pki}`,
    '--authorization-mode=RBAC',
    `--token-auth-file=${join(o.pki, 'tokens.csv')}`,
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${join(o.pki, 'sa.pub')}`,
    `--service-account-signing-key-file=${join(o.pki, 'sa.key')}`,
    `--service-cluster-ip-range=${SERVICE_RANGE}`,
    '--endpoint-reconciler-type=none',
    '--allow-privileged=true',
    // Pods here have no kubelet to mount tokens; skipping the plugin also avoids a
    // race with the serviceaccount controller in freshly created namespaces. No
    // node-lifecycle controller runs, so nothing would lift a not-ready taint.
    `--disable-admission-plugins=${o.serviceAccounts ? '' : 'ServiceAccount,'}TaintNodesByCondition`,
    // Inert until a namespace carries their annotations: that is how the Knative install
    // puts its pods (and the pods it makes) on the real node (plane/knative/manifests.ts).
    `--enable-admission-plugins=PodNodeSelector,PodTolerationRestriction${o.serviceAccounts ? ',ServiceAccount' : ''}`,
    '--profiling=false',
    '--v=0',
    ...(o.auditPolicy ? [`--audit-policy-file=${o.auditPolicy}`, `--audit-log-path=${join(o.logs, 'audit.log')}`, '--audit-log-format=json', '--audit-log-mode=blocking'] : []),
  ];
}

export function controllerManagerArgs(kubeconfig: string, pki: string, caFile: string, port: number, serviceAccounts = false): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    `--service-account-private-key-file=${join(pki, 'sa.key')}`,
    `--root-ca-file=${caFile}`,
    '--use-service-account-credentials=true',
    '--leader-elect=false',
    `--controllers=${[...CONTROLLERS, ...(serviceAccounts ? ['root-ca-cert-publisher'] : [])].join(',')}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${port}`,
    '--cluster-name=baton-local',
    '--v=0',
  ];
}

export function schedulerArgs(kubeconfig: string, port: number): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    '--leader-elect=false',
    '--bind-address=127.0.0.1',
    `--secure-port=${port}`,
    '--v=0',
  ];
}

/** kwok manages only the nodes annotated as fake and hands their pods addresses from `cidr`. */
export function kwokArgs(kubeconfig: string, port: number, cidr: string): string[] {
  return [
    `--kubeconfig=${kubeconfig}`,
    '--manage-all-nodes=false',
    '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
    `--server-address=127.0.0.1:${port}`,
    '--node-ip=127.0.0.1',
    `--cidr=${cidr}`,
    '--node-lease-duration-seconds=40',
    '-v=WARN',
  ];
}
