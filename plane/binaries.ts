import { createHash } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, copyFileSync, readdirSync, accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { cacheDir, repoRoot } from './paths.js';

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

const COMPONENTS: readonly Component[] = [
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
export const NODE_BINARY_NAMES = ['kubelet', 'kube-proxy', 'pause', 'echo-server', 'relay', 'coredns'] as const;
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

/** Paths of the real node's binaries, building what the cache lacks. */
export async function ensureNodeBinaries(progress: Progress = () => {}, env: NodeJS.ProcessEnv = process.env): Promise<Readonly<Record<NodeBinaryName, string>>> {
  const paths: Partial<Record<NodeBinaryName, string>> = {};
  for (const c of NODE_COMPONENTS) {
    const dir = await ensureComponent(c, progress, env);
    for (const b of c.binaries) paths[b.name] = join(dir, b.name);
  }
  return paths as Record<NodeBinaryName, string>;
}

export interface Binaries {
  readonly paths: Readonly<Record<BinaryName, string>>;
  /** Folder of Knative CRD YAMLs (eventing + serving) of the pinned version. */
  readonly crdDir: string;
}

export type Progress = (message: string) => void;

/** Version of the module's main requirement, read from its pinned go.mod. */
function requiredVersion(goMod: string, modulePath: string): string {
  const match = new RegExp(`^\\s*(?:require\\s+)?${modulePath.replace(/\./g, '\\.')}\\s+(v\\S+)`, 'm').exec(goMod);
  if (!match?.[1]) throw new Error(`no version of ${modulePath} in its wrapper go.mod`);
  return match[1];
}

function componentKey<N extends string>(c: Component<N>, extra = ''): { key: string; version: string } {
  const dir = join(repoRoot(), 'plane', 'go', c.module);
  const goMod = readFileSync(join(dir, 'go.mod'), 'utf8');
  const goSum = existsSync(join(dir, 'go.sum')) ? readFileSync(join(dir, 'go.sum'), 'utf8') : '';
  const version = c.version ?? requiredVersion(goMod, c.modulePath);
  const mainGo = join(dir, 'main.go');
  const recipe = JSON.stringify({ binaries: c.binaries, tags: c.tags, ldflags: c.ldflags?.(version), extra, recipe: 1 });
  const hash = createHash('sha256').update(goMod).update(goSum).update(existsSync(mainGo) ? readFileSync(mainGo) : '').update(recipe);
  for (const f of c.sources ?? []) hash.update(f).update(readFileSync(join(dir, f)));
  const key = hash.digest('hex').slice(0, 16);
  return { key, version };
}

interface Manifest {
  readonly files: Record<string, number>;
}

export class CacheError extends Error {}

function verify(dir: string): 'missing' | 'ok' | string {
  const manifestPath = join(dir, 'manifest.json');
  if (!existsSync(manifestPath)) return 'missing';
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest;
  } catch {
    return `${manifestPath} is not valid JSON`;
  }
  for (const [file, size] of Object.entries(manifest.files ?? {})) {
    const path = join(dir, file);
    if (!existsSync(path)) return `${path} is missing`;
    if (statSync(path).size !== size) return `${path} has size ${statSync(path).size}, expected ${size}`;
  }
  return 'ok';
}

function checkGo(): void {
  const r = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new CacheError(
      'Go (1.24 or newer) is needed once to build the local control plane from Go modules, and `go` was not found. ' +
        'Install Go, or point KUBEBUILDER_ASSETS at a folder that already holds the binaries (' + BINARY_NAMES.join(', ') + ').',
    );
  }
}

async function run(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; what: string; progress: Progress }): Promise<string> {
  const started = Date.now();
  const timer = setInterval(() => opts.progress(`  … still ${opts.what} (${Math.round((Date.now() - started) / 1000)} s)`), 30_000);
  try {
    return await new Promise((resolve, reject) => {
      const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => {
        if (code === 0) resolve(out);
        else reject(new CacheError(`${opts.what} failed (exit ${code}):\n${err.trim().split('\n').slice(-20).join('\n')}`));
      });
    });
  } finally {
    clearInterval(timer);
  }
}

