import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseLdd, requiredVersion } from '../../../../plane/knative/build.js';
import { unavailable } from '../../../../plane/knative/install.js';
import { binaryName, imageName, KNATIVE_MODULES, koReference } from '../../../../plane/knative/modules.js';
import { GROUP, imageConfig, imageManifest, PASSWD } from '../../../../plane/knative/oci.js';

describe('Knative images made here', () => {
  it('gives every command its own image and binary name within its module', () => {
    const images = KNATIVE_MODULES.flatMap((m) => m.commands.map((c) => imageName(m, c)));
    assert.equal(new Set(images).size, images.length);
    for (const m of KNATIVE_MODULES) assert.equal(new Set(m.commands.map(binaryName)).size, m.commands.length, m.name);
    const broker = KNATIVE_MODULES.find((m) => m.name === 'eventing')!;
    assert.equal(imageName(broker, 'cmd/broker/ingress'), 'knative/eventing-broker-ingress');
    assert.equal(koReference(broker, 'cmd/in_memory/channel_dispatcher'), 'ko://knative.dev/eventing/cmd/in_memory/channel_dispatcher');
  });

  it('runs as ko\'s nonroot user with its environment, dated 1970 so the digest follows the files', () => {
    const config = imageConfig(['/ko-app/controller'], '65532', ['sha256:a', 'sha256:b']) as { config: { User: string; Entrypoint: string[]; Env: string[] }; rootfs: { diff_ids: string[] }; created: string };
    assert.equal(config.config.User, '65532');
    assert.deepEqual(config.config.Entrypoint, ['/ko-app/controller']);
    assert.ok(config.config.Env.includes('SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt'));
    assert.ok(config.config.Env.includes('KO_DATA_PATH=/var/run/ko'));
    assert.deepEqual(config.rootfs.diff_ids, ['sha256:a', 'sha256:b']);
    assert.equal(config.created, '1970-01-01T00:00:00Z');
    assert.match(PASSWD, /^nonroot:x:65532:65532:/m);
    assert.match(GROUP, /^nonroot:x:65532:/m);
    const manifest = imageManifest({ digest: 'sha256:c', size: 3, mediaType: 'application/vnd.oci.image.config.v1+json' }, [{ digest: 'sha256:a', size: 1, mediaType: 'application/vnd.oci.image.layer.v1.tar' }]);
    assert.deepEqual(manifest, {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: 'sha256:c', size: 3 },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: 'sha256:a', size: 1 }],
    });
  });

  it('finds the libraries Envoy links, the loader included, in ldd\'s output', () => {
    const out = '\tlinux-vdso.so.1 (0x00007ffd)\n\tlibm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x00007f)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n';
    assert.deepEqual(parseLdd(out), ['/lib/x86_64-linux-gnu/libm.so.6', '/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2']);
    assert.deepEqual(parseLdd('\tlibfoo.so => not found\n'), []);
  });

  it('reads a dependency\'s pinned version from a go.mod, and says when it is not there', () => {
    const goMod = 'module knative.dev/serving\n\nrequire (\n\tknative.dev/caching v0.0.0-20251023153846-09d3ca0533a9\n\tknative.dev/networking v0.0.0-20251021092443-0bde19154dce\n)\n';
    assert.equal(requiredVersion(goMod, 'knative.dev/networking'), 'v0.0.0-20251021092443-0bde19154dce');
    assert.throws(() => requiredVersion(goMod, 'knative.dev/pkg'), /does not require knative\.dev\/pkg/);
  });
});

describe('Knative readiness', () => {
  const dep = (name: string, generation: number, observed: number, available: string) => ({
    metadata: { name, namespace: 'knative-serving', generation },
    status: { observedGeneration: observed, conditions: [{ type: 'Available', status: available }] },
  });

  it('waits for every Deployment to be Available at its latest generation', () => {
    assert.deepEqual(unavailable([dep('a', 1, 1, 'True'), dep('b', 2, 1, 'True'), dep('c', 1, 1, 'False'), { metadata: { name: 'd', namespace: 'knative-serving', generation: 1 } }]), ['knative-serving/b', 'knative-serving/c', 'knative-serving/d']);
    assert.deepEqual(unavailable([]), []);
  });
});
