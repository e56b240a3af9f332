
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mkdtempSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImageArchive, imageConfig } from '../../../../plane/node/images.js';
import { dockerfileBases, nodeMajorOf, parseSize, qualified } from '../../../../plane/node/project-image.js';

describe('images made here', () => {
  it('a one-binary archive whose config names the layer by the digest of its bytes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'baton-image-'));
    const bin = join(dir, 'hello');
    writeFileSync(bin, '#!/bin/true\n');
    chmodSync(bin, 0o755);
    const archive = buildImageArchive({ ref: 'baton.local/hello:v1', binary: bin, user: '65534:65534' }, dir);
    const list = spawnSync('tar', ['-tf', archive], { encoding: 'utf8' }).stdout.trim().split('\n');
    assert.equal(list.length, 3);
    const read = (f: string): Buffer => spawnSync('tar', ['-xOf', archive, f]).stdout;
    const manifest = JSON.parse(read('manifest.json').toString()) as Array<{ Config: string; RepoTags: string[]; Layers: string[] }>;
    assert.deepEqual(manifest[0]!.RepoTags, ['baton.local/hello:v1']);
    const configBytes = read(manifest[0]!.Config);
    assert.equal(manifest[0]!.Config, `${createHash('sha256').update(configBytes).digest('hex')}.json`);
    const config = JSON.parse(configBytes.toString()) as { rootfs: { diff_ids: string[] }; config: { Entrypoint: string[]; User: string } };
    assert.deepEqual(config.rootfs.diff_ids, [`sha256:${createHash('sha256').update(read('layer.tar')).digest('hex')}`]);
    assert.deepEqual(config.config.Entrypoint, ['/hello']);
    assert.equal(config.config.User, '65534:65534');
    // Reproducible: the same binary gives the same archive.
    const again = buildImageArchive({ ref: 'baton.local/hello:v1', binary: bin, user: '65534:65534' }, dir);
    assert.deepEqual(readFileSync(again), readFileSync(archive));
  });

  it('imageConfig never runs as root', () => {
    assert.notEqual((imageConfig('/x', '65534:65534', 'sha256:00') as { config: { User: string } }).config.User, '0');
  });
});

describe('local stand-ins for the Dockerfile bases', () => {
  it('reads the FROM references, leaving out stage names', () => {
    const df = 'FROM node:20-slim AS build\nRUN x\nFROM --platform=linux/amd64 node:20-slim AS deps\nFROM build AS again\nfrom node:24-slim\n';
    assert.deepEqual(dockerfileBases(df), ['node:20-slim', 'node:24-slim']);
  });
  it('knows the Node.js major of official node references only', () => {
    assert.equal(nodeMajorOf('node:24-slim'), 24);
    assert.equal(nodeMajorOf('docker.io/library/node:20'), 20);
    assert.equal(nodeMajorOf('node:lts-slim'), undefined);
    assert.equal(nodeMajorOf('evil.example/node:24-slim'), undefined);
    assert.equal(qualified('node:24-slim'), 'docker.io/library/node:24-slim');
    assert.equal(qualified('ghcr.io/x/y:1'), 'ghcr.io/x/y:1');
  });

  it("reads buildah's human image sizes", () => {
    const cases: ReadonlyArray<[string, number]> = [['421 MB', 421e6], ['1.2 GB', 1.2e9], ['980 kB', 980e3], ['12 B', 12], ['  7.5 MB\n', 7.5e6]];
    for (const [text, bytes] of cases) assert.equal(parseSize(text), bytes, text);
    for (const bad of ['', 'MB', '12 TB', 'twelve MB']) assert.ok(Number.isNaN(parseSize(bad)), bad);
  });
});