async function buildComponent<N extends string>(c: Component<N>, version: string, target: string, progress: Progress): Promise<void> {
  checkGo();
  const moduleDir = join(repoRoot(), 'plane', 'go', c.module);
  const tmp = `${target}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const env = { ...process.env, CGO_ENABLED: '0', GOFLAGS: '-mod=mod', GOTOOLCHAIN: process.env.GOTOOLCHAIN ?? 'local' };
  const files: Record<string, number> = {};
  for (const b of c.binaries) {
    const started = Date.now();
    progress(`building ${b.name} ${version} from Go modules (first time only)…`);
    const args = ['build', '-trimpath', '-o', join(tmp, b.name)];
    if (c.tags) args.push('-tags', c.tags);
    args.push('-ldflags', `-s -w ${c.ldflags?.(version) ?? ''}`.trim(), b.pkg);
    await run('go', args, { cwd: moduleDir, env, what: `building ${b.name}`, progress });
    files[b.name] = statSync(join(tmp, b.name)).size;
    progress(`built ${b.name} in ${Math.round((Date.now() - started) / 1000)} s`);
  }
  if (c.module === 'knative') {
    const crds = await collectKnativeCrds(moduleDir, env, tmp, progress);
    for (const f of crds) files[f] = statSync(join(tmp, f)).size;
  }
  writeFileSync(join(tmp, 'manifest.json'), JSON.stringify({ version, files }, null, 2));
  rmSync(target, { recursive: true, force: true });
  renameSync(tmp, target);
}

/** Copies the CRD YAMLs shipped inside the Eventing and Serving module zips. */
async function collectKnativeCrds(moduleDir: string, env: NodeJS.ProcessEnv, into: string, progress: Progress): Promise<string[]> {
  const eventing = requiredVersion(readFileSync(join(moduleDir, 'go.mod'), 'utf8'), 'knative.dev/eventing');
  const sources: Array<[string, string]> = [
    [`knative.dev/eventing@${eventing}`, 'config/core/resources'],
    [`knative.dev/serving@${KNATIVE_SERVING_VERSION}`, 'config/core/300-resources'],
  ];
  const out: string[] = [];
  mkdirSync(join(into, 'crds'), { recursive: true });
  for (const [mod, sub] of sources) {
    progress(`fetching CRDs from ${mod}…`);
    const json = await run('go', ['mod', 'download', '-json', mod], { cwd: moduleDir, env, what: `downloading ${mod}`, progress });
    const dir = (JSON.parse(json) as { Dir: string }).Dir;
    for (const f of readdirSync(join(dir, sub)).sort()) {
      if (!f.endsWith('.yaml')) continue;
      const text = readFileSync(join(dir, sub, f), 'utf8');
      if (!/kind:\s*CustomResourceDefinition/.test(text)) continue;
      const name = `crds/${mod.split('/')[1]!.split('@')[0]}-${f}`;
      copyFileSync(join(dir, sub, f), join(into, name));
      out.push(name);
    }
  }
  return out;
}

/**
 * Returns the paths of every binary, building what the cache lacks. KUBEBUILDER_ASSETS
 * (envtest's layout: one folder of binaries) overrides any binary found there.
 */
export async function ensureBinaries(progress: Progress = () => {}, env: NodeJS.ProcessEnv = process.env): Promise<Binaries> {
  const overrides = new Map<BinaryName, string>();
  if (env.KUBEBUILDER_ASSETS) {
    const dir = env.KUBEBUILDER_ASSETS;
    if (!existsSync(dir)) throw new CacheError(`KUBEBUILDER_ASSETS=${dir} does not exist; unset it or point it at a folder of binaries`);
    for (const name of BINARY_NAMES) {
      const path = join(dir, name);
      if (!existsSync(path)) continue;
      try {
        accessSync(path, constants.X_OK);
      } catch {
        throw new CacheError(`KUBEBUILDER_ASSETS: ${path} is not executable (chmod +x it or remove it)`);
      }
      overrides.set(name, path);
    }
  }
  const paths: Partial<Record<BinaryName, string>> = {};
  let crdDir = '';
  for (const c of COMPONENTS) {
    const needed = c.binaries.filter((b) => !overrides.has(b.name));
    for (const b of c.binaries) if (overrides.has(b.name)) paths[b.name] = overrides.get(b.name)!;
    if (needed.length === 0 && c.module !== 'knative') continue;
    const dir = await ensureComponent(c, progress, env);
    for (const b of needed) paths[b.name] = join(dir, b.name);
    if (c.module === 'knative') crdDir = join(dir, 'crds');
  }
  return { paths: paths as Record<BinaryName, string>, crdDir };
}

/**
 * The cache folder holding a component's binaries, built first if the cache lacks it.
 * The folder name carries the version and a hash of the wrapper's go.mod, go.sum and
 * build recipe, so changing a pin builds anew and never reuses a stale binary.
 */
export async function ensureComponent<N extends string>(c: Component<N>, progress: Progress = () => {}, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const extra = c.module === 'knative' ? `serving=${KNATIVE_SERVING_VERSION}` : '';
  const { key, version } = componentKey(c, extra);
  const root = join(cacheDir(env), 'bin');
  const dir = join(root, `${c.cacheName ?? c.module}-${version}-${key}`);
  const state = verify(dir);
  if (state === 'missing') {
    mkdirSync(root, { recursive: true });
    await buildComponent(c, version, dir, progress);
  } else if (state !== 'ok') {
    throw new CacheError(`the binary cache is corrupt: ${state}. Remove ${dir} (or run \`baton cluster build --force\`) and try again.`);
  }
  return dir;
}

/** Removes cached builds so the next ensureBinaries rebuilds them. */
export function clearCache(env: NodeJS.ProcessEnv = process.env): string {
  const root = join(cacheDir(env), 'bin');
  rmSync(root, { recursive: true, force: true });
  return root;
}
