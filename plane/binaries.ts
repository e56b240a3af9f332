// Builds the plane's components (components.ts) from their Go modules into the user's
// cache, once per pin, and answers with the paths of the binaries.
import { createHash } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, copyFileSync, readdirSync, accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { cacheDir, repoRoot } from './paths.js';
import { BINARY_NAMES, COMPONENTS, KNATIVE_SERVING_VERSION, NODE_COMPONENTS, type BinaryName, type Component, type NodeBinaryName, type Progress } from './components.js';

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

export type CacheState = { readonly state: 'missing' } | { readonly state: 'ok' } | { readonly state: 'corrupt'; readonly problem: string };

export function verify(dir: string): CacheState {
  const manifestPath = join(dir, 'manifest.json');
  if (!existsSync(manifestPath)) return { state: 'missing' };
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest;
  } catch {
    return { state: 'corrupt', problem: `${manifestPath} is not valid JSON` };
  }
  for (const [file, size] of Object.entries(manifest.files ?? {})) {
    const path = join(dir, file);
    if (!existsSync(path)) return { state: 'corrupt', problem: `${path} is missing` };
    if (statSync(path).size !== size) return { state: 'corrupt', problem: `${path} has size ${statSync(path).size}, expected ${size}` };
  }
  return { state: 'ok' };
}

export function checkGo(): void {
  const r = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new CacheError(
      'Go (1.26 or newer) is needed once to build the local control plane from Go modules, and `go` was not found. ' +
        'Install Go, or point KUBEBUILDER_ASSETS at a folder that already holds the binaries (' + BINARY_NAMES.join(', ') + ').',
    );
  }
}

export async function run(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; what: string; progress: Progress }): Promise<string> {
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
  const cached = verify(dir);
  if (cached.state === 'missing') {
    mkdirSync(root, { recursive: true });
    await buildComponent(c, version, dir, progress);
  } else if (cached.state === 'corrupt') {
    throw new CacheError(`the binary cache is corrupt: ${cached.problem}. Remove ${dir} (or run \`baton cluster build --force\`) and try again.`);
  }
  return dir;
}

/** Removes cached builds so the next ensureBinaries rebuilds them. */
export function clearCache(env: NodeJS.ProcessEnv = process.env): string {
  const root = join(cacheDir(env), 'bin');
  rmSync(root, { recursive: true, force: true });
  return root;
}
