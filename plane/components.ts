// What the local plane builds from Go modules, and how: the components, their binaries
// and the pins that name each build. binaries.ts builds and caches them.

/** Every executable the local plane runs. */
export const BINARY_NAMES = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kubectl',
  'kwok',
  'apiserver_receive_adapter',
] as const;
export type BinaryName = (typeof BINARY_NAMES)[number];

/** Knative Serving ships only CRDs here (nothing to build), so its pin lives in code. */
export const KNATIVE_SERVING_VERSION = 'v0.47.0';

export interface Component<Name extends string = BinaryName> {
  /** Folder under plane/go holding the wrapper module. */
  readonly module: string;
  /** The Go module whose pinned version names the build. */
  readonly modulePath: string;
  readonly binaries: ReadonlyArray<{ readonly name: Name; readonly pkg: string }>;
  readonly tags?: string;
  readonly ldflags?: (version: string) => string;
  /** Cache folder prefix when it differs from `module` (two recipes over one wrapper module). */
  readonly cacheName?: string;
  /** Version naming the build when the module requires nothing (a stdlib-only module). */
  readonly version?: string;
  /** Further source files (relative to the module folder) whose bytes key the cache. */
  readonly sources?: readonly string[];
}

const kubeVersionFlags = (v: string): string => {
  const [major, minor] = v.replace(/^v/, '').split('.');
  return ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version']
    .flatMap((p) => [`-X ${p}.gitVersion=${v}`, `-X ${p}.gitMajor=${major}`, `-X ${p}.gitMinor=${minor}`, `-X ${p}.gitTreeState=clean`])
    .join(' ');
};

export const COMPONENTS: readonly Component[] = [
  { module: 'etcd', modulePath: 'go.etcd.io/etcd/server/v3', binaries: [{ name: 'etcd', pkg: 'go.etcd.io/etcd/server/v3' }] },
  {
    module: 'kubernetes',
    modulePath: 'k8s.io/kubernetes',
    tags: 'selinux,notest',
    ldflags: kubeVersionFlags,
    binaries: [
      { name: 'kube-apiserver', pkg: 'k8s.io/kubernetes/cmd/kube-apiserver' },
      { name: 'kube-controller-manager', pkg: 'k8s.io/kubernetes/cmd/kube-controller-manager' },
      { name: 'kube-scheduler', pkg: 'k8s.io/kubernetes/cmd/kube-scheduler' },
      { name: 'kubectl', pkg: 'k8s.io/kubernetes/cmd/kubectl' },
    ],
  },
  { module: 'kwok', modulePath: 'sigs.k8s.io/kwok', binaries: [{ name: 'kwok', pkg: 'sigs.k8s.io/kwok/cmd/kwok' }] },
    // '.' is the wrapper's own main.go: upstream's adapter main with the health-probe
  // server off (see the comment there).
  { module: 'knative', modulePath: 'knative.dev/eventing', binaries: [{ name: 'apiserver_receive_adapter', pkg: '.' }] },
];

/**
 * What only the real node needs, built on demand (`baton cluster up --real-node`) so the
 * default plane's cold build does not grow. The kubelet and kube-proxy come from the same
 * wrapper module (and so the same pinned k8s.io/kubernetes) as the API server, under a
 * cache folder of their own so adding them does not rebuild the control plane.
 */
export const NODE_BINARY_NAMES = ['kubelet', 'kube-proxy', 'pause', 'echo-server', 'relay', 'coredns', 'registry'] as const;
export type NodeBinaryName = (typeof NODE_BINARY_NAMES)[number];

export const NODE_COMPONENTS: readonly Component<NodeBinaryName>[] = [
  {
    module: 'kubernetes',
    cacheName: 'kubernetes-node',
    modulePath: 'k8s.io/kubernetes',
    tags: 'selinux,notest',
    ldflags: kubeVersionFlags,
    binaries: [
      { name: 'kubelet', pkg: 'k8s.io/kubernetes/cmd/kubelet' },
      { name: 'kube-proxy', pkg: 'k8s.io/kubernetes/cmd/kube-proxy' },
    ],
  },
  // '.' is the wrapper's main.go: CoreDNS with only the plugins cluster DNS needs.
  { module: 'coredns', modulePath: 'github.com/coredns/coredns', binaries: [{ name: 'coredns', pkg: '.' }] },
  // '.' is the wrapper's main.go: distribution's registry with the filesystem driver only.
  { module: 'registry', modulePath: 'github.com/distribution/distribution/v3', binaries: [{ name: 'registry', pkg: '.' }] },
  {
    // Static binaries for the images made here: no registry resolves on these machines.
    module: 'node-images',
    modulePath: '',
    version: 'v1',
    sources: ['pause/main.go', 'echo-server/main.go', 'relay/main.go'],
    binaries: [
      { name: 'pause', pkg: './pause' },
      { name: 'echo-server', pkg: './echo-server' },
      { name: 'relay', pkg: './relay' },
    ],
  },
];

export type Progress = (message: string) => void;
