// Pushes cached OCI images to the plane's registry over its HTTP API (distribution's
// /v2 protocol): each blob once per repository (skipped when the registry has it), then
// the manifest. Answers with the pinned reference, <registry>/<name>@<digest>.
import { createReadStream, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import type { Blob, BuiltImage } from './oci.js';

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

function send(url: URL, method: string, headers: Record<string, string | number>, body?: Buffer | string): Promise<Reply>;
function send(url: URL, method: string, headers: Record<string, string | number>, body: { file: string }): Promise<Reply>;
function send(url: URL, method: string, headers: Record<string, string | number>, body?: Buffer | string | { file: string }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, timeout: 120_000 }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url.pathname} timed out`)));
    req.on('error', reject);
    if (body && typeof body === 'object' && 'file' in body) createReadStream(body.file).on('error', reject).pipe(req);
    else req.end(body);
  });
}

async function pushBlob(base: string, repo: string, blob: Blob, file: string): Promise<void> {
  const head = await send(new URL(`/v2/${repo}/blobs/${blob.digest}`, base), 'HEAD', {});
  if (head.status === 200) return;
  const start = await send(new URL(`/v2/${repo}/blobs/uploads/`, base), 'POST', { 'content-length': 0 });
  const location = start.headers.location;
  if (start.status !== 202 || typeof location !== 'string') throw new Error(`the registry refused an upload to ${repo}: HTTP ${start.status} ${start.body.slice(0, 200)}`);
  const url = new URL(location, base);
  url.searchParams.set('digest', blob.digest);
  const put = await send(url, 'PUT', { 'content-type': 'application/octet-stream', 'content-length': blob.size }, { file });
  if (put.status !== 201) throw new Error(`pushing ${blob.digest} to ${repo} failed: HTTP ${put.status} ${put.body.slice(0, 200)}`);
}

/** Pushes one image; resolves to `<registry>/<name>@<manifest digest>`. */
export async function pushImage(registry: string, store: string, image: BuiltImage, tag: string): Promise<string> {
  const base = `http://${registry}`;
  for (const blob of image.blobs) await pushBlob(base, image.name, blob, join(store, blob.digest.replace('sha256:', '')));
  const manifest = await send(new URL(`/v2/${image.name}/manifests/${tag}`, base), 'PUT', { 'content-type': image.manifest.mediaType }, readFileSync(join(store, image.manifest.digest.replace('sha256:', ''))));
  if (manifest.status !== 201) throw new Error(`pushing the manifest of ${image.name} failed: HTTP ${manifest.status} ${manifest.body.slice(0, 200)}`);
  const digest = manifest.headers['docker-content-digest'];
  // The registry names the manifest by the hash of the bytes it stored: they must be ours.
  if (digest !== image.manifest.digest) throw new Error(`the registry stored ${image.name} as ${String(digest)}, expected ${image.manifest.digest}`);
  return `${registry}/${image.name}@${image.manifest.digest}`;
}

