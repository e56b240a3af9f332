// Packs Knative's binaries into OCI images the way `ko` does by default: a static base
// (CA certificates, /etc/passwd with `nonroot` 65532, /tmp) plus one layer holding the
// binary at /ko-app/<name>, run as 65532. Layers are plain tars with fixed owners and
// times, so an image's digest is a function of its files; the blobs are cached under
// <cache>/knative-images/<key>/ and pushed to the plane's registry from there.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { CacheError } from '../binaries.js';
import type { Progress } from '../components.js';
import { cacheDir } from '../paths.js';

export const LAYER_MEDIA_TYPE = 'application/vnd.oci.image.layer.v1.tar';
export const CONFIG_MEDIA_TYPE = 'application/vnd.oci.image.config.v1+json';
export const MANIFEST_MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json';

/** The user ko's default base (distroless static) runs as. */
export const NONROOT = 65532;
/** Where the host keeps its CA bundle (Debian); the images trust the same roots. */
const CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
const RECIPE = 1;

export interface Blob {
  readonly digest: string;
  readonly size: number;
  readonly mediaType: string;
}

export interface BuiltImage {
  /** Repository in the registry, e.g. `knative/serving-controller`. */
  readonly name: string;
  readonly manifest: Blob;
  /** Config first, then layers: what a push must upload before the manifest. */
  readonly blobs: readonly Blob[];
}

export interface ImageSpec {
  readonly name: string;
  /** The image's own layer (above the base): a folder's contents, or one Go binary at /ko-app/<name> (its entrypoint). */
  readonly layer: { readonly rootfs: string; readonly entrypoint: readonly string[] } | { readonly binary: string };
  readonly user: string;
}

export const PASSWD = 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n';
export const GROUP = 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n';

/** The image config: ko's environment (SSL_CERT_FILE, KO_DATA_PATH) and a fixed date. */
export function imageConfig(entrypoint: readonly string[], user: string, diffIds: readonly string[]): Record<string, unknown> {
  return {
    architecture: 'amd64',
    os: 'linux',
    config: {
      Entrypoint: entrypoint,
      User: user,
      Env: ['PATH=/usr/local/bin:/usr/bin:/bin:/ko-app', 'SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt', 'KO_DATA_PATH=/var/run/ko'],
      WorkingDir: '/',
    },
    rootfs: { type: 'layers', diff_ids: diffIds },
    created: '1970-01-01T00:00:00Z',
    history: diffIds.map(() => ({ created: '1970-01-01T00:00:00Z', created_by: 'baton plane' })),
  };
}

export function imageManifest(config: Blob, layers: readonly Blob[]): Record<string, unknown> {
  return {
    schemaVersion: 2,
    mediaType: MANIFEST_MEDIA_TYPE,
    config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  };
}

class BlobStore {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }
  path(digest: string): string {
    return join(this.dir, digest.replace('sha256:', ''));
  }
  put(content: Buffer, mediaType: string): Blob {
    const digest = `sha256:${createHash('sha256').update(content).digest('hex')}`;
    writeFileSync(this.path(digest), content);
    return { digest, size: content.length, mediaType };
  }
  /** Moves a finished file in under its digest. */
  adopt(file: string, mediaType: string): Blob {
    const content = readFileSync(file);
    const digest = `sha256:${createHash('sha256').update(content).digest('hex')}`;
    renameSync(file, this.path(digest));
    return { digest, size: content.length, mediaType };
  }
}

function tarDir(root: string, out: string): void {
  // The folder becomes the image's `/`: it must be traversable by the non-root user.
  chmodSync(root, 0o755);
  const r = spawnSync('tar', ['--create', '--file', out, '--directory', root, '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '--sort=name', '.'], { encoding: 'utf8' });
  if (r.status !== 0) throw new CacheError(`packing ${root} failed: ${r.stderr || r.error?.message}`);
}

function baseRootfs(into: string): void {
  for (const d of ['etc/ssl/certs', 'tmp', 'var/run/ko', 'home/nonroot']) mkdirSync(join(into, d), { recursive: true });
  chmodSync(join(into, 'tmp'), 0o1777);
  writeFileSync(join(into, 'etc/passwd'), PASSWD);
  writeFileSync(join(into, 'etc/group'), GROUP);
  copyFileSync(CA_BUNDLE, join(into, 'etc/ssl/certs/ca-certificates.crt'));
}

/** The rootfs of a ko-style image of one Go binary: /ko-app/<name>; returns the entrypoint. */
function koRootfs(binary: string, into: string): string[] {
  mkdirSync(join(into, 'ko-app'), { recursive: true });
  const target = join(into, 'ko-app', basename(binary));
  // A hard link spares a copy of a large binary; another file system needs the copy.
  try {
    linkSync(binary, target);
  } catch {
    copyFileSync(binary, target);
    chmodSync(target, 0o755);
  }
  return [`/ko-app/${basename(binary)}`];
}

/**
 * Every image of `specs` built into the cache (once per key; the key should name the
 * inputs, e.g. the binary cache folders), as descriptors ready to push.
 */
export function ensureImages(key: string, specs: readonly ImageSpec[], progress: Progress): { store: string; images: BuiltImage[] } {
  if (!existsSync(CA_BUNDLE)) throw new CacheError(`${CA_BUNDLE} is missing: the images need a CA bundle (apt-get install ca-certificates)`);
  const hash = createHash('sha256').update(JSON.stringify({ key, specs, recipe: RECIPE })).update(readFileSync(CA_BUNDLE)).digest('hex').slice(0, 16);
  const root = join(cacheDir(), 'knative-images', hash);
  const index = join(root, 'images.json');
  if (existsSync(index)) {
    const images = JSON.parse(readFileSync(index, 'utf8')) as BuiltImage[];
    const store = new BlobStore(join(root, 'blobs'));
    if (images.every((i) => [i.manifest, ...i.blobs].every((b) => existsSync(store.path(b.digest))))) return { store: store.dir, images };
  }
  const started = Date.now();
  progress(`packing ${specs.length} Knative images (first time only)…`);
  const store = new BlobStore(join(root, 'blobs'));
  const work = join(root, `work-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(join(work, 'base'), { recursive: true });
  baseRootfs(join(work, 'base'));
  tarDir(join(work, 'base'), join(work, 'base.tar'));
  const base = store.adopt(join(work, 'base.tar'), LAYER_MEDIA_TYPE);
  const images: BuiltImage[] = [];
  for (const spec of specs) {
    const layerFile = join(work, 'layer.tar');
    let rootfs: string;
    let entrypoint: readonly string[];
    if ('binary' in spec.layer) {
      rootfs = join(work, 'rootfs');
      rmSync(rootfs, { recursive: true, force: true });
      entrypoint = koRootfs(spec.layer.binary, rootfs);
    } else {
      ({ rootfs, entrypoint } = spec.layer);
    }
    tarDir(rootfs, layerFile);
    const layer = store.adopt(layerFile, LAYER_MEDIA_TYPE);
    const config = store.put(Buffer.from(JSON.stringify(imageConfig(entrypoint, spec.user, [base.digest, layer.digest]))), CONFIG_MEDIA_TYPE);
    const manifest = store.put(Buffer.from(JSON.stringify(imageManifest(config, [base, layer]))), MANIFEST_MEDIA_TYPE);
    images.push({ name: spec.name, manifest, blobs: [config, base, layer] });
  }
  rmSync(work, { recursive: true, force: true });
  writeFileSync(index, JSON.stringify(images, null, 2));
  progress(`packed the Knative images in ${Math.round((Date.now() - started) / 1000)} s`);
  return { store: store.dir, images };
}
