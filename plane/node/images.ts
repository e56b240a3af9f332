import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { basename, join } from 'node:path';

/** Images made here from one static binary: no registry resolves on these machines. */
export const PAUSE_IMAGE = 'baton.local/pause:v1';
export const ECHO_IMAGE = 'baton.local/echo-server:v1';

export interface ImageSpec {
  readonly ref: string;
  readonly binary: string;
  /** uid:gid the process runs as; the images need no root. */
  readonly user: string;
}

/** The image config (OCI/Docker v1) of a one-layer image whose entrypoint is the binary at /<name>. */
export function imageConfig(entrypoint: string, user: string, diffId: string): Record<string, unknown> {
  return {
    architecture: 'amd64',
    os: 'linux',
    config: { Entrypoint: [entrypoint], User: user, Env: ['PATH=/'], WorkingDir: '/' },
    rootfs: { type: 'layers', diff_ids: [diffId] },
    // A fixed date keeps the image id a function of the binary alone.
    created: '1970-01-01T00:00:00Z',
    history: [{ created: '1970-01-01T00:00:00Z', created_by: `baton: ${entrypoint}` }],
  };
}

/** manifest.json of a docker-archive tar (what `ctr images import` reads). */
export function dockerArchiveManifest(ref: string, configFile: string, layerFile: string): unknown[] {
  return [{ Config: configFile, RepoTags: [ref], Layers: [layerFile] }];
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function tar(args: string[], what: string): void {
  const r = spawnSync('tar', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${what} failed: ${r.stderr || r.error?.message}`);
}

/**
 * Writes a docker-archive tar holding `spec.binary` as /<name>, owned by root and
 * world-executable, with reproducible timestamps. Returns the archive's path.
 */
export function buildImageArchive(spec: ImageSpec, workDir: string): string {
  const name = basename(spec.binary);
  const root = join(workDir, `${name}-rootfs`);
  const out = join(workDir, `${name}-archive`);
  rmSync(root, { recursive: true, force: true });
  rmSync(out, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  mkdirSync(out, { recursive: true });
  copyFileSync(spec.binary, join(root, name));
  chmodSync(join(root, name), 0o755);
  const layer = join(out, 'layer.tar');
  tar(['--create', '--file', layer, '--directory', root, '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '--sort=name', name], `packing the ${name} layer`);
  const diffId = `sha256:${sha256(layer)}`;
  const config = JSON.stringify(imageConfig(`/${name}`, spec.user, diffId));
  const configName = `${createHash('sha256').update(config).digest('hex')}.json`;
  writeFileSync(join(out, configName), config);
  writeFileSync(join(out, 'manifest.json'), JSON.stringify(dockerArchiveManifest(spec.ref, configName, 'layer.tar')));
  const archive = join(workDir, `${name}.tar`);
  tar(['--create', '--file', archive, '--directory', out, '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', 'manifest.json', configName, 'layer.tar'], `packing the ${name} image`);
  rmSync(root, { recursive: true, force: true });
  rmSync(out, { recursive: true, force: true });
  return archive;
}
